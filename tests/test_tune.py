"""pybp.tune: random search on a real Dask LocalCluster (worker processes) started and stopped here.

Tiny nets and synthetic data keep each trial at milliseconds; the cluster tests are bounded by an alarm.
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import dask
import distributed  # the test extra installs it: a missing install must fail here, not skip
import numpy as np
import pytest

import pybp
from pybp import _tune_dask, tune
from pybp._tune_store import ResultsFile, encode, read_results
from pybp._tune_train import holdout

# No filterwarnings entries: pyproject turns warnings into errors, and no Dask warning reaches this process in
# these tests (worker deaths and restarts are logged, not warned; the cluster's dashboard uses a free port).

SPACE = {"lr": tune.log_uniform(1e-3, 3e-1), "weight_decay": tune.log_uniform(1e-8, 1e-4)}
TINY = tune.MultiLayerTrial(hidden=(8, 8), epochs=3, batch=10, output_size=3)


def _tiny_data(n=60, d=12):
    """Three learnable classes of Gaussian points, so accuracies differ between trials."""
    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, n).astype(np.uint8)
    return holdout(rng.normal(size=(n, d)) + t[:, None] * 0.8, t, 0.2, seed=0)


DATA = _tiny_data()


def _sequential(objective, n, seed):
    """The plain loop the distributed search must agree with: trials range(n), or the trial indices in n."""
    out = []
    for i in (range(n) if isinstance(n, int) else n):
        _, train_seed = tune.trial_seeds(seed, i)
        out.append(tune.run_trial(objective, tune.sample_params(SPACE, seed, i), DATA, train_seed, i))
    return out


def _same(a, b):
    for ra, rb in zip(a, b):
        assert (ra["trial"], ra["status"], ra["params"], ra["seed"]) == (rb["trial"], rb["status"], rb["params"],
                                                                        rb["seed"])
        assert ra.get("result") == rb.get("result")
    assert len(a) == len(b)


@dataclass(frozen=True)
class Logged:
    """TINY, and one marker file per call, named by the trial's seed (so the test sees which trials ran)."""
    log_dir: str

    def __call__(self, params, data, seed):
        open(os.path.join(self.log_dir, f"{seed}-{os.getpid()}-{time.monotonic_ns()}"), "w").close()
        return TINY(params, data, seed)


@dataclass(frozen=True)
class ReportThreads:
    """What a trial sees: pybp's kernel threads and the most threads of any BLAS/OpenMP pool, in its thread."""

    def __call__(self, params, data, seed):
        from threadpoolctl import threadpool_info
        pools = max(p["num_threads"] for p in threadpool_info())
        return {"threads": (pybp.backend_info()["threads"], pools)}


@dataclass(frozen=True)
class KillOnce:
    """The first time it runs trial `victim_seed`, the worker process kills itself (SIGKILL) mid-trial."""
    marker: str
    victim_seed: int

    def __call__(self, params, data, seed):
        out = TINY(params, data, seed)
        if seed == self.victim_seed and not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return out


@dataclass(frozen=True)
class KillAlways:
    """Trial `victim_seed` kills its worker every time (a trial that always runs out of memory)."""
    victim_seed: int

    def __call__(self, params, data, seed):
        if seed == self.victim_seed:
            os.kill(os.getpid(), signal.SIGKILL)
        return TINY(params, data, seed)


@dataclass(frozen=True)
class RaisesOn:
    bad_seed: int

    def __call__(self, params, data, seed):
        if seed == self.bad_seed:
            raise ValueError(f"diverged at lr {params['lr']}")
        return TINY(params, data, seed)


