"""Trainer: the book's rhythm by default, the fast one on request, nonsense arguments rejected up front."""
from __future__ import annotations

import io
import re
import sys

import numpy as np
import pytest

import pybp


def _data(n=40, d=6, c=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)  # float32 like load_mnist's, for a float64 net
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)


def _trainer(rhythm="book", seed=None, net_seed=1, **kw):
    x, t = _data()
    net = pybp.TwoLayerNet(6, 5, 3, weight_init_std=0.3, seed=net_seed)
    args = dict(epochs=3, mini_batch_size=10, optimizer="sgd", optimizer_param={"lr": 0.5}, verbose=False)
    args.update(kw)
    return pybp.Trainer(net, x, t, x[:15], t[:15], rhythm=rhythm, seed=seed, **args), net, x, t


def test_book_rhythm_by_hand(backend):
    """Replays the book's train_step with the same draws: evaluation after the first step of each epoch, the loss
    of a second forward after the update, batches from np.random.choice."""
    tr, _, x, t = _trainer()
    np.random.seed(5)
    tr.train()
    twin = pybp.TwoLayerNet(6, 5, 3, weight_init_std=0.3, seed=1)
    opt = pybp.SGD(lr=0.5)
    np.random.seed(5)
    losses, train_acc, test_acc = [], [], []
    for i in range(12):  # 40 / 10 = 4 steps per epoch, 3 epochs
        mask = np.random.choice(40, 10)
        opt.update(twin.params, twin.gradient(x[mask], t[mask]))
        losses.append(twin.loss(x[mask], t[mask]))
        if i % 4.0 == 0:
            train_acc.append(twin.accuracy(x, t))
            test_acc.append(twin.accuracy(x[:15], t[:15]))
    assert tr.train_loss_list == losses
    assert tr.train_acc_list == train_acc and tr.test_acc_list == test_acc and len(test_acc) == 3
    assert tr.current_epoch == 3 and tr.test_acc == twin.accuracy(x[:15], t[:15])
    np.testing.assert_array_equal(tr.history()["eval_steps"], [1, 5, 9])


def test_global_generator_without_seed_private_with_seed():
    a = _trainer()[0]
    np.random.seed(11)
    a.train()
    b = _trainer()[0]
    np.random.seed(11)
    b.train()
    assert a.train_loss_list == b.train_loss_list  # np.random.seed reproduces an unseeded run
    state = np.random.get_state()[1].copy()
    c, d = _trainer(seed=4)[0].train(), _trainer(seed=4)[0].train()
    assert c.train_loss_list == d.train_loss_list != a.train_loss_list
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # a seeded run leaves the global one alone


def test_fast_rhythm():
    """Evaluates after each epoch's last step and records the gradient's own loss (before the update)."""
    book, fast = _trainer(seed=2)[0].train(), _trainer("fast", seed=2)[0].train()
    assert len(fast.train_acc_list) == len(book.train_acc_list) == 3
    np.testing.assert_array_equal(fast.history()["eval_steps"], [4, 8, 12])
    assert fast.train_loss_list != book.train_loss_list
    # the rhythm changes what is recorded, never the training itself (what `pybp train` relies on)
    for k, w in book.network.params.items():
        np.testing.assert_array_equal(fast.network.params[k], w, err_msg=k)
    assert fast.test_acc == book.test_acc
    tr, net, x, t = _trainer("fast", seed=2)
    mask = np.random.default_rng(2).choice(40, 10)  # the trainer's first draw
    want = net.loss(x[mask], t[mask])  # before the first update
    tr.train_step()
    assert tr.train_loss_list == [want]


