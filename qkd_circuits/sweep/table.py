"""The sweep's Parquet table and the parts it is streamed to (pyarrow).

While a sweep runs, every batch of finished points is one Parquet file in
``TABLE.parts/`` (a Parquet dataset: ``pyarrow.dataset.dataset("TABLE.parts")`` reads
what is finished so far), written to a temporary name and renamed into place, so a
file there is always whole: killing the sweep at any moment (SIGKILL included) loses
at most the points in flight. A rerun reads the finished point ids and skips them.
At the end the rows of the spec's points are sorted by point index and written to
``TABLE`` (temporary file, fsync, rename), and the parts are compacted into one file.

A row holds the point's index, id, repeat and seed, one column per option the spec
sets (axis or fixed; ``sample-fraction`` becomes ``sample_fraction``), the figures of
:data:`~qkd_circuits.sweep.execute.RESULT_FIELDS` and the ``command_line`` that
reproduces the point alone. Never a key. The table's metadata (``qkd_sweep``) records
the spec, its axes, whether it is reproducible and the package versions.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from qkd_circuits.errors import ConfigError
from qkd_circuits.outputs import check_output_path, write_all
from qkd_circuits.sweep.execute import RESULT_FIELDS
from qkd_circuits.sweep.points import Point
from qkd_circuits.sweep.spec import SweepSpec, Value, normalise_option
from qkd_circuits.versions import package_versions

METADATA_KEY = b"qkd_sweep"
DESCRIPTOR_FIELDS = (
    ("point_index", pa.int64()),
    ("point_id", pa.string()),
    ("repeat", pa.int64()),
    ("seed", pa.int64()),
)
_ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
_PART_PREFIX = "part-"
_COMPACT_PREFIX = "compact-"


def column_name(option: str) -> str:
    """The table column of an option: ``sample-fraction`` -> ``sample_fraction``."""
    return normalise_option(option).replace("-", "_")


def _value_type(values: Sequence[Value | tuple[str, ...]]) -> pa.DataType:
    if all(isinstance(v, tuple) for v in values):
        return pa.list_(pa.string())
    if all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.int64()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pa.float64()
    return pa.string()


def option_columns(spec: SweepSpec) -> list[tuple[str, str, pa.DataType]]:
    """``(column, option, type)`` of every option the spec sets: axes, then fixed."""
    out = [(column_name(n), normalise_option(n), _value_type(values)) for n, values in spec.axes]
    out += [(column_name(n), normalise_option(n), _value_type([v])) for n, v in spec.fixed]
    return out


def result_schema(command: str) -> pa.Schema:
    """``point_id`` and the figures of one point of ``command``."""
    return pa.schema(
        [("point_id", pa.string())] + [(n, _ARROW[t]) for n, t in RESULT_FIELDS[command]]
    )


@functools.lru_cache(maxsize=16)
def table_schema(spec: SweepSpec) -> pa.Schema:
    """The columns of ``spec``'s table, with its ``qkd_sweep`` metadata."""
    fields = [
        *DESCRIPTOR_FIELDS,
        *((c, t) for c, _, t in option_columns(spec)),
        *((n, _ARROW[t]) for n, t in RESULT_FIELDS[spec.command]),
        ("command_line", pa.string()),
    ]
    names = [name for name, _ in fields]
    if len(set(names)) != len(names):  # an option column named like a figure
        raise ConfigError(f"the table of this spec would repeat a column: {names!r}")
    meta = {
        "spec": spec.to_dict(),
        "axes": [column_name(n) for n, _ in spec.axes],
        "axis_values": [list(values) for _, values in spec.axes],
        "reproducible": spec.reproducible,
        "note": (
            f"seeded sweep (seed {spec.seed}): every run is a reproducible simulation; "
            "its command_line reproduces it alone, and its key is no secret (no key is "
            "stored here)"
            if spec.reproducible and spec.command == "run"
            else "unseeded: every run drew its secrets from the OS CSPRNG; no key is stored"
            if spec.command == "run"
            else "key rates from the analytic models (deterministic)"
        ),
        "versions": package_versions(),
    }
    return pa.schema(fields, metadata={METADATA_KEY: json.dumps(meta)})


def point_row(point: Point, spec: SweepSpec) -> dict[str, Any]:
    """The descriptor and option columns of ``point`` (its figures not included)."""
    row: dict[str, Any] = {
        "point_index": point.index,
        "point_id": point.point_id,
        "repeat": point.repeat,
        "seed": point.seed,
    }
    given = dict(point.options)
    for column, option, kind in option_columns(spec):
        value = given[option]
        if isinstance(value, tuple):
            row[column] = list(value)
        elif kind == pa.float64():
            row[column] = float(value)
        else:
            row[column] = value
    row["command_line"] = point.command_line
    return row


def sweep_metadata(table: pa.Table, *, where: str) -> dict[str, Any]:
    """The ``qkd_sweep`` metadata of a sweep table.

    Raises:
        ConfigError: the table has none (not written by ``qkd sweep``).
    """
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ConfigError(f"{where!r} is not a qkd sweep table (no qkd_sweep metadata)")
    meta: dict[str, Any] = json.loads(raw)
    return meta


