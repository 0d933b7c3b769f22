"""Running a sweep's points on any ``concurrent.futures.Executor``.

:func:`execute_point` is what a worker runs: it parses the point's command line with
``qkd``'s parser, runs it with the functions ``qkd run`` (or ``qkd keyrate``) calls and
returns one flat row of figures — lengths, rates and error rates, never a key.
:func:`run_sweep` is the driver: it checks the whole spec, skips the points a previous
run of the sweep finished, submits the others to the executor (a local process pool by
default; a Dask ``distributed`` cluster through ``Client.get_executor()``), writes each
batch of finished rows to the table's parts directory as it arrives and, at the end,
the sorted table (:mod:`qkd_circuits.sweep.table`).

Importing this module imports neither Dask nor pyarrow.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import queue
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qkd_circuits.errors import ConfigError, QKDError
from qkd_circuits.sweep.points import (
    Point,
    check_points,
    expand_points,
    keyrate_inputs_of,
    parse_point_argv,
    run_config_of,
)
from qkd_circuits.sweep.spec import SweepSpec

RESULT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "run": (
        ("reproducible", "bool"),
        ("sifted_bits", "int64"),
        ("sample_bits", "int64"),
        ("qber", "float64"),
        ("qber_actual", "float64"),
        ("final_key_bits", "int64"),
        ("net_key_bits", "int64"),
        ("secret_key_rate", "float64"),
        ("secret_fraction", "float64"),
        ("rate_per", "string"),
        ("aborted", "bool"),
        ("abort_reason", "string"),
        ("reconciliation_efficiency", "float64"),
        ("leaked_bits", "int64"),
        ("pulses", "int64"),
        ("detections", "int64"),
        ("mutual_information_ab", "float64"),
        ("mutual_information_ae", "float64"),
        ("chsh_s", "float64"),
        ("wall_s", "float64"),
    ),
    "keyrate": (
        ("distance_km", "float64"),
        ("key_rate", "float64"),
        ("signal_mu", "float64"),
        ("wall_s", "float64"),
    ),
}
"""The figures of one point, by command: ``(column, arrow type)``. ``qber`` is the
estimate from the disclosed sample, ``qber_actual`` the error rate of the whole sifted
key (a simulation's privilege); ``secret_key_rate`` is per qubit, or per pulse over a
link (``rate_per``); ``secret_fraction`` is final key bits per sifted bit; ``key_rate``
(keyrate) is bits per pulse, inf for the repeaterless bounds at 0 km. A figure a point
does not define (the QBER of a run with no sample, Eve's information without Eve) is
null. ``wall_s`` is the point's time in its worker, the only column that differs
between two runs of a seeded sweep."""

FLUSH_SECONDS = 0.25
"""Finished rows are written at most this long after the previous part (a part file
holds what finished in between)."""

TIMING_COLUMNS = ("wall_s",)
"""Columns that measure time, not the simulation (excluded when comparing tables)."""


class PointFailed(QKDError):
    """A point raised in its worker (not a protocol abort, which is a row).

    Attributes:
        point: The point.
    """

    def __init__(self, point: Point, message: str) -> None:
        super().__init__(message)
        self.point = point


@dataclass(frozen=True, slots=True)
class PointTask:
    """What a worker needs to run a point: its id and its ``qkd`` arguments."""

    point_id: str
    argv: tuple[str, ...]


def execute_point(task: PointTask) -> dict[str, Any]:
    """Run one point and return its row of figures (no key, no secret).

    Runs in a worker: parses ``task.argv`` with ``qkd``'s parser and calls what
    ``qkd run`` (:func:`~qkd_circuits.runner.run_config`) or ``qkd keyrate``
    (:func:`~qkd_circuits.analysis.curves.key_rate_curve`) calls.

    Returns:
        ``{"point_id": ..., **figures}`` with the columns of :data:`RESULT_FIELDS`.

    Raises:
        ConfigError: the point is invalid here (e.g. the worker's memory is too small).
        BackendError: the backend failed.
    """
    start = time.perf_counter()
    args = parse_point_argv(task.argv)
    row = _run_row(args) if task.argv[0] == "run" else _keyrate_row(args)
    row["wall_s"] = time.perf_counter() - start
    return {"point_id": task.point_id, **row}


class TaskFailed(QKDError):
    """A point of a task raised in its worker: its position in the task and the error.

    Pickles by its arguments, so it crosses process and cluster boundaries."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(position, message)
        self.position = position
        self.message = message

    def __str__(self) -> str:
        return self.message


def execute_points(tasks: Sequence[PointTask]) -> list[dict[str, Any]]:
    """Run several points one after the other in one worker task (their rows, in order):
    fewer, longer tasks amortise a scheduler's cost per task.

    Raises:
        TaskFailed: the position of the first point that raised, and its error.
    """
    rows = []
    for position, task in enumerate(tasks):
        try:
            rows.append(execute_point(task))
        except Exception as exc:
            raise TaskFailed(position, f"{type(exc).__name__}: {exc}") from None
    return rows


def _finite(value: object) -> float | None:
    """A float figure, or None when it is undefined (None or NaN)."""
    if value is None:
        return None
    x = float(value)  # type: ignore[arg-type]
    return None if math.isnan(x) else x


def _run_row(args: argparse.Namespace) -> dict[str, Any]:
    from qkd_circuits.runner import run_config

    report = run_config(run_config_of(args))
    rec = report.reconciliation or {}
    eve = report.eve if report.eve.get("attacked") else {}
    return {
        "reproducible": report.reproducible,
        "sifted_bits": report.sifted_bits,
        "sample_bits": report.sample_bits,
        "qber": _finite(report.qber),
        "qber_actual": _finite(report.qber_actual),
        "final_key_bits": report.final_key_bits,
        "net_key_bits": report.net_key_bits,
        "secret_key_rate": _finite(report.secret_key_rate),
        "secret_fraction": report.final_key_bits / report.sifted_bits
        if report.sifted_bits
        else None,
        "rate_per": "qubit" if report.link is None else "pulse",
        "aborted": report.aborted,
        "abort_reason": report.abort_reason,
        "reconciliation_efficiency": _finite(rec.get("efficiency")),
        "leaked_bits": int(sum(report.leaked_bits.values())),
        "pulses": report.pulses,
        "detections": report.detections,
        "mutual_information_ab": _finite(eve.get("mutual_information_ab")),
        "mutual_information_ae": _finite(eve.get("mutual_information_ae")),
        "chsh_s": _finite(report.chsh_s),
    }


def _keyrate_row(args: argparse.Namespace) -> dict[str, Any]:
    from qkd_circuits.analysis.curves import key_rate_curve

    inputs = keyrate_inputs_of(args)
    (point,) = key_rate_curve(
        inputs.link,
        [inputs.distance_km],
        inputs.analysis,
        mu=inputs.mu,
        nu=inputs.nu,
        security=inputs.security,
    )
    return {
        "distance_km": point.distance_km,
        "key_rate": float(point.key_rate),
        "signal_mu": _finite(point.mu),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepOutcome:
    """What :func:`run_sweep` did.

    Attributes:
        table: The table written.
        points: Points of the sweep.
        skipped: Points a previous run had finished (not run again).
        ran: Points run now.
        aborted: Run points (of all) whose protocol aborted (no key; a normal outcome).
        seconds: Wall time of the whole call.
    """

    table: Path
    points: int
    skipped: int
    ran: int
    aborted: int
    seconds: float


def default_executor(workers: int | None = None) -> ProcessPoolExecutor:
    """A local process pool of ``workers`` processes (default: the CPU count), started
    with ``spawn`` (each worker imports the package afresh: no state forked from a
    driver that may be running threads). As with any ``spawn`` pool, a script that
    calls :func:`run_sweep` must do so under ``if __name__ == "__main__":``."""
    count = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")
    return ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"))


def plan_sweep(spec: SweepSpec) -> list[Point]:
    """Every point of ``spec``, each parsed and checked as its run will build it.

    Raises:
        ConfigError: the first bad axis value or point, named.
    """
    points = expand_points(spec)
    check_points(spec, points)
    return points


def run_sweep(
    spec: SweepSpec,
    table: str | Path,
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    points: Sequence[Point] | None = None,
    points_per_task: int = 1,
) -> SweepOutcome:
    """Run every point of ``spec`` not finished yet and write the sorted table.

    Args:
        spec: The sweep.
        table: The Parquet file to write (``.parquet``); finished points are kept in
            ``TABLE.parts/`` as they arrive, and a later call with the same spec and
            table skips them (resume).
        executor: Where points run (any ``concurrent.futures.Executor``); None: a
            process pool of ``workers`` processes, shut down at the end.
        workers: Size of the default process pool (None: the CPU count).
        progress: Show a progress bar on stderr (None: only on a terminal).
        points: The spec's points already planned (:func:`plan_sweep`), or None.
        points_per_task: Consecutive points run by one task (default 1): more amortise
            the executor's cost per task (a few ms on Dask) over short points.

    Raises:
        ConfigError: a bad spec or table path (before anything runs), or another
            sweep writing the same table.
        PointFailed: a point raised; the points finished so far are kept and
            pending ones cancelled, so a rerun resumes.
    """
    from tqdm import tqdm

    from qkd_circuits.sweep.table import SweepStore

    if isinstance(points_per_task, bool) or not isinstance(points_per_task, int):
        raise ConfigError(f"points_per_task must be an integer >= 1, got {points_per_task!r}")
    if points_per_task < 1:
        raise ConfigError(f"points_per_task must be an integer >= 1, got {points_per_task!r}")
    start = time.perf_counter()
    planned = list(plan_sweep(spec) if points is None else points)
    with SweepStore(table) as store:
        finished = store.finished_ids() & {p.point_id for p in planned}
        todo = [p for p in planned if p.point_id not in finished]
        bar = tqdm(
            total=len(planned),
            initial=len(finished),
            unit="point",
            desc="sweep",
            disable=None if progress is None else not progress,
            leave=False,
            file=sys.stderr,
        )
        try:
            if todo:
                own = executor is None
                pool: Executor = default_executor(workers) if executor is None else executor
                try:
                    _drive(pool, spec, todo, store, bar, per_task=points_per_task)
                finally:
                    if own:
                        pool.shutdown(wait=True, cancel_futures=True)
        finally:
            bar.close()
        written = store.consolidate(spec, planned)
    aborted = sum(1 for a in written.column("aborted").to_pylist() if a) if (
        spec.command == "run"
    ) else 0  # fmt: skip
    return SweepOutcome(
        table=Path(table),
        points=len(planned),
        skipped=len(finished),
        ran=len(todo),
        aborted=aborted,
        seconds=time.perf_counter() - start,
    )


def _drive(
    pool: Executor,
    spec: SweepSpec,
    todo: Sequence[Point],
    store: Any,
    bar: Any,
    *,
    per_task: int = 1,
) -> None:
    """Submit ``todo`` to ``pool``, ``per_task`` consecutive points per task; store the
    finished rows in batches as they arrive.

    Every future reports to one queue as it finishes (O(1) per task, however many are
    pending); the rows that finished within :data:`FLUSH_SECONDS` of the last write go
    into one part file, so quick points make few files and a kill loses at most that
    much finished work besides the tasks in flight. The first failure stops the sweep
    (pending tasks are cancelled) after the rows before it are stored."""
    finished: queue.SimpleQueue[Future[list[dict[str, Any]]]] = queue.SimpleQueue()
    pending: dict[Future[list[dict[str, Any]]], Sequence[Point]] = {}
    for first in range(0, len(todo), per_task):
        group = todo[first : first + per_task]
        tasks = tuple(PointTask(p.point_id, p.argv) for p in group)
        future = pool.submit(execute_points, tasks)
        pending[future] = group
        future.add_done_callback(finished.put)
    last_write = time.monotonic()
    batch: list[tuple[Point, dict[str, Any]]] = []
    failure: PointFailed | None = None
    try:
        while pending and failure is None:
            wait_s = max(0.0, FLUSH_SECONDS - (time.monotonic() - last_write))
            done: Future[list[dict[str, Any]]] | None
            try:
                done = finished.get(timeout=wait_s if batch else None)
            except queue.Empty:
                done = None
            if done is not None:
                group = pending.pop(done)
                exc: BaseException | None = (
                    QKDError("cancelled") if done.cancelled() else done.exception()
                )
                if exc is None:
                    batch.extend(zip(group, done.result(), strict=True))
                else:
                    failure = _failure(group, exc)
            due = time.monotonic() - last_write >= FLUSH_SECONDS
            if batch and (due or not pending or failure is not None):
                store.write_part(spec, sorted(batch, key=lambda item: item[0].index))
                bar.update(len(batch))
                batch = []
                last_write = time.monotonic()
        if failure is not None:
            raise failure
    finally:
        for future in pending:
            future.cancel()


def _failure(group: Sequence[Point], exc: BaseException) -> PointFailed:
    """The :class:`PointFailed` of a task that raised ``exc``: the point that raised
    (:class:`TaskFailed`), else the whole task (e.g. its worker died)."""
    if isinstance(exc, TaskFailed) and 0 <= exc.position < len(group):
        point = group[exc.position]
        return PointFailed(point, f"point {point.index} failed ({point.command_line}): {exc}")
    what = (
        f"point {group[0].index}"
        if len(group) == 1
        else f"the task of points {group[0].index}-{group[-1].index}"
    )
    return PointFailed(group[0], f"{what} failed: {type(exc).__name__}: {exc}")
