"""Parameter sweeps (issue 16): the speed-up of a sweep from 1 to 2 workers, and the
per-point overhead of its executors (the Dask path above all).

Usage: python benchmarks/bench_sweep.py [--points 48] [--qubits 200000] [--trivial 400]

1. Speed-up: one seeded sweep of ``--points`` ``qkd run`` points (bb84, ``--qubits``
   exchanges, depolarizing noise from 1% up, Cascade) run by :func:`run_sweep` on a
   local process pool of 1 and of 2 workers, and on a Dask LocalCluster of 1 and of 2
   worker processes (one thread each). Every pool is started and warmed (one point per
   worker: imports paid) and the script waits (up to 90 s) for other processes to use
   under 0.15 core before the clock starts; what they used during the run is printed
   (the machine is shared). Wall seconds, points/s, the speed-up
   from 1 to 2 workers, and a check that all four tables are equal (but for ``wall_s``).
2. Per-point overhead: ``--trivial`` keyrate points (the PLOB bound at distinct
   distances, ~0.2 ms of work each) run directly in this process (``execute_point`` in
   a loop: the baseline), through :func:`run_sweep` on a one-thread executor in this
   process (the driver alone: bookkeeping and the Parquet parts), on a process pool of
   1 worker and on a Dask LocalCluster of 1 worker (one point per task, then 20 with
   ``points_per_task``); overhead per point = (wall - baseline) / points.
3. Projection to N workers: a point of t seconds costs the driver and scheduler c
   seconds of serial work (the Dask overhead of 2. at one point per task: an upper
   bound, part of it is the worker's own unpickling, which parallelises). With enough
   points, N workers finish one point every max((t + c) / N, c) seconds, so the
   speed-up over one worker is at most S(N) = min(N, (t + c) / c); printed for the
   points of 1. and for shorter and longer ones, beside the speed-up measured at N = 2.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from qkd_circuits.sweep import SweepSpec, execute_point, plan_sweep, run_sweep
from qkd_circuits.sweep.cli import local_cluster
from qkd_circuits.sweep.execute import TIMING_COLUMNS, PointTask
from qkd_circuits.versions import package_versions

SEED = 2026
PER_TASK = 20


class CpuMeter:
    """Cores used by other processes (not this one or its children) over a section:
    the machine's busy time (/proc/stat) less this process tree's (psutil)."""

    def __init__(self) -> None:
        import psutil

        self.psutil = psutil
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _busy(self) -> float:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle, iowait
        return (sum(fields[:8]) - idle) / self.ticks

    def _mine(self) -> float:
        me = self.psutil.Process()
        total = 0.0
        for proc in [me, *me.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except self.psutil.Error:
                continue
            total += times.user + times.system
        return total

    def __enter__(self) -> CpuMeter:
        self.start = (time.perf_counter(), self._busy(), self._mine())
        return self

    def __exit__(self, *exc: object) -> None:
        wall, busy, mine = time.perf_counter(), self._busy(), self._mine()
        self.wall = wall - self.start[0]
        self.others = max(0.0, (busy - self.start[1]) - (mine - self.start[2])) / self.wall


def wait_for_quiet(seconds: float = 3.0, limit: float = 0.15, patience: float = 90) -> str:
    """Wait (at most ``patience`` s) until other processes use under ``limit`` core."""
    deadline = time.monotonic() + patience
    while True:
        with CpuMeter() as meter:
            time.sleep(seconds)
        if meter.others < limit or time.monotonic() > deadline:
            return f"other processes {meter.others:.2f} core before"


def run_spec(points: int, qubits: int) -> SweepSpec:
    noise = [f"depolarizing={0.01 + 0.001 * i:g}" for i in range(points // 2)]
    return SweepSpec.from_dict(
        {
            "command": "run",
            "seed": SEED,
            "repeats": 2,
            "fixed": {"qubits": qubits, "protocol": "bb84"},
            "axes": {"noise": noise},
        }
    )


def trivial_spec(points: int) -> SweepSpec:
    return SweepSpec.from_dict(
        {
            "command": "keyrate",
            "fixed": {"analysis": "plob"},
            "axes": {"distances": [1 + i for i in range(points)]},
        }
    )


def warm(pool: Executor, spec: SweepSpec, workers: int) -> None:
    """Run one point per worker (imports paid) before timing."""
    point = plan_sweep(spec)[0]
    futures = [pool.submit(execute_point, PointTask(point.point_id, point.argv))]
    futures += [
        pool.submit(execute_point, PointTask(point.point_id, point.argv))
        for _ in range(workers - 1)
    ]
    for future in futures:
        future.result()


def timed_sweep(
    spec: SweepSpec, pool: Executor, directory: Path, name: str, per_task: int = 1
) -> tuple[float, Any, str]:
    """Wall seconds of ``run_sweep`` (after waiting for a quiet machine), the table, and
    what other processes used before and during it."""
    import pyarrow.parquet as pq

    points = plan_sweep(spec)
    table = directory / f"{name}.parquet"
    quiet = wait_for_quiet()
    with CpuMeter() as meter:
        run_sweep(
            spec, table, executor=pool, points=points, progress=False, points_per_task=per_task
        )
    others = f"{quiet}, {meter.others:.2f} during"
    return meter.wall, pq.read_table(table).drop_columns(list(TIMING_COLUMNS)), others


def process_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


class DaskPool:
    """A Dask LocalCluster of ``workers`` processes and its executor (a context manager)."""

    def __init__(self, workers: int) -> None:
        from distributed import Client

        self.cluster = local_cluster(workers)  # the one qkd sweep --dask-local starts
        self.client = Client(self.cluster)
        self.executor = self.client.get_executor(pure=False)

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


def with_pool(kind: str, workers: int, body: Callable[[Executor], Any]) -> Any:
    if kind == "process":
        pool = process_pool(workers)
        try:
            return body(pool)
        finally:
            pool.shutdown(wait=True)
    if kind == "thread":
        with ThreadPoolExecutor(max_workers=workers) as threads:
            return body(threads)
    dask = DaskPool(workers)
    try:
        return body(dask.executor)
    finally:
        dask.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=48)
    parser.add_argument("--qubits", type=int, default=200_000)
    parser.add_argument("--trivial", type=int, default=400)
    opts = parser.parse_args()

    versions = package_versions()
    from importlib import metadata

    for name in ("dask", "distributed", "pyarrow"):
        versions[name] = metadata.version(name)
    print("versions:", ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs; load {os.getloadavg()}")
    print(f"seed {SEED}")

    work = run_spec(opts.points, opts.qubits)
    print(f"\n1. speed-up: {work.points} points of qkd run bb84 --qubits {opts.qubits:,}")
    results: dict[tuple[str, int], float] = {}
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for kind in ("process", "dask"):
            for workers in (1, 2):

                def body(pool: Executor, kind: str = kind, workers: int = workers) -> Any:
                    warm(pool, work, workers)
                    return timed_sweep(work, pool, directory, f"{kind}{workers}")

                seconds, table, others = with_pool(kind, workers, body)
                results[kind, workers] = seconds
                tables.append(table)
                print(
                    f"  {kind:<8} {workers} worker(s): {seconds:6.2f} s, "
                    f"{work.points / seconds:5.2f} points/s, {seconds / work.points * 1e3:6.1f} "
                    f"ms per point; {others}"
                )
    assert all(t.equals(tables[0]) for t in tables), "the tables differ"
    print("  all four tables equal (but for wall_s)")
    speedup = {k: results[k, 1] / results[k, 2] for k in ("process", "dask")}
    for kind, s in speedup.items():
        print(f"  speed-up 1 -> 2 workers, {kind}: {s:.2f}x (efficiency {s / 2:.0%})")
    point_s = results["process", 1] / work.points

    trivial = trivial_spec(opts.trivial)
    print(f"\n2. per-point overhead: {trivial.points} keyrate points (plob, ~0.2 ms each)")
    tasks = [PointTask(p.point_id, p.argv) for p in plan_sweep(trivial)]
    execute_point(tasks[0])  # imports
    start = time.perf_counter()
    for task in tasks:
        execute_point(task)
    baseline = time.perf_counter() - start
    print(
        f"  direct loop in this process: {baseline:.3f} s, "
        f"{baseline / len(tasks) * 1e3:.3f} ms per point (the baseline)"
    )
    overhead: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for kind, per_task, label in (
            ("thread", 1, "driver only (one thread here)"),
            ("process", 1, "process pool, 1 worker"),
            ("dask", 1, "Dask LocalCluster, 1 worker"),
            ("dask", PER_TASK, f"the same, {PER_TASK} points per task"),
        ):

            def body(pool: Executor, kind: str = kind, per_task: int = per_task) -> Any:
                warm(pool, trivial, 1)
                name = f"trivial-{kind}-{per_task}"
                return timed_sweep(trivial, pool, directory, name, per_task)

            seconds, _, others = with_pool(kind, 1, body)
            overhead[f"{kind}/{per_task}"] = (seconds - baseline) / len(tasks)
            print(
                f"  {label:<34} {seconds:6.3f} s: overhead "
                f"{overhead[f'{kind}/{per_task}'] * 1e3:6.3f} ms per point; {others}"
            )

    print("\n3. projection: S(N) = min(N, (t + c) / c), c = the Dask overhead per point")
    c = overhead["dask/1"]
    workers = (2, 8, 32, 128, 512)
    print("  t (s per point)" + "".join(f"{n:>9}" for n in workers) + "   (workers)")
    for t in (0.01, 0.1, point_s, 1.0, 10.0):
        print(f"  {t:>15.3f}" + "".join(f"{min(n, (t + c) / c):>8.1f}x" for n in workers))
    print(
        f"  c = {c * 1e3:.2f} ms; t = {point_s:.3f} s is the point of 1., where N = 2 "
        f"measured {speedup['process']:.2f}x (process pool), {speedup['dask']:.2f}x (Dask)"
    )


if __name__ == "__main__":
    main()
