"""Shared helpers of the sweep tests: small specs and a reference table computed in
this process (a one-thread executor), against which every other way of running a sweep
is compared."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")

SMALL_SPEC = """\
command = "run"
seed = 11
repeats = 2

[fixed]
qubits = 20000

[axes]
protocol = ["bb84", "six-state"]
noise = ["depolarizing=0.01", "depolarizing=0.04"]
"""
"""8 points of 20,000 qubits (about 0.1 s each)."""


def write_spec(directory: Path, text: str = SMALL_SPEC, name: str = "sweep.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def without_timing(table):  # type: ignore[no-untyped-def]
    """The table without its timing columns (the only ones two runs may differ in)."""
    from qkd_circuits.sweep.execute import TIMING_COLUMNS

    return table.drop_columns(list(TIMING_COLUMNS))


def run_in_process(spec_text: str, directory: Path, *, name: str = "ref"):  # type: ignore[no-untyped-def]
    """Run a sweep on a one-thread executor in this process; return its table."""
    import pyarrow.parquet as pq

    from qkd_circuits.sweep import load_spec, run_sweep

    spec = load_spec(write_spec(directory, spec_text, f"{name}.toml"))
    table = directory / f"{name}.parquet"
    with ThreadPoolExecutor(max_workers=1) as pool:
        run_sweep(spec, table, executor=pool, progress=False)
    return pq.read_table(table)


@pytest.fixture(scope="session")
def small_reference(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """SMALL_SPEC's table, run in this process."""
    return run_in_process(SMALL_SPEC, tmp_path_factory.mktemp("reference"))
