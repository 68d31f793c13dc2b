"""The C++ backend: pybp._core kernels, exported under the backend names (see pybp._backend.KERNELS).

Validation, allocation and GIL release happen in csrc/bindings.cpp, so most names are the compiled functions
themselves (no Python frame per call). PYBP_ISA=generic|avx2 selects an ISA path (tests, comparisons).
"""
from __future__ import annotations

import os

from . import _core

_isa = os.environ.get("PYBP_ISA", "").strip()
if _isa:
    _core.set_isa(_isa)  # ValueError names the paths this CPU can run

relu_forward = _core.relu_forward
relu_backward = _core.relu_backward
sigmoid_forward = _core.sigmoid_forward
sigmoid_backward = _core.sigmoid_backward

# PENDING (issue 3): these still come from the NumPy reference until their compiled versions land;
# tests/test_backend.py::test_backend_kernels_are_native fails while any remain.
from ._ref import (  # noqa: E402
    gemm, affine_forward, bias_grad, softmax, softmax_cross_entropy,
    sgd_update, momentum_update, nesterov_update, adagrad_update, rmsprop_update, adam_update,
)
