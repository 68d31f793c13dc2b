"""Argument validation shared by the NumPy and Numba backends.

The C++ bindings (csrc/bind_common.hpp) apply the same rules with the same exception types and messages, so a
caller sees one behaviour whatever the backend (tests/test_bad_input.py compares them).
"""
from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def real(fn: str, name: str, x) -> float:
    """A scalar argument (lr, alpha, ...) as a Python float. Accepted: anything with __float__ or __index__ (int,
    float, bool, NumPy scalars, 0-d arrays), as float() would, except strings, which float() would parse. The C++
    bindings apply the same rule with the same messages (bind_common.hpp: real_arg)."""
    if type(x) is float:  # the usual case, first
        return x
    t = type(x)
    if not (hasattr(t, "__float__") or hasattr(t, "__index__")):
        raise TypeError(f"{fn}: {name} must be a real number, got {t.__name__}")
    try:
        return float(x)
    except OverflowError:
        raise ValueError(f"{fn}: {name} is out of the float range") from None


def reals(fn: str, **scalars) -> tuple:
    """real() for each keyword argument, in order: `lr, eps = reals(fn, lr=lr, eps=eps)`."""
    return tuple(real(fn, k, v) for k, v in scalars.items())


def flag(fn: str, name: str, x) -> bool:
    """A yes/no argument (trans_a, ...): bool or numpy.bool_ only, so a string such as 'no' is never taken as
    true. The C++ bindings apply the same rule (bind_common.hpp: flag_arg)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    raise TypeError(f"{fn}: {name} must be a bool, got {type(x).__name__}")


def shape_str(a: np.ndarray) -> str:
    return str(tuple(int(s) for s in a.shape))


def ndarray(fn: str, name: str, a) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    return a


def float_array(fn: str, name: str, a) -> np.ndarray:
    ndarray(fn, name, a)
    dt = a.dtype
    if dt.char not in ("f", "d") or not dt.isnative:  # same test as `dt in FLOAT_DTYPES`, a third of the time
        raise TypeError(f"{fn}: {name} must have dtype float32 or float64, got {a.dtype}")
    return a


def same_dtype(fn: str, an: str, a: np.ndarray, bn: str, b: np.ndarray) -> None:
    if a.dtype != b.dtype:
        raise TypeError(f"{fn}: dtype mismatch: {an} {a.dtype} and {bn} {b.dtype} "
                        "(convert explicitly, e.g. with .astype())")


def same_shape(fn: str, an: str, a: np.ndarray, bn: str, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{fn}: shape mismatch: {an} {shape_str(a)} and {bn} {shape_str(b)}")


def ndim(fn: str, name: str, a: np.ndarray, n: int) -> None:
    if a.ndim != n:
        raise ValueError(f"{fn}: {name} must be {n}-D, got shape {shape_str(a)}")


def writable(fn: str, name: str, a: np.ndarray) -> None:
    if not a.flags.writeable:
        raise ValueError(f"{fn}: {name} is read-only")
    if not (a.flags.c_contiguous and a.flags.aligned):
        raise ValueError(f"{fn}: {name} must be C-contiguous and aligned: it is written in place, "
                         "and a copy would lose the update")


def no_partial_overlap(fn: str, an: str, a: np.ndarray, bn: str, b: np.ndarray) -> None:
    if a.size == 0 or b.size == 0:
        return
    if not np.may_share_memory(a, b):  # bounds only: cheap, and decides almost every call
        return
    pa, pb = a.__array_interface__["data"][0], b.__array_interface__["data"][0]
    if pa != pb and np.shares_memory(a, b):
        raise ValueError(f"{fn}: {an} partially overlaps {bn} (only exact aliasing is allowed)")


def no_overlap(fn: str, an: str, a: np.ndarray, bn: str, b: np.ndarray) -> None:
    if a.size and b.size and np.may_share_memory(a, b) and np.shares_memory(a, b):
        raise ValueError(f"{fn}: {an} must not overlap {bn}")


def output(fn: str, out, shape: tuple, dtype: np.dtype, name: str = "out", disjoint=()) -> np.ndarray:
    """`out` validated against (shape, dtype) and required not to overlap any (name, array) of `disjoint`, or a
    new C-ordered array when out is None (a new array overlaps nothing: the overlap tests cost microseconds)."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    float_array(fn, name, out)
    if out.dtype != dtype:
        raise TypeError(f"{fn}: dtype mismatch: {name} {out.dtype}, expected {np.dtype(dtype)}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fn}: shape mismatch: {name} {shape_str(out)}, expected {tuple(shape)}")
    writable(fn, name, out)
    for bn, b in disjoint:
        no_overlap(fn, name, out, bn, b)
    return out


