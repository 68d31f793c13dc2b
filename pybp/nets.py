"""The book's networks: TwoLayerNet (ch. 5), MultiLayerNet and MultiLayerNetExtend (ch. 6).

Parameters live in `net.params` (dict W1, b1, ...), the layers hold the same arrays, optimizers update them in
place. `dtype` (default float64, which gradient checks need) sets the parameters' dtype; inputs must match it
(the kernels raise TypeError on mixed dtypes instead of casting silently). `seed` makes the initial weights
reproducible (numpy Generator); without it the global `np.random` is used, as in the book.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .gradient import numerical_gradient
from .layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss


def _randn(rng, *shape):
    return rng.standard_normal(shape) if rng is not None else np.random.randn(*shape)


def _backprop(layers, last_layer):
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


def _accuracy(y, t):
    y = np.argmax(y, axis=1)
    if t.ndim != 1:
        t = np.argmax(t, axis=1)
    return float(np.sum(y == t)) / float(y.shape[0])


class _ParamIO:
    """save_params/load_params shared by the nets: .npz, no pickles, checked against the net's own arrays."""

    params: dict

    def save_params(self, path):
        """Write params to a .npz file (numpy.savez; loadable with allow_pickle=False)."""
        np.savez(path, **{k: np.asarray(v) for k, v in self.params.items()})

    def load_params(self, path):
        """Load weights saved by save_params into this net's arrays, in place (layers keep their references).
        Raises ValueError naming the key on missing/extra keys or shape mismatch, TypeError on dtype mismatch."""
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if keys != set(self.params):
                missing, extra = sorted(set(self.params) - keys), sorted(keys - set(self.params))
                raise ValueError(f"load_params: {path}: keys differ from the network's: missing {missing}, "
                                 f"unexpected {extra}")
            for k, dst in self.params.items():
                src = f[k]
                if src.shape != dst.shape:
                    raise ValueError(f"load_params: {path}: {k} has shape {src.shape}, the network expects "
                                     f"{dst.shape}")
                if src.dtype != dst.dtype:
                    raise TypeError(f"load_params: {path}: {k} has dtype {src.dtype}, the network uses "
                                    f"{dst.dtype} (build the net with dtype={src.dtype.name})")
                dst[...] = src


