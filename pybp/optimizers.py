"""The book's optimizers (ch. 6): `update(params, grads)` changes each params[key] in place.

Defaults and formulas are the book's; the arithmetic runs in the compiled update kernels of the active backend,
bit-for-bit equal to the book's NumPy lines. State (v, h, m) is one array per key with the parameter's dtype,
created on that key's first update, so a key added to params later (a new layer) gets fresh zero state then
(Adam's bias correction uses the optimizer's step count, as the book's single `iter` does).

Parameters are C-contiguous, writeable float32/float64 arrays, updated in place (a copy could not be, so other
arrays raise). Numbers are accepted too, as in the book's ch06/optimizer_compare_naive.py
(`params['x'] = -7.0`): a Python float, NumPy scalar or 0-d array is updated as the book's `params[key] -= ...`
does, by rebinding `params[key]` to the new value (a float64 number, or the NumPy scalar type it was).
"""
from __future__ import annotations

import numbers
from typing import Any, Dict, Optional

import numpy as np

from . import _backend as K

Params = Dict[str, Any]


def _is_number(p: Any) -> bool:
    return isinstance(p, (numbers.Real, np.generic)) and not isinstance(p, np.ndarray)


def _as_update_array(p: Any) -> np.ndarray:
    """A number as a 0-d array the kernels can update (float64 unless it is already a float32/float64 scalar)."""
    dt = p.dtype if isinstance(p, np.floating) and p.dtype in (np.float32, np.float64) else np.float64
    return np.array(p, dtype=dt)


class _Optimizer:
    """Walks params and grads key by key; subclasses name their state and call their kernel in _step."""

    _state_names: tuple = ()

    def __init__(self) -> None:
        for name in self._state_names:
            setattr(self, name, None)

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def _state(self, name: str, key: str, p: np.ndarray) -> np.ndarray:
        """The state array `name` for `key`, created as zeros on the key's first update."""
        table = getattr(self, name)
        if table is None:
            table = {}
            setattr(self, name, table)
        s = table.get(key)
        if s is None:
            s = table[key] = np.zeros_like(p)
        return s

    def update(self, params: Params, grads: Params) -> None:
        """Apply one step to every params[key] with grads[key] (arrays in place, numbers by rebinding)."""
        self._begin()
        for key in params:
            if key not in grads:
                raise KeyError(f"{type(self).__name__}.update: grads has no entry for params key {key!r} "
                               f"(grads keys: {sorted(grads)})")
            p, g = params[key], grads[key]
            if _is_number(p):
                arr = _as_update_array(p)
                self._step(key, arr, np.asarray(g, dtype=arr.dtype))
                params[key] = type(p)(arr[()]) if isinstance(p, np.generic) else float(arr[()])
            else:  # arrays (0-d included) in place; a number as the gradient of a 0-d parameter is fine
                self._step(key, p, g if isinstance(g, np.ndarray) else np.asarray(g, dtype=getattr(p, "dtype", None)))

    def _begin(self) -> None:
        """Per-update work before the keys (Adam's step count)."""


class SGD(_Optimizer):
    """W <- W - lr * dW"""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__()
        self.lr = lr

    def _step(self, key, p, g):
        K.sgd_update(p, g, self.lr)


class Momentum(_Optimizer):
    """v <- momentum * v - lr * dW; W <- W + v"""

    _state_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__()
        self.lr = lr
        self.momentum = momentum
        self.v: Optional[Dict[str, np.ndarray]]

    def _step(self, key, p, g):
        K.momentum_update(p, g, self._state("v", key, p), self.lr, self.momentum)


class Nesterov(_Optimizer):
    """Nesterov's accelerated gradient in the book's form (arXiv:1212.0901), as fixed in the book in 2021:
    W <- W + momentum^2 * v - (1 + momentum) * lr * dW (with the previous v); then v <- momentum * v - lr * dW"""

    _state_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__()
        self.lr = lr
        self.momentum = momentum
        self.v: Optional[Dict[str, np.ndarray]]

    def _step(self, key, p, g):
        K.nesterov_update(p, g, self._state("v", key, p), self.lr, self.momentum)


class AdaGrad(_Optimizer):
    """h <- h + dW*dW; W <- W - lr * dW / (sqrt(h) + 1e-7)"""

    _state_names = ("h",)

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__()
        self.lr = lr
        self.h: Optional[Dict[str, np.ndarray]]

    def _step(self, key, p, g):
        K.adagrad_update(p, g, self._state("h", key, p), self.lr, 1e-7)


class RMSprop(_Optimizer):
    """h <- decay*h + (1-decay)*dW*dW; W <- W - lr * dW / (sqrt(h) + 1e-7)"""

    _state_names = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__()
        self.lr = lr
        self.decay_rate = decay_rate
        self.h: Optional[Dict[str, np.ndarray]]

    def _step(self, key, p, g):
        K.rmsprop_update(p, g, self._state("h", key, p), self.lr, self.decay_rate, 1e-7)


class Adam(_Optimizer):
    """Adam (arXiv:1412.6980) in the book's form: bias correction folded into lr_t.
    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m += (1-beta1)(dW - m); v += (1-beta2)(dW^2 - v);
    W <- W - lr_t * m / (sqrt(v) + 1e-7)"""

    _state_names = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__()
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self._lr_t = 0.0
        self.m: Optional[Dict[str, np.ndarray]]
        self.v: Optional[Dict[str, np.ndarray]]

    def _begin(self):
        self.iter += 1
        self._lr_t = float(self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter))

    def _step(self, key, p, g):
        K.adam_update(p, g, self._state("m", key, p), self._state("v", key, p), self._lr_t, self.beta1,
                      self.beta2, 1e-7)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad, "rmsprop": RMSprop,
              "adam": Adam}


def get_optimizer(name: str, **params: float) -> _Optimizer:
    """Optimizer by (case-insensitive) name, e.g. get_optimizer('adam', lr=1e-3)."""
    try:
        cls = OPTIMIZERS[str(name).lower()]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(sorted(OPTIMIZERS))}") from None
    return cls(**params)
