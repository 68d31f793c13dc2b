"""PyTorch CPU eager training step, run in its own process (two thread pools on 2 cores distort each other).

Prints one JSON object: {case: {threads: seconds per step (median)}}. Used by bench/bench_train_step.py;
never imported by pybp. Needs `pip install torch==2.13.0` in the bench environment.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

CASES = {"two-layer 784-50-10 b100": ([784, 50, 10], 100), "mlp 784-1000-1000-10 b256": ([784, 1000, 1000, 10], 256)}


def make_step(sizes, batch, dtype):
    g = torch.Generator().manual_seed(0)
    ws = [(torch.randn(i, o, generator=g, dtype=dtype) * 0.01).requires_grad_() for i, o in zip(sizes, sizes[1:])]
    bs = [torch.zeros(o, dtype=dtype, requires_grad=True) for o in sizes[1:]]
    x = torch.rand(batch, sizes[0], generator=g, dtype=dtype)
    t = torch.randint(0, sizes[-1], (batch,), generator=g)

    def step():
        h = x
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w + b  # the book's Affine: weights (in, out)
            if i < len(ws) - 1:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, t)
        for p in ws + bs:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in ws + bs:
                p -= 0.1 * p.grad
        return loss

    return step


def median_time(fn, repeats=15, sample_s=0.02):
    for _ in range(3):
        fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 > sample_s:
            break
        n *= 2
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return float(np.median(samples))


def main():
    threads = [int(a) for a in sys.argv[1:]] or [1, 2]
    out = {"torch": torch.__version__}
    for name, (sizes, batch) in CASES.items():
        for dt in ("float32", "float64"):
            step = make_step(sizes, batch, getattr(torch, dt))
            for th in threads:
                torch.set_num_threads(th)
                out.setdefault(f"{name} {dt}", {})[th] = median_time(step)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
