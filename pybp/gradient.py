"""Numerical gradients (book ch. 4) and gradient checking (ch. 5)."""
from __future__ import annotations

import numpy as np


def numerical_gradient(f, x):
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
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp
        it.iternext()
    return grad


def gradient_descent(f, init_x, lr=0.01, step_num=100):
    """Plain gradient descent with numerical gradients. Returns (x, path) with path of shape (step_num, *x.shape)
    holding x before each step (the book's gradient_method.py)."""
    x = np.array(init_x, dtype=np.float64)
    path = []
    for _ in range(step_num):
        path.append(x.copy())
        x -= lr * numerical_gradient(f, x)
    return x, np.array(path)


def gradient_check(network, x, t):
    """Mean |backprop - numerical| per parameter (book ch. 5 gradient_check.py)."""
    grad_num = network.numerical_gradient(x, t)
    grad_bp = network.gradient(x, t)
    return {key: float(np.average(np.abs(grad_bp[key] - grad_num[key]))) for key in grad_num}