def output_like(fn: str, out, like: np.ndarray, like_name: str, name: str = "out", aliasable=()) -> np.ndarray:
    """`out` validated against like's shape and dtype; it may alias `like` and each (name, array) of
    `aliasable` exactly but not overlap them partly. A new array when out is None."""
    if out is None:
        return np.empty(like.shape, dtype=like.dtype)
    float_array(fn, name, out)
    same_dtype(fn, like_name, like, name, out)
    same_shape(fn, like_name, like, name, out)
    writable(fn, name, out)
    for bn, b in ((like_name, like),) + tuple(aliasable):
        no_partial_overlap(fn, name, out, bn, b)
    return out


def labels(fn: str, t, x: np.ndarray):
    """Validate softmax-CE labels against logits x (N, C): ('index', int64 (N,)) or ('onehot', t)."""
    ndarray(fn, "t", t)
    n, c = x.shape
    if t.ndim == 1 and (np.issubdtype(t.dtype, np.integer)):
        if t.shape[0] != n:
            raise ValueError(f"{fn}: batch size mismatch: x {shape_str(x)} and t {shape_str(t)}")
        ti = t.astype(np.int64, copy=False)
        if n:
            lo, hi = int(ti.min()), int(ti.max())
            if lo < 0 or hi >= c:
                bad = lo if lo < 0 else hi
                raise ValueError(f"{fn}: t contains label {bad} out of range [0, {c})")
        return "index", ti
    if t.ndim == 2 and t.dtype in FLOAT_DTYPES:
        same_dtype(fn, "x", x, "t", t)
        same_shape(fn, "x", x, "t", t)
        return "onehot", t
    if t.ndim in (1, 2) and not np.issubdtype(t.dtype, np.integer) and t.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: t must hold integer class labels (N,) or one-hot rows (N, C) of x's dtype, "
                        f"got dtype {t.dtype}")
    if t.ndim == 1:
        raise TypeError(f"{fn}: index labels t must have an integer dtype, got {t.dtype}")
    if t.ndim == 2:
        raise TypeError(f"{fn}: one-hot labels t must be float32/float64 like x, got {t.dtype}")
    raise ValueError(f"{fn}: t must be 1-D labels (N,) or 2-D one-hot (N, C), got shape {shape_str(t)}")


# ---- per-kernel argument rules: pybp._ref and pybp._numba both call these, so the two Python backends cannot
# drift apart (the C++ bindings mirror them; tests/test_bad_input.py compares all three) ------------------------


