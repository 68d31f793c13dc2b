"""pybp tune on Dask: trials per minute with 1 and 2 worker processes, and the scheduling overhead per trial
against the same trials in a plain loop in this process.

The trials are the book's (MultiLayerTrial defaults: 6x100 net, float64, 400 training / 100 validation MNIST
images, SGD), with --epochs per trial (book: 50). Each round runs the same trials (same seeds) four ways, in
turn: a plain loop here (one kernel thread, one BLAS thread, as the workers have), random_search on pybp's
embedded 1-worker cluster and on a 2-worker one, and the plain loop split over two plain processes running at
once (even and odd trials; no Dask): the ceiling of what a second worker can give on this machine. Clusters and
processes are started and run two short trials before the first round (cluster start-up is reported
separately). Medians and ranges over the rounds; the load average is sampled around each run.

    python bench/bench_tune.py [--trials 12] [--epochs 50] [--rounds 3] [--dask-defaults]
"""
from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import pybp  # noqa: E402
from pybp import _tune_dask, tune  # noqa: E402
from pybp._tune_train import holdout  # noqa: E402

SPACE = {"lr": tune.log_uniform(1e-6, 1e-2), "weight_decay": tune.log_uniform(1e-8, 1e-4)}


def book_data():
    (x, t), _ = pybp.load_mnist(normalize=True)
    return holdout(x[:500], t[:500], 0.2, seed=0)  # float32, as pybp tune ships it


def plain_loop(objective, data, n, seed, indices=None):
    out = []
    for i in (range(n) if indices is None else indices):
        _, train_seed = tune.trial_seeds(seed, i)
        out.append(tune.run_trial(objective, tune.sample_params(SPACE, seed, i), data, train_seed, i))
    return out


def one_thread():
    """What the plain loop and each worker get: one pybp kernel thread, one BLAS thread."""
    from threadpoolctl import threadpool_limits
    pybp.set_num_threads(1)
    global _limits
    _limits = threadpool_limits(limits=1)


def _process_init(data):
    global _data
    one_thread()
    _data = data


def _process_part(objective, n, seed, part, parts):
    return plain_loop(objective, _data, n, seed, range(part, n, parts))


def plain_processes(pools):
    """The plain loop split over len(pools) one-process pools (trial i in process i % len(pools)), all at once."""
    def run(objective, data, n, seed):
        futs = [p.submit(_process_part, objective, n, seed, k, len(pools)) for k, p in enumerate(pools)]
        return sorted((rec for f in futs for rec in f.result()), key=lambda rec: rec["trial"])
    return run


def on_dask(client):
    def run(objective, data, n, seed):
        return tune.random_search(objective, SPACE, n, data=data, seed=seed, client=client, progress=False)
    return run


def load1():
    return os.getloadavg()[0]


def _cores(x):
    return "?" if x is None else f"{x:.2f}"


def _cores_range(v):
    known = [x for x in v if x is not None]
    return f"{min(known):.2f}-{max(known):.2f}" if known else "?"


