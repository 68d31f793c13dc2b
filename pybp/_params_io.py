"""save_params / load_params for the networks: a .npz of plain arrays, never pickles.

load_params checks everything before it changes anything: the file must be a zip archive of .npy members, each
member's header (shape, dtype) must match the network's array before a byte of its data is read (a small file
declaring a huge array cannot make it allocate), and the data must be complete. Only then are the values
copied into the network's own arrays, in place (layers and optimizers keep their references).
"""
from __future__ import annotations

import os
import zipfile
from typing import Dict, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]
_EXPECTED = "a .npz archive written by save_params (numpy.savez: one .npy member per parameter)"


def save_params(params: Dict[str, np.ndarray], path: PathLike) -> None:
    """Write params to a .npz file (numpy.savez; loadable with allow_pickle=False)."""
    np.savez(path, **{k: np.asarray(v) for k, v in params.items()})


def _bad(path: PathLike, what: str) -> ValueError:
    return ValueError(f"load_params: {os.fspath(path)}: {what}; expected {_EXPECTED}")


def _read_header(member, path: PathLike, key: str):
    """(shape, fortran_order, dtype) from a .npy member's header, without reading its data."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(member)
        if version == (1, 0):
            return fmt.read_array_header_1_0(member)
        if version == (2, 0):
            return fmt.read_array_header_2_0(member)
    except ValueError as e:
        raise _bad(path, f"member {key!r} is not a valid .npy array ({e})") from None
    raise _bad(path, f"member {key!r} has .npy format version {version}, which save_params never writes")


def _read_member(zf: zipfile.ZipFile, name: str, path: PathLike, key: str, want: np.ndarray) -> np.ndarray:
    with zf.open(name) as member:
        shape, fortran, dtype = _read_header(member, path, key)
        if tuple(shape) != want.shape:
            raise ValueError(f"load_params: {os.fspath(path)}: {key} has shape {tuple(shape)}, the network "
                             f"expects {want.shape}")
        if dtype != want.dtype:
            raise TypeError(f"load_params: {os.fspath(path)}: {key} has dtype {dtype}, the network uses "
                            f"{want.dtype} (build the net with dtype={dtype.name})")
        # the header matched, so the data is exactly want.nbytes long: read that much and no more
        raw = member.read(want.nbytes)
        if len(raw) != want.nbytes:
            raise _bad(path, f"member {key!r} is truncated ({len(raw)} of {want.nbytes} data bytes)")
        arr = np.frombuffer(raw, dtype=dtype)
        return arr.reshape(shape, order="F" if fortran else "C")


def load_params(params: Dict[str, np.ndarray], path: PathLike) -> None:
    """Load weights saved by save_params into `params`' arrays, in place, all or nothing.

    ValueError (naming the file) for a file that is not such an archive (.npy, text, empty, truncated, corrupt)
    and for missing/extra keys or a shape mismatch; TypeError for a dtype mismatch; FileNotFoundError if absent.
    """
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        with open(path, "rb") as f:
            start = f.read(6)
        what = ("an empty file" if not start else "a single .npy array (numpy.save)" if start == b"\x93NUMPY"
                else "not a zip archive (or a truncated one)")
        raise _bad(path, what) from None
    loaded = {}
    with zf:
        names = {n[:-4] if n.endswith(".npy") else n: n for n in zf.namelist()}
        if set(names) != set(params):
            missing, extra = sorted(set(params) - set(names)), sorted(set(names) - set(params))
            raise ValueError(f"load_params: {os.fspath(path)}: keys differ from the network's: missing {missing}, "
                             f"unexpected {extra}")
        for key, dst in params.items():
            try:
                loaded[key] = _read_member(zf, names[key], path, key, dst)
            except (zipfile.BadZipFile, EOFError, OSError) as e:  # CRC error, cut-off member, bad compression
                raise _bad(path, f"member {key!r} cannot be read ({e})") from None
    for key, dst in params.items():
        dst[...] = loaded[key]
