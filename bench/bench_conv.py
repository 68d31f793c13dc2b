"""Convolution and max pooling (book ch. 7-8): each layer shape of SimpleConvNet and DeepConvNet (forward, input
gradient, weight gradient; pooling forward and backward) and one training step (forward + backward + Adam) of
each net, batch 100, side by side: book-style NumPy (bench/book_conv_numpy.py: the book's im2col, which computes
in float64), the same layers with a vectorised dtype-keeping im2col, pybp cpp, PyTorch CPU eager (oneDNN), all
in one process, interleaved, at 1 and 2 threads. Results are checked against each other before timing.
GFLOP/s counts 2 flops per multiply-add; "% peak" is of one core's measured FMA peak times the thread count.

    python bench/bench_conv.py [--quick] [--threads 1 2] [--no-torch] [--no-layers] [--no-steps]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import book_conv_numpy as B  # noqa: E402
import common  # noqa: E402

import pybp  # noqa: E402
from pybp import _cpp as K  # noqa: E402
from pybp._im2col import col2im, im2col  # noqa: E402
from pybp.benchmark import peak_gflops  # noqa: E402
from pybp.deep_convnet import DeepConvNet  # noqa: E402
from pybp.layers import Dropout  # noqa: E402
from pybp.simple_convnet import SimpleConvNet  # noqa: E402

# name: (x shape, w shape, pad); stride 1 everywhere, as in the book's nets
CONVS = {
    "simple conv 1x28x28 -> 30x5x5": ((100, 1, 28, 28), (30, 1, 5, 5), 0),
    "deep conv1 1x28x28 -> 16x3x3": ((100, 1, 28, 28), (16, 1, 3, 3), 1),
    "deep conv2 16x28x28 -> 16x3x3": ((100, 16, 28, 28), (16, 16, 3, 3), 1),
    "deep conv3 16x14x14 -> 32x3x3": ((100, 16, 14, 14), (32, 16, 3, 3), 1),
    "deep conv4 32x14x14 -> 32x3x3 pad 2": ((100, 32, 14, 14), (32, 32, 3, 3), 2),
    "deep conv5 32x8x8 -> 64x3x3": ((100, 32, 8, 8), (64, 32, 3, 3), 1),
    "deep conv6 64x8x8 -> 64x3x3": ((100, 64, 8, 8), (64, 64, 3, 3), 1),
}
POOLS = {"simple pool 30x24x24": (100, 30, 24, 24), "deep pool1 16x28x28": (100, 16, 28, 28),
         "deep pool2 32x16x16": (100, 32, 16, 16), "deep pool3 64x8x8": (100, 64, 8, 8)}


def _torch():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch
    return torch


CLOCK = {"clock": time.perf_counter}


def _time(fns, threads, torch, repeats, sample_s):
    """Interleaved medians (seconds per call) of fns at `threads` threads for every pool, pybp on cpp."""
    with pybp.use_backend("cpp"), common.limit_threads(threads):
        if torch is not None:
            torch.set_num_threads(threads)
        st = common.interleaved(fns, repeats=repeats, sample_s=sample_s, warmup=1,
                                pause_s=0.2 if threads > 1 else 0.0, clock=CLOCK["clock"])
    return {k: v["median"] for k, v in st.items()}, st


def _cpu_peak(dtype):
    """One core's FMA peak per second of this thread's CPU time: the probe's flops (its GF/s x the wall time
    around it) over the CPU time it took; best of 15 bursts."""
    from pybp import _core
    best = 0.0
    for _ in range(15):
        c0, w0 = time.thread_time(), time.perf_counter()
        g = _core.peak_gflops(dtype, 0.02)
        best = max(best, g * (time.perf_counter() - w0) / max(time.thread_time() - c0, 1e-9))
    return best


def _numpy_conv(x, w, b, pad):
    """The book's layer maths with the vectorised im2col, one function per kernel (col recomputed, as pybp does)."""
    fn, c, fh, fw = w.shape
    n, _, h, wd = x.shape
    oh, ow = h + 2 * pad - fh + 1, wd + 2 * pad - fw + 1
    w2 = w.reshape(fn, -1)
    fwd = lambda: (np.dot(im2col(x, fh, fw, 1, pad), w2.T) + b).reshape(n, oh, ow, fn).transpose(0, 3, 1, 2)  # noqa
    d2 = np.ascontiguousarray(np.random.default_rng(1).standard_normal((n, oh, ow, fn)).astype(x.dtype))
    bwd_d = lambda: col2im(np.dot(d2.reshape(-1, fn), w2), x.shape, fh, fw, 1, pad)  # noqa: E731
    bwd_w = lambda: (np.dot(im2col(x, fh, fw, 1, pad).T, d2.reshape(-1, fn)), d2.sum(axis=(0, 1, 2)))  # noqa
    return {"fwd": fwd, "bwd data": bwd_d, "bwd weights": bwd_w}, d2.transpose(0, 3, 1, 2)