@pytest.fixture
def deadline():
    """Fail a cluster test that runs longer than 60 s instead of hanging the suite."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expired(signum, frame):
        raise TimeoutError("test_tune: cluster test exceeded 60 s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def client():
    """Two one-thread worker processes, as `pybp tune --workers 2` starts them, but without the nanny's
    OMP/OPENBLAS/MKL_NUM_THREADS=1 (a `dask worker` started by other means may lack it): pinning is pybp's job."""
    with dask.config.set({"distributed.nanny.pre-spawn-environ": {}}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                     death_timeout=30) as cluster, distributed.Client(cluster, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def lonely_client():
    """One worker: when it dies, the scattered data and the unfetched results die with it."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                     death_timeout=30) as cluster, distributed.Client(cluster, timeout=30) as c:
        yield c


def _search(objective, n, client, out, seed=5, **kw):
    return tune.random_search(objective, SPACE, n, data=DATA, seed=seed, out=out, client=client, progress=False,
                              **kw)


def test_distributed_equals_sequential_and_pins_threads(client, tmp_path, deadline):
    got = _search(TINY, 8, client, tmp_path / "r.jsonl")
    _same(got, _sequential(TINY, 8, 5))
    assert len({json.dumps(r["result"]) for r in got}) > 1  # different trials really differ
    assert {r["pid"] for r in got}.isdisjoint({os.getpid()})  # they ran in the worker processes
    assert {r["backend"] for r in got} == {pybp.get_backend()}
    _same(tune.load_results(tmp_path / "r.jsonl"), got)  # the file holds the same records
    assert {r["result"]["threads"] for r in _search(ReportThreads(), 4, client, None)} == {(1, 1)}


def test_dashboard_line_names_the_link_or_what_is_missing(client):
    line = _tune_dask.dashboard_line(client)
    if importlib.util.find_spec("bokeh") is None:
        assert line == "Dask dashboard: not available (the scheduler needs bokeh>=3.1: pip install bokeh)"
    else:
        assert line == f"Dask dashboard: {client.dashboard_link}"


def _settings(keys, dask_worker=None, dask_scheduler=None):
    return {k: dask.config.get(k) for k in keys}


def test_embedded_cluster_has_pybps_settings_everywhere(deadline, monkeypatch):
    keys = sorted(_tune_dask.LOCAL_CONFIG)
    before = _settings(keys)
    assert before != _tune_dask.LOCAL_CONFIG  # else this test shows nothing
    spawn_env = {"MALLOC_TRIM_THRESHOLD_": 65536, "OMP_NUM_THREADS": 1}  # Dask's defaults (the fixture clears them)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    names = [*spawn_env, "PYTHONHASHSEED"]
    env = {k: os.environ.get(k) for k in names}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": spawn_env}), \
            _tune_dask.local_cluster(1, dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        assert _settings(keys) == before  # this process's settings are left alone
        assert {k: os.environ.get(k) for k in names} == env  # and its environment, which its children inherit
        assert c.run(os.getenv, "MALLOC_TRIM_THRESHOLD_") == {w: "65536" for w in c.scheduler_info()["workers"]}
        assert list(c.run(_settings, keys).values()) == [_tune_dask.LOCAL_CONFIG]  # passed on by the nanny
        tick_ms = 1000 * dask.utils.parse_timedelta(_tune_dask.LOCAL_CONFIG["distributed.admin.tick.interval"])
        assert c.run_on_scheduler(lambda dask_scheduler: dask_scheduler.periodic_callbacks["tick"].callback_time) \
            == tick_ms
        (nanny,) = cluster.workers.values()
        assert nanny.periodic_callbacks["tick"].callback_time == tick_ms
    assert {k: os.environ.get(k) for k in names} == env


# Dask leaves its probe of the taken port unclosed (distributed/node.py): a ResourceWarning, which Python hides
# outside development mode, raised here from a finalizer.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_busy_dashboard_port_is_not_a_warning():
    """A second `pybp tune` while one runs (or anything on 8787): the embedded cluster's dashboard takes a free port
    without Dask's "Port 8787 is already in use" warning on stderr (an error here: pyproject); the dashboard line
    names the port it got."""
    import socket
    holder = socket.socket()
    try:
        holder.bind(("", 8787))
        holder.listen()
    except OSError:  # already taken by another program: the same situation
        pass
    with holder, _tune_dask.local_cluster(1) as cluster, distributed.Client(cluster) as c:
        line = _tune_dask.dashboard_line(c)
        assert line is None or ":8787/" not in line, line


def test_resume_runs_only_missing_trials(client, tmp_path, deadline):
    out, logs = tmp_path / "r.jsonl", tmp_path / "calls"
    logs.mkdir()
    obj = Logged(str(logs))
    _search(obj, 4, client, out)
    with open(out, "ab") as f:  # a crash in the middle of writing the next line
        f.write(b'{"trial": 4, "status": "o')
    records, dropped = read_results(out)
    assert len(records) == 4 and dropped > 0
    for f in logs.iterdir():
        f.unlink()
    got = _search(obj, 7, client, out)
    ran = sorted(int(f.name.split("-")[0]) for f in logs.iterdir())
    assert ran == sorted(tune.trial_seeds(5, i)[1] for i in (4, 5, 6))
    _same(got, _sequential(obj, 7, 5))
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b"" and sorted(json.loads(x)["trial"] for x in lines[:-1]) == list(range(7))


def test_killed_worker_still_gives_every_trial_once(client, tmp_path, deadline):
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("needs SIGKILL")
    n, seed = 8, 5
    marker = tmp_path / "killed"
    victim = tune.trial_seeds(seed, 2)[1]
    obj = KillOnce(str(marker), victim)
    got = _search(obj, n, client, tmp_path / "r.jsonl", seed=seed)
    assert marker.exists(), "the victim trial never ran"
    killed_pid = int(marker.read_text())
    rec = got[2]
    assert rec["status"] == "ok" and rec["pid"] != killed_pid  # rerun by another (or a restarted) worker
    _same(got, _sequential(obj, n, seed))
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["trial"] for x in lines) == list(range(n))  # exactly once each


def test_only_worker_killed_mid_trial_loses_nothing(lonely_client, tmp_path, deadline):
    n, seed = 6, 5
    marker = tmp_path / "killed"
    obj = KillOnce(str(marker), tune.trial_seeds(seed, 3)[1])
    got = _search(obj, n, lonely_client, tmp_path / "r.jsonl", seed=seed)
    assert marker.exists() and got[3]["pid"] != int(marker.read_text())
    _same(got, _sequential(obj, n, seed))
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == n


def test_trial_that_always_kills_its_worker_is_recorded_failed(lonely_client, tmp_path, deadline):
    n, seed = 4, 5
    obj = KillAlways(tune.trial_seeds(seed, 1)[1])
    got = _search(obj, n, lonely_client, tmp_path / "r.jsonl", seed=seed)
    assert [r["status"] for r in got] == ["ok", "failed", "ok", "ok"]
    assert got[1]["error"].startswith("KilledWorker") and got[1]["params"] == tune.sample_params(SPACE, seed, 1)
    _same([got[i] for i in (0, 2, 3)], _sequential(TINY, (0, 2, 3), seed))  # not obj: it would kill pytest


def test_raising_trial_is_recorded_not_fatal(client, tmp_path, deadline):
    out = tmp_path / "r.jsonl"
    bad = tune.trial_seeds(5, 1)[1]
    got = _search(RaisesOn(bad), 4, client, out)
    assert [r["status"] for r in got] == ["ok", "failed", "ok", "ok"]
    assert "ValueError: diverged at lr" in got[1]["error"] and "result" not in got[1]
    assert got[1]["params"] == tune.sample_params(SPACE, 5, 1)
    # resume keeps the failure unless asked to retry it; a retry replaces it by the last record
    assert _search(RaisesOn(bad), 4, client, out)[1]["status"] == "failed"
    assert len(out.read_text().splitlines()) == 4
    got = _search(RaisesOn(bad), 4, client, out, retry_failed=True)
    assert got[1]["status"] == "failed" and len(out.read_text().splitlines()) == 5
    assert [r["trial"] for r in tune.best(got)] == sorted((0, 2, 3), key=lambda i: (-tune.score(got[i]), i))


def test_other_search_in_the_file_is_refused(client, tmp_path, deadline):
    out = tmp_path / "r.jsonl"
    _search(TINY, 2, client, out, seed=1)
    with pytest.raises(ValueError, match="another search.*seed: 1 in the file, 2 now"):
        _search(TINY, 2, client, out, seed=2)


class SigintWhenFreed:
    """Ctrl-C arriving while the main thread runs a finalizer, as it did in distributed's Future.__del__ (dropped
    after every trial): a KeyboardInterrupt raised in a __del__ is printed as "Exception ignored" and lost."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def _ctrl_c_at(n):
    """A log_line that presses Ctrl-C (from inside a finalizer) as the n-th finished trial is reported."""
    seen = []

    def log_line(rec):
        seen.append(rec)
        if len(seen) == n:
            SigintWhenFreed()  # freed at once
    return log_line


