"""Optimizer update kernels: bit-exact with the NumPy reference (the book's formulas) over 1 and 10 steps, in place."""
from __future__ import annotations

import numpy as np
import pytest

from pybp import _core

from line_offsets import at_line_offset

HYPER = {
    "sgd_update": ([], dict(lr=0.01)),
    "momentum_update": (["v"], dict(lr=0.01, momentum=0.9)),
    "nesterov_update": (["v"], dict(lr=0.01, momentum=0.9)),
    "adagrad_update": (["h"], dict(lr=0.01, eps=1e-7)),
    "rmsprop_update": (["h"], dict(lr=0.01, decay_rate=0.99, eps=1e-7)),
    "adam_update": (["m", "v"], dict(lr_t=0.001 * np.sqrt(1 - 0.999) / (1 - 0.9), beta1=0.9, beta2=0.999,
                                     eps=1e-7)),
}


def _state(rng, names, shape, dtype):
    return {k: (np.abs(rng.standard_normal(shape)) * 0.1).astype(dtype) for k in names}


@pytest.mark.parametrize("kernel", list(HYPER))
@pytest.mark.parametrize("size", [1, 7, 39760])
@pytest.mark.parametrize("steps", [1, 10])
def test_update_is_bit_exact_with_reference(backend, ref, dtype, rng, kernel, size, steps):
    names, hyper = HYPER[kernel]
    p = rng.standard_normal(size).astype(dtype)
    st = _state(rng, names, size, dtype)
    p_ref, st_ref = p.copy(), {k: v.copy() for k, v in st.items()}
    p_id, st_id = id(p), {k: id(v) for k, v in st.items()}
    for _ in range(steps):
        g = rng.standard_normal(size).astype(dtype)
        assert getattr(backend, kernel)(p, g, *st.values(), **hyper) is None
        getattr(ref, kernel)(p_ref, g, *st_ref.values(), **hyper)
    np.testing.assert_array_equal(p, p_ref)
    for k in st:
        np.testing.assert_array_equal(st[k], st_ref[k])
    assert id(p) == p_id and all(id(st[k]) == st_id[k] for k in st)


def test_book_formulas_by_hand(backend):
    """Two steps from w = [1, -2] with constant g = [0.5, 0.1], written out from the book's equations."""
    g = np.array([0.5, 0.1])
    w = np.array([1.0, -2.0])
    backend.sgd_update(w, g, 0.1)
    np.testing.assert_array_equal(w, [1.0 - 0.1 * 0.5, -2.0 - 0.1 * 0.1])
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(2):
        backend.momentum_update(w, g, v, 0.1, 0.9)
    # rtol 1e-15 (~4 ulp): the hand formulas group the operations differently from the update
    np.testing.assert_allclose(v, -0.1 * g * 1.9, rtol=1e-15)
    np.testing.assert_allclose(w, [1.0, -2.0] - 0.1 * g * 2.9, rtol=1e-15)
    w, h = np.array([1.0, -2.0]), np.zeros(2)
    backend.adagrad_update(w, g, h, 0.1, 1e-7)
    np.testing.assert_allclose(w, [1.0, -2.0] - 0.1 * g / (np.abs(g) + 1e-7), rtol=1e-15)
    w, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    lr_t = 0.001 * np.sqrt(1 - 0.999) / (1 - 0.9)
    backend.adam_update(w, g, m, v, lr_t, 0.9, 0.999, 1e-7)
    # first Adam step moves each weight by about lr (bias-corrected m/sqrt(v) = sign(g)); eps = 1e-7 against
    # sqrt(v) ~ 3e-3 shortens the 1e-3 step by 3e-5 of itself, 2e-8 of w: within rtol 1e-6
    np.testing.assert_allclose(w, [1.0 - 0.001, -2.0 - 0.001], rtol=1e-6)


def _book_nesterov_step(p, g, v, lr, momentum):
    """The book's Nesterov since its 2021 fix (commit 89eadd0), as NumPy statements on the arrays: the parameter
    moves with the velocity of the previous step, then the velocity is updated."""
    p += momentum * momentum * v
    p -= (1 + momentum) * lr * g
    v *= momentum
    v -= lr * g


