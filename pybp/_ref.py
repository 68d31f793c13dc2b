"""NumPy reference kernels: the book's maths, written for clarity, never optimised. The test oracle.

Every backend (_cpp, _numba, _ref) exports the names in pybp._backend.KERNELS with the same signatures,
argument checks and exceptions. Scalars follow NumPy's rules for a Python float meeting an array, so the
optimizer updates here are bit-for-bit the book's `params[key] -= lr * grads[key]` style code.
"""
from __future__ import annotations

import numpy as np

from . import _checks as C
from ._im2col import unwindow, windows

# ---- GEMM family ---------------------------------------------------------------------------------------------


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """c = alpha * op(a) @ op(b) + beta * c, op(x) = x.T if trans_x else x. Returns c (new if c is None)."""
    opa, opb, c, alpha, beta = C.gemm_args("gemm", a, b, c, alpha, beta, trans_a, trans_b)
    if alpha == 0.0:
        return C.gemm_scale_only(c, beta)
    r = np.matmul(opa, opb)
    if alpha != 1.0:
        r *= alpha
    if beta == 0.0:
        c[...] = r
    else:
        c *= beta
        c += r
    return c


def affine_forward(x, w, b, out=None):
    """out = x @ w + b; x (N, K), w (K, M), b (M,) -> (N, M)."""
    out = C.affine_args("affine_forward", x, w, b, out)
    np.matmul(x, w, out=out)
    out += b
    return out


def bias_grad(dout, out=None):
    """db = dout.sum(axis=0); dout (N, M) -> (M,)."""
    out = C.bias_grad_args("bias_grad", dout, out)
    np.sum(dout, axis=0, out=out)
    return out


# ---- elementwise ---------------------------------------------------------------------------------------------


def relu_forward(x, out=None):
    """(out, mask): mask = x <= 0 (bool), out = x with out[mask] = 0 (the book's Relu layer). out may be x."""
    fn = "relu_forward"
    C.float_array(fn, "x", x)
    out = C.output_like(fn, out, x, "x")
    mask = x <= 0
    np.copyto(out, x)
    out[mask] = 0
    return out, mask


def relu_backward(dout, mask, out=None):
    """dx = dout with dx[mask] = 0. out may be dout."""
    out = C.relu_backward_args("relu_backward", dout, mask, out)
    np.copyto(out, dout)
    out[mask] = 0
    return out


def sigmoid_forward(x, out=None):
    """out = 1 / (1 + exp(-x)). out may be x. Overflow of exp(-x) for very negative x gives 0, silently."""
    fn = "sigmoid_forward"
    C.float_array(fn, "x", x)
    out = C.output_like(fn, out, x, "x")
    with np.errstate(over="ignore"):
        np.divide(1.0, 1.0 + np.exp(-x), out=out)
    return out


def sigmoid_backward(dout, y, out=None):
    """dx = dout * (1 - y) * y, y the forward output. out may be dout."""
    out = C.sigmoid_backward_args("sigmoid_backward", dout, y, out)
    r = dout * (1.0 - y) * y
    np.copyto(out, r)
    return out


# ---- softmax and cross-entropy -------------------------------------------------------------------------------


def softmax(x, out=None):
    """Softmax over the last axis (any ndim >= 1), max-subtracted. out may be x."""
    out = C.softmax_args("softmax", x, out)
    if x.size == 0:
        return out
    with np.errstate(invalid="ignore"):  # inf - inf in a row holding +inf: NaN propagates, as documented
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        np.divide(e, np.sum(e, axis=-1, keepdims=True), out=out)
    return out


