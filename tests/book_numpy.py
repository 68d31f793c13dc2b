"""The book's maths (ch. 5-6) in plain NumPy: the oracle tests/test_book_scripts.py runs the book's scripts on.

Written for this test from the book's equations and documented behaviour, not from its code: float64 networks,
the loss with its 1e-7 inside the log, backward (y - t) / N, the optimizers' update lines, the Trainer's rhythm.
Random draws happen in the book's order (weights W1, W2, ... by np.random.randn; batches by np.random.choice;
dropout masks by np.random.rand; shuffles by np.random.permutation), so np.random.seed reproduces its runs.

The test imports `book_numpy.<module>` under the book's module names (mnist, two_layer_net, optimizer, ...);
they are all this one module. LOSS_EXACT maps every loss this oracle returned to the exact loss (no 1e-7) of
the same forward pass, so a test can tell the documented offset from any other difference.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

LOSS_EXACT: dict = {}


# ---- data: the book's load_mnist transforms, on the raw arrays pybp's loader verified -------------------------
def load_mnist(normalize=True, flatten=True, one_hot_label=False):
    from pybp.datasets import load_raw
    raw = load_raw(download=False)
    xs = [raw["x_train"], raw["x_test"]]
    if normalize:
        xs = [x.astype(np.float32) / np.float32(255.0) for x in xs]
    if not flatten:
        xs = [x.reshape(-1, 1, 28, 28) for x in xs]
    ts = [raw["t_train"], raw["t_test"]]
    if one_hot_label:
        ts = [np.eye(10)[t] for t in ts]  # float64 rows, as the book builds them
    return (xs[0], ts[0]), (xs[1], ts[1])


# ---- functions ----------------------------------------------------------------------------------------------
def softmax(a):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _label_index(t, y):
    return t.argmax(axis=1) if t.size == y.size else t


def numerical_gradient(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views of contiguous arrays
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = f(x)
        flat[i] = keep - h
        down = f(x)
        gflat[i] = (up - down) / (2 * h)
        flat[i] = keep
    return grad


def smooth_curve(x):
    """Each point: the Kaiser-weighted (beta 2) mean of the 11 points centred on it; beyond the ends the curve
    is mirrored (the book's way: at the start without repeating the first point, at the end repeating the last)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    w = np.kaiser(11, 2)
    w = w / w.sum()

    def at(j):
        return x[-j] if j < 0 else x[2 * n - 1 - j] if j >= n else x[j]

    return np.array([sum(w[k] * at(i + k - 5) for k in range(11)) for i in range(n)])


def shuffle_dataset(x, t):
    p = np.random.permutation(x.shape[0])
    return x[p], t[p]


# ---- layers -------------------------------------------------------------------------------------------------
class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class AddLayer:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return dout, dout


class Relu:
    def forward(self, x):
        self.off = x <= 0
        return np.where(self.off, 0.0, x)

    def backward(self, dout):
        return np.where(self.off, 0.0, dout)


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.shape)


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.y, self.t = softmax(x), t
        n = x.shape[0]
        rows, label = np.arange(n), _label_index(t, self.y)
        z = x - x.max(axis=1, keepdims=True)
        self.exact = float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, label]))  # -log softmax, no offset
        return -np.sum(np.log(self.y[rows, label] + 1e-7)) / n  # the book's offset inside the log

    def backward(self, dout=1):
        n = self.y.shape[0]
        onehot = self.t if self.t.size == self.y.size else np.eye(self.y.shape[1])[self.t]
        return (self.y - onehot) / n


