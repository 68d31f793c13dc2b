"""Trainer on real MNIST and its argument checks (the command line: test_cli.py; plots: test_plot.py)."""
from __future__ import annotations

import numpy as np
import pytest

import pybp
from pybp.datasets import load_mnist


def test_trainer_reaches_accuracy_on_real_subset(backend, mnist_cache):
    (x, t), (xt, tt) = load_mnist()
    net = pybp.TwoLayerNet(784, 50, 10, seed=0)
    tr = pybp.Trainer(net, x[:5000], t[:5000], xt[:1000], tt[:1000], epochs=10, mini_batch_size=100,
                      optimizer="sgd", optimizer_param={"lr": 0.1}, verbose=False, seed=0)
    tr.train()
    # measured 0.877-0.884 over seeds 0-2 (500 steps on 5,000 images); broken kernels or updates stay far lower
    assert tr.test_acc >= 0.85
    assert len(tr.train_loss_list) == 500 and len(tr.test_acc_list) == 10
    assert tr.train_loss_list[-1] < tr.train_loss_list[0]
    h = tr.history()
    assert h["train_loss"].shape == (500,)


def test_trainer_validates_arguments():
    net = pybp.TwoLayerNet(4, 3, 2)
    with pytest.raises(ValueError, match="lengths differ"):
        pybp.Trainer(net, np.zeros((5, 4)), np.zeros(4, int), np.zeros((2, 4)), np.zeros(2, int))
    with pytest.raises(ValueError, match="unknown optimizer"):
        pybp.Trainer(net, np.zeros((5, 4)), np.zeros(5, int), np.zeros((2, 4)), np.zeros(2, int), optimizer="x")
