"""The book's SimpleConvNet (ch. 7, `ch07/simple_convnet.py`): conv - relu - pool - affine - relu - affine -
softmax, on the compiled convolution kernels."""
from __future__ import annotations

import numpy as np

from ._convnet import ConvNetBase, randn
from ._im2col import out_size
from .layers import Affine, Convolution, Pooling, Relu


class SimpleConvNet(ConvNetBase):
    """The book's defaults: 30 filters of 5x5, pad 0, stride 1, 2x2 max pooling, hidden 100, output 10, weights
    weight_init_std * N(0, 1). `dtype` (default float64) is the parameters' dtype; inputs of any float dtype are
    converted once. `seed` makes the initial weights reproducible (else the global np.random, as the book)."""

    reuse_arrays = False  # measured: see ConvNetBase

    def __init__(self, input_dim=(1, 28, 28), conv_param=None, hidden_size=100, output_size=10,
                 weight_init_std=0.01, *, dtype=np.float64, seed=None):
        super().__init__()
        cp = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        cp.update(conv_param or {})
        self.input_dim = tuple(input_dim)
        self.dtype = np.dtype(dtype)
        fn, fs = cp["filter_num"], cp["filter_size"]
        conv_h = out_size(input_dim[1], fs, cp["stride"], cp["pad"])
        conv_w = out_size(input_dim[2], fs, cp["stride"], cp["pad"])
        pool_size = fn * (conv_h // 2) * (conv_w // 2)
        rng = np.random.default_rng(seed) if seed is not None else None
        s = weight_init_std
        self.params = {
            "W1": (s * randn(rng, fn, input_dim[0], fs, fs)).astype(self.dtype),
            "b1": np.zeros(fn, dtype=self.dtype),
            "W2": (s * randn(rng, pool_size, hidden_size)).astype(self.dtype),
            "b2": np.zeros(hidden_size, dtype=self.dtype),
            "W3": (s * randn(rng, hidden_size, output_size)).astype(self.dtype),
            "b3": np.zeros(output_size, dtype=self.dtype),
        }
        p = self.params
        conv = Convolution(p["W1"], p["b1"], cp["stride"], cp["pad"])
        aff1, aff2 = Affine(p["W2"], p["b2"]), Affine(p["W3"], p["b3"])
        self.layers = [conv, Relu(), Pooling(pool_h=2, pool_w=2, stride=2), aff1, Relu(), aff2]
        self.param_layers = [conv, aff1, aff2]
