"""Backend selection, the kernel namespace contract, and what backend_info reports."""
from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import pybp
from pybp import _backend

KERNELS = _backend.KERNELS


def _param_names(fn):
    """Parameter names of a Python function or of a pybind11 builtin (from its docstring signature)."""
    try:
        return [p.name for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        first = fn.__doc__.strip().splitlines()[0]
        m = re.match(r"\w+\((.*)\)\s*->", first)
        assert m, f"cannot parse signature of {fn!r}: {first!r}"
        names = []
        for part in filter(None, (p.strip() for p in m.group(1).split(","))):
            part = part.lstrip("*")
            names.append(part.split(":")[0].split("=")[0].strip())
        return [n for n in names if n]


def _load(name):
    return _backend._load(name)


@pytest.mark.parametrize("name", _backend.BACKENDS)
def test_backend_exports_every_kernel_with_reference_signature(name):
    mod = _load(name)
    for k in KERNELS:
        fn = getattr(mod, k)
        assert _param_names(fn) == _param_names(getattr(pybp._ref, k)), f"{name}.{k} signature differs"


@pytest.mark.parametrize("name", ["cpp", "numba"])
def test_backend_kernels_are_native(name):
    """No kernel of a compiled backend may silently be the NumPy reference."""
    mod = _load(name)
    borrowed = [k for k in KERNELS if getattr(getattr(mod, k), "__module__", None) == "pybp._ref"]
    assert borrowed == [], f"{name} backend still uses reference kernels: {borrowed}"


def test_set_backend_switches_and_restores():
    prev = pybp.get_backend()
    for name in _backend.BACKENDS:
        with pybp.use_backend(name):
            assert pybp.get_backend() == name
            assert _backend.relu_forward is getattr(_load(name), "relu_forward")
    assert pybp.get_backend() == prev


def test_unknown_backend_is_value_error():
    with pytest.raises(ValueError, match="unknown pybp backend 'tpu'"):
        pybp.set_backend("tpu")


def _run(code, **env):
    full = dict(os.environ)
    for k in ("PYBP_BACKEND", "PYBP_REQUIRE_CPP", "PYBP_ISA"):
        full.pop(k, None)
    full.update(env)
    pkg_parent = os.path.dirname(os.path.dirname(pybp.__file__))
    full["PYTHONPATH"] = pkg_parent + os.pathsep + full.get("PYTHONPATH", "")
    # cwd outside the source tree: `python -c` puts the cwd first on sys.path
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, capture_output=True,
                          text=True, timeout=120, cwd=tempfile.gettempdir())


_BREAK_CPP = "import sys; sys.modules['pybp._core'] = None\n"


