"""Shared by the bench/ scripts: machine header, result checks before timing, markdown + JSON reports.

Timing itself (interleaved A/B runs, thread limits) lives in pybp._timing so that `pybp bench` uses the same code.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys

import numpy as np

import pybp
from pybp._timing import fmt_seconds, interleaved, limit_threads  # noqa: F401  (re-exported for scripts)

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _active_isa():
    """The ISA path the cpp kernels run on (PYBP_ISA may select a lower one than the best); peak_gflops measures
    this path, so "% of peak" is of its own peak. None without the extension."""
    try:
        from pybp import _core
    except ImportError:
        return None
    return _core.active_isa()


def header() -> dict:
    """Machine and versions, recorded with every result."""
    info = pybp.backend_info()
    h = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": info.get("cpu"), "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "pybp": pybp.__version__,
        "cpp_isa": _active_isa(),
        "compiler": info.get("cpp_compiler"),
    }
    for mod in ("numba", "torch"):
        if mod in sys.modules:
            h[mod] = sys.modules[mod].__version__
    try:
        cfg = np.show_config(mode="dicts")
        h["numpy_blas"] = f'{cfg["Build Dependencies"]["blas"]["name"]} {cfg["Build Dependencies"]["blas"]["version"]}'
    except Exception:  # older numpy: no dict mode
        pass
    return h


def check_close(got, want, rtol, atol, what: str) -> None:
    """Benchmarks check results against the reference before timing them."""
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"benchmark result check failed: {what}")


def write_report(name: str, title: str, columns: list, rows: list, meta: dict, notes: str = "", raw=None) -> str:
    """Write bench/results/<name>.md (the table) and .json (`raw`, the numbers behind it, when given; else the
    table rows); return the markdown."""
    os.makedirs(RESULTS, exist_ok=True)
    lines = [f"# {title}", "", "Machine: " + ", ".join(f"{k} {v}" for k, v in meta.items()), ""]
    if notes:
        lines += [notes, ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(RESULTS, name + ".md"), "w") as f:
        f.write(md)
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump({"meta": meta, "columns": columns, "rows": rows if raw is None else raw}, f, indent=1)
    return md