def machine_cpu_s():
    """CPU seconds every process on the machine has used since boot (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _cpu_s():
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_seconds(owner):
    """CPU seconds used so far by this process (client, and the embedded schedulers) plus every worker process of
    `owner` (a Client, or a list of process pools): unlike wall time, barely moved by what other jobs run."""
    here = _cpu_s()
    if owner is None:
        return here
    if isinstance(owner, list):
        return here + sum(p.submit(_cpu_s).result() for p in owner)
    return here + sum(owner.run(_cpu_s).values())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="print only; do not write bench/results/tune.*")
    ap.add_argument("--quiet", type=float, default=0.05, metavar="CORES",
                    help="a round counts as quiet when other processes used less than this many cores during each "
                         "of its runs (default 0.05)")
    ap.add_argument("--dask-defaults", action="store_true",
                    help="also run 2 workers on a LocalCluster with Dask's default settings (without pybp's "
                         "LOCAL_CONFIG), to measure what that configuration gains")
    args = ap.parse_args(argv)
    import distributed
    from concurrent.futures import ProcessPoolExecutor

    one_thread()  # the plain loop gets what each worker gets
    objective = tune.MultiLayerTrial(epochs=args.epochs)
    data = book_data()
    # Before any cluster: a nanny leaves its pre-spawn environment (MALLOC_TRIM_THRESHOLD_=65536, which makes a
    # trial 1.7-2x slower; OMP/MKL_NUM_THREADS=1) in os.environ (pybp's local_cluster puts it back, Dask's not).
    spawn = multiprocessing.get_context("spawn")  # as Dask starts its workers
    pools = [ProcessPoolExecutor(1, mp_context=spawn, initializer=_process_init, initargs=(data,)) for _ in range(2)]
    for p in pools:
        p.submit(_cpu_s).result()  # started before the first round, as the clusters are
    clusters, startup = {}, {}
    stack = contextlib.ExitStack()
    for n in (1, 2):
        t0 = time.perf_counter()
        cl = stack.enter_context(_tune_dask.local_cluster(n, dashboard_address=":0"))  # pybp tune's own
        c = distributed.Client(cl)
        c.wait_for_workers(n)
        startup[n] = time.perf_counter() - t0
        clusters[n] = (cl, c)
    if args.dask_defaults:
        cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        c = distributed.Client(cl)
        c.wait_for_workers(2)
        clusters["defaults"] = (cl, c)
    contenders = {"plain loop": plain_loop, "1 worker": on_dask(clusters[1][1]), "2 workers": on_dask(clusters[2][1]),
                  "two plain processes": plain_processes(pools)}
    owners = {"plain loop": None, "1 worker": clusters[1][1], "2 workers": clusters[2][1],
              "two plain processes": pools}
    if args.dask_defaults:
        contenders["2 workers, Dask defaults"] = on_dask(clusters["defaults"][1])
        owners["2 workers, Dask defaults"] = clusters["defaults"][1]
    for run in contenders.values():  # imports, the workers' plugin, first calls: not in the first round's times
        run(tune.MultiLayerTrial(epochs=1), data, 2, 0)
    times = {k: [] for k in contenders}
    cpu = {k: [] for k in contenders}
    trial_s = {k: [] for k in contenders}  # mean wall time of one trial, as the process that ran it measured it
    others = {k: [] for k in contenders}  # cores used by other processes on the machine during the run
    loads = []
    try:
        for r in range(args.rounds):
            seed = 1000 + r
            want = None
            for name, run in contenders.items():
                loads.append(load1())
                m0, c0 = machine_cpu_s(), cpu_seconds(owners[name])
                t0 = time.perf_counter()
                recs = run(objective, data, args.trials, seed)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(cpu_seconds(owners[name]) - c0)
                m1 = machine_cpu_s()
                # what other processes ran meanwhile, as cores: the load average lags by a minute and counts ours
                others[name].append(None if m0 is None else max(0.0, (m1 - m0 - cpu[name][-1]) / times[name][-1]))
                trial_s[name].append(statistics.mean(rec["wall_s"] for rec in recs))
                loads.append(load1())
                got = [(rec["trial"], rec["status"], rec.get("result")) for rec in recs]
                if want is None:
                    want = got
                elif got != want:  # same trials, same results, wherever they ran
                    raise SystemExit(f"benchmark result check failed: {name} differs from the plain loop")
                print(f"round {r + 1}: {name:>24}: {times[name][-1]:6.2f} s for {args.trials} trials, "
                      f"{cpu[name][-1]:6.2f} CPU s, trial {1000 * trial_s[name][-1]:.0f} ms "
                      f"(load {loads[-2]:.1f} -> {loads[-1]:.1f}; others {_cores(others[name][-1])})", flush=True)
    finally:
        for cl, c in clusters.values():
            c.close()
            cl.close()
        stack.close()
        for p in pools:
            p.shutdown()

    med = {k: statistics.median(v) for k, v in times.items()}
    per_trial = med["plain loop"] / args.trials
    overhead = (med["1 worker"] - med["plain loop"]) / args.trials
    pairs = [(a - b) / b for a, b in zip(times["1 worker"], times["plain loop"])]
    speedups = [a / b for a, b in zip(times["1 worker"], times["2 workers"])]
    ceilings = [a / b for a, b in zip(times["plain loop"], times["two plain processes"])]
    reached = [a / b for a, b in zip(times["two plain processes"], times["2 workers"])]
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    quiet = [r for r in range(args.rounds) if all(v[r] is not None and v[r] < args.quiet for v in others.values())]

    def ratios(a, b, rounds):
        x = [times[a][r] / times[b][r] for r in rounds]
        return f"{statistics.median(x):.2f}x (per round {min(x):.2f}-{max(x):.2f}x)"
    if quiet:
        quiet_note = (f" In {len(quiet)} of the {args.rounds} rounds other processes used less than {args.quiet:g} "
                      f"of a core during every run; over those rounds the second worker gives "
                      f"{ratios('1 worker', '2 workers', quiet)} and two plain processes "
                      f"{ratios('plain loop', 'two plain processes', quiet)}.")
    else:
        quiet_note = (f" In no round did other processes stay below {args.quiet:g} of a core during every run: "
                      f"the ratios are not those of a quiet machine.")
    cpu_over = [(a - b) / b for a, b in zip(cpu["1 worker"], cpu["plain loop"])]
    rows = []
    for k, v in times.items():
        rows.append({"run": k, "median s": f"{med[k]:.2f}", "range s": f"{min(v):.2f}-{max(v):.2f}",
                     "trials/min": f"{60 * args.trials / med[k]:.1f}",
                     "vs plain loop": f"{med['plain loop'] / med[k]:.2f}x",
                     "CPU s (median, range)": f"{cmed[k]:.2f} ({min(cpu[k]):.2f}-{max(cpu[k]):.2f})",
                     "CPU vs plain loop": f"{100 * (cmed[k] - cmed['plain loop']) / cmed['plain loop']:+.1f}%",
                     "trial ms (median)": f"{1000 * statistics.median(trial_s[k]):.0f}",
                     "others (cores)": _cores_range(others[k])})
    meta = {**common.header(), "load_1min": f"{min(loads):.1f}-{max(loads):.1f}",
            "distributed": distributed.__version__, "backend": pybp.get_backend()}
    notes = (f"{args.trials} book trials per run (MultiLayerNet 6x100 f64, 400/100 images, {args.epochs} epochs, "
             f"SGD), {args.rounds} interleaved rounds, same seeds in every run, results checked equal. "
             f"Plain-loop trial {per_trial * 1000:.0f} ms. Dask overhead per trial (1 worker minus plain loop, "
             f"medians): {overhead * 1000:+.1f} ms = {100 * overhead / per_trial:+.1f}% "
             f"(per round {min(pairs) * 100:+.1f}% to {max(pairs) * 100:+.1f}%); second worker: "
             f"{med['1 worker'] / med['2 workers']:.2f}x the trials per minute (per round "
             f"{min(speedups):.2f}-{max(speedups):.2f}x). Ceiling: two plain processes at once (no Dask) give "
             f"{med['plain loop'] / med['two plain processes']:.2f}x the plain loop's (per round "
             f"{min(ceilings):.2f}-{max(ceilings):.2f}x); 2 workers reach {100 * min(reached):.0f}-"
             f"{100 * max(reached):.0f}% of it per round. Cluster start-up, not in the times: "
             f"{startup[1]:.1f} s (1 worker), {startup[2]:.1f} s (2 workers). Load average sampled around each run: "
             f"{min(loads):.1f}-{max(loads):.1f} (other jobs shared this 2-core machine). CPU time of this process "
             f"(client + embedded scheduler) and all workers, 1 worker vs plain loop, per round: "
             f"{min(cpu_over) * 100:+.1f}% to {max(cpu_over) * 100:+.1f}%. Trial ms: the mean wall time of one "
             f"trial as timed inside the process that ran it. Others: the cores other processes used during the "
             f"runs (the machine's CPU time from /proc/stat minus ours, per second).{quiet_note}")
    raw = {"times_s": times, "cpu_s": cpu, "trial_s": trial_s, "others_cores": others, "quiet_rounds": quiet,
           "loads": loads, "startup_s": startup,
           "trials": args.trials, "epochs": args.epochs, "overhead_per_trial_s": overhead, "plain_trial_s": per_trial,
           "speedup_2_vs_1": med["1 worker"] / med["2 workers"],
           "ceiling_2_processes_vs_plain": med["plain loop"] / med["two plain processes"]}
    columns = ["run", "median s", "range s", "trials/min", "vs plain loop", "CPU s (median, range)",
               "CPU vs plain loop", "trial ms (median)", "others (cores)"]
    if args.no_write:
        print(notes)
        for row in rows:
            print(row)
        return 0
    print(common.write_report("tune", "pybp tune: trials per minute on Dask", columns, rows, meta, notes, raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
