"""Softmax-with-loss forward + backward (index labels): the book's code, best NumPy, pybp numba and cpp.

    python bench/bench_softmax_xent.py [--quick] [--threads 1 2]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import book_numpy  # noqa: E402
import kernel_bench  # noqa: E402

from pybp import _backend  # noqa: E402


def book(x, t):
    layer = book_numpy.SoftmaxWithLoss()
    loss = layer.forward(x, t)
    return loss, layer.y, layer.backward()


def best(x, t):
    n = x.shape[0]
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    y = e / s
    loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), t]))
    dx = y / n
    dx[np.arange(n), t] -= 1.0 / n
    return loss, y, dx


def cases(quick):
    rng = np.random.default_rng(0)
    shapes = [(100, 10), (256, 10), (1000, 1000)] if not quick else [(100, 10)]
    for dt in ("float32", "float64"):
        for n, c in shapes:
            x = rng.standard_normal((n, c)).astype(dt)
            t = rng.integers(0, c, n)

            def check(fns, x=x, t=t):
                want = best(x.astype(np.float64), t)
                for k, fn in fns.items():
                    loss, y, dx = fn()
                    tol = 1e-5 if x.dtype == np.float32 else 1e-12
                    assert abs(loss - want[0]) < 1e-6 * 10 + tol * abs(want[0]) or k == "book numpy", k  # book: +1e-7
                    np.testing.assert_allclose(y, want[1], rtol=tol, atol=1e-12, err_msg=k)
                    np.testing.assert_allclose(dx, want[2], rtol=tol, atol=1e-10, err_msg=k)
            fns = {"book numpy": lambda x=x, t=t: book(x, t), "numpy best": lambda x=x, t=t: best(x, t)}
            for b in kernel_bench.backends():
                fns[b] = lambda mod=_backend._load(b), x=x, t=t: mod.softmax_cross_entropy(x, t)
            yield "softmax-CE fwd+bwd", f"{n}x{c}", dt, x.nbytes * 3, fns, check


if __name__ == "__main__":
    sys.exit(kernel_bench.run("softmax_xent", "Fused softmax-cross-entropy (forward + backward)", cases))
