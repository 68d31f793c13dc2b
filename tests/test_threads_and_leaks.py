"""Concurrency and resource safety of the kernels: threads, the GIL, reference counts, memory."""
from __future__ import annotations

import gc
import os
import sys
import threading
import time

import numpy as np
import pytest

from pybp import _backend


def _work(backend, seed):
    """A mixed sequence of kernel calls on private data; returns every result."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 96))
    w = rng.standard_normal((96, 40))
    b = rng.standard_normal(40)
    t = rng.integers(0, 40, 64)
    h = backend.affine_forward(x, w, b)
    a, mask = backend.relu_forward(h)
    loss, y, dx = backend.softmax_cross_entropy(a, t)
    da = backend.relu_backward(dx, mask)
    dw = backend.gemm(x, da, trans_a=True)
    db = backend.bias_grad(da)
    m, v = np.zeros_like(w), np.zeros_like(w)
    backend.adam_update(w, dw, m, v, 0.01, 0.9, 0.999, 1e-7)
    return [h, a, y, dx, da, dw, db, w, np.array(loss)]


def test_four_threads_get_single_thread_results(backend):
    want = {s: _work(backend, s) for s in range(4)}
    got, errors = {}, []

    def run(seed):
        try:
            for _ in range(25):
                got[seed] = _work(backend, seed)
        except Exception as e:  # reported below: a thread's exception must fail the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    for s in range(4):
        for g, w in zip(got[s], want[s]):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("name", ["cpp", "numba"])
def test_gil_released_during_large_gemm(name):
    """While one thread runs a long GEMM, the main thread keeps running Python code (it could not if the
    kernel held the GIL). Deterministic: we look for main-thread progress strictly inside the kernel's window."""
    backend = _backend._load(name)
    a = np.random.default_rng(0).standard_normal((900, 900))
    backend.gemm(a, a)  # warm-up (JIT, packing buffers)
    window = {}

    def run():
        window["start"] = time.perf_counter()
        backend.gemm(a, a)
        backend.gemm(a, a)
        window["end"] = time.perf_counter()

    stamps = []
    th = threading.Thread(target=run)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        th.start()
        while th.is_alive():
            stamps.append(time.perf_counter())
    finally:
        th.join()
        sys.setswitchinterval(old)
    lo, hi = window["start"], window["end"]
    margin = (hi - lo) * 0.2
    inside = [s for s in stamps if lo + margin < s < hi - margin]
    assert hi - lo > 0.01, "GEMM too short to observe"
    assert len(inside) > 100, f"main thread made {len(inside)} steps during a {hi - lo:.3f}s kernel"


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")  # 4 KiB on x86-64, up to 64 KiB on aarch64


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc (Linux only)")
def test_no_leaks_over_100k_calls(backend):
    """100,000 kernel calls: RSS flat within 8 MiB, and input reference counts unchanged."""
    x = np.random.default_rng(1).standard_normal((8, 5))
    w = np.random.default_rng(2).standard_normal((5, 4))
    b = np.zeros(4)
    t = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    p, g, m, v = np.ones(20), np.full(20, 0.1), np.zeros(20), np.zeros(20)
    inputs = [x, w, b, t, p, g, m, v]
    calls = [
        lambda: backend.relu_forward(x),
        lambda: backend.relu_backward(x, x > 0),
        lambda: backend.sigmoid_forward(x),
        lambda: backend.affine_forward(x, w, b),
        lambda: backend.gemm(x, w),
        lambda: backend.bias_grad(x),
        lambda: backend.softmax_cross_entropy(x, t),
        lambda: backend.adam_update(p, g, m, v, 1e-3, 0.9, 0.999, 1e-7),
    ]
    for fn in calls:  # warm-up: JIT compilation, thread-local buffers, interned strings
        for _ in range(200):
            fn()
    gc.collect()
    refs = [sys.getrefcount(a) for a in inputs]
    rss0 = _rss_bytes()
    n = 100_000 // len(calls) if backend.__name__ != "pybp._ref" else 20_000 // len(calls)
    for fn in calls:
        for _ in range(n):
            fn()
        for _ in range(100):  # error paths must not leak either
            try:
                backend.gemm(x, x)
            except ValueError:
                pass
    gc.collect()
    growth = _rss_bytes() - rss0
    assert [sys.getrefcount(a) for a in inputs] == refs
    assert growth < 8 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB"
