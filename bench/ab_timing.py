"""A/B timing for refactors: two builds of pybp._core loaded side by side in one process, calls interleaved.

    python bench/ab_timing.py <tree A> <tree B> [--rounds 60]

Each tree's pybp/_core*.so is loaded under its own module name; every round times each case on A, then on B,
then on A again (mean of a batch of calls, one thread), so both builds see the same machine state within
milliseconds. Reported per case: the minimum over rounds for each build, B/A of the minima, and the median and
spread (10th-90th percentile) of the per-round ratios B / mean(A before, A after). Covers the binding overhead of
small calls (book-sized shapes), the GEMM shapes of TwoLayerNet and a large one, softmax-CE and an update.
"""
from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import os
import sys
import time

import numpy as np


def _load(tree, tag):
    path = glob.glob(os.path.join(tree, "pybp", "_core*.so"))[0]
    name = f"ab_{tag}._core"  # the init function is PyInit__core: only the last component must be _core
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    mod.set_num_threads(1)
    return mod


def _cases(core):
    rng = np.random.default_rng(0)

    def arr(*s):
        return rng.standard_normal(s).astype(np.float32)

    x, w1, w2, b50 = arr(100, 784), arr(784, 50), arr(50, 10), arr(50)
    h, d = arr(100, 50), arr(100, 50)
    lg, t = arr(100, 10), rng.integers(0, 10, 100)
    big_a, big_b = arr(256, 1024), arr(1024, 1024)
    p, g, v = arr(784 * 50), arr(784 * 50), arr(784 * 50)
    return {
        "relu_forward 100x50": lambda: core.relu_forward(h),
        "sigmoid_forward 100x50": lambda: core.sigmoid_forward(h),
        "affine_forward 100x784x50": lambda: core.affine_forward(x, w1, b50),
        "gemm x.T@dout 784x50x100": lambda: core.gemm(x, d, trans_a=True),
        "gemm 100x10x50": lambda: core.gemm(h, w2),
        "bias_grad 100x50": lambda: core.bias_grad(d),
        "softmax_xent 100x10": lambda: core.softmax_cross_entropy(lg, t),
        "softmax 100x10": lambda: core.softmax(lg),
        "momentum 39200": lambda: core.momentum_update(p, g, v, 0.01, 0.9),
        "gemm 256x1024x1024": lambda: core.gemm(big_a, big_b),
    }


def _time(f, n):
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n


def options(defaults, doc):
    """(options, the two trees) from the command line: defaults maps each --option to its default string; exits
    with doc unless exactly two positional arguments remain."""
    args, opts = sys.argv[1:], dict(defaults)
    for k in opts:
        if k in args:
            i = args.index(k)
            opts[k] = args[i + 1]
            del args[i:i + 2]
    if len(args) != 2:
        sys.exit(doc)
    return opts, args


def interleaved(fa, fb, rounds, batch_s):
    """A, B, A per round (each the mean of a batch of about batch_s seconds): (A times, B times, per-round ratios
    B / mean(A before, A after))."""
    fa(), fb()
    n = max(1, int(batch_s / max(_time(fa, 1), 1e-7)))
    ta, tb, ratios = [], [], []
    for _ in range(rounds):
        a1 = _time(fa, n)
        b = _time(fb, n)
        a2 = _time(fa, n)
        ta += [a1, a2]
        tb.append(b)
        ratios.append(b / ((a1 + a2) / 2))
    return ta, tb, ratios


def main():
    opts, args = options({"--rounds": "60"}, __doc__)
    rounds = int(opts["--rounds"])
    cases_a, cases_b = _cases(_load(args[0], "a")), _cases(_load(args[1], "b"))
    print(f"{'case':28s} {'A min us':>10s} {'B min us':>10s} {'B/A min':>8s} {'B/A median':>10s} {'p10-p90':>13s}")
    for name in cases_a:
        # 2 ms batches: many chances to catch a quiet moment
        ta, tb, ratios = interleaved(cases_a[name], cases_b[name], rounds, 0.002)
        lo, med, hi = np.percentile(ratios, [10, 50, 90])
        print(f"{name:28s} {min(ta) * 1e6:10.2f} {min(tb) * 1e6:10.2f} {min(tb) / min(ta):8.3f} {med:10.3f}"
              f" {lo:6.3f}-{hi:.3f}")


if __name__ == "__main__":
    main()
