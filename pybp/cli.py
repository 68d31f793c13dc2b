"""`pybp` command line: train | gradcheck | bench | info | plot-optimizers | tune.

    pybp train                      # the book's ch. 5 run: TwoLayerNet 784-50-10, batch 100, SGD lr 0.1, 10,000 steps
    pybp train --net multi-layer --hidden 100 100 --optimizer adam --epochs 5 --plot curves.png
    pybp gradcheck                  # backprop vs numerical gradients on 3 MNIST rows (book ch. 5)
    pybp bench                      # quick kernel benchmark vs NumPy (< 1 minute)
    pybp info                       # backend, ISA path, threads, versions

Every subcommand is one `configure(parser)` function (its flags, checked by the types in pybp._cli_args) and one
`run(args)` function, added with register(). Usage errors are one line on stderr and exit code 2; output files
are checked before any work and written atomically.
"""
from __future__ import annotations

import inspect
import os
import sys
import time

from ._cli_args import CliError, Parser, int_in, output_file, positive_float, write_output
from . import _cli_conv, _tune_cli

BACKEND_CHOICES = ("cpp", "numba", "numpy")
MNIST_TRAIN, MNIST_TEST = 60000, 10000
SGD_CH05_LR = 0.1  # the book's ch. 5 run (train_neuralnet.py); the SGD class itself defaults to 0.01, as the book's

_COMMANDS = {}


def register(name, help, configure, run, *, raw_argv=False):
    """Add subcommand `name`. configure(parser) adds its flags; run(args) returns the exit code and may raise
    CliError for a one-line message. raw_argv: run receives the remaining argument list unparsed (`pybp bench`
    parses its own flags)."""
    _COMMANDS[name] = (help, configure, run, raw_argv)


# --- shared pieces ---------------------------------------------------------------------------------------------

def add_backend_flag(p):
    p.add_argument("--backend", choices=BACKEND_CHOICES, default=None,
                   help="kernel backend (default: $PYBP_BACKEND, else cpp, then numba, then numpy)")


def add_threads_flag(p):
    p.add_argument("--threads", type=int_in(1, 256), default=None,
                   help="threads for pybp's kernels and NumPy's BLAS, 1..256 (default: pybp's and BLAS's own)")


def add_seed_flag(p, what="random seed"):
    p.add_argument("--seed", type=int_in(0), default=0, help=f"{what}, >= 0 (default 0)")


def activate(args):
    """Select --backend and apply --threads (pybp's kernels and NumPy's BLAS, so the numpy backend really runs
    on that many threads). Returns the pybp module."""
    import pybp
    if getattr(args, "backend", None):
        pybp.set_backend(args.backend)  # ImportError with the reason and an install hint -> one line, exit 2
    n = getattr(args, "threads", None)
    if n:
        try:
            pybp.set_num_threads(n)
        except RuntimeError as e:  # the OS gave fewer threads than asked: say so and run on those
            print(f"pybp: {e}", file=sys.stderr)
        try:
            import threadpoolctl
        except ImportError:
            raise CliError("--threads also pins NumPy's BLAS threads and needs threadpoolctl: "
                           "pip install threadpoolctl") from None
        args._blas_limit = threadpoolctl.threadpool_limits(limits=n, user_api="blas")  # held for the whole run
    return pybp


def backend_line(pybp) -> str:
    info = pybp.backend_info()
    if info["backend"] == "numpy":
        return f"backend numpy, {info.get('threads', 1)} BLAS thread(s)"
    isa = f" ({info.get('isa')})" if info["backend"] == "cpp" else ""
    return f"backend {info['backend']}{isa}, {info.get('threads', 1)} thread(s)"


def load_data(limit=None, test_limit=None, one_hot=False):
    """MNIST as (x_train, t_train, x_test, t_test), the first `limit` training and `test_limit` test images."""
    from .datasets import MnistNotFoundError, load_mnist
    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True, one_hot_label=one_hot)
    except MnistNotFoundError as e:
        raise CliError(str(e)) from None
    return x_train[:limit], t_train[:limit], x_test[:test_limit], t_test[:test_limit]


def image_output(flag, path):
    """An image file the command will write (format from the extension, .png added when there is none)."""
    from .plot import image_formats
    return output_file(flag, path, "png", image_formats())


