"""The CNN part of the `pybp` command line (book ch. 7-8): `train --net simple-conv|deep-conv` and
`plot-filters`. pybp/cli.py calls in here at three points: NETS (the --net choices), book_defaults (after
parsing) and build_net (in `train`), plus add_subcommands (the parser)."""
from __future__ import annotations

import sys

import numpy as np

NETS = ("simple-conv", "deep-conv")

# The book's ch07/train_convnet.py and ch08/train_deepnet.py: Adam lr 0.001, batch 100, 20 epochs, 1,000
# evaluation samples per epoch (then the full test set). float32: the book's float64 gives the same accuracy
# at half the speed (pass --dtype float64 for the book's arithmetic).
BOOK = {"optimizer": "adam", "lr": 0.001, "epochs": 20.0, "eval_samples": 1000, "dtype": "float32", "batch": 100}
_FLAGS = {"optimizer": "--optimizer", "lr": "--lr", "epochs": "--epochs", "eval_samples": "--eval-samples",
          "dtype": "--dtype", "batch": "--batch"}


def book_defaults(args, argv):
    """For a CNN, set every BOOK setting the command line did not give (an explicit --iters replaces the
    epochs). No-op for the other nets."""
    if getattr(args, "net", None) not in NETS:
        return args
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    for key, value in BOOK.items():
        if _FLAGS[key] not in given and not (key == "epochs" and "--iters" in given):
            setattr(args, key, value)
    return args


def build_net(args, dtype):
    """(network, description) for --net simple-conv or deep-conv with the book's architecture."""
    if args.net == "simple-conv":
        from .simple_convnet import SimpleConvNet
        return SimpleConvNet(dtype=dtype, seed=args.seed), "SimpleConvNet (conv 30x5x5 - pool - 100 - 10)"
    from .deep_convnet import DeepConvNet
    return DeepConvNet(dtype=dtype, seed=args.seed), "DeepConvNet (6 conv 3x3 16-16-32-32-64-64, 3 pools, 50, 10)"


def initial_filters(w1_shape, seed):
    """The first-layer filters `pybp train --net ... --seed SEED` starts from, when w1_shape is one of the book
    nets' (None otherwise)."""
    from .deep_convnet import DeepConvNet
    from .simple_convnet import SimpleConvNet
    for cls in (SimpleConvNet, DeepConvNet):
        net = cls(seed=seed)
        if net.params["W1"].shape == tuple(w1_shape):
            return net.params["W1"]
    return None


def plot_filters(weights_path, out, seed=0):
    """The book's Figure 7-24: the first layer's filters (channel 0, grey scale) before and after training.
    'Before' is the initialisation that training with --seed `seed` starts from. Returns `out`."""
    from .plot import _plt
    with np.load(weights_path, allow_pickle=False) as f:
        if "W1" not in f.files or f["W1"].ndim != 4:
            raise ValueError(f"plot-filters: {weights_path} has no 4-D W1 (first convolution's filters)")
        after = f["W1"]
    before = initial_filters(after.shape, seed)
    rows = [("after training", after)] if before is None else [("before training", before),
                                                                 ("after training", after)]
    plt = _plt()
    n = after.shape[0]
    cols = min(n, 10)
    per = (n + cols - 1) // cols
    fig, axes = plt.subplots(per * len(rows), cols, figsize=(cols * 0.9, per * len(rows) * 1.05 + 0.5),
                             squeeze=False)
    for r, (label, w) in enumerate(rows):
        for i in range(per * cols):
            ax = axes[r * per + i // cols, i % cols]
            ax.set_xticks([])
            ax.set_yticks([])
            if i < n:
                ax.imshow(w[i, 0], cmap="gray_r", interpolation="nearest")  # the book's grey scale
            else:
                ax.axis("off")
        axes[r * per, 0].set_ylabel(label, fontsize=8)
    fig.suptitle(f"first-layer filters {tuple(after.shape)}")
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def cmd_plot_filters(args) -> int:
    try:
        plot_filters(args.weights, args.out, args.seed)
    except (OSError, ValueError) as e:
        print(f"pybp: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


def add_subcommands(sub):
    pf = sub.add_parser("plot-filters", help="first-layer CNN filters before/after training (book Figure 7-24)")
    pf.add_argument("weights", metavar="WEIGHTS.npz", help="weights saved by pybp train --net ... --save")
    pf.add_argument("out", metavar="OUT.png")
    pf.add_argument("--seed", type=int, default=0, help="the training run's --seed (for the 'before' filters)")
    pf.set_defaults(func=cmd_plot_filters)
