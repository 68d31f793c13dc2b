"""Networks: gradient checks (book ch. 5), backends agree, optimizers keep arrays, save/load round trip."""
from __future__ import annotations

import os
import re

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
    with pytest.raises(ValueError, match=r"w\.npz: W1 is \(20, 10\) float64, expected \(21, 10\) float64"):
        pybp.TwoLayerNet(21, 10, 5).load_params(path)
    with pytest.raises(TypeError, match=r"W1 is \(20, 10\) float64, expected \(20, 10\) float32"):
        pybp.TwoLayerNet(20, 10, 5, dtype=np.float32).load_params(path)
    with pytest.raises(ValueError, match=r"expected exactly \[.*\] \(missing \['W3', 'b3'\]\)"):
        pybp.MultiLayerNet(20, [10, 10], 5).load_params(path)
    np.savez(path, **net.params, junk=np.ones(1))
    with pytest.raises(ValueError, match=r"\(unexpected \['junk'\]\)"):
        other.load_params(path)
    net.save_params(tmp_path / "w2")  # numpy.savez's suffix rule, written through a temporary file
    assert sorted(os.listdir(tmp_path)) == ["w.npz", "w2.npz"]


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


def test_entry_points_convert_input_once_like_numpy(backend, rng):
    """The book's load_mnist gives float32 images (and float64 one-hot rows, pybp's float32) to float64 nets:
    NumPy upcasts in the book's code, pybp's nets convert at their entry points and give the same numbers."""
    net = pybp.MultiLayerNet(12, [8, 6], 4, weight_decay_lambda=0.1, weight_init_std=0.5, seed=9)
    bn = pybp.MultiLayerNetExtend(12, [8, 6], 4, use_batchnorm=True, weight_init_std=0.5, seed=9)
    x32 = rng.standard_normal((6, 12)).astype(np.float32)
    labels = rng.integers(0, 4, 6)
    onehot32 = np.eye(4, dtype=np.float32)[labels]
    x64, onehot64 = x32.astype(np.float64), onehot32.astype(np.float64)
    idx64 = labels.astype(np.int64)
    cases = [(x32, onehot32, x64, onehot64), (x32, labels.astype(np.uint8), x64, idx64),
             (x32, labels.astype(np.int32), x64, idx64), (x64, np.eye(4, dtype=np.int64)[labels], x64, onehot64)]
    for x, t, x_ref, t_ref in cases:  # each against the same label kind given in the net's dtype
        assert net.loss(x, t) == net.loss(x_ref, t_ref)
        for model in (net, bn):
            want, grads = model.gradient(x_ref, t_ref), model.gradient(x, t)
            assert list(grads) == list(want)
            for k in want:
                np.testing.assert_array_equal(grads[k], want[k], err_msg=k)
    assert net.predict(x32).dtype == np.float64
    assert net.accuracy(x32, onehot32) == net.accuracy(x64, labels)
    pixels = np.round(rng.random((6, 12)) * 255).astype(np.uint8)  # load_mnist(normalize=False)
    np.testing.assert_array_equal(net.predict(pixels), net.predict(pixels.astype(np.float64)))
    small = pybp.TwoLayerNet(12, 5, 4, seed=1)
    ng32 = small.numerical_gradient(x32[:2], onehot32[:2])
    ng64 = small.numerical_gradient(x64[:2], onehot64[:2])
    for k in ng64:
        np.testing.assert_array_equal(ng32[k], ng64[k])
    f32 = pybp.TwoLayerNet(12, 5, 4, dtype=np.float32, seed=1)  # float64 input to a float32 net: the net's dtype
    assert f32.predict(x64).dtype == np.float32
    with pytest.raises(TypeError, match=r"TwoLayerNet\.predict: x must hold real numbers, got dtype complex128"):
        f32.predict(x64 + 0j)
    with pytest.raises(TypeError, match=r"TwoLayerNet\.loss: t must hold real numbers"):
        f32.loss(x64, np.full((6, 4), "a"))


