"""Trainer: the book's rhythm by default, the fast one on request, nonsense arguments rejected up front."""
from __future__ import annotations

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
