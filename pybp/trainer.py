"""The book's Trainer (ch. 6 common/trainer.py): mini-batch training with per-epoch evaluation, plus a progress
bar (tqdm when installed, else a plain progress line), an optional seed, and history arrays.

rhythm="book" (the default) gives the book's lists exactly: each step draws its batch with np.random.choice
(the global generator, so np.random.seed reproduces the book's run), updates, then records the loss of a second
forward pass on the same batch; the evaluation runs after the *first* step of each epoch (the book tests
`current_iter % iter_per_epoch == 0` before counting the step), so train_acc_list[0] is almost the untrained
accuracy. rhythm="fast" skips the second forward (it records the loss of the gradient's own forward, before
that step's update) and evaluates after the *last* step of each epoch. x is cast once to the network's dtype.
"""
from __future__ import annotations

import numbers
import sys
import time
from typing import Any, Callable, Dict, Optional

import numpy as np

from .optimizers import get_optimizer


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Trainer: {name} must be an integer >= 1, got {value!r}")


def _net_dtype(network: Any) -> np.dtype:
    dt = getattr(network, "dtype", None)
    if dt is None:
        dt = next(iter(network.params.values())).dtype
    return np.dtype(dt)


class _PlainProgress:
    """Fallback progress display without tqdm, at most ~4 updates per second. On a terminal one line is rewritten
    in place (padded over its longer predecessor) and cleared before a message is printed, then redrawn below it,
    as tqdm does; elsewhere (a log file, a pipe) every update is a line of its own, at most one per 5 s, since a
    carriage return there would glue updates and messages together. Messages go to stdout, like tqdm.write's."""

    TTY_INTERVAL, LOG_INTERVAL = 0.25, 5.0  # seconds between redraws

    def __init__(self, total, desc, stream=None, out=None):
        self.total, self.desc = total, desc
        self.stream = stream if stream is not None else sys.stderr
        self.out = out if out is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.interval = self.TTY_INTERVAL if self.tty else self.LOG_INTERVAL
        self.n, self.t0, self.last, self.postfix = 0, time.perf_counter(), 0.0, ""
        self.shown = ""  # the progress text now on the terminal line ("" when none)

    def _text(self, now):
        rate = self.n / max(now - self.t0, 1e-9)
        return f"{self.desc}: {self.n}/{self.total} [{rate:.0f} it/s] {self.postfix}".rstrip()

    def _draw(self, text):
        if self.tty:
            self.stream.write("\r" + text.ljust(len(self.shown)))
            self.shown = text
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def update(self, k=1):
        self.n += k
        now = time.perf_counter()
        if now - self.last >= self.interval or self.n == self.total:
            self.last = now
            self._draw(self._text(now))

    def set_postfix_str(self, s, refresh=True):
        self.postfix = s

    def write(self, s):
        shown = self.shown
        if shown:  # blank the progress line so the message starts on a clean one
            self.stream.write("\r" + " " * len(shown) + "\r")
            self.stream.flush()
            self.shown = ""
        self.out.write(s + "\n")
        self.out.flush()
        if shown:
            self._draw(shown)

    def close(self):
        if self.shown:
            self.stream.write("\n")
            self.shown = ""
        self.stream.flush()


def _progress(total, desc, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="it", dynamic_ncols=True, mininterval=0.25)


