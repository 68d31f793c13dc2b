"""The CNN part of the `pybp` command line (book ch. 7-8): `train --net simple-conv|deep-conv` and
`plot-filters`. pybp/cli.py reads NETS and BOOK (the --net choices and their defaults), calls build_net in `train`
and registers plot-filters with the functions below."""
from __future__ import annotations

import numpy as np

from ._cli_args import CliError, int_in, write_output

NETS = ("simple-conv", "deep-conv")

# The book's ch07/train_convnet.py and ch08/train_deepnet.py: Adam (its default lr 0.001), batch 100, 20 epochs,
# 1,000 evaluation samples per epoch (then the full test set). float32: the book's float64 gives the same accuracy
# at half the speed (pass --dtype float64 for the book's arithmetic).
BOOK = {"optimizer": "adam", "epochs": 20.0, "eval_samples": 1000, "dtype": "float32", "batch": 100}
BOOK_TEXT = "adam lr 0.001, batch 100, 20 epochs, 1000 evaluation samples, float32"
PLOT_FILTERS_HELP = "first-layer CNN filters before/after training (book Figure 7-24)"


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


def read_filters(weights_path):
    """The first convolution's filters W1 (4-D) from weights saved by `pybp train --save`, read once."""
    try:
        with np.load(weights_path, allow_pickle=False) as f:
            after = f["W1"] if "W1" in f.files else None
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise ValueError(f"WEIGHTS {weights_path}: not a weights file saved by pybp train --save ({e})") from None
    if after is None or after.ndim != 4:
        raise ValueError(f"plot-filters: {weights_path} has no 4-D W1 (first convolution's filters)")
    return after


def plot_filters(after, out, seed=0):
    """The book's Figure 7-24: the first layer's filters `after` (channel 0, grey scale) before and after
    training. 'Before' is the initialisation that training with --seed `seed` starts from. Returns `out`."""
    from .plot import _plt
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


def configure_plot_filters(p):
    p.add_argument("weights", metavar="WEIGHTS.npz", help="weights saved by pybp train --net ... --save")
    p.add_argument("out", metavar="OUT.png", help="image to write (.png added if no extension)")
    p.add_argument("--seed", type=int_in(0), default=0, help="the training run's --seed (for the 'before' filters)")


def run_plot_filters(args) -> int:
    from .cli import image_output
    out = image_output("OUT", args.out)
    try:
        after = read_filters(args.weights)
    except FileNotFoundError:
        raise CliError(f"WEIGHTS {args.weights}: no such file") from None
    except ValueError as e:
        raise CliError(str(e)) from None
    write_output("OUT", out, lambda tmp: plot_filters(after, tmp, args.seed))
    print(f"wrote {out}")
    return 0
