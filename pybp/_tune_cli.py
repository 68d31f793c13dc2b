"""`pybp tune`: the book's ch. 6.5 random search (defaults), its result table and figure.

    pybp tune                                   # 100 trials, 6x100 net, 500 MNIST images, 50 epochs, 2 workers
    pybp tune --scheduler tcp://host:8786       # the same search on a running Dask cluster
    pybp tune --full --hidden 100 100 --epochs 10 --trials 40 --plot best.png
"""
from __future__ import annotations

import math
import os
import time

BOOK_HIDDEN = [100] * 6
BOOK_LIMIT = 500  # the book's x_train[:500]


HELP = "random hyper-parameter search on Dask (defaults: the book's ch. 6.5)"


def configure(p):
    """The flags of `pybp tune` (registered in pybp/cli.py), checked by the shared types of pybp._cli_args."""
    from ._cli_args import LowHigh, float_between, int_in, positive_float
    from .cli import MNIST_TRAIN, add_backend_flag, add_seed_flag
    p.description = ("Random search over SGD learning rate and weight decay as in the book's "
                     "ch06/hyperparameter_optimization.py, trials run as Dask tasks.")
    p.add_argument("--trials", type=int_in(1), default=100, help="number of trials, >= 1 (default 100)")
    p.add_argument("--epochs", type=int_in(1), default=50, help="epochs per trial, >= 1 (default 50)")
    images = p.add_mutually_exclusive_group()
    images.add_argument("--full", action="store_true", help="all 60,000 training images instead of the first "
                                                            "--limit")
    images.add_argument("--limit", type=int_in(1, MNIST_TRAIN), default=None,
                        help=f"training images before the split, 1..{MNIST_TRAIN} (default {BOOK_LIMIT})")
    p.add_argument("--val-rate", type=float_between(0, 1), default=0.2,
                   help="share held out for validation, > 0 and < 1 (default 0.2)")
    p.add_argument("--hidden", type=int_in(1), nargs="+", default=BOOK_HIDDEN,
                   help="hidden layer sizes, each >= 1 (default 6 x 100)")
    p.add_argument("--batch", type=int_in(1), default=100, help="mini-batch size, >= 1 (default 100)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--lr", type=positive_float, nargs=2, action=LowHigh, default=[1e-6, 1e-2],
                   metavar=("LOW", "HIGH"), help="log-uniform range of the learning rate, 0 < LOW <= HIGH "
                                                 "(default 1e-6 1e-2)")
    p.add_argument("--weight-decay", type=positive_float, nargs=2, action=LowHigh, default=[1e-8, 1e-4],
                   metavar=("LOW", "HIGH"), help="log-uniform range of weight_decay_lambda, 0 < LOW <= HIGH "
                                                 "(default 1e-8 1e-4)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int_in(1), default=None,
                       help="worker processes of the embedded cluster, >= 1 (default: one per core)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS", help="use a running Dask scheduler, "
                                                                            "e.g. tcp://host:8786")
    p.add_argument("--out", default="results.jsonl", help="JSONL results; rerunning resumes (default "
                                                          "results.jsonl)")
    p.add_argument("--retry-failed", action="store_true", help="rerun trials recorded as failed")
    add_seed_flag(p, "seed of the split and of every trial")
    p.add_argument("--top", type=int_in(1), default=20, help="rows of the result table, >= 1 (default 20)")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="the book's figure: the 20 best validation "
                                                                   "curves, train dashed (.png added if no "
                                                                   "extension)")
    add_backend_flag(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", action="store_true", help="no line per trial")


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def params_text(params):
    """'lr: 0.00123, weight decay: 4.56e-07' (the book's wording)."""
    return ", ".join(f"{k.replace('_', ' ')}: {_fmt(v)}" for k, v in params.items())


def trial_line(rec):
    if rec["status"] != "ok":
        return f"trial {rec['trial']}: FAILED ({rec['error'].splitlines()[0]}) | {params_text(rec['params'])}"
    where = f" ({rec['wall_s']:.1f} s, {rec.get('worker') or rec.get('host')})"
    return f"trial {rec['trial']}: val acc: {rec['result']['val_acc'][-1]:.4f} | {params_text(rec['params'])}{where}"


def result_table(records, top):
    from .tune import best
    lines = ["=========== Hyper-Parameter Optimization Result ==========="]
    for i, rec in enumerate(best(records, top), start=1):
        lines.append(f"Best-{i} (val acc: {rec['result']['val_acc'][-1]:.4f}) | {params_text(rec['params'])}")
    return "\n".join(lines)


def plot_best(records, path, n=20, cols=5):
    """The book's figure: the `n` best trials' validation accuracy per epoch, train accuracy dashed."""
    from .plot import _plt, _save
    from .tune import best
    plt = _plt()
    top = best(records, n)
    rows = max(1, math.ceil(len(top) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.2 * rows), squeeze=False, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= len(top):
            ax.axis("off")
            continue
        res = top[i]["result"]
        marker = "o" if len(res["val_acc"]) < 3 else None  # a one-epoch curve is a point
        ax.plot(res["val_acc"], marker=marker, label="validation")
        ax.plot(res["train_acc"], "--", marker=marker, label="train")
        ax.set_ylim(0.0, 1.0)
        ax.set_xticks([])
        ax.set_title(f"Best-{i + 1}", fontsize=9)
    if top:
        fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="upper right", ncol=2, fontsize=8)
    fig.suptitle("random search: the best validation accuracy curves per epoch", x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(fig, path)


def _check(args, search):
    """Everything that can be refused before Dask starts or data is loaded: the split, --out (its directory, and
    an existing file must be a results file of this `search` that this run can append to), --plot (directory,
    format, matplotlib). Returns (out, plot, records already in out, bytes of an incomplete last line)."""
    from ._cli_args import CliError, output_file
    from ._tune_store import check_search, read_results
    from ._tune_train import validation_size
    from .cli import MNIST_TRAIN, image_output
    n = MNIST_TRAIN if args.full else args.limit
    try:
        validation_size(n, args.val_rate)
    except ValueError as e:
        raise CliError(f"--val-rate {args.val_rate:g} of {n} images ({'--full' if args.full else '--limit'}): "
                       f"{e}") from None
    out = output_file("--out", args.out, None)
    plot = image_output("--plot", args.plot) if args.plot else None
    old, dropped = [], 0
    if os.path.exists(out):
        if not os.access(out, os.R_OK | os.W_OK):
            raise CliError(f"--out {out}: cannot resume it (not readable and writable)")
        try:
            old, dropped = read_results(out)
            check_search(out, old, search)
        except ValueError as e:
            raise CliError(f"--out {e}") from None
    return out, plot, old, dropped


def run(args) -> int:
    from . import tune
    if args.limit is None:
        args.limit = BOOK_LIMIT
    trial = tune.MultiLayerTrial(hidden=tuple(args.hidden), epochs=args.epochs, batch=args.batch, dtype=args.dtype)
    space = {"lr": tune.log_uniform(*args.lr), "weight_decay": tune.log_uniform(*args.weight_decay)}
    config = {"full": args.full, "limit": None if args.full else args.limit, "val_rate": args.val_rate}
    out, plot, old, dropped = _check(args, tune.fingerprint(trial, space, args.seed, config))
    try:
        return _start_and_search(args, trial, space, config, out, plot, old, dropped)
    except KeyboardInterrupt:  # cli.main prints it as 'pybp tune: interrupted: ...', exit 130
        raise KeyboardInterrupt(_kept(out, args.trials)) from None


def _kept(out, trials):
    """What an interrupted run leaves: the trials in `out` (appended and fsync'ed line by line: always valid)."""
    from .tune import load_results
    records = load_results(out) if os.path.exists(out) else []
    if {r["trial"] for r in records} >= set(range(trials)):
        return f"the search had finished: all {trials} trial(s) are in {out}; run the same command for the table"
    return f"{len(records)} finished trial(s) are in {out}; run the same command to resume"


def _start_and_search(args, trial, space, config, out, plot, old, dropped):
    from ._cli_args import CliError, write_output
    from ._sigint import deferred
    from .cli import activate, load_data
    from . import tune
    from ._tune_train import holdout
    pybp = activate(args)
    from . import _tune_dask  # ImportError with the install hint (one line, exit 2) before any data is loaded
    # the book's data: the first --limit (or all) training images, --val-rate of them held out. Kept in float32
    # as load_mnist gives it (half the bytes to ship); each trial casts it to its net's dtype once.
    x, t, _, _ = load_data(None if args.full else args.limit, test_limit=1)
    data = holdout(x, t, args.val_rate, args.seed)
    n_tr, n_val = len(data["x_train"]), len(data["x_val"])
    print(f"pybp tune: {args.trials} trials of MultiLayerNet 784-{'-'.join(map(str, args.hidden))}-10 "
          f"({args.dtype}), SGD, {args.epochs} epochs, batch {args.batch}, {n_tr} training / {n_val} validation "
          f"images; lr 10^U({math.log10(args.lr[0]):g}, {math.log10(args.lr[1]):g}), weight decay "
          f"10^U({math.log10(args.weight_decay[0]):g}, {math.log10(args.weight_decay[1]):g}); seed {args.seed}; "
          f"results -> {out} | backend {pybp.get_backend()}", flush=True)

    def on_client(client):
        n = len(client.scheduler_info().get("workers", {}))
        where = args.scheduler or "embedded LocalCluster"
        print(f"Dask: {where}, {n} worker(s)", flush=True)
        line = _tune_dask.dashboard_line(client)
        if line:
            print(line, flush=True)

    if old or dropped:
        print(f"resuming: {len(old)} trial(s) already in {out}"
              + (f"; dropping an incomplete last line ({dropped} bytes) left by an interrupted run" if dropped
                 else ""), flush=True)
    # From here on (Dask, then the table and the figure) a Ctrl-C is acted on where it is safe, never lost in a
    # finalizer (pybp._sigint); before, nothing of Dask runs and KeyboardInterrupt is raised as usual.
    with deferred():
        t0 = time.perf_counter()
        try:
            records = tune.random_search(trial, space, args.trials, data=data, seed=args.seed, out=out,
                                         scheduler=args.scheduler, workers=args.workers, config=config,
                                         retry_failed=args.retry_failed, progress=not args.no_progress,
                                         log_line=None if args.quiet else trial_line, on_client=on_client)
        except ValueError as e:  # --out changed since _check (another search wrote to it)
            raise CliError(f"--out {e}") from None
        wall = time.perf_counter() - t0
        failed = sum(r["status"] != "ok" for r in records)
        print(result_table(records, args.top))
        print(f"{len(records)} trials ({failed} failed) in {out}; {wall:.1f} s for this run")
        if plot:
            write_output("--plot", plot, lambda tmp: plot_best(records, tmp))
            print(f"saved the {min(20, len(records) - failed)} best curves to {plot}")
    return 0 if failed < len(records) or not records else 1
