"""The C++ backend's threads in real processes: fork children finish, the thread count is one setting for the
whole process, bad counts and refused threads are exceptions (never an exit), and an input copy that cannot be
allocated is a MemoryError (never a crash). Subprocesses and children run with timeouts: a regression fails the
test instead of hanging the suite."""
from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import numpy as np
import pytest

import pybp
from pybp import _core

# Python 3.12+ warns when a process with threads forks; forking after the pool started is what these tests do.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def _run(code, timeout=120, **env):
    full = dict(os.environ)
    for k in ("PYBP_BACKEND", "PYBP_REQUIRE_CPP", "PYBP_ISA", "PYBP_NUM_THREADS", "OMP_NUM_THREADS"):
        full.pop(k, None)
    full.update(env)
    pkg_parent = os.path.dirname(os.path.dirname(pybp.__file__))
    full["PYTHONPATH"] = pkg_parent + os.pathsep + full.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, capture_output=True, text=True,
                          timeout=timeout, cwd=tempfile.gettempdir())


def runs_on_threads(code, tmp_path, threads=(1, 2, 3)):
    """Runs code (which saves its arrays to the npz file $PYBP_TEST_OUT and prints whether the pool ran a job on
    several threads) with PYBP_NUM_THREADS = each of threads; checks that the runs on several threads did split.
    Returns {threads: {name: array}}."""
    runs = {t: _run(code, PYBP_NUM_THREADS=str(t), PYBP_TEST_OUT=str(tmp_path / f"t{t}.npz")) for t in threads}
    for t, out in runs.items():
        assert out.returncode == 0 and out.stdout.split() == [str(t > 1)], out.stderr
    return {t: dict(np.load(tmp_path / f"t{t}.npz")) for t in runs}


@pytest.fixture
def two_threads():
    before = _core.get_num_threads()
    pybp.set_num_threads(2)
    try:
        yield
    finally:
        pybp.set_num_threads(before)


def _gemm_ok(a):
    np.testing.assert_allclose(_core.gemm(a, a), a @ a, rtol=1e-10, atol=1e-9)


def _child_gemm(a, q):
    try:
        _gemm_ok(a)
        q.put("ok")
    except BaseException as e:  # reported to the parent
        q.put(repr(e))


def test_multiprocessing_fork_child_runs_parallel_gemm(two_threads):
    a = np.random.default_rng(0).standard_normal((600, 600))
    _gemm_ok(a)  # the parent's pool is running now
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_gemm, args=(a, q))
    p.start()
    p.join(60)
    if p.is_alive():
        p.kill()
        p.join()
        pytest.fail("fork child hung in its first parallel GEMM")
    assert p.exitcode == 0
    assert q.get(timeout=5) == "ok"
    _gemm_ok(a)  # and the parent's pool still works


def test_os_fork_child_runs_parallel_gemm_and_its_own_pool(two_threads):
    a = np.random.default_rng(1).standard_normal((600, 600))
    _gemm_ok(a)
    pid = os.fork()
    if pid == 0:  # child: exit code 0 only if a parallel GEMM completes correctly on a fresh pool
        code = 1
        try:
            _gemm_ok(a)
            code = 0 if _core.pool_workers() == 1 else 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("os.fork child hung in its first parallel GEMM")
        time.sleep(0.02)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    _gemm_ok(a)


@pytest.mark.parametrize("n", [0, -1, 257, 2**31 - 1, 2**31, 2**63, 10**30])
def test_set_num_threads_out_of_range_is_a_value_error(n):
    before = _core.get_num_threads()
    with pytest.raises(ValueError, match=rf"set_num_threads: n must be >= 1 and <= 256, got {n}"):
        pybp.set_num_threads(n)
    assert _core.get_num_threads() == before


@pytest.mark.parametrize("n", ["2", 2.0, None])
def test_set_num_threads_needs_an_integer(n):
    with pytest.raises(TypeError, match=r"set_num_threads: n must be an integer, got"):
        pybp.set_num_threads(n)


def test_max_threads_is_documented_value():
    assert _core.MAX_THREADS == 256


