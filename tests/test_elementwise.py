"""ReLU and sigmoid kernels vs the NumPy reference and vs central differences, every backend."""
from __future__ import annotations

import numpy as np
import pytest

from line_offsets import at_line_offset

SHAPES = [(1,), (7,), (100, 50), (3, 5, 7), (0, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_relu_forward_matches_reference(backend, ref, dtype, shape, rng):
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[:: 3] = 0  # the boundary: x == 0 is masked, as in the book's Relu
    out, mask = backend.relu_forward(x)
    rout, rmask = ref.relu_forward(x)
    assert out.dtype == dtype and mask.dtype == np.bool_ and out.shape == shape
    np.testing.assert_array_equal(mask, rmask)
    np.testing.assert_array_equal(out, rout)


def test_relu_forward_in_place_and_nan(backend, dtype):
    x = np.array([-1.0, 0.0, 2.0, np.nan, -np.inf, np.inf], dtype=dtype)
    out, mask = backend.relu_forward(x, out=x)
    assert out is x
    np.testing.assert_array_equal(mask, [True, True, False, False, True, False])
    np.testing.assert_array_equal(x, np.array([0, 0, 2, np.nan, 0, np.inf], dtype=dtype))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_relu_backward_matches_reference(backend, ref, dtype, shape, rng):
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    _, mask = ref.relu_forward(x)
    np.testing.assert_array_equal(backend.relu_backward(dout, mask), ref.relu_backward(dout, mask))
    d2 = dout.copy()
    assert backend.relu_backward(d2, mask, out=d2) is d2
    np.testing.assert_array_equal(d2, ref.relu_backward(dout, mask))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_sigmoid_matches_reference(backend, ref, dtype, shape, rng):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    # the kernels' exp is within 2 ulp of numpy's, then 1 + e, the division and (backward) two products round
    # again: 2e-6 is 16 float32 ulp, 1e-14 45 float64 ulp
    tol = {"rtol": 2e-6, "atol": 0} if dtype == np.float32 else {"rtol": 1e-14, "atol": 0}
    y = backend.sigmoid_forward(x)
    np.testing.assert_allclose(y, ref.sigmoid_forward(x), **tol)
    dout = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(backend.sigmoid_backward(dout, y), ref.sigmoid_backward(dout, y), **tol)


@pytest.mark.parametrize("kernel", ["relu_backward", "sigmoid_backward"])
def test_backward_kernels_at_every_offset_in_a_line(backend, ref, dtype, kernel, rng):
    """The C++ backward kernels peel elements until the output reaches a 64-byte line: every start offset in a line,
    lengths around the peel, inputs at other offsets than the output, and in place."""
    lane = 64 // np.dtype(dtype).itemsize
    tol = {"rtol": 2e-6, "atol": 0} if dtype == np.float32 else {"rtol": 1e-14, "atol": 0}
    for off in range(lane):
        for n in (1, lane - off - 1, lane - off, lane - off + 1, 2 * lane + 3, 4096 + 5):
            if n < 1:
                continue
            dout = at_line_offset(n, dtype, (off + 3) % lane)
            dout[...] = rng.standard_normal(n)
            if kernel == "relu_backward":
                other = at_line_offset(n, np.bool_, off)
                other[...] = rng.random(n) < 0.5
            else:
                other = at_line_offset(n, dtype, off)
                other[...] = rng.random(n)
            want = getattr(ref, kernel)(dout, other)
            out = at_line_offset(n, dtype, off)
            assert getattr(backend, kernel)(dout, other, out=out) is out
            np.testing.assert_allclose(out, want, **tol, err_msg=f"offset {off}, n {n}")
            in_place = at_line_offset(n, dtype, off)
            in_place[...] = dout
            getattr(backend, kernel)(in_place, other, out=in_place)
            np.testing.assert_allclose(in_place, want, **tol, err_msg=f"in place, offset {off}, n {n}")


def test_sigmoid_extremes(backend, dtype):
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4, np.nan], dtype=dtype)
    y = backend.sigmoid_forward(x)
    assert y[0] == 0 and y[2] == 0.5 and y[3] == 1 and y[4] == 1 and np.isnan(y[5])
    assert 0 <= y[1] < 1e-40


