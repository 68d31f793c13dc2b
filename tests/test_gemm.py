"""GEMM family vs the NumPy reference (float64 products) and the plain C++ reference GEMM, every backend."""
from __future__ import annotations

import numpy as np
import pytest

from pybp import _core

# Named tolerances: a K-term dot product in T accumulates ~sqrt(K) rounding errors of size eps(T) * |terms|.
EPS = {np.dtype(np.float32): 1.2e-7, np.dtype(np.float64): 2.3e-16}
SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 9), (7, 13, 5), (17, 19, 23), (6, 16, 256), (13, 33, 257),
          (100, 50, 784), (100, 784, 50), (784, 50, 100), (31, 257, 300), (3, 5, 3000)]


def _tol(dtype, k, a, b):
    scale = np.sqrt(k) * np.abs(a).max(initial=1) * np.abs(b).max(initial=1)
    # 8x: sqrt(K) is the typical growth of a random walk of roundings, not a bound; 8 sigma keeps the tests
    # from failing by chance while a wrong term (an error of ~|a| |b|, K^0.5 / 8 times larger) still fails
    return 8 * EPS[np.dtype(dtype)] * scale


def _operands(rng, dtype, m, n, k, ta, tb):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_matches_float64_product(backend, dtype, rng, m, n, k, ta, tb):
    a, b = _operands(rng, dtype, m, n, k, ta, tb)
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    got = backend.gemm(a, b, trans_a=ta, trans_b=tb)
    assert got.dtype == dtype and got.shape == (m, n)
    np.testing.assert_allclose(got, want, rtol=0, atol=_tol(dtype, k, a, b))


# Narrow right edges (n % 16 <= 4 in f32, n % 8 <= 2 in f64) take their own kernels when A is read in place;
# m and k leave remainders of their row groups and vector lengths.
@pytest.mark.parametrize("n", [1, 2, 3, 4, 18, 20, 50, 66])
@pytest.mark.parametrize("m,k", [(1, 1), (5, 7), (49, 9), (131, 100)])
@pytest.mark.parametrize("ta", [False, True])
def test_gemm_narrow_edges(backend, dtype, rng, m, n, k, ta):
    a, b = _operands(rng, dtype, m, n, k, ta, False)
    c = rng.standard_normal((m, n)).astype(dtype)
    want = 0.5 * ((a.T if ta else a).astype(np.float64) @ b.astype(np.float64)) + 2.0 * c
    backend.gemm(a, b, c, trans_a=ta, alpha=0.5, beta=2.0)
    # plus the roundings of alpha * AB + beta * C (a few ulp of the result; 8 as in _tol)
    np.testing.assert_allclose(c, want, rtol=0, atol=_tol(dtype, k, a, b) + 8 * EPS[np.dtype(dtype)] * np.abs(want).max())


# Every row count a block of the narrow-edge kernels can hold (up to 48 rows, the whole of m here): 1 to 6 vectors
# per block, the last one full or masked, after any number of full 6-vector blocks; each edge width.
@pytest.mark.parametrize("ta", [False, True])
def test_cpp_gemm_narrow_edge_every_row_count(dtype, rng, ta):
    widths = (17, 18, 19, 20) if dtype == np.float32 else (9, 10)
    for n in widths:
        for m in range(1, 100):
            a, b = _operands(rng, dtype, m, n, 37, ta, False)
            got = _core.gemm(a, b, trans_a=ta)
            np.testing.assert_allclose(got, _core.gemm_ref(a, b, ta, False), rtol=0, atol=_tol(dtype, 37, a, b),
                                       err_msg=f"m={m} n={n}")


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 0.25), (0.0, 2.0)])
def test_gemm_alpha_beta_in_place(backend, dtype, rng, alpha, beta):
    a, b = _operands(rng, dtype, 37, 29, 300, False, False)
    c = rng.standard_normal((37, 29)).astype(dtype)
    c0 = c.copy()
    out = backend.gemm(a, b, c, alpha=alpha, beta=beta)
    assert out is c  # in place on the caller's array
    want = alpha * (a.astype(np.float64) @ b.astype(np.float64)) + beta * c0
    # alpha scales the product's error; 1e-6 in float32: beta * c (|c| ~ 3) rounded in float32, a few ulp of 3
    np.testing.assert_allclose(c, want, rtol=0, atol=_tol(dtype, 300, a, b) * max(1, abs(alpha)) + 1e-6 * (dtype == np.float32))


def test_gemm_beta_zero_ignores_nan_in_c(backend, dtype, rng):
    a, b = _operands(rng, dtype, 9, 11, 13, False, False)
    c = np.full((9, 11), np.nan, dtype)
    backend.gemm(a, b, c)
    assert np.isfinite(c).all()


