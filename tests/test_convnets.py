"""Convolution and Pooling layers and the book's CNNs: backprop vs numerical gradients (float64), dtypes,
save/load, every backend."""
from __future__ import annotations

import numpy as np
import pytest

from pybp.deep_convnet import DeepConvNet
from pybp.gradient import numerical_gradient
from pybp.layers import Convolution, Dropout, Pooling, Relu
from pybp.simple_convnet import SimpleConvNet


def _num_dot(f, x, dout):
    return numerical_gradient(lambda _x: float(np.sum(f(x) * dout)), x)


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 2)])
def test_convolution_layer_gradients(backend, rng, stride, pad):
    x = rng.standard_normal((2, 3, 7, 6))
    W, b = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    layer = Convolution(W, b, stride=stride, pad=pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, _num_dot(lambda z: Convolution(W, b, stride, pad).forward(z), x, dout),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.dW, _num_dot(lambda _: Convolution(W, b, stride, pad).forward(x), W, dout),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.db, _num_dot(lambda _: Convolution(W, b, stride, pad).forward(x), b, dout),
                               rtol=1e-6, atol=1e-8)
    assert layer.backward(dout, need_dx=False) is None and layer.dW.shape == W.shape


@pytest.mark.parametrize("pool,stride,pad", [(2, 2, 0), (3, 2, 1), (2, 1, 1)])
def test_pooling_layer_gradient(backend, rng, pool, stride, pad):
    # distinct values spaced far beyond h = 1e-4, so no perturbation changes a window's maximum
    x = rng.permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7) * 0.01 - 1.0
    layer = Pooling(pool, pool, stride=stride, pad=pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(layer.backward(dout),
                               _num_dot(lambda z: Pooling(pool, pool, stride, pad).forward(z), x, dout),
                               rtol=1e-6, atol=1e-8)
    assert (layer.pool_h, layer.pool_w, layer.stride, layer.pad) == (pool, pool, stride, pad)


def test_pooling_book_defaults():
    p = Pooling(2, 2)
    assert (p.stride, p.pad) == (1, 0)


def _tiny_simple(seed=0):
    return SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
                         hidden_size=6, output_size=4, weight_init_std=0.3, seed=seed)


def test_simple_convnet_gradient_matches_numerical(backend, rng):
    net = _tiny_simple()
    x = rng.standard_normal((3, 1, 8, 8))
    t = np.array([0, 3, 1])
    grads = net.gradient(x, t)
    num = net.numerical_gradient(x, t)
    assert list(grads) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for k in grads:
        np.testing.assert_allclose(grads[k], num[k], rtol=1e-5, atol=1e-8, err_msg=k)


class _FixedRandom:
    """Dropout masks that repeat on every forward (numerical gradients need a deterministic loss)."""

    def random(self, shape):
        return np.random.default_rng(7).random(shape)


def test_deep_convnet_gradient_matches_numerical_on_sampled_entries(backend, rng):
    net = DeepConvNet(input_dim=(1, 8, 8), hidden_size=6, output_size=4, seed=1)
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.rng = _FixedRandom()
    x = rng.standard_normal((2, 1, 8, 8))
    t = np.array([2, 0])
    grads = net.gradient(x, t)
    assert list(grads) == [f"{p}{i}" for i in range(1, 9) for p in "Wb"]
    h = 1e-4
    for k, p in net.params.items():
        assert grads[k].shape == p.shape
        flat = p.reshape(-1)
        for i in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + h
            up = net.loss(x, t)
            flat[i] = old - h
            down = net.loss(x, t)
            flat[i] = old
            np.testing.assert_allclose(grads[k].reshape(-1)[i], (up - down) / (2 * h), rtol=1e-4, atol=1e-7,
                                       err_msg=f"{k}[{i}]")


def test_relu_out_computes_in_place(backend, rng):
    x = rng.standard_normal((2, 3, 4, 4))
    want, relu = Relu().forward(x), Relu()
    assert relu.forward(x, out=x) is x
    np.testing.assert_array_equal(x, want)
    dout = rng.standard_normal(x.shape)
    want = np.where(relu.mask, 0.0, dout)
    assert relu.backward(dout, out=dout) is dout
    np.testing.assert_array_equal(dout, want)


@pytest.mark.parametrize("cls", [SimpleConvNet, DeepConvNet])
def test_nets_in_place_relu_matches_layer_by_layer(backend, rng, cls):
    """The nets run Relu in place on arrays only they hold; the same layers run one by one with new arrays give
    the same loss and gradients, and the caller's input is left alone."""
    net = cls(input_dim=(1, 12, 12), seed=3)
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.rng = _FixedRandom()
    x, t = rng.standard_normal((3, 1, 12, 12)), np.array([1, 0, 7])
    x0 = x.copy()
    grads = {k: v.copy() for k, v in net.gradient(x, t).items()}
    np.testing.assert_array_equal(x, x0)
    h = x
    for layer in net.layers:
        h = layer.forward(h, True) if isinstance(layer, Dropout) else layer.forward(h)
    loss = net.last_layer.forward(h, t)
    assert loss == net.loss(x, t)
    d = net.last_layer.backward(1)
    for layer in reversed(net.layers):
        d = layer.backward(d)
    for i, layer in enumerate(net.param_layers, start=1):
        np.testing.assert_array_equal(grads[f"W{i}"], layer.dW)
        np.testing.assert_array_equal(grads[f"b{i}"], layer.db)


