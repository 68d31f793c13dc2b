"""The book's ch. 5 layers and networks written plainly with NumPy (our own code following the book's maths):
the "book-style NumPy" contender of the benchmarks. Not part of pybp."""
from __future__ import annotations

import numpy as np


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t, y = t.reshape(1, t.size), y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n


def relu_forward(x):
    """The book's Relu.forward as a function: (out, mask)."""
    layer = Relu()
    return layer.forward(x), layer.mask


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = self.y = self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        n = self.t.shape[0]
        if self.t.size == self.y.size:
            return (self.y - self.t) / n
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n


class Net:
    """Affine-Relu-...-Affine-SoftmaxWithLoss with given weights (the book's TwoLayerNet / MultiLayerNet)."""

    def __init__(self, params):
        self.params = params
        n = len(params) // 2
        self.layers = []
        for i in range(1, n + 1):
            self.layers.append(Affine(params[f"W{i}"], params[f"b{i}"]))
            if i < n:
                self.layers.append(Relu())
        self.last = SoftmaxWithLoss()

    def loss(self, x, t):
        for layer in self.layers:
            x = layer.forward(x)
        return self.last.forward(x, t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        for i, layer in enumerate(l for l in self.layers if isinstance(l, Affine)):
            grads[f"W{i + 1}"], grads[f"b{i + 1}"] = layer.dW, layer.db
        return grads


def sgd_update(params, grads, lr=0.1):
    for k in params:
        params[k] -= lr * grads[k]