def _central_diff(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        old = x.flat[i]
        x.flat[i] = old + h
        fp = f(x)
        x.flat[i] = old - h
        fm = f(x)
        x.flat[i] = old
        g.flat[i] = (fp - fm) / (2 * h)
    return g


def test_backward_kernels_match_central_differences(backend, rng):
    x = rng.standard_normal((4, 6))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink
    w = rng.standard_normal((4, 6))
    _, mask = backend.relu_forward(x)
    # h = 1e-6 in float64: truncation ~h^2, cancellation ~eps * |f| / h = 1e-9 (|f| ~ 5): atol 1e-8
    num = _central_diff(lambda z: float(np.sum(backend.relu_forward(z)[0] * w)), x)
    np.testing.assert_allclose(backend.relu_backward(w, mask), num, rtol=1e-6, atol=1e-8)
    y = backend.sigmoid_forward(x)
    num = _central_diff(lambda z: float(np.sum(backend.sigmoid_forward(z) * w)), x)
    np.testing.assert_allclose(backend.sigmoid_backward(w, y), num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numba_exp_constants_are_the_compiled_ones(dtype):
    """pybp._numba's exp reads its constants from one table, which must be csrc/vexp.hpp's, value for value."""
    from pybp import _core
    from pybp._numba import EXP_CONST
    want, got = _core._exp_constants(dtype), EXP_CONST[dtype]
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_array_equal(np.asarray(got[name], dtype), np.asarray(want[name], dtype), err_msg=name)


def test_relu_on_1_2_and_3_threads_matches_reference(tmp_path):
    """Large ReLUs split into blocks over the pool's threads: 1,000,003 elements (not whole blocks), with NaN, -0 and
    exact zeros, forward (new and in place) and backward, f32 and f64, equal to the NumPy reference on every count."""
    from test_threads import runs_on_threads
    code = """
        import os, numpy as np
        from pybp import _core
        res = {}
        for dt in (np.float32, np.float64):
            rng = np.random.default_rng(0)
            x = rng.standard_normal(1_000_003).astype(dt)
            x[::7], x[1::11], x[2::13] = 0, np.nan, -0.0
            dout = rng.standard_normal(x.shape).astype(dt)
            name = np.dtype(dt).name
            res[name + " x"], res[name + " dout"] = x.copy(), dout.copy()
            res[name + " out"], res[name + " mask"] = _core.relu_forward(x)
            res[name + " dx"] = _core.relu_backward(dout, res[name + " mask"])
            inplace, _ = _core.relu_forward(x, out=x)
            res[name + " inplace"] = inplace
            res[name + " dx inplace"] = _core.relu_backward(dout, res[name + " mask"], out=dout)
        print(_core.pool_stats()["parallel"] > 0)
        np.savez(os.environ["PYBP_TEST_OUT"], **res)
    """
    got = runs_on_threads(code, tmp_path)
    for t, r in got.items():
        for name in ("float32", "float64"):
            x, dout = r[name + " x"], r[name + " dout"]
            mask = x <= 0
            want = np.where(mask, 0, x).astype(x.dtype)
            np.testing.assert_array_equal(r[name + " mask"], mask, err_msg=f"{t} threads")
            for k in ("out", "inplace"):
                assert r[f"{name} {k}"].tobytes() == want.tobytes(), f"{name} {k} on {t} threads"
            for k in ("dx", "dx inplace"):
                assert r[f"{name} {k}"].tobytes() == np.where(mask, 0, dout).astype(x.dtype).tobytes(), \
                    f"{name} {k} on {t} threads"
