"""save_params / load_params for the networks: a .npz of plain arrays, never pickles.

Both go through pybp._files: save_params writes atomically (a crash never leaves a half-written weights file
under the real name), load_params reads with read_npz, which checks each member's header (shape, dtype) before
reading its data, so a small file declaring a huge array cannot make it allocate. Only when every member was
read whole are the values copied into the network's own arrays, in place (layers and optimizers keep their
references): all or nothing.
"""
from __future__ import annotations

import os
from typing import Dict, Union

import numpy as np

from ._files import atomic_write, read_npz

PathLike = Union[str, "os.PathLike[str]"]


def save_params(params: Dict[str, np.ndarray], path: PathLike) -> None:
    """Write params to a .npz file (numpy.savez; loadable with allow_pickle=False). As numpy.savez, '.npz' is
    appended to a path that does not end with it."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    with atomic_write(path) as tmp:
        np.savez(tmp, **{k: np.asarray(v) for k, v in params.items()})


def load_params(params: Dict[str, np.ndarray], path: PathLike) -> None:
    """Load weights saved by save_params into `params`' arrays, in place, all or nothing.

    ValueError (naming the file) for a file that is not such an archive (.npy, text, empty, truncated, corrupt)
    and for missing/extra arrays or a shape mismatch; TypeError for a dtype mismatch; FileNotFoundError if absent.
    """
    loaded = read_npz(path, {k: (v.shape, v.dtype) for k, v in params.items()},
                      what=f"load_params: {os.fspath(path)}", exact=True, dtype_error=TypeError)
    for key, dst in params.items():
        dst[...] = loaded[key]


class ParamsFile:
    """save_params / load_params for a network whose weights are the dict `self.params` (the book's nets, the
    CNNs)."""

    params: Dict[str, np.ndarray]

    def save_params(self, path: PathLike) -> None:
        """Write params to a .npz file (numpy.savez; loadable with allow_pickle=False), atomically."""
        save_params(self.params, path)

    def load_params(self, path: PathLike) -> None:
        """Load weights saved by save_params into this net's arrays, in place, all or nothing. ValueError naming
        the file for a file that is not such an archive, missing/extra keys or a shape mismatch (checked from
        each member's header before its data is read); TypeError on a dtype mismatch."""
        load_params(self.params, path)
