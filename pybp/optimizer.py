"""The book's `common.optimizer` under its own (singular) name: `from pybp.optimizer import SGD, Adam`.

Re-exports pybp.optimizers (one implementation). `from pybp.optimizer import *` also gives `np`, as the book's
module does through its own `import numpy as np`: ch06/optimizer_compare_mnist.py uses np without importing it.
"""
import numpy as np

from .optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

__all__ = ["np", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]
