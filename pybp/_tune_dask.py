"""Dask distributed side of pybp.tune: the cluster, the per-worker thread pinning, the task loop.

Importing this module without Dask raises ImportError with the install hint.
"""
from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import time
import warnings

try:
    import dask
    import distributed
    from dask.base import tokenize
    from distributed import Client, LocalCluster
    from distributed.core import Status
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError as e:  # the extra is optional
    from .tune import DISTRIBUTED_HINT
    raise ImportError(f"pybp.tune runs trials on Dask distributed, which is not installed ({e}): "
                      f"{DISTRIBUTED_HINT}") from e

from .tune import run_trial


class PinThreads(WorkerPlugin):
    """One kernel thread and one BLAS thread per worker process (trials run side by side, one per core; two
    thread pools per process would fight over the cores), and the client's pybp backend where it loads."""

    name = "pybp-pin-threads"

    def __init__(self, backend):
        self.backend = backend

    def setup(self, worker):
        import pybp
        _QuietClose.install(worker)
        try:
            pybp.set_backend(self.backend)
        except ImportError:  # keep the worker's default; each record names the backend it used
            pass
        pybp.set_num_threads(1)
        _undo_malloc_trim()
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # the nanny already set OMP/OPENBLAS/MKL_NUM_THREADS=1 for local workers
            return
        self._limits = threadpool_limits(limits=1)


class _QuietClose(logging.Filter):
    """Drops the two things a worker logs about its own shutdown (a stopped search closes the cluster mid-trial):
    "Async instruction ... ended with CancelledError" per trial it stops, and, when a heartbeat was in flight, an
    error with a three-part traceback. Both are Dask's normal close path; on stderr they buried the one line
    saying what the interrupted search kept."""

    MESSAGES = ("Async instruction for ", "Failed to communicate with scheduler during heartbeat")

    def __init__(self, worker):
        super().__init__()
        self.worker = worker

    def filter(self, record):
        closing = self.worker.status in (Status.closing, Status.closed)
        return not (closing and str(record.msg).startswith(self.MESSAGES))

    @classmethod
    def install(cls, worker):
        for name in ("distributed.worker", "distributed.worker.state_machine"):  # each logs one of them
            log = logging.getLogger(name)
            if not any(isinstance(f, cls) for f in log.filters):  # once per process (setup runs per search)
                log.addFilter(cls(worker))


def _undo_malloc_trim():
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's adaptive mmap
    threshold: every array above 128 KiB is then mmap'ed and unmapped again, and a book trial (fresh 100x784 and
    100x100 arrays each step) ran 1.7-2.0x slower in a worker than in a plain loop (and in a process started with
    that variable). Give glibc back its steady-state thresholds (mmap 32 MiB, trim 64 MiB)."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to undo
        pass


def _remote_trial(objective, params, data, seed, index, after=None):
    # `after` (the record of the trial this one was chained behind) only orders the two; see run_tasks.
    # Again here: Numba's thread count belongs to the calling thread (pybp's own is process-wide), and trials run
    # in the worker's executor thread, not in the thread that ran PinThreads.setup.
    import pybp
    pybp.set_num_threads(1)
    try:  # OpenMP's thread count is per thread too: PinThreads' limit does not reach this executor thread
        from threadpoolctl import threadpool_limits
    except ImportError:  # local workers: the nanny set OMP_NUM_THREADS=1
        rec = run_trial(objective, params, data, seed, index)
    else:
        with threadpool_limits(limits=1, user_api="openmp"):
            rec = run_trial(objective, params, data, seed, index)
    rec["worker"] = distributed.get_worker().address
    return rec


def _lost_record(index, params, seed, exc):
    """The record of a trial whose task itself failed (its workers kept dying, or its data was lost)."""
    return {"trial": index, "status": "failed", "params": params, "seed": seed, "error": f"{type(exc).__name__}: "
            f"{exc}", "wall_s": None, "host": None, "pid": None, "backend": None, "worker": None}


def dashboard_line(client):
    """'Dask dashboard: URL' when the scheduler serves one, a hint when it lacks bokeh, None without a dashboard."""
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        has_bokeh = client.run_on_scheduler(_has_bokeh)
    except Exception:  # diagnostics only: never let them stop a search
        return None
    if not has_bokeh:
        return "Dask dashboard: not available (the scheduler needs bokeh>=3.1: pip install bokeh)"
    return f"Dask dashboard: {client.dashboard_link}"


