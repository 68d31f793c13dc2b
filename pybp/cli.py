"""`pybp` command line: train | gradcheck | bench | info | plot-optimizers.

    pybp train                      # the book's ch. 5 run: TwoLayerNet 784-50-10, batch 100, SGD lr 0.1, 10,000 steps
    pybp train --net multi-layer --hidden 100 100 --optimizer adam --lr 0.001 --epochs 5 --plot curves.png
    pybp gradcheck                  # backprop vs numerical gradients on 3 MNIST rows (book ch. 5)
    pybp bench                      # quick kernel benchmark vs NumPy (< 1 minute)
    pybp info                       # backend, ISA path, threads, versions
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from . import _cli_conv


def _activate_backend(name):
    import pybp
    if name:
        pybp.set_backend(name)
    return pybp


def _load_data(limit=None, one_hot=False):
    from .datasets import MnistNotFoundError, load_mnist
    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True, one_hot_label=one_hot)
    except MnistNotFoundError as e:
        print(f"pybp: {e}", file=sys.stderr)
        raise SystemExit(2)
    if limit:
        x_train, t_train = x_train[:limit], t_train[:limit]
        x_test, t_test = x_test[: max(limit // 6, 1)], t_test[: max(limit // 6, 1)]
    return x_train, t_train, x_test, t_test


def _backend_line(pybp):
    info = pybp.backend_info()
    isa = f" ({info.get('isa')})" if info["backend"] == "cpp" else ""
    return f"backend {info['backend']}{isa}, {info.get('threads', 1)} thread(s)"


def cmd_train(args) -> int:
    pybp = _activate_backend(args.backend)
    import numpy as np
    from .trainer import Trainer
    if args.threads:
        pybp.set_num_threads(args.threads)
    x_train, t_train, x_test, t_test = _load_data(args.limit)
    dtype = np.dtype(args.dtype)
    if args.net == "two-layer":
        if len(args.hidden) != 1:
            print("pybp train: --net two-layer takes one --hidden size", file=sys.stderr)
            return 2
        net = pybp.TwoLayerNet(784, args.hidden[0], 10, dtype=dtype, seed=args.seed)
        desc = f"TwoLayerNet 784-{args.hidden[0]}-10"
    elif args.net in _cli_conv.NETS:
        net, desc = _cli_conv.build_net(args, dtype)
    else:
        net = pybp.MultiLayerNet(784, args.hidden, 10, activation=args.activation, dtype=dtype, seed=args.seed)
        desc = f"MultiLayerNet 784-{'-'.join(map(str, args.hidden))}-10 ({args.activation})"
    iters = args.iters if args.epochs is None else None
    print(f"{desc}, {args.dtype}, batch {args.batch}, {args.optimizer} lr {args.lr}, "
          + (f"{args.epochs} epochs" if iters is None else f"{iters} iterations")
          + f", {len(x_train)} training images | {_backend_line(pybp)}", flush=True)
    trainer = Trainer(net, x_train, t_train, x_test, t_test, epochs=args.epochs or 1, mini_batch_size=args.batch,
                      optimizer=args.optimizer, optimizer_param={"lr": args.lr},
                      evaluate_sample_num_per_epoch=args.eval_samples, verbose=not args.quiet, max_iter=iters,
                      seed=args.seed, progress=not args.no_progress)
    trainer.train()
    print(f"test accuracy {trainer.test_acc:.4f} | {trainer.current_iter} steps in {trainer.elapsed:.2f} s "
          f"({trainer.steps_per_second:.0f} steps/s, including per-epoch evaluation) | {_backend_line(pybp)}")
    if args.save:
        net.save_params(args.save)
        print(f"saved weights to {args.save}")
    if args.plot:
        from .plot import plot_history
        plot_history(trainer, args.plot, title=f"{desc}, {pybp.get_backend()} backend")
        print(f"saved training curves to {args.plot}")
    return 0


def cmd_gradcheck(args) -> int:
    pybp = _activate_backend(args.backend)
    x_train, t_train, _, _ = _load_data(one_hot=True)
    import numpy as np
    net = pybp.TwoLayerNet(784, 50, 10, seed=args.seed)
    x, t = x_train[: args.rows].astype(np.float64), t_train[: args.rows].astype(np.float64)
    t0 = time.perf_counter()
    diffs = pybp.gradient_check(net, x, t)
    for k, v in diffs.items():
        print(f"{k}:{v:.6e}")
    print(f"({args.rows} MNIST rows, {time.perf_counter() - t0:.1f} s, {_backend_line(pybp)})")
    ok = diffs["W2"] < 1e-6 and diffs["b2"] < 1e-6 and diffs["W1"] < 1e-4 and diffs["b1"] < 1e-4
    if not ok:
        print("gradient check FAILED: differences above 1e-6 (W2, b2) or 1e-4 (W1, b1)", file=sys.stderr)
    return 0 if ok else 1


def cmd_info(args) -> int:
    pybp = _activate_backend(args.backend)
    for k, v in pybp.backend_info().items():
        print(f"{k:>16}: {v}")
    return 0


def cmd_bench(argv) -> int:
    from . import benchmark
    return benchmark.main(argv)


def cmd_plot_optimizers(args) -> int:
    from .plot import plot_optimizer_paths
    plot_optimizer_paths(args.out)
    base, ext = os.path.splitext(args.out)
    seed = base + "_sgd_vs_adagrad" + (ext or ".png")
    plot_optimizer_paths(seed, start=(8.0, 1.0), settings={"SGD (lr 0.9)": ("sgd", 0.9),
                                                           "AdaGrad (lr 1.0)": ("adagrad", 1.0)})
    print(f"wrote {args.out} and {seed}")
    return 0


def build_parser():
    ap = argparse.ArgumentParser(prog="pybp", description="Backpropagation from scratch, with compiled kernels.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train on MNIST (defaults: the book's ch. 5 run)")
    tr.add_argument("--net", choices=["two-layer", "multi-layer", *_cli_conv.NETS], default="two-layer")
    tr.add_argument("--hidden", type=int, nargs="+", default=[50], help="hidden layer size(s) (default 50)")
    tr.add_argument("--activation", choices=["relu", "sigmoid"], default="relu", help="multi-layer only")
    tr.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum", "nesterov", "adagrad", "rmsprop",
                                                           "adam"])
    tr.add_argument("--lr", type=float, default=0.1)
    tr.add_argument("--iters", type=int, default=10000, help="training steps (default 10000)")
    tr.add_argument("--epochs", type=float, default=None, help="train for this many epochs instead of --iters")
    tr.add_argument("--batch", type=int, default=100)
    tr.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    tr.add_argument("--backend", choices=["cpp", "numba", "numpy"], default=None)
    tr.add_argument("--threads", type=int, default=None, help="kernel threads (default: pybp's default)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--limit", type=int, default=None, help="use only the first N training images (quick runs)")
    tr.add_argument("--eval-samples", type=int, default=None, help="images evaluated per epoch (default: all)")
    tr.add_argument("--plot", default=None, metavar="OUT.png", help="write loss/accuracy curves")
    tr.add_argument("--save", default=None, metavar="WEIGHTS.npz", help="write the trained weights")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.add_argument("--quiet", action="store_true", help="only the final line")
    tr.set_defaults(func=cmd_train)
    gc = sub.add_parser("gradcheck", help="backprop vs numerical gradient on MNIST rows (book ch. 5)")
    gc.add_argument("--rows", type=int, default=3)
    gc.add_argument("--seed", type=int, default=0)
    gc.add_argument("--backend", choices=["cpp", "numba", "numpy"], default=None)
    gc.set_defaults(func=cmd_gradcheck)
    info = sub.add_parser("info", help="backend, ISA path, threads, versions")
    info.add_argument("--backend", choices=["cpp", "numba", "numpy"], default=None)
    info.set_defaults(func=cmd_info)
    sub.add_parser("bench", help="quick kernel benchmark (pybp bench --help for options)", add_help=False)
    po = sub.add_parser("plot-optimizers", help="optimizer paths on x^2/20 + y^2 (book ch. 6) as PNG")
    po.add_argument("out", nargs="?", default="optimizers.png")
    po.set_defaults(func=cmd_plot_optimizers)
    _cli_conv.add_subcommands(sub)
    return ap


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        return cmd_bench(argv[1:])
    args = _cli_conv.book_defaults(build_parser().parse_args(argv), argv)
    try:
        return args.func(args)
    except ImportError as e:  # e.g. an explicit --backend that cannot load, or matplotlib missing for --plot
        print(f"pybp: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
