"""`pybp bench`: a quick (< 1 minute) side-by-side benchmark of pybp's kernels against NumPy.

Every row times the book-style NumPy expression and pybp's kernel under each available compiled backend,
interleaved in one loop (pybp._timing.interleaved) so ratios survive a noisy machine, after checking that the
results agree. Peak FLOP/s is measured at start with a vector-FMA probe (peak_gflops below) and memory
bandwidth with a large NumPy copy, so "% of peak" refers to this machine as it runs now.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from . import _backend
from ._cli_args import Parser, int_in, write_output
from ._files import check_output_path
from ._timing import fmt_seconds, interleaved, limit_threads


def _book_softmax_xent(x, t):
    """The book's SoftmaxWithLoss forward + backward, index labels (ch. 5)."""
    c = np.max(x, axis=1, keepdims=True)
    e = np.exp(x - c)
    y = e / np.sum(e, axis=1, keepdims=True)
    n = y.shape[0]
    loss = -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n
    dx = y.copy()
    dx[np.arange(n), t] -= 1
    return loss, y, dx / n


def _book_adam(params, grads, m, v, it, lr=0.001, b1=0.9, b2=0.999):
    lr_t = lr * np.sqrt(1.0 - b2 ** it) / (1.0 - b1 ** it)
    for k in params:
        m[k] += (1 - b1) * (grads[k] - m[k])
        v[k] += (1 - b2) * (grads[k] ** 2 - v[k])
        params[k] -= lr_t * m[k] / (np.sqrt(v[k]) + 1e-7)


def _cases(dtype, rng, big):
    """(name, shape text, flops or None, bytes moved, numpy callable, {backend: callable}, check)."""
    f = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    cases = []
    x, w1, b1 = f(100, 784), f(784, 50) * 0.01, f(50)
    dout = f(100, 50)
    gemm_shapes = [("x@W fwd", x, w1, False, False), ("x.T@dout (dW)", x, dout, True, False),
                   ("dout@W.T (dx)", dout, w1, False, True)]
    if big:
        a = f(1024, 1024)
        gemm_shapes.append(("1024^3", a, a, False, False))
    for name, a, b, ta, tb in gemm_shapes:
        opa, opb = (a.T if ta else a), (b.T if tb else b)
        m, k = opa.shape
        n = opb.shape[1]
        cases.append((f"gemm {name}", f"{m}x{k}x{n}", 2.0 * m * n * k, None,
                      lambda opa=opa, opb=opb: opa @ opb,
                      lambda mod, a=a, b=b, ta=ta, tb=tb: (lambda: mod.gemm(a, b, trans_a=ta, trans_b=tb)),
                      (opa @ opb, 1e-4 if dtype == np.float32 else 1e-10)))
    h = f(100, 50)
    def book_relu():
        mask = h <= 0
        out = h.copy()
        out[mask] = 0
        return out, mask

    cases.append(("relu forward", "100x50", None, h.nbytes * 2.25, book_relu,
                  lambda mod: (lambda: mod.relu_forward(h)), None))
    cases.append(("sigmoid forward", "100x50", None, h.nbytes * 2, lambda: 1 / (1 + np.exp(-h)),
                  lambda mod: (lambda: mod.sigmoid_forward(h)), None))
    logits, t = f(100, 10), rng.integers(0, 10, 100)
    cases.append(("softmax-CE fwd+bwd", "100x10", None, logits.nbytes * 3, lambda: _book_softmax_xent(logits, t),
                  lambda mod: (lambda: mod.softmax_cross_entropy(logits, t)), None))
    shapes = {"W1": (784, 50), "b1": (50,), "W2": (50, 10), "b2": (10,)}
    nparams = sum(int(np.prod(s)) for s in shapes.values())

    def adam_setup():
        p = {k: f(*s) for k, s in shapes.items()}
        g = {k: f(*s) * 0.01 for k, s in shapes.items()}
        return p, g, {k: np.zeros_like(v) for k, v in p.items()}, {k: np.zeros_like(v) for k, v in p.items()}

    pn, gn, mn, vn = adam_setup()
    cases.append(("Adam update", f"{nparams} params", None, nparams * dtype.itemsize * 7,
                  lambda: _book_adam(pn, gn, mn, vn, 1),
                  lambda mod: (lambda s=adam_setup(): [mod.adam_update(s[0][k], s[1][k], s[2][k], s[3][k], 1e-3,
                                                                       0.9, 0.999, 1e-7) for k in shapes]),
                  None))
    cases.append(("SGD update", f"{nparams} params", None, nparams * dtype.itemsize * 3,
                  lambda: [pn[k].__isub__(0.01 * gn[k]) for k in shapes],
                  lambda mod: (lambda s=adam_setup(): [mod.sgd_update(s[0][k], s[1][k], 0.01) for k in shapes]),
                  None))
    return cases


def peak_gflops(dtype: str) -> float:
    """One core's FMA throughput as the best of short probe bursts: what the core does when the host lets us have
    it. One long burst read low on a busy shared host, and kernels timed in quieter moments then showed more than
    100% of "peak". Needs the compiled extension (pybp._core)."""
    from . import _core
    return max(_core.peak_gflops(dtype, 0.02) for _ in range(15))