def _has_bokeh():
    import importlib.util
    return importlib.util.find_spec("bokeh") is not None


@contextlib.contextmanager
def open_client(client=None, scheduler=None, workers=None, dashboard_address=":8787"):
    """The given client, a client of `scheduler`, or an embedded LocalCluster of `workers` one-thread processes."""
    if client is not None:
        yield client
        return
    if scheduler is not None:
        with Client(scheduler) as c:
            yield c
        return
    if workers is not None:
        n = int(workers)
    else:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    with local_cluster(n, dashboard_address) as cluster, Client(cluster) as c:
        yield c


# Background work of pybp's embedded cluster, made rarer. With one worker per core, every CPU second that the
# scheduler and the nannies (threads of this process) and the workers' event loops spend is taken from a trial:
# with Dask's defaults they used 11-12% of a core during a 2-worker search of book trials, with these 3.3% (CPU
# time per thread, 36 trials; the share of each setting below is from changing it alone), and 12 book trials on
# two workers took 2.52 s instead of 2.69 s (medians of 9 runs, alternating, quiet machine). A cluster of your own
# (`scheduler=`, `client=`) keeps its own settings.
LOCAL_CONFIG = {
    "distributed.worker.profile.interval": "100ms",  # 10 ms: ~3% of a core; the dashboard's profile stays, coarser
    "distributed.admin.tick.interval": "200ms",  # 20 ms: ~2%; event-loop health check (still warns at 3 s)
    "distributed.admin.system-monitor.interval": "2s",  # 500 ms: ~1%; the dashboard's CPU/memory plots
    "distributed.worker.memory.monitor-interval": "500ms",  # 100 ms: ~1%; worker and nanny memory limits
}


@contextlib.contextmanager
def local_cluster(n, dashboard_address=":8787"):
    """pybp's embedded cluster: `n` worker processes of one thread each, with LOCAL_CONFIG (the nannies pass it
    on to the worker processes they start).

    A nanny (a thread of this process) sets its pre-spawn environment in os.environ before it starts a worker and
    leaves it there: MALLOC_TRIM_THRESHOLD_=65536 (a book trial 1.7-2x slower in any process started later),
    OMP/MKL_NUM_THREADS=1, PYTHONHASHSEED. This process gets its own values back once the workers have started
    (a restarted worker sets them again) and when the cluster closes."""
    with dask.config.set(LOCAL_CONFIG):
        keys = [*dask.config.get("distributed.nanny.pre-spawn-environ"), "PYTHONHASHSEED"]
        saved = {k: os.environ.get(k) for k in keys}

        def restore():
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        try:
            with warnings.catch_warnings():  # 8787 taken (a second search): a free port, named by the dashboard line
                warnings.filterwarnings("ignore", message=r"Port \d+ is already in use", category=UserWarning)
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=dashboard_address)
        finally:
            restore()
    try:
        with cluster:
            yield cluster
    finally:
        restore()