def gemm_args(fn, a, b, c, alpha, beta, trans_a, trans_b):
    """Validates gemm's arguments; returns (op(a), op(b), c, alpha, beta) with c allocated when None and the
    scalars as floats."""
    alpha, beta = real(fn, "alpha", alpha), real(fn, "beta", beta)
    trans_a, trans_b = flag(fn, "trans_a", trans_a), flag(fn, "trans_b", trans_b)
    float_array(fn, "a", a)
    float_array(fn, "b", b)
    same_dtype(fn, "a", a, "b", b)
    ndim(fn, "a", a, 2)
    ndim(fn, "b", b, 2)
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    if opa.shape[1] != opb.shape[0]:
        raise ValueError(f"{fn}: shape mismatch: op(a) {shape_str(opa)} and op(b) {shape_str(opb)}")
    if c is None and beta != 0.0:
        raise ValueError(f"{fn}: beta={beta} needs an input c")
    c = output(fn, c, (opa.shape[0], opb.shape[1]), a.dtype, name="c", disjoint=(("a", a), ("b", b)))
    return opa, opb, c, alpha, beta


def gemm_scale_only(c: np.ndarray, beta: float) -> np.ndarray:
    """gemm with alpha == 0, the BLAS rule all backends follow: no products are formed, so NaN or Inf in a or b
    does not reach c; c = beta * c, and beta == 0 overwrites c with zeros without reading it."""
    if beta == 0.0:
        c[...] = 0
    else:
        c *= beta
    return c


def affine_args(fn, x, w, b, out):
    """Validates affine_forward's arguments; returns out (allocated when None)."""
    float_array(fn, "x", x)
    float_array(fn, "w", w)
    float_array(fn, "b", b)
    same_dtype(fn, "x", x, "w", w)
    same_dtype(fn, "x", x, "b", b)
    ndim(fn, "x", x, 2)
    ndim(fn, "w", w, 2)
    ndim(fn, "b", b, 1)
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{fn}: shape mismatch: x {shape_str(x)} and w {shape_str(w)}")
    if b.shape[0] != w.shape[1]:
        raise ValueError(f"{fn}: shape mismatch: w {shape_str(w)} and b {shape_str(b)}")
    return output(fn, out, (x.shape[0], w.shape[1]), x.dtype, disjoint=(("x", x), ("w", w), ("b", b)))


def bias_grad_args(fn, dout, out):
    """Validates bias_grad's arguments; returns out (allocated when None)."""
    float_array(fn, "dout", dout)
    ndim(fn, "dout", dout, 2)
    return output(fn, out, (dout.shape[1],), dout.dtype, disjoint=(("dout", dout),))


def relu_backward_args(fn, dout, mask, out):
    """Validates relu_backward's arguments; returns out (allocated when None)."""
    float_array(fn, "dout", dout)
    ndarray(fn, "mask", mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"{fn}: mask must have dtype bool, got {mask.dtype}")
    same_shape(fn, "dout", dout, "mask", mask)
    return output_like(fn, out, dout, "dout")


def sigmoid_backward_args(fn, dout, y, out):
    """Validates sigmoid_backward's arguments; returns out (allocated when None)."""
    float_array(fn, "dout", dout)
    float_array(fn, "y", y)
    same_dtype(fn, "dout", dout, "y", y)
    same_shape(fn, "dout", dout, "y", y)
    return output_like(fn, out, dout, "dout", aliasable=(("y", y),))


def softmax_args(fn, x, out):
    """Validates softmax's arguments; returns out (allocated when None)."""
    float_array(fn, "x", x)
    if x.ndim < 1:
        raise ValueError(f"{fn}: x must have at least 1 dimension, got shape {shape_str(x)}")
    return output_like(fn, out, x, "x")


def xent_args(fn, x, t, y, dx):
    """Validates softmax_cross_entropy's arguments; returns (label kind, labels, y, dx)."""
    float_array(fn, "x", x)
    ndim(fn, "x", x, 2)
    if x.shape[0] == 0:
        raise ValueError(f"{fn}: empty batch: x has shape {shape_str(x)} (the mean loss needs N >= 1)")
    if x.shape[1] == 0:
        raise ValueError(f"{fn}: x has no classes: shape {shape_str(x)}")
    kind, tt = labels(fn, t, x)
    # overlaps checked after both outputs are validated (the binding's order), and only for caller-given ones
    y_given, dx_given = y is not None, dx is not None
    y = output(fn, y, x.shape, x.dtype, name="y")
    dx = output(fn, dx, x.shape, x.dtype, name="dx")
    if y_given:
        no_overlap(fn, "y", y, "x", x)
        no_overlap(fn, "y", y, "t", t)
    if dx_given:
        no_overlap(fn, "dx", dx, "x", x)
        no_overlap(fn, "dx", dx, "t", t)
    if y_given and dx_given:
        no_overlap(fn, "y", y, "dx", dx)
    return kind, tt, y, dx


