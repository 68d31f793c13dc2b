"""Softmax and the fused softmax-cross-entropy vs the reference, float64 central differences and edge values."""
from __future__ import annotations

import numpy as np
import pytest

from pybp import _core

# A few ulp of T: the kernels' exp (within 2 ulp) against numpy.exp, plus the division by the row sum.
RTOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-13}
SOFTMAX_SHAPES = [(1,), (10,), (100, 10), (3, 1), (7, 33), (2, 3, 4), (129, 10), (5, 1000)]


@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
def test_softmax_matches_reference(backend, ref, dtype, rng, shape):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    # 4x: both sides' exp errors (2 ulp each) meet; atol covers outputs that underflow to subnormals
    np.testing.assert_allclose(backend.softmax(x), ref.softmax(x), rtol=RTOL[dtype] * 4, atol=1e-30)


@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
def test_softmax_rows_sum_to_one_and_work_in_place(backend, dtype, rng, shape):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    got = backend.softmax(x)
    # 50 * sqrt(c): c terms each a few ulp off, their rounding errors adding like a random walk; 50 is headroom
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=0, atol=50 * RTOL[dtype] * np.sqrt(shape[-1]))
    inplace = x.copy()
    assert backend.softmax(inplace, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, got)


XENT_CASES = pytest.mark.parametrize("n,c", [(1, 1), (1, 10), (100, 10), (129, 7), (3, 300)])
XENT_LABELS = pytest.mark.parametrize("labels", ["index", "onehot", "soft"])


def _xent_inputs(rng, dtype, n, c, labels):
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = rng.integers(0, c, n)
    if labels == "onehot":
        t = np.eye(c, dtype=dtype)[t]
    elif labels == "soft":
        t = rng.random((n, c)).astype(dtype)
        t /= t.sum(axis=1, keepdims=True)
    return x, t


@XENT_CASES
@XENT_LABELS
def test_softmax_cross_entropy_matches_reference(backend, ref, dtype, rng, n, c, labels):
    x, t = _xent_inputs(rng, dtype, n, c, labels)
    loss, y, dx = backend.softmax_cross_entropy(x, t)
    rloss, ry, rdx = ref.softmax_cross_entropy(x, t)
    # 10x: the loss sums n log-sum-exps, each a few ulp of T off (logits and exp in T, sums in double)
    assert loss == pytest.approx(rloss, rel=10 * RTOL[dtype], abs=10 * RTOL[dtype])
    # y: as softmax (4x); dx = (y - t) / n inherits y's error, scaled by 1 / n (atol) where y - t cancels
    np.testing.assert_allclose(y, ry, rtol=4 * RTOL[dtype], atol=1e-30)
    np.testing.assert_allclose(dx, rdx, rtol=4 * RTOL[dtype], atol=4 * RTOL[dtype] / n)


@XENT_CASES
@XENT_LABELS
def test_softmax_cross_entropy_loss_is_float_and_dx_rows_sum_to_zero(backend, dtype, rng, n, c, labels):
    x, t = _xent_inputs(rng, dtype, n, c, labels)
    loss, y, dx = backend.softmax_cross_entropy(x, t)
    assert isinstance(loss, float)
    # sum_j (y_ij - t_ij) / n = (1 - 1) / n: y's row sum is 1 within ~c ulp, divided by n; 20x bounds c / n = 100
    np.testing.assert_allclose(dx.sum(axis=1), 0.0, atol=20 * RTOL[dtype])


@pytest.mark.parametrize("n", [1, 3, 7, 100, 1000])
def test_float32_gradient_is_the_reference_formula_exactly(backend, rng, n):
    # dx = (y - onehot) / N computed in float64 and rounded once to float32 (the reference's formula), from the
    # backend's own y: exact equality, so a cheaper float formula (e.g. y * float32(1 / N)) would fail here.
    x = (rng.standard_normal((n, 10)) * 3).astype(np.float32)
    t = rng.integers(0, 10, n)
    _, y, dx = backend.softmax_cross_entropy(x, t)
    onehot = np.eye(10)[t]
    np.testing.assert_array_equal(dx, ((y.astype(np.float64) - onehot) / n).astype(np.float32))


def test_softmax_cross_entropy_out_arrays_are_filled_in_place(backend, dtype, rng):
    x = rng.standard_normal((20, 10)).astype(dtype)
    t = rng.integers(0, 10, 20).astype(np.int32)
    y, dx = np.empty_like(x), np.empty_like(x)
    loss, y2, dx2 = backend.softmax_cross_entropy(x, t, y, dx)
    assert y2 is y and dx2 is dx and np.isfinite(loss)


