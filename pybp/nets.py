"""The book's networks: TwoLayerNet (ch. 5), MultiLayerNet and MultiLayerNetExtend (ch. 6).

Parameters live in `net.params` (dict W1, b1, ...), the layers hold the same arrays, optimizers update them in
place. `dtype` (default float64, which gradient checks need) sets the parameters' dtype. The public entry points
(predict, loss, accuracy, gradient, numerical_gradient) accept any real input (float32 images from load_mnist,
uint8 pixels, integer index labels, one-hot rows of any real dtype) and convert it once to the network's dtype,
as NumPy's upcasting does in the book's code; the layers and kernels below stay strict about dtypes. `seed`
makes the initial weights reproducible (numpy Generator); without it the global `np.random` is used, in the
book's order of draws, so `np.random.seed(s)` gives the book's initial weights.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from . import _params_io
from .gradient import numerical_gradient
from .layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss

Grads = Dict[str, np.ndarray]
DTypeLike = Union[str, type, np.dtype]


def _randn(rng: Optional[np.random.Generator], *shape: int) -> np.ndarray:
    return rng.standard_normal(shape) if rng is not None else np.random.randn(*shape)


def _backprop(layers: "OrderedDict", last_layer: SoftmaxWithLoss) -> None:
    """Backward pass after a forward: last_layer, then `layers` (an ordered dict) in reverse. The first layer's
    input gradient is not computed when it is an Affine (nothing reads it; its dW and db are still set)."""
    dout = last_layer.backward(1)
    stack = list(layers.values())
    for layer in reversed(stack[1:]):
        dout = layer.backward(dout)
    first = stack[0]
    if isinstance(first, Affine):
        first.backward(dout, need_dx=False)
    else:
        first.backward(dout)


def _real_array(fn: str, name: str, a, dtype: np.dtype) -> np.ndarray:
    """a as an array of `dtype`, converted once if needed (any real kind: float, int, uint, bool)."""
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{fn}: {name} must hold real numbers, got dtype {a.dtype}")
    return a if a.dtype == dtype else a.astype(dtype)


class _Net(_params_io.ParamsFile):
    """What the three networks share: input conversion, loss with weight decay, accuracy, gradients, file I/O.
    Subclasses set params, layers (OrderedDict), last_layer, weight_decay_lambda, hidden_layer_num, dtype."""

    params: Dict[str, np.ndarray]
    layers: "OrderedDict"
    last_layer: SoftmaxWithLoss
    weight_decay_lambda: float = 0
    hidden_layer_num: int = 1
    dtype: np.dtype

    # ---- input conversion at the public entry points ----
    def _x(self, fn: str, x) -> np.ndarray:
        return _real_array(f"{type(self).__name__}.{fn}", "x", x, self.dtype)

    def _t(self, fn: str, t) -> np.ndarray:
        t = np.asarray(t)
        if t.ndim == 2:  # one-hot rows: any real dtype, as the x they are compared with
            return _real_array(f"{type(self).__name__}.{fn}", "t", t, self.dtype)
        return t  # index labels (any integer dtype) or something the kernel's message will name

    # ---- the computation, on converted input ----
    def _forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        for layer in self.layers.values():
            if isinstance(layer, (Dropout, BatchNormalization)):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def _weight_decay(self) -> float:
        if not self.weight_decay_lambda:
            return 0.0
        # 0.5 * lambda * sum(W ** 2) over every weight matrix (biases are not decayed)
        return sum(0.5 * self.weight_decay_lambda * float(np.sum(self.params[f"W{i}"] ** 2))
                   for i in range(1, self.hidden_layer_num + 2))

    def _loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        return self.last_layer.forward(self._forward(x, train_flg), t) + self._weight_decay()

    def predict(self, x) -> np.ndarray:
        """The scores (N, classes) before softmax, in test mode (no dropout; batch norm's running statistics)."""
        return self._forward(self._x("predict", x))

    def loss(self, x, t) -> float:
        """Cross-entropy of predict(x) against t (exact, see pybp.layers), plus 0.5 * weight_decay_lambda * the sum
        of every W ** 2 when the net has weight decay."""
        return self._loss(self._x("loss", x), self._t("loss", t))

    def accuracy(self, x, t) -> float:
        """The fraction of rows whose highest score is the label (t: index labels or one-hot rows)."""
        x = self._x("accuracy", x)
        if x.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}.accuracy: x has 0 rows (shape {x.shape}); the accuracy of an "
                             f"empty set is undefined")
        y = np.argmax(self._forward(x, False), axis=1)
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.sum(y == t)) / float(x.shape[0])

    def _grad_keys(self) -> List[str]:
        return [k for i in range(1, self.hidden_layer_num + 2) for k in (f"W{i}", f"b{i}")]

    _train_flg_in_gradients = False  # MultiLayerNetExtend: dropout and batch norm in training mode

    def numerical_gradient(self, x, t) -> Grads:
        """Central differences of the loss for every parameter (book ch. 4; slow: two forwards per weight)."""
        x, t = self._x("numerical_gradient", x), self._t("numerical_gradient", t)
        loss_w = lambda _w: self._loss(x, t, self._train_flg_in_gradients)  # noqa: E731
        return {key: numerical_gradient(loss_w, self.params[key]) for key in self._grad_keys()}

    def gradient(self, x, t) -> Grads:
        """Backpropagation (book ch. 5): the gradients of loss(x, t) for every parameter, by key."""
        x, t = self._x("gradient", x), self._t("gradient", t)
        self._loss(x, t, self._train_flg_in_gradients)
        _backprop(self.layers, self.last_layer)
        return self._collect_grads()

    def _collect_grads(self) -> Grads:
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            aff = self.layers[f"Affine{idx}"]
            # weight decay adds lambda * W to dW (the gradient of 0.5 * lambda * sum(W ** 2))
            grads[f"W{idx}"] = aff.dW + self.weight_decay_lambda * aff.W if self.weight_decay_lambda else aff.dW
            grads[f"b{idx}"] = aff.db
        return grads


