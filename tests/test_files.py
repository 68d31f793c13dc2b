"""pybp._files: checked .npz reading (headers before data) and atomic writes, on hostile and damaged files."""
from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

from pybp._files import atomic_write, check_output_path, read_npz

SPEC = {"W1": ((4, 3), np.float64), "b1": ((3,), np.float64)}


@pytest.fixture
def good(tmp_path):
    p = tmp_path / "w.npz"
    np.savez(p, W1=np.arange(12.0).reshape(4, 3), b1=np.ones(3))
    return p


def test_reads_expected_members(good):
    out = read_npz(good, SPEC)
    np.testing.assert_array_equal(out["W1"], np.arange(12.0).reshape(4, 3))
    assert out["W1"].flags.writeable and out["W1"].flags.c_contiguous


def test_fortran_order_member(tmp_path):
    a = np.asfortranarray(np.arange(12.0).reshape(4, 3))
    np.savez(tmp_path / "f.npz", W1=a, b1=np.ones(3))
    np.testing.assert_array_equal(read_npz(tmp_path / "f.npz", SPEC)["W1"], a)


@pytest.mark.parametrize("content,msg", [
    (b"", "is empty"),
    (b"W1 = 1, 2, 3\n", "is not a .npz"),
    (None, "is a single-array .npy"),
])
def test_not_an_npz(tmp_path, content, msg):
    p = tmp_path / "x.npz"
    if content is None:
        np.save(p.with_suffix(".npy"), np.ones(3))
        os.replace(p.with_suffix(".npy"), p)
    else:
        p.write_bytes(content)
    with pytest.raises(ValueError, match=f"{p}: {msg}"):
        read_npz(p, SPEC)


def test_truncated(good):
    blob = good.read_bytes()
    good.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="truncated"):
        read_npz(good, SPEC)


def test_missing_member_wrong_shape_dtype_and_pickles(tmp_path):
    p = tmp_path / "w.npz"
    np.savez(p, W1=np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"has arrays \['W1'\], expected \['W1', 'b1'\] \(missing \['b1'\]\)"):
        read_npz(p, SPEC)
    np.savez(p, W1=np.zeros((4, 3), np.float32), b1=np.ones(3))
    with pytest.raises(ValueError, match=r"W1 is \(4, 3\) float32, expected \(4, 3\) float64"):
        read_npz(p, SPEC)
    np.savez(p, W1=np.array([None] * 12, dtype=object).reshape(4, 3), b1=np.ones(3))
    with pytest.raises(ValueError, match="pickled"):
        read_npz(p, SPEC)


def _npz_with_raw_member(path, shape, payload):
    """W1.npy with a header declaring `shape` (float64) followed by `payload` bytes, and a valid b1."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("W1.npy", buf.getvalue() + payload)
        b1 = io.BytesIO()
        np.save(b1, np.ones(3))
        zf.writestr("b1.npy", b1.getvalue())
    return path


def test_huge_declared_member_is_rejected_from_its_header(tmp_path):
    """A header declaring 2**28 float64 (2 GB) over 80 bytes of data: rejected before any allocation."""
    p = _npz_with_raw_member(tmp_path / "bomb.npz", (2 ** 14, 2 ** 14), b"\0" * 80)
    with pytest.raises(ValueError, match=r"W1 is \(16384, 16384\) float64, expected \(4, 3\)"):
        read_npz(p, SPEC)


def test_member_shorter_than_its_header(tmp_path):
    p = _npz_with_raw_member(tmp_path / "short.npz", (4, 3), b"\0" * 40)
    with pytest.raises(ValueError, match=r"W1 is truncated \(40 of 96 data bytes\)"):
        read_npz(p, SPEC)


def test_exact_rejects_extra_members_and_dtype_error_only_for_dtype(tmp_path, good):
    """load_params's options: exact=True (no foreign arrays) and dtype_error (TypeError when only the dtype
    differs; a wrong shape stays a ValueError)."""
    assert set(read_npz(good, {"W1": SPEC["W1"]})) == {"W1"}  # default: other members are ignored
    with pytest.raises(ValueError, match=r"expected exactly \['W1'\] \(unexpected \['b1'\]\)"):
        read_npz(good, {"W1": SPEC["W1"]}, exact=True)
    with pytest.raises(TypeError, match=r"W1 is \(4, 3\) float64, expected \(4, 3\) float32"):
        read_npz(good, {**SPEC, "W1": ((4, 3), np.float32)}, dtype_error=TypeError)
    with pytest.raises(ValueError, match=r"W1 is \(4, 3\) float64, expected \(3, 4\) float32"):
        read_npz(good, {**SPEC, "W1": ((3, 4), np.float32)}, dtype_error=TypeError)


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            assert tmp.endswith(".npz") and os.path.dirname(tmp) == str(tmp_path)
            with open(tmp, "wb") as fh:
                fh.write(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.npz"]
    with atomic_write(target) as tmp:
        np.savez(tmp, a=np.ones(2))
    assert os.listdir(tmp_path) == ["out.npz"] and np.load(target)["a"].shape == (2,)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_check_output_path(tmp_path):
    assert check_output_path(tmp_path / "a.png", "--plot") == str(tmp_path / "a.png")
    with pytest.raises(ValueError, match=f"--plot {tmp_path}: is a directory"):
        check_output_path(tmp_path, "--plot")
    with pytest.raises(ValueError, match="does not exist"):
        check_output_path(tmp_path / "no" / "a.png", "--plot")
