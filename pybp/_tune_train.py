"""The book's trial (ch. 6.5): a MultiLayerNet with weight decay trained by SGD, accuracy on a held-out
validation split after each epoch.

Its own small epoch loop (not `Trainer`) so that a trial depends only on the nets and optimizers, and on the
rhythm of the book's Trainer: `int(epochs * max(n / batch, 1))` steps of `batch` images drawn with replacement,
and train/validation accuracy after the update of every step i with i % (n / batch) == 0, starting with the
first, so 50 epochs give 50 points per curve.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .nets import MultiLayerNet
from .optimizers import SGD


def validation_size(n, val_rate):
    """Rows `holdout` keeps for validation out of `n`: int(n * val_rate); ValueError unless 1 <= it < n (so both
    sets are non-empty). `pybp tune` asks before loading any data."""
    if not 0 < val_rate < 1:
        raise ValueError(f"holdout: val_rate must be in (0, 1), got {val_rate}")
    n_val = int(n * val_rate)
    if n_val < 1 or n_val >= n:
        raise ValueError(f"{n} rows at val_rate {val_rate:g} leave {n_val} for validation and {n - n_val} for "
                         "training; each needs at least one")
    return n_val


def holdout(x, t, val_rate=0.2, seed=0):
    """The book's split: shuffle (x, t), the first `val_rate` of them become the validation set.
    Returns dict(x_train, t_train, x_val, t_val)."""
    if len(x) != len(t):
        raise ValueError(f"holdout: x has {len(x)} rows, t has {len(t)}")
    n_val = validation_size(len(x), val_rate)
    perm = np.random.default_rng(seed).permutation(len(x))
    x, t = x[perm], t[perm]
    return {"x_train": x[n_val:], "t_train": t[n_val:], "x_val": x[:n_val], "t_val": t[:n_val]}


@dataclass(frozen=True)
class MultiLayerTrial:
    """objective(params, data, seed) for pybp.tune: params 'lr' (SGD) and optionally 'weight_decay'
    (weight_decay_lambda); data from `holdout` (x cast to `dtype` here unless it already has it). Returns
    {'train_acc': [...], 'val_acc': [...]}, one value per epoch. The defaults are the book's search."""
    hidden: tuple = (100, 100, 100, 100, 100, 100)
    epochs: int = 50
    batch: int = 100
    dtype: str = "float64"
    activation: str = "relu"
    output_size: int = 10

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.epochs < 1 or self.batch < 1 or not self.hidden:
            raise ValueError(f"MultiLayerTrial: need epochs >= 1, batch >= 1 and hidden layers, got {self}")

    def __call__(self, params, data, seed):
        dtype = np.dtype(self.dtype)
        x, t = np.asarray(data["x_train"], dtype=dtype), data["t_train"]
        xv, tv = np.asarray(data["x_val"], dtype=dtype), data["t_val"]
        init_ss, batch_ss = np.random.SeedSequence(seed).spawn(2)
        net = MultiLayerNet(x.shape[1], self.hidden, self.output_size, activation=self.activation,
                            weight_decay_lambda=params.get("weight_decay", 0), dtype=dtype, seed=init_ss)
        opt = SGD(lr=params["lr"])
        rng = np.random.default_rng(batch_ss)
        n = x.shape[0]
        iter_per_epoch = max(n / self.batch, 1)
        train_acc, val_acc = [], []
        for i in range(int(self.epochs * iter_per_epoch)):
            idx = rng.choice(n, self.batch)
            opt.update(net.params, net.gradient(x[idx], t[idx]))
            if i % iter_per_epoch == 0:
                train_acc.append(net.accuracy(x, t))
                val_acc.append(net.accuracy(xv, tv))
        return {"train_acc": train_acc, "val_acc": val_acc}