class Dropout:
    def __init__(self, ratio):
        self.ratio = ratio

    def forward(self, x, train_flg):
        if not train_flg:
            return x * (1.0 - self.ratio)
        self.keep = np.random.rand(*x.shape) > self.ratio
        return x * self.keep

    def backward(self, dout):
        return dout * self.keep


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean = self.running_var = None

    def forward(self, x, train_flg):
        if self.running_mean is None:
            self.running_mean, self.running_var = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        if train_flg:
            mean = x.mean(axis=0)
            self.xc = x - mean
            var = (self.xc ** 2).mean(axis=0)
            self.std = np.sqrt(var + 10e-7)
            self.xn = self.xc / self.std
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mean
            self.running_var = m * self.running_var + (1 - m) * var
            xn = self.xn
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + 10e-7)
        return self.gamma * xn + self.beta

    def backward(self, dout):
        n = dout.shape[0]
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (self.xn * dout).sum(axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dvar = 0.5 * -((dxn * self.xc) / (self.std * self.std)).sum(axis=0) / self.std
        dxc = dxc + (2.0 / n) * self.xc * dvar
        return dxc - dxc.sum(axis=0) / n


# ---- networks -----------------------------------------------------------------------------------------------
class MultiLayerNetExtend:
    """Affine (+ BatchNorm) + activation (+ Dropout) per hidden layer, then Affine and softmax-with-loss."""

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0, use_dropout=False, dropout_ration=0.5, use_batchnorm=False):
        sizes = [input_size] + list(hidden_size_list) + [output_size]
        self.n_affine = len(sizes) - 1
        self.lam = weight_decay_lambda
        self.params = {}
        for i in range(1, len(sizes)):
            scale = weight_init_std
            if str(weight_init_std).lower() in ("relu", "he"):
                scale = np.sqrt(2.0 / sizes[i - 1])
            elif str(weight_init_std).lower() in ("sigmoid", "xavier"):
                scale = np.sqrt(1.0 / sizes[i - 1])
            self.params[f"W{i}"] = scale * np.random.randn(sizes[i - 1], sizes[i])
            self.params[f"b{i}"] = np.zeros(sizes[i])
        self.layers = OrderedDict()
        self.bn = use_batchnorm
        for i in range(1, self.n_affine + 1):
            self.layers[f"Affine{i}"] = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            if i == self.n_affine:
                break
            if use_batchnorm:
                self.params[f"gamma{i}"] = np.ones(sizes[i])
                self.params[f"beta{i}"] = np.zeros(sizes[i])
                self.layers[f"BatchNorm{i}"] = BatchNormalization(self.params[f"gamma{i}"], self.params[f"beta{i}"])
            self.layers[f"Act{i}"] = Relu() if activation == "relu" else Sigmoid()
            if use_dropout:
                self.layers[f"Dropout{i}"] = Dropout(dropout_ration)
        self.last = SoftmaxWithLoss()

    def predict(self, x, train_flg=False):
        for layer in self.layers.values():
            x = layer.forward(x, train_flg) if isinstance(layer, (Dropout, BatchNormalization)) else layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        book = self.last.forward(self.predict(x, train_flg), t)
        decay = 0
        for i in range(1, self.n_affine + 1):
            decay += 0.5 * self.lam * np.sum(self.params[f"W{i}"] ** 2)
        LOSS_EXACT[book + decay] = self.last.exact + decay
        return book + decay

    def accuracy(self, x, t):
        guess = self.predict(x).argmax(axis=1)
        if t.ndim != 1:
            t = t.argmax(axis=1)
        return np.sum(guess == t) / float(x.shape[0])

    def _keys(self):
        for i in range(1, self.n_affine + 1):
            yield from (f"W{i}", f"b{i}")
            if self.bn and i < self.n_affine:
                yield from (f"gamma{i}", f"beta{i}")

    def numerical_gradient(self, x, t):
        f = lambda _: self.loss(x, t, train_flg=True)  # noqa: E731
        return {k: numerical_gradient(f, self.params[k]) for k in self._keys()}

    def gradient(self, x, t):
        self.loss(x, t, train_flg=True)
        dout = self.last.backward()
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for k in self._keys():
            kind, i = k.rstrip("0123456789"), k[len(k.rstrip("0123456789")):]
            if kind == "W":
                grads[k] = self.layers[f"Affine{i}"].dW + self.lam * self.params[k]
            elif kind == "b":
                grads[k] = self.layers[f"Affine{i}"].db
            else:
                grads[k] = getattr(self.layers[f"BatchNorm{i}"], "d" + kind)
        return grads