def conv_rows(threads, torch, repeats, peak):
    rows, raw = [], []
    rng = np.random.default_rng(0)
    for name, (xs, ws, pad) in CONVS.items():
        x = rng.random(xs, dtype=np.float32)
        w = (rng.standard_normal(ws) * 0.1).astype(np.float32)
        b = rng.standard_normal(ws[0]).astype(np.float32)
        npf, dout = _numpy_conv(x, w, b, pad)
        dout = np.ascontiguousarray(dout)
        h, wd = xs[2], xs[3]
        ours = {"fwd": lambda: K.conv_forward(x, w, b, 1, pad),
                "bwd data": lambda: K.conv_backward_data(dout, w, h, wd, 1, pad),
                "bwd weights": lambda: K.conv_backward_weights(dout, x, ws[2], ws[3], 1, pad)}
        common.check_close(ours["fwd"](), npf["fwd"](), 1e-4, 1e-4, f"{name} fwd")
        common.check_close(ours["bwd data"](), npf["bwd data"](), 1e-4, 1e-3, f"{name} bwd data")
        common.check_close(ours["bwd weights"]()[0], npf["bwd weights"]()[0].T.reshape(ws), 1e-4, 1e-2,
                           f"{name} bwd weights")
        tfns = {}
        if torch is not None:
            tx, tw, tb, td = (torch.from_numpy(a) for a in (x, w, b, dout))
            F = torch.nn.functional
            bw = torch.ops.aten.convolution_backward
            args = ([ws[0]], [1, 1], [pad, pad], [1, 1], False, [0, 0], 1)
            tfns = {"fwd": lambda: F.conv2d(tx, tw, tb, 1, pad),
                    "bwd data": lambda: bw(td, tx, tw, *args, [True, False, False]),
                    "bwd weights": lambda: bw(td, tx, tw, *args, [False, True, True])}
            common.check_close(tfns["fwd"]().numpy(), ours["fwd"](), 1e-4, 1e-4, f"torch {name}")
        flops = 2.0 * xs[0] * ws[0] * (xs[2] + 2 * pad - ws[2] + 1) * (xs[3] + 2 * pad - ws[3] + 1) * np.prod(ws[1:])
        for kern in ("fwd", "bwd data", "bwd weights"):
            fns = {"numpy im2col": npf[kern], "pybp cpp": ours[kern]}
            if kern in tfns:
                fns["torch eager"] = tfns[kern]
            sec, _ = _time(fns, threads, torch, repeats, 0.02)
            row = {"layer": name, "kernel": kern, "threads": threads}
            for k, s in sec.items():
                row[k] = f"{common.fmt_seconds(s)} ({flops / s / 1e9:.0f} GF/s)"
            row["cpp % peak"] = f"{100 * flops / sec['pybp cpp'] / 1e9 / (peak * threads):.0f}%"
            if "torch eager" in sec:
                row["cpp vs torch"] = f"{sec['torch eager'] / sec['pybp cpp']:.2f}x"
            rows.append(row)
            raw.append({"layer": name, "kernel": kern, "threads": threads, "gflop": flops / 1e9, "seconds": sec})
            print(row, flush=True)
    for name, xs in POOLS.items():
        x = rng.standard_normal(xs).astype(np.float32)
        out, arg = K.maxpool_forward(x, 2, 2, 2, 0)
        d = rng.standard_normal(out.shape).astype(np.float32)
        layer = B.Pooling(2, 2, 2, 0, "vectorised")
        common.check_close(layer.forward(x), out, 0, 0, f"{name} pool")
        fns = {"fwd": {"numpy im2col": lambda: layer.forward(x), "pybp cpp": lambda: K.maxpool_forward(x, 2, 2, 2, 0)},
               "bwd": {"numpy im2col": lambda: layer.backward(d),
                       "pybp cpp": lambda: K.maxpool_backward(d, arg, xs[2], xs[3])}}
        if torch is not None:
            tx, td = torch.from_numpy(x), torch.from_numpy(d)
            _, ti = torch.nn.functional.max_pool2d_with_indices(tx, 2, 2)
            fns["fwd"]["torch eager"] = lambda: torch.nn.functional.max_pool2d_with_indices(tx, 2, 2)
            fns["bwd"]["torch eager"] = lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                td, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, ti)
        for kern, f in fns.items():
            sec, _ = _time(f, threads, torch, repeats, 0.02)
            row = {"layer": name, "kernel": kern, "threads": threads}
            row.update({k: common.fmt_seconds(s) for k, s in sec.items()})
            if "torch eager" in sec:
                row["cpp vs torch"] = f"{sec['torch eager'] / sec['pybp cpp']:.2f}x"
            rows.append(row)
            raw.append({"layer": name, "kernel": kern, "threads": threads, "seconds": sec})
            print(row, flush=True)
    return rows, raw


