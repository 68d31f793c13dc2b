"""pybp: backpropagation as "Deep Learning from Scratch" (ch. 5-6) teaches it, with compiled C++ kernels.

Backend: PYBP_BACKEND=cpp|numba|numpy, or pybp.set_backend(); pybp.backend_info() tells what runs.
"""
from ._version import __version__
from ._backend import (
    BackendFallbackWarning,
    available_backends,
    backend_info,
    get_backend,
    set_backend,
    set_num_threads,
    use_backend,
)
from . import _backend

_backend._init_default()

__all__ = [
    "__version__", "BackendFallbackWarning", "available_backends", "backend_info", "get_backend",
    "set_backend", "set_num_threads", "use_backend",
]