def default_lr(optimizer: str) -> float:
    """SGD: the ch. 5 run's 0.1; the others: the book's default of that optimizer class."""
    if optimizer == "sgd":
        return SGD_CH05_LR
    from .optimizers import OPTIMIZERS
    return inspect.signature(OPTIMIZERS[optimizer]).parameters["lr"].default


# --- pybp train ------------------------------------------------------------------------------------------------

def configure_train(p):
    from .optimizers import OPTIMIZERS
    p.add_argument("--net", choices=["two-layer", "multi-layer", *_cli_conv.NETS], default="two-layer",
                   help="the book's ch. 5 TwoLayerNet, ch. 6 MultiLayerNet, ch. 7 SimpleConvNet or ch. 8 "
                        "DeepConvNet; the CNNs default to their book scripts' settings (" + _cli_conv.BOOK_TEXT + ")")
    p.add_argument("--hidden", type=int_in(1), nargs="+", default=None,
                   help="hidden layer size(s), each >= 1 (default 50; two-layer takes one; not for the CNNs)")
    p.add_argument("--activation", choices=["relu", "sigmoid"], default=None,
                   help="multi-layer only (default relu); the two-layer net is the book's, with ReLU")
    p.add_argument("--optimizer", default=None, choices=list(OPTIMIZERS), help="default sgd")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate > 0 (default: 0.1 for sgd as in the book's ch. 5 run, else the book's "
                        "default of the optimizer: adam 0.001, the others 0.01)")
    steps = p.add_mutually_exclusive_group()
    steps.add_argument("--iters", type=int_in(1), default=None, help="training steps, >= 1 (default 10000)")
    steps.add_argument("--epochs", type=positive_float, default=None,
                       help="train for this many epochs (> 0, fractions allowed) instead of --iters")
    p.add_argument("--batch", type=int_in(1), default=None, help="mini-batch size, >= 1 (default 100)")
    p.add_argument("--dtype", choices=["float32", "float64"], default=None, help="default float64 (CNNs: float32)")
    add_backend_flag(p)
    add_threads_flag(p)
    add_seed_flag(p)
    p.add_argument("--limit", type=int_in(1, MNIST_TRAIN), default=None,
                   help=f"use only the first N training images, 1..{MNIST_TRAIN} (quick runs; default all)")
    p.add_argument("--test-limit", type=int_in(1, MNIST_TEST), default=None,
                   help=f"evaluate on only the first N test images, 1..{MNIST_TEST} (default all)")
    p.add_argument("--eval-samples", type=int_in(1), default=None,
                   help="images of each set evaluated after each epoch, >= 1 (default: all; the final "
                        "accuracy always uses the whole test set)")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="write loss/accuracy curves (.png added if no "
                                                                    "extension)")
    p.add_argument("--save", default=None, metavar="WEIGHTS.npz", help="write the trained weights (.npz added)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", action="store_true",
                   help="print only the final result line (and errors): no header, progress, epoch or saved-file "
                        "lines")


def _fill_defaults(args):
    """Settings not given on the command line: the CNN book scripts' for --net simple-conv/deep-conv, then the
    ch. 5 run's (None marks a flag the user did not give)."""
    if args.net in _cli_conv.NETS:
        if args.hidden is not None or args.activation is not None:
            raise CliError(f"--hidden/--activation apply to the two-layer and multi-layer nets, not --net {args.net} "
                           "(the book's architecture)")
        for key, value in _cli_conv.BOOK.items():
            if getattr(args, key) is None and not (key == "epochs" and args.iters is not None):
                setattr(args, key, value)
    for key, value in (("hidden", [50]), ("optimizer", "sgd"), ("batch", 100), ("dtype", "float64")):
        if getattr(args, key) is None:
            setattr(args, key, value)


def _build_net(pybp, args, dtype):
    if args.net in _cli_conv.NETS:
        return _cli_conv.build_net(args, dtype)
    if args.net == "two-layer":
        if len(args.hidden) != 1:
            raise CliError(f"--hidden: --net two-layer takes one size, got {len(args.hidden)} "
                           "(use --net multi-layer for more layers)")
        if args.activation is not None:
            raise CliError("--activation applies to --net multi-layer only (the two-layer net is the book's, "
                           "with ReLU)")
        return (pybp.TwoLayerNet(784, args.hidden[0], 10, dtype=dtype, seed=args.seed),
                f"TwoLayerNet 784-{args.hidden[0]}-10")
    act = args.activation or "relu"
    net = pybp.MultiLayerNet(784, args.hidden, 10, activation=act, dtype=dtype, seed=args.seed)
    return net, f"MultiLayerNet 784-{'-'.join(map(str, args.hidden))}-10 ({act})"