def update_args(fn, param, grad, *state):
    """Validates an optimizer update: param and each (name, array) in state are float, same dtype and shape as
    param, C-contiguous and writeable; grad matches param's dtype and shape; no two arrays overlap."""
    float_array(fn, "param", param)
    float_array(fn, "grad", grad)
    same_dtype(fn, "param", param, "grad", grad)
    same_shape(fn, "param", param, "grad", grad)
    writable(fn, "param", param)
    arrays = [("param", param), ("grad", grad)]
    for name, s in state:
        float_array(fn, name, s)
        same_dtype(fn, "param", param, name, s)
        same_shape(fn, "param", param, name, s)
        writable(fn, name, s)
        arrays.append((name, s))
    for i, (an, a) in enumerate(arrays):
        for bn, b in arrays[i + 1:]:
            no_overlap(fn, an, a, bn, b)


# ---- convolution and pooling (NCHW) ------------------------------------------------------------------------------


def int_param(fn, name, v, minimum):
    """An integer argument (Python or NumPy int, not bool) >= minimum; returns it as int."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{fn}: {name} must be an int, got {type(v).__name__}")
    v = int(v)
    if v < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {v}")
    return v


def window_out(fn, in_h, in_w, fh, fw, stride, pad, what="filter"):
    """Output (OH, OW) of a window of (fh, fw) sliding with stride over the (in_h, in_w) input padded by pad;
    ValueError when it does not fit."""
    if fh < 1 or fw < 1 or in_h + 2 * pad < fh or in_w + 2 * pad < fw:
        raise ValueError(f"{fn}: {what} {(fh, fw)} does not fit input {(in_h, in_w)} with pad {pad}")
    return (in_h + 2 * pad - fh) // stride + 1, (in_w + 2 * pad - fw) // stride + 1


def _stride_pad(fn, stride, pad):
    return int_param(fn, "stride", stride, 1), int_param(fn, "pad", pad, 0)


def _floats(fn, *named):
    for name, a in named:
        float_array(fn, name, a)
        ndim(fn, name, a, 4 if name != "b" else 1)
    (n0, a0), rest = named[0], named[1:]
    for name, a in rest:
        same_dtype(fn, n0, a0, name, a)


def conv_forward_args(fn, x, w, b, stride, pad, out):
    """Validates conv_forward's arguments; returns (stride, pad, out) with out allocated when None."""
    _floats(fn, ("x", x), ("w", w), ("b", b))
    stride, pad = _stride_pad(fn, stride, pad)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"{fn}: channel mismatch: x {shape_str(x)} and w {shape_str(w)}")
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"{fn}: shape mismatch: w {shape_str(w)} and b {shape_str(b)}")
    oh, ow = window_out(fn, x.shape[2], x.shape[3], w.shape[2], w.shape[3], stride, pad)
    out = output(fn, out, (x.shape[0], w.shape[0], oh, ow), x.dtype, disjoint=(("x", x), ("w", w), ("b", b)))
    return stride, pad, out


