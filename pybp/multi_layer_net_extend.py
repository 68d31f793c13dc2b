"""The book's `common.multi_layer_net_extend`: `from pybp.multi_layer_net_extend import MultiLayerNetExtend`."""
from .nets import MultiLayerNetExtend

__all__ = ["MultiLayerNetExtend"]
