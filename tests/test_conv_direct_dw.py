"""The C++ direct weight gradient (csrc/conv_direct_dw.inc: stride 1, 3- and 5-wide filters) at its edges, vs the
direct-loop definition (tests/conv_loops.py), every backend, both dtypes, and each ISA path of the C++ build.

Edges of the position-vector tiles (AVX-512 f32: 4 filters x 2 filter rows, leftover rows as 8 filters x 1 row;
AVX2: 3 x 1): filter counts and filter rows (C * FH) that leave partial tiles, output widths that are not whole
vectors (the copy of dout into padded rows ends with a masked load), pad 0/1/2, C = 1, batches that are not a
whole number of chunks. Edges of the filter-vector tiles (AVX-512, F a multiple of the vector, at least two
vectors for 5-wide filters: 1 (3-wide), 2, 3, 4 and 5 vectors, row blocks of 8 / 4 / 2 rows with remainders)."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import conv_loops as L
from test_threads import runs_on_threads

# (N, C, H, W, F, FH, FW, pad); stride 1. Comments: the path and edge each one exercises (f32 / f64 vector of 16 / 8).
GEOMS = [
    (5, 1, 20, 17, 9, 3, 3, 1),   # C = 1: 3 rows = 2 + 1 (9 = 8 + 1 filters); width 17 = 16 + 1; 5 = 4 + 1 images
    (2, 3, 9, 33, 7, 3, 3, 0),    # pad 0, 7 = 4 + 3 filters, 9 rows, width 31
    (3, 2, 11, 10, 6, 3, 3, 2),   # pad 2, width 12 (f64: 8 + 4)
    (2, 1, 12, 12, 30, 5, 5, 0),  # SimpleConvNet in miniature: 5-wide, 30 = 7 * 4 + 2 filters
    (2, 2, 7, 9, 5, 5, 5, 2),     # 5-wide, pad 2, 5 = 4 + 1 filters, 10 rows
    (3, 2, 4, 3, 4, 3, 3, 1),     # output 4 x 3: rows shorter than any vector
    (2, 1, 5, 5, 16, 5, 5, 0),    # a 1 x 1 output; f32: one vector of filters (position tiles), f64: two
    (3, 3, 9, 10, 16, 3, 3, 1),   # filter vectors, 3-wide: f32 1 (rows 8 + 1), f64 2 (rows 4 + 4 + 1)
    (2, 3, 8, 8, 32, 3, 3, 1),    # filter vectors: f32 2 (rows 4 + 4 + 1), f64 4 (rows 2 x 4 + 1)
    (2, 3, 6, 7, 48, 3, 3, 1),    # f32 3 filter vectors, f64 4 + 2; 9 rows (f32 2 x 4 + 1, f64 2 x 4 + 1, 4 + 4 + 1)
    (5, 2, 5, 5, 80, 3, 3, 0),    # f32 4 + 1 filter vectors, f64 4 + 4 + 2; 5 images
    (2, 1, 9, 8, 32, 5, 5, 2),    # filter vectors, 5-wide
    (3, 1, 9, 8, 5, 3, 3, 0),     # one 3x3 channel (dout read in place, shifted copies, L1-sized chunks of
                                  # images): pad 0, 5 = 3 + 2 filters
    (2, 1, 7, 9, 4, 3, 3, 2),     # one 3x3 channel, pad 2, 4 = 2 + 2 filters, 99 positions (f32: 6 vectors + 3)
    (5, 1, 20, 26, 16, 3, 3, 1),  # one 3x3 channel, conv1's 16 = 3 x 4 + 2 x 2 filters; 5 images in chunks of 2
                                  # (f32: 2 + 2 + 1) or 1 (f64)
    (3, 1, 5, 4, 7, 3, 3, 0),     # one 3x3 channel, 7 = 3 + 2 + 2 filters, 6 positions (less than a vector)
]
TOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


@functools.lru_cache(maxsize=None)
def _case(g, dtype_name):
    """(dout, x, dw, db) for geometry g: random data and the loops' weight and bias gradients (computed once)."""
    n, c, h, w, fn, fh, fw, p = g
    rng = np.random.default_rng(abs(hash(g)) % 2**32)
    x = rng.standard_normal((n, c, h, w)).astype(dtype_name)
    wt = np.zeros((fn, c, fh, fw))
    dout = rng.standard_normal((n, fn, h + 2 * p - fh + 1, w + 2 * p - fw + 1)).astype(dtype_name)
    _, dw, db = L.conv_backward(dout, x, wt, 1, p)
    return dout, x, dw, db


