"""A/B timing for refactors: two builds of pybp._core, timed in alternating processes, ratios of the minima.

    python bench/ab_timing.py <tree A> <tree B> [--rounds 5]

Each round runs one process per tree (A, B, A, B, ...: both see the same machine state); each process times
every case below (min over repeats of the mean of a batch of calls) on one thread. The report is, per case, the
minimum over rounds for each tree and B/A. Covers the binding overhead of small calls (book-sized shapes), the
GEMM shapes of TwoLayerNet and a large one, softmax-CE and an optimizer update.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
from pybp import _core
_core.set_num_threads(1)
rng = np.random.default_rng(0)
def arr(*s, dt=np.float32):
    return rng.standard_normal(s).astype(dt)
x, w1, w2 = arr(100, 784), arr(784, 50), arr(50, 10)
h, d = arr(100, 50), arr(100, 50)
lg, t = arr(100, 10), rng.integers(0, 10, 100)
big_a, big_b = arr(256, 1024), arr(1024, 1024)
p, g, v = arr(784 * 50), arr(784 * 50), arr(784 * 50)
b50 = arr(50)
cases = {
    "relu_forward 100x50": lambda: _core.relu_forward(h),
    "sigmoid_forward 100x50": lambda: _core.sigmoid_forward(h),
    "affine_forward 100x784x50": lambda: _core.affine_forward(x, w1, b50),
    "gemm x.T@dout 784x50x100": lambda: _core.gemm(x, d, trans_a=True),
    "gemm 100x10x50": lambda: _core.gemm(h, w2),
    "bias_grad 100x50": lambda: _core.bias_grad(d),
    "softmax_xent 100x10": lambda: _core.softmax_cross_entropy(lg, t),
    "softmax 100x10": lambda: _core.softmax(lg),
    "momentum 39200": lambda: _core.momentum_update(p, g, v, 0.01, 0.9),
    "gemm 256x1024x1024": lambda: _core.gemm(big_a, big_b),
}
out = {}
for name, f in cases.items():
    f()
    t0 = time.perf_counter(); f(); one = time.perf_counter() - t0
    n = max(1, int(0.02 / max(one, 1e-7)))
    best = float("inf")
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        best = min(best, (time.perf_counter() - t0) / n)
    out[name] = best
print(json.dumps(out))
"""


def main():
    args = sys.argv[1:]
    rounds = 5
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    trees = args
    best = [{}, {}]
    for _ in range(rounds):
        for side, tree in enumerate(trees):
            env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS="1")
            res = json.loads(subprocess.check_output([sys.executable, "-c", CHILD], env=env))
            for k, v in res.items():
                best[side][k] = min(best[side].get(k, float("inf")), v)
    print(f"{'case':30s} {'A us':>10s} {'B us':>10s} {'B/A':>6s}")
    for k in best[0]:
        a, b = best[0][k] * 1e6, best[1][k] * 1e6
        print(f"{k:30s} {a:10.2f} {b:10.2f} {b / a:6.3f}")


if __name__ == "__main__":
    main()
