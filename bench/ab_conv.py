"""A/B timing of the convolution kernels: two builds of pybp._core side by side in one process, calls interleaved.

    python bench/ab_conv.py <tree A> <tree B> [--rounds 15] [--dtype float32]
        [--kernels fwd,bwd_data,bwd_weights] [--layers conv2,conv5] [--isa avx2] [--threads 2]

For each layer of bench_conv.CONVS (or those whose name contains one of --layers) and kernel: per round, A then B
then A (mean of a ~5 ms batch, one thread unless --threads). Reported: each build's best time as GF/s and % of one
core's peak (pybp.benchmark.peak_gflops; not scaled by the threads), and the median
B / mean(A before, A after) ratio with its 10th-90th percentile spread (< 1: B faster).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab_timing import _load, interleaved, options  # noqa: E402
from bench_conv import CONVS  # noqa: E402


def _inputs(dtype):
    """(x, w, b, dout) per layer, shared by both builds: separate arrays could differ in alignment, which moved
    the ratios by up to 8% (masked and unaligned stores)."""
    rng = np.random.default_rng(0)
    out = {}
    for name, (xs, ws, pad) in CONVS.items():
        oh, ow = xs[2] + 2 * pad - ws[2] + 1, xs[3] + 2 * pad - ws[3] + 1
        out[name] = (rng.standard_normal(xs).astype(dtype), (rng.standard_normal(ws) * 0.1).astype(dtype),
                     rng.standard_normal(ws[0]).astype(dtype),
                     rng.standard_normal((xs[0], ws[0], oh, ow)).astype(dtype))
    return out


def _calls(core, inputs, kernels, layers):
    out = {}
    for name, (xs, ws, pad) in CONVS.items():
        if layers and not any(s in name for s in layers):
            continue
        x, w, b, d = inputs[name]
        oh, ow = xs[2] + 2 * pad - ws[2] + 1, xs[3] + 2 * pad - ws[3] + 1
        flops = 2.0 * xs[0] * ws[0] * oh * ow * np.prod(ws[1:])
        fns = {"fwd": lambda x=x, w=w, b=b, p=pad: core.conv_forward(x, w, b, 1, p),
               "bwd_data": lambda d=d, w=w, h=xs[2], wd=xs[3], p=pad: core.conv_backward_data(d, w, h, wd, 1, p),
               "bwd_weights": lambda d=d, x=x, fh=ws[2], fw=ws[3], p=pad: core.conv_backward_weights(d, x, fh, fw, 1,
                                                                                                       p)}
        for k in kernels:
            out[(name.split(" ->")[0], k)] = (fns[k], flops)
    return out


def main():
    opts, args = options({"--rounds": "15", "--dtype": "float32", "--kernels": "fwd,bwd_data", "--layers": "",
                          "--isa": "", "--threads": "1"}, __doc__)
    from pybp.benchmark import peak_gflops
    peak = peak_gflops(opts["--dtype"])
    kernels = opts["--kernels"].split(",")
    cores = [_load(t, tag) for t, tag in zip(args, "ab")]
    for core in cores:
        core.set_num_threads(int(opts["--threads"]))
        if opts["--isa"]:
            core.set_isa(opts["--isa"])
    inputs = _inputs(np.dtype(opts["--dtype"]))
    layers = [s for s in opts["--layers"].split(",") if s]
    a, b = (_calls(core, inputs, kernels, layers) for core in cores)
    print(f"peak {peak:.1f} GF/s ({opts['--dtype']}, best ISA); isa {cores[1].active_isa()};"
          f" {os.getloadavg()[0]:.2f} load")
    print(f"{'layer':24s} {'kernel':12s} {'A GF/s':>7s} {'A %':>4s} {'B GF/s':>7s} {'B %':>4s} {'B/A med':>8s}"
          f" {'p10-p90':>12s}")
    for key in a:
        (fa, flops), (fb, _) = a[key], b[key]
        ta, tb, ratios = interleaved(fa, fb, int(opts["--rounds"]), 0.005)
        lo, med, hi = np.percentile(ratios, [10, 50, 90])
        ga, gb = flops / min(ta) / 1e9, flops / min(tb) / 1e9
        print(f"{key[0]:24s} {key[1]:12s} {ga:7.0f} {100 * ga / peak:3.0f}% {gb:7.0f} {100 * gb / peak:3.0f}%"
              f" {med:8.3f} {lo:5.3f}-{hi:.3f}")


if __name__ == "__main__":
    main()
