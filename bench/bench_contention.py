"""pybp's default thread count against one thread, on an idle machine and with busy competitor processes.

Cases (cpp backend): the main job's step loop (TwoLayerNet 784-50-10, batch 100, float64, SGD, a random batch
drawn per step as the trainer does) and the large MLP step (784-1000-1000-10, batch 256, float32). Each repeat
times every (load, threads) cell once, interleaved: idle with 1 and with the default threads, then N busy
competitor processes (pure Python loops, N = CPUs by default) are started and both thread settings are timed
again. Competitors exit on their own after a deadline and are killed in a `finally`, so none outlives the run.
With --train it also times the README's main command (`pybp train`, a subprocess) idle, --threads 1 against the
default, interleaved. With --crossover it times single GEMMs from 2^16 to 2^24 multiply-adds the same way, to
place the size below which a GEMM stays on one thread (build with -DPYBP_PARALLEL_MIN_MACS=0 to see the ratios
below the threshold too).

Writes bench/results/contention.{md,json} (and crossover.{md,json}).

    python bench/bench_contention.py [--repeats 5] [--competitors 2] [--train] [--train-repeats 3] [--crossover]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

import pybp  # noqa: E402
from pybp import _core  # noqa: E402

# A competitor: a busy loop that stops by itself after `deadline` seconds even if this script dies.
_BUSY = "import time\nend = time.monotonic() + {deadline}\nwhile time.monotonic() < end:\n    pass\n"


class Competitors:
    """n busy processes while the block runs; each is bounded by `deadline` seconds and killed on exit."""

    def __init__(self, n: int, deadline: float):
        self.n, self.deadline, self.procs = n, deadline, []

    def __enter__(self):
        code = _BUSY.format(deadline=self.deadline)
        try:
            for _ in range(self.n):
                self.procs.append(subprocess.Popen([sys.executable, "-c", code]))
            time.sleep(0.3)  # let them reach their loops
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []


def two_layer_loop(rng):
    """The main job's step loop: draw a batch, gradient, SGD update (float64, as `pybp train`)."""
    x = rng.random((10000, 784))
    t = rng.integers(0, 10, 10000)
    net = pybp.TwoLayerNet(784, 50, 10, seed=0)
    opt = pybp.SGD(lr=0.1)

    def step():
        idx = rng.choice(10000, 100)
        opt.update(net.params, net.gradient(x[idx], t[idx]))
    return step


def mlp_step(rng):
    x = rng.random((256, 784)).astype(np.float32)
    t = rng.integers(0, 10, 256)
    net = pybp.MultiLayerNet(784, [1000, 1000], 10, dtype=np.float32, seed=0)
    opt = pybp.SGD(lr=0.01)

    def step():
        opt.update(net.params, net.gradient(x, t))
    return step


# (m, k, n): TwoLayerNet's products (batch 100, f64 in the main job) and squares around the threshold
GEMMS = [(100, 50, 10), (64, 64, 64), (100, 784, 50), (784, 100, 50), (128, 128, 128), (100, 784, 100),
         (160, 160, 160), (200, 200, 200), (256, 256, 256)]


def gemm_case(m, k, n, dtype, rng):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = np.empty((m, n), dtype)
    return lambda: _core.gemm(a, b, c)


CASES = {"two-layer step loop (main job, f64 b100)": (two_layer_loop, 0.4),
         "mlp 784-1000-1000-10 b256 f32 step": (mlp_step, 0.6)}


def time_sample(fn, seconds: float) -> float:
    fn()  # one untimed call: wakes this setting's threads
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return dt / n