def read_sweep_table(path: str | Path) -> tuple[pa.Table, dict[str, Any]]:
    """Read a table written by ``qkd sweep`` and its metadata.

    Raises:
        ConfigError: a missing or unreadable file, or not a sweep table.
    """
    where = str(path)
    if not Path(path).is_file():
        raise ConfigError(f"sweep table {where!r} is not a file")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"cannot read sweep table {where!r}: {exc}") from None
    return table, sweep_metadata(table, where=where)


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data: bytes = sink.getvalue().to_pybytes()
    return data


class SweepStore:
    """The table of a sweep and its parts directory, held by one sweep at a time.

    Use as a context manager: entering checks the table path, creates
    ``TABLE.parts/``, takes its lock (released by the OS if the process dies) and
    removes temporary files a killed sweep left.

    Raises:
        ConfigError: a bad table path, or another sweep holding the lock.
    """

    def __init__(self, table: str | Path) -> None:
        self.table = check_output_path(str(table), option="--table", formats=("parquet",))
        self.parts = self.table.with_name(self.table.name + ".parts")
        if self.parts.exists() and not self.parts.is_dir():
            raise ConfigError(f"{str(self.parts)!r} exists and is not a directory")
        self._lock: int | None = None

    def __enter__(self) -> SweepStore:
        try:
            self.parts.mkdir(exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {str(self.parts)!r}: {exc.strerror}") from None
        fd = os.open(self.parts / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"another qkd sweep is writing {str(self.table)!r} (lock on "
                f"{str(self.parts / '.lock')!r}); wait for it or give another --table"
            ) from None
        self._lock = fd
        for directory, prefix in ((self.parts, "."), (self.table.parent, f".{self.table.name}.")):
            for stale in directory.glob(f"{prefix}*.tmp"):
                stale.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def part_files(self) -> list[Path]:
        """The whole part files, sorted by name (temporary files excluded)."""
        return sorted(
            p
            for p in self.parts.glob("*.parquet")
            if p.name.startswith((_PART_PREFIX, _COMPACT_PREFIX))
        )

    def _read(self, path: Path, columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(path, columns=columns)
        except (OSError, pa.ArrowException) as exc:
            raise ConfigError(
                f"cannot read {str(path)!r} ({exc}); qkd sweep renames its parts into place "
                "whole, so this file comes from elsewhere: delete it to recompute its points"
            ) from None

    def finished_ids(self) -> set[str]:
        """Ids of every point stored in the parts."""
        ids: set[str] = set()
        for path in self.part_files():
            ids.update(self._read(path, ["point_id"]).column("point_id").to_pylist())
        return ids

    def write_part(self, spec: SweepSpec, batch: Sequence[tuple[Point, dict[str, Any]]]) -> Path:
        """Write finished points (``(point, figures)``) as one part file, whole or not at all."""
        rows = [{**point_row(point, spec), **figures} for point, figures in batch]
        table = pa.Table.from_pylist(rows, schema=table_schema(spec))
        digest = hashlib.sha256("\n".join(sorted(r["point_id"] for r in rows)).encode())
        path = self.parts / f"{_PART_PREFIX}{digest.hexdigest()[:20]}.parquet"
        write_all([(path, _parquet_bytes(table), 0o644)])
        return path

    def consolidate(self, spec: SweepSpec, points: Sequence[Point]) -> pa.Table:
        """Write ``TABLE``: the rows of ``points`` sorted by point index (the option
        columns from ``spec``, the figures from the parts), then compact the parts.

        Raises:
            ConfigError: a point has no stored row (the sweep is not finished).
        """
        schema = table_schema(spec)
        wanted = {p.point_id for p in points}
        figures: dict[str, dict[str, Any]] = {}
        same_schema: list[tuple[Path, pa.Table]] = []
        names = [n for n, _ in RESULT_FIELDS[spec.command]]
        for path in self.part_files():
            part = self._read(path)
            if part.schema.remove_metadata().equals(schema.remove_metadata()):
                same_schema.append((path, part))
            if not set(names) <= set(part.column_names):
                continue  # a part of another command's sweep
            for row in part.select(["point_id", *names]).to_pylist():
                if row["point_id"] in wanted:
                    figures.setdefault(row.pop("point_id"), row)
        missing = [p for p in points if p.point_id not in figures]
        if missing:
            raise ConfigError(
                f"{len(missing)} of the {len(points)} points have no stored row (first: "
                f"point {missing[0].index}); run the sweep to finish them"
            )
        rows = [{**point_row(p, spec), **figures[p.point_id]} for p in points]
        table = pa.Table.from_pylist(rows, schema=schema)
        write_all([(self.table, _parquet_bytes(table), 0o644)])
        self._compact(same_schema, schema)
        return table

    def _compact(self, parts: list[tuple[Path, pa.Table]], schema: pa.Schema) -> None:
        """Merge the parts of this spec's schema into one file, then delete them. A kill
        between the two leaves rows twice; every reader keeps a point's first row."""
        if len(parts) < 2:
            return
        merged = pa.concat_tables([t.cast(schema) for _, t in parts])
        seen: set[str] = set()
        first = []
        for i, point_id in enumerate(merged.column("point_id").to_pylist()):
            if point_id not in seen:
                seen.add(point_id)
                first.append(i)
        merged = merged.take(first)
        ids = sorted(seen)
        digest = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:20]
        target = self.parts / f"{_COMPACT_PREFIX}{digest}.parquet"
        write_all([(target, _parquet_bytes(merged), 0o644)])
        for path, _ in parts:
            if path != target:
                path.unlink(missing_ok=True)
