"""The book's `common.multi_layer_net`: `from pybp.multi_layer_net import MultiLayerNet` (pybp.nets)."""
from .nets import MultiLayerNet

__all__ = ["MultiLayerNet"]
