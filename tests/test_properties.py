"""Hypothesis property tests over every backend: softmax, loss, GEMM on random shapes/strides, optimizer updates.

max_examples are explicit so the number of examples run is known: 5 properties x 60 examples x 3 backends = 900.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

EXAMPLES = 60
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DTYPES = st.sampled_from([np.float32, np.float64])


def _logits(draw, dtype, n, c):
    return draw(hnp.arrays(dtype, (n, c), elements=st.floats(-50, 50, width=32)))


@SETTINGS
@given(data=st.data(), dtype=DTYPES, n=st.integers(1, 40), c=st.integers(1, 30))
def test_softmax_rows_are_distributions(backend, data, dtype, n, c):
    x = _logits(data.draw, dtype, n, c)
    y = backend.softmax(x)
    assert ((y >= 0) & (y <= 1)).all()
    # up to c = 30 terms, each a few ulp off: 30 * eps(float32) = 4e-6; 1e-12 in float64 keeps the same headroom
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-5 if dtype == np.float32 else 1e-12)


def _labels(draw, n, c):
    return np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))


@SETTINGS
@given(data=st.data(), dtype=DTYPES, n=st.integers(1, 40), c=st.integers(1, 30))
def test_loss_matches_reference(backend, ref, data, dtype, n, c):
    x = _logits(data.draw, dtype, n, c)
    t = _labels(data.draw, n, c)
    loss = backend.softmax_cross_entropy(x, t)[0]
    rloss = ref.softmax_cross_entropy(x, t)[0]
    # both accumulate in double from the same T logits; only their exp (a few ulp of T) differ
    assert abs(loss - rloss) <= (1e-5 if dtype == np.float32 else 1e-12) * max(1.0, abs(rloss))


@SETTINGS
@given(data=st.data(), dtype=DTYPES, n=st.integers(1, 40), c=st.integers(1, 30))
def test_loss_nonnegative_finite_and_dx_rows_sum_to_zero(backend, data, dtype, n, c):
    x = _logits(data.draw, dtype, n, c)
    t = _labels(data.draw, n, c)
    loss, y, dx = backend.softmax_cross_entropy(x, t)
    assert np.isfinite(loss) and loss >= 0
    # c terms (y - t) / n, each within about one ulp of 1: c * eps(T) with a few ulp of headroom
    np.testing.assert_allclose(dx.sum(axis=1), 0.0, atol=(1e-6 if dtype == np.float32 else 1e-15) * c)


@st.composite
def _operand(draw, rows, cols, dtype):
    """A (rows, cols) view with random layout: C order, Fortran order, strided slice or reversed."""
    kind = draw(st.sampled_from(["c", "f", "slice", "reversed"]))
    base = draw(hnp.arrays(dtype, (rows * 2, cols * 3), elements=st.floats(-4, 4, width=32)))
    if kind == "c":
        return np.ascontiguousarray(base[:rows, :cols])
    if kind == "f":
        return np.asfortranarray(base[:rows, :cols])
    if kind == "slice":
        return base[::2, ::3][:rows, :cols]
    return base[::-1, ::-1][:rows, :cols]


@SETTINGS
@given(data=st.data(), dtype=DTYPES, m=st.integers(1, 70), n=st.integers(1, 70), k=st.integers(1, 70),
       ta=st.booleans(), tb=st.booleans(), alpha=st.sampled_from([1.0, -0.5, 2.0]), beta=st.sampled_from([0.0, 1.0, 0.5]))
def test_gemm_random_shapes_strides_transposes(backend, data, dtype, m, n, k, ta, tb, alpha, beta):
    a = data.draw(_operand(k, m, dtype) if ta else _operand(m, k, dtype))
    b = data.draw(_operand(n, k, dtype) if tb else _operand(k, n, dtype))
    c = data.draw(hnp.arrays(dtype, (m, n), elements=st.floats(-4, 4, width=32)))
    c0 = c.astype(np.float64)
    want = alpha * ((a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)) + beta * c0
    got = backend.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=ta, trans_b=tb)
    assert got is c
    eps = np.finfo(dtype).eps / 2
    # the standard worst-case bound for a k-term dot product in floating point, elementwise:
    # |error| <= (k + 2) eps (|alpha| |op(A)| @ |op(B)| + |beta c|)
    bound = (k + 2) * eps * (abs(alpha) * (np.abs(a.T if ta else a).astype(np.float64)
                                           @ np.abs(b.T if tb else b).astype(np.float64)) + abs(beta) * np.abs(c0))
    assert (np.abs(c - want) <= bound + np.finfo(dtype).tiny).all()


UPDATES = {
    "sgd_update": ([], dict(lr=0.01)),
    "momentum_update": (["v"], dict(lr=0.05, momentum=0.9)),
    "nesterov_update": (["v"], dict(lr=0.05, momentum=0.9)),
    "adagrad_update": (["h"], dict(lr=0.01, eps=1e-7)),
    "rmsprop_update": (["h"], dict(lr=0.01, decay_rate=0.99, eps=1e-7)),
    "adam_update": (["m", "v"], dict(lr_t=0.003, beta1=0.9, beta2=0.999, eps=1e-7)),
}


@SETTINGS
@given(data=st.data(), dtype=DTYPES, kernel=st.sampled_from(sorted(UPDATES)), size=st.integers(1, 200))
def test_optimizer_update_equals_reference_formula(backend, ref, data, dtype, kernel, size):
    names, hyper = UPDATES[kernel]
    arr = lambda lo, hi: data.draw(hnp.arrays(dtype, size, elements=st.floats(lo, hi, width=32)))  # noqa: E731
    p, g = arr(-10, 10), arr(-10, 10)
    state = {k: arr(0, 5) for k in names}
    p2, st2 = p.copy(), {k: v.copy() for k, v in state.items()}
    getattr(backend, kernel)(p, g, *state.values(), **hyper)
    getattr(ref, kernel)(p2, g, *st2.values(), **hyper)
    np.testing.assert_array_equal(p, p2)
    for k in state:
        np.testing.assert_array_equal(state[k], st2[k])


@SETTINGS
@given(data=st.data(), dtype=DTYPES, shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=20))
def test_relu_sigmoid_match_reference(backend, ref, data, dtype, shape):
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-30, 30, width=32)))
    out, mask = backend.relu_forward(x)
    rout, rmask = ref.relu_forward(x)
    np.testing.assert_array_equal(out, rout)
    np.testing.assert_array_equal(mask, rmask)
    # exp within 2 ulp of numpy's, plus the rounding of 1 + e and of the division: 4e-7 (3.4 float32 ulp),
    # 1e-15 (4.5 float64 ulp); atol only for values below float32's normal range
    np.testing.assert_allclose(backend.sigmoid_forward(x), ref.sigmoid_forward(x),
                               rtol=4e-7 if dtype == np.float32 else 1e-15, atol=1e-38)