@pytest.mark.parametrize("kw,msg", [
    (dict(epochs=0), "epochs must be a number > 0, got 0"),
    (dict(epochs=-1), "epochs must be a number > 0"),
    (dict(epochs="3"), "epochs must be a number > 0, got '3'"),
    (dict(epochs=0.01), "less than one step"),
    (dict(max_iter=0), "max_iter must be an integer >= 1, got 0"),
    (dict(mini_batch_size=0), "mini_batch_size must be an integer >= 1, got 0"),
    (dict(mini_batch_size=2.5), "mini_batch_size must be an integer >= 1, got 2.5"),
    (dict(evaluate_sample_num_per_epoch=0), "evaluate_sample_num_per_epoch must be an integer >= 1, got 0"),
    (dict(rhythm="slow"), "rhythm must be 'book' or 'fast'"),
])
def test_nonsense_arguments_rejected_up_front(kw, msg):
    rhythm = kw.pop("rhythm", "book")
    with pytest.raises(ValueError, match=msg):
        _trainer(rhythm, **kw)


def test_empty_test_set_rejected_up_front():
    x, t = _data()
    net = pybp.TwoLayerNet(6, 5, 3)
    with pytest.raises(ValueError, match="empty test set"):
        pybp.Trainer(net, x, t, x[:0], t[:0], epochs=1, verbose=False)


class _Terminal(io.StringIO):
    """A fake terminal for stdout and stderr at once; screen() replays carriage returns and newlines."""

    def isatty(self):
        return True

    def screen(self):
        lines, row, col = [[]], 0, 0
        for ch in self.getvalue():
            if ch == "\r":
                col = 0
            elif ch == "\n":
                row, col = row + 1, 0
                lines.append([])
            else:
                line = lines[row]
                line.extend(" " * (col + 1 - len(line)))
                line[col] = ch
                col += 1
        return ["".join(line).rstrip() for line in lines]


PROGRESS_LINE = re.compile(r"train: \d+/\d+ \[\d+ it/s\]( loss \d+\.\d+)?")


def test_plain_progress_never_mixes_lines(monkeypatch):
    """Without tqdm: epoch lines and the progress line each stay whole on a terminal."""
    term = _Terminal()
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `from tqdm.auto import tqdm` raises ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(sys, "stdout", term)
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(pybp.trainer._PlainProgress, "TTY_INTERVAL", 0.0)  # every step redrawn: the hard case
    _trainer(seed=3, verbose=True, epochs=30)[0].train()  # 120 steps, so the bar shows its loss postfix
    screen = [line for line in term.screen() if line]
    epochs = [line for line in screen if line.startswith("epoch")]
    assert len(epochs) == 30
    for line in epochs:
        assert re.fullmatch(r"epoch \d+: train acc \d\.\d{4}, test acc \d\.\d{4}", line), line
    assert screen[-2].startswith("train: 120/120 [") and " loss " in screen[-2]  # closed, then the result
    assert re.fullmatch(r"final test accuracy \d\.\d{4}", screen[-1])
    assert len(screen) == 32 and all(PROGRESS_LINE.fullmatch(line) for line in screen[:-1] if line not in epochs)
    # a progress text shorter than the one shown is padded, not left with the old one's tail
    term = _Terminal()
    bar = pybp.trainer._PlainProgress(5, "train", stream=term, out=term)
    bar.set_postfix_str("loss 12.3456")
    bar.update()
    bar.set_postfix_str("")
    bar.update()
    bar.write("epoch 1")
    bar.close()
    assert term.screen()[0] == "epoch 1" and PROGRESS_LINE.fullmatch(term.screen()[1])
    assert term.screen()[1].startswith("train: 2/5 [") and term.screen()[2:] == [""]


def test_plain_progress_off_a_terminal_writes_whole_lines():
    out, err = io.StringIO(), io.StringIO()
    bar = pybp.trainer._PlainProgress(3, "train", stream=err, out=out)
    bar.interval = 0.0  # draw every update
    bar.update()
    bar.write("epoch 1: done")
    bar.update(2)
    bar.close()
    assert out.getvalue() == "epoch 1: done\n" and "\r" not in err.getvalue()
    assert [PROGRESS_LINE.fullmatch(line) is not None for line in err.getvalue().splitlines()] == [True, True]
