"""``qkd sweep SPEC.toml`` and ``qkd sweep-plot TABLE``: ``add_parser`` and the handlers.

Importing this module imports neither Dask nor pyarrow nor matplotlib: each handler
imports what it needs, so ``qkd --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from qkd_circuits.errors import ConfigError

_EPILOG = """\
a spec (TOML): the command its points run, the options they share, the axes whose
product makes them, the repeats of each configuration and the sweep's seed:

  command = "run"            # or "keyrate" (one analysis at one distance per point)
  seed = 7                   # every point gets its own seed from it (SeedSequence)
  repeats = 3

  [fixed]
  qubits = 20000

  [axes]
  eve = ["none", "intercept-resend=0.2"]
  noise = ["depolarizing=0.01", "depolarizing=0.03"]

options are the command's long options without '--' (sample-fraction = 0.2); a flag
takes true/false. Every value is parsed by the command's own parser before anything
runs. Finished points are stored in TABLE.parts/ as they arrive: rerun the same
command after an interruption and it skips them.

  qkd sweep sweep.toml --table sweep.parquet              # local process pool
  qkd sweep sweep.toml --table sweep.parquet --dask-local 2
  qkd sweep sweep.toml --table sweep.parquet --scheduler tcp://host:8786
  qkd sweep-plot sweep.parquet --out plots
"""

_CHECKED_VERSIONS = ("qkd-circuits", "qiskit", "qiskit-aer", "numpy", "scipy")
"""Packages a Dask cluster's workers must have at the driver's versions (a seeded
point reproduces only with them)."""


def _need(*modules: str) -> None:
    missing = []
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            missing.append(module.split(".")[0])
    if missing:
        raise ConfigError(
            f"qkd sweep needs {', '.join(missing)}: pip install 'qkd-circuits[sweep]'"
        )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer (>= 1)")
    return value


def add_parser(subparsers: Any) -> None:
    """Register ``sweep`` and ``sweep-plot`` on ``qkd``'s subparsers (``handler`` defaults)."""
    p = subparsers.add_parser(
        "sweep",
        help="run every point of a parameter sweep (a TOML spec) on a process pool or "
        "a Dask cluster, into a Parquet table",
        description="Runs every point of a sweep spec, each one qkd run (or qkd keyrate) "
        "with its own seed, on a local process pool (default), a Dask LocalCluster "
        "(--dask-local N) or a Dask cluster (--scheduler ADDRESS), and writes one row "
        "per point to a Parquet table, sorted by point. Resumable.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", metavar="SPEC.toml", help="the sweep spec")
    p.add_argument(
        "--table",
        metavar="PATH",
        help="the Parquet table to write (.parquet; default: SPEC with .parquet); finished "
        "points are kept in PATH.parts/",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_count,
        metavar="N",
        help="processes of the local pool (default: the CPU count)",
    )
    where.add_argument(
        "--dask-local",
        type=_count,
        metavar="N",
        help="run on a Dask LocalCluster of N worker processes (one thread each)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786); "
        "its workers need qkd-circuits at this machine's versions",
    )
    p.add_argument(
        "--points-per-task",
        type=_count,
        default=1,
        metavar="K",
        help="run K consecutive points per task (default 1): amortises the executor's "
        "cost per task (a few ms on Dask) over short points; a killed sweep loses at "
        "most the tasks in flight",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check every point and print the plan without running anything",
    )
    p.add_argument("--quiet", action="store_true", help="no summary or progress bar")
    p.set_defaults(handler=cmd_sweep)

    q = subparsers.add_parser(
        "sweep-plot",
        help="draw a sweep table's figures: QBER and key rate against each axis",
        description="For each axis of the sweep, one figure of the QBER and the secret key "
        "rate (keyrate sweeps: the key rate) against it, one line per combination of the "
        "other axes, means over the repeats with standard-error bars.",
    )
    q.add_argument("table", metavar="TABLE", help="a table written by qkd sweep")
    q.add_argument(
        "--out",
        metavar="DIR",
        help="directory for the figures (created; default: TABLE's name with -plots)",
    )
    q.add_argument(
        "--format", choices=("png", "pdf", "svg"), default="png", help="image format (png)"
    )
    q.set_defaults(handler=cmd_sweep_plot)