def measure_peaks() -> dict:
    """Single-thread peak GFLOP/s per dtype (FMA probe) and large-copy memory bandwidth in GB/s."""
    out = {}
    try:
        out["gflops_float32"] = peak_gflops("float32")
        out["gflops_float64"] = peak_gflops("float64")
    except ImportError:
        pass
    a = np.ones(2 ** 23)  # 64 MiB: far beyond the caches
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    out["bandwidth_gbs"] = 2 * a.nbytes / best / 1e9
    return out


def run(dtypes=("float32", "float64"), threads=1, backends=None, big=True, repeats=7) -> dict:
    backends = backends or [b for b in ("cpp", "numba") if b in _backend.available_backends()]
    peaks = measure_peaks()
    rows = []
    rng = np.random.default_rng(0)
    with limit_threads(threads):
        for dt in dtypes:
            dtype = np.dtype(dt)
            for name, shape, flops, nbytes, np_fn, make, check in _cases(dtype, rng, big):
                fns = {"numpy": np_fn}
                for b in backends:
                    fns[b] = make(_backend._load(b))
                    if check is not None:
                        want, rtol = check
                        np.testing.assert_allclose(fns[b](), want, rtol=rtol, atol=rtol,
                                                   err_msg=f"{b} {name} disagrees with NumPy")
                stats = interleaved(fns, repeats=repeats, sample_s=0.004)
                row = {"kernel": name, "shape": shape, "dtype": dt, "threads": threads}
                for b, s in stats.items():
                    row[f"{b}_s"] = s["median"]
                for b in backends:
                    row[f"{b}_speedup"] = stats["numpy"]["median"] / stats[b]["median"]
                best = min(backends, key=lambda b: stats[b]["median"]) if backends else "numpy"
                tbest = stats[best]["median"]
                if flops:
                    row["gflops"] = flops / tbest / 1e9
                    peak = peaks.get(f"gflops_{dt}")
                    if peak:
                        row["pct_peak"] = 100 * row["gflops"] / (peak * threads)
                else:
                    row["gbs"] = nbytes / tbest / 1e9
                rows.append(row)
    return {"peaks": peaks, "backends": backends, "rows": rows, "info": _backend.backend_info()}


def format_table(result: dict) -> str:
    backends = result["backends"]
    head = ["kernel", "shape", "dtype", "thr", "numpy"] + backends + [f"{b}/numpy" for b in backends] + \
        ["GFLOP/s or GB/s", "% peak"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        cells = [r["kernel"], r["shape"], r["dtype"], str(r["threads"]), fmt_seconds(r["numpy_s"])]
        cells += [fmt_seconds(r[f"{b}_s"]) for b in backends]
        cells += [f"{r[f'{b}_speedup']:.2f}x" for b in backends]
        cells.append(f"{r['gflops']:.1f} GF/s" if "gflops" in r else f"{r['gbs']:.1f} GB/s")
        cells.append(f"{r['pct_peak']:.0f}%" if "pct_peak" in r else "")
        lines.append("| " + " | ".join(cells) + " |")
    p = result["peaks"]
    foot = (f"peak (measured, 1 thread): {p.get('gflops_float32', float('nan')):.0f} GFLOP/s f32, "
            f"{p.get('gflops_float64', float('nan')):.0f} f64; copy bandwidth {p['bandwidth_gbs']:.1f} GB/s. "
            f"Speedup = NumPy time / backend time (> 1: pybp faster). numpy = the book-style NumPy code.")
    return "\n".join(lines) + "\n\n" + foot + "\n"


def main(argv=None) -> int:
    ap = Parser(prog="pybp bench", description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int_in(1, 256), default=1, help="threads for every contender, 1..256")
    ap.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    ap.add_argument("--backends", default=None, help="comma list of compiled backends (default: those of cpp, numba "
                                                     "that load)")
    ap.add_argument("--no-big", action="store_true", help="skip the 1024^3 GEMM")
    ap.add_argument("--json", default=None, help="also write the results as JSON to this path")
    args = ap.parse_args(argv)
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    backends = None
    if args.backends:
        backends = [b.strip() for b in args.backends.split(",")]
        bad = [b for b in backends if b not in ("cpp", "numba")]
        if bad:
            ap.error(f"argument --backends: {', '.join(bad)} is not a compiled backend (use cpp, numba)")
        for b in backends:
            _backend._load(b)  # ImportError with the reason and a hint -> one line, exit 2 (cli.main)
    if args.json:
        try:
            check_output_path(args.json, "--json")
        except ValueError as e:
            ap.error(str(e))
    info = _backend.backend_info()
    print(f"pybp {info['pybp']} | {info['cpu']} | cpp ISA {info.get('cpp_isa_best')} | numpy {info['numpy']}",
          flush=True)
    t0 = time.perf_counter()
    res = run(dtypes, args.threads, backends, big=not args.no_big)
    print(format_table(res))
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        def dump(tmp):
            with open(tmp, "w") as fh:
                json.dump(res, fh, indent=1, default=str)
        write_output("--json", args.json, dump)
    return 0


if __name__ == "__main__":
    sys.exit(main())
