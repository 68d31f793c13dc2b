"""Files pybp writes and reads: output paths checked before the work that fills them, atomic writes (a crash or
a full disk never leaves a half-written file under the real name), and .npz members read only after their
headers (shape, dtype) have been checked, so a foreign or hostile file is a clear ValueError, not NumPy
internals or a 2 GB allocation."""
from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
import zlib

import numpy as np


def check_output_path(path, what: str) -> str:
    """Raise ValueError (naming `what`, e.g. '--save', and the path) unless `path` can be created or replaced now:
    its directory exists and is writable and `path` is not a directory. Returns `path` unchanged."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{what} {path}: is a directory, expected a file name")
    if not os.path.isdir(directory):
        raise ValueError(f"{what} {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path}: directory {directory} is not writable")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path):
    """Yield a temporary path next to `path` (same extension, so writers add none); on success it replaces
    `path` in one rename, on error it is removed. The file gets the usual permissions (mkstemp's are 0600)."""
    path = os.fspath(path)
    directory, base = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{base}.", suffix=".part" + os.path.splitext(path)[1])
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _describe_non_zip(path: str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        return "is empty"
    if head.startswith(b"\x93NUMPY"):
        return "is a single-array .npy file"
    if head.startswith(b"PK"):
        return "is a truncated or damaged zip file"
    return "is not a .npz (zip) file"


def _read_member(fh, label, key, shape, dtype, dtype_error):
    try:
        version = np.lib.format.read_magic(fh)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        got_shape, fortran, got_dtype = read_header(fh)
    except ValueError as e:
        raise ValueError(f"{label}: {key} is not a NumPy array ({e})") from None
    if got_dtype.hasobject:
        raise ValueError(f"{label}: {key} holds pickled Python objects, expected {dtype} numbers")
    if tuple(got_shape) != tuple(shape) or got_dtype != dtype:
        error = dtype_error if tuple(got_shape) == tuple(shape) else ValueError
        raise error(f"{label}: {key} is {tuple(got_shape)} {got_dtype}, expected {tuple(shape)} {dtype}")
    arr = np.empty(got_shape, dtype=got_dtype, order="F" if fortran else "C")
    want = arr.nbytes
    got = fh.readinto(memoryview(arr.ravel(order="K")).cast("B")) if want else 0
    if got != want:
        raise ValueError(f"{label}: {key} is truncated ({got} of {want} data bytes)")
    return np.ascontiguousarray(arr)


def read_npz(path, expected: dict, what: str = "", *, exact: bool = False, dtype_error=ValueError) -> dict:
    """Read the members named in `expected` ({name: (shape, dtype)}) from the .npz file `path`.

    Each member's header is checked before its data is read; other members are never decompressed. Raises
    ValueError naming `what` (or the path) and the problem: not a .npz file, empty, truncated, a missing member
    (or, with exact=True, a member not in `expected`), a wrong shape or dtype, pickled (object) data.
    dtype_error: the exception class for a member whose shape is right and only its dtype differs (load_params
    raises TypeError there). FileNotFoundError if `path` does not exist. Nothing is returned unless every
    member was read whole, so a caller can copy the result all or nothing."""
    path = os.fspath(path)
    label = what or path
    if not os.path.isfile(path):
        if not os.path.exists(path):
            raise FileNotFoundError(f"{label}: no such file")
        raise ValueError(f"{label}: is not a file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{label}: {_describe_non_zip(path)}, expected a .npz file with {', '.join(expected)}")
    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.namelist()
            have = [n[:-4] if n.endswith(".npy") else n for n in members]
            missing = [k for k in expected if f"{k}.npy" not in members]
            extra = [h for h, n in zip(have, members) if exact and not (n.endswith(".npy") and h in expected)]
            if missing or extra:
                found = "; ".join(f"{k} {ks}" for k, ks in (("missing", missing), ("unexpected", extra)) if ks)
                raise ValueError(f"{label}: has arrays {have}, expected {'exactly ' if exact else ''}"
                                 f"{list(expected)} ({found})")
            for key, (shape, dtype) in expected.items():
                with zf.open(key + ".npy") as fh:
                    out[key] = _read_member(fh, label, key, shape, np.dtype(dtype), dtype_error)
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as e:  # damaged after the zip directory check
        raise ValueError(f"{label}: is truncated or corrupt ({e})") from None
    return out
