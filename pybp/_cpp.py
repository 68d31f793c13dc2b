"""The C++ backend: pybp._core kernels, exported under the backend names (see pybp._backend.KERNELS).

Validation, allocation and GIL release happen in csrc/bind_*.cpp, so most names are the compiled functions
themselves (no Python frame per call). PYBP_ISA=generic|avx2|avx512 selects an ISA path (tests, comparisons).
"""
from __future__ import annotations

import os
import warnings

from . import _core

_isa = os.environ.get("PYBP_ISA", "").strip().lower()
if _isa:
    try:
        _core.set_isa(_isa)
    except ValueError as e:  # e.g. avx512 on a build or CPU without it: the best path still works
        warnings.warn(f"PYBP_ISA={_isa!r} ignored ({e}); using the {_core.active_isa()!r} path", RuntimeWarning)

relu_forward = _core.relu_forward
relu_backward = _core.relu_backward
sigmoid_forward = _core.sigmoid_forward
sigmoid_backward = _core.sigmoid_backward
gemm = _core.gemm
affine_forward = _core.affine_forward
bias_grad = _core.bias_grad

softmax = _core.softmax
softmax_cross_entropy = _core.softmax_cross_entropy
sgd_update = _core.sgd_update
momentum_update = _core.momentum_update
nesterov_update = _core.nesterov_update
adagrad_update = _core.adagrad_update
rmsprop_update = _core.rmsprop_update
adam_update = _core.adam_update
conv_forward = _core.conv_forward
conv_backward_data = _core.conv_backward_data
conv_backward_weights = _core.conv_backward_weights
maxpool_forward = _core.maxpool_forward
maxpool_backward = _core.maxpool_backward