def run_train(args) -> int:
    pybp = activate(args)
    import numpy as np
    from .trainer import Trainer
    _fill_defaults(args)
    save = output_file("--save", args.save, "npz") if args.save else None
    plot = image_output("--plot", args.plot) if args.plot else None
    net, desc = _build_net(pybp, args, np.dtype(args.dtype))
    lr = args.lr if args.lr is not None else default_lr(args.optimizer)
    x_train, t_train, x_test, t_test = load_data(args.limit, args.test_limit)
    iters = None if args.epochs is not None else (args.iters or 10000)
    try:  # rhythm "fast": the same weights as the book's rhythm, without its second forward pass per step
        trainer = Trainer(net, x_train, t_train, x_test, t_test, epochs=args.epochs or 1,
                          mini_batch_size=args.batch, optimizer=args.optimizer, optimizer_param={"lr": lr},
                          evaluate_sample_num_per_epoch=args.eval_samples, verbose=not args.quiet,
                          max_iter=iters, seed=args.seed, rhythm="fast", progress=not args.no_progress,
                          final_line=False)  # the result line below says it
    except ValueError as e:  # the flags are checked by argparse; only --epochs below one step gets here
        raise CliError(f"--epochs {args.epochs:g} (batch {args.batch}, {len(x_train)} images): {e}") from None
    if not args.quiet:
        steps = (f"{iters} iterations" if iters is not None
                 else f"{args.epochs:g} epochs = {trainer.max_iter} iterations")
        lr_note = "" if args.lr is not None else (" (ch. 5 run)" if args.optimizer == "sgd" else " (book default)")
        print(f"{desc}, {args.dtype}, batch {args.batch}, {args.optimizer} lr {lr:g}{lr_note}, {steps}, "
              f"{len(x_train)} training / {len(x_test)} test images | {backend_line(pybp)}", flush=True)
    trainer.train()
    print(f"test accuracy {trainer.test_acc:.4f} | {trainer.current_iter} steps in {trainer.elapsed:.2f} s "
          f"({trainer.steps_per_second:.0f} steps/s, including per-epoch evaluation) | {backend_line(pybp)}",
          flush=True)
    if save:
        write_output("--save", save, net.save_params)
        if not args.quiet:
            print(f"saved weights to {save}")
    if plot:
        from .plot import plot_history
        write_output("--plot", plot,
                     lambda tmp: plot_history(trainer, tmp, title=f"{desc}, {pybp.get_backend()} backend"))
        if not args.quiet:
            print(f"saved training curves to {plot}")
    return 0


# --- pybp gradcheck --------------------------------------------------------------------------------------------

def configure_gradcheck(p):
    p.add_argument("--rows", type=int_in(1, MNIST_TRAIN), default=3,
                   help=f"MNIST rows to check, 1..{MNIST_TRAIN} (default 3; time grows with it)")
    add_seed_flag(p)
    add_backend_flag(p)


def run_gradcheck(args) -> int:
    pybp = activate(args)
    import numpy as np
    x_train, t_train, _, _ = load_data(limit=args.rows, test_limit=1, one_hot=True)
    net = pybp.TwoLayerNet(784, 50, 10, seed=args.seed)
    x, t = x_train.astype(np.float64), t_train.astype(np.float64)
    t0 = time.perf_counter()
    diffs = pybp.gradient_check(net, x, t)
    for k, v in diffs.items():
        print(f"{k}:{v:.6e}")
    print(f"({args.rows} MNIST rows, {time.perf_counter() - t0:.1f} s, {backend_line(pybp)})")
    ok = diffs["W2"] < 1e-6 and diffs["b2"] < 1e-6 and diffs["W1"] < 1e-4 and diffs["b1"] < 1e-4
    if not ok:
        print("gradient check FAILED: differences above 1e-6 (W2, b2) or 1e-4 (W1, b1)", file=sys.stderr)
    return 0 if ok else 1


# --- pybp info, bench, plot-optimizers -------------------------------------------------------------------------

def run_info(args) -> int:
    pybp = activate(args)
    for k, v in pybp.backend_info().items():
        print(f"{k:>16}: {v}")
    return 0


