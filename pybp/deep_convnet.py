"""The book's DeepConvNet (ch. 8, `ch08/deep_convnet.py`, test accuracy above 99%):
conv - relu - conv - relu - pool, three times (16, 16 / 32, 32 / 64, 64 filters of 3x3), then affine - relu -
dropout - affine - dropout - softmax."""
from __future__ import annotations

import numpy as np

from ._convnet import ConvNetBase, randn
from ._im2col import out_size
from .layers import Affine, Convolution, Dropout, Pooling, Relu

_DEFAULTS = ({"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
             {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
             {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
             {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
             {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
             {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1})


class DeepConvNet(ConvNetBase):
    """The book's architecture and He initialisation (sqrt(2 / fan-in) * N(0, 1)), Dropout 0.5. The first affine
    layer's input size is computed from input_dim (the book writes 64*4*4, its value for 28x28 input), so small
    inputs work for tests. `dtype` (default float64), `seed` (weights and dropout masks) as in SimpleConvNet."""

    def __init__(self, input_dim=(1, 28, 28), conv_param_1=None, conv_param_2=None, conv_param_3=None,
                 conv_param_4=None, conv_param_5=None, conv_param_6=None, hidden_size=50, output_size=10, *,
                 dropout_ratio=0.5, dtype=np.float64, seed=None):
        super().__init__()
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)
        cps = [dict(d, **(g or {})) for d, g in zip(_DEFAULTS, given)]
        self.input_dim = tuple(input_dim)
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed) if seed is not None else None
        self.params = {}
        self.layers, self.param_layers = [], []
        ch, h, w = input_dim
        for i, cp in enumerate(cps, start=1):
            fn, fs = cp["filter_num"], cp["filter_size"]
            scale = np.sqrt(2.0 / (ch * fs * fs))
            W = self.params[f"W{i}"] = (scale * randn(rng, fn, ch, fs, fs)).astype(self.dtype)
            b = self.params[f"b{i}"] = np.zeros(fn, dtype=self.dtype)
            conv = Convolution(W, b, cp["stride"], cp["pad"])
            self.layers += [conv, Relu()]
            self.param_layers.append(conv)
            ch = fn
            h, w = out_size(h, fs, cp["stride"], cp["pad"]), out_size(w, fs, cp["stride"], cp["pad"])
            if i % 2 == 0:
                self.layers.append(Pooling(pool_h=2, pool_w=2, stride=2))
                h, w = out_size(h, 2, 2), out_size(w, 2, 2)
        for i, (n_in, n_out) in enumerate(((ch * h * w, hidden_size), (hidden_size, output_size)), start=7):
            W = self.params[f"W{i}"] = (np.sqrt(2.0 / n_in) * randn(rng, n_in, n_out)).astype(self.dtype)
            b = self.params[f"b{i}"] = np.zeros(n_out, dtype=self.dtype)
            aff = Affine(W, b)
            self.param_layers.append(aff)
            self.layers += [aff, Relu()] if i == 7 else [aff]
            self.layers.append(Dropout(dropout_ratio, rng=rng))
