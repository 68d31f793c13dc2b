"""The book's `dataset.mnist`: `from pybp.mnist import load_mnist` (pybp.datasets; the same contract)."""
from .datasets import load_mnist

__all__ = ["load_mnist"]
