"""The examples reproduce the book's and the seed articles' figures."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import pybp

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_buy_apple(capsys):
    price, dapple, dapple_num, dtax = _load("buy_apple").main()
    assert price == pytest.approx(220) and dapple == pytest.approx(2.2)
    assert dapple_num == pytest.approx(110) and dtax == pytest.approx(200)
    assert "price: 220" in capsys.readouterr().out


def test_buy_apple_orange():
    price, dapple, dapple_num, dorange, dorange_num, dtax = _load("buy_apple_orange").main()
    assert (price, dapple_num, dapple, dorange, dorange_num, dtax) == pytest.approx((715, 110, 2.2, 3.3, 165, 650))


def test_optimize_xy_paths():
    mod = _load("optimize_xy")
    f, gx, gy = mod.f_and_grad(8.0, 1.0)
    assert (f, gx, gy) == pytest.approx((64 / 20 + 1, 0.8, 2.0))
    p_sgd, p_ada = mod.main(30)
    assert p_sgd[1] == pytest.approx([8 - 0.9 * 0.8, 1 - 0.9 * 2.0])  # first plain step
    assert p_ada[1] == pytest.approx([8 - 1.0, 1 - 1.0], abs=1e-6)  # AdaGrad's first step: lr * sign(g)
    assert abs(p_sgd[-1, 1]) < 0.01 and abs(p_ada[-1, 1]) < 1e-6
    assert mod.f_and_grad(*p_sgd[-1])[0] < 0.02 and mod.f_and_grad(*p_ada[-1])[0] < 0.1


def test_gradient_descent_reaches_origin():
    x, path = _load("gradient_descent").main()
    np.testing.assert_allclose(x, [0, 0], atol=1e-8)
    assert path.shape == (100, 2) and tuple(path[0]) == (-2.0, 3.0)


def test_optimizer_table_matches_book_formulas():
    rows = _load("optimizer_table").run()
    g, w0 = np.array([0.5, 0.1]), np.array([1.0, -2.0])
    np.testing.assert_allclose(rows["SGD"][1], w0 - 2 * 0.01 * g)
    v1 = -0.01 * g
    v2 = 0.9 * v1 - 0.01 * g
    np.testing.assert_allclose(rows["Momentum"][0], w0 + v1)
    np.testing.assert_allclose(rows["Momentum"][1], w0 + v1 + v2)
    nw1 = w0 - 1.9 * 0.01 * g  # the book's Nesterov steps with the previous velocity (0 at first)
    np.testing.assert_allclose(rows["Nesterov"][0], nw1)
    np.testing.assert_allclose(rows["Nesterov"][1], nw1 + 0.81 * v1 - 1.9 * 0.01 * g)
    np.testing.assert_allclose(rows["Nesterov"][1], [0.97695, -2.00461], rtol=1e-14)  # the book's HEAD
    h1, h2 = g * g, 2 * g * g
    np.testing.assert_allclose(rows["AdaGrad"][1], w0 - 0.01 * g / (np.sqrt(h1) + 1e-7) - 0.01 * g / (np.sqrt(h2) + 1e-7))
    r1 = 0.01 * g * g
    r2 = 0.99 * r1 + 0.01 * g * g
    np.testing.assert_allclose(rows["RMSprop"][1], w0 - 0.01 * g / (np.sqrt(r1) + 1e-7) - 0.01 * g / (np.sqrt(r2) + 1e-7))
    w = w0.copy()
    m = v = np.zeros(2)
    for it in (1, 2):
        m = m + 0.1 * (g - m)
        v = v + 0.001 * (g * g - v)
        w = w - 0.001 * np.sqrt(1 - 0.999 ** it) / (1 - 0.9 ** it) * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(rows["Adam"][1], w)


def test_examples_run_under_every_backend():
    for name in pybp.available_backends():
        with pybp.use_backend(name):
            assert _load("optimizer_table").run()["Adam"][1].shape == (2,)