@pytest.mark.parametrize("view", ["slice", "negative", "fortran", "transposed-slice"])
def test_gemm_strided_operands(backend, dtype, rng, view):
    base_a = rng.standard_normal((60, 80)).astype(dtype)
    base_b = rng.standard_normal((80, 70)).astype(dtype)
    if view == "slice":
        a, b = base_a[::2, 1::3], base_b[::3, ::2]
    elif view == "negative":
        a, b = base_a[::-1, ::-2], base_b[::-2, ::-1]
    elif view == "fortran":
        a, b = np.asfortranarray(base_a), np.asfortranarray(base_b)
    else:
        a, b = base_b[:50:2, 3:43].T, base_a[5:45, ::3].T
    a = a[:, : min(a.shape[1], b.shape[0])]
    b = b[: a.shape[1]]
    want = a.astype(np.float64) @ b.astype(np.float64)
    got = backend.gemm(a, b)
    np.testing.assert_allclose(got, want, rtol=0, atol=_tol(dtype, a.shape[1], a, b))


@pytest.mark.parametrize("m,n,k", [(7, 13, 5), (100, 50, 784), (61, 300, 520)])
def test_cpp_gemm_generic_and_isa_paths_match_reference_gemm(dtype, rng, isa, m, n, k):
    for ta, tb in [(False, False), (True, False), (False, True)]:
        a, b = _operands(rng, dtype, m, n, k, ta, tb)
        generic, fast = isa.run(lambda: _core.gemm(a, b, trans_a=ta, trans_b=tb))
        ref = _core.gemm_ref(a, b, ta, tb)
        # 2x: the oracle accumulates in T as well, so each side carries up to _tol of rounding error
        np.testing.assert_allclose(generic, ref, rtol=0, atol=2 * _tol(dtype, k, a, b))
        np.testing.assert_allclose(fast, ref, rtol=0, atol=2 * _tol(dtype, k, a, b))


# (101, 50, 784) and (120, 40, 600, tb): fewer B panel groups than threads, so B is packed in row slices
# (row-major B; column-major B through the transposing pack; the f32 narrow edge panel).
@pytest.mark.parametrize("m,n,k,ta,tb", [(300, 260, 400, False, False), (789, 50, 100, True, False),
                                         (101, 50, 784, False, False), (120, 40, 600, False, True),
                                         (97, 18, 1100, False, True)])
def test_cpp_gemm_threaded_equals_single_thread(dtype, rng, m, n, k, ta, tb):
    a, b = _operands(rng, dtype, m, n, k, ta, tb)
    prev = _core.get_num_threads()
    try:
        _core.set_num_threads(1)
        one = _core.gemm(a, b, trans_a=ta, trans_b=tb)
        results = {}
        for nt in (2, 3):
            _core.set_num_threads(nt)
            results[nt] = _core.gemm(a, b, trans_a=ta, trans_b=tb)
    finally:
        _core.set_num_threads(prev)
    # the same blocking and summation order per element whatever the thread count: identical results
    for nt, got in results.items():
        np.testing.assert_array_equal(one, got, err_msg=f"{nt} threads")
    np.testing.assert_allclose(one, _core.gemm_ref(a, b, ta, tb), rtol=0, atol=_tol(dtype, k, a, b))


def test_affine_forward_and_bias_grad(backend, dtype, rng):
    for n, k, m in [(1, 1, 1), (100, 784, 50), (7, 3, 300), (33, 65, 17)]:
        x = rng.standard_normal((n, k)).astype(dtype)
        w = rng.standard_normal((k, m)).astype(dtype)
        b = rng.standard_normal(m).astype(dtype)
        want = x.astype(np.float64) @ w.astype(np.float64) + b
        out = np.empty((n, m), dtype)
        assert backend.affine_forward(x, w, b, out) is out
        # plus the bias addition: 4 ulp of outputs up to ~10 (standard normal operands)
        np.testing.assert_allclose(out, want, rtol=0, atol=_tol(dtype, k, x, w) + 4 * EPS[np.dtype(dtype)] * 10)
        dout = rng.standard_normal((n, m)).astype(dtype)
        db = backend.bias_grad(dout)
        # an in-order sum of n terms in T: at most n roundings of partial sums up to ~5 (standard normal), 4x margin
        np.testing.assert_allclose(db, dout.astype(np.float64).sum(axis=0), rtol=0,
                                   atol=4 * n * EPS[np.dtype(dtype)] * 5)
