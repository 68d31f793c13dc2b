"""The book's Trainer (ch. 6 common/trainer.py): mini-batch SGD-style training with per-epoch evaluation,
plus a progress bar (tqdm when installed, else a plain progress line), a seed, and history arrays.

Differences from the book, both to avoid repeating work: the recorded training loss is the one computed by the
gradient's own forward pass (before that step's update; the book runs a second forward after the update), and
x is cast once to the network's dtype (pybp never casts silently inside the layers).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from .optimizers import get_optimizer


def _net_dtype(network):
    dt = getattr(network, "dtype", None)
    if dt is None:
        dt = next(iter(network.params.values())).dtype
    return np.dtype(dt)


class _PlainProgress:
    """Fallback progress display without tqdm: one rewritten line, at most ~4 updates per second."""

    def __init__(self, total, desc, stream=sys.stderr):
        self.total, self.desc, self.stream = total, desc, stream
        self.n, self.t0, self.last, self.postfix = 0, time.perf_counter(), 0.0, ""

    def update(self, k=1):
        self.n += k
        now = time.perf_counter()
        if now - self.last >= 0.25 or self.n == self.total:
            self.last = now
            rate = self.n / max(now - self.t0, 1e-9)
            self.stream.write(f"\r{self.desc}: {self.n}/{self.total} [{rate:.0f} it/s] {self.postfix}")
            self.stream.flush()

    def set_postfix_str(self, s, refresh=True):
        self.postfix = s

    def write(self, s):
        self.stream.write("\r" + s + "\n")

    def close(self):
        self.stream.write("\n")
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
    optimizer_param (dict), evaluate_sample_num_per_epoch (None: whole sets), verbose. Extras: max_iter (steps;
    overrides epochs), seed (batch sampling), progress (bar), log (callable for epoch lines; default print).
    After train(): train_loss_list (per step), train_acc_list and test_acc_list (per epoch), final test_acc,
    elapsed seconds, steps_per_second.
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer="SGD", optimizer_param=None, evaluate_sample_num_per_epoch=None, verbose=True, *,
                 max_iter=None, seed=None, progress=True, log=print):
        self.network = network
        self.verbose = verbose
        dtype = _net_dtype(network)
        if len(x_train) != len(t_train) or len(x_test) != len(t_test):
            raise ValueError(f"Trainer: x/t lengths differ: train {len(x_train)}/{len(t_train)}, "
                             f"test {len(x_test)}/{len(t_test)}")
        if len(x_train) == 0:
            raise ValueError("Trainer: empty training set")
        if mini_batch_size < 1:
            raise ValueError(f"Trainer: mini_batch_size must be >= 1, got {mini_batch_size}")
        self.x_train = np.ascontiguousarray(x_train, dtype=dtype)
        self.x_test = np.ascontiguousarray(x_test, dtype=dtype)
        self.t_train = np.ascontiguousarray(t_train if np.ndim(t_train) == 1 else np.asarray(t_train, dtype))
        self.t_test = np.ascontiguousarray(t_test if np.ndim(t_test) == 1 else np.asarray(t_test, dtype))
        self.epochs = epochs
        self.batch_size = mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.optimizer = get_optimizer(optimizer, **(optimizer_param if optimizer_param is not None else {"lr": 0.01}))
        self.train_size = self.x_train.shape[0]
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        self.max_iter = int(max_iter) if max_iter is not None else int(epochs * self.iter_per_epoch)
        self.rng = np.random.default_rng(seed)
        self.progress = progress and verbose
        self.log = log
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list, self.train_acc_list, self.test_acc_list = [], [], []
        self.test_acc = None
        self.elapsed = None
        self._bar = None

    def _step_loss(self):
        net = self.network
        last = getattr(net, "lastLayer", None) or getattr(net, "last_layer", None)
        loss = float(last.loss)
        decay = getattr(net, "_weight_decay", None)
        return loss + decay() if callable(decay) else loss

    def train_step(self):
        mask = self.rng.choice(self.train_size, self.batch_size)
        x_batch, t_batch = self.x_train[mask], self.t_train[mask]
        grads = self.network.gradient(x_batch, t_batch)
        loss = self._step_loss()
        self.optimizer.update(self.network.params, grads)
        self.train_loss_list.append(loss)
        self.current_iter += 1
        if self._bar is not None:
            self._bar.update(1)
            if self.current_iter % 50 == 0:
                self._bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)
        if self.current_iter % max(int(self.iter_per_epoch), 1) == 0:
            self.current_epoch += 1
            self._evaluate()

    def _evaluate(self):
        n = self.evaluate_sample_num_per_epoch
        xtr, ttr, xte, tte = self.x_train, self.t_train, self.x_test, self.t_test
        if n is not None:
            xtr, ttr, xte, tte = xtr[:n], ttr[:n], xte[:n], tte[:n]
        train_acc, test_acc = self.network.accuracy(xtr, ttr), self.network.accuracy(xte, tte)
        self.train_acc_list.append(train_acc)
        self.test_acc_list.append(test_acc)
        if self.verbose:
            msg = f"epoch {self.current_epoch}: train acc {train_acc:.4f}, test acc {test_acc:.4f}"
            if self._bar is not None:
                self._bar.write(msg)
            else:
                self.log(msg)

    def train(self):
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
        if self.verbose:
            self.log(f"final test accuracy {self.test_acc:.4f}")
        return self

    @property
    def steps_per_second(self):
        return self.current_iter / self.elapsed if self.elapsed else float("nan")

    def history(self) -> dict:
        return {"train_loss": np.array(self.train_loss_list), "train_acc": np.array(self.train_acc_list),
                "test_acc": np.array(self.test_acc_list), "iter_per_epoch": self.iter_per_epoch}
