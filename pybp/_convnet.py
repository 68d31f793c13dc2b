"""What the book's two CNNs share (ch. 7-8): a list of layers, input conversion, prediction, accuracy in
batches, backprop, gradients keyed W1, b1, ... and save/load of the weights (npz, pybp._params_io)."""
from __future__ import annotations

import numpy as np

from .gradient import numerical_gradient
from .layers import Affine, Convolution, Dropout, Pooling, Relu, SoftmaxWithLoss
from ._params_io import ParamsFile


class ConvNetBase(ParamsFile):
    """Subclasses set self.dtype, self.input_dim, self.params, self.layers (a list) and self.param_layers (the
    layers holding W{i}, b{i}, in key order)."""

    dtype: np.dtype
    input_dim: tuple
    layers: list
    param_layers: list
    # gradient() reuses its forward convolution and pooling outputs (see __init__). Pays where fresh arrays
    # page-fault (DeepConvNet: 1,150 faults, 2-3 ms of a 70 ms step); SimpleConvNet's had none and its step took
    # 2-3% longer with the reused, colder arrays, so it keeps fresh ones. Input gradients always go into the
    # layers' kept inputs (see gradient).
    reuse_arrays = True

    def __init__(self):
        self.last_layer = SoftmaxWithLoss()
        # gradient()'s convolution and pooling outputs, reused by the next gradient() of the same batch shape: the
        # page faults of fresh multi-MB arrays cost 3% of a DeepConvNet step. Only the net holds these (the next
        # layer keeps one as its input until the next forward), and nothing returned to the caller is one of them.
        self._reusable = {}

    def _input(self, x):
        """x as an (N, C, H, W) array of the net's dtype, converted once (flat (N, C*H*W) rows are reshaped)."""
        x = np.asarray(x)
        if x.ndim == 2 and x.shape[1] == int(np.prod(self.input_dim)):
            x = x.reshape((x.shape[0],) + tuple(self.input_dim))
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return x

    def predict(self, x, train_flg=False):
        """Class scores (N, output_size); train_flg turns Dropout on (DeepConvNet)."""
        return self._predict(x, train_flg, reuse=False)

    def _reused(self, key, shape, dtype, run):
        """run(out): out the array layer `key`'s forward returned last time if it has this shape and dtype, else
        None (a new array); the result is kept for the next time."""
        last = self._reusable.get(key)
        y = run(last if last is not None and last.shape == tuple(shape) and last.dtype == dtype else None)
        self._reusable[key] = y
        return y

    def _predict(self, x, train_flg, reuse):
        """predict; reuse: convolution and pooling outputs go into the arrays of the last call (gradient only:
        a large predict must not stay allocated)."""
        x = self._input(x)
        before = None
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dropout):
                x = layer.forward(x, train_flg)
            elif isinstance(layer, Relu) and isinstance(before, (Convolution, Affine)):
                x = layer.forward(x, out=x)  # in place: a new array that the layer before does not keep
            elif reuse and isinstance(layer, (Convolution, Pooling)):
                x = self._reused(i, layer.out_shape(x.shape), x.dtype,
                                 lambda out, layer=layer, x=x: layer.forward(x, out=out))
            else:
                x = layer.forward(x)
            before = layer
        return x

    def loss(self, x, t):
        """Training-mode loss (Dropout on, as the book's DeepConvNet.loss)."""
        return self._loss(x, t, reuse=False)

    def _loss(self, x, t, reuse):
        return self.last_layer.forward(self._predict(x, True, reuse), t)

    def accuracy(self, x, t, batch_size=100):
        """Fraction of x classified as t, predicted batch_size rows at a time. Unlike the book's, a last partial
        batch counts too (the book drops it but divides by all of N)."""
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        hits = 0
        for i in range(0, x.shape[0], batch_size):
            y = self.predict(x[i:i + batch_size], train_flg=False)
            hits += int(np.sum(np.argmax(y, axis=1) == t[i:i + batch_size]))
        return hits / x.shape[0]

    def gradient(self, x, t):
        """Backprop gradients {W1: ..., b1: ..., ...} of loss(x, t); the first layer's input gradient is skipped.
        Afterwards the convolution and pooling layers after the first have x = None: their input arrays were
        reused for the input gradients (the next forward sets x again)."""
        self._loss(x, t, reuse=self.reuse_arrays)
        dout = self.last_layer.backward(1)
        for i in range(len(self.layers) - 1, 0, -1):
            layer = self.layers[i]
            # every dout here is an array that only this loop holds (a new one, or layer i+1's former input,
            # read only by layer i): Relu may overwrite it
            if isinstance(layer, Relu):
                dout = layer.backward(dout, out=dout)
            elif isinstance(layer, (Convolution, Pooling)):
                # The input gradient goes into the layer's input: an array of this net's (i > 0), which its
                # backward no longer needs once it has begun writing dx (the weight gradient comes first). A new
                # array per layer instead made DeepConvNet's working set 50 MB, past this CPU's 32 MB L3: the step
                # took 3.5% longer. x is dropped, so nothing reads the overwritten activations as such.
                dout = layer.backward(dout, out=layer.x)
                layer.x = None
            else:
                dout = layer.backward(dout)
        first = self.layers[0]
        first.backward(dout, need_dx=False) if isinstance(first, Convolution) else first.backward(dout)
        grads = {}
        for i, layer in enumerate(self.param_layers, start=1):
            grads[f"W{i}"], grads[f"b{i}"] = layer.dW, layer.db
        return grads

    def numerical_gradient(self, x, t):
        """Central-difference gradients of loss(x, t) for every parameter (slow: for tiny nets and checks)."""
        loss_w = lambda _w: self.loss(x, t)  # noqa: E731
        return {key: numerical_gradient(loss_w, self.params[key]) for key in self.params}


def randn(rng, *shape):
    return rng.standard_normal(shape) if rng is not None else np.random.randn(*shape)
