"""Convolution and max-pooling kernels vs the direct-loop definitions (tests/conv_loops.py), every backend."""
from __future__ import annotations

import numpy as np
import pytest

import conv_loops as L

# (N, C, H, W, FN, FH, FW, stride, pad): the book's layers in miniature, strides and pads that leave a remainder,
# non-square filters and images, a 1x1 filter (the C++ path without im2col) and a filter as large as the input.
GEOMS = [
    (2, 1, 8, 8, 3, 5, 5, 1, 0),
    (2, 3, 7, 6, 4, 3, 3, 1, 1),
    (1, 2, 9, 8, 3, 3, 2, 2, 1),
    (2, 2, 6, 7, 3, 3, 3, 3, 2),
    (1, 3, 5, 5, 2, 1, 1, 1, 0),
    (2, 2, 4, 4, 2, 1, 1, 2, 1),
    (1, 2, 4, 5, 3, 4, 5, 1, 0),
    (3, 4, 6, 6, 5, 3, 3, 1, 2),
    # few taps (C++ register tiles of 4 filters x 1 or 3 vectors, then scalar positions): 7 = 4 + 3 filters and
    # 132 positions; 6 = 4 + 2 filters; 5 = 4 + 1 filters, stride 2, 25 positions
    (2, 1, 12, 11, 7, 3, 3, 1, 1),
    (1, 2, 10, 10, 6, 2, 3, 1, 0),
    (1, 1, 9, 9, 5, 3, 3, 2, 1),
    # 3-wide filters at stride 1 (C++ adds a filter row's three taps together in col2im) with 2 and 1 output columns
    (2, 2, 5, 4, 2, 3, 3, 1, 0),
    (1, 2, 3, 3, 2, 3, 3, 1, 0),
    # stride 1 with >= 4 output channels (C++ AVX-512: the direct kernel, tiles of 4 channels x up to 6 vectors of
    # positions in padded row length, rows sharing their pad columns, masked stores at the row ends; the input
    # gradient as a forward on dout padded by FH-1-pad). Rows of 6, 19, 40 columns (vectors crossing 1-3 row ends,
    # or none), pad 0/1/2/3, channels 9 = 4+4+1, 10 = 4+4+2, 11 = 4+4+3 (input gradient: 8, 9 = 4+4+1), one
    # position block or several, one input channel with an 8x8 filter, a 5x4 filter (input gradient padded 2 rows
    # and 1 column); the few-taps shapes above take it too
    (2, 8, 5, 6, 9, 3, 3, 1, 1),
    (1, 8, 17, 19, 10, 3, 3, 1, 0),
    (2, 9, 6, 7, 11, 3, 3, 1, 2),
    (1, 8, 3, 40, 5, 3, 3, 1, 1),
    (1, 1, 12, 13, 6, 8, 8, 1, 3),
    (1, 4, 9, 10, 8, 5, 4, 1, 2),
    # one input channel, 3x3 (C++ AVX-512). The input gradient (one output channel) in row1 tiles reading dout in
    # place (masked products at the row ends, a zero row above and below the image, the first and last images
    # copied between zero margins): row blocks of at most 8 in balanced heights, 19 = 7 + 6 + 6 rows, 37 columns
    # (column blocks of 2 vectors, a partial one), pad 0 (dout 2 smaller than dx) and pad 2 (dout 2 larger), 8
    # rows exactly, 3 images (first, middle, last) of 10 = 5 + 5 rows and 21 columns, a 1x1 dout, 2 output rows;
    # (2, 1, 12, 11, ...) above: one vector. The forward with 4 or 8 output channels in row tiles of 2 rows x 4
    # channels (the last row block overlapping the one before): 17 and 9 rows, 35 and 12 columns
    (1, 1, 19, 37, 4, 3, 3, 1, 0),
    (1, 1, 8, 17, 5, 3, 3, 1, 2),
    (2, 1, 9, 12, 8, 3, 3, 1, 1),
    (3, 1, 10, 21, 3, 3, 3, 1, 1),
    (2, 1, 3, 3, 2, 3, 3, 1, 0),
    (3, 1, 2, 5, 2, 3, 3, 1, 2),
    # <= 100 output positions and output channels a multiple of 16 (C++ AVX-512, float32: channel tiles, 1-4
    # vectors of channels x 6-12 positions, the last position tile overlapping): forward with 64 channels at 63
    # positions, 32 channels at 100 positions with pad 2; input gradient with 48 channels unpadded by pad 0, and 16
    # channels at 56 positions
    (1, 2, 7, 9, 64, 3, 3, 1, 1),
    (2, 3, 8, 8, 32, 3, 3, 1, 2),
    (1, 48, 6, 5, 3, 3, 3, 1, 0),
    (1, 16, 8, 7, 4, 3, 3, 1, 1),
]
TOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def _data(rng, dtype, g):
    n, c, h, w, fn, fh, fw, s, p = g
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((fn, c, fh, fw)).astype(dtype)
    b = rng.standard_normal(fn).astype(dtype)
    return x, wt, b


