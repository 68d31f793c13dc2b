"""The book's ch05/layer_naive.py as a module: `from pybp.layer_naive import *` gives MulLayer and AddLayer
(pybp.layers), for buy_apple.py and buy_apple_orange.py."""
from .layers import AddLayer, MulLayer

__all__ = ["MulLayer", "AddLayer"]
