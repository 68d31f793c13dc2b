"""The book's ch. 7-8 convolution and pooling layers written plainly with NumPy (our own code following the book's
maths and its im2col), for the CNN benchmarks. Not part of pybp.

Two im2col flavours: `book_im2col` as the book builds it (a loop over filter taps into a float64 array, so
float32 input is computed in float64, as the book's code does) and pybp.util's dtype-keeping strided-window
im2col ("vectorised NumPy")."""
from __future__ import annotations

import numpy as np

from book_numpy import Affine, Relu, SoftmaxWithLoss
from pybp._im2col import col2im as fast_col2im
from pybp._im2col import im2col as fast_im2col


def _out(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def book_im2col(x, fh, fw, stride=1, pad=0):
    n, c, h, w = x.shape
    oh, ow = _out(h, fh, stride, pad), _out(w, fw, stride, pad)
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((n, c, fh, fw, oh, ow))  # float64, as the book's
    for i in range(fh):
        for j in range(fw):
            col[:, :, i, j, :, :] = img[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)


def book_col2im(col, shape, fh, fw, stride=1, pad=0):
    n, c, h, w = shape
    oh, ow = _out(h, fh, stride, pad), _out(w, fw, stride, pad)
    col = col.reshape(n, oh, ow, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for i in range(fh):
        for j in range(fw):
            img[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += col[:, :, i, j, :, :]
    return img[:, :, pad:h + pad, pad:w + pad]


FLAVOURS = {"book": (book_im2col, book_col2im), "vectorised": (fast_im2col, fast_col2im)}


class Convolution:
    def __init__(self, W, b, stride=1, pad=0, flavour="book"):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad
        self.im2col, self.col2im = FLAVOURS[flavour]

    def forward(self, x):
        fn, c, fh, fw = self.W.shape
        n, _, h, w = x.shape
        oh, ow = _out(h, fh, self.stride, self.pad), _out(w, fw, self.stride, self.pad)
        self.x, self.col = x, self.im2col(x, fh, fw, self.stride, self.pad)
        self.col_W = self.W.reshape(fn, -1).T
        out = np.dot(self.col, self.col_W) + self.b
        return out.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        fn, c, fh, fw = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(fn, c, fh, fw)
        return self.col2im(np.dot(dout, self.col_W.T), self.x.shape, fh, fw, self.stride, self.pad)


class Pooling:
    def __init__(self, ph, pw, stride=1, pad=0, flavour="book"):
        self.ph, self.pw, self.stride, self.pad = ph, pw, stride, pad
        self.im2col, self.col2im = FLAVOURS[flavour]

    def forward(self, x):
        n, c, h, w = x.shape
        oh, ow = _out(h, self.ph, self.stride, self.pad), _out(w, self.pw, self.stride, self.pad)
        col = self.im2col(x, self.ph, self.pw, self.stride, self.pad).reshape(-1, self.ph * self.pw)
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        return np.max(col, axis=1).reshape(n, oh, ow, c).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        size = self.ph * self.pw
        dmax = np.zeros((dout.size, size), dtype=dout.dtype)
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dcol = dmax.reshape(dout.shape[0] * dout.shape[1] * dout.shape[2], -1)
        return self.col2im(dcol, self.x.shape, self.ph, self.pw, self.stride, self.pad)


class FlatAffine(Affine):
    """The book's Affine for 4-D input: flattens x to (N, -1), returns dx in x's shape."""

    def forward(self, x):
        self.shape = x.shape
        return super().forward(x.reshape(x.shape[0], -1))

    def backward(self, dout):
        return super().backward(dout).reshape(self.shape)


class Dropout:
    def __init__(self, ratio=0.5):
        self.ratio = ratio

    def forward(self, x, train_flg=True):
        self.mask = np.random.rand(*x.shape) > self.ratio
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class ConvNet:
    """The book's SimpleConvNet ('simple') or DeepConvNet ('deep') over the given weights (dict W1, b1, ...)."""

    def __init__(self, kind, params, flavour="book"):
        self.params, p, L = params, params, []
        if kind == "simple":
            L = [Convolution(p["W1"], p["b1"], 1, 0, flavour), Relu(), Pooling(2, 2, 2, 0, flavour),
                 FlatAffine(p["W2"], p["b2"]), Relu(), Affine(p["W3"], p["b3"])]
        else:
            for i, pad in enumerate((1, 1, 1, 2, 1, 1), start=1):
                L += [Convolution(p[f"W{i}"], p[f"b{i}"], 1, pad, flavour), Relu()]
                if i % 2 == 0:
                    L.append(Pooling(2, 2, 2, 0, flavour))
            L += [FlatAffine(p["W7"], p["b7"]), Relu(), Dropout(), Affine(p["W8"], p["b8"]), Dropout()]
        self.layers, self.last = L, SoftmaxWithLoss()

    def gradient(self, x, t):
        for layer in self.layers:
            x = layer.forward(x)
        self.last.forward(x, t)
        dout = self.last.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads, i = {}, 1
        for layer in self.layers:
            if isinstance(layer, (Affine, Convolution)):
                grads[f"W{i}"], grads[f"b{i}"] = layer.dW, layer.db
                i += 1
        return grads


def adam_update(params, grads, state, lr=0.001, b1=0.9, b2=0.999):
    """The book's Adam (common/optimizer.py)."""
    if not state:
        state.update(m={k: np.zeros_like(v) for k, v in params.items()},
                     v={k: np.zeros_like(v) for k, v in params.items()}, it=0)
    state["it"] += 1
    lr_t = lr * np.sqrt(1.0 - b2 ** state["it"]) / (1.0 - b1 ** state["it"])
    for k in params:
        m, v = state["m"][k], state["v"][k]
        m += (1 - b1) * (grads[k] - m)
        v += (1 - b2) * (grads[k] ** 2 - v)
        params[k] -= lr_t * m / (np.sqrt(v) + 1e-7)
