"""Random hyper-parameter search (book ch. 6.5) whose trials run as Dask distributed tasks.

    from pybp.tune import MultiLayerTrial, log_uniform, random_search, best
    space = {"lr": log_uniform(1e-6, 1e-2), "weight_decay": log_uniform(1e-8, 1e-4)}   # the book's ranges
    records = random_search(MultiLayerTrial(epochs=50), space, 100, data=data, out="results.jsonl", workers=2)
    for rec in best(records, 20): ...

Shape of the API, and why:
- The unit of work is an *objective*, ``objective(params, data, seed) -> dict`` (JSON-able; the ranking key,
  ``"val_acc"`` by default, is a number or a per-epoch list whose last value counts), not a network builder: a
  hyper-parameter such as ``lr`` belongs to the optimizer and ``epochs`` to the loop, so only the whole trial
  knows what a parameter means. `MultiLayerTrial` is the book's trial; any picklable callable works.
- ``data`` is passed separately from the objective so that it is scattered to the workers once, not shipped
  with every task.
- Trial ``i`` draws its parameters and its training seed from ``(seed, i)`` alone (a NumPy SeedSequence spawn
  key), so a trial is reproducible wherever and whenever it runs, a resumed or longer search continues the same
  sequence, and `run_trial` replays any record in a plain loop.
- Results are JSONL records appended as trials finish (`pybp._tune_store`); the same ``out`` resumes.

Dask is optional (``pip install 'dask[distributed]'``, or in a pybp checkout ``pip install '.[distributed]'``); this
module imports it only in `random_search`.
"""
from __future__ import annotations

import math
import os
import socket
import time
import traceback
from dataclasses import dataclass

import numpy as np

from ._backend import install_hint
from ._sigint import deferred
from ._tune_store import ResultsFile, encode, load_results
from ._tune_train import MultiLayerTrial, holdout

__all__ = ["LogUniform", "Uniform", "Choice", "log_uniform", "uniform", "choice", "MultiLayerTrial", "holdout",
           "trial_seeds", "sample_params", "run_trial", "random_search", "best", "score", "load_results",
           "DISTRIBUTED_HINT"]

DISTRIBUTED_HINT = install_hint("'dask[distributed]'", "distributed")


@dataclass(frozen=True)
class LogUniform:
    """10 ** U(log10(low), log10(high)), as the book draws lr and weight decay."""
    low: float
    high: float

    def __post_init__(self):
        if not (0 < self.low <= self.high):
            raise ValueError(f"log_uniform: need 0 < low <= high, got low={self.low}, high={self.high}")

    def sample(self, rng):
        return float(10 ** rng.uniform(math.log10(self.low), math.log10(self.high)))


@dataclass(frozen=True)
class Uniform:
    """U(low, high)."""
    low: float
    high: float

    def __post_init__(self):
        if not self.low <= self.high:
            raise ValueError(f"uniform: need low <= high, got low={self.low}, high={self.high}")

    def sample(self, rng):
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class Choice:
    """One of `options` (JSON-able values), uniformly."""
    options: tuple

    def __post_init__(self):
        if not self.options:
            raise ValueError("choice: options must not be empty")

    def sample(self, rng):
        v = self.options[int(rng.integers(len(self.options)))]
        return v.item() if isinstance(v, np.generic) else v


def log_uniform(low, high):
    return LogUniform(float(low), float(high))


def uniform(low, high):
    return Uniform(float(low), float(high))


def choice(options):
    return Choice(tuple(options))


def _check_space(space):
    if not isinstance(space, dict) or not space:
        raise TypeError(f"space must be a non-empty dict name -> log_uniform/uniform/choice, got {space!r}")
    for name, dist in space.items():
        if not callable(getattr(dist, "sample", None)):
            raise TypeError(f"space[{name!r}] must have a sample(rng) method (log_uniform, uniform, choice), "
                            f"got {dist!r}")


def trial_seeds(seed, index):
    """(parameter generator, training seed) of trial `index`: children of SeedSequence(seed, spawn_key=(index,)),
    independent of every other trial and of the order trials run in."""
    params_ss, train_ss = np.random.SeedSequence(int(seed), spawn_key=(int(index),)).spawn(2)
    return np.random.default_rng(params_ss), int(train_ss.generate_state(1)[0])


def sample_params(space, seed, index):
    """The hyper-parameters of trial `index` (dict name -> value), drawn in the space's key order."""
    rng, _ = trial_seeds(seed, index)
    return {name: dist.sample(rng) for name, dist in space.items()}


def _backend_name():
    from . import get_backend
    return get_backend()


