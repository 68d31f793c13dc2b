"""The book's layers (ch. 5-6) with forward/backward, on the compiled kernels of the active backend.

Attributes, defaults and results follow the book (`Affine.W/.b/.x/.dW/.db`, `Relu.mask`, `Sigmoid.out`,
`SoftmaxWithLoss.loss/.y/.t`, ...). Differences, all deliberate:
- backward never modifies the caller's `dout` in place (the book's Relu does);
- SoftmaxWithLoss computes the exact log-softmax loss (no 1e-7 offset), so its gradient (y - t) / N is exact,
  and its backward uses `dout` (the book ignores it) and returns a new array on every call;
- mixed dtypes (e.g. float32 x with float64 W) raise TypeError instead of silently upcasting (the networks'
  entry points convert their input once; see pybp.nets);
- backward before forward raises RuntimeError saying so (the book fails on None somewhere inside).
Layers call `pybp._backend.<kernel>` at call time, so `pybp.set_backend()` takes effect immediately.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from . import _backend as K
from ._im2col import out_size


def _forward_ran(layer: object, cached: Any) -> None:
    """backward needs what forward cached; say so instead of failing inside a kernel on None."""
    if cached is None:
        name = type(layer).__name__
        raise RuntimeError(f"{name}.backward: call {name}.forward first (backward uses what forward stores)")


class MulLayer:
    """out = x * y (numbers or arrays); backward gives (dout * y, dout * x)."""

    def __init__(self) -> None:
        self.x: Any = None
        self.y: Any = None

    def forward(self, x: Any, y: Any) -> Any:
        self.x, self.y = x, y
        return x * y

    def backward(self, dout: Any) -> Tuple[Any, Any]:
        _forward_ran(self, self.x)
        return dout * self.y, dout * self.x


class AddLayer:
    """out = x + y; backward passes dout to both inputs."""

    def __init__(self) -> None:
        pass

    def forward(self, x: Any, y: Any) -> Any:
        return x + y

    def backward(self, dout: Any) -> Tuple[Any, Any]:
        return dout * 1, dout * 1


class Relu:
    """out = max(x, 0); mask = (x <= 0), the units backward blocks. forward and backward return new arrays unless
    given `out` (an array of the result's shape and dtype; x or dout itself computes in place, as the book's
    backward does: the CNNs pass it for arrays only they hold, saving a pass over memory and its page faults)."""

    def __init__(self) -> None:
        self.mask: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        out, self.mask = K.relu_forward(x, out=out)
        return out

    def backward(self, dout: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        _forward_ran(self, self.mask)
        return K.relu_backward(dout, self.mask, out=out)  # dx = dout, with dx[mask] = 0


class Sigmoid:
    """out = 1 / (1 + exp(-x))."""

    def __init__(self) -> None:
        self.out: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = K.sigmoid_forward(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _forward_ran(self, self.out)
        return K.sigmoid_backward(dout, self.out)  # dx = dout * (1 - out) * out


class Affine:
    """out = x @ W + b; W (in, out) and b are the caller's arrays, held by reference (optimizers update them)."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W = W
        self.b = b
        self.x: Optional[np.ndarray] = None
        self.original_x_shape: Optional[Tuple[int, ...]] = None
        self.dW: Optional[np.ndarray] = None
        self.db: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, ...) -> (N, M); N = 0 gives an empty (0, M) result."""
        self.original_x_shape = x.shape
        # (N, ...) -> (N, D), as the book does for image input; D spelled out so that N = 0 reshapes too
        x = x.reshape(x.shape[0], int(np.prod(x.shape[1:], dtype=np.int64)))
        self.x = x
        return K.affine_forward(x, self.W, self.b)  # out = x @ W + b

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        """Sets dW and db and returns dx in the input's original shape. need_dx=False skips the dx product (a
        network's first layer: nobody reads it) and returns None."""
        _forward_ran(self, self.x)
        self.dW = K.gemm(self.x, dout, trans_a=True)  # dW = x.T @ dout
        self.db = K.bias_grad(dout)  # db = sum(dout, axis=0)
        if not need_dx:
            return None
        dx = K.gemm(dout, self.W, trans_b=True)  # dx = dout @ W.T
        return dx if dx.shape == self.original_x_shape else dx.reshape(*self.original_x_shape)


class SoftmaxWithLoss:
    """Softmax + cross-entropy, fused: forward(x, t) with index labels (N,) or one-hot labels (N, C)."""

    def __init__(self) -> None:
        self.loss: Optional[float] = None
        self.y: Optional[np.ndarray] = None
        self.t: Optional[np.ndarray] = None
        self._dx: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.t = t
        self.loss, self.y, self._dx = K.softmax_cross_entropy(x, t)
        return self.loss

    def backward(self, dout: Any = 1) -> np.ndarray:
        """dx = (y - t) / N * dout, a new array on every call (the kernel computed (y - t) / N during forward).
        dout: the upstream gradient of the loss, a number or an array broadcastable to (N, C) (the book's
        backward ignores it; with the default 1 the results agree)."""
        _forward_ran(self, self._dx)
        if isinstance(dout, (int, float)) and dout == 1:
            return self._dx.copy()
        return self._dx * np.asarray(dout, dtype=self._dx.dtype)  # kept in x's dtype: the next kernel is strict