@pytest.mark.parametrize("at, n", [(2, 40), (4, 4)], ids=["mid-search", "after-the-last-trial"])
def test_ctrl_c_in_a_finalizer_is_not_lost(client, tmp_path, deadline, at, n):
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # else nothing here would be deferred
    out = tmp_path / "r.jsonl"
    with pytest.raises(KeyboardInterrupt):
        _search(TINY, n, client, out, log_line=_ctrl_c_at(at))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    got = tune.load_results(out)  # valid, with the trials that finished
    assert at <= len(got) <= n and (len(got) < n or at == n)
    _same(got, _sequential(TINY, [r["trial"] for r in got], 5))
    _same(_search(TINY, n, client, out), _sequential(TINY, n, 5))  # resumes to the full search


def test_worker_shutdown_noise_is_dropped_only_while_closing():
    import logging
    from distributed.core import Status

    class Worker:
        status = Status.running
    w = Worker()
    quiet = _tune_dask._QuietClose(w)
    heartbeat = "Failed to communicate with scheduler during heartbeat."
    msgs = ["Async instruction for <Task cancelled name='execute(x)'> ended with CancelledError", heartbeat,
            "Unexpected exception during heartbeat. Closing worker."]

    def passed():
        return [quiet.filter(logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1, m, None, None))
                for m in msgs]
    assert passed() == [True, True, True]
    for w.status in (Status.closing, Status.closed):
        assert passed() == [False, False, True]