def softmax_cross_entropy(x, t, y=None, dx=None):
    """Fused SoftmaxWithLoss: (loss, y, dx) for logits x (N, C) and labels t, index (N,) ints or one-hot (N, C).

    loss = mean over rows of logsumexp(x_i) - sum_j t_ij x_ij (exact log-softmax, no 1e-7 offset; a float),
    y = softmax(x), dx = (y - onehot(t)) / N (the book's backward with dout=1). y and dx may be given
    (C-contiguous, same shape and dtype as x); they must not overlap x, t or each other.
    """
    kind, tt, y, dx = C.xent_args("softmax_cross_entropy", x, t, y, dx)
    n = x.shape[0]
    xd = x.astype(np.float64)
    m = xd.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):  # NaN/inf logits: NaN propagates into loss, y and dx (documented)
        lse = m[:, 0] + np.log(np.sum(np.exp(xd - m), axis=1))
    onehot = np.zeros_like(xd)
    if kind == "index":
        onehot[np.arange(n), tt] = 1.0
    else:
        onehot[...] = tt
    with np.errstate(invalid="ignore"):
        # sum_j t_ij (lse_i - x_ij) over the nonzero t_ij only, so a -inf logit elsewhere stays harmless
        per_row = np.where(onehot != 0, onehot * (lse[:, None] - xd), 0.0).sum(axis=1)
    loss = float(per_row.sum() / n)
    softmax(x, out=y)
    np.copyto(dx, ((y.astype(np.float64) - onehot) / n).astype(x.dtype))
    return loss, y, dx


# ---- optimizer updates (in place, the book's formulas; lr_t for Adam computed by the caller) ---------------------
# Scalars are Python floats (NumPy casts them to the array dtype at each operation, as in the book's code).
# param and state arrays must be C-contiguous and writeable in every backend; grad may have any layout.


def sgd_update(param, grad, lr):
    """param -= lr * grad."""
    (lr,) = C.reals("sgd_update", lr=lr)
    C.update_args("sgd_update", param, grad)
    param -= lr * grad


def momentum_update(param, grad, v, lr, momentum):
    """v = momentum * v - lr * grad; param += v."""
    lr, momentum = C.reals("momentum_update", lr=lr, momentum=momentum)
    C.update_args("momentum_update", param, grad, ("v", v))
    v[...] = momentum * v - lr * grad
    param += v


def nesterov_update(param, grad, v, lr, momentum):
    """The book's Nesterov since its 2021 fix: the step uses the old velocity, then v moves on.
    param += momentum*momentum*v; param -= (1+momentum)*lr*g; v = momentum*v - lr*g."""
    lr, momentum = C.reals("nesterov_update", lr=lr, momentum=momentum)
    C.update_args("nesterov_update", param, grad, ("v", v))
    param += momentum * momentum * v
    param -= (1 + momentum) * lr * grad
    v *= momentum
    v -= lr * grad


def adagrad_update(param, grad, h, lr, eps):
    """h += g*g; param -= lr * g / (sqrt(h) + eps)."""
    lr, eps = C.reals("adagrad_update", lr=lr, eps=eps)
    C.update_args("adagrad_update", param, grad, ("h", h))
    h += grad * grad
    param -= lr * grad / (np.sqrt(h) + eps)


def rmsprop_update(param, grad, h, lr, decay_rate, eps):
    """h = decay*h + (1-decay)*g*g; param -= lr * g / (sqrt(h) + eps)."""
    lr, decay_rate, eps = C.reals("rmsprop_update", lr=lr, decay_rate=decay_rate, eps=eps)
    C.update_args("rmsprop_update", param, grad, ("h", h))
    h *= decay_rate
    h += (1 - decay_rate) * grad * grad
    param -= lr * grad / (np.sqrt(h) + eps)


def adam_update(param, grad, m, v, lr_t, beta1, beta2, eps):
    """m += (1-b1)(g-m); v += (1-b2)(g*g-v); param -= lr_t * m / (sqrt(v) + eps)."""
    lr_t, beta1, beta2, eps = C.reals("adam_update", lr_t=lr_t, beta1=beta1, beta2=beta2, eps=eps)
    C.update_args("adam_update", param, grad, ("m", m), ("v", v))
    m += (1 - beta1) * (grad - m)
    v += (1 - beta2) * (grad ** 2 - v)
    param -= lr_t * m / (np.sqrt(v) + eps)


# ---- convolution and max pooling (NCHW; the book's ch. 7 maths on window views, no speed tricks) -----------------
# Window (i, j) of output position (oh, ow) covers padded-input row oh*stride + i and column ow*stride + j; the
# padding is zeros (the book's im2col pads with zeros, for pooling too). Inputs of any layout are accepted.


