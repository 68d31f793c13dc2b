"""ReLU and sigmoid forward/backward: book-style NumPy, best NumPy, pybp numba and cpp, per call through Python.

    python bench/bench_elementwise.py [--quick] [--threads 1 2]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_bench  # noqa: E402
from book_numpy import relu_forward as book_relu  # noqa: E402

from pybp import _backend  # noqa: E402


def best_relu(x, out, mask):
    np.less_equal(x, 0, out=mask)
    np.maximum(x, 0, out=out)
    return out, mask


def cases(quick):
    rng = np.random.default_rng(0)
    shapes = [(100, 50), (1000, 1000)] if not quick else [(100, 50)]
    for dt in ("float32", "float64"):
        for shape in shapes:
            x = rng.standard_normal(shape).astype(dt)
            dout = rng.standard_normal(shape).astype(dt)
            out, mask = np.empty_like(x), np.empty(shape, bool)
            y = 1 / (1 + np.exp(-x))
            txt = "x".join(map(str, shape))

            def check(fns, x=x):
                want, wmask = book_relu(x)
                for k, fn in fns.items():
                    got = fn()
                    np.testing.assert_array_equal(got[0], want, err_msg=k)
                    np.testing.assert_array_equal(got[1], wmask, err_msg=k)
            fns = {"book numpy": lambda x=x: book_relu(x), "numpy best": lambda x=x, o=out, m=mask: best_relu(x, o, m)}
            for b in kernel_bench.backends():
                fns[b] = lambda mod=_backend._load(b), x=x: mod.relu_forward(x)
            yield "relu forward", txt, dt, x.nbytes * 2 + x.size, fns, check

            m = x <= 0
            fns = {"book numpy": lambda d=dout, m=m: (lambda dd: (dd.__setitem__(m, 0), dd)[1])(d.copy()),
                   "numpy best": lambda d=dout, m=m, o=out: np.multiply(d, ~m, out=o)}
            for b in kernel_bench.backends():
                fns[b] = lambda mod=_backend._load(b), d=dout, m=m: mod.relu_backward(d, m)
            yield "relu backward", txt, dt, x.nbytes * 2 + x.size, fns, None

            fns = {"book numpy": lambda x=x: 1 / (1 + np.exp(-x)),
                   "numpy best": lambda x=x, o=out: np.reciprocal(np.add(np.exp(np.negative(x, out=o), out=o), 1, out=o), out=o)}
            for b in kernel_bench.backends():
                fns[b] = lambda mod=_backend._load(b), x=x: mod.sigmoid_forward(x)

            def check_sig(fns, x=x):
                want = 1 / (1 + np.exp(-x.astype(np.float64)))
                for k, fn in fns.items():
                    np.testing.assert_allclose(fn(), want, rtol=1e-6 if x.dtype == np.float32 else 1e-14, err_msg=k)
            yield "sigmoid forward", txt, dt, x.nbytes * 2, fns, check_sig

            fns = {"book numpy": lambda d=dout, y=y: d * (1.0 - y) * y,
                   "numpy best": lambda d=dout, y=y, o=out: np.multiply(np.multiply(d, np.subtract(1.0, y, out=o), out=o), y, out=o)}
            for b in kernel_bench.backends():
                fns[b] = lambda mod=_backend._load(b), d=dout, y=y: mod.sigmoid_backward(d, y)
            yield "sigmoid backward", txt, dt, x.nbytes * 3, fns, None


if __name__ == "__main__":
    sys.exit(kernel_bench.run("elementwise", "Elementwise kernels: ReLU and sigmoid", cases))
