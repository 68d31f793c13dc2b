"""The Numba backend (fallback when the C++ extension is unavailable): same names, signatures, checks and
exceptions as pybp._ref; loops compiled by Numba (``cache=True``, no fastmath, so results follow IEEE rules)."""
from __future__ import annotations

import numba as nb
import numpy as np

from . import _checks as C

# error_model="numpy": division follows IEEE (inf/NaN) as NumPy does, instead of a zero check that blocks SIMD
_jit = nb.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")

# ---- elementwise ---------------------------------------------------------------------------------------------


# The elementwise loops take C-contiguous arrays of any ndim and flatten them inside (a free view in Numba):
# three Python-level reshapes cost ~0.4 us, more than the loop itself on the book's 100x50 activations.
def _c(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


_ONE = {np.dtype(np.float32): np.float32(1), np.dtype(np.float64): np.float64(1)}


@_jit
def _relu_fwd(out, mask, x):
    o, mk, xf = out.reshape(-1), mask.reshape(-1), x.reshape(-1)
    for i in range(xf.size):
        v = xf[i]
        m = v <= 0
        mk[i] = m
        o[i] = 0 if m else v


@_jit
def _relu_bwd(dx, dout, mask):
    d, g, mk = dx.reshape(-1), dout.reshape(-1), mask.reshape(-1)
    for i in range(g.size):
        d[i] = 0 if mk[i] else g[i]


# Sigmoid forward: 1 / (1 + exp(-x)) with exp computed as the C++ kernels do (vexp.hpp: Cody-Waite reduction,
# Taylor polynomial, 2^n as two exact powers of two; within 2 ulp; rounded like its generic build, no FMA), split
# into three branch-free loops that LLVM vectorises: Numba's own exp is scalar libm here (no SVML) and NumPy's
# costs four passes plus np.errstate.
# The integer steps work on int views of float scratch arrays (Numba has no scalar bit cast).
_f4, _i4, _i8 = np.float32, np.int32, np.int64

# The exp constants, one table: csrc/vexp.hpp's ExpConst<T> (tests/test_elementwise.py checks them against the
# compiled values, pybp._core._exp_constants). Clamp range [lo, hi]; magic = 1.5 * 2^(mantissa bits) rounds to an
# integer in the low bits; ln 2 split high/low (Cody-Waite); poly: e^r's Taylor coefficients, highest degree first.
EXP_CONST = {
    "float32": dict(lo=-110.0, hi=89.0, magic=12582912.0, log2e=1.44269504088896341, ln2_hi=0.693359375,
                    ln2_lo=-2.12194440e-4,
                    poly=(1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0)),
    "float64": dict(lo=-760.0, hi=710.0, magic=6755399441055744.0, log2e=1.4426950408889634074,
                    ln2_hi=6.93147180369123816490e-01, ln2_lo=1.90821492927058770002e-10,
                    poly=(1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                          1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
                          1.0 / 6.0, 0.5, 1.0, 1.0)),
}
# As typed constants for the compiled loops (Numba freezes globals at compile time).
_E4 = {k: (tuple(_f4(c) for c in v) if k == "poly" else _f4(v)) for k, v in EXP_CONST["float32"].items()}
_E8 = {k: (tuple(float(c) for c in v) if k == "poly" else float(v)) for k, v in EXP_CONST["float64"].items()}
_LO4, _HI4, _MAGIC4, _LOG2E4, _LN2HI4, _LN2LO4, _P4 = (_E4[k] for k in ("lo", "hi", "magic", "log2e", "ln2_hi",
                                                                         "ln2_lo", "poly"))
_LO8, _HI8, _MAGIC8, _LOG2E8, _LN2HI8, _LN2LO8, _P8 = (_E8[k] for k in ("lo", "hi", "magic", "log2e", "ln2_hi",
                                                                         "ln2_lo", "poly"))
_MAGIC4_BITS = _i4(_MAGIC4.view(np.int32))
_MAGIC8_BITS = _i8(np.float64(_MAGIC8).view(np.int64))


@_jit
def _exp_reduce(xc, log2e, magic, ln2_hi, ln2_lo, poly):
    """(e^r, t) for a clamped argument xc: t = xc / ln 2 + magic rounds n = round(xc / ln 2) into t's low bits,
    r = xc - n ln 2 (Cody-Waite), e^r by Horner's rule. Typed by its arguments: float32 or float64."""
    t = xc * log2e + magic
    nf = t - magic
    r = xc - nf * ln2_hi
    r = r - nf * ln2_lo
    p = poly[0]
    for c in poly[1:]:
        p = p * r + c
    return p, t


@_jit
def _negexp_poly32(p_out, t_out, x):
    """p_out = e^r polynomial and t_out = magic-rounded exponent of -x (NaN passes through p_out)."""
    for i in range(x.size):
        v = -x[i]
        xc = min(max(v, _LO4), _HI4) if v == v else _f4(0.0)
        p, t = _exp_reduce(xc, _LOG2E4, _MAGIC4, _LN2HI4, _LN2LO4, _P4)
        p_out[i] = p if v == v else v
        t_out[i] = t


@_jit
def _scales32(tb, s2):
    """tb: bits of t in, bits of 2^n1 out; s2: bits of 2^n2 (n1 + n2 = n, both in the normal range)."""
    for i in range(tb.size):
        n = tb[i] - _MAGIC4_BITS
        n1 = n >> _i4(1)
        tb[i] = (n1 + _i4(127)) << _i4(23)
        s2[i] = (n - n1 + _i4(127)) << _i4(23)


@_jit
def _negexp_poly64(p_out, t1, t2, x):
    for i in range(x.size):
        v = -x[i]
        xc = min(max(v, _LO8), _HI8) if v == v else 0.0
        p, t = _exp_reduce(xc, _LOG2E8, _MAGIC8, _LN2HI8, _LN2LO8, _P8)
        p_out[i] = p if v == v else v
        nf = t - _MAGIC8
        n1f = np.floor(nf * 0.5)  # halve n in floating point, as vexp.hpp does
        t1[i] = n1f + _MAGIC8
        t2[i] = (nf - n1f) + _MAGIC8


@_jit
def _scales64(tb):
    for i in range(tb.size):
        tb[i] = (tb[i] - _MAGIC8_BITS + _i8(1023)) << _i8(52)


# `one` arrives typed like the arrays: a float literal 1.0 would promote float32 loops to float64 (slower, and
# not what NumPy computes for a float32 array meeting a Python float).
@_jit
def _sigmoid_finish(out, s1, s2, one):
    for i in range(out.size):
        out[i] = one / (one + out[i] * s1[i] * s2[i])


@_jit
def _sigmoid_bwd(dx, dout, y, one):
    d, g, yf = dx.reshape(-1), dout.reshape(-1), y.reshape(-1)
    for i in range(g.size):
        d[i] = g[i] * (one - yf[i]) * yf[i]


def relu_forward(x, out=None):
    fn = "relu_forward"
    C.float_array(fn, "x", x)
    out = C.output_like(fn, out, x, "x")
    mask = np.empty(x.shape, dtype=np.bool_)
    _relu_fwd(out, mask, _c(x))
    return out, mask


def relu_backward(dout, mask, out=None):
    out = C.relu_backward_args("relu_backward", dout, mask, out)
    _relu_bwd(out, _c(dout), _c(mask))
    return out


@_jit
def _sigmoid_fwd32(out, x):
    # the three loops in one compiled call: no Python dispatch, reshape or view between them
    of, xf = out.reshape(-1), x.reshape(-1)
    t, s2 = np.empty(xf.size, np.float32), np.empty(xf.size, np.int32)
    _negexp_poly32(of, t, xf)
    _scales32(t.view(np.int32), s2)
    _sigmoid_finish(of, t, s2.view(np.float32), np.float32(1))


@_jit
def _sigmoid_fwd64(out, x):
    of, xf = out.reshape(-1), x.reshape(-1)
    t = np.empty((2, xf.size), np.float64)
    _negexp_poly64(of, t[0], t[1], xf)
    _scales64(t.reshape(-1).view(np.int64))
    _sigmoid_finish(of, t[0], t[1], 1.0)


def sigmoid_forward(x, out=None):
    fn = "sigmoid_forward"
    C.float_array(fn, "x", x)
    out = C.output_like(fn, out, x, "x")
    (_sigmoid_fwd32 if x.dtype == np.float32 else _sigmoid_fwd64)(out, _c(x))
    return out


def sigmoid_backward(dout, y, out=None):
    out = C.sigmoid_backward_args("sigmoid_backward", dout, y, out)
    _sigmoid_bwd(out, _c(dout), _c(y), _ONE[dout.dtype])
    return out


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    opa, opb, c, alpha, beta = C.gemm_args("gemm", a, b, c, alpha, beta, trans_a, trans_b)
    if alpha == 0.0:
        return C.gemm_scale_only(c, beta)
    if beta == 0.0 and alpha == 1.0:
        np.matmul(opa, opb, out=c)
    elif beta == 0.0:
        np.matmul(opa, opb, out=c)
        c *= alpha
    else:
        r = np.matmul(opa, opb)
        _axpby(c.reshape(-1), r.reshape(-1), c.dtype.type(alpha), c.dtype.type(beta))
    return c


@_jit
def _axpby(c, r, alpha, beta):
    for i in range(c.size):
        c[i] = alpha * r[i] + beta * c[i]


@_jit
def _add_rows(out, b):
    n, m = out.shape
    for i in range(n):
        for j in range(m):
            out[i, j] += b[j]


def affine_forward(x, w, b, out=None):
    out = C.affine_args("affine_forward", x, w, b, out)
    np.matmul(x, w, out=out)
    _add_rows(out, np.ascontiguousarray(b))
    return out


@_jit
def _colsum(out, d):
    n, m = d.shape
    for j in range(m):
        out[j] = 0
    for i in range(n):
        for j in range(m):
            out[j] += d[i, j]


def bias_grad(dout, out=None):
    out = C.bias_grad_args("bias_grad", dout, out)
    _colsum(out, np.ascontiguousarray(dout))
    return out


# ---- softmax and cross-entropy ---------------------------------------------------------------------------------


@_jit
def _softmax_row(y, x, i):
    """y[i] = softmax(x[i]) (max-subtracted); returns (max, sum of exp(x - max)): log-sum-exp = max + log(sum)."""
    c = x.shape[1]
    m = x[i, 0]
    for j in range(1, c):
        if x[i, j] > m:
            m = x[i, j]
    s = 0.0
    for j in range(c):
        e = np.exp(x[i, j] - m)
        y[i, j] = e
        s += e
    for j in range(c):
        y[i, j] = y[i, j] / s
    return m, s


@_jit
def _softmax_rows(out, x):
    for i in range(x.shape[0]):
        _softmax_row(out, x, i)


def softmax(x, out=None):
    out = C.softmax_args("softmax", x, out)
    if x.size == 0:
        return out
    c = x.shape[-1]
    _softmax_rows(out.reshape(-1, c), np.ascontiguousarray(x).reshape(-1, c))
    return out


@_jit
def _xent_index(y, dx, x, t):
    n, c = x.shape
    loss = 0.0
    for i in range(n):
        m, s = _softmax_row(y, x, i)
        lse = np.float64(m) + np.log(s)
        ti = t[i]
        loss += lse - np.float64(x[i, ti])
        for j in range(c):
            dx[i, j] = np.float64(y[i, j]) / n
        dx[i, ti] = (np.float64(y[i, ti]) - 1.0) / n
    return loss / n


@_jit
def _xent_onehot(y, dx, x, t):
    n, c = x.shape
    loss = 0.0
    for i in range(n):
        m, s = _softmax_row(y, x, i)
        lse = np.float64(m) + np.log(s)
        for j in range(c):
            tj = np.float64(t[i, j])
            if tj != 0.0:
                loss += tj * (lse - np.float64(x[i, j]))
            dx[i, j] = (np.float64(y[i, j]) - tj) / n
    return loss / n


def softmax_cross_entropy(x, t, y=None, dx=None):
    kind, tt, y, dx = C.xent_args("softmax_cross_entropy", x, t, y, dx)
    xc = np.ascontiguousarray(x)
    if kind == "index":
        loss = _xent_index(y, dx, xc, np.ascontiguousarray(tt))
    else:
        loss = _xent_onehot(y, dx, xc, np.ascontiguousarray(tt))
    return float(loss), y, dx


# ---- optimizer updates: scalars rounded to the array dtype first, as NumPy does with a Python float, so the
# jitted loops (no fastmath, no FMA contraction by Numba's defaults) match _ref bit for bit -----------------------


def _update_args(fn, param, grad, *state):
    """The shared checks, then grad flattened C-contiguous (read only: an explicit copy loses nothing) and the
    scalar type the loops need."""
    C.update_args(fn, param, grad, *state)
    return np.ascontiguousarray(grad).reshape(-1), param.dtype.type


@_jit
def _sgd(p, g, lr):
    for i in range(p.size):
        p[i] = p[i] - lr * g[i]


@_jit
def _momentum(p, v, g, lr, mom):
    for i in range(p.size):
        vi = mom * v[i] - lr * g[i]
        v[i] = vi
        p[i] = p[i] + vi


@_jit
def _nesterov(p, v, g, lr, mom, mom2, lr_next):
    for i in range(p.size):
        vi = v[i]  # the step uses the old velocity (the book's 2021 fix)
        pi = p[i] + mom2 * vi
        p[i] = pi - lr_next * g[i]
        vi = vi * mom
        v[i] = vi - lr * g[i]


@_jit
def _adagrad(p, h, g, lr, eps):
    for i in range(p.size):
        hi = h[i] + g[i] * g[i]
        h[i] = hi
        p[i] = p[i] - (lr * g[i]) / (np.sqrt(hi) + eps)


@_jit
def _rmsprop(p, h, g, lr, decay, omd, eps):
    for i in range(p.size):
        hi = h[i] * decay
        hi = hi + (omd * g[i]) * g[i]
        h[i] = hi
        p[i] = p[i] - (lr * g[i]) / (np.sqrt(hi) + eps)


@_jit
def _adam(p, m, v, g, lr_t, omb1, omb2, eps):
    for i in range(p.size):
        gi = g[i]
        mi = m[i] + omb1 * (gi - m[i])
        vi = v[i] + omb2 * (gi * gi - v[i])
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - (lr_t * mi) / (np.sqrt(vi) + eps)


def sgd_update(param, grad, lr):
    (lr,) = C.reals("sgd_update", lr=lr)
    g, T = _update_args("sgd_update", param, grad)
    _sgd(param.reshape(-1), g, T(lr))


def momentum_update(param, grad, v, lr, momentum):
    lr, momentum = C.reals("momentum_update", lr=lr, momentum=momentum)
    g, T = _update_args("momentum_update", param, grad, ("v", v))
    _momentum(param.reshape(-1), v.reshape(-1), g, T(lr), T(momentum))


def nesterov_update(param, grad, v, lr, momentum):
    lr, momentum = C.reals("nesterov_update", lr=lr, momentum=momentum)
    g, T = _update_args("nesterov_update", param, grad, ("v", v))
    _nesterov(param.reshape(-1), v.reshape(-1), g, T(lr), T(momentum), T(momentum * momentum),
              T((1 + momentum) * lr))


def adagrad_update(param, grad, h, lr, eps):
    lr, eps = C.reals("adagrad_update", lr=lr, eps=eps)
    g, T = _update_args("adagrad_update", param, grad, ("h", h))
    _adagrad(param.reshape(-1), h.reshape(-1), g, T(lr), T(eps))


def rmsprop_update(param, grad, h, lr, decay_rate, eps):
    lr, d, eps = C.reals("rmsprop_update", lr=lr, decay_rate=decay_rate, eps=eps)
    g, T = _update_args("rmsprop_update", param, grad, ("h", h))
    _rmsprop(param.reshape(-1), h.reshape(-1), g, T(lr), T(d), T(1 - d), T(eps))


def adam_update(param, grad, m, v, lr_t, beta1, beta2, eps):
    lr_t, beta1, beta2, eps = C.reals("adam_update", lr_t=lr_t, beta1=beta1, beta2=beta2, eps=eps)
    g, T = _update_args("adam_update", param, grad, ("m", m), ("v", v))
    _adam(param.reshape(-1), m.reshape(-1), v.reshape(-1), g, T(lr_t), T(1 - beta1), T(1 - beta2), T(eps))


# ---- convolution and max pooling (NCHW) --------------------------------------------------------------------------
# im2col / col2im loops compiled by Numba, the products by NumPy's matmul (BLAS): col holds the whole batch as
# (N, K, P), K = C*FH*FW filter taps, P = OH*OW positions, so out (N, FN, P) = w (FN, K) @ col lands in NCHW order.


@_jit
def _tap_index(fh, fw, stride, pad, h, w, oh, ow):
    """(FH*FW, P) int64: the plane index r*w + q that filter tap (i, j) reads for output position p, -1 in the
    padding. im2col and its adjoint both go through it."""
    idx = np.empty((fh * fw, oh * ow), dtype=np.int64)
    for i in range(fh):
        for j in range(fw):
            for y in range(oh):
                r = y * stride + i - pad
                for z in range(ow):
                    q = z * stride + j - pad
                    idx[i * fw + j, y * ow + z] = r * w + q if 0 <= r < h and 0 <= q < w else -1
    return idx


@_jit
def _im2col(col, x, idx):
    """col (N, C*T, P) = x (N, C, H*W) read through idx (T, P); padding reads as 0."""
    n, c = x.shape[:2]
    t, p = idx.shape
    for a in range(n):
        for ch in range(c):
            for k in range(t):
                for m in range(p):
                    v = idx[k, m]
                    col[a, ch * t + k, m] = x[a, ch, v] if v >= 0 else 0


@_jit
def _col2im(dx, dcol, idx):
    """The adjoint of _im2col: dx (N, C, H*W) = 0, then dx[..., idx] += dcol; padding dropped."""
    n, c = dx.shape[:2]
    t, p = idx.shape
    dx[...] = 0
    for a in range(n):
        for ch in range(c):
            for k in range(t):
                for m in range(p):
                    v = idx[k, m]
                    if v >= 0:
                        dx[a, ch, v] += dcol[a, ch * t + k, m]


def _cols(x, fh, fw, stride, pad, oh, ow):
    n, c, h, w = x.shape
    col = np.empty((n, c * fh * fw, oh * ow), dtype=x.dtype)
    _im2col(col, _c(x).reshape(n, c, h * w), _tap_index(fh, fw, stride, pad, h, w, oh, ow))
    return col


def conv_forward(x, w, b, stride=1, pad=0, out=None):
    stride, pad, out = C.conv_forward_args("conv_forward", x, w, b, stride, pad, out)
    n, fn, oh, ow = out.shape
    col = _cols(x, w.shape[2], w.shape[3], stride, pad, oh, ow)
    out3 = out.reshape(n, fn, oh * ow)
    np.matmul(w.reshape(fn, -1), col, out=out3)
    out3 += b[:, None]
    return out


def conv_backward_data(dout, w, in_h, in_w, stride=1, pad=0, out=None):
    in_h, in_w, stride, pad, out = C.conv_backward_data_args("conv_backward_data", dout, w, in_h, in_w, stride,
                                                             pad, out)
    n, fn, oh, ow = dout.shape
    dcol = np.matmul(w.reshape(fn, -1).T, dout.reshape(n, fn, oh * ow))
    idx = _tap_index(w.shape[2], w.shape[3], stride, pad, in_h, in_w, oh, ow)
    _col2im(out.reshape(n, out.shape[1], in_h * in_w), dcol, idx)
    return out


def conv_backward_weights(dout, x, filter_h, filter_w, stride=1, pad=0, dw=None, db=None):
    filter_h, filter_w, stride, pad, dw, db = C.conv_backward_weights_args(
        "conv_backward_weights", dout, x, filter_h, filter_w, stride, pad, dw, db)
    n, fn, oh, ow = dout.shape
    col = _cols(x, filter_h, filter_w, stride, pad, oh, ow)
    np.copyto(dw, np.tensordot(dout.reshape(n, fn, oh * ow), col, axes=([0, 2], [0, 2])).reshape(dw.shape))
    np.sum(dout, axis=(0, 2, 3), out=db)
    return dw, db


@_jit
def _maxpool_fwd(out, argmax, x, ph, pw, stride, pad, zero):
    n, c, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for a in range(n):
        for ch in range(c):
            for y in range(oh):
                for z in range(ow):
                    best = zero
                    where = -1
                    first = True
                    for i in range(ph):
                        r = y * stride + i - pad
                        for j in range(pw):
                            q = z * stride + j - pad
                            inside = r >= 0 and r < h and q >= 0 and q < w
                            v = x[a, ch, r, q] if inside else zero
                            if first or v > best or (v != v and best == best):  # np.argmax: the first NaN wins
                                best = v
                                where = r * w + q if inside else -1
                                first = False
                    out[a, ch, y, z] = best
                    argmax[a, ch, y, z] = where


@_jit
def _maxpool_bwd(dx, dout, argmax):
    n, c, oh, ow = dout.shape
    dx[...] = 0
    w = dx.shape[3]
    for a in range(n):
        for ch in range(c):
            for y in range(oh):
                for z in range(ow):
                    k = argmax[a, ch, y, z]
                    if k >= 0:
                        dx[a, ch, k // w, k % w] += dout[a, ch, y, z]


def maxpool_forward(x, pool_h, pool_w, stride=1, pad=0, out=None):
    pool_h, pool_w, stride, pad, out = C.maxpool_forward_args("maxpool_forward", x, pool_h, pool_w, stride, pad,
                                                              out)
    argmax = np.empty(out.shape, dtype=np.int32)
    _maxpool_fwd(out, argmax, _c(x), pool_h, pool_w, stride, pad, x.dtype.type(0))
    return out, argmax


def maxpool_backward(dout, argmax, in_h, in_w, out=None):
    in_h, in_w, out = C.maxpool_backward_args("maxpool_backward", dout, argmax, in_h, in_w, out)
    _maxpool_bwd(out, _c(dout), _c(argmax))
    return out
