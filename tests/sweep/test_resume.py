"""Killing a sweep (SIGKILL) halfway and rerunning it gives the table of an uninterrupted
run; whatever a kill leaves behind (temporary files, a half-done compaction) is harmless."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qkd_circuits.sweep import load_spec, run_sweep
from tests.sweep.conftest import SMALL_SPEC, run_in_process, without_timing, write_spec

pq = pytest.importorskip("pyarrow.parquet")

KILL_SPEC = """\
command = "run"
seed = 2024
repeats = 3

[fixed]
qubits = 50000

[axes]
protocol = ["bb84", "six-state"]
noise = ["depolarizing=0.01", "depolarizing=0.02", "depolarizing=0.03", "depolarizing=0.04"]
"""
"""24 points of 50,000 qubits, run one at a time: a few seconds in all."""


def stored_ids(parts: Path) -> list[str]:
    ids: list[str] = []
    for path in sorted(parts.glob("part-*.parquet")):
        ids += pq.read_table(path, columns=["point_id"]).column("point_id").to_pylist()
    return ids


def test_sigkill_halfway_then_resume_gives_the_uninterrupted_table(tmp_path: Path) -> None:
    (tmp_path / "ref").mkdir()
    reference = run_in_process(KILL_SPEC, tmp_path / "ref")
    spec_path = write_spec(tmp_path, KILL_SPEC, "kill.toml")
    table = tmp_path / "kill.parquet"
    parts = tmp_path / "kill.parquet.parts"
    proc = subprocess.Popen(
        [sys.executable, "-m", "qkd_circuits", "sweep", str(spec_path), "--table", str(table),
         "--workers", "1", "--quiet"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(stored_ids(parts) if parts.is_dir() else []) < 8:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the sweep stored no rows in 120 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):  # its pool worker, orphaned by the kill
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = len(set(stored_ids(parts)))
    assert 8 <= done < 24, done  # killed halfway: some points stored, not all
    assert not table.exists()

    with ThreadPoolExecutor(max_workers=1) as pool:
        outcome = run_sweep(load_spec(spec_path), table, executor=pool, progress=False)
    assert (outcome.skipped, outcome.ran) == (done, 24 - done)
    resumed = pq.read_table(table)
    assert without_timing(resumed).equals(without_timing(reference))
    assert len(list(parts.glob("*.parquet"))) == 1  # compacted


def test_leftovers_of_a_kill_are_harmless(tmp_path: Path, small_reference) -> None:
    spec_path = write_spec(tmp_path)
    table = tmp_path / "sweep.parquet"
    with ThreadPoolExecutor(max_workers=1) as pool:
        run_sweep(load_spec(spec_path), table, executor=pool, progress=False)
    parts = tmp_path / "sweep.parquet.parts"
    # One file holds the rows: the compacted parts, or the only part when every point
    # finished within one flush interval (a fast machine).
    (stored,) = parts.glob("*.parquet")
    # A kill during compaction leaves the rows twice; during a write, temporary files.
    shutil.copy(stored, parts / "part-00000000000000000000.parquet")
    (parts / ".part-1234.parquet.x1y2.tmp").write_bytes(b"PAR1 half a file")
    (tmp_path / ".sweep.parquet.a1b2.tmp").write_bytes(b"PAR1 half a table")
    table.unlink()
    with ThreadPoolExecutor(max_workers=1) as pool:
        outcome = run_sweep(load_spec(spec_path), table, executor=pool, progress=False)
    assert (outcome.skipped, outcome.ran) == (8, 0)
    assert without_timing(pq.read_table(table)).equals(without_timing(small_reference))
    assert sorted(p.name for p in tmp_path.glob(".*.tmp")) == []
    assert [p.name.startswith("compact-") for p in parts.glob("*.parquet")] == [True]


def test_a_reordered_or_grown_spec_reruns_only_new_points(tmp_path: Path, small_reference) -> None:
    first = write_spec(tmp_path)
    table = tmp_path / "sweep.parquet"
    with ThreadPoolExecutor(max_workers=1) as pool:
        run_sweep(load_spec(first), table, executor=pool, progress=False)
    grown = SMALL_SPEC.replace(
        'noise = ["depolarizing=0.01", "depolarizing=0.04"]',
        'noise = ["depolarizing=0.04", "depolarizing=0.02", "depolarizing=0.01"]',
    ).replace('protocol = ["bb84", "six-state"]', 'protocol = ["six-state", "bb84"]')
    with ThreadPoolExecutor(max_workers=1) as pool:
        outcome = run_sweep(load_spec(write_spec(tmp_path, grown)), table, executor=pool)
    assert (outcome.points, outcome.skipped, outcome.ran) == (12, 8, 4)
    grown_rows = without_timing(pq.read_table(table)).to_pylist()
    assert [r["point_index"] for r in grown_rows] == list(range(12))
    assert grown_rows[0]["protocol"] == "six-state" and grown_rows[0]["noise"].endswith("0.04")
    rows = {r["point_id"]: r for r in grown_rows}
    for old in without_timing(small_reference).to_pylist():
        new = rows[old["point_id"]]
        assert {k: v for k, v in new.items() if k != "point_index"} == {
            k: v for k, v in old.items() if k != "point_index"
        }