class MultiLayerNet(MultiLayerNetExtend):
    def __init__(self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0):
        super().__init__(input_size, hidden_size_list, output_size, activation, weight_init_std,
                         weight_decay_lambda)


class TwoLayerNet(MultiLayerNetExtend):
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        super().__init__(input_size, [hidden_size], output_size, "relu", weight_init_std)


# ---- optimizers ---------------------------------------------------------------------------------------------
class _Optimizer:
    """One pass over the keys; `state` names the per-key arrays a subclass keeps (zeros on the first update)."""

    state = ()

    def update(self, params, grads):
        for name in self.state:
            if getattr(self, name, None) is None:
                setattr(self, name, {k: np.zeros_like(v) for k, v in params.items()})
        self._begin()
        for k in params:
            self._step(params, k, grads[k])

    def _begin(self):
        pass


class SGD(_Optimizer):
    def __init__(self, lr=0.01):
        self.lr = lr

    def _step(self, params, k, g):
        params[k] -= self.lr * g


class Momentum(_Optimizer):
    state = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum

    def _step(self, params, k, g):
        self.v[k] = self.momentum * self.v[k] - self.lr * g
        params[k] += self.v[k]


class Nesterov(Momentum):
    """The 2021 form: the step uses the previous velocity, then the velocity moves on."""

    def _step(self, params, k, g):
        m = self.momentum
        params[k] += m * m * self.v[k]
        params[k] -= (1 + m) * self.lr * g
        self.v[k] *= m
        self.v[k] -= self.lr * g


class RMSprop(_Optimizer):
    """h = decay * h + (1 - decay) * g^2; AdaGrad is the same step with h = h + g^2."""

    state = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay = lr, decay_rate

    def _step(self, params, k, g):
        if self.decay is None:
            self.h[k] += g * g
        else:
            self.h[k] *= self.decay
            self.h[k] += (1 - self.decay) * g * g
        params[k] -= self.lr * g / (np.sqrt(self.h[k]) + 1e-7)


class AdaGrad(RMSprop):
    def __init__(self, lr=0.01):
        super().__init__(lr, None)


class Adam(_Optimizer):
    state = ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2, self.iter = lr, beta1, beta2, 0

    def _begin(self):
        self.iter += 1
        self.lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)

    def _step(self, params, k, g):
        self.m[k] += (1 - self.beta1) * (g - self.m[k])
        self.v[k] += (1 - self.beta2) * (g ** 2 - self.v[k])
        params[k] -= self.lr_t * self.m[k] / (np.sqrt(self.v[k]) + 1e-7)


# ---- the Trainer's rhythm -----------------------------------------------------------------------------------
class Trainer:
    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer="SGD", optimizer_param=None, evaluate_sample_num_per_epoch=None, verbose=True):
        names = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad, "rmsprop": RMSprop,
                 "adam": Adam}
        self.net, self.data = network, (x_train, t_train, x_test, t_test)
        self.batch, self.n_eval = mini_batch_size, evaluate_sample_num_per_epoch
        self.opt = names[optimizer.lower()](**(optimizer_param or {"lr": 0.01}))
        self.iter_per_epoch = max(x_train.shape[0] / mini_batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.train_loss_list, self.train_acc_list, self.test_acc_list = [], [], []

    def train(self):
        x, t, xt, tt = self.data
        n = self.n_eval
        for it in range(self.max_iter):
            pick = np.random.choice(x.shape[0], self.batch)
            grads = self.net.gradient(x[pick], t[pick])
            self.opt.update(self.net.params, grads)
            self.train_loss_list.append(self.net.loss(x[pick], t[pick]))
            if it % self.iter_per_epoch == 0:  # right after the first step of each epoch
                self.train_acc_list.append(self.net.accuracy(x[:n], t[:n]))
                self.test_acc_list.append(self.net.accuracy(xt[:n], tt[:n]))
        self.test_acc = self.net.accuracy(xt, tt)