def step_flops(net, batch):
    """Multiply-adds x 2 of one training step: forward, weight gradients, input gradients (not the first
    layer's, which pybp skips and the book computes)."""
    from pybp.layers import Affine, Convolution
    total, x = 0.0, np.zeros((batch,) + net.input_dim, dtype=net.dtype)
    first = True
    for layer in net.layers:
        y = layer.forward(x) if not isinstance(layer, Dropout) else x
        if isinstance(layer, (Convolution, Affine)):
            w = layer.W
            macs = y.size * (np.prod(w.shape[1:]) if w.ndim == 4 else w.shape[0])
            total += 2 * macs * (2 if first else 3)
            first = False
        x = y
    return total


def _torch_step(torch, kind, params, x, t):
    F = torch.nn.functional
    p = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in params.items()}
    tx, tt = torch.from_numpy(x), torch.from_numpy(t)
    opt = torch.optim.Adam(list(p.values()), lr=0.001, eps=1e-7)

    def forward():
        if kind == "simple":
            h = F.max_pool2d(F.relu(F.conv2d(tx, p["W1"], p["b1"])), 2, 2).reshape(x.shape[0], -1)
            return F.relu(h @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
        h = tx
        for i, pad in enumerate((1, 1, 1, 2, 1, 1), start=1):
            h = F.relu(F.conv2d(h, p[f"W{i}"], p[f"b{i}"], 1, pad))
            if i % 2 == 0:
                h = F.max_pool2d(h, 2, 2)
        h = F.dropout(F.relu(h.reshape(x.shape[0], -1) @ p["W7"] + p["b7"]), 0.5)
        return F.dropout(h @ p["W8"] + p["b8"], 0.5)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(forward(), tt).backward()
        opt.step()
    return step


def step_rows(threads, torch, repeats, peak, dtypes):
    rows, raw = [], []
    for kind, cls in (("simple", SimpleConvNet), ("deep", DeepConvNet)):
        for dt in dtypes:
            if kind == "deep" and dt == "float64":
                continue
            rng = np.random.default_rng(0)
            net = cls(dtype=dt, seed=0)
            x = rng.random((100, 1, 28, 28)).astype(dt)
            t = rng.integers(0, 10, 100)
            params = {k: v.copy() for k, v in net.params.items()}
            shared = np.random.RandomState(5)  # same dropout masks as the book-style net, for the check
            for layer in net.layers:
                if isinstance(layer, Dropout):
                    layer.rng = shared
            np.random.seed(5)
            want = B.ConvNet(kind, {k: v.copy() for k, v in params.items()}).gradient(x, t)
            got = net.gradient(x, t)
            tol = 2e-3 if dt == "float32" else 1e-9
            for k in want:
                common.check_close(got[k], want[k], tol, tol * float(np.abs(want[k]).max()), f"{kind} {dt} {k}")
            fns = {}
            for flavour in ("book", "vectorised"):
                bnet, state = B.ConvNet(kind, {k: v.copy() for k, v in params.items()}, flavour), {}
                fns[f"{flavour} numpy"] = lambda bnet=bnet, state=state: B.adam_update(
                    bnet.params, bnet.gradient(x, t), state)
            opt = pybp.Adam()
            fns["pybp cpp"] = lambda: opt.update(net.params, net.gradient(x, t))
            if torch is not None:
                fns["torch eager"] = _torch_step(torch, kind, params, x, t)
            sec, st = _time(fns, threads, torch, repeats, 0.05)
            flops = step_flops(net, 100)
            row = {"net": f"{kind.capitalize()}ConvNet", "dtype": dt, "threads": threads}
            row.update({k: common.fmt_seconds(s) for k, s in sec.items()})
            row["cpp % peak"] = f"{100 * flops / sec['pybp cpp'] / 1e9 / (peak[dt] * threads):.0f}%"
            for other in ("book numpy", "vectorised numpy", "torch eager"):
                if other in sec:
                    row[f"cpp vs {other.split()[0]}"] = f"{sec[other] / sec['pybp cpp']:.2f}x"
            rows.append(row)
            raw.append({"net": kind, "dtype": dt, "threads": threads, "gflop": flops / 1e9,
                        "seconds": sec, "spread": {k: [v["p10"], v["p90"]] for k, v in st.items()}})
            print(row, flush=True)
    return rows, raw


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-layers", action="store_true")
    ap.add_argument("--no-steps", action="store_true")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with the thread's CPU time (1 thread only; for a busy host); results *_cpu.md")
    args = ap.parse_args(argv)
    if args.cpu_time:
        if args.threads != [1]:
            ap.error("--cpu-time measures one thread: use --threads 1")
        CLOCK["clock"] = time.thread_time
    suffix = "_cpu" if args.cpu_time else ""
    torch = None if args.no_torch else _torch()
    peak = {dt: (_cpu_peak if args.cpu_time else peak_gflops)(dt) for dt in ("float32", "float64")}
    meta = common.header()
    meta["peak_gflops_1core"] = {k: round(v, 1) for k, v in peak.items()}
    if torch is not None:
        meta["torch"] = torch.__version__
    meta["load_before"] = os.getloadavg()[0]
    meta["clock"] = "thread CPU time" if args.cpu_time else "wall (perf_counter)"
    repeats = 3 if args.quick else 7
    if not args.no_steps:
        rows, raw = [], []
        for th in args.threads:
            r, w = step_rows(th, torch, repeats, peak, ["float32"] if args.quick else ["float32", "float64"])
            rows += r
            raw += w
        cols = ["net", "dtype", "threads", "book numpy", "vectorised numpy", "pybp cpp", "torch eager",
                "cpp % peak", "cpp vs book", "cpp vs vectorised", "cpp vs torch"]
        meta["load_after_steps"] = os.getloadavg()[0]
        print(common.write_report("conv_step" + suffix, "One CNN training step (forward + backward + Adam), "
                                  "batch 100, median per step", cols, rows, meta, raw=raw,
                                  notes="book numpy: the book's layers and im2col (float64 inside). vectorised "
                                        "numpy: the same layers with a strided-window im2col in the input dtype. "
                                        "Ratios > 1: pybp cpp is faster. % peak: the step's conv and affine "
                                        "FLOPs over one core's FMA peak x threads."))
    if not args.no_layers:
        rows, raw = [], []
        for th in args.threads:
            r, w = conv_rows(th, torch, repeats, peak["float32"])
            rows += r
            raw += w
        cols = ["layer", "kernel", "threads", "numpy im2col", "pybp cpp", "torch eager", "cpp % peak",
                "cpp vs torch"]
        meta["load_after_layers"] = os.getloadavg()[0]
        print(common.write_report("conv_layers" + suffix, "Convolution and max-pooling kernels, float32, batch 100, "
                                  "median per call", cols, rows, meta, raw=raw,
                                  notes="numpy im2col: the book's layer maths with a vectorised im2col (each "
                                        "kernel recomputes its columns, as pybp does). Ratios > 1: pybp faster."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