class _Progress:
    """tqdm over trials when installed; otherwise lines are prefixed with a [done/total] counter."""

    def __init__(self, total, initial, enabled):
        self.n, self.total, self.bar = initial, total, None
        if enabled:
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=total, initial=initial, desc="trials", unit="trial", dynamic_ncols=True)
            except ImportError:
                pass

    def update(self, line):
        self.n += 1
        if self.bar is not None:
            if line:
                self.bar.write(line)
            self.bar.update(1)
        elif line:
            print(f"[{self.n}/{self.total}] {line}", flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _identity(x):
    return x


def _put_data(c, data):
    """The training data, sent once and copied to every worker (as scatter(broadcast=True) would), but as a task
    result: scattered data dies with its last holder, and with it every pending trial (seen on a one-worker
    cluster), while the scheduler recomputes a lost task result. Copied to all workers up front because the
    scheduler otherwise keeps trials next to the one copy when the data is large (seen with --full: both
    trials on one of two workers)."""
    with warnings.catch_warnings():  # sent once on purpose; the size warning is about repeating it per task
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        f = c.submit(_identity, data, pure=False, key=f"pybp-data-{tokenize(data)}")
    distributed.wait(f)  # replicate is a separate message that could reach the scheduler before the task
    if f.status != "finished":
        f.result()  # raises why (e.g. the scheduler cannot unpickle it: pybp missing there)
    c.replicate([f])
    return f


POLL_S = 0.1  # how often the task loop looks at Ctrl-C while no trial finishes


class _Slots:
    """Trials to keep in flight: one per worker thread (at least one while there are no workers yet), asked of
    the scheduler at most once a second (each question is a round trip the next trial would wait for)."""

    def __init__(self, client):
        self.client, self.when, self.n = client, -1.0, 1

    def __call__(self):
        now = time.monotonic()
        if now - self.when > 1.0:
            self.when, self.n = now, max(1, sum(self.client.nthreads().values()))
        return self.n


def _blamed_elsewhere(f, prev, exc):
    """True when trial future `f` failed only because the trial it was chained behind did (its dependency)."""
    if prev is not None and prev.status == "error":
        return True
    return getattr(exc, "task", f.key) != f.key


def run_tasks(objective, tasks, data, finished, *, client, scheduler, workers, retries, total, initial, progress,
              log_line, dashboard_address, on_client, stop):
    """Run one task per (index, params, seed) in `tasks`; call finished(record) as each one completes. Ctrl-C
    (`stop`, a pybp._sigint.Interrupts) is checked once the cluster is up and at least every POLL_S while trials
    run; it cancels the running trials and raises KeyboardInterrupt.

    Only one trial per worker thread is *processing* at a time: Dask blames every task processing on a worker that
    dies, queued ones included, so trials sent ahead would be counted as killers with the trial that ran the
    worker out of memory, and fail with it after allowed-failures deaths. The next trial of each slot is still
    submitted ahead, chained behind the running one (its record as an ignored argument): it waits on the scheduler,
    unblamed, and the scheduler starts it the moment its predecessor finishes, without the client round trip
    (result to the client, submit, assign: 6-16 ms a trial). A chained trial that failed only because its
    predecessor did is submitted again unchained."""
    import pybp
    with open_client(client, scheduler, workers, dashboard_address) as c:
        stop.check()  # pressed while the cluster started
        c.register_plugin(PinThreads(pybp.get_backend()), name=PinThreads.name)
        if on_client is not None:
            on_client(c)
        data_f = _put_data(c, data)
        todo = list(reversed(tasks))
        running, succ, attempts = {}, {}, {}
        done = queue.SimpleQueue()  # futures as they complete, put there by Dask's callback thread

        def submit(after=None):
            index, params, seed = task = todo.pop()
            n = attempts[index] = attempts.get(index, -1) + 1
            key = f"pybp-trial-{index}-{tokenize(objective, params, seed)}" + (f"-{n}" if n else "")
            f = c.submit(_remote_trial, objective, params, data_f, seed, index, after, retries=retries, pure=False,
                         key=key)
            running[f] = (task, after)
            if after is not None:
                succ[after] = f
            f.add_done_callback(done.put)
            return f

        def fill(nxt):
            if nxt is not None and todo:  # keep this slot's next trial waiting behind the one now running
                submit(after=nxt)
            while todo and len(running) < 2 * slots():  # new slots: one running, one waiting behind it
                head = submit()
                if todo:
                    submit(after=head)

        bar = _Progress(total, initial, progress)
        try:
            slots = _Slots(c)
            fill(None)
            while running:
                stop.check()
                try:  # not as_completed's iterator: it waits until a trial finishes, however long that takes
                    f = done.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                task, prev = running.pop(f)
                nxt = succ.pop(f, None)
                try:
                    rec = f.result()
                except Exception as e:  # KilledWorker: the trial took down allowed-failures + 1 workers
                    if _blamed_elsewhere(f, prev, e):
                        todo.append(task)
                        fill(None)
                        continue
                    rec = _lost_record(*task, e)
                else:
                    fill(nxt)
                finished(rec)
                bar.update(log_line(rec) if log_line is not None else None)
        except BaseException:  # Ctrl-C or an error in finished(): stop the running trials
            # Dependents first, and not the data: the scheduler (2026.8) cancels a key's dependents with it and
            # asserts on one no client wants any more (a finished trial that a chained one still needs).
            c.cancel(sorted(running, key=lambda f: f in succ))
            data_f.release()
            raise
        finally:
            bar.close()
            sys.stdout.flush()