class TwoLayerNet(_ParamIO):
    """input -> Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss (book ch. 5)."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, *, dtype=np.float64, seed=None):
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
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.lastLayer.forward(self.predict(x), t)

    def accuracy(self, x, t):
        return _accuracy(self.predict(x), t)

    def numerical_gradient(self, x, t):
        loss_w = lambda _w: self.loss(x, t)  # noqa: E731
        return {key: numerical_gradient(loss_w, self.params[key]) for key in ("W1", "b1", "W2", "b2")}

    def gradient(self, x, t):
        self.loss(x, t)
        _backprop(self.layers, self.lastLayer)
        return {"W1": self.layers["Affine1"].dW, "b1": self.layers["Affine1"].db,
                "W2": self.layers["Affine2"].dW, "b2": self.layers["Affine2"].db}


def _init_scale(weight_init_std, activation, n_in):
    s = str(weight_init_std).lower()
    if s in ("relu", "he"):
        return np.sqrt(2.0 / n_in)
    if s in ("sigmoid", "xavier"):
        return np.sqrt(1.0 / n_in)
    try:
        return float(weight_init_std)
    except (TypeError, ValueError):
        raise ValueError(f"weight_init_std must be a number, 'relu'/'he' or 'sigmoid'/'xavier', got "
                         f"{weight_init_std!r}") from None


_ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}


class MultiLayerNet(_ParamIO):
    """Fully connected net with `activation` ('relu' or 'sigmoid') between Affine layers and weight decay
    (book ch. 6). Weight init: 'relu'/'he' (sqrt(2/n)), 'sigmoid'/'xavier' (sqrt(1/n)) or a number."""

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0, *, dtype=np.float64, seed=None):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.dtype = np.dtype(dtype)
        self.params = {}
        self._init_weight(weight_init_std, activation, np.random.default_rng(seed) if seed is not None else None)
        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{idx}"] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
            self._add_hidden_extras(idx)
            self.layers[f"Activation_function{idx}"] = _ACTIVATIONS[activation]()
        idx = self.hidden_layer_num + 1
        self.layers[f"Affine{idx}"] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
        self.last_layer = SoftmaxWithLoss()
        self.lastLayer = self.last_layer

    def _add_hidden_extras(self, idx):
        pass

    def _init_weight(self, weight_init_std, activation, rng):
        sizes = [self.input_size] + self.hidden_size_list + [self.output_size]
        for idx in range(1, len(sizes)):
            scale = _init_scale(weight_init_std, activation, sizes[idx - 1])
            self.params[f"W{idx}"] = (scale * _randn(rng, sizes[idx - 1], sizes[idx])).astype(self.dtype)
            self.params[f"b{idx}"] = np.zeros(sizes[idx], dtype=self.dtype)

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def _weight_decay(self):
        if not self.weight_decay_lambda:
            return 0.0
        return sum(0.5 * self.weight_decay_lambda * float(np.sum(self.params[f"W{i}"] ** 2))
                   for i in range(1, self.hidden_layer_num + 2))

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t) + self._weight_decay()

    def accuracy(self, x, t):
        return _accuracy(self.predict(x), t)

    def numerical_gradient(self, x, t):
        loss_w = lambda _w: self.loss(x, t)  # noqa: E731
        return {key: numerical_gradient(loss_w, self.params[key]) for key in self.params}

    def _training_forward(self, x, t):
        """The forward pass gradient() differentiates."""
        return self.loss(x, t)

    def gradient(self, x, t):
        self._training_forward(x, t)
        _backprop(self.layers, self.last_layer)
        return self._collect_grads()

    def _collect_grads(self):
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            aff = self.layers[f"Affine{idx}"]
            grads[f"W{idx}"] = aff.dW + self.weight_decay_lambda * aff.W if self.weight_decay_lambda else aff.dW
            grads[f"b{idx}"] = aff.db
        return grads


class MultiLayerNetExtend(MultiLayerNet):
    """MultiLayerNet with optional Dropout and BatchNormalization (book ch. 6). predict/loss take train_flg."""

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0, use_dropout=False, dropout_ration=0.5, use_batchnorm=False, *,
                 dtype=np.float64, seed=None):
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

    def _add_hidden_extras(self, idx):
        if self.use_batchnorm:
            size = self.hidden_size_list[idx - 1]
            self.params[f"gamma{idx}"] = np.ones(size, dtype=self.dtype)
            self.params[f"beta{idx}"] = np.zeros(size, dtype=self.dtype)
            self.layers[f"BatchNorm{idx}"] = BatchNormalization(self.params[f"gamma{idx}"], self.params[f"beta{idx}"])

    def predict(self, x, train_flg=False):
        for layer in self.layers.values():
            if isinstance(layer, (Dropout, BatchNormalization)):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        return self.last_layer.forward(self.predict(x, train_flg), t) + self._weight_decay()

    def accuracy(self, X, T):
        return _accuracy(self.predict(X, train_flg=False), T)

    def numerical_gradient(self, X, T):
        loss_w = lambda _w: self.loss(X, T, train_flg=True)  # noqa: E731
        return {key: numerical_gradient(loss_w, self.params[key]) for key in self.params}

    def _training_forward(self, x, t):
        return self.loss(x, t, train_flg=True)

    def _collect_grads(self):
        base = super()._collect_grads()
        if not self.use_batchnorm:
            return base
        grads = {}  # the book's key order: W1, b1, gamma1, beta1, W2, ...
        for idx in range(1, self.hidden_layer_num + 2):
            grads[f"W{idx}"], grads[f"b{idx}"] = base[f"W{idx}"], base[f"b{idx}"]
            if idx <= self.hidden_layer_num:
                grads[f"gamma{idx}"] = self.layers[f"BatchNorm{idx}"].dgamma
                grads[f"beta{idx}"] = self.layers[f"BatchNorm{idx}"].dbeta
        return grads