def test_nesterov_pins_the_books_numbers(backend):
    """From w = [1, -2], g = [0.5, 0.1], lr 0.01, momentum 0.9, the book's current code gives [0.97695, -2.00461]
    after two steps (the pre-2021 formula gave [0.969255, -2.006149])."""
    w, v, g = np.array([1.0, -2.0]), np.zeros(2), np.array([0.5, 0.1])
    backend.nesterov_update(w, g, v, 0.01, 0.9)
    np.testing.assert_allclose(w, [1.0 - 0.019 * 0.5, -2.0 - 0.019 * 0.1], rtol=1e-15)  # v was 0: plain step
    backend.nesterov_update(w, g, v, 0.01, 0.9)
    np.testing.assert_allclose(w, [0.97695, -2.00461], rtol=1e-14)
    np.testing.assert_allclose(v, -0.01 * g * 1.9, rtol=1e-14)


@pytest.mark.parametrize("steps", [1, 2, 25])
def test_nesterov_bit_exact_with_book_transcription(backend, dtype, rng, steps):
    p = rng.standard_normal(1003).astype(dtype)
    v = (rng.standard_normal(1003) * 0.1).astype(dtype)
    p_book, v_book = p.copy(), v.copy()
    for _ in range(steps):
        g = rng.standard_normal(1003).astype(dtype)
        backend.nesterov_update(p, g, v, 0.05, 0.9)
        _book_nesterov_step(p_book, g, v_book, 0.05, 0.9)
    np.testing.assert_array_equal(p, p_book)
    np.testing.assert_array_equal(v, v_book)


def test_cpp_isa_paths_bit_identical(dtype, rng, isa):
    p0 = rng.standard_normal(1001).astype(dtype)
    g = rng.standard_normal(1001).astype(dtype)

    def adam():
        p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
        _core.adam_update(p, g, m, v, 1e-3, 0.9, 0.999, 1e-7)
        return p

    generic, fast = isa.run(adam)
    np.testing.assert_array_equal(generic, fast)


def test_strided_grad_is_read_correctly(backend, dtype, rng):
    p = rng.standard_normal((8, 5)).astype(dtype)
    big = rng.standard_normal((8, 10)).astype(dtype)
    g = big[:, ::2]
    want = p.copy()
    want -= 0.5 * np.ascontiguousarray(g)
    backend.sgd_update(p, g, 0.5)
    np.testing.assert_array_equal(p, want)


@pytest.mark.parametrize("kernel", list(HYPER))
def test_update_is_bit_exact_at_every_offset_in_a_line(backend, ref, dtype, rng, kernel):
    """The C++ updates peel elements until the parameter array reaches a 64-byte line: every start offset in a line,
    lengths around the peel, gradient and state at other offsets than the parameters."""
    names, hyper = HYPER[kernel]
    lane = 64 // np.dtype(dtype).itemsize
    for off in range(lane):
        for n in (1, lane - off - 1, lane - off, lane - off + 1, 3 * lane + 5):
            if n < 1:
                continue
            p, g = at_line_offset(n, dtype, off), at_line_offset(n, dtype, (off + 5) % lane)
            p[...], g[...] = rng.standard_normal(n), rng.standard_normal(n)
            st = {}
            for j, k in enumerate(names):
                st[k] = at_line_offset(n, dtype, (off + 2 + j) % lane)
                st[k][...] = np.abs(rng.standard_normal(n)) * 0.1
            p_ref, st_ref = p.copy(), {k: v.copy() for k, v in st.items()}
            getattr(backend, kernel)(p, g, *st.values(), **hyper)
            getattr(ref, kernel)(p_ref, g, *st_ref.values(), **hyper)
            np.testing.assert_array_equal(p, p_ref, err_msg=f"offset {off}, n {n}")
            for k in st:
                np.testing.assert_array_equal(st[k], st_ref[k], err_msg=f"{k}, offset {off}, n {n}")
