"""The book's layers: backward vs float64 numerical gradients, book attributes, every backend."""
from __future__ import annotations

import numpy as np
import pytest

import pybp
from pybp import functions as F
from pybp.gradient import numerical_gradient

GRAD_RTOL, GRAD_ATOL = 1e-6, 1e-8  # central differences with h = 1e-4 on smooth float64 functions


def _check_backward(forward, backward, x, dout, rtol=GRAD_RTOL, atol=GRAD_ATOL):
    """backward(dout) vs the numerical gradient of sum(forward(x) * dout)."""
    dx = backward(dout)
    num = numerical_gradient(lambda _x: float(np.sum(forward(x) * dout)), x)
    np.testing.assert_allclose(dx, num, rtol=rtol, atol=atol)


def test_relu_layer(backend, rng):
    layer = pybp.Relu()
    x = rng.standard_normal((7, 9))
    x[np.abs(x) < 1e-3] = 0.5  # keep the kink away from h
    out = layer.forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    np.testing.assert_array_equal(layer.mask, x <= 0)
    dout = rng.standard_normal(x.shape)
    dout_copy = dout.copy()
    _check_backward(lambda z: pybp.Relu().forward(z), layer.backward, x, dout)
    np.testing.assert_array_equal(dout, dout_copy)  # the caller's dout is never modified


def test_sigmoid_layer(backend, rng):
    layer = pybp.Sigmoid()
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer.forward(x), F.sigmoid(x), rtol=1e-14)  # kernel exp vs numpy.exp: a few ulp
    assert layer.out is not None
    _check_backward(lambda z: pybp.Sigmoid().forward(z), layer.backward, x, rng.standard_normal(x.shape))


@pytest.mark.parametrize("xshape", [(4, 6), (3, 2, 3), (2, 1, 2, 3)])
def test_affine_layer(backend, rng, xshape):
    d = int(np.prod(xshape[1:]))
    W, b = rng.standard_normal((d, 5)), rng.standard_normal(5)
    layer = pybp.Affine(W, b)
    x = rng.standard_normal(xshape)
    out = layer.forward(x)
    # float64; the kernel's GEMM sums in another order than NumPy's BLAS: ~d ulp at most, 1e-12 is ~4500 ulp
    np.testing.assert_allclose(out, x.reshape(xshape[0], -1) @ W + b, rtol=1e-12)
    assert layer.W is W and layer.b is b and layer.original_x_shape == xshape
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    assert dx.shape == xshape
    np.testing.assert_allclose(dx, numerical_gradient(lambda _x: float(np.sum(pybp.Affine(W, b).forward(x) * dout)),
                                                      x), rtol=GRAD_RTOL, atol=GRAD_ATOL)
    np.testing.assert_allclose(layer.dW, numerical_gradient(lambda _w: float(np.sum(layer.forward(x) * dout)), W),
                               rtol=GRAD_RTOL, atol=GRAD_ATOL)
    layer.forward(x)
    layer.backward(dout)
    np.testing.assert_allclose(layer.db, dout.sum(axis=0), rtol=1e-13)  # in-order vs NumPy's pairwise sum


@pytest.mark.parametrize("labels", ["index", "onehot"])
def test_softmax_with_loss(backend, rng, labels):
    layer = pybp.SoftmaxWithLoss()
    x = rng.standard_normal((6, 4))
    t = rng.integers(0, 4, 6)
    tt = np.eye(4)[t] if labels == "onehot" else t
    loss = layer.forward(x, tt)
    y = F.softmax(x)
    # exact log-softmax loss; the book's function adds 1e-7 in the log, a difference below 1e-6 here
    assert loss == pytest.approx(-np.mean(np.log(y[np.arange(6), t])), rel=1e-12)
    assert loss == pytest.approx(F.cross_entropy_error(y, tt), abs=1e-6)
    np.testing.assert_allclose(layer.y, y, rtol=1e-12)  # the kernels' exp vs numpy.exp, a few ulp, and the sum
    assert layer.t is tt and layer.loss == loss
    dx = layer.backward()
    num = numerical_gradient(lambda _x: pybp.SoftmaxWithLoss().forward(x, tt), x)
    np.testing.assert_allclose(dx, num, rtol=GRAD_RTOL, atol=GRAD_ATOL)
    np.testing.assert_allclose(layer.backward(2.0), 2 * dx)


def test_dropout_book_semantics():
    layer = pybp.Dropout(0.5, rng=np.random.default_rng(0))
    x = np.ones((200, 50))
    out = layer.forward(x, train_flg=True)
    kept = out.mean()
    assert 0.45 < kept < 0.55 and set(np.unique(out)) <= {0.0, 1.0}
    np.testing.assert_array_equal(layer.backward(np.full_like(x, 3.0)), 3.0 * layer.mask)
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), 0.5 * x)