def run_bench(argv) -> int:
    from . import benchmark
    return benchmark.main(argv)


def configure_plot_optimizers(p):
    p.add_argument("out", nargs="?", default="optimizers.png",
                   help="image file (default optimizers.png); OUT_sgd_vs_adagrad.png is written next to it")


def run_plot_optimizers(args) -> int:
    from .plot import plot_optimizer_paths
    out = image_output("OUT", args.out)
    base, ext = os.path.splitext(out)
    second = output_file("OUT", f"{base}_sgd_vs_adagrad{ext}", "png", [ext.lstrip(".").lower()])
    write_output("OUT", out, plot_optimizer_paths)
    write_output("OUT", second, lambda tmp: plot_optimizer_paths(
        tmp, start=(8.0, 1.0), settings={"SGD": ("sgd", 0.9), "AdaGrad": ("adagrad", 1.0)}))
    print(f"wrote {out} and {second}")
    return 0


register("train", "train on MNIST (defaults: the book's ch. 5 run)", configure_train, run_train)
register("gradcheck", "backprop vs numerical gradient on MNIST rows (book ch. 5)", configure_gradcheck,
         run_gradcheck)
register("info", "backend, ISA path, threads, versions", add_backend_flag, run_info)
register("bench", "quick kernel benchmark (pybp bench --help for options)", None, run_bench, raw_argv=True)
register("plot-optimizers", "optimizer paths on x^2/20 + y^2 (book ch. 6) as images", configure_plot_optimizers,
         run_plot_optimizers)
register("plot-filters", _cli_conv.PLOT_FILTERS_HELP, _cli_conv.configure_plot_filters, _cli_conv.run_plot_filters)
register("tune", _tune_cli.HELP, _tune_cli.configure, _tune_cli.run)  # imports dask only when it runs


# --- entry point -----------------------------------------------------------------------------------------------

def build_parser():
    from ._version import __version__
    ap = Parser(prog="pybp", description="Backpropagation from scratch, with compiled kernels.")
    ap.add_argument("--version", action="version", version=f"pybp {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for name, (help_text, configure, run, raw) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, add_help=not raw)
        if configure is not None:
            configure(p)
        p.set_defaults(run=run)
    return ap


def _stdout_closed() -> int:
    """The reader of our stdout went away (`pybp train | head -1`): stop quietly, as a Unix tool killed by
    SIGPIPE would (exit 141), and keep Python from complaining when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def _prog(argv) -> str:
    cmd = argv[0] if argv else ""
    return f"pybp {cmd}" if cmd in _COMMANDS else "pybp"


def _launched_as_command() -> bool:
    """True while `pybp ...` (the console script) or `python -m pybp ...` starts up."""
    if os.path.splitext(os.path.basename(sys.argv[0]))[0] == "pybp":
        return True
    if sys.argv[0] != "-m":  # python -m sets argv[0] to '-m' while it imports the package to run
        return False
    orig = getattr(sys, "orig_argv", None)  # Python >= 3.10: the module's name too
    return orig is None or any(a == "-m" and b == "pybp" for a, b in zip(orig, orig[1:]))


def exit_if_command(error: Exception) -> None:
    """`import pybp` failed on the environment (PYBP_BACKEND names an unknown or unloadable backend,
    PYBP_REQUIRE_CPP=1 without the extension). That happens before main() can run, so the package's __init__
    calls this: under the `pybp` command it prints the usual one-line error and exits with code 2; for a
    library user it returns and the import raises."""
    if _launched_as_command():
        print(f"{_prog(sys.argv[1:])}: error: {error}", file=sys.stderr)
        sys.exit(2)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = argv[0] if argv else ""
    prog = _prog(argv)
    try:
        if cmd in _COMMANDS and _COMMANDS[cmd][3]:
            return _COMMANDS[cmd][2](argv[1:])
        args = build_parser().parse_args(argv)
        return args.run(args)
    except (CliError, ImportError) as e:  # ImportError: a --backend that cannot load, matplotlib missing, ...
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except MemoryError as e:  # e.g. --hidden 100000 100000: say it in one line, not a NumPy traceback
        print(f"{prog}: error: out of memory{f' ({e})' if str(e) else ''}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt as e:  # a command may say what was kept: KeyboardInterrupt("3 trials are in r.jsonl")
        print(f"{prog}: interrupted{f': {e}' if str(e) else ''}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