class TwoLayerNet(_Net):
    """input -> Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss (book ch. 5)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, weight_init_std: float = 0.01, *,
                 dtype: DTypeLike = np.float64, seed: Optional[int] = None) -> None:
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed) if seed is not None else None
        self.params = {
            "W1": (weight_init_std * _randn(rng, input_size, hidden_size)).astype(self.dtype),
            "b1": np.zeros(hidden_size, dtype=self.dtype),
            "W2": (weight_init_std * _randn(rng, hidden_size, output_size)).astype(self.dtype),
            "b2": np.zeros(output_size, dtype=self.dtype),
        }
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = self.last_layer = SoftmaxWithLoss()


def _init_scale(weight_init_std: Union[str, float], n_in: int) -> float:
    s = str(weight_init_std).lower()
    if s in ("relu", "he"):
        return float(np.sqrt(2.0 / n_in))
    if s in ("sigmoid", "xavier"):
        return float(np.sqrt(1.0 / n_in))
    try:
        return float(weight_init_std)
    except (TypeError, ValueError):
        raise ValueError(f"weight_init_std must be a number, 'relu'/'he' or 'sigmoid'/'xavier', got "
                         f"{weight_init_std!r}") from None


_ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}


class MultiLayerNet(_Net):
    """Fully connected net with `activation` ('relu' or 'sigmoid') between Affine layers and weight decay
    (book ch. 6). Weight init: 'relu'/'he' (sqrt(2/n)), 'sigmoid'/'xavier' (sqrt(1/n)) or a number."""

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: Union[str, float] = "relu",
                 weight_decay_lambda: float = 0, *, dtype: DTypeLike = np.float64,
                 seed: Optional[int] = None) -> None:
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.dtype = np.dtype(dtype)
        self.params = {}
        self._init_weight(weight_init_std, np.random.default_rng(seed) if seed is not None else None)
        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{idx}"] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
            self._add_hidden_extras(idx)
            self.layers[f"Activation_function{idx}"] = _ACTIVATIONS[activation]()
        idx = self.hidden_layer_num + 1
        self.layers[f"Affine{idx}"] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
        self.last_layer = SoftmaxWithLoss()
        self.lastLayer = self.last_layer

    def _add_hidden_extras(self, idx: int) -> None:
        pass

    def _init_weight(self, weight_init_std: Union[str, float], rng: Optional[np.random.Generator]) -> None:
        sizes = [self.input_size] + self.hidden_size_list + [self.output_size]
        for idx in range(1, len(sizes)):
            scale = _init_scale(weight_init_std, sizes[idx - 1])
            self.params[f"W{idx}"] = (scale * _randn(rng, sizes[idx - 1], sizes[idx])).astype(self.dtype)
            self.params[f"b{idx}"] = np.zeros(sizes[idx], dtype=self.dtype)


class MultiLayerNetExtend(MultiLayerNet):
    """MultiLayerNet with optional Dropout and BatchNormalization (book ch. 6). predict/loss take train_flg."""

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: Union[str, float] = "relu",
                 weight_decay_lambda: float = 0, use_dropout: bool = False, dropout_ration: float = 0.5,
                 use_batchnorm: bool = False, *, dtype: DTypeLike = np.float64, seed: Optional[int] = None) -> None:
        self.use_dropout = use_dropout
        self.dropout_ration = dropout_ration
        self.use_batchnorm = use_batchnorm
        self._rng = np.random.default_rng(seed) if seed is not None else None
        super().__init__(input_size, hidden_size_list, output_size, activation, weight_init_std,
                         weight_decay_lambda, dtype=dtype, seed=seed)
        if use_dropout:  # the book puts Dropout after each activation
            new = OrderedDict()
            for name, layer in self.layers.items():
                new[name] = layer
                if name.startswith("Activation_function"):
                    idx = name[len("Activation_function"):]
                    new[f"Dropout{idx}"] = Dropout(dropout_ration, rng=self._rng)
            self.layers = new

    def _add_hidden_extras(self, idx: int) -> None:
        if self.use_batchnorm:
            size = self.hidden_size_list[idx - 1]
            self.params[f"gamma{idx}"] = np.ones(size, dtype=self.dtype)
            self.params[f"beta{idx}"] = np.zeros(size, dtype=self.dtype)
            self.layers[f"BatchNorm{idx}"] = BatchNormalization(self.params[f"gamma{idx}"], self.params[f"beta{idx}"])

    def predict(self, x, train_flg: bool = False) -> np.ndarray:
        return self._forward(self._x("predict", x), train_flg)

    def loss(self, x, t, train_flg: bool = False) -> float:
        return self._loss(self._x("loss", x), self._t("loss", t), train_flg)

    _train_flg_in_gradients = True

    def _grad_keys(self) -> List[str]:
        keys = []  # the book's order: W1, b1, gamma1, beta1, W2, ...
        for idx in range(1, self.hidden_layer_num + 2):
            keys += [f"W{idx}", f"b{idx}"]
            if self.use_batchnorm and idx <= self.hidden_layer_num:
                keys += [f"gamma{idx}", f"beta{idx}"]
        return keys

    def _collect_grads(self) -> Grads:
        base = super()._collect_grads()
        if not self.use_batchnorm:
            return base
        bn = {f"gamma{i}": self.layers[f"BatchNorm{i}"].dgamma for i in range(1, self.hidden_layer_num + 1)}
        bn.update({f"beta{i}": self.layers[f"BatchNorm{i}"].dbeta for i in range(1, self.hidden_layer_num + 1)})
        return {k: base[k] if k in base else bn[k] for k in self._grad_keys()}
