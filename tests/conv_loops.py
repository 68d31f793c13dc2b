"""Direct-loop definitions of convolution and max pooling (the tests' oracle for every backend, _ref included).

Written from the definitions with explicit index arithmetic and bounds tests (no padding arrays, no windows),
so they share no code with pybp. Float64 accumulation; tiny shapes only.
"""
from __future__ import annotations

import numpy as np


def out_size(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def conv_forward(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    fn, _, fh, fw = w.shape
    oh, ow = out_size(h, fh, stride, pad), out_size(wd, fw, stride, pad)
    out = np.zeros((n, fn, oh, ow))
    for a in range(n):
        for f in range(fn):
            for y in range(oh):
                for z in range(ow):
                    s = float(b[f])
                    for ch in range(c):
                        for i in range(fh):
                            for j in range(fw):
                                r, q = y * stride + i - pad, z * stride + j - pad
                                if 0 <= r < h and 0 <= q < wd:
                                    s += float(w[f, ch, i, j]) * float(x[a, ch, r, q])
                    out[a, f, y, z] = s
    return out


def conv_backward(dout, x, w, stride, pad):
    """(dx, dw, db) of conv_forward for upstream gradient dout."""
    n, c, h, wd = x.shape
    fn, _, fh, fw = w.shape
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    db = np.zeros(fn)
    for a in range(n):
        for f in range(fn):
            for y in range(dout.shape[2]):
                for z in range(dout.shape[3]):
                    g = float(dout[a, f, y, z])
                    db[f] += g
                    for ch in range(c):
                        for i in range(fh):
                            for j in range(fw):
                                r, q = y * stride + i - pad, z * stride + j - pad
                                if 0 <= r < h and 0 <= q < wd:
                                    dx[a, ch, r, q] += g * float(w[f, ch, i, j])
                                    dw[f, ch, i, j] += g * float(x[a, ch, r, q])
    return dx, dw, db


def maxpool_forward(x, ph, pw, stride, pad):
    """(out, argmax) with the book's rules: zero padding takes part; the first maximum in row-major window order
    wins; argmax = r*W + q, or -1 for a padding position."""
    n, c, h, wd = x.shape
    oh, ow = out_size(h, ph, stride, pad), out_size(wd, pw, stride, pad)
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    arg = np.zeros((n, c, oh, ow), dtype=np.int64)
    for a in range(n):
        for ch in range(c):
            for y in range(oh):
                for z in range(ow):
                    best, where = None, None
                    for i in range(ph):
                        for j in range(pw):
                            r, q = y * stride + i - pad, z * stride + j - pad
                            inside = 0 <= r < h and 0 <= q < wd
                            v = x[a, ch, r, q] if inside else x.dtype.type(0)
                            if best is None or v > best:
                                best, where = v, (r * wd + q if inside else -1)
                    out[a, ch, y, z], arg[a, ch, y, z] = best, where
    return out, arg


def maxpool_backward(dout, argmax, h, wd):
    n, c = dout.shape[:2]
    dx = np.zeros((n, c, h * wd))
    for a in range(n):
        for ch in range(c):
            for y in range(dout.shape[2]):
                for z in range(dout.shape[3]):
                    k = argmax[a, ch, y, z]
                    if k >= 0:
                        dx[a, ch, k] += float(dout[a, ch, y, z])
    return dx.reshape(n, c, h, wd)
