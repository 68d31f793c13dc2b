"""A/B timing of the max-pooling kernels: two builds of pybp._core side by side in one process, calls interleaved.

    python bench/ab_pool.py <tree A> <tree B> [--rounds 15] [--dtype float32] [--threads 1] [--isa avx2]

For each pool shape of bench_conv.POOLS (2x2, stride 2) and kernel: per round, A then B then A (mean of a ~3 ms
batch). Reported: each build's best time in microseconds and the median B / mean(A before, A after) ratio with
its 10th-90th percentile spread (< 1: B faster).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab_timing import _load, interleaved, options  # noqa: E402
from bench_conv import POOLS  # noqa: E402


def main():
    opts, args = options({"--rounds": "15", "--dtype": "float32", "--isa": "", "--threads": "1"}, __doc__)
    cores = [_load(t, tag) for t, tag in zip(args, "ab")]
    for core in cores:
        core.set_num_threads(int(opts["--threads"]))
        if opts["--isa"]:
            core.set_isa(opts["--isa"])
    rng = np.random.default_rng(0)
    print(f"isa {cores[1].active_isa()}; {opts['--threads']} threads; {os.getloadavg()[0]:.2f} load")
    print(f"{'pool':24s} {'kernel':6s} {'A us':>8s} {'B us':>8s} {'B/A med':>8s} {'p10-p90':>12s}")
    for name, xs in POOLS.items():
        x = rng.standard_normal(xs).astype(opts["--dtype"])  # shared by both builds (same alignment)
        d = rng.standard_normal((xs[0], xs[1], xs[2] // 2, xs[3] // 2)).astype(opts["--dtype"])
        o, arg = cores[0].maxpool_forward(x, 2, 2, 2, 0)
        dx = np.empty_like(x)  # outputs reused, as the nets do (no page faults in the timing)
        for kernel in ("fwd", "bwd"):
            if kernel == "fwd":
                fa, fb = (lambda c=c: c.maxpool_forward(x, 2, 2, 2, 0, out=o) for c in cores)
            else:
                fa, fb = (lambda c=c: c.maxpool_backward(d, arg, xs[2], xs[3], out=dx) for c in cores)
            ta, tb, ratios = interleaved(fa, fb, int(opts["--rounds"]), 0.003)
            lo, med, hi = np.percentile(ratios, [10, 50, 90])
            print(f"{name:24s} {kernel:6s} {min(ta) * 1e6:8.0f} {min(tb) * 1e6:8.0f} {med:8.3f} {lo:5.3f}-{hi:.3f}")


if __name__ == "__main__":
    main()
