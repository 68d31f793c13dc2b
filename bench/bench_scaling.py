"""How cost grows with size: GEMM from 64^3 to 2048^3 and ReLU forward from 1e3 to 1e8 elements.

Per size, NumPy and every available compiled backend run interleaved (pybp._timing.interleaved) after a result
check against NumPy. Writes bench/results/scaling.{md,json} and scaling.png (GFLOP/s for GEMM, GB/s for ReLU).

    python bench/bench_scaling.py [--threads 1] [--dtype float32] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from book_numpy import relu_forward as _book_relu  # noqa: E402

from pybp import _backend  # noqa: E402


def gemm_rows(dtype, threads, sizes, backends, rng):
    rows = []
    tol = 2e-3 if dtype == np.float32 else 1e-9
    for n in sizes:
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        want = a @ b
        fns = {"numpy": lambda a=a, b=b: a @ b}
        for name in backends:
            mod = _backend._load(name)
            c = np.empty_like(want)
            common.check_close(mod.gemm(a, b, c), want, tol, tol * np.sqrt(n), f"{name} gemm {n}^3")
            fns[name] = lambda mod=mod, a=a, b=b, c=c: mod.gemm(a, b, c)
        # keep each size to about a second in total
        repeats = 9 if n <= 512 else 5
        stats = common.interleaved(fns, repeats=repeats, sample_s=0.02 if n <= 1024 else 0.0)
        row = {"family": "gemm", "size": n, "dtype": np.dtype(dtype).name, "threads": threads}
        for k, s in stats.items():
            row[f"{k}_s"] = s["median"]
            row[f"{k}_gflops"] = 2.0 * n ** 3 / s["median"] / 1e9
        rows.append(row)
        print(f"gemm {n}^3 " + " ".join(f"{k} {row[k + '_gflops']:.1f} GF/s" for k in stats), flush=True)
    return rows


def relu_rows(dtype, threads, sizes, backends, rng):
    rows = []
    for n in sizes:
        x = rng.standard_normal(n).astype(dtype)
        want, want_mask = _book_relu(x)
        fns = {"numpy": lambda x=x: _book_relu(x)}
        for name in backends:
            mod = _backend._load(name)
            got, mask = mod.relu_forward(x)
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(mask, want_mask)
            fns[name] = lambda mod=mod, x=x: mod.relu_forward(x)
        repeats = 9 if n <= 10 ** 7 else 3
        stats = common.interleaved(fns, repeats=repeats, sample_s=0.01 if n <= 10 ** 7 else 0.0, warmup=1)
        moved = n * (2 * x.itemsize + 1)  # read x, write out and the 1-byte mask
        row = {"family": "relu_forward", "size": n, "dtype": np.dtype(dtype).name, "threads": threads}
        for k, s in stats.items():
            row[f"{k}_s"] = s["median"]
            row[f"{k}_gbs"] = moved / s["median"] / 1e9
        rows.append(row)
        print(f"relu {n:.0e} " + " ".join(f"{k} {row[k + '_gbs']:.1f} GB/s" for k in stats), flush=True)
    return rows


def plot(rows, backends, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib not installed: no scaling.png ({_backend.install_hint('matplotlib', 'plot')})")
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, fam, unit, xlabel in ((axes[0], "gemm", "gflops", "n (n x n x n GEMM)"),
                                  (axes[1], "relu_forward", "gbs", "elements")):
        sel = [r for r in rows if r["family"] == fam]
        for dt in sorted({r["dtype"] for r in sel}):
            for k, style in zip(["numpy"] + backends, ["-o", "-s", "-^", "-d"]):
                pts = [(r["size"], r[f"{k}_{unit}"]) for r in sel if r["dtype"] == dt and f"{k}_{unit}" in r]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, style, label=f"{k} {dt}", ms=4)
        ax.set_xscale("log", base=2 if fam == "gemm" else 10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("GFLOP/s" if unit == "gflops" else "GB/s (x + out + mask)")
        ax.set_title("GEMM throughput" if fam == "gemm" else "ReLU forward bandwidth")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    thr = rows[0]["threads"] if rows else 1
    fig.suptitle(f"pybp scaling, {thr} thread(s); numpy = NumPy @ (OpenBLAS) / book-style ReLU")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", choices=["float32", "float64", "both"], default="float32")
    ap.add_argument("--quick", action="store_true", help="fewer, smaller sizes (smoke run)")
    ap.add_argument("--backends", default=None, help="comma list (default: every available compiled backend)")
    args = ap.parse_args(argv)
    backends = args.backends.split(",") if args.backends else \
        [b for b in ("cpp", "numba") if b in _backend.available_backends()]
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    gsizes = [64, 128, 256] if args.quick else [64, 128, 256, 384, 512, 768, 1024, 1536, 2048]
    rsizes = [10 ** 3, 10 ** 5] if args.quick else [10 ** e for e in range(3, 9)]
    rng = np.random.default_rng(0)
    rows = []
    with common.limit_threads(args.threads):
        for dt in dtypes:
            rows += gemm_rows(np.dtype(dt), args.threads, gsizes, backends, rng)
            rows += relu_rows(np.dtype(dt), args.threads, rsizes, backends, rng)
    table = []
    for r in rows:
        unit = "gflops" if r["family"] == "gemm" else "gbs"
        t = {c: r[c] for c in ("family", "size", "dtype", "threads")}
        for k in ["numpy"] + backends:
            t[k] = f"{common.fmt_seconds(r[f'{k}_s'])} ({r[f'{k}_{unit}']:.1f} {'GF/s' if unit == 'gflops' else 'GB/s'})"
        for k in backends:
            t[f"{k}/numpy"] = f"{r['numpy_s'] / r[f'{k}_s']:.2f}x"
        table.append(t)
    cols = ["family", "size", "dtype", "threads"] + ["numpy"] + backends + [f"{k}/numpy" for k in backends]
    name = "scaling_quick" if args.quick else "scaling"
    md = common.write_report(name, "Scaling: GEMM n^3 and ReLU forward over size", cols, table, common.header(),
                             notes="Speedup column = NumPy time / backend time (> 1: pybp faster).", raw=rows)
    plot(rows, backends, os.path.join(common.RESULTS, name + ".png"))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
