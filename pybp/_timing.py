"""Timing helpers shared by `pybp bench` and the scripts in bench/: interleaved runs and thread limits.

Interleaving: the contenders run in alternation (A B C A B C ...), each sample long enough to swamp timer
overhead, so slow drift and load from other processes hit all of them alike and ratios stay meaningful.
"""
from __future__ import annotations

import contextlib
import sys
import time

import numpy as np


def _loops_for(fn, target_s: float, clock=time.perf_counter) -> int:
    n = 1
    while True:
        t0 = clock()
        for _ in range(n):
            fn()
        dt = clock() - t0
        if dt >= target_s or n >= 1 << 24:
            return max(1, int(n * target_s / max(dt, 1e-9)))
        n *= 4 if dt < target_s / 20 else 2


def interleaved(fns: dict, repeats: int = 15, sample_s: float = 0.01, warmup: int = 2, pause_s: float = 0.0,
                warm_s: float = 0.02, clock=time.perf_counter) -> dict:
    """Time each callable of `fns` ({name: fn}) in alternation. Returns {name: stats} with seconds per call:
    median, p10, p90, min, and the loop count per sample.

    pause_s: idle time before each sample. Needed with more than one thread: OpenBLAS's workers keep spinning
    for ~0.1 s after a call and pybp's for 0.1 ms; on 2 cores a contender timed right after another
    pool's call would mostly measure that pool's spinning. After the pause the contender runs untimed for
    warm_s (at least one call): on a VM an idle vCPU comes back slowly (here the first two-thread call after
    0.2 s idle took 10-14 ms instead of ~0.2 ms, and the next few ran at half speed), which would otherwise
    land in the sample and decide the ratio by which pool recovered first.

    clock: time.perf_counter (wall time, the default), or time.thread_time for single-threaded contenders on a
    busy host: the calling thread's CPU time leaves out the time the scheduler gave to other processes."""
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    loops = {name: _loops_for(fns[name], sample_s, clock) for name in names}
    samples = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
        for name in order:
            fn, n = fns[name], loops[name]
            if pause_s:
                time.sleep(pause_s)
                t_warm = time.perf_counter()
                fn()  # wake this contender's own pool and the idle vCPU; not timed
                while time.perf_counter() - t_warm < warm_s:
                    fn()
            t0 = clock()
            for _ in range(n):
                fn()
            samples[name].append((clock() - t0) / n)
    out = {}
    for name in names:
        s = np.array(samples[name])
        out[name] = {"median": float(np.median(s)), "p10": float(np.percentile(s, 10)),
                     "p90": float(np.percentile(s, 90)), "min": float(s.min()), "loops": loops[name]}
    return out


@contextlib.contextmanager
def limit_threads(n: int):
    """Limit every thread pool we know of to n threads: pybp's pool, OpenBLAS (threadpoolctl), Numba."""
    import pybp
    from pybp import _backend
    try:
        from pybp import _core
        prev_core = _core.get_num_threads()
    except ImportError:
        _core, prev_core = None, None
    numba = sys.modules.get("numba")
    prev_numba = numba.get_num_threads() if numba is not None else None
    try:
        import threadpoolctl
    except ImportError:  # unpinned BLAS threads would spin against ours and give meaningless ratios
        raise ImportError("benchmarks pin NumPy's BLAS threads with threadpoolctl: pip install threadpoolctl") \
            from None
    ctl = threadpoolctl.threadpool_limits(limits=n)
    try:
        pybp.set_num_threads(n)
        yield
    finally:
        ctl.restore_original_limits()
        if _core is not None:
            _core.set_num_threads(prev_core)
        if numba is not None:
            numba.set_num_threads(prev_numba)
        del _backend


def fmt_seconds(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs" if s < 1e-5 else f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"
