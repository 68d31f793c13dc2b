"""The book's ch05/two_layer_net.py as a module: `from pybp.two_layer_net import TwoLayerNet` (pybp.nets)."""
from .nets import TwoLayerNet

__all__ = ["TwoLayerNet"]