def _describe(spec: Any, where: str) -> list[str]:
    from qkd_circuits.sweep.points import normalise_option

    axes = " x ".join(f"{normalise_option(n)} ({len(v)})" for n, v in spec.axes)
    lines = [
        f"{spec.points:,} points of qkd {spec.command}: {spec.configurations:,} "
        f"configurations ({axes}) x {spec.repeats} repeat{'s' if spec.repeats != 1 else ''}, "
        f"on {where}"
    ]
    if spec.command == "run":
        lines.append(
            f"seed {spec.seed}: every point is a reproducible simulation from its own seed "
            "(in the table, with the command line that reruns it alone); its keys are no "
            "secret, and no key is stored"
            if spec.reproducible
            else "unseeded: every run draws its secrets from the OS CSPRNG (not reproducible)"
        )
    return lines


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run ``qkd sweep``; return the exit status (1 when a point failed)."""
    from qkd_circuits.outputs import check_output_path
    from qkd_circuits.sweep.execute import PointFailed, default_executor, plan_sweep, run_sweep
    from qkd_circuits.sweep.spec import load_spec

    spec = load_spec(args.spec)
    table = args.table or str(Path(args.spec).with_suffix(".parquet"))
    check_output_path(table, option="--table", formats=("parquet",))
    _need("pyarrow", *(("dask.distributed",) if args.scheduler or args.dask_local else ()))
    points = plan_sweep(spec)  # every point parsed and checked: a bad value costs a second
    if args.scheduler:
        where = f"the Dask cluster at {args.scheduler}"
    elif args.dask_local:
        where = f"a Dask LocalCluster of {args.dask_local} processes"
    else:
        where = f"a local pool of {args.workers or os.cpu_count() or 1} processes"
    out = sys.stdout
    if not args.quiet or args.dry_run:
        for line in _describe(spec, where):
            print(line, file=out)
    if args.dry_run:
        print(f"first point: {points[0].command_line}", file=out)
        print(f"table: {table} (nothing run: --dry-run)", file=out)
        return 0
    with ExitStack() as stack:
        if args.scheduler or args.dask_local:
            client = stack.enter_context(_dask_client(args))
            executor: Any = client.get_executor(pure=False)
        else:
            executor = default_executor(args.workers)
            stack.callback(executor.shutdown, wait=True, cancel_futures=True)
        try:
            outcome = run_sweep(
                spec,
                table,
                executor=executor,
                points=points,
                points_per_task=args.points_per_task,
                progress=False if args.quiet else None,
            )
        except PointFailed as exc:
            print(f"qkd sweep: {exc}", file=sys.stderr)
            print(
                f"qkd sweep: the finished points are kept in {table}.parts/; fix the cause "
                "and rerun the same command to resume",
                file=sys.stderr,
            )
            return 1
    if not args.quiet:
        aborted = f"; {outcome.aborted:,} aborted (no key: a normal outcome)" if (
            spec.command == "run"
        ) else ""  # fmt: skip
        print(
            f"{outcome.points:,} points: {outcome.ran:,} run now, {outcome.skipped:,} "
            f"finished before{aborted}; {outcome.seconds:.1f} s",
            file=out,
        )
        print(f"wrote {table} ({outcome.points:,} rows; parts in {table}.parts/)", file=out)
    return 0


class _dask_client:
    """A Dask ``Client``: of a new LocalCluster (``--dask-local N``) or connected to
    ``--scheduler`` (whose workers' versions are checked), closed on exit."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stack = ExitStack()

    def __enter__(self) -> Any:
        from distributed import Client

        args = self.args
        try:
            if args.dask_local:
                cluster = self.stack.enter_context(local_cluster(args.dask_local))
                client = self.stack.enter_context(Client(cluster))
            else:
                try:
                    client = self.stack.enter_context(Client(args.scheduler, timeout=30))
                except OSError as exc:
                    raise ConfigError(
                        f"--scheduler {args.scheduler!r}: cannot connect ({exc})"
                    ) from None
                _check_worker_versions(client, args.scheduler)
        except BaseException:
            self.stack.close()
            raise
        return client

    def __exit__(self, *exc: object) -> None:
        self.stack.close()


def local_cluster(workers: int) -> Any:
    """A Dask ``LocalCluster`` of ``workers`` processes of one thread each, without a
    dashboard, started with Dask's worker environment (one OpenMP/BLAS thread per
    worker) less its ``MALLOC_TRIM_THRESHOLD_=65536``: that setting makes glibc map and
    unmap every large array afresh, and made a 200,000-qubit point about a quarter
    slower here (benchmarks/README.md)."""
    import dask
    from distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # a point's error reaches its future, and
        )  # the table; the workers' log noise (e.g. heartbeats racing close) does not


def _check_worker_versions(client: Any, address: str) -> None:
    """Refuse a cluster whose workers lack qkd-circuits or run other versions of it or
    of what a run depends on (a seeded point reproduces only with the same versions)."""
    from qkd_circuits.versions import package_versions

    here = package_versions()
    try:
        theirs = client.run(package_versions)
    except Exception as exc:
        raise ConfigError(
            f"the workers of {address!r} cannot run qkd-circuits ({type(exc).__name__}: "
            f"{exc}); install qkd-circuits[sweep] on every worker"
        ) from None
    if not theirs:
        raise ConfigError(f"the Dask cluster at {address!r} has no workers")
    for worker, versions in sorted(theirs.items()):
        for name in _CHECKED_VERSIONS:
            if versions.get(name) != here.get(name):
                raise ConfigError(
                    f"worker {worker} has {name} {versions.get(name)!r}, this machine "
                    f"{here.get(name)!r}: install the same versions on every worker"
                )


def cmd_sweep_plot(args: argparse.Namespace) -> int:
    """Run ``qkd sweep-plot``: write one figure per axis; return the exit status."""
    table_path = Path(args.table)
    if not table_path.is_file():
        raise ConfigError(f"sweep table {args.table!r} is not a file")
    out = Path(args.out) if args.out else table_path.with_name(table_path.stem + "-plots")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} exists and is not a directory")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"--out {str(out)!r}: directory {str(parent)!r} does not exist")
    _need("pyarrow")
    from qkd_circuits.outputs import write_all
    from qkd_circuits.sweep.plot import render_sweep_figures
    from qkd_circuits.sweep.table import read_sweep_table

    table, meta = read_sweep_table(table_path)
    figures = render_sweep_figures(table, meta, fmt=args.format)
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --out {str(out)!r}: {exc.strerror}") from None
    written = write_all([(out / name, data, 0o644) for name, data in figures])
    for path in written:
        print(f"wrote {path}")
    return 0