def test_arguments_by_position_and_keyword(backend, rng):
    # the C++ entry parses its arguments itself (no pybind11 dispatcher): same rules as a Python def
    x = rng.standard_normal((4, 3))
    t = np.array([0, 2, 1, 1])
    want = backend.softmax_cross_entropy(x, t)
    y, dx = np.empty_like(x), np.empty_like(x)
    calls = [lambda: backend.softmax_cross_entropy(x=x, t=t),
             lambda: backend.softmax_cross_entropy(x, t=t, dx=dx),
             lambda: backend.softmax_cross_entropy(t=t, x=x, y=y, dx=None),
             lambda: backend.softmax_cross_entropy(x, t, None, dx)]
    for call in calls:
        loss, y2, dx2 = call()
        assert loss == want[0]
        np.testing.assert_array_equal(y2, want[1])
        np.testing.assert_array_equal(dx2, want[2])
    assert backend.softmax_cross_entropy(x, t, y=y)[1] is y
    assert backend.softmax_cross_entropy(x, t, None, dx)[2] is dx
    with pytest.raises(TypeError, match="missing.*'t'"):
        backend.softmax_cross_entropy(x)
    with pytest.raises(TypeError, match="missing.*'x'"):
        backend.softmax_cross_entropy(t=t)
    with pytest.raises(TypeError, match="takes from 2 to 4 positional arguments but 5 were given"):
        backend.softmax_cross_entropy(x, t, y, dx, None)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        backend.softmax_cross_entropy(x, t, z=y)
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        backend.softmax_cross_entropy(x, t, x=x)


def test_gradient_matches_central_differences(backend):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 5))
    t = rng.integers(0, 5, 6)
    _, _, dx = backend.softmax_cross_entropy(x, t)
    h = 1e-5
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = (backend.softmax_cross_entropy(xp, t)[0] - backend.softmax_cross_entropy(xm, t)[0]) / (2 * h)
    # central differences in float64 with h = 1e-5: truncation ~h^2 = 1e-10, cancellation ~eps / h = 2e-11
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_huge_logits_give_finite_loss_and_exact_gradients(backend, dtype, scale):
    x = np.array([[scale, 0.0, -scale], [0.0, scale, 1.0]], dtype)
    t = np.array([0, 2])
    loss, y, dx = backend.softmax_cross_entropy(x, t)
    assert np.isfinite(loss) and np.isfinite(y).all() and np.isfinite(dx).all()
    # row 0: label has the largest or smallest logit; row 1: label 2 loses by |scale| - 1 when scale > 0
    want0 = 0.0 if scale > 0 else 2e4
    want1 = scale - 1.0 if scale > 0 else np.log(1 + np.exp(-1.0) + np.exp(scale - 1.0))
    # the loss is ~1e4: the logits' own rounding in float32 (half an ulp, 5e-4 at 1e4) is 5e-8 of it
    assert loss == pytest.approx((want0 + want1) / 2, rel=1e-6)


def test_cpp_isa_paths_agree(dtype, rng, isa):
    x = (rng.standard_normal((130, 10)) * 4).astype(dtype)
    t = rng.integers(0, 10, 130)
    (loss, y, dx), (loss2, y2, dx2) = isa.run(lambda: _core.softmax_cross_entropy(x, t))
    # the same operations on both paths, except that the AVX2 exp fuses its multiply-adds: each exp within 2 ulp
    # of exact, so 4 ulp apart at most (and dx = (y - t) / n with the same bound, absolute where y - t cancels)
    eps = float(np.finfo(dtype).eps)
    assert loss == pytest.approx(loss2, rel=4 * eps)
    np.testing.assert_allclose(y, y2, rtol=4 * eps, atol=0)
    np.testing.assert_allclose(dx, dx2, rtol=4 * eps, atol=4 * eps / len(t))


def test_exp_accuracy_over_the_range(dtype):
    """softmax of [x, 0] is the logistic function; checks the vectorised exp across its whole range."""
    xs = np.linspace(-100 if dtype == np.float32 else -700, 80 if dtype == np.float32 else 700, 20001).astype(dtype)
    pairs = np.stack([np.zeros_like(xs), -xs], axis=1)  # softmax(...)[0] = 1 / (1 + exp(-xs))
    got = _core.softmax(pairs)[:, 0]
    want = 1.0 / (1.0 + np.exp(-xs.astype(np.float64)))
    # 8x: exp's 2 ulp, then 1 + e and the division round again, and softmax's max-subtraction of two values;
    # subnormal results carry fewer digits: an absolute tolerance of two subnormal steps covers them
    np.testing.assert_allclose(got, want, rtol=8 * RTOL[dtype], atol=2 * np.finfo(dtype).smallest_subnormal)
