"""Interleaved A/B of the convolution weight gradient per layer shape: two builds of pybp._core side by side.

    python bench/ab_dw.py <tree A> <tree B> [--rounds 15] [--dtype float32] [--layers conv2 conv5] [--isa avx2]

Every round times each layer on A, B, A (median of a few calls); reported: each build's best time and % of the
one-core peak (bench_conv's figures: 273 GF/s f32, 137 f64), and the median and 10th-90th percentile spread of
B / mean(A around it).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from ab_timing import _load  # noqa: E402
from bench_conv import CONVS  # noqa: E402

PEAK = {"float32": 273.1, "float64": 136.9}


def _time(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--layers", nargs="*", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--isa", default=None, help="an ISA path for both builds (generic, avx2, avx512)")
    args = ap.parse_args()
    A, B = _load(args.a, "a"), _load(args.b, "b")
    for m in (A, B):
        m.set_num_threads(args.threads)
        if args.isa:
            m.set_isa(args.isa)
    rng = np.random.default_rng(0)
    for name, (xs, ws, pad) in CONVS.items():
        if args.layers and not any(s in name for s in args.layers):
            continue
        x = rng.random(xs).astype(args.dtype)
        oh, ow = xs[2] + 2 * pad - ws[2] + 1, xs[3] + 2 * pad - ws[3] + 1
        dout = rng.standard_normal((xs[0], ws[0], oh, ow)).astype(args.dtype)
        flop = 2.0 * xs[0] * ws[0] * oh * ow * ws[1] * ws[2] * ws[3]
        fa = lambda: A.conv_backward_weights(dout, x, ws[2], ws[3], 1, pad)  # noqa: E731
        fb = lambda: B.conv_backward_weights(dout, x, ws[2], ws[3], 1, pad)  # noqa: E731
        for f in (fa, fb):
            f()
        ratios, tbs, tas = [], [], []
        for _ in range(args.rounds):
            a1 = _time(fa, args.reps)
            tb = _time(fb, args.reps)
            a2 = _time(fa, args.reps)
            ratios.append(tb / ((a1 + a2) / 2))
            tbs.append(tb)
            tas += [a1, a2]
        r = np.percentile(ratios, [10, 50, 90])
        pa, pb = (100 * flop / min(t) / 1e9 / PEAK[args.dtype] for t in (tas, tbs))
        print(f"{name:38s} A {min(tas) * 1e3:7.3f} ms {pa:5.1f}% peak  B {min(tbs) * 1e3:7.3f} ms {pb:5.1f}% peak  "
              f"B/A {r[1]:.3f} [{r[0]:.3f}-{r[2]:.3f}]", flush=True)


if __name__ == "__main__":
    main()
