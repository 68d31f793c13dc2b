"""Backend selection: one namespace of kernel functions, from pybp._cpp, pybp._numba or pybp._ref.

Layers call ``_backend.<kernel>(...)``; set_backend() rebinds those module attributes, so a call costs one
attribute lookup and layers never branch on the backend.

Selection: ``PYBP_BACKEND=cpp|numba|numpy`` (an explicit choice that cannot load raises ImportError with the
reason and what to do; an unknown name raises ValueError, as set_backend does); otherwise cpp, then numba, then numpy, with one BackendFallbackWarning naming why cpp (and numba)
failed. ``PYBP_REQUIRE_CPP=1`` makes a missing or broken C++ extension an ImportError in every case.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import operator
import os
import platform
import sys
import warnings

import numpy as np

from ._version import __version__

BACKENDS = ("cpp", "numba", "numpy")
_MODULES = {"cpp": "pybp._cpp", "numba": "pybp._numba", "numpy": "pybp._ref"}

# Every backend module exports exactly these callables with the same signatures (tests/test_backend.py).
KERNELS = (
    "gemm", "affine_forward", "bias_grad",
    "relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
    "softmax", "softmax_cross_entropy",
    "sgd_update", "momentum_update", "nesterov_update", "adagrad_update", "rmsprop_update", "adam_update",
    "conv_forward", "conv_backward_data", "conv_backward_weights", "maxpool_forward", "maxpool_backward",
)


class BackendFallbackWarning(RuntimeWarning):
    """The default backend search skipped a backend that failed to load."""


_state = {"name": None, "module": None}


def install_hint(package: str, extra: str) -> str:
    """How to install an optional dependency. pybp-kernels is not on an index yet: name the checkout's extra."""
    return f"pip install {package} (or, in a pybp checkout, pip install '.[{extra}]')"


def _cpp_missing_reason() -> str:
    """Why pybp._core is absent, and what to do: the usual case is Python importing the source checkout (the
    current directory comes first on sys.path) where the extension was never built."""
    pkg = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(pkg)
    if os.path.isfile(os.path.join(root, "pyproject.toml")) and os.path.isdir(os.path.join(root, "csrc")):
        return (f"the C++ extension is not built in the source checkout {root} that Python imported pybp from: "
                "run from another directory to use the installed pybp, or build in place (README, Developer loop)")
    return f"the C++ extension pybp._core is missing from {pkg}: reinstall pybp-kernels from its checkout or wheel"


def _load(name: str):
    if name not in _MODULES:
        raise ValueError(f"unknown pybp backend {name!r}; expected one of {', '.join(map(repr, BACKENDS))}")
    try:
        mod = importlib.import_module(_MODULES[name])
    except ImportError as e:
        reason = str(e)
        if name == "cpp" and importlib.util.find_spec("pybp._core") is None:
            reason = _cpp_missing_reason()  # Python's own message blames a "circular import"
        elif name == "numba" and e.name == "numba":
            reason = f"numba is not installed: {install_hint('numba', 'numba')}"
        raise ImportError(f"pybp backend {name!r} cannot be loaded: {reason}") from e
    missing = [k for k in KERNELS if not callable(getattr(mod, k, None))]
    if missing:
        raise ImportError(f"pybp backend {name!r} lacks kernels: {', '.join(missing)}")
    return mod


def set_backend(name: str) -> None:
    """Use backend `name` ('cpp', 'numba' or 'numpy') for all layers from now on. Raises ImportError if it
    cannot load (nothing changes then)."""
    mod = _load(str(name).strip().lower())
    g = globals()
    for k in KERNELS:
        g[k] = getattr(mod, k)
    _state["name"] = str(name).strip().lower()
    _state["module"] = mod


def get_backend() -> str:
    """Name of the active backend: 'cpp', 'numba' or 'numpy'."""
    return _state["name"]


@contextlib.contextmanager
def use_backend(name: str):
    """Context manager: run a block with backend `name`, then restore the previous one."""
    prev = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(prev)


def available_backends() -> list:
    """Backends that load on this machine (tries each; does not change the active one)."""
    out = []
    for name in BACKENDS:
        try:
            _load(name)
        except ImportError:
            continue
        out.append(name)
    return out


def _init_default() -> None:
    require_cpp = os.environ.get("PYBP_REQUIRE_CPP", "").strip() == "1"
    if require_cpp:
        _load("cpp")  # raises ImportError with the reason
    env = os.environ.get("PYBP_BACKEND", "").strip().lower()
    if env:
        try:
            set_backend(env)
        except (ImportError, ValueError) as e:
            raise type(e)(f"PYBP_BACKEND={env!r}: {e}") from None
        return
    errors = []
    for name in BACKENDS:
        try:
            set_backend(name)
        except ImportError as e:
            errors.append(str(e))
            continue
        if errors:
            warnings.warn(f"pybp is using the {name!r} backend because: {'; '.join(errors)}. "
                          "Set PYBP_BACKEND to choose explicitly.", BackendFallbackWarning, stacklevel=3)
        return


def set_num_threads(n: int) -> None:
    """Threads for pybp's compiled kernels, for the whole process (every Python thread): the C++ pool and, if
    numba is loaded, Numba's pool. 1 <= n <= pybp._core.MAX_THREADS. Raises RuntimeError if the system refused
    to create the threads (pybp then runs with as many as it could start, as the message says)."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"set_num_threads: n must be an integer, got {type(n).__name__}") from None
    try:
        from . import _core
    except ImportError:
        _core = None
    hi = _core.MAX_THREADS if _core is not None else None
    if n < 1 or (hi is not None and n > hi):
        raise ValueError(f"set_num_threads: n must be >= 1{f' and <= {hi}' if hi else ''}, got {n}")
    running = _core.set_num_threads(n) if _core is not None else n
    if "numba" in sys.modules:
        import numba
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    if running < n:
        raise RuntimeError(f"set_num_threads: the system refused to create more threads; pybp's kernels use "
                           f"{running} of the {n} requested")


def backend_info() -> dict:
    """What runs: backend, ISA path, threads, versions (also `pybp info`)."""
    name = get_backend()
    info = {
        "backend": name,
        "pybp": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_name(),
    }
    try:
        from . import _core
    except ImportError as e:
        info["cpp_extension"] = f"not available ({e})"
        _core = None
    if _core is not None:
        b = dict(_core.build_info)
        info["cpp_extension"] = "available"
        info["cpp_isa_best"] = _core.detect_isa()
        info["cpp_isa_paths_built"] = list(b["isa_paths"])
        info["cpp_compiler"] = b["compiler"]
        info["cpp_build"] = b["build_type"]
        info["cpu_avx512f"] = bool(_core.cpu_has("avx512f"))
    if name == "cpp":
        info["isa"] = _core.active_isa()
        info["threads"] = _core.get_num_threads()
    elif name == "numba":
        import numba
        info["isa"] = "numba/LLVM JIT for the host CPU"
        info["threads"] = numba.get_num_threads()
        info["numba"] = numba.__version__
    else:
        info["isa"] = "numpy (reference)"
        info["threads"] = _blas_threads()
    return info


def _blas_threads():
    """Threads of NumPy's BLAS (the only parallel part of the numpy backend), or 'unknown'."""
    try:
        import threadpoolctl
    except ImportError:
        return "unknown (pip install threadpoolctl)"
    pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
    return pools[0]["num_threads"] if pools else "unknown"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