def conv_backward_data_args(fn, dout, w, in_h, in_w, stride, pad, out):
    """Validates conv_backward_data's arguments; returns (in_h, in_w, stride, pad, out)."""
    _floats(fn, ("dout", dout), ("w", w))
    in_h, in_w = int_param(fn, "in_h", in_h, 0), int_param(fn, "in_w", in_w, 0)
    stride, pad = _stride_pad(fn, stride, pad)
    if dout.shape[1] != w.shape[0]:
        raise ValueError(f"{fn}: channel mismatch: dout {shape_str(dout)} and w {shape_str(w)}")
    oh, ow = window_out(fn, in_h, in_w, w.shape[2], w.shape[3], stride, pad)
    if dout.shape[2:] != (oh, ow):
        raise ValueError(f"{fn}: shape mismatch: dout {shape_str(dout)}, expected {(dout.shape[0], w.shape[0], oh, ow)}"
                         f" for input {(in_h, in_w)}")
    out = output(fn, out, (dout.shape[0], w.shape[1], in_h, in_w), dout.dtype,
                 disjoint=(("dout", dout), ("w", w)))
    return in_h, in_w, stride, pad, out


def conv_backward_weights_args(fn, dout, x, filter_h, filter_w, stride, pad, dw, db):
    """Validates conv_backward_weights's arguments; returns (filter_h, filter_w, stride, pad, dw, db)."""
    _floats(fn, ("dout", dout), ("x", x))
    filter_h, filter_w = int_param(fn, "filter_h", filter_h, 1), int_param(fn, "filter_w", filter_w, 1)
    stride, pad = _stride_pad(fn, stride, pad)
    oh, ow = window_out(fn, x.shape[2], x.shape[3], filter_h, filter_w, stride, pad)
    if dout.shape[0] != x.shape[0] or dout.shape[2:] != (oh, ow):
        raise ValueError(f"{fn}: shape mismatch: dout {shape_str(dout)}, expected {(x.shape[0], dout.shape[1], oh, ow)}"
                         f" for x {shape_str(x)}")
    dw = output(fn, dw, (dout.shape[1], x.shape[1], filter_h, filter_w), x.dtype, name="dw",
                disjoint=(("dout", dout), ("x", x)))
    db = output(fn, db, (dout.shape[1],), x.dtype, name="db", disjoint=(("dout", dout), ("x", x), ("dw", dw)))
    return filter_h, filter_w, stride, pad, dw, db


def maxpool_forward_args(fn, x, pool_h, pool_w, stride, pad, out):
    """Validates maxpool_forward's arguments; returns (pool_h, pool_w, stride, pad, out)."""
    _floats(fn, ("x", x))
    pool_h, pool_w = int_param(fn, "pool_h", pool_h, 1), int_param(fn, "pool_w", pool_w, 1)
    stride, pad = _stride_pad(fn, stride, pad)
    oh, ow = window_out(fn, x.shape[2], x.shape[3], pool_h, pool_w, stride, pad, what="pool window")
    out = output(fn, out, x.shape[:2] + (oh, ow), x.dtype, disjoint=(("x", x),))
    return pool_h, pool_w, stride, pad, out


def maxpool_backward_args(fn, dout, argmax, in_h, in_w, out):
    """Validates maxpool_backward's arguments (argmax values included); returns (in_h, in_w, out)."""
    _floats(fn, ("dout", dout))
    ndarray(fn, "argmax", argmax)
    if argmax.dtype != np.int32:
        raise TypeError(f"{fn}: argmax must have dtype int32, got {argmax.dtype}")
    same_shape(fn, "dout", dout, "argmax", argmax)
    in_h, in_w = int_param(fn, "in_h", in_h, 0), int_param(fn, "in_w", in_w, 0)
    if argmax.size:
        lo, hi = int(argmax.min()), int(argmax.max())
        if lo < -1 or hi >= in_h * in_w:
            bad = lo if lo < -1 else hi
            raise ValueError(f"{fn}: argmax contains index {bad} out of range [-1, {in_h * in_w})")
    out = output(fn, out, dout.shape[:2] + (in_h, in_w), dout.dtype, disjoint=(("dout", dout), ("argmax", argmax)))
    return in_h, in_w, out
