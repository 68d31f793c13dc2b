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

try:
    _backend._init_default()
except (ImportError, ValueError) as _error:  # PYBP_BACKEND / PYBP_REQUIRE_CPP cannot be honoured
    from .cli import exit_if_command  # under the `pybp` command: one line, exit 2; for a library user: raise
    exit_if_command(_error)
    raise

from . import functions  # noqa: E402
from .functions import cross_entropy_error, relu, sigmoid, softmax, sum_squared_error  # noqa: E402
from .gradient import gradient_check, gradient_descent, numerical_gradient  # noqa: E402
from .layers import (  # noqa: E402
    AddLayer, Affine, BatchNormalization, Dropout, MulLayer, Relu, Sigmoid, SoftmaxWithLoss,
)
from .nets import MultiLayerNet, MultiLayerNetExtend, TwoLayerNet  # noqa: E402
from .optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop, get_optimizer  # noqa: E402
from .datasets import load_mnist  # noqa: E402
from .trainer import Trainer  # noqa: E402

__all__ = [
    "__version__", "BackendFallbackWarning", "available_backends", "backend_info", "get_backend",
    "set_backend", "set_num_threads", "use_backend",
    "functions", "cross_entropy_error", "relu", "sigmoid", "softmax", "sum_squared_error",
    "gradient_check", "gradient_descent", "numerical_gradient",
    "AddLayer", "Affine", "BatchNormalization", "Dropout", "MulLayer", "Relu", "Sigmoid", "SoftmaxWithLoss",
    "MultiLayerNet", "MultiLayerNetExtend", "TwoLayerNet",
    "SGD", "AdaGrad", "Adam", "Momentum", "Nesterov", "RMSprop", "get_optimizer", "load_mnist", "Trainer",
]
