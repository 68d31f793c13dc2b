"""The book's `common.util` helpers: smooth_curve, shuffle_dataset, conv_output_size, im2col, col2im."""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from ._im2col import col2im, im2col  # noqa: F401  (the book's ch. 7 helpers, one implementation)


def smooth_curve(x: Sequence[float], window_len: int = 11) -> np.ndarray:
    """A loss curve smoothed for plotting, as the book's (same length as x): a moving average weighted by a Kaiser
    window (beta 2) of `window_len` points, the ends padded with mirror images of the curve (the head without
    its first point, the tail with its last, as the book pads them). Shorter curves come back unchanged."""
    x = np.asarray(x, dtype=np.float64)
    n, half = len(x), window_len // 2
    if n < window_len:
        return x.copy()
    padded = np.concatenate([x[window_len - 1:0:-1], x, x[:n - window_len:-1]])
    w = np.kaiser(window_len, 2)
    w /= w.sum()
    # each point: the weighted mean of the window centred on it in the padded curve
    full = np.convolve(padded, w, mode="valid")
    return full[half:half + n]


def shuffle_dataset(x: np.ndarray, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """x and t reordered by one random permutation of their rows (np.random's global generator, as the book)."""
    order = np.random.permutation(x.shape[0])
    return x[order], t[order]


def conv_output_size(input_size: int, filter_size: int, stride: int = 1, pad: int = 0) -> float:
    """(input_size + 2*pad - filter_size) / stride + 1, the output width of a convolution. A float, as the book's
    (true division): int() it for a shape; a fraction means the filter does not tile the padded input."""
    return (input_size + 2 * pad - filter_size) / stride + 1
