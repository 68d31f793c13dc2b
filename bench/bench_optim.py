"""Optimizer updates on TwoLayerNet's 39,760 parameters (one call per array, as the optimizers do): the book's
update loop, best NumPy (in-place ufuncs), pybp numba and cpp.

    python bench/bench_optim.py [--quick] [--threads 1 2]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_bench  # noqa: E402

from pybp import _backend  # noqa: E402

SHAPES = {"W1": (784, 50), "b1": (50,), "W2": (50, 10), "b2": (10,)}
NPARAMS = sum(int(np.prod(s)) for s in SHAPES.values())


def _arrays(rng, dt):
    p = {k: rng.standard_normal(s).astype(dt) for k, s in SHAPES.items()}
    g = {k: (rng.standard_normal(s) * 0.01).astype(dt) for k, s in SHAPES.items()}
    z = lambda: {k: np.zeros(s, dt) for k, s in SHAPES.items()}  # noqa: E731
    return p, g, z(), z()


def book_adam(p, g, m, v, lr_t, b1=0.9, b2=0.999):
    for k in p:
        m[k] += (1 - b1) * (g[k] - m[k])
        v[k] += (1 - b2) * (g[k] ** 2 - v[k])
        p[k] -= lr_t * m[k] / (np.sqrt(v[k]) + 1e-7)


def best_adam(p, g, m, v, lr_t, tmp, b1=0.9, b2=0.999):
    for k in p:
        t = tmp[k]
        np.subtract(g[k], m[k], out=t)
        t *= 1 - b1
        m[k] += t
        np.multiply(g[k], g[k], out=t)
        t -= v[k]
        t *= 1 - b2
        v[k] += t
        np.sqrt(v[k], out=t)
        t += 1e-7
        np.divide(m[k], t, out=t)
        t *= lr_t
        p[k] -= t


def cases(quick):
    rng = np.random.default_rng(0)
    lr_t = float(0.001 * np.sqrt(1 - 0.999) / (1 - 0.9))  # a Python float, as pybp.Adam passes it
    for dt in ("float32", "float64"):
        item = np.dtype(dt).itemsize
        sets = {name: _arrays(rng, dt) for name in ("book numpy", "numpy best", "numba", "cpp")}
        tmp = {k: np.empty(s, dt) for k, s in SHAPES.items()}
        fns = {"book numpy": lambda s=sets["book numpy"]: book_adam(*s, lr_t),
               "numpy best": lambda s=sets["numpy best"]: best_adam(*s, lr_t, tmp)}
        for b in kernel_bench.backends():
            mod = _backend._load(b)
            fns[b] = lambda mod=mod, s=sets[b]: [mod.adam_update(s[0][k], s[1][k], s[2][k], s[3][k], lr_t, 0.9, 0.999,
                                                                 1e-7) for k in SHAPES]

        def check(fns, dt=dt):
            ref = _arrays(np.random.default_rng(1), dt)
            book_adam(*ref, lr_t)
            for b in kernel_bench.backends():
                mod = _backend._load(b)
                s = _arrays(np.random.default_rng(1), dt)
                for k in SHAPES:
                    mod.adam_update(s[0][k], s[1][k], s[2][k], s[3][k], lr_t, 0.9, 0.999, 1e-7)
                for k in SHAPES:
                    np.testing.assert_array_equal(s[0][k], ref[0][k], err_msg=f"{b} adam bit-exact {k}")
        yield "Adam update", f"{NPARAMS} params, 4 arrays", dt, NPARAMS * item * 7, fns, check

        sets = {name: _arrays(rng, dt) for name in ("book numpy", "numpy best", "numba", "cpp")}
        fns = {"book numpy": lambda s=sets["book numpy"]: [s[0][k].__isub__(0.01 * s[1][k]) for k in SHAPES],
               "numpy best": lambda s=sets["numpy best"]: [s[0][k].__isub__(np.multiply(s[1][k], 0.01, out=tmp[k]))
                                                           for k in SHAPES]}
        for b in kernel_bench.backends():
            mod = _backend._load(b)
            fns[b] = lambda mod=mod, s=sets[b]: [mod.sgd_update(s[0][k], s[1][k], 0.01) for k in SHAPES]
        yield "SGD update", f"{NPARAMS} params, 4 arrays", dt, NPARAMS * item * 3, fns, None


if __name__ == "__main__":
    sys.exit(kernel_bench.run("optim", "Optimizer updates (TwoLayerNet parameters)", cases))