@pytest.mark.parametrize("name", _backend.BACKENDS)
def test_env_selects_backend(name):
    r = _run("import pybp; print(pybp.get_backend())", PYBP_BACKEND=name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == name


def test_explicit_cpp_that_cannot_load_raises_import_error():
    r = _run(_BREAK_CPP + "import pybp", PYBP_BACKEND="cpp")
    assert r.returncode != 0
    assert "ImportError: PYBP_BACKEND='cpp': pybp backend 'cpp' cannot be loaded" in r.stderr


def test_unknown_env_backend_is_value_error_naming_the_variable():
    r = _run("import pybp", PYBP_BACKEND="bogus")
    assert "ValueError: PYBP_BACKEND='bogus': unknown pybp backend 'bogus'; expected one of 'cpp'" in r.stderr


@pytest.mark.parametrize("isa", ["avx10", "sse9"])
def test_unsupported_isa_env_falls_back_with_a_warning(isa):
    code = """
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    import pybp
print(pybp.get_backend(), pybp.backend_info()["isa"] == pybp.backend_info()["cpp_isa_best"])
print(pybp.available_backends())
print("|".join(str(x.message) for x in w))
"""
    r = _run(code, PYBP_ISA=isa)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "cpp True" and "cpp" in lines[1]
    assert f"PYBP_ISA='{isa}' ignored" in lines[2] and "expected one of" in lines[2]


def test_require_cpp_turns_missing_extension_into_error():
    r = _run(_BREAK_CPP + "import pybp", PYBP_REQUIRE_CPP="1", PYBP_BACKEND="numpy")
    assert r.returncode != 0
    assert "cannot be loaded" in r.stderr


def test_default_falls_back_with_one_warning():
    code = _BREAK_CPP + """
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    import pybp
print(pybp.get_backend(), len(w), w[0].category.__name__)
print(w[0].message)
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr
    first, msg = r.stdout.strip().splitlines()[:2]
    assert first == "numba 1 BackendFallbackWarning"
    assert "'cpp' cannot be loaded" in msg


def test_default_is_cpp_here():
    """This project builds the extension; the default must find it (CI also sets PYBP_REQUIRE_CPP=1)."""
    r = _run("import pybp; print(pybp.get_backend())")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cpp"


def test_avx2_path_built_where_the_cpu_can_run_it():
    """The isa fixture skips a path this CPU cannot run; this keeps a path lost from an x86-64 build from hiding
    behind that skip: on a CPU with AVX2+FMA the build must have the avx2 path and pick it by default."""
    import platform
    from pybp import _core
    if platform.machine().lower() not in ("x86_64", "amd64") or not (_core.cpu_has("avx2") and _core.cpu_has("fma")):
        pytest.skip("not an x86-64 CPU with AVX2+FMA")
    assert "avx2" in _core.build_info["isa_paths"], _core.build_info
    assert _core.detect_isa() in ("avx2", "avx512")


def test_avx512_path_built_where_the_cpu_can_run_it():
    """The same for the avx512 path: on a CPU with AVX-512 F, DQ, BW, VL and FMA (the OS saving ZMM state, which
    cpu_has checks) the build must have it and pick it by default."""
    import platform
    from pybp import _core
    need = ("avx512f", "avx512dq", "avx512bw", "avx512vl", "fma")
    if platform.machine().lower() not in ("x86_64", "amd64") or not all(_core.cpu_has(f) for f in need):
        pytest.skip("not an x86-64 CPU with AVX-512 F/DQ/BW/VL and FMA")
    assert "avx512" in _core.build_info["isa_paths"], _core.build_info
    assert _core.detect_isa() == "avx512"


def test_backend_info_reports_isa_threads_versions():
    with pybp.use_backend("cpp"):
        info = pybp.backend_info()
        assert info["backend"] == "cpp"
        assert info["isa"] in info["cpp_isa_paths_built"]
        # the best path, unless PYBP_ISA selected another one (the suite is also run under each path)
        env = os.environ.get("PYBP_ISA", "").strip().lower()
        assert info["isa"] == info["cpp_isa_best"] or (env and info["isa"] == env)
        assert info["threads"] >= 1
        assert info["numpy"] == np.__version__
        assert info["pybp"] == pybp.__version__
    with pybp.use_backend("numba"):
        assert "numba" in pybp.backend_info()


def _ulps(got, want):
    """Per element distance in units in the last place of want; NaN and inf must sit at the same places."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    inf, fin = np.isinf(want), np.isfinite(want)
    np.testing.assert_array_equal(got[inf], want[inf])
    return np.abs(got[fin].astype(np.float64) - want[fin]) / np.spacing(np.abs(want[fin]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_isa_paths_can_be_selected_and_agree(rng, dtype, isa):
    # ReLU is exact on every path. The exp-based kernels agree within 4 ulp (each within 2 of the exact value,
    # checked against float64 elsewhere): the AVX2 exp fuses its multiply-adds (FMA), the generic one rounds
    # products and sums apart (CPUs without AVX2 lack FMA); 1-3 ulp apart in ~5% of elements. Special values
    # included: NaN, +-inf, overflow and subnormal-producing arguments, and both sides of the AVX2 exp's
    # fast-path limits (|x| <= 87 for float32, 700 for float64).
    from pybp import _core
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 88.0, -88.0, 104.0, -104.0, 750.0, -745.0, 1e-30,
               86.99, -86.99, 87.0, -87.0, 87.01, -87.01, -87.4, 699.9, -699.9, 700.0, -700.0, 700.1, -700.1]
    x = np.concatenate([rng.standard_normal(1025) * 30, special]).astype(dtype)
    generic, fast = isa.run(lambda: (_core.relu_forward(x)[0], _core.sigmoid_forward(x),
                                     _core.softmax(x.reshape(-1, 5)), _core.softmax(x.reshape(-1, 35))))
    np.testing.assert_array_equal(fast[0], generic[0], err_msg=f"{isa.name} relu")
    for got, want, what in zip(fast[1:], generic[1:], ("sigmoid", "softmax c=5", "softmax c=35")):
        assert _ulps(got.ravel(), want.ravel()).max() <= 4, f"{isa.name} {what}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_kernels_do_not_depend_on_position_or_neighbours(rng, dtype):
    # The AVX2 exp runs groups of vectors, single vectors and a scalar tail, each group on a fast path unless a
    # lane is out of range: an element's result must be the same wherever it falls and whatever sits next to it.
    from pybp import _core
    x = (rng.standard_normal(203) * 20).astype(dtype)
    want = _core.sigmoid_forward(x)
    for shift in range(1, 9):  # moves every element between vector lanes and the scalar tail
        np.testing.assert_array_equal(_core.sigmoid_forward(x[shift:].copy()), want[shift:])
    noisy = x.copy()
    noisy[::7] = np.resize([np.nan, 1e4, -1e4, 95.0, -800.0], noisy[::7].size)
    keep = np.ones(x.size, bool)
    keep[::7] = False
    np.testing.assert_array_equal(_core.sigmoid_forward(noisy)[keep], want[keep])
    rows = (rng.standard_normal((30, 10)) * 5).astype(dtype)
    sm = _core.softmax(rows)
    for shift in range(1, 5):  # rows start at other offsets of the flat exp pass
        np.testing.assert_array_equal(_core.softmax(rows[shift:].copy()), sm[shift:])


def test_set_isa_rejects_unknown_path():
    from pybp import _core
    with pytest.raises(ValueError, match="unknown ISA path 'sse9'"):
        _core.set_isa("sse9")


def test_set_num_threads_survives_numba_pool_launch():
    # In a fresh process Numba's pool is not running yet; launching it (with its "omp" layer) used to reset the
    # OpenMP thread count pybp had just set.
    out = _run("""
        import numba, pybp
        from pybp import _core
        pybp.set_num_threads(1)
        print(_core.get_num_threads(), numba.get_num_threads())
    """, PYBP_BACKEND="cpp")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="n must be >= 1"):
        pybp.set_num_threads(0)
    from pybp import _core
    before = _core.get_num_threads()
    try:
        pybp.set_num_threads(1)
        assert _core.get_num_threads() == 1
    finally:
        pybp.set_num_threads(before)