def test_trial_parameters_depend_only_on_seed_and_index():
    a = [tune.sample_params(SPACE, 7, i) for i in range(50)]
    assert a == [tune.sample_params(SPACE, 7, i) for i in range(50)]
    assert a != [tune.sample_params(SPACE, 8, i) for i in range(50)]
    lrs = np.array([p["lr"] for p in a])
    assert lrs.min() >= 1e-3 and lrs.max() <= 3e-1 and len(set(lrs)) == 50
    assert np.log10(lrs).std() > 0.25  # spread over the decades, not clustered at one end
    assert tune.trial_seeds(7, 3)[1] != tune.trial_seeds(7, 4)[1]
    with pytest.raises(ValueError, match="low <= high"):
        tune.log_uniform(1e-2, 1e-3)
    with pytest.raises(TypeError, match=r"space\['lr'\] must have a sample"):
        tune.random_search(TINY, {"lr": 0.1}, 1)


def test_results_file_tolerates_only_a_partial_last_line(tmp_path):
    path = tmp_path / "r.jsonl"
    search = {"seed": 0}
    rec = {"trial": 0, "status": "ok", "search": search}
    path.write_bytes(encode(rec) + b'{"trial": 1, "st')
    store = ResultsFile(path, search)
    assert list(store.records) == [0] and store.dropped_bytes > 0
    store.append({**rec, "trial": 1, "x": np.float32(0.5)})
    store.close()
    assert [r["trial"] for r in tune.load_results(path)] == [0, 1]
    path.write_bytes(b"garbage\n" + encode(rec))
    with pytest.raises(ValueError, match="line 1 is not a trial record"):
        tune.load_results(path)