def _check(got, g, dtype):
    dout, x, dw, db = _case(g, np.dtype(dtype).name)
    tol = TOL[np.dtype(dtype)]
    assert got[0].dtype == got[1].dtype == dtype
    np.testing.assert_allclose(got[0], dw, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(got[1], db, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("g", GEOMS, ids=[str(g) for g in GEOMS])
def test_direct_weight_gradient_matches_loops(backend, dtype, g):
    dout, x, _, _ = _case(g, dtype.name)
    _check(backend.conv_backward_weights(dout, x, g[5], g[6], stride=1, pad=g[7]), g, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_direct_weight_gradient_on_each_isa_path(isa, dtype):
    """The AVX2 build's tiles (3 x 1 x 3, 2 x 1 x 5; no filter-vector tiles) and the generic build's GEMM path."""
    from pybp import _cpp

    def run():
        return [_cpp.conv_backward_weights(*_case(g, np.dtype(dtype).name)[:2], g[5], g[6], 1, g[7]) for g in GEOMS]
    for got in isa.run(run):
        for r, g in zip(got, GEOMS):
            _check(r, g, dtype)


def test_direct_weight_gradient_same_bits_on_1_2_and_3_threads(tmp_path):
    """The position-vector tiles (16 and 30 filters), the filter-vector ones (64) and the single-channel ones (C = 1,
    3x3), 3- and 5-wide, f32 and f64:
    chunks fixed by the shapes and added in chunk order, so 1, 2 and 3 threads give the same bits (13 images: one
    short chunk)."""
    code = """
        import os, numpy as np
        from pybp import _core
        shapes = [(13, 16, 28, 28, 16, 3, 1), (13, 3, 32, 32, 30, 5, 2), (13, 16, 14, 14, 64, 3, 1),
                  (13, 1, 112, 112, 16, 3, 1)]
        res = {}
        for i, (n, c, h, w, fn, k, p) in enumerate(shapes):
            for dt in (np.float32, np.float64):
                rng = np.random.default_rng(i)
                x = rng.standard_normal((n, c, h, w)).astype(dt)
                dout = rng.standard_normal((n, fn, h + 2 * p - k + 1, w + 2 * p - k + 1)).astype(dt)
                for r in range(2):
                    res[f"{i} {np.dtype(dt).name} {r} dw"], res[f"{i} {np.dtype(dt).name} {r} db"] = \\
                        _core.conv_backward_weights(dout, x, k, k, stride=1, pad=p)
        print(_core.pool_stats()["parallel"] > 0)
        np.savez(os.environ["PYBP_TEST_OUT"], **res)
    """
    got = runs_on_threads(code, tmp_path)
    assert len(got[1]) == 4 * 2 * 2 * 2
    for t in (1, 2, 3):
        for k, v in got[t].items():
            shape, dt, _, name = k.split()
            assert v.tobytes() == got[1][f"{shape} {dt} 0 {name}"].tobytes(), f"{k} on {t} threads differs"



@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_pixel_reaches_only_the_taps_that_see_it(backend, dtype, bad):
    """An inf or NaN pixel makes non-finite exactly the weight-gradient entries whose windows contain it, as in the
    definition: the position-vector tiles' zero garbage columns meet real pixels (0 * inf), so such images go to
    the im2col path. The pixel sits in column 0 and the last column, where the garbage windows reach it."""
    g = (2, 2, 9, 11, 5, 3, 3, 1)
    dout, x, _, _ = _case(g, dtype.name)
    x = x.copy()
    x[1, 0, 4, 0] = bad
    x[0, 1, 2, 10] = -bad
    _, dw, db = L.conv_backward(dout, x, np.zeros((5, 2, 3, 3)), 1, 1)
    got_dw, got_db = backend.conv_backward_weights(dout, x, 3, 3, stride=1, pad=1)
    assert 0 < np.isfinite(dw).sum() < dw.size
    np.testing.assert_array_equal(np.isfinite(got_dw), np.isfinite(dw))
    np.testing.assert_array_equal(np.isnan(got_dw), np.isnan(dw))
    fin = np.isfinite(dw)
    np.testing.assert_allclose(got_dw[fin], dw[fin], rtol=TOL[dtype], atol=TOL[dtype] * 10)
    np.testing.assert_allclose(got_db, db, rtol=TOL[dtype], atol=TOL[dtype] * 10)