def test_thread_count_is_process_wide():
    """A count set in one Python thread holds in the others (OpenMP's was per OS thread). Observable: with one
    thread the pool never starts a worker, whichever thread runs the GEMMs."""
    out = _run("""
        import threading, numpy as np, pybp
        from pybp import _core
        a = np.ones((600, 600))
        pybp.set_num_threads(1)
        seen = {}
        def other():
            seen["count"] = _core.get_num_threads()
            _core.gemm(a, a)
        t = threading.Thread(target=other); t.start(); t.join()
        print(seen["count"], _core.pool_workers(), _core.pool_stats()["parallel"])
        t = threading.Thread(target=pybp.set_num_threads, args=(2,)); t.start(); t.join()
        _core.gemm(a, a)  # its first job runs on 2 threads whatever the load (no back-off yet)
        print(_core.get_num_threads(), _core.pool_workers(), min(_core.pool_stats()["parallel"], 1))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0", "0", "2", "1", "1"]


def test_thread_count_default_follows_omp_num_threads():
    """Process pools (Dask's nanny, for one) set OMP_NUM_THREADS=1 in their workers; pybp honours it."""
    out = _run("from pybp import _core; print(_core.get_num_threads())", OMP_NUM_THREADS="1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1"]


def test_refused_threads_are_an_exception_not_an_exit():
    """With address space for only a few more thread stacks, asking for 64 threads raises RuntimeError naming
    how many run, and the kernels keep working on those (libgomp printed an error and exited the process)."""
    out = _run("""
        import resource, numpy as np, pybp
        from pybp import _core
        a = np.ones((600, 600))
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (size + 48 * 2**20, resource.RLIM_INFINITY))
        try:
            pybp.set_num_threads(64)
        except RuntimeError as e:
            print("refused:", e)
        n = _core.get_num_threads()
        assert 1 <= n < 64, n
        assert (_core.gemm(a, a) == 600.0).all()
        print("threads", n)
    """)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "refused: set_num_threads: the system refused to create more threads" in out.stdout
    assert "threads" in out.stdout.split("\n")[-2]


def test_parallel_gemm_from_many_python_threads(two_threads):
    """Python threads calling parallel GEMMs at once share one pool (one job at a time, the others run on their
    caller): every result is right and nothing deadlocks."""
    rng = np.random.default_rng(2)
    mats = [rng.standard_normal((300, 300)) for _ in range(4)]
    want = [m @ m for m in mats]
    errors = []

    def run(i):
        try:
            for _ in range(10):
                np.testing.assert_allclose(_core.gemm(mats[i], mats[i]), want[i], rtol=1e-10, atol=1e-9)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


# Each C++ binding that may copy an input, called with an input whose copy cannot be allocated: broadcast views
# of one element that would copy to terabytes (no real memory needed). Some copies come after another array
# passed unchanged: that one is a C-contiguous view of terabytes over a few bytes ("fake"), which only a kernel run
# would read (the copy fails first). The numpy and numba backends get the cases whose output alone cannot be
# allocated (the others they would compute on the views, for hours). Run in a child: a regression crashes the
# child, not pytest.
_ALLOC_CASES = r"""
import numpy as np, pybp
from numpy.lib.stride_tricks import as_strided
from pybp import _backend
K = _backend._state["module"]
HUGE = (2**20, 2**20)  # 2**40 elements: a copy needs terabytes
TALL, WIDE = (2**40, 1), (1, 2**40)
def bc(shape=HUGE, dtype=np.float64):
    return np.broadcast_to(np.ones((), dtype), shape)
def unaligned_bc(shape):  # an unaligned float64 broadcast: the strided GEMM path must copy it
    buf = np.zeros(9, np.uint8)
    return np.broadcast_to(buf[1:].view(np.float64).reshape(()), shape)
def fake(shape=HUGE):  # (view, one real element just below it): disjoint address ranges, so no overlap error
    buf = np.zeros(2)
    return as_strided(buf[1:], shape=shape, strides=(shape[1] * 8, 8), writeable=True), buf[:1].reshape(())
big_output = {
    "relu_forward x": lambda: K.relu_forward(bc()),
    "sigmoid_forward x": lambda: K.sigmoid_forward(bc()),
    "sigmoid_backward dout, y": lambda: K.sigmoid_backward(bc(), bc()),
    "softmax x": lambda: K.softmax(bc()),
    "affine_forward x": lambda: K.affine_forward(bc(TALL), np.ones((1, 1)), np.ones(1)),
}
copy_only = {
    "affine_forward w": lambda: K.affine_forward(np.ones((1, 1)), bc(WIDE), bc((2**40,))),
    "affine_forward b": lambda: K.affine_forward(np.ones((1, 1)), fake(WIDE)[0], bc((2**40,))),
    "bias_grad dout": lambda: K.bias_grad(bc()),
    "softmax_cross_entropy x": lambda: K.softmax_cross_entropy(bc(TALL), np.zeros(1, np.int64)),
    "gemm a": lambda: K.gemm(unaligned_bc(WIDE), bc(TALL)),
    "gemm b": lambda: K.gemm(bc(WIDE), unaligned_bc(TALL)),
    "relu_backward mask": lambda: K.relu_backward(fake()[0], bc(dtype=bool)),
    "sgd_update grad": lambda: (lambda p, below: K.sgd_update(p, np.broadcast_to(below, HUGE), 0.1))(*fake()),
}
cases = dict(big_output, **(copy_only if COPIES else {}))
for name, call in cases.items():
    try:
        call()
        print(name, "| no error", flush=True)
    except MemoryError:
        print(name, "| MemoryError", flush=True)
    except Exception as e:
        print(name, "|", type(e).__name__, str(e)[:200], flush=True)
print("cases", len(cases))
"""


@pytest.mark.parametrize("name", ["cpp", "numba", "numpy"])
def test_input_copy_that_cannot_be_allocated_is_a_memory_error(name):
    out = _run(f"COPIES = {name == 'cpp'}\n" + _ALLOC_CASES, PYBP_BACKEND=name)
    assert out.returncode == 0, f"child died (rc {out.returncode}) after:\n{out.stdout}\n{out.stderr[-2000:]}"
    *lines, count = out.stdout.strip().splitlines()
    assert count == f"cases {13 if name == 'cpp' else 5}" and len(lines) == int(count.split()[1]), out.stdout
    bad = [ln for ln in lines if not ln.endswith("| MemoryError")]
    assert bad == [], "\n".join(bad)


def test_train_threads_out_of_range_is_a_clean_cli_error():
    """`pybp train --threads 100000`: exit code 2 and a one-line message naming the flag and the pool's range, no
    traceback, before any data is read."""
    out = _run("import sys; from pybp.cli import main; sys.exit(main(['train', '--threads', '100000']))")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "--threads: must be an integer in 1..256, got '100000'" in out.stderr
    assert _core.MAX_THREADS == 256  # the CLI's range and the pool's cap must not drift apart
    assert "Traceback" not in out.stderr



def test_conv_kernels_give_the_same_bits_on_1_2_and_3_threads(tmp_path):
    """Convolution splits the batch over threads: forward and input gradient per image, the weight gradient as
    per-chunk partials (chunks of a few images, fixed by the shapes) added in chunk order. So every thread count
    gives the same bits, on each ISA path. Batches of 13 make several chunks, one of them short; the shapes take
    the transposed, the [W | b] and the few-taps forward paths, and (AVX-512) the direct forward and input
    gradient, in position tiles, (8x8, float32) in channel tiles and (one input channel) in row tiles. Each count runs in a fresh process whose first job (a weight gradient) is offered to its threads
    whatever the load (the pool's count of parallel jobs); each kernel runs 3 times, since tasks claim images in
    whatever order the threads come."""
    code = """
        import os, numpy as np
        from pybp import _core
        # >= 3 * 2^23 multiply-adds each: enough for 3 threads
        shapes = [(13, 32, 16, 16, 32, 3, 3, 1, 1), (13, 24, 27, 27, 48, 3, 3, 2, 1), (13, 1, 40, 40, 64, 5, 5, 1, 0),
                  (13, 64, 8, 8, 64, 3, 3, 1, 1), (13, 1, 128, 128, 16, 3, 3, 1, 1)]
        res = {}
        for isa in ("generic", _core.active_isa()):
            _core.set_isa(isa)
            for i, (n, c, h, w, fn, fh, fw, s, p) in enumerate(shapes):
                for dt in (np.float32, np.float64):
                    rng = np.random.default_rng(i)
                    x = rng.standard_normal((n, c, h, w)).astype(dt)
                    wt = rng.standard_normal((fn, c, fh, fw)).astype(dt)
                    b = rng.standard_normal(fn).astype(dt)
                    oh, ow = (h + 2 * p - fh) // s + 1, (w + 2 * p - fw) // s + 1
                    dout = rng.standard_normal((n, fn, oh, ow)).astype(dt)
                    for r in range(3):
                        key = f"{isa} {i} {np.dtype(dt).name} {r}"
                        res[key + " dw"], res[key + " db"] = _core.conv_backward_weights(dout, x, fh, fw, stride=s,
                                                                                         pad=p)
                        if len(res) == 2:
                            print(min(_core.pool_stats()["parallel"], 1))
                        res[key + " out"] = _core.conv_forward(x, wt, b, stride=s, pad=p)
                        res[key + " dx"] = _core.conv_backward_data(dout, wt, h, w, stride=s, pad=p)
        np.savez(os.environ["PYBP_TEST_OUT"], **res)
    """
    got = {}
    for t in (1, 2, 3):
        path = tmp_path / f"t{t}.npz"
        out = _run(code, PYBP_NUM_THREADS=str(t), PYBP_TEST_OUT=str(path))
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["0" if t == 1 else "1"]
        with np.load(path) as f:
            got[t] = {k: f[k] for k in f.files}
    assert len(got[1]) == 2 * 5 * 2 * 3 * 4
    for t in (1, 2, 3):
        for k, v in got[t].items():
            isa, shape, dt, _, name = k.split()
            first = got[1][f"{isa} {shape} {dt} 0 {name}"]
            assert v.tobytes() == first.tobytes(), f"{k} on {t} threads differs from run 0 on 1 thread"
