"""The book's functions (ch. 3-4): activations, softmax and losses, written with NumPy as the book writes them.

These are the plain, readable versions readers compare with the book; the layers in pybp.layers use the compiled
kernels. Note the two ReLU gradient conventions: `relu_grad` here follows the book's functions (1 where x >= 0),
while the Relu layer follows the book's layer (gradient 0 where x <= 0). They differ only at x == 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np

ArrayLike = Any


def identity_function(x: ArrayLike) -> ArrayLike:
    return x


def step_function(x: ArrayLike) -> np.ndarray:
    return np.array(np.asarray(x) > 0, dtype=np.int64)


def sigmoid(x: ArrayLike) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def sigmoid_grad(x: ArrayLike) -> np.ndarray:
    s = sigmoid(x)
    return (1.0 - s) * s


def relu(x: ArrayLike) -> np.ndarray:
    return np.maximum(0, x)


def relu_grad(x: ArrayLike) -> np.ndarray:
    grad = np.zeros_like(x)
    grad[x >= 0] = 1
    return grad


def softmax(x: ArrayLike) -> np.ndarray:
    """Softmax over the last axis (any ndim), max-subtracted for stability."""
    x = np.asarray(x)
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def sum_squared_error(y: ArrayLike, t: ArrayLike) -> float:
    return 0.5 * np.sum((y - t) ** 2)


def cross_entropy_error(y: ArrayLike, t: ArrayLike) -> float:
    """The book's batch cross-entropy: 1-D or 2-D y, one-hot or index t, with its 1e-7 offset inside the log."""
    y, t = np.asarray(y), np.asarray(t)
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:  # one-hot labels -> indices
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t.reshape(-1)] + 1e-7)) / batch_size


def softmax_loss(X: ArrayLike, t: ArrayLike) -> float:
    """cross_entropy_error(softmax(X), t): the book's loss of logits, with its 1e-7 offset (common/functions.py)."""
    return cross_entropy_error(softmax(X), t)


# shorter aliases
identity = identity_function
step = step_function
