"""The book's module names: a ch. 4-6 script's imports change mechanically (`common.X` -> `pybp.X`, see the
README's table), and each name is pybp's one implementation, re-exported."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import pybp
from pybp import functions, gradient, layers, nets, optimizers

DROP_IN = {
    "layers": {n: getattr(layers, n) for n in ("Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout",
                                                 "BatchNormalization")},
    "functions": {n: getattr(functions, n) for n in ("identity_function", "step_function", "sigmoid", "sigmoid_grad",
                                                       "relu", "relu_grad", "softmax", "sum_squared_error",
                                                       "cross_entropy_error", "softmax_loss")},
    "gradient": {n: getattr(gradient, n) for n in ("numerical_gradient", "numerical_gradient_2d",
                                                     "_numerical_gradient_1d")},
    "optimizer": {n: getattr(optimizers, n) for n in ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")},
    "multi_layer_net": {"MultiLayerNet": nets.MultiLayerNet},
    "multi_layer_net_extend": {"MultiLayerNetExtend": nets.MultiLayerNetExtend},
    "two_layer_net": {"TwoLayerNet": nets.TwoLayerNet},
    "trainer": {"Trainer": pybp.Trainer},
    "layer_naive": {"MulLayer": layers.MulLayer, "AddLayer": layers.AddLayer},
    "mnist": {"load_mnist": pybp.load_mnist},
    "util": {},
}


@pytest.mark.parametrize("module", list(DROP_IN))
def test_book_module_names_reexport_one_implementation(module):
    mod = importlib.import_module(f"pybp.{module}")
    for name, obj in DROP_IN[module].items():
        assert getattr(mod, name) is obj, f"pybp.{module}.{name}"


def test_star_import_of_optimizer_brings_np_like_the_books():
    ns: dict = {}
    exec("from pybp.optimizer import *", ns)
    assert ns["np"] is np and ns["Nesterov"] is optimizers.Nesterov


def test_softmax_loss_is_the_books_offset_loss():
    x = np.array([[2.0, 1.0, 0.1], [0.3, 2.5, -1.0]])
    t = np.array([0, 1])
    y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert functions.softmax_loss(x, t) == pytest.approx(-np.mean(np.log(y[[0, 1], t] + 1e-7)), rel=1e-14)


def test_numerical_gradient_2d_is_per_row():
    pts = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, 0.0]])
    g = gradient.numerical_gradient_2d(lambda p: np.sum(p ** 2), pts)  # f of one point
    np.testing.assert_allclose(g, 2 * pts, atol=1e-7)
    np.testing.assert_allclose(gradient.numerical_gradient_2d(lambda p: p[0] * p[1], np.array([3.0, 4.0])),
                               [4.0, 3.0], atol=1e-7)
    np.testing.assert_array_equal(pts, [[1.0, 2.0], [-3.0, 0.5], [0.0, 0.0]])  # restored


def test_util_smooth_curve_shuffle_conv_output_size():
    from pybp import util
    rng = np.random.default_rng(1)
    x = rng.random(40)
    y = util.smooth_curve(x)
    assert y.shape == x.shape
    w = np.kaiser(11, 2) / np.kaiser(11, 2).sum()
    mirror = lambda j: x[-j] if j < 0 else x[2 * 40 - 1 - j] if j >= 40 else x[j]  # noqa: E731  the book's ends
    for i in (0, 3, 20, 36, 39):
        assert y[i] == pytest.approx(sum(w[k] * mirror(i + k - 5) for k in range(11)), rel=1e-13), i
    np.testing.assert_allclose(util.smooth_curve(np.full(30, 2.5)), 2.5, rtol=1e-14)
    np.testing.assert_array_equal(util.smooth_curve([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0])  # too short to smooth
    xs, ts = np.arange(20.0).reshape(10, 2), np.arange(10)
    np.random.seed(3)
    sx, st = util.shuffle_dataset(xs, ts)
    np.random.seed(3)
    order = np.random.permutation(10)  # the global generator, one permutation for both
    np.testing.assert_array_equal(sx, xs[order])
    np.testing.assert_array_equal(st, ts[order])
    assert util.conv_output_size(28, 5) == 24.0 and util.conv_output_size(7, 3, stride=2, pad=1) == 4.0


@pytest.mark.parametrize("cls", [optimizers.SGD, optimizers.Momentum, optimizers.Nesterov, optimizers.AdaGrad,
                                 optimizers.RMSprop, optimizers.Adam])
def test_optimizers_update_numbers_by_rebinding(backend, cls):
    """ch06/optimizer_compare_naive.py keeps Python floats in params: updated as the book's `params[key] -= ...`
    does (a new number), with the same values as the same update on 1-element arrays."""
    params = {"x": -7.0, "y": np.float64(2.0), "z": np.float32(1.5)}
    arrays = {"x": np.array([-7.0]), "y": np.array([2.0]), "z": np.array([1.5], np.float32)}
    opt, twin = cls(), cls()
    for _ in range(3):
        opt.update(params, {"x": params["x"] / 10.0, "y": 2.0 * params["y"], "z": params["z"]})
        twin.update(arrays, {"x": arrays["x"] / 10.0, "y": 2.0 * arrays["y"], "z": arrays["z"].copy()})
    assert type(params["x"]) is float and type(params["y"]) is np.float64 and type(params["z"]) is np.float32
    for k in params:
        assert params[k] == arrays[k][0], k
    zero_d = np.array(3.0)  # a 0-d array is updated in place, as the book's in-place operators do
    same = {"w": zero_d}
    cls().update(same, {"w": 1.0})
    assert same["w"] is zero_d and zero_d < 3.0


def test_optimizer_state_for_keys_added_later_and_missing_grads(backend):
    opt = optimizers.Momentum(lr=0.1)
    params = {"W1": np.ones(3)}
    opt.update(params, {"W1": np.ones(3)})
    params["W2"] = np.ones(2)  # a layer added after the first update: its state starts at zero then
    opt.update(params, {"W1": np.ones(3), "W2": np.ones(2)})
    np.testing.assert_allclose(params["W2"], 1 - 0.1)
    np.testing.assert_allclose(params["W1"], 1 - 0.1 - (0.9 * 0.1 + 0.1))
    with pytest.raises(KeyError, match="grads has no entry for params key 'W2'"):
        opt.update(params, {"W1": np.ones(3)})
