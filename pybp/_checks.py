"""Argument validation shared by the NumPy and Numba backends.

The C++ bindings (csrc/bindings.cpp) apply the same rules with the same exception types and messages, so a
caller sees one behaviour whatever the backend (tests/test_bad_input.py compares them).
"""
from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def shape_str(a: np.ndarray) -> str:
    return str(tuple(int(s) for s in a.shape))


def ndarray(fn: str, name: str, a) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    return a


def float_array(fn: str, name: str, a) -> np.ndarray:
    ndarray(fn, name, a)
    if a.dtype not in FLOAT_DTYPES or not a.dtype.isnative:
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


def output(fn: str, out, shape: tuple, dtype: np.dtype, name: str = "out") -> np.ndarray:
    """`out` validated against (shape, dtype), or a new C-ordered array when out is None."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    float_array(fn, name, out)
    if out.dtype != dtype:
        raise TypeError(f"{fn}: dtype mismatch: {name} {out.dtype}, expected {np.dtype(dtype)}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fn}: shape mismatch: {name} {shape_str(out)}, expected {tuple(shape)}")
    writable(fn, name, out)
    return out


def output_like(fn: str, out, like: np.ndarray, like_name: str, name: str = "out") -> np.ndarray:
    if out is None:
        return np.empty(like.shape, dtype=like.dtype)
    float_array(fn, name, out)
    same_dtype(fn, like_name, like, name, out)
    same_shape(fn, like_name, like, name, out)
    writable(fn, name, out)
    no_partial_overlap(fn, name, out, like_name, like)
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
