"""pybp/_core.pyi (the type stub editors read) names every function of the built pybp._core with its parameters."""
from __future__ import annotations

import ast
import pathlib
import re

import pytest

core = pytest.importorskip("pybp._core", reason="the C++ extension is not built")  # numba/numpy-only installs

STUB = pathlib.Path(__file__).resolve().parents[1] / "pybp" / "_core.pyi"


def _stub_functions():
    """{name: [(parameter, has_default, keyword_only), ...]} for each def in the stub."""
    out = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            a = node.args
            pos = [(p.arg, i >= len(a.args) - len(a.defaults), False) for i, p in enumerate(a.args)]
            kw = [(p.arg, d is not None, True) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
            out[node.name] = pos + kw
    return out


def _split_top_level(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p.strip() for p in parts + [cur] if p.strip()]


def _module_functions():
    """The same from the signature line pybind11 (or a text signature) puts in each function's docstring."""
    out = {}
    for name in dir(core):
        fn = getattr(core, name)
        if name.startswith("_") or not callable(fn):
            continue
        sig = getattr(fn, "__text_signature__", None)
        if sig:
            params = _split_top_level(sig.strip("()"))
        else:
            m = re.match(rf"{name}\((.*)\) ->", fn.__doc__.splitlines()[0])
            assert m, f"{name}: no signature line in its docstring"
            params = _split_top_level(m.group(1))
        rows, kw_only = [], False
        for p in params:
            if p == "*":
                kw_only = True
                continue
            rows.append((p.split(":")[0].split("=")[0].strip(), "=" in p, kw_only))
        out[name] = rows
    return out


def test_stub_matches_module():
    stub, mod = _stub_functions(), _module_functions()
    assert sorted(stub) == sorted(mod)
    for name in mod:
        assert stub[name] == mod[name], name


def test_stub_names_build_info():
    tree = ast.parse(STUB.read_text())
    keys = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "_BuildInfo")
    fields = [s.target.id for s in keys.body if isinstance(s, ast.AnnAssign)]
    assert sorted(fields) == sorted(core.build_info)