@pytest.mark.parametrize("shape", [(8, 5), (4, 2, 3, 3)])
def test_batchnorm_forward_and_backward(rng, shape):
    d = int(np.prod(shape[1:]))
    gamma, beta = rng.random(d) + 0.5, rng.standard_normal(d)
    bn = pybp.BatchNormalization(gamma, beta)
    x = rng.standard_normal(shape) * 3 + 1
    out = bn.forward(x, train_flg=True)
    flat = out.reshape(shape[0], -1)
    np.testing.assert_allclose((flat - beta).mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.reshape(shape[0], -1).mean(axis=0), rtol=1e-12)
    dout = rng.standard_normal(shape)
    dx = bn.backward(dout)
    num = numerical_gradient(lambda _x: float(np.sum(pybp.BatchNormalization(gamma, beta).forward(x) * dout)), x)
    # looser than GRAD_RTOL: the batch mean and variance make the loss less smooth in x (h = 1e-4 truncation)
    np.testing.assert_allclose(dx, num, rtol=1e-5, atol=1e-7)
    num_g = numerical_gradient(lambda _g: float(np.sum(pybp.BatchNormalization(gamma, beta).forward(x) * dout)),
                               gamma)
    np.testing.assert_allclose(bn.dgamma, num_g, rtol=1e-5, atol=1e-7)
    test_out = bn.forward(x, train_flg=False)  # running statistics: not the batch's
    assert not np.allclose(test_out, out)


def test_mul_add_layers_with_arrays():
    m, a = pybp.MulLayer(), pybp.AddLayer()
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_array_equal(m.forward(x, y), [3.0, 8.0])
    dx, dy = m.backward(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(dx, y)
    np.testing.assert_array_equal(dy, x)
    np.testing.assert_array_equal(a.forward(x, y), [4.0, 6.0])
    assert a.backward(2.0) == (2.0, 2.0)


def test_mixed_dtype_is_an_error_not_a_cast(backend):
    layer = pybp.Affine(np.ones((3, 2)), np.zeros(2))
    with pytest.raises(TypeError, match="dtype mismatch"):
        layer.forward(np.ones((4, 3), np.float32))


def test_functions_match_book_definitions():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(F.step_function(x), [0, 0, 1])
    np.testing.assert_array_equal(F.relu(x), [0, 0, 2])
    np.testing.assert_array_equal(F.relu_grad(x), [0, 1, 1])  # the book's function: 1 where x >= 0
    np.testing.assert_allclose(F.sigmoid_grad(x), F.sigmoid(x) * (1 - F.sigmoid(x)))
    s = F.softmax(np.array([[0.3, 2.9, 4.0], [1000.0, 1000.0, 1000.0]]))
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    np.testing.assert_allclose(s[0], [0.01821127, 0.24519181, 0.73659691], rtol=1e-6)
    t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    assert F.sum_squared_error(y, t) == pytest.approx(0.0975)  # book ch. 4.2.1
    assert F.cross_entropy_error(y, t) == pytest.approx(0.510825457099338)
    assert F.cross_entropy_error(np.stack([y, y]), np.array([2, 2])) == pytest.approx(0.510825457099338)


@pytest.mark.parametrize("make", [lambda: pybp.Affine(np.ones((3, 2)), np.zeros(2)), pybp.SoftmaxWithLoss,
                                  pybp.Relu, pybp.Sigmoid, pybp.Dropout, pybp.MulLayer,
                                  lambda: pybp.BatchNormalization(np.ones(2), np.zeros(2)),
                                  lambda: pybp.layers.Convolution(np.ones((2, 1, 2, 2)), np.zeros(2)),
                                  lambda: pybp.layers.Pooling(2, 2, stride=2)],
                         ids=["Affine", "SoftmaxWithLoss", "Relu", "Sigmoid", "Dropout", "MulLayer", "BatchNorm",
                              "Convolution", "Pooling"])
def test_backward_before_forward_says_so(backend, make):
    layer = make()
    args = () if isinstance(layer, pybp.SoftmaxWithLoss) else (np.ones((4, 2)),)
    with pytest.raises(RuntimeError, match=rf"{type(layer).__name__}\.backward: call .*forward first"):
        layer.backward(*args)


def test_softmax_with_loss_backward_is_fresh_and_takes_array_dout(backend, rng):
    layer = pybp.SoftmaxWithLoss()
    x, t = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    layer.forward(x, t)
    first = layer.backward()
    want = first.copy()
    first[...] = 123.0  # a caller scribbling on its result must not change the next call's
    np.testing.assert_array_equal(layer.backward(), want)
    assert layer.backward() is not layer.backward()
    np.testing.assert_allclose(layer.backward(np.array(2.0)), 2 * want, rtol=1e-15)
    rows = np.arange(1.0, 6.0)[:, None]  # a per-row weight broadcasts over the classes
    np.testing.assert_allclose(layer.backward(rows), rows * want, rtol=1e-15)
    layer32 = pybp.SoftmaxWithLoss()
    layer32.forward(x.astype(np.float32), t)
    assert layer32.backward(np.float64(0.5)).dtype == np.float32  # kept in x's dtype for the strict layers below


def test_affine_on_zero_rows(backend):
    layer = pybp.Affine(np.ones((6, 2)), np.arange(2.0))
    out = layer.forward(np.zeros((0, 2, 3)))
    assert out.shape == (0, 2)
    dx = layer.backward(np.zeros((0, 2)))
    assert dx.shape == (0, 2, 3)
    np.testing.assert_array_equal(layer.dW, np.zeros((6, 2)))
    np.testing.assert_array_equal(layer.db, np.zeros(2))
