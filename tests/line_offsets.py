"""Arrays at a chosen offset from a 64-byte cache line, for the kernels that peel to a line (csrc/line_peel.hpp)."""
from __future__ import annotations

import numpy as np


def at_line_offset(n, dtype, offset):
    """n zeros of dtype starting `offset` elements past a 64-byte boundary (a view into a larger buffer)."""
    item = np.dtype(dtype).itemsize
    raw = np.zeros(n + 2 * 64 // item, dtype)
    start = (-raw.ctypes.data % 64) // item + offset
    return raw[start:start + n]
