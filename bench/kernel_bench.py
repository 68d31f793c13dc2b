"""Shared runner for the small-kernel benchmarks (bench_elementwise.py, bench_softmax_xent.py, bench_optim.py).

A case is (kernel, shape text, bytes moved, {contender: setup() -> callable}, check(contender_fn) or None).
Contenders: "book numpy" (the book's expression), "numpy best" (the fastest NumPy we could write), and pybp's
numba and cpp backends. Results are checked before timing; times are medians of interleaved samples.
"""
from __future__ import annotations

import argparse

import common

from pybp import _backend


def backends():
    return [b for b in ("numba", "cpp") if b in _backend.available_backends()]


def run(name, title, make_cases, argv=None, notes=""):
    ap = argparse.ArgumentParser(description=title)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    rows, raw = [], []
    for th in args.threads:
        with common.limit_threads(th):
            for kernel, shape, dtype, nbytes, fns, check in make_cases(args.quick):
                if check is not None:
                    check(fns)
                stats = common.interleaved(fns, repeats=5 if args.quick else 11, sample_s=0.01,
                                           pause_s=0.05 if th > 1 else 0.0)
                med = {k: v["median"] for k, v in stats.items()}
                raw.append({"kernel": kernel, "shape": shape, "dtype": dtype, "threads": th, "seconds": med})
                row = {"kernel": kernel, "shape": shape, "dtype": dtype, "threads": th}
                row.update({k: common.fmt_seconds(v) for k, v in med.items()})
                if "cpp" in med:
                    row["cpp vs book"] = f"{med['book numpy'] / med['cpp']:.1f}x"
                    row["cpp vs numpy best"] = f"{med['numpy best'] / med['cpp']:.1f}x"
                    row["cpp GB/s"] = f"{nbytes / med['cpp'] / 1e9:.1f}"
                if "numba" in med:
                    row["numba vs book"] = f"{med['book numpy'] / med['numba']:.1f}x"
                rows.append(row)
                print(row, flush=True)
    cols = ["kernel", "shape", "dtype", "threads", "book numpy", "numpy best"] + backends() + \
        ["cpp vs book", "cpp vs numpy best", "numba vs book", "cpp GB/s"]
    out = name + ("_quick" if args.quick else "")
    meta = common.header()
    md = common.write_report(out, title, cols, rows, meta,
                             notes=notes or "Times are per call through Python (median). Ratios > 1: pybp faster.",
                             raw=raw)
    print(md)
    return 0
