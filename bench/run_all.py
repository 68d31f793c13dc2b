"""Run the whole benchmark suite, one script after the other, and collect bench/results/REPORT.md.

Each script runs in its own process (PyTorch especially: two thread pools on 2 cores distort each other), checks
its results against pybp._ref before timing and writes bench/results/<name>.{md,json}. REPORT.md is the machine
header followed by every script's table in a fixed order.

    python bench/run_all.py            # full suite (~10-15 minutes on 2 cores)
    python bench/run_all.py --quick    # smoke run of every script (~2 minutes)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# (script, result name written by it, extra args for --quick)
SUITE = [
    ("bench_gemm.py", "gemm", ["--quick"]),
    ("bench_elementwise.py", "elementwise", ["--quick"]),
    ("bench_softmax_xent.py", "softmax_xent", ["--quick"]),
    ("bench_optim.py", "optim", ["--quick"]),
    ("bench_step.py", "step", ["--quick"]),
    ("bench_scaling.py", "scaling", ["--quick"]),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None, help="comma list of result names to run (default: all)")
    args = ap.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    import common  # after sys.path tweak; imports pybp

    failed, done = [], []
    t_all = time.perf_counter()
    for script, name, quick_args in SUITE:
        if only and name not in only:
            continue
        path = os.path.join(HERE, script)
        if not os.path.exists(path):
            print(f"== {script}: missing", flush=True)
            failed.append(script)
            continue
        cmd = [sys.executable, path] + (quick_args if args.quick else [])
        print(f"== {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"== {script}: exit {rc} in {time.perf_counter() - t0:.0f} s", flush=True)
        (failed if rc else done).append(name + ("_quick" if args.quick and name == "scaling" else ""))
    meta = common.header()
    parts = ["# pybp benchmark report", "",
             "Produced by `python bench/run_all.py" + (" --quick" if args.quick else "") + "`.", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in meta.items()), ""]
    for name in done:
        md = os.path.join(common.RESULTS, name + ".md")
        if os.path.exists(md):
            with open(md) as fh:
                body = fh.read().split("\n", 1)[1]  # drop the per-file title line; keep its own header
            parts += [f"## {name}", body]
    if os.path.exists(os.path.join(common.RESULTS, "scaling.png")):
        parts += ["![scaling](scaling.png)", ""]
    out = os.path.join(common.RESULTS, "REPORT.md" if not args.quick else "REPORT_quick.md")
    with open(out, "w") as fh:
        fh.write("\n".join(parts) + "\n")
    print(f"wrote {out} ({time.perf_counter() - t_all:.0f} s); failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
