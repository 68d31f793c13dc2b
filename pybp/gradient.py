"""Numerical gradients (book ch. 4) and gradient checking (ch. 5)."""
from __future__ import annotations

from typing import Any, Callable, Dict, Sequence, Tuple

import numpy as np

Objective = Callable[[np.ndarray], float]


def numerical_gradient(f: Objective, x: np.ndarray) -> np.ndarray:
    """Central difference of f at x, h = 1e-4, for x of any ndim. x is perturbed in place and restored."""
    h = 1e-4
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        tmp = x[idx]
        x[idx] = tmp + h
        fxh1 = f(x)
        x[idx] = tmp - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)  # (f(x + h) - f(x - h)) / 2h
        x[idx] = tmp
        it.iternext()
    return grad


def numerical_gradient_2d(f: Objective, X: np.ndarray) -> np.ndarray:
    """The book's common/gradient.py variant: for 2-D X, the gradient of f at each row on its own (f receives
    one row, e.g. a function of a point for a grid of points); for 1-D X, numerical_gradient(f, X)."""
    if X.ndim == 1:
        return numerical_gradient(f, X)
    grad = np.zeros_like(X)
    for i, row in enumerate(X):  # row is a view: perturbed in place and restored, like X itself
        grad[i] = numerical_gradient(f, row)
    return grad


# the book's name for the 1-D case; the same function (numerical_gradient handles every ndim)
_numerical_gradient_1d = numerical_gradient


def gradient_descent(f: Objective, init_x: Sequence[float], lr: float = 0.01,
                     step_num: int = 100) -> Tuple[np.ndarray, np.ndarray]:
    """Plain gradient descent with numerical gradients. Returns (x, path) with path of shape (step_num, *x.shape)
    holding x before each step (the book's gradient_method.py)."""
    x = np.array(init_x, dtype=np.float64)
    path = []
    for _ in range(step_num):
        path.append(x.copy())
        x -= lr * numerical_gradient(f, x)
    return x, np.array(path)


def gradient_check(network: Any, x: np.ndarray, t: np.ndarray) -> Dict[str, float]:
    """Mean |backprop - numerical| per parameter (book ch. 5 gradient_check.py)."""
    grad_num = network.numerical_gradient(x, t)
    grad_bp = network.gradient(x, t)
    return {key: float(np.average(np.abs(grad_bp[key] - grad_num[key]))) for key in grad_num}