class Trainer:
    """Train `network` on (x_train, t_train), evaluating on (x_test, t_test) once per epoch.

    Book arguments: epochs, mini_batch_size, optimizer (name: sgd, momentum, nesterov, adagrad, rmsprop, adam),
    optimizer_param (dict; default {'lr': 0.01}), evaluate_sample_num_per_epoch (None: whole sets; else the
    first n rows of each), verbose. Extras: max_iter (steps; overrides epochs), seed (batch draws from a private
    numpy Generator; None: the global np.random, as the book), rhythm ('book' or 'fast', see the module
    docstring), progress (bar), log (callable for epoch lines; default print), final_line (log the final test
    accuracy; `pybp train` prints its own result line instead).
    After train(): train_loss_list (per step), train_acc_list and test_acc_list (per evaluation), final test_acc,
    elapsed seconds, steps_per_second. Nonsense arguments raise ValueError here, before any training.
    """

    def __init__(self, network: Any, x_train: np.ndarray, t_train: np.ndarray, x_test: np.ndarray,
                 t_test: np.ndarray, epochs: float = 20, mini_batch_size: int = 100, optimizer: str = "SGD",
                 optimizer_param: Optional[Dict[str, float]] = None,
                 evaluate_sample_num_per_epoch: Optional[int] = None, verbose: bool = True, *,
                 max_iter: Optional[int] = None, seed: Optional[int] = None, rhythm: str = "book",
                 progress: bool = True, log: Callable[[str], Any] = print, final_line: bool = True) -> None:
        self.network = network
        self.verbose = verbose
        dtype = _net_dtype(network)
        if len(x_train) != len(t_train) or len(x_test) != len(t_test):
            raise ValueError(f"Trainer: x/t lengths differ: train {len(x_train)}/{len(t_train)}, "
                             f"test {len(x_test)}/{len(t_test)}")
        if len(x_train) == 0:
            raise ValueError("Trainer: empty training set")
        if len(x_test) == 0:
            raise ValueError("Trainer: empty test set (x_test has 0 rows); the per-epoch evaluation needs >= 1")
        _check_count("mini_batch_size", mini_batch_size)
        if evaluate_sample_num_per_epoch is not None:
            _check_count("evaluate_sample_num_per_epoch", evaluate_sample_num_per_epoch)
        if rhythm not in ("book", "fast"):
            raise ValueError(f"Trainer: rhythm must be 'book' or 'fast', got {rhythm!r}")
        self.train_size = len(x_train)
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        if max_iter is not None:
            _check_count("max_iter", max_iter)
            self.max_iter = int(max_iter)
        else:
            if isinstance(epochs, bool) or not isinstance(epochs, numbers.Real) or not epochs > 0:
                raise ValueError(f"Trainer: epochs must be a number > 0, got {epochs!r}")
            self.max_iter = int(epochs * self.iter_per_epoch)
            if self.max_iter < 1:
                raise ValueError(f"Trainer: epochs={epochs} is less than one step ({self.iter_per_epoch:g} steps "
                                 f"per epoch)")
        self.optimizer = get_optimizer(optimizer, **(optimizer_param if optimizer_param is not None else {"lr": 0.01}))
        self.x_train = np.ascontiguousarray(x_train, dtype=dtype)
        self.x_test = np.ascontiguousarray(x_test, dtype=dtype)
        self.t_train = np.ascontiguousarray(t_train if np.ndim(t_train) == 1 else np.asarray(t_train, dtype))
        self.t_test = np.ascontiguousarray(t_test if np.ndim(t_test) == 1 else np.asarray(t_test, dtype))
        self.epochs = epochs
        self.batch_size = mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.rhythm = rhythm
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.progress = progress and verbose
        self.log = log
        self.final_line = final_line
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list, self.train_acc_list, self.test_acc_list = [], [], []
        self.eval_steps: list = []  # steps done at each evaluation (book rhythm: 1, 1 + iter_per_epoch, ...)
        self.test_acc: Optional[float] = None
        self.elapsed: Optional[float] = None
        self._bar = None

    def _step_loss(self) -> float:
        """The loss of the gradient's own forward pass (rhythm 'fast'): the last layer's, plus weight decay."""
        net = self.network
        last = getattr(net, "last_layer", None) or getattr(net, "lastLayer", None)
        loss = float(last.loss)
        decay = getattr(net, "_weight_decay", None)
        return loss + decay() if callable(decay) else loss

    def _draw(self) -> np.ndarray:
        if self.rng is not None:
            return self.rng.choice(self.train_size, self.batch_size)
        return np.random.choice(self.train_size, self.batch_size)  # the book's draw from the global generator

    def train_step(self) -> None:
        mask = self._draw()
        x_batch, t_batch = self.x_train[mask], self.t_train[mask]
        grads = self.network.gradient(x_batch, t_batch)
        if self.rhythm == "book":
            self.optimizer.update(self.network.params, grads)
            loss = float(self.network.loss(x_batch, t_batch))  # the book's second forward, after the update
            evaluate = self.current_iter % self.iter_per_epoch == 0  # tested before counting the step, as the book
        else:
            loss = self._step_loss()  # read before the update changes the weights (weight decay) it depends on
            self.optimizer.update(self.network.params, grads)
            evaluate = (self.current_iter + 1) % max(int(self.iter_per_epoch), 1) == 0
        self.train_loss_list.append(loss)
        self.current_iter += 1
        if self._bar is not None:
            self._bar.update(1)
            if self.current_iter % 50 == 0:
                self._bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)
        if evaluate:
            self.current_epoch += 1
            self._evaluate()

    def _evaluate(self) -> None:
        n = self.evaluate_sample_num_per_epoch
        xtr, ttr, xte, tte = self.x_train, self.t_train, self.x_test, self.t_test
        if n is not None:
            xtr, ttr, xte, tte = xtr[:n], ttr[:n], xte[:n], tte[:n]
        train_acc, test_acc = self.network.accuracy(xtr, ttr), self.network.accuracy(xte, tte)
        self.train_acc_list.append(train_acc)
        self.test_acc_list.append(test_acc)
        self.eval_steps.append(self.current_iter)
        if self.verbose:
            msg = f"epoch {self.current_epoch}: train acc {train_acc:.4f}, test acc {test_acc:.4f}"
            if self._bar is not None:
                self._bar.write(msg)
            else:
                self.log(msg)

    def train(self) -> "Trainer":
        self._bar = _progress(self.max_iter, "train", self.progress)
        t0 = time.perf_counter()
        try:
            for _ in range(self.max_iter):
                self.train_step()
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        self.elapsed = time.perf_counter() - t0
        self.test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose and self.final_line:
            self.log(f"final test accuracy {self.test_acc:.4f}")
        return self

    @property
    def steps_per_second(self) -> float:
        return self.current_iter / self.elapsed if self.elapsed else float("nan")

    def history(self) -> Dict[str, Any]:
        """Arrays for plotting: train_loss (per step), train_acc and test_acc (per evaluation), eval_steps (steps
        done at each evaluation; eval_steps / iter_per_epoch places them in epochs), iter_per_epoch, rhythm."""
        return {"train_loss": np.array(self.train_loss_list), "train_acc": np.array(self.train_acc_list),
                "test_acc": np.array(self.test_acc_list), "eval_steps": np.array(self.eval_steps),
                "iter_per_epoch": self.iter_per_epoch, "rhythm": self.rhythm}