def conv_forward(x, w, b, stride=1, pad=0, out=None):
    """out[n, f, oh, ow] = b[f] + sum_{c,i,j} w[f, c, i, j] * xpad[n, c, oh*stride + i, ow*stride + j].
    x (N, C, H, W), w (FN, C, FH, FW), b (FN,) -> (N, FN, OH, OW), OH = (H + 2*pad - FH) // stride + 1."""
    stride, pad, out = C.conv_forward_args("conv_forward", x, w, b, stride, pad, out)
    v = windows(x, w.shape[2], w.shape[3], stride, pad)  # (N, C, OH, OW, FH, FW)
    r = np.tensordot(v, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, FN)
    np.copyto(out, r.transpose(0, 3, 1, 2) + b[:, None, None])
    return out


def conv_backward_data(dout, w, in_h, in_w, stride=1, pad=0, out=None):
    """dx = the input gradient of conv_forward: each window of dx receives sum_f dout[n, f, oh, ow] * w[f].
    dout (N, FN, OH, OW), w (FN, C, FH, FW) -> dx (N, C, in_h, in_w)."""
    in_h, in_w, stride, pad, out = C.conv_backward_data_args("conv_backward_data", dout, w, in_h, in_w, stride,
                                                             pad, out)
    dcols = np.tensordot(dout, w, axes=([1], [0]))  # (N, OH, OW, C, FH, FW)
    np.copyto(out, unwindow(dcols.transpose(0, 3, 1, 2, 4, 5), in_h, in_w, stride, pad))
    return out


def conv_backward_weights(dout, x, filter_h, filter_w, stride=1, pad=0, dw=None, db=None):
    """(dw, db): dw[f, c, i, j] = sum_{n,oh,ow} dout[n, f, oh, ow] * xpad[n, c, oh*stride + i, ow*stride + j],
    db[f] = sum_{n,oh,ow} dout[n, f, oh, ow]. dout (N, FN, OH, OW), x (N, C, H, W)."""
    filter_h, filter_w, stride, pad, dw, db = C.conv_backward_weights_args(
        "conv_backward_weights", dout, x, filter_h, filter_w, stride, pad, dw, db)
    v = windows(x, filter_h, filter_w, stride, pad)
    np.copyto(dw, np.tensordot(dout, v, axes=([0, 2, 3], [0, 2, 3])))
    np.sum(dout, axis=(0, 2, 3), out=db)
    return dw, db


def maxpool_forward(x, pool_h, pool_w, stride=1, pad=0, out=None):
    """(out, argmax): out[n, c, oh, ow] = max of the window (zero padding takes part, as in the book); argmax
    (int32, out's shape) = h*W + w of the first maximum in row-major window order (np.argmax's rule, so a NaN
    wins), or -1 when that maximum is a padding zero."""
    pool_h, pool_w, stride, pad, out = C.maxpool_forward_args("maxpool_forward", x, pool_h, pool_w, stride, pad,
                                                              out)
    n, c, oh, ow = out.shape
    v = windows(x, pool_h, pool_w, stride, pad).reshape(n, c, oh, ow, pool_h * pool_w)
    k = np.argmax(v, axis=-1)
    np.copyto(out, np.take_along_axis(v, k[..., None], axis=-1)[..., 0])
    hh = np.arange(oh)[:, None] * stride + k // pool_w - pad
    ww = np.arange(ow)[None, :] * stride + k % pool_w - pad
    inside = (hh >= 0) & (hh < x.shape[2]) & (ww >= 0) & (ww < x.shape[3])
    return out, np.where(inside, hh * x.shape[3] + ww, -1).astype(np.int32)


def maxpool_backward(dout, argmax, in_h, in_w, out=None):
    """dx (N, C, in_h, in_w): zeros, then dx[n, c].flat[argmax[n, c, oh, ow]] += dout[n, c, oh, ow] for every
    argmax >= 0 (overlapping windows accumulate; -1, a padding maximum, routes nowhere)."""
    in_h, in_w, out = C.maxpool_backward_args("maxpool_backward", dout, argmax, in_h, in_w, out)
    n, c = dout.shape[:2]
    flat = np.zeros((n, c, in_h * in_w), dtype=dout.dtype)
    nn, cc, _, _ = np.indices(dout.shape, sparse=True)
    hit = argmax >= 0
    np.add.at(flat, (np.broadcast_to(nn, dout.shape)[hit], np.broadcast_to(cc, dout.shape)[hit], argmax[hit]),
              dout[hit])
    np.copyto(out, flat.reshape(out.shape))
    return out
