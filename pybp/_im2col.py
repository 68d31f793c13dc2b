"""The book's im2col / col2im (ch. 7), for learners who read them; re-exported by pybp.util.

Same semantics and layouts as the book's `common/util.py`: im2col turns (N, C, H, W) into rows of
(N*OH*OW, C*FH*FW), one row per output position, zero padding; col2im adds the columns back (overlapping
windows accumulate). One difference: the result keeps the input's dtype (the book's always returns float64).
The layers do not use these: they call the backend's convolution kernels (pybp._backend), which never build
the whole-batch column matrix.
"""
from __future__ import annotations

import numpy as np


def out_size(input_size, filter_size, stride=1, pad=0):
    """Output length of a convolution or pooling along one axis: (input + 2*pad - filter) // stride + 1.

    The book's conv_output_size (pybp.util) returns the unrounded float; this floors, which is
    what its layers (`1 + int(...)`) and im2col use. Raises ValueError when stride < 1, pad < 0 or the filter does
    not fit the padded input."""
    input_size, filter_size, stride, pad = int(input_size), int(filter_size), int(stride), int(pad)
    if stride < 1:
        raise ValueError(f"out_size: stride must be >= 1, got {stride}")
    if pad < 0:
        raise ValueError(f"out_size: pad must be >= 0, got {pad}")
    if filter_size < 1 or input_size + 2 * pad < filter_size:
        raise ValueError(f"out_size: filter size {filter_size} does not fit input size {input_size} "
                         f"with pad {pad}")
    return (input_size + 2 * pad - filter_size) // stride + 1


def windows(x, filter_h, filter_w, stride=1, pad=0):
    """Read-only view (N, C, OH, OW, FH, FW) of the zero-padded x's windows: windows[n, c, i, j] is the patch
    under the filter at output position (i, j)."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    v = np.lib.stride_tricks.sliding_window_view(xp, (filter_h, filter_w), axis=(2, 3))
    return v[:, :, ::stride, ::stride]


def _out_hw(fn, shape, filter_h, filter_w, stride, pad):
    if len(shape) != 4:
        raise ValueError(f"{fn}: input must be 4-D (N, C, H, W), got shape {tuple(shape)}")
    return (out_size(shape[2], filter_h, stride, pad), out_size(shape[3], filter_w, stride, pad))


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """(N, C, H, W) -> (N*OH*OW, C*FH*FW): row n*OH*OW + i*OW + j holds the window at (i, j) of image n,
    channel-major then filter row then column (the book's layout). Keeps the input's dtype."""
    x = np.asarray(input_data)
    oh, ow = _out_hw("im2col", x.shape, filter_h, filter_w, stride, pad)
    v = windows(x, filter_h, filter_w, stride, pad)[:, :, :oh, :ow]
    n, c = x.shape[:2]
    return np.ascontiguousarray(v.transpose(0, 2, 3, 1, 4, 5)).reshape(n * oh * ow, c * filter_h * filter_w)


def unwindow(cols, h, w, stride=1, pad=0):
    """The adjoint of windows(): adds cols (N, C, OH, OW, FH, FW) back onto an (N, C, h, w) array (overlapping
    windows accumulate, the padding is dropped)."""
    n, c, oh, ow, fh, fw = cols.shape
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1), dtype=cols.dtype)
    for i in range(fh):
        for j in range(fw):
            img[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += cols[:, :, :, :, i, j]
    return img[:, :, pad:h + pad, pad:w + pad]


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of im2col: adds each row of col (N*OH*OW, C*FH*FW) back onto its window of an (N, C, H, W)
    array (overlaps accumulate, padding is dropped). Keeps col's dtype."""
    n, c, h, w = (int(s) for s in input_shape)
    oh, ow = _out_hw("col2im", (n, c, h, w), filter_h, filter_w, stride, pad)
    col = np.asarray(col)
    if col.shape != (n * oh * ow, c * filter_h * filter_w):
        raise ValueError(f"col2im: col has shape {col.shape}, expected {(n * oh * ow, c * filter_h * filter_w)} "
                         f"for input {tuple(input_shape)}")
    cols = col.reshape(n, oh, ow, c, filter_h, filter_w).transpose(0, 3, 1, 2, 4, 5)
    return unwindow(cols, h, w, stride, pad)