class Dropout:
    """The book's dropout: at train time keep each unit with probability 1 - ratio; at test time scale by it.
    `rng`: a numpy Generator for reproducible masks (default: numpy's global RandomState, as the book)."""

    def __init__(self, dropout_ratio: float = 0.5, rng: Optional[np.random.Generator] = None) -> None:
        self.dropout_ratio = dropout_ratio
        self.mask: Optional[np.ndarray] = None
        self.rng = rng

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        if train_flg:
            r = self.rng.random(x.shape) if self.rng is not None else np.random.rand(*x.shape)
            self.mask = r > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _forward_ran(self, self.mask)
        return dout * self.mask


class BatchNormalization:
    """Batch normalization (book ch. 6): per-feature standardisation over the batch, then gamma * xn + beta.

    2-D input (N, D) directly; 4-D input (N, C, H, W) is flattened to (N, C*H*W) as the book does. Train mode
    uses batch statistics and updates running_mean/var with `momentum`; test mode uses the running statistics.
    """

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9,
                 running_mean: Optional[np.ndarray] = None, running_var: Optional[np.ndarray] = None) -> None:
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape = None
        self.running_mean = running_mean
        self.running_var = running_var
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        self.input_shape = x.shape
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        out = self._forward(x, train_flg)
        return out.reshape(*self.input_shape)

    def _forward(self, x: np.ndarray, train_flg: bool) -> np.ndarray:
        if self.running_mean is None:
            d = x.shape[1]
            self.running_mean = np.zeros(d, dtype=x.dtype)
            self.running_var = np.zeros(d, dtype=x.dtype)
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var + 10e-7)
            xn = xc / std
            self.batch_size = x.shape[0]
            self.xc, self.xn, self.std = xc, xn, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / np.sqrt(self.running_var + 10e-7)
        return self.gamma * xn + self.beta

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _forward_ran(self, self.xc)
        if dout.ndim != 2:
            dout = dout.reshape(dout.shape[0], -1)
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size
        self.dgamma, self.dbeta = dgamma, dbeta
        return dx.reshape(*self.input_shape)


class _Windowed:
    """What Convolution and Pooling share: stride, pad and the input x kept for backward (NCHW)."""

    def __init__(self, stride, pad):
        self.stride = stride
        self.pad = pad
        self.x = None

    def _keep(self, x):
        self.x = x
        return x

    def _in_hw(self):
        _forward_ran(self, self.x)
        return self.x.shape[2], self.x.shape[3]

    def out_shape(self, x_shape):
        """The shape of forward's output for input of shape x_shape (N, C, H, W)."""
        n, c, h, w = x_shape
        fn, fh, fw = self._window(c)
        return n, fn, out_size(h, fh, self.stride, self.pad), out_size(w, fw, self.stride, self.pad)


class Convolution(_Windowed):
    """Convolution (book ch. 7) on NCHW input: W (FN, C, FH, FW) and b (FN,) are the caller's arrays, held by
    reference (optimizers update them). forward(x) -> (N, FN, OH, OW), OH = (H + 2*pad - FH) // stride + 1.

    Same attributes as the book's (W, b, stride, pad, x, dW, db) except col / col_W: the backend's kernels
    never build the whole batch's column matrix. forward and backward return new arrays unless given `out` (an
    array of the result's shape and dtype, overwritten: the CNNs pass arrays only they hold, see Relu)."""

    def __init__(self, W, b, stride=1, pad=0):
        super().__init__(stride, pad)
        self.W = W
        self.b = b
        self.dW = None
        self.db = None

    def _window(self, c):
        return self.W.shape[0], self.W.shape[2], self.W.shape[3]

    def forward(self, x, out=None):
        return K.conv_forward(self._keep(x), self.W, self.b, self.stride, self.pad, out=out)

    def backward(self, dout, need_dx=True, out=None):
        """Sets dW and db and returns dx (None when need_dx is False: a network's first layer)."""
        in_h, in_w = self._in_hw()
        _, _, fh, fw = self.W.shape
        self.dW, self.db = K.conv_backward_weights(dout, self.x, fh, fw, self.stride, self.pad)
        if not need_dx:
            return None
        return K.conv_backward_data(dout, self.W, in_h, in_w, self.stride, self.pad, out=out)


class Pooling(_Windowed):
    """Max pooling (book ch. 7) over pool_h x pool_w windows; the book's defaults (stride=1, pad=0; its nets pass
    stride=2). Padding takes part as zeros and the first maximum of a window wins, as in the book; unlike the
    book's, the output size counts the padding (the book's Pooling ignores pad there and fails for pad > 0).
    `arg_max` (int32, the output's shape) holds each maximum's index h*W + w in its input plane (-1: padding).
    `out` of forward and backward as in Convolution."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        super().__init__(stride, pad)
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.arg_max = None

    def _window(self, c):
        return c, self.pool_h, self.pool_w

    def forward(self, x, out=None):
        out, self.arg_max = K.maxpool_forward(self._keep(x), self.pool_h, self.pool_w, self.stride, self.pad,
                                              out=out)
        return out

    def backward(self, dout, out=None):
        in_h, in_w = self._in_hw()
        return K.maxpool_backward(dout, self.arg_max, in_h, in_w, out=out)
