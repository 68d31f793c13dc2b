"""The book's 2x2 stride-2 max pooling on the C++ vector paths (csrc/pool.cpp) and their edges, every backend:
row lengths around each vector width (whole vectors, an overlapping last vector, two rows per vector, the scalar
rest), odd heights and widths, ties and NaNs, the backward pass that writes each 2x2 block once (and its fallback
to the scatter), and the same bits on 1, 2 and 3 threads."""
from __future__ import annotations

import numpy as np
import pytest

import conv_loops as L
from test_conv import _argmax_2x2
from test_threads import runs_on_threads

# Widths (the vector builds use 8 float / 4 double lanes): 2-7 (rows shorter than a vector: scalar), 8 and 9 (two
# float rows per vector), 4 and 5 (two double rows), 16, 17, 12, 14, 20, 28, 33, 40, 66 (whole vectors and an
# overlapping last one); odd heights leave a row to the one-row code.
SHAPES = [(2, 3, h, w) for h, w in [(2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8), (9, 9), (8, 16),
                                    (5, 17), (4, 12), (6, 14), (3, 20), (5, 28), (4, 33), (3, 40), (2, 66),
                                    (16, 8), (17, 16)]]


def _values(rng, shape, dtype):
    """Few distinct values (ties in most windows) and NaNs."""
    return rng.choice(np.array([-1.0, 0.0, 0.5, 1.0, np.nan]), size=shape, p=[0.25, 0.25, 0.2, 0.2, 0.1]).astype(dtype)


def _check_forward(backend, x):
    out, arg = backend.maxpool_forward(x, 2, 2, stride=2)
    want = _argmax_2x2(x)
    np.testing.assert_array_equal(arg, want)
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    np.testing.assert_array_equal(out, np.take_along_axis(flat, want.reshape(*x.shape[:2], -1), axis=2)
                                  .reshape(out.shape))
    return out, arg


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_maxpool_2x2_rows_of_every_length(backend, dtype, rng, shape):
    x = rng.standard_normal(shape).astype(dtype)
    out, arg = backend.maxpool_forward(x, 2, 2, stride=2)
    want, want_arg = L.maxpool_forward(x, 2, 2, 2, 0)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(arg, want_arg)
    _check_forward(backend, _values(rng, shape, dtype))
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = backend.maxpool_backward(dout, arg, *shape[2:])
    np.testing.assert_array_equal(dx, L.maxpool_backward(dout, want_arg, *shape[2:]).astype(dtype))


@pytest.mark.parametrize("shape", [(1, 2, 8, 8), (2, 1, 9, 33)])
def test_maxpool_2x2_backward_of_negative_zero_and_nan(backend, dtype, rng, shape):
    """dx = 0 + dout at each maximum, as a scatter onto zeros: a gradient of -0 gives +0, a NaN stays at its place."""
    x = rng.standard_normal(shape).astype(dtype)
    out, arg = backend.maxpool_forward(x, 2, 2, stride=2)
    dx = backend.maxpool_backward(np.full(out.shape, -0.0, dtype), arg, *shape[2:])
    assert dx.tobytes() == np.zeros(shape, dtype).tobytes()
    dout = np.ones(out.shape, dtype)
    dout[0, 0, 1, 2] = np.nan
    dx = backend.maxpool_backward(dout, arg, *shape[2:])
    assert np.isnan(dx).sum() == 1 and np.isnan(dx.reshape(*shape[:2], -1)[0, 0, arg[0, 0, 1, 2]])


def test_maxpool_backward_maxima_outside_their_blocks(backend, dtype, rng):
    """argmax that is not a 2x2 stride-2 pool's (a 3x3 pool's; one entry moved; a -1): the block writes must give
    way to the scatter, plane by plane, with the same result as the loops."""
    x = rng.standard_normal((2, 3, 9, 9)).astype(dtype)
    out, arg = backend.maxpool_forward(x, 3, 3, stride=2)  # 4 x 4 outputs: 2 * 4 <= 9, maxima anywhere
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_allclose(backend.maxpool_backward(dout, arg, 9, 9), L.maxpool_backward(dout, arg, 9, 9),
                               rtol=1e-6, atol=1e-6)  # up to 4 gradients added at one place: f32 rounding
    x = rng.standard_normal((2, 3, 8, 18)).astype(dtype)
    out, arg = backend.maxpool_forward(x, 2, 2, stride=2)
    arg[0, 1, 3, 8] = 0  # the last output of a plane's last row, on the vector paths' overlapping last chunk
    arg[1, 2, 0, 0] = -1
    arg[1, 0, 2, 3] = arg[1, 0, 2, 4]  # two maxima at one place: added
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_array_equal(backend.maxpool_backward(dout, arg, 8, 18),
                                  L.maxpool_backward(dout, arg, 8, 18).astype(dtype))


@pytest.mark.parametrize("shape", [(1, 2, 8, 8), (1, 2, 16, 16), (2, 1, 6, 28), (1, 2, 5, 9)])
def test_maxpool_2x2_on_each_isa_path(isa, dtype, rng, shape):
    """The generic build and each vector build give the bits of np.argmax's rule, forward and backward."""
    from pybp import _cpp
    x = _values(rng, shape, dtype)
    dout = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2)).astype(dtype)

    def run():
        out, arg = _cpp.maxpool_forward(x, 2, 2, 2, 0)
        return out, arg, _cpp.maxpool_backward(dout, arg, *shape[2:])
    for out, arg, dx in isa.run(run):
        np.testing.assert_array_equal(arg, _argmax_2x2(x))
        np.testing.assert_array_equal(dx, L.maxpool_backward(dout, arg, *shape[2:]).astype(dtype))


def test_maxpool_same_bits_on_1_2_and_3_threads(tmp_path):
    """Planes split over threads (35 planes: no even split), f32 and f64, the 2x2 stride-2 path and a general
    one (3x3, stride 2, pad 1), forward and backward: the same bits on any thread count."""
    code = """
        import os, numpy as np
        from pybp import _core
        res = {}
        for dt in (np.float32, np.float64):
            rng = np.random.default_rng(0)
            x = rng.standard_normal((7, 5, 96, 90)).astype(dt)
            for name, (ph, s, p) in {"2x2": (2, 2, 0), "3x3": (3, 2, 1)}.items():
                out, arg = _core.maxpool_forward(x, ph, ph, s, p)
                dout = rng.standard_normal(out.shape).astype(dt)
                key = f"{np.dtype(dt).name} {name}"
                res[key + " out"], res[key + " arg"] = out, arg
                res[key + " dx"] = _core.maxpool_backward(dout, arg, 96, 90)
        print(_core.pool_stats()["parallel"] > 0)
        np.savez(os.environ["PYBP_TEST_OUT"], **res)
    """
    got = runs_on_threads(code, tmp_path)
    assert len(got[1]) == 2 * 2 * 3
    for t in (2, 3):
        for k, v in got[t].items():
            assert v.tobytes() == got[1][k].tobytes(), f"{k} on {t} threads differs"
