"""One training step (forward + backward + SGD update) of the book's networks, side by side:
book-style NumPy (bench/book_numpy.py), pybp on each backend, and PyTorch CPU eager (own process).

Cases: TwoLayerNet 784-50-10 batch 100 and MLP 784-1000-1000-10 batch 256; float32 and float64; 1 and 2 threads.
Every contender starts from the same weights and batch; pybp's gradients are checked against the book-style
code before timing. Writes bench/results/step.{md,json}.

    python bench/bench_step.py [--quick] [--threads 1 2] [--no-torch]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import book_numpy  # noqa: E402
import common  # noqa: E402

import pybp  # noqa: E402

CASES = {"two-layer 784-50-10 b100": ([784, 50, 10], 100), "mlp 784-1000-1000-10 b256": ([784, 1000, 1000, 10], 256)}


def _params(sizes, dtype, rng):
    p = {}
    for i, (a, b) in enumerate(zip(sizes, sizes[1:]), 1):
        p[f"W{i}"] = (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(dtype)
        p[f"b{i}"] = np.zeros(b, dtype)
    return p


def _pybp_net(sizes, params):
    if len(sizes) == 3:
        net = pybp.TwoLayerNet(sizes[0], sizes[1], sizes[2], dtype=params["W1"].dtype)
    else:
        net = pybp.MultiLayerNet(sizes[0], sizes[1:-1], sizes[-1], dtype=params["W1"].dtype)
    for k in net.params:
        net.params[k][...] = params[k]
    return net


def run_case(name, sizes, batch, dtype, threads, backends, repeats):
    rng = np.random.default_rng(0)
    params = _params(sizes, dtype, rng)
    x = rng.random((batch, sizes[0])).astype(dtype)
    t = rng.integers(0, sizes[-1], batch)
    book = book_numpy.Net({k: v.copy() for k, v in params.items()})
    want = book.gradient(x, t)
    fns = {"book numpy": lambda: book_numpy.sgd_update(book.params, book.gradient(x, t))}
    tol = 2e-3 if dtype == np.float32 else 1e-9
    for b in backends:
        with pybp.use_backend(b):
            net = _pybp_net(sizes, params)
            got = net.gradient(x, t)
            for k in want:
                common.check_close(got[k], want[k], tol, tol * float(np.abs(want[k]).max()), f"{b} {name} {k}")
        opt = pybp.SGD(lr=0.1)

        def step(net=net, opt=opt, b=b):
            with pybp.use_backend(b):
                opt.update(net.params, net.gradient(x, t))
        fns[f"pybp {b}"] = step
    sample = 0.05 if batch > 100 else 0.02
    with common.limit_threads(threads):
        stats = common.interleaved(fns, repeats=repeats, sample_s=sample, pause_s=0.2 if threads > 1 else 0.0)
    return {k: v["median"] for k, v in stats.items()}


def torch_times(threads):
    if importlib.util.find_spec("torch") is None:
        return None
    out = subprocess.run([sys.executable, os.path.join(HERE, "bench_torch.py")] + [str(t) for t in threads],
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        print("bench_torch.py failed:\n" + out.stderr[-2000:])
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--quick", action="store_true", help="two-layer case only, fewer repeats")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)
    backends = [b for b in ("numpy", "numba", "cpp") if b in pybp.available_backends()]
    cases = {k: v for k, v in CASES.items() if not args.quick or k.startswith("two")}
    torch = None if args.no_torch else torch_times(args.threads)
    rows, raw = [], []
    for name, (sizes, batch) in cases.items():
        for dt in ("float32", "float64"):
            for th in args.threads:
                times = run_case(name, sizes, batch, np.dtype(dt), th, backends, 5 if args.quick else 9)
                if torch and f"{name} {dt}" in torch:
                    times["torch eager"] = torch[f"{name} {dt}"][str(th)]
                raw.append({"case": name, "dtype": dt, "threads": th, "seconds": times})
                row = {"case": name, "dtype": dt, "threads": th}
                for k, s in times.items():
                    row[k] = common.fmt_seconds(s)
                row["cpp vs book"] = f"{times['book numpy'] / times['pybp cpp']:.2f}x"
                if "torch eager" in times:
                    row["cpp vs torch"] = f"{times['torch eager'] / times['pybp cpp']:.2f}x"
                rows.append(row)
                print(row, flush=True)
    cols = ["case", "dtype", "threads", "book numpy"] + [f"pybp {b}" for b in backends]
    cols += ["torch eager"] if torch else []
    cols += ["cpp vs book"] + (["cpp vs torch"] if torch else [])
    meta = common.header()
    if torch:
        meta["torch"] = torch.get("torch")
    name = "step_quick" if args.quick else "step"
    md = common.write_report(name, "One training step (forward + backward + SGD), median per step", cols, rows, meta,
                             notes="Ratios > 1: pybp cpp is faster. pybp skips the first layer's unused dx "
                                   "product (the book computes it); everything else is the same work.", raw=raw)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