def run_trial(objective, params, data, seed, index):
    """Run one trial here and return its record: trial, status ('ok' or 'failed'), params, seed, result (the
    objective's dict) or error (the traceback), wall_s, host, pid, backend. An exception in the objective
    becomes a failed record; KeyboardInterrupt and SystemExit propagate."""
    rec = {"trial": int(index), "status": "ok", "params": dict(params), "seed": int(seed)}
    t0 = time.perf_counter()
    try:
        out = objective(dict(params), data, int(seed))
        if not isinstance(out, dict):
            raise TypeError(f"objective must return a dict, got {type(out).__name__}")
        encode(out)  # not JSON-serialisable: this trial fails, not the search
        rec["result"] = out
    except Exception as e:  # a bad trial (diverged, bug, out of memory) must not stop the search
        rec["status"] = "failed"
        rec["error"] = f"{type(e).__name__}: {e}\n" + "".join(traceback.format_tb(e.__traceback__)[-3:])
    rec["wall_s"] = round(time.perf_counter() - t0, 6)
    rec.update(host=socket.gethostname(), pid=os.getpid(), backend=_backend_name())
    return rec


def score(record, key="val_acc"):
    """A record's ranking value: result[key], or its last element for a per-epoch list; -inf if failed."""
    if record.get("status") != "ok":
        return -math.inf
    v = record["result"][key]
    if isinstance(v, (list, tuple)):
        v = v[-1] if v else -math.inf
    v = float(v)
    return -math.inf if math.isnan(v) else v


def best(records, n=None, key="val_acc"):
    """Successful records, best `key` first (the book sorts by the last validation accuracy); ties by trial."""
    ok = [r for r in records if r.get("status") == "ok"]
    ok.sort(key=lambda r: (-score(r, key), r["trial"]))
    return ok if n is None else ok[:n]


def _describe(obj):
    """A stable text for the search fingerprint: repr of dataclass-like objects, module.qualname of functions."""
    if hasattr(obj, "__qualname__") and hasattr(obj, "__module__"):
        return f"{obj.__module__}.{obj.__qualname__}"
    return repr(obj)


def fingerprint(objective, space, seed, config=None):
    """What makes two runs the same search; stored in every record and checked on resume."""
    return {"seed": int(seed), "space": {k: repr(v) for k, v in space.items()}, "objective": _describe(objective),
            "config": config or {}}


def random_search(objective, space, n_trials, *, data=None, seed=0, out=None, client=None, scheduler=None,
                  workers=None, retries=2, retry_failed=False, config=None, progress=True, log_line=None,
                  dashboard_address=":8787", on_client=None):
    """Run trials 0..n_trials-1 of a random search as Dask tasks; returns their records (those already in `out`
    included), in trial order.

    objective(params, data, seed) -> dict: one trial (see the module docstring); must be picklable.
    space: dict name -> log_uniform(...) / uniform(...) / choice(...).
    data: anything picklable (e.g. a dict of arrays), sent once and kept by every worker (not once per task).
    out: JSONL file; records are appended as trials finish (flushed and fsync'ed) and trials already in it are
        skipped (resume); `retry_failed` reruns failed ones. The file must come from the same search (seed,
        space, objective, config), else ValueError.
    client / scheduler / workers: an existing distributed.Client, or a scheduler address ("tcp://host:8786"),
        or the number of worker processes of an embedded LocalCluster (default: one per core).
    retries: extra attempts for a task that raises outside the objective; a worker that dies mid-trial gets the
        trial rerun elsewhere by the scheduler (up to distributed.scheduler.allowed-failures times, then the
        trial is recorded as failed).
    progress: a progress bar over trials (tqdm when installed). log_line(record) -> str or None: a line to print
        per finished trial. on_client(client): called once the cluster is up (e.g. to print the dashboard).
    Ctrl-C cancels the running trials and raises KeyboardInterrupt once the cluster is closed (also when it came
    after the last trial: the search was interrupted); the file keeps every finished trial. In the main thread a
    Ctrl-C is only noted where it lands and acted on at check points (pybp._sigint), so none is lost; a second
    one raises at once.
    An embedded cluster starts worker processes with "spawn": call this under `if __name__ == "__main__":`.
    """
    _check_space(space)
    n_trials = int(n_trials)
    if n_trials < 0:
        raise ValueError(f"n_trials must be >= 0, got {n_trials}")
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {objective!r}")
    from . import _tune_dask  # ImportError with DISTRIBUTED_HINT when Dask is missing
    fp = fingerprint(objective, space, seed, config)
    store = ResultsFile(out, fp) if out is not None else None
    done = store.records if store is not None else {}
    todo = [i for i in range(n_trials)
            if i not in done or (retry_failed and done[i].get("status") != "ok")]
    records = dict(done)
    tasks = []
    for i in todo:
        _, train_seed = trial_seeds(seed, i)
        tasks.append((i, sample_params(space, seed, i), train_seed))

    def finished(rec):
        rec["search"] = fp
        records[rec["trial"]] = rec
        if store is not None:
            store.append(rec)

    with deferred() as stop:  # raises KeyboardInterrupt on leaving if Ctrl-C came after the last check
        try:
            if tasks:
                _tune_dask.run_tasks(objective, tasks, data, finished, client=client, scheduler=scheduler,
                                     workers=workers, retries=retries, total=n_trials, initial=n_trials - len(todo),
                                     progress=progress, log_line=log_line, dashboard_address=dashboard_address,
                                     on_client=on_client, stop=stop)
        finally:
            if store is not None:
                store.close()
    return [records[i] for i in sorted(records) if i < n_trials]
