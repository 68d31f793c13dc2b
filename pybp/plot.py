"""Plots people would rather look at than read: training curves and optimisation paths (book ch. 6). PNG files.

matplotlib is an optional dependency: `pip install matplotlib` (in a pybp checkout: `pip install '.[plot]'`).
"""
from __future__ import annotations

import numpy as np

from ._backend import install_hint


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"pybp.plot needs matplotlib: {install_hint('matplotlib', 'plot')}") from None
    matplotlib.use("Agg")  # files only; works without a display
    import matplotlib.pyplot as plt
    return plt


def image_formats() -> set:
    """File extensions the plots can be written as (png, pdf, svg, ...). ImportError without matplotlib."""
    _plt()
    from matplotlib.backend_bases import FigureCanvasBase
    return set(FigureCanvasBase.get_supported_filetypes())


def plot_history(history, path, title="training"):
    """Loss per step (with a moving average) and train/test accuracy where each was measured (in epochs, from
    history's eval_steps and iter_per_epoch). `history`: a Trainer or its history() dict. Writes a PNG to `path`
    and returns it."""
    return _save(history_figure(history, title), path)


def _save(fig, path):
    import matplotlib.pyplot as plt
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def _eval_axis(history):
    """Where each accuracy was measured, and the axis label. eval_steps (Trainer.history()) places evaluations
    where they ran: the book's rhythm evaluates after steps 1, 1 + iter_per_epoch, ..., so 'epoch k' is not k."""
    n = len(history["train_acc"])
    steps, per_epoch = history.get("eval_steps"), history.get("iter_per_epoch")
    if steps is None or len(steps) != n:
        return np.arange(1, n + 1), "evaluation"
    if not per_epoch:
        return np.asarray(steps, dtype=float), "steps done"
    return np.asarray(steps, dtype=float) / per_epoch, f"epochs done (steps / {per_epoch:g} steps per epoch)"


def history_figure(history, title="training"):
    """The figure plot_history writes (a matplotlib Figure; close it when done)."""
    if hasattr(history, "history"):
        history = history.history()
    plt = _plt()
    loss = np.asarray(history["train_loss"], dtype=float)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    if loss.size:
        ax1.plot(np.arange(loss.size), loss, lw=0.5, alpha=0.4, label="loss per step")
        w = max(1, min(100, loss.size // 20))
        if w > 1:
            ma = np.convolve(loss, np.ones(w) / w, mode="valid")
            ax1.plot(np.arange(w - 1, loss.size), ma, lw=1.5, label=f"moving average ({w})")
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("loss")
    ax1.set_title("training loss")
    ax1.legend()
    ax1.grid(alpha=0.3)
    at, at_label = _eval_axis(history)
    if at.size:
        ax2.plot(at, history["train_acc"], "o-", label="train")
        ax2.plot(at, history["test_acc"], "s--", label="test")
        ax2.legend(loc="lower right")
    else:  # accuracy is measured after each epoch: say why the panel is empty instead of drawing a blank axis
        per_epoch = history.get("iter_per_epoch")
        why = f"\n{loss.size} steps, an epoch is {per_epoch:g}" if per_epoch else ""
        ax2.text(0.5, 0.5, f"no epoch completed{why}", ha="center", va="center", transform=ax2.transAxes)
        ax2.set_xticks([])
    ax2.set_xlabel(at_label)
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(0, 1.0)
    ax2.set_title("accuracy")
    ax2.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _f(x, y):
    return x ** 2 / 20.0 + y ** 2


def _df(x, y):
    return x / 10.0, 2.0 * y


# the book's ch06/optimizer_compare_naive.py (its four panels, their learning rates), plus Nesterov with
# Momentum's rate: the book's Nesterov class was corrected in 2021, and this panel shows the corrected update
BOOK_SETTINGS = {"SGD": ("sgd", 0.95), "Momentum": ("momentum", 0.1), "Nesterov": ("nesterov", 0.1),
                 "AdaGrad": ("adagrad", 1.5), "Adam": ("adam", 0.3)}


def optimizer_paths(start=(-7.0, 2.0), steps=30, settings=None):
    """Paths of the book's optimizers on f(x, y) = x^2/20 + y^2 (book ch. 6.1.7): {name: (steps+1, 2) array}.
    settings: {label: (optimizer name, lr)}, default the book's figure."""
    from .optimizers import get_optimizer
    settings = settings or BOOK_SETTINGS
    out = {}
    for label, (name, lr) in settings.items():
        params = {"x": np.array([start[0]]), "y": np.array([start[1]])}
        opt = get_optimizer(name, lr=lr)
        path = [tuple(start)]
        for _ in range(steps):
            gx, gy = _df(params["x"][0], params["y"][0])
            opt.update(params, {"x": np.array([gx]), "y": np.array([gy])})
            path.append((params["x"][0], params["y"][0]))
        out[label] = np.array(path)
    return out


def plot_optimizer_paths(path, start=(-7.0, 2.0), steps=30, settings=None):
    """The book's ch. 6 figure: optimisation paths on a contour plot of x^2/20 + y^2. Writes a PNG to `path`."""
    return _save(optimizer_figure(start, steps, settings), path)


def optimizer_figure(start=(-7.0, 2.0), steps=30, settings=None):
    """The figure plot_optimizer_paths writes (a matplotlib Figure; close it when done)."""
    plt = _plt()
    settings = settings or BOOK_SETTINGS
    paths = optimizer_paths(start, steps, settings)
    xs, ys = np.meshgrid(np.linspace(-10, 10, 300), np.linspace(-5, 5, 200))
    zs = _f(xs, ys)
    n = len(paths)
    cols = 1 if n == 1 else 2 if n <= 4 else 3
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.6 * rows), squeeze=False)
    for ax, (label, p) in zip(axes.flat, paths.items()):
        ax.contour(xs, ys, zs, levels=np.geomspace(0.05, 8, 12), cmap="Greys", linewidths=0.7)
        ax.plot(p[:, 0], p[:, 1], "o-", color="tab:red", ms=3, lw=1)
        ax.plot(0, 0, "+", color="black", ms=10)
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(f"{label}, lr {settings[label][1]:g}")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"f(x, y) = x²/20 + y²: {steps} steps from ({start[0]:g}, {start[1]:g}), minimum at +")
    fig.tight_layout()
    return fig
