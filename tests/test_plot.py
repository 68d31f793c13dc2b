"""pybp.plot: training curves and the optimizer figure (book ch. 6), as files and as the figures they hold."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")  # the [test] extra installs it; plots are optional for users

from pybp import plot  # noqa: E402


@pytest.fixture
def close_figs():
    import matplotlib.pyplot as plt
    yield
    plt.close("all")


def test_plots(tmp_path):
    hist = {"train_loss": np.linspace(2, 0.1, 300), "train_acc": [0.8, 0.9], "test_acc": [0.79, 0.88]}
    p = plot.plot_history(hist, tmp_path / "h.png")
    assert os.path.getsize(p) > 10000
    paths = plot.optimizer_paths()
    assert set(paths) == {"SGD", "Momentum", "Nesterov", "AdaGrad", "Adam"}
    for name, path in paths.items():
        assert path.shape == (31, 2)
        assert np.hypot(*path[-1]) < np.hypot(*path[0])  # every optimizer moved toward the minimum
    assert os.path.getsize(plot.plot_optimizer_paths(tmp_path / "o.png")) > 10000


def test_optimizer_figure_labels_and_learning_rates(close_figs):
    fig = plot.optimizer_figure(start=(8.0, 1.0), steps=12, settings={"SGD": ("sgd", 0.9),
                                                                      "AdaGrad": ("adagrad", 1.0)})
    panels = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in panels] == ["SGD, lr 0.9", "AdaGrad, lr 1"]
    for ax in panels:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
        assert ax.get_title().count("(") == 0
    assert "12 steps from (8, 1)" in fig._suptitle.get_text()
    book = plot.optimizer_figure()
    assert [ax.get_title() for ax in book.axes if ax.axison] == [
        "SGD, lr 0.95", "Momentum, lr 0.1", "Nesterov, lr 0.1", "AdaGrad, lr 1.5", "Adam, lr 0.3"]
    assert len(book.axes) == 6  # 2 rows of 3, the last one blank
    # Nesterov's look-ahead damps Momentum's overshoot (same lr): its last 10 steps stay closer to the minimum
    paths = plot.optimizer_paths()
    assert np.abs(paths["Nesterov"][-10:]).max() < np.abs(paths["Momentum"][-10:]).max()


def test_history_without_a_finished_epoch_says_so(close_figs):
    hist = {"train_loss": np.linspace(2, 1, 40), "train_acc": [], "test_acc": [], "iter_per_epoch": 600.0}
    fig = plot.history_figure(hist)
    acc = fig.axes[1]
    texts = [t.get_text() for t in acc.texts]
    assert texts == ["no epoch completed\n40 steps, an epoch is 600"]
    assert acc.get_ylim() == (0.0, 1.0) and not acc.lines
    done = plot.history_figure({"train_loss": np.ones(5), "train_acc": [0.5], "test_acc": [0.4]})
    assert not done.axes[1].texts and len(done.axes[1].lines) == 2


def test_accuracy_plotted_where_it_was_measured(close_figs):
    """The book's rhythm evaluates after steps 1, 601, 1201 (600 steps an epoch), the fast one after 600, 1200."""
    loss = np.linspace(2, 0.5, 1300)
    for steps in ([1, 601, 1201], [600, 1200]):
        hist = {"train_loss": loss, "train_acc": np.linspace(0.1, 0.9, len(steps)),
                "test_acc": np.linspace(0.1, 0.8, len(steps)), "eval_steps": np.array(steps),
                "iter_per_epoch": 600.0}
        acc = plot.history_figure(hist).axes[1]
        for line in acc.lines:
            np.testing.assert_allclose(line.get_xdata(), np.array(steps) / 600)
        assert acc.get_xlabel() == "epochs done (steps / 600 steps per epoch)"
    bare = plot.history_figure({"train_loss": loss, "train_acc": [0.5, 0.6], "test_acc": [0.4, 0.5]}).axes[1]
    assert list(bare.lines[0].get_xdata()) == [1, 2] and bare.get_xlabel() == "evaluation"