def test_conv_and_pool_layers_write_into_out(backend, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    for layer in (Convolution(rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), 1, 1), Pooling(2, 2, 2)):
        want = layer.forward(x)
        out = np.full(layer.out_shape(x.shape), np.nan)
        assert layer.forward(x, out=out) is out
        np.testing.assert_array_equal(out, want)
        dout = rng.standard_normal(out.shape)
        want = layer.backward(dout)
        dx = np.full(x.shape, np.nan)
        assert layer.backward(dout, out=dx) is dx
        np.testing.assert_array_equal(dx, want)


@pytest.mark.parametrize("cls", [SimpleConvNet, DeepConvNet])
def test_nets_reuse_their_arrays_without_changing_results(backend, rng, cls):
    """gradient() writes convolution and pooling outputs into the arrays of its last call (same shapes; a class
    setting, on for DeepConvNet, off for SimpleConvNet): repeated
    calls, with a batch of another size in between, agree bit for bit with a new net's first call, and what
    predict() returned is not overwritten by later calls."""
    def make():
        net = cls(input_dim=(1, 12, 12), seed=3)
        for layer in net.layers:
            if isinstance(layer, Dropout):
                layer.rng = _FixedRandom()
        return net

    net = make()
    xs = [rng.standard_normal((n, 1, 12, 12)) for n in (3, 3, 2, 3)]
    kept = net.predict(xs[0])
    kept0 = kept.copy()
    inputs = []
    forward = net.layers[2].forward
    net.layers[2].forward = lambda x, *a, **k: forward(inputs.append(x) or x, *a, **k)
    for x in xs:
        t = rng.integers(0, 10, x.shape[0])
        x0 = x.copy()
        got = net.gradient(x, t)
        np.testing.assert_array_equal(x, x0)  # the caller's input is never a buffer
        assert net.layers[0].x is x  # float64 input: kept as given, not copied
        # the later layers' inputs took the input gradients: dropped, not left holding them as activations
        assert all(layer.x is None for layer in net.layers[1:] if isinstance(layer, (Convolution, Pooling)))
        want = make().gradient(x, t)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    if net.reuse_arrays:
        assert inputs[1] is inputs[0] and inputs[2] is not inputs[1]  # reused for the same shape only
    else:
        assert len({id(a) for a in inputs}) == len(inputs)
    np.testing.assert_array_equal(kept, kept0)


def test_deep_convnet_book_shapes():
    net = DeepConvNet(seed=0)
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes["W1"] == (16, 1, 3, 3) and shapes["W4"] == (32, 32, 3, 3) and shapes["W6"] == (64, 64, 3, 3)
    assert shapes["W7"] == (1024, 50) and shapes["W8"] == (50, 10)
    assert [layer.pad for layer in net.param_layers[:6]] == [1, 1, 1, 2, 1, 1]
    np.testing.assert_allclose(net.params["W2"].std(), np.sqrt(2 / 144), rtol=0.1)  # He init


def test_simple_convnet_book_shapes():
    net = SimpleConvNet(seed=0)
    assert net.params["W1"].shape == (30, 1, 5, 5) and net.params["W2"].shape == (4320, 100)
    assert net.params["W1"].dtype == np.float64


@pytest.mark.parametrize("cls", [SimpleConvNet, DeepConvNet])
def test_nets_convert_input_once_and_take_flat_rows(backend, rng, cls):
    net32 = cls(dtype=np.float32, seed=0)
    x = rng.random((3, 784))
    y_flat = net32.predict(x)  # float64 flat rows -> float32 (3, 1, 28, 28)
    y = net32.predict(x.reshape(3, 1, 28, 28).astype(np.float32))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, y_flat)
    grads = net32.gradient(x.reshape(3, 1, 28, 28), np.array([1, 2, 3]))
    assert all(g.dtype == np.float32 for g in grads.values())


def test_accuracy_counts_partial_batch(backend, rng):
    net = _tiny_simple()
    x = rng.standard_normal((7, 1, 8, 8))
    pred = np.argmax(net.predict(x), axis=1)
    assert net.accuracy(x, pred, batch_size=3) == 1.0
    t = pred.copy()
    t[-1] = (t[-1] + 1) % 4
    assert net.accuracy(x, np.eye(4)[t], batch_size=3) == pytest.approx(6 / 7)


def test_save_load_roundtrip(tmp_path, backend, rng):
    a, b = _tiny_simple(seed=0), _tiny_simple(seed=5)
    x = rng.standard_normal((2, 1, 8, 8))
    W1 = b.params["W1"]
    a.save_params(tmp_path / "w.npz")
    b.load_params(tmp_path / "w.npz")
    assert b.params["W1"] is W1 and b.layers[0].W is W1  # loaded in place
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    with pytest.raises(ValueError, match="W1"):
        SimpleConvNet(input_dim=(1, 8, 8), seed=0).load_params(tmp_path / "w.npz")
