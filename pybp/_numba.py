"""The Numba backend (fallback when the C++ extension is unavailable): same names, signatures, checks and
exceptions as pybp._ref; loops compiled by Numba (``cache=True``, no fastmath, so results follow IEEE rules)."""
from __future__ import annotations

import numba as nb
import numpy as np

from . import _checks as C

_jit = nb.njit(cache=True, nogil=True, fastmath=False)

# ---- elementwise ---------------------------------------------------------------------------------------------


@_jit
def _relu_fwd(out, mask, x):
    for i in range(x.size):
        v = x[i]
        m = v <= 0
        mask[i] = m
        out[i] = 0 if m else v


@_jit
def _relu_bwd(dx, dout, mask):
    for i in range(dout.size):
        dx[i] = 0 if mask[i] else dout[i]


@_jit
def _sigmoid_fwd(out, x):
    for i in range(x.size):
        out[i] = 1.0 / (1.0 + np.exp(-x[i]))


@_jit
def _sigmoid_bwd(dx, dout, y):
    for i in range(dout.size):
        dx[i] = dout[i] * (1.0 - y[i]) * y[i]


def relu_forward(x, out=None):
    fn = "relu_forward"
    C.float_array(fn, "x", x)
    out = C.output_like(fn, out, x, "x")
    mask = np.empty(x.shape, dtype=np.bool_)
    _relu_fwd(out.reshape(-1), mask.reshape(-1), x.reshape(-1))
    return out, mask


def relu_backward(dout, mask, out=None):
    fn = "relu_backward"
    C.float_array(fn, "dout", dout)
    C.ndarray(fn, "mask", mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"{fn}: mask must have dtype bool, got {mask.dtype}")
    C.same_shape(fn, "dout", dout, "mask", mask)
    out = C.output_like(fn, out, dout, "dout")
    _relu_bwd(out.reshape(-1), dout.reshape(-1), mask.reshape(-1))
    return out


def sigmoid_forward(x, out=None):
    fn = "sigmoid_forward"
    C.float_array(fn, "x", x)
    out = C.output_like(fn, out, x, "x")
    _sigmoid_fwd(out.reshape(-1), x.reshape(-1))
    return out


def sigmoid_backward(dout, y, out=None):
    fn = "sigmoid_backward"
    C.float_array(fn, "dout", dout)
    C.float_array(fn, "y", y)
    C.same_dtype(fn, "dout", dout, "y", y)
    C.same_shape(fn, "dout", dout, "y", y)
    out = C.output_like(fn, out, dout, "dout")
    C.no_partial_overlap(fn, "out", out, "y", y)
    _sigmoid_bwd(out.reshape(-1), dout.reshape(-1), y.reshape(-1))
    return out

# PENDING (issue 3): these still come from the NumPy reference until their compiled versions land;
# tests/test_backend.py::test_backend_kernels_are_native fails while any remain.
from ._ref import (  # noqa: E402
    gemm, affine_forward, bias_grad, softmax, softmax_cross_entropy,
    sgd_update, momentum_update, nesterov_update, adagrad_update, rmsprop_update, adam_update,
)
