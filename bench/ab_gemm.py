"""GEMM of another build against this one, in one process, interleaved: a before/after check for changes to the
GEMM or its threading. The other build's _core is loaded from its file under another package name.

    python bench/ab_gemm.py /path/to/other/pybp/_core.cpython-*.so [--threads 1 2]

Prints per shape the medians and other/this (> 1: this build is faster); results must be identical.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pybp import _core as this  # noqa: E402
from pybp._timing import interleaved  # noqa: E402

# (m, k, n, trans_a): TwoLayerNet's x @ W1 and x.T @ dout, the MLP's products, a large square
SHAPES = [(100, 784, 50, False), (784, 100, 50, True), (256, 784, 1000, False), (256, 1000, 1000, False),
          (1000, 256, 1000, True), (1024, 1024, 1024, False)]


def load_other(path):
    spec = importlib.util.spec_from_file_location("pybp_other._core", path)  # PyInit__core: last name part
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", help="path of the other build's _core extension file")
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    other = load_other(args.other)
    rng = np.random.default_rng(0)
    for threads in args.threads:
        this.set_num_threads(threads)
        other.set_num_threads(threads)
        for dt in (np.float32, np.float64):
            for m, k, n, ta in SHAPES:
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
                b = rng.standard_normal((k, n)).astype(dt)
                c1, c2 = np.empty((m, n), dt), np.empty((m, n), dt)
                np.testing.assert_array_equal(this.gemm(a, b, c1, trans_a=ta), other.gemm(a, b, c2, trans_a=ta))
                st = interleaved({"other": lambda: other.gemm(a, b, c2, trans_a=ta),
                                  "this": lambda: this.gemm(a, b, c1, trans_a=ta)},
                                 repeats=args.repeats, sample_s=0.05, pause_s=0.2 if threads > 1 else 0.0)
                o, t = st["other"], st["this"]
                print(f"{np.dtype(dt).name} {m}x{k}x{n}{' trans_a' if ta else ''}, {threads} thread(s): "
                      f"other {o['median'] * 1e6:.0f} us, this {t['median'] * 1e6:.0f} us, other/this "
                      f"{o['median'] / t['median']:.3f} (p10-p90 of this {t['p10'] * 1e6:.0f}-{t['p90'] * 1e6:.0f})",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