def test_without_dask_the_cli_says_how_to_get_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    monkeypatch.delitem(sys.modules, "pybp._tune_dask", raising=False)
    monkeypatch.delattr(pybp, "_tune_dask", raising=False)  # `from . import _tune_dask` looks here first
    from pybp.cli import main
    assert main(["tune", "--trials", "1", "--out", str(tmp_path / "r.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "Dask distributed" in err and "pip install 'dask[distributed]'" in err and "'.[distributed]'" in err
    assert not (tmp_path / "r.jsonl").exists()
    with pytest.raises(ImportError, match=r"pip install 'dask\[distributed\]'"):
        tune.random_search(TINY, SPACE, 1, data=DATA)


SLOW_CLI_S = 600  # bound on one `pybp tune` run in the CLI test: generous, as a loaded machine slows it many-fold


def _cli(args, mnist_cache, cwd, run=("-m", "pybp"), **kw):
    root = os.path.dirname(os.path.dirname(os.path.abspath(pybp.__file__)))
    env = {**os.environ, "PYBP_DATA": mnist_cache,
           "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, *run, "tune"] + args, cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


@pytest.mark.slow
def test_cli_book_table_plot_and_ctrl_c(mnist_cache, tmp_path):
    pytest.importorskip("matplotlib")
    small = ["--hidden", "20", "20", "--epochs", "2", "--workers", "2", "--no-progress", "--seed", "3"]
    p = _cli(small + ["--trials", "400"], mnist_cache, tmp_path)
    out = tmp_path / "results.jsonl"
    # Ctrl-C once two trials are in the file. Start-up (imports, MNIST, two spawned workers) takes ~3 s idle, but
    # with this test's processes sharing one core with six busy loops the test took 100 s instead of 15: a fixed
    # 60 s window could run out first, and the test then failed on a Ctrl-C sent before any trial had finished.
    t0 = time.monotonic()
    while not (out.exists() and out.read_text().count("\n") >= 2):
        if p.poll() is not None or time.monotonic() - t0 > SLOW_CLI_S:
            p.kill()
            stdout, stderr = p.communicate()
            pytest.fail(f"pybp tune wrote no two trials in {time.monotonic() - t0:.0f} s (exit code "
                        f"{p.returncode}):\n{stdout}\n{stderr}")
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=SLOW_CLI_S)
    assert p.returncode == 130, stderr
    n = len(tune.load_results(out))  # the file is valid and holds what finished
    # said by cli.main, as for `pybp train`, with what was kept
    assert (f"pybp tune: interrupted: {n} finished trial(s) are in results.jsonl; run the same command to resume"
            in stderr.splitlines()), stderr
    assert "Traceback" not in stderr, stderr
    assert 2 <= n < 400
    p = _cli(small + ["--trials", str(n + 3), "--plot", "best"], mnist_cache, tmp_path)  # .png added
    stdout, stderr = p.communicate(timeout=SLOW_CLI_S)
    assert p.returncode == 0, stderr
    assert f"resuming: {n} trial(s) already in results.jsonl" in stdout
    assert "Hyper-Parameter Optimization Result" in stdout
    best = [ln for ln in stdout.splitlines() if ln.startswith("Best-")]
    assert len(best) == n + 3 and best[0].startswith("Best-1 (val acc: 0.") and "| lr: " in best[0]
    assert ", weight decay: " in best[0]
    recs = tune.load_results(out)
    assert [r["trial"] for r in recs] == list(range(n + 3))
    assert all(len(r["result"]["val_acc"]) == 2 for r in recs)  # one point per epoch
    assert (tmp_path / "best.png").stat().st_size > 10000
    assert f"saved the {min(20, n + 3)} best curves to best.png" in stdout
    assert sorted(os.listdir(tmp_path)) == ["best.png", "results.jsonl"]  # no temporary file left


# `pybp tune` with Ctrl-C pressed inside a finalizer at a given moment: argv is PHASE N then the command's own
# (tune ...). PHASE start: as the embedded cluster is created; trial: as the N-th trial line is printed.
CTRL_C_IN_A_FINALIZER = """
import signal, sys
from pybp import _tune_cli, _tune_dask
from pybp.cli import main

class SigintWhenFreed:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)

phase, n = sys.argv[1], int(sys.argv[2])
if phase == "start":
    cluster = _tune_dask.LocalCluster
    def starting(*a, **kw):
        SigintWhenFreed()
        return cluster(*a, **kw)
    _tune_dask.LocalCluster = starting
else:
    line, seen = _tune_cli.trial_line, []
    def trial_line(rec):
        seen.append(rec)
        if len(seen) == n:
            SigintWhenFreed()
        return line(rec)
    _tune_cli.trial_line = trial_line
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize("phase, at, trials", [("start", 0, 400), ("trial", 2, 400), ("trial", 3, 3)],
                         ids=["cluster-start", "mid-search", "after-the-last-trial"])
def test_cli_ctrl_c_at_any_moment_exits_130_and_keeps_the_trials(mnist_cache, tmp_path, phase, at, trials):
    args = ["--hidden", "20", "--epochs", "1", "--workers", "1", "--no-progress", "--trials", str(trials)]
    p = _cli(args, mnist_cache, tmp_path, run=("-c", CTRL_C_IN_A_FINALIZER, phase, str(at)))
    stdout, stderr = p.communicate(timeout=SLOW_CLI_S)
    assert p.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    n = len(tune.load_results(tmp_path / "results.jsonl"))
    said = stderr.splitlines()[-1]
    if at == trials:
        assert n == trials
        assert said == (f"pybp tune: interrupted: the search had finished: all {trials} trial(s) are in "
                        "results.jsonl; run the same command for the table")
    else:
        assert at <= n < trials
        assert said == (f"pybp tune: interrupted: {n} finished trial(s) are in results.jsonl; run the same command "
                        "to resume")