@pytest.mark.parametrize("g", GEOMS, ids=[str(g) for g in GEOMS])
def test_conv_kernels_match_direct_loops(backend, dtype, rng, g):
    n, c, h, w, fn, fh, fw, s, p = g
    x, wt, b = _data(rng, dtype, g)
    out = backend.conv_forward(x, wt, b, stride=s, pad=p)
    want = L.conv_forward(x, wt, b, s, p)
    assert out.dtype == dtype and out.shape == want.shape
    tol = TOL[dtype]
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * 10)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx_w, dw_w, db_w = L.conv_backward(dout, x, wt, s, p)
    dx = backend.conv_backward_data(dout, wt, h, w, stride=s, pad=p)
    dw, db = backend.conv_backward_weights(dout, x, fh, fw, stride=s, pad=p)
    assert dx.dtype == dw.dtype == db.dtype == dtype
    np.testing.assert_allclose(dx, dx_w, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(dw, dw_w, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(db, db_w, rtol=tol, atol=tol * 10)


def test_conv_outputs_are_overwritten_in_place(backend, rng):
    g = GEOMS[1]
    x, wt, b = _data(rng, np.float64, g)
    out = np.full((2, 4, 7, 6), np.nan)
    r = backend.conv_forward(x, wt, b, stride=1, pad=1, out=out)
    assert r is out
    np.testing.assert_allclose(out, L.conv_forward(x, wt, b, 1, 1), rtol=1e-12, atol=1e-12)
    dw, db = np.full(wt.shape, np.nan), np.full(4, np.nan)
    r = backend.conv_backward_weights(out, x, 3, 3, stride=1, pad=1, dw=dw, db=db)
    assert r[0] is dw and r[1] is db and np.isfinite(dw).all() and np.isfinite(db).all()
    dx = np.full(x.shape, np.nan)
    assert backend.conv_backward_data(out, wt, 7, 6, stride=1, pad=1, out=dx) is dx and np.isfinite(dx).all()


# The book's 2x2 stride-2 window without padding has its own C++ path (tests/test_pool.py has its edges): rows
# longer than a vector, an odd height and an odd width (last row or column unused) are in the list.
POOLS = [(2, 3, 8, 8, 2, 2, 2, 0), (1, 2, 7, 9, 3, 2, 2, 1), (2, 2, 6, 6, 3, 3, 1, 0), (1, 1, 5, 6, 2, 3, 3, 2),
         (1, 2, 4, 4, 4, 4, 1, 0), (2, 3, 7, 40, 2, 2, 2, 0), (1, 2, 6, 9, 2, 2, 2, 0)]


@pytest.mark.parametrize("g", POOLS, ids=[str(g) for g in POOLS])
def test_maxpool_matches_direct_loops(backend, dtype, rng, g):
    n, c, h, w, ph, pw, s, p = g
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    x[0, 0, 0, :2] = x[0, 0, 0, 0]  # a tie: the first maximum in window order wins
    out, arg = backend.maxpool_forward(x, ph, pw, stride=s, pad=p)
    want, want_arg = L.maxpool_forward(x, ph, pw, s, p)
    assert out.dtype == dtype and arg.dtype == np.int32
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(arg, want_arg)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = backend.maxpool_backward(dout, arg, h, w)
    np.testing.assert_allclose(dx, L.maxpool_backward(dout, want_arg, h, w), rtol=TOL[dtype], atol=TOL[dtype])


def test_maxpool_padding_zero_takes_part(backend):
    """All-negative input with pad 1: every window holds padding, whose zero is the maximum (argmax -1, no
    gradient); the first window in order is a padding position too, so this is not the "first element" rule."""
    x = -np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    out, arg = backend.maxpool_forward(x, 2, 2, stride=2, pad=1)
    assert out.shape == (1, 1, 2, 2) and (out == 0).all() and (arg == -1).all()
    np.testing.assert_array_equal(backend.maxpool_backward(np.ones_like(out), arg, 2, 2), np.zeros_like(x))
    out, arg = backend.maxpool_forward(-x, 2, 2, stride=2, pad=1)
    np.testing.assert_array_equal(out, -x)
    np.testing.assert_array_equal(arg, [[[[0, 1], [2, 3]]]])


def test_maxpool_nan_wins_like_argmax(backend):
    x = np.array([[[[1.0, np.nan], [np.nan, 5.0]]]])
    out, arg = backend.maxpool_forward(x, 2, 2, stride=2)
    assert np.isnan(out[0, 0, 0, 0]) and arg[0, 0, 0, 0] == 1


def _argmax_2x2(x):
    """np.argmax over each 2x2 stride-2 window (first maximum, first NaN wins), as plane index r*W + q."""
    n, c, h, w = x.shape
    oh, ow = h // 2, w // 2
    win = x[:, :, :2 * oh, :2 * ow].reshape(n, c, oh, 2, ow, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, 4)
    k = np.argmax(win, axis=-1)
    r, q = 2 * np.arange(oh)[:, None] + k // 2, 2 * np.arange(ow)[None, :] + k % 2
    return r * w + q


@pytest.mark.parametrize("shape", [(2, 3, 10, 36), (1, 2, 9, 18)])
def test_maxpool_2x2_ties_and_nans_like_argmax(backend, dtype, rng, shape):
    """Windows full of ties and NaNs (values from {-1, 0, 1, nan}): the winner is np.argmax's, element by element."""
    x = rng.choice(np.array([-1.0, 0.0, 1.0, np.nan]), size=shape, p=[0.3, 0.3, 0.3, 0.1]).astype(dtype)
    out, arg = backend.maxpool_forward(x, 2, 2, stride=2)
    want = _argmax_2x2(x)
    np.testing.assert_array_equal(arg, want)
    flat = x.reshape(shape[0], shape[1], -1)
    np.testing.assert_array_equal(out, np.take_along_axis(flat, want.reshape(shape[0], shape[1], -1), axis=2)
                                  .reshape(out.shape))


def test_zero_batch(backend):
    x, w, b = np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.ones(3)
    assert backend.conv_forward(x, w, b).shape == (0, 3, 3, 3)
    dw, db = backend.conv_backward_weights(np.zeros((0, 3, 3, 3)), x, 3, 3)
    np.testing.assert_array_equal(dw, np.zeros_like(w))
    np.testing.assert_array_equal(db, np.zeros(3))
    out, arg = backend.maxpool_forward(x, 2, 2, stride=2)
    assert out.shape == arg.shape == (0, 2, 2, 2)


def test_read_only_inputs(backend, dtype, rng):
    x, wt, b = _data(rng, dtype, GEOMS[1])
    for a in (x, wt, b):
        a.flags.writeable = False
    out = backend.conv_forward(x, wt, b, stride=1, pad=1)
    out.flags.writeable = False
    assert backend.conv_backward_data(out, wt, 7, 6, stride=1, pad=1).shape == x.shape
    assert backend.conv_backward_weights(out, x, 3, 3, stride=1, pad=1)[0].shape == wt.shape
    p, arg = backend.maxpool_forward(x, 2, 2, stride=2)
    arg.flags.writeable = False
    p.flags.writeable = False
    assert backend.maxpool_backward(p, arg, 7, 6).shape == x.shape


@pytest.mark.parametrize("fn,stride", [(3, 1), (40, 2)])
def test_conv_large_image_in_column_blocks(backend, ref, rng, fn, stride):
    """An image whose columns exceed the C++ kernels' block size (split into row blocks), with few filters (the
    transposed forward product) and many (the direct one); oracle: the reference, checked above vs the loops."""
    x = rng.standard_normal((2, 64, 40, 40))
    w = rng.standard_normal((fn, 64, 3, 3))
    b = rng.standard_normal(fn)
    out = backend.conv_forward(x, w, b, stride=stride, pad=1)
    np.testing.assert_allclose(out, ref.conv_forward(x, w, b, stride=stride, pad=1), rtol=1e-12, atol=1e-11)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(backend.conv_backward_data(dout, w, 40, 40, stride=stride, pad=1),
                               ref.conv_backward_data(dout, w, 40, 40, stride=stride, pad=1), rtol=1e-12, atol=1e-11)
    for got, want in zip(backend.conv_backward_weights(dout, x, 3, 3, stride=stride, pad=1),
                         ref.conv_backward_weights(dout, x, 3, 3, stride=stride, pad=1)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-10)


def test_both_isa_paths_match_direct_loops(isa, rng):
    """The generic build of conv.cpp/pool.cpp (CPUs without AVX2) and the AVX2 build, each vs the loops."""
    from pybp import _cpp
    g = (2, 3, 7, 6, 4, 3, 3, 2, 1)
    x, wt, b = _data(rng, np.float64, g)
    dout = rng.standard_normal((2, 4, 4, 3))

    def run():
        return (_cpp.conv_forward(x, wt, b, 2, 1), _cpp.conv_backward_data(dout, wt, 7, 6, 2, 1),
                *_cpp.conv_backward_weights(dout, x, 3, 3, 2, 1), *_cpp.maxpool_forward(x, 3, 2, 2, 1),
                *_cpp.maxpool_forward(x, 2, 2, 2, 0))
    want = (L.conv_forward(x, wt, b, 2, 1), *L.conv_backward(dout, x, wt, 2, 1), *L.maxpool_forward(x, 3, 2, 2, 1),
            *L.maxpool_forward(x, 2, 2, 2, 0))
    for got in isa.run(run):
        for a, e in zip(got, want):
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_direct_shapes_on_both_isa_paths(isa, rng, dt):
    """A stride-1 shape that the AVX2 build's direct kernel takes too (>= 12 columns, > 32 taps, >= 4 output
    channels both ways; 2 x 5 register tiles there), on the generic path and on each optimised one, vs the loops."""
    g = (2, 8, 13, 14, 6, 3, 3, 1, 1)
    x, wt, b = _data(rng, np.dtype(dt), g)
    dout = rng.standard_normal((2, 6, 13, 14)).astype(dt)
    from pybp import _cpp
    want = (L.conv_forward(x, wt, b, 1, 1), L.conv_backward(dout, x, wt, 1, 1)[0])
    tol = TOL[np.dtype(dt)]
    for got in isa.run(lambda: (_cpp.conv_forward(x, wt, b, 1, 1), _cpp.conv_backward_data(dout, wt, 13, 14, 1, 1))):
        for a, e in zip(got, want):
            np.testing.assert_allclose(a, e, rtol=tol, atol=tol * 10)
