"""Networks: gradient checks (book ch. 5), backends agree, optimizers keep arrays, save/load round trip."""
from __future__ import annotations

import numpy as np
import pytest

import pybp
from pybp import optimizers


def _data(rng, n=3, d=20, c=5):
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def test_two_layer_net_gradient_check(backend, rng):
    net = pybp.TwoLayerNet(20, 10, 5, weight_init_std=0.5, seed=1)
    x, t = _data(rng)
    diff = pybp.gradient_check(net, x, t)
    assert set(diff) == {"W1", "b1", "W2", "b2"}
    assert diff["W2"] < 1e-6 and diff["b2"] < 1e-6
    assert diff["W1"] < 1e-4 and diff["b1"] < 1e-4


def test_two_layer_net_book_structure():
    net = pybp.TwoLayerNet(784, 50, 10, seed=0)
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert isinstance(net.lastLayer, pybp.SoftmaxWithLoss)
    assert net.params["W1"].shape == (784, 50) and net.params["b2"].shape == (10,)
    assert net.params["W1"].dtype == np.float64
    assert 0.009 < net.params["W1"].std() < 0.011  # weight_init_std = 0.01
    assert net.layers["Affine1"].W is net.params["W1"]
    same = pybp.TwoLayerNet(784, 50, 10, seed=0)
    np.testing.assert_array_equal(same.params["W1"], net.params["W1"])


@pytest.mark.parametrize("labels", ["index", "onehot"])
def test_backends_agree_on_loss_gradient_accuracy(rng, labels):
    x, t = _data(rng, n=16, d=30, c=7)
    if labels == "onehot":
        t = np.eye(7)[t]
    results = {}
    for name in pybp.available_backends():
        with pybp.use_backend(name):
            net = pybp.TwoLayerNet(30, 12, 7, weight_init_std=0.3, seed=3)
            results[name] = (net.loss(x, t), net.gradient(x, t), net.accuracy(x, t))
    base_loss, base_grads, base_acc = results["numpy"]
    for name, (loss, grads, acc) in results.items():
        # float64 throughout; only summation orders differ (blocked GEMM vs NumPy's BLAS, row sums): ~1e-15
        # per operation, grown through two layers and their gradients; 1e-12 / 1e-10 leave ~100x headroom
        assert loss == pytest.approx(base_loss, rel=1e-12)
        assert acc == base_acc
        for k in base_grads:
            np.testing.assert_allclose(grads[k], base_grads[k], rtol=1e-10, atol=1e-13, err_msg=f"{name} {k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_step_keeps_param_objects_and_lowers_loss(backend, rng, dtype):
    net = pybp.TwoLayerNet(30, 16, 4, weight_init_std=0.1, dtype=dtype, seed=2)
    x = rng.standard_normal((64, 30)).astype(dtype)
    t = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    ids = {k: id(v) for k, v in net.params.items()}
    opt = pybp.SGD(lr=0.5)
    first = net.loss(x, t)
    for _ in range(50):
        opt.update(net.params, net.gradient(x, t))
    assert {k: id(v) for k, v in net.params.items()} == ids
    assert net.layers["Affine1"].W is net.params["W1"]
    assert net.loss(x, t) < 0.5 * first
    assert net.predict(x).dtype == dtype


@pytest.mark.parametrize("activation,init", [("relu", "he"), ("sigmoid", "xavier"), ("relu", 0.3)])
def test_multi_layer_net_gradient_check(backend, rng, activation, init):
    net = pybp.MultiLayerNet(12, [8, 6], 4, activation=activation, weight_init_std=init,
                             weight_decay_lambda=0.1, seed=4)
    x, t = _data(rng, n=3, d=12, c=4)
    for k, d in pybp.gradient_check(net, x, t).items():
        assert d < 1e-6, (k, d)


def test_multi_layer_net_extend_batchnorm_gradient_check(backend, rng):
    net = pybp.MultiLayerNetExtend(10, [7, 6], 3, use_batchnorm=True, weight_init_std=0.5, seed=5)
    x, t = _data(rng, n=5, d=10, c=3)
    diffs = pybp.gradient_check(net, x, t)
    assert {"gamma1", "beta1", "gamma2", "beta2"} <= set(diffs)
    for k, d in diffs.items():
        assert d < 1e-5, (k, d)


def test_multi_layer_net_extend_dropout_train_vs_test(rng):
    net = pybp.MultiLayerNetExtend(10, [20], 3, use_dropout=True, dropout_ration=0.5, seed=6)
    x = rng.standard_normal((4, 10))
    assert "Dropout1" in net.layers
    np.testing.assert_array_equal(net.predict(x), net.predict(x))  # test mode: deterministic
    assert not np.array_equal(net.predict(x, train_flg=True), net.predict(x, train_flg=True))


def test_save_load_round_trip(tmp_path, rng):
    net = pybp.TwoLayerNet(20, 10, 5, weight_init_std=0.3, seed=7)
    x, t = _data(rng)
    path = tmp_path / "w.npz"
    net.save_params(path)
    other = pybp.TwoLayerNet(20, 10, 5, seed=8)
    w1 = other.params["W1"]
    other.load_params(path)
    assert other.params["W1"] is w1 and other.layers["Affine1"].W is w1  # loaded in place
    assert other.loss(x, t) == net.loss(x, t)
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == ["W1", "W2", "b1", "b2"]
    with pytest.raises(ValueError, match="W1 has shape"):
        pybp.TwoLayerNet(21, 10, 5).load_params(path)
    with pytest.raises(TypeError, match="dtype"):
        pybp.TwoLayerNet(20, 10, 5, dtype=np.float32).load_params(path)
    with pytest.raises(ValueError, match="keys differ"):
        pybp.MultiLayerNet(20, [10, 10], 5).load_params(path)


def test_get_optimizer_and_errors():
    assert isinstance(optimizers.get_optimizer("ADAM", lr=0.1), pybp.Adam)
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.get_optimizer("lbfgs")
    with pytest.raises(ValueError, match="activation"):
        pybp.MultiLayerNet(3, [2], 2, activation="tanh")
    sgd = pybp.SGD()
    with pytest.raises(ValueError, match="read-only"):
        p = np.ones(3)
        p.flags.writeable = False
        sgd.update({"w": p}, {"w": np.ones(3)})
