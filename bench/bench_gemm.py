"""GEMM: pybp cpp (and numba's fallback) vs NumPy's `@` (OpenBLAS), 1 and 2 threads side by side, with GFLOP/s
and % of this machine's measured peak. Shapes: TwoLayerNet's three (forward, dx, dW), 256x1024x1024, 1024^3.

    python bench/bench_gemm.py [--quick] [--threads 1 2]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from pybp import _backend  # noqa: E402
from pybp.benchmark import peak_gflops  # noqa: E402

# (label, m, n, k, trans_a, trans_b): C (m x n) = op(A) (m x k) @ op(B) (k x n)
SHAPES = [("x@W (fwd)", 100, 50, 784, False, False), ("dout@W.T (dx)", 100, 784, 50, False, True),
          ("x.T@dout (dW)", 784, 50, 100, True, False), ("256x1024x1024", 256, 1024, 1024, False, False),
          ("1024^3", 1024, 1024, 1024, False, False)]


def run(threads_list, dtypes, shapes, repeats):
    rng = np.random.default_rng(0)
    peaks = {dt: peak_gflops(dt) for dt in dtypes}
    rows = []
    for dt in dtypes:
        for label, m, n, k, ta, tb in shapes:
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(dt)
            opa, opb = (a.T if ta else a), (b.T if tb else b)
            want = opa.astype(np.float64) @ opb.astype(np.float64)
            c = np.empty((m, n), dt)
            fns = {"numpy": lambda opa=opa, opb=opb: opa @ opb}
            for name in ("cpp", "numba"):
                mod = _backend._load(name)
                tol = (3e-6 if dt == "float32" else 1e-14) * np.sqrt(k) * 8
                common.check_close(mod.gemm(a, b, c, trans_a=ta, trans_b=tb), want, 0, tol, f"{name} {label}")
                fns[name] = lambda mod=mod, a=a, b=b, c=c, ta=ta, tb=tb: mod.gemm(a, b, c, trans_a=ta, trans_b=tb)
            for th in threads_list:
                with common.limit_threads(th):
                    stats = common.interleaved(fns, repeats=repeats, sample_s=0.03, pause_s=0.2 if th > 1 else 0.0)
                flops = 2.0 * m * n * k
                row = {"shape": f"{label} {m}x{n}x{k}", "dtype": dt, "threads": th}
                for name, s in stats.items():
                    row[f"{name}_gflops"] = flops / s["median"] / 1e9
                row["cpp_vs_numpy"] = stats["numpy"]["median"] / stats["cpp"]["median"]
                rows.append(row)
                print(f"{row['shape']:<32} {dt} {th}t  numpy {row['numpy_gflops']:6.1f}  cpp {row['cpp_gflops']:6.1f}"
                      f"  ratio {row['cpp_vs_numpy']:.2f}", flush=True)
    peaks = {dt: max(peaks[dt], peak_gflops(dt)) for dt in dtypes}  # again at the end: the better of the two
    for row in rows:
        full = peaks[row["dtype"]] * row["threads"]
        row["cpp_pct_peak"] = 100 * row["cpp_gflops"] / full
        row["numpy_pct_peak"] = 100 * row["numpy_gflops"] / full
    return rows, peaks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--quick", action="store_true", help="TwoLayerNet shapes only, fewer repeats")
    args = ap.parse_args(argv)
    shapes = SHAPES[:3] if args.quick else SHAPES
    rows, peaks = run(args.threads, ["float32", "float64"], shapes, 5 if args.quick else 11)
    meta = common.header()
    meta.update({f"peak_1thread_{k}": f"{v:.0f} GFLOP/s" for k, v in peaks.items()})
    table = [{"shape": r["shape"], "dtype": r["dtype"], "threads": r["threads"],
              "numpy GF/s": f"{r['numpy_gflops']:.1f}", "cpp GF/s": f"{r['cpp_gflops']:.1f}",
              "numba GF/s": f"{r['numba_gflops']:.1f}", "cpp / numpy": f"{r['cpp_vs_numpy']:.2f}x",
              "cpp % peak": f"{r['cpp_pct_peak']:.0f}%", "numpy % peak": f"{r['numpy_pct_peak']:.0f}%"}
             for r in rows]
    name = "gemm_quick" if args.quick else "gemm"
    md = common.write_report(name, "GEMM throughput: pybp cpp vs NumPy (OpenBLAS)",
                             list(table[0].keys()), table, meta,
                             notes="cpp / numpy > 1: pybp faster. Peak = measured FMA throughput of one core "
                                   "(best of short bursts at the start and the end of the run; x threads). "
                                   "The numba backend calls NumPy for GEMM.", raw=rows)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
