"""The book's optimizers (ch. 6): `update(params, grads)` changes each params[key] array in place.

Defaults and formulas are the book's; the arithmetic runs in the compiled update kernels of the active backend,
bit-for-bit equal to the book's NumPy lines. State (v, h, m) is created on the first update, one array per key,
with the parameter's dtype. Parameters must be C-contiguous, writeable float32/float64 arrays (a copy could not
be updated in place, so anything else raises).
"""
from __future__ import annotations

import numpy as np

from . import _backend as K


def _state_like(params):
    return {key: np.zeros_like(val) for key, val in params.items()}


class SGD:
    """W <- W - lr * dW"""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params:
            K.sgd_update(params[key], grads[key], self.lr)


class Momentum:
    """v <- momentum * v - lr * dW; W <- W + v"""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = _state_like(params)
        for key in params:
            K.momentum_update(params[key], grads[key], self.v[key], self.lr, self.momentum)


class Nesterov:
    """Nesterov's accelerated gradient in the book's form (arXiv:1212.0901), as fixed in the book in 2021:
    W <- W + momentum^2 * v - (1 + momentum) * lr * dW (with the previous v); then v <- momentum * v - lr * dW"""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = _state_like(params)
        for key in params:
            K.nesterov_update(params[key], grads[key], self.v[key], self.lr, self.momentum)


class AdaGrad:
    """h <- h + dW*dW; W <- W - lr * dW / (sqrt(h) + 1e-7)"""

    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = _state_like(params)
        for key in params:
            K.adagrad_update(params[key], grads[key], self.h[key], self.lr, 1e-7)


class RMSprop:
    """h <- decay*h + (1-decay)*dW*dW; W <- W - lr * dW / (sqrt(h) + 1e-7)"""

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = _state_like(params)
        for key in params:
            K.rmsprop_update(params[key], grads[key], self.h[key], self.lr, self.decay_rate, 1e-7)


class Adam:
    """Adam (arXiv:1412.6980) in the book's form: bias correction folded into lr_t."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = _state_like(params), _state_like(params)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for key in params:
            K.adam_update(params[key], grads[key], self.m[key], self.v[key], float(lr_t), self.beta1, self.beta2,
                          1e-7)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad, "rmsprop": RMSprop,
              "adam": Adam}


def get_optimizer(name, **params):
    """Optimizer by (case-insensitive) name, e.g. get_optimizer('adam', lr=1e-3)."""
    try:
        cls = OPTIMIZERS[str(name).lower()]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(sorted(OPTIMIZERS))}") from None
    return cls(**params)