def test_zero_rows(backend):
    net = pybp.TwoLayerNet(12, 5, 4, seed=1)
    assert net.predict(np.zeros((0, 12), np.float32)).shape == (0, 4)
    with pytest.raises(ValueError, match=r"TwoLayerNet\.accuracy: x has 0 rows"):
        net.accuracy(np.zeros((0, 12)), np.zeros(0, int))
    with pytest.raises(ValueError, match="empty batch"):
        net.loss(np.zeros((0, 12)), np.zeros(0, int))


def _npz_member(path, members):
    """A .npz written by hand: {name: (header dict, data bytes)}."""
    import io
    import zipfile
    with zipfile.ZipFile(path, "w") as z:
        for name, (header, data) in members.items():
            buf = io.BytesIO()
            np.lib.format.write_array_header_1_0(buf, header)
            z.writestr(name + ".npy", buf.getvalue() + data)


def _flip_byte_in_w1(npz: bytes) -> bytes:
    b = bytearray(npz)
    b[b.find(b"\x93NUMPY") + 128 + 40] ^= 0xFF  # inside W1's data (savez stores members uncompressed)
    return bytes(b)


def test_load_params_rejects_bad_files_before_touching_the_net(tmp_path):
    import tracemalloc
    net = pybp.TwoLayerNet(20, 10, 5, seed=7)
    before = {k: v.copy() for k, v in net.params.items()}
    good = {k: ({"descr": "<f8", "fortran_order": False, "shape": v.shape}, v.tobytes())
            for k, v in net.params.items()}
    cases = {
        "weights.npy": lambda p: np.save(p, net.params["W1"]),
        "text.npz": lambda p: p.write_text("W1 = 1, 2, 3\n"),
        "empty.npz": lambda p: p.write_bytes(b""),
        "cut.npz": lambda p: (net.save_params(tmp_path / "full.npz"),
                              p.write_bytes((tmp_path / "full.npz").read_bytes()[:700])),
        "short_member.npz": lambda p: _npz_member(p, {**good, "W2": (good["W2"][0], good["W2"][1][:100])}),
        "flipped.npz": lambda p: p.write_bytes(_flip_byte_in_w1((tmp_path / "full.npz").read_bytes())),
    }
    expect_npz = ", expected a .npz file with W1, b1, W2, b2"
    messages = {"weights.npy": "is a single-array .npy file" + expect_npz,
                "text.npz": "is not a .npz (zip) file" + expect_npz, "empty.npz": "is empty" + expect_npz,
                "cut.npz": "is a truncated or damaged zip file" + expect_npz,
                "short_member.npz": "W2 is truncated (100 of 400 data bytes)",
                "flipped.npz": "is truncated or corrupt (Bad CRC-32 for file 'W1.npy')"}
    for name, write in cases.items():
        path = tmp_path / name
        write(path)
        with pytest.raises(ValueError, match=re.escape(f"load_params: {path}: {messages[name]}")):
            net.load_params(path)
    # a small file declaring a 2**28-element W1: rejected from its header, nothing allocated for it
    huge = tmp_path / "huge.npz"
    _npz_member(huge, {**good, "W1": ({"descr": "<f8", "fortran_order": False, "shape": (2 ** 14, 2 ** 14)},
                                      b"\0" * 64)})
    assert huge.stat().st_size < 10_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"W1 is \(16384, 16384\) float64, expected \(20, 10\) float64"):
            net.load_params(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    # all or nothing: W1 is fine in this file but W2 is not, so W1 must stay as it was
    mixed = tmp_path / "mixed.npz"
    _npz_member(mixed, {**good, "W1": (good["W1"][0], np.ones(200).tobytes()),
                        "W2": ({"descr": "<f4", "fortran_order": False, "shape": (10, 5)}, b"\0" * 200)})
    with pytest.raises(TypeError, match=r"W2 is \(10, 5\) float32, expected \(10, 5\) float64"):
        net.load_params(mixed)
    for k, v in before.items():
        np.testing.assert_array_equal(net.params[k], v)
    _npz_member(mixed, {**good, "W1": (good["W1"][0], np.ones(200).tobytes())})
    net.load_params(mixed)  # and a valid file still loads, in place
    np.testing.assert_array_equal(net.layers["Affine1"].W, np.ones((20, 10)))