def run_interleaved(cases: dict, repeats: int, competitors: int, default_threads: int) -> dict:
    """cases: {name: (fn, sample seconds)}. Returns {(name, 'idle'|'loaded', threads): [seconds per call]}."""
    fns = {name: fn for name, (fn, _) in cases.items()}
    settings = [1, default_threads]
    samples = {(c, load, th): [] for c in cases for load in ("idle", "loaded") for th in settings}
    budget = 4 * sum(s for _, s in cases.values()) * len(settings) + 30  # one loaded phase, generously
    for r in range(repeats):
        for load in ("idle", "loaded"):
            ctx = Competitors(competitors, budget) if load == "loaded" else None
            if ctx:
                ctx.__enter__()
            try:
                for case, (_, seconds) in cases.items():
                    order = settings if r % 2 == 0 else settings[::-1]
                    for th in order:
                        pybp.set_num_threads(th)
                        samples[(case, load, th)].append(time_sample(fns[case], seconds))
            finally:
                if ctx:
                    ctx.__exit__(None, None, None)
            print(f"repeat {r + 1}/{repeats} {load} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    pybp.set_num_threads(default_threads)
    return samples


def ratio_rows(samples, cases, default, competitors, raw):
    rows = []
    for case in cases:
        for load in ("idle", "loaded"):
            one = np.array(samples[(case, load, 1)])
            dflt = np.array(samples[(case, load, default)])
            ratio = dflt / one  # paired per repeat: the same moment's load for both settings
            rows.append({"case": case, "load": load if load == "idle" else f"{competitors} busy processes",
                         "1 thread": common.fmt_seconds(float(np.median(one))),
                         f"default ({default})": common.fmt_seconds(float(np.median(dflt))),
                         "default / 1 thread": f"{np.median(ratio):.2f} ({ratio.min():.2f}-{ratio.max():.2f})"})
            raw[f"{case} | {load}"] = {"one_thread_s": one.tolist(), "default_s": dflt.tolist(),
                                       "ratio": ratio.tolist()}
            print(rows[-1], flush=True)
    return rows


def train_seconds(threads, limit_args):
    cmd = [sys.executable, "-m", "pybp", "train", "--no-progress", "--quiet"] + limit_args
    if threads:
        cmd += ["--threads", str(threads)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"pybp train failed: {out.stderr[-2000:]}")
    m = re.search(r"steps in ([0-9.]+) s", out.stdout)
    return {"wall": wall, "train": float(m.group(1)) if m else float("nan")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--competitors", type=int, default=os.cpu_count())
    ap.add_argument("--train", action="store_true", help="also time `pybp train` idle, --threads 1 vs default")
    ap.add_argument("--train-repeats", type=int, default=3)
    ap.add_argument("--crossover", action="store_true", help="single GEMMs around the parallel threshold instead")
    ap.add_argument("--note", default="", help="recorded with the machine line (e.g. how the extension was built)")
    args = ap.parse_args(argv)
    pybp.set_backend("cpp")
    default = _core.get_num_threads()
    load0 = os.getloadavg()
    rng = np.random.default_rng(0)
    meta = common.header()
    meta["load average before"] = f"{load0[0]:.2f}"
    if args.note:
        meta["note"] = args.note
    cols = ["case", "load", "1 thread", f"default ({default})", "default / 1 thread"]
    notes = (f"{args.repeats} interleaved repeats; the ratio is paired per repeat (median, min-max). < 1: the "
             "default is faster. 'Idle' means no competitors started by this script: other work on the machine "
             "is whatever the load average says.")
    if args.crossover:
        cases = {}
        for m, k, n in GEMMS:
            for dt in ("float32", "float64"):
                cases[f"gemm {m}x{k}x{n} {dt} ({m * k * n / 2**20:.2f} Mi MACs)"] = (gemm_case(m, k, n, dt, rng), 0.1)
        craw = {}
        rows = ratio_rows(run_interleaved(cases, args.repeats, args.competitors, default), cases, default,
                          args.competitors, craw)
        print(common.write_report("crossover", "Single GEMMs, default threads vs one thread (median per call)",
                                  cols, rows, dict(meta, **{"load average after": f"{os.getloadavg()[0]:.2f}"}),
                                  notes=notes, raw=craw))
        return 0
    cases = {name: (make(rng), seconds) for name, (make, seconds) in CASES.items()}
    raw = {"cells": {}, "train": None}
    rows = ratio_rows(run_interleaved(cases, args.repeats, args.competitors, default), cases, default,
                      args.competitors, raw["cells"])
    if args.train:
        runs = {1: [], default: []}
        for r in range(args.train_repeats):
            for th in ([1, None] if r % 2 == 0 else [None, 1]):
                runs[th or default].append(train_seconds(th, []))
                print(f"pybp train threads={th or default}: {runs[th or default][-1]}", flush=True)
        one = np.array([x["wall"] for x in runs[1]])
        dflt = np.array([x["wall"] for x in runs[default]])
        ratio = dflt / one  # paired: the r-th run of each setting ran back to back
        rows.append({"case": "pybp train (README main command, wall)", "load": "idle",
                     "1 thread": common.fmt_seconds(float(np.median(one))),
                     f"default ({default})": common.fmt_seconds(float(np.median(dflt))),
                     "default / 1 thread": f"{np.median(ratio):.2f} ({ratio.min():.2f}-{ratio.max():.2f})"})
        raw["train"] = {str(k): v for k, v in runs.items()}
    meta["load average after"] = f"{os.getloadavg()[0]:.2f}"
    md = common.write_report("contention", "Default threads vs one thread, idle and under load (median per step)",
                             cols, rows, meta, notes=notes, raw=raw)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
