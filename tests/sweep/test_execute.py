"""Running a sweep: the same table on a Dask LocalCluster, a process pool, a Dask
scheduler and in this process; a point reproduces alone; a failing point keeps what
finished; no key reaches the table."""

from __future__ import annotations

import json
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qkd_circuits.cli import main
from qkd_circuits.errors import ConfigError
from qkd_circuits.sweep import PointFailed, load_spec, run_sweep
from qkd_circuits.sweep import execute as execute_module
from qkd_circuits.sweep.execute import RESULT_FIELDS
from tests.sweep.conftest import SMALL_SPEC, without_timing, write_spec

pq = pytest.importorskip("pyarrow.parquet")


def test_dask_local_cluster_and_process_pool_give_identical_tables(
    tmp_path: Path, small_reference, capsys
) -> None:
    pytest.importorskip("distributed")
    spec = write_spec(tmp_path)
    dask_table, pool_table = tmp_path / "dask.parquet", tmp_path / "pool.parquet"
    assert main(["sweep", str(spec), "--table", str(dask_table), "--dask-local", "2"]) == 0
    out = capsys.readouterr().out
    assert "8 points of qkd run" in out and "Dask LocalCluster of 2 processes" in out
    assert "seed 11: every point is a reproducible simulation" in out
    assert main(["sweep", str(spec), "--table", str(pool_table), "--workers", "2"]) == 0
    dask, pool = pq.read_table(dask_table), pq.read_table(pool_table)
    assert dask.num_rows == 8
    assert without_timing(dask).equals(without_timing(pool))
    assert without_timing(dask).equals(without_timing(small_reference))
    assert dask.column("point_index").to_pylist() == list(range(8))
    # The seeds differ from point to point, and so do the runs.
    assert len(set(dask.column("seed").to_pylist())) == 8
    assert len(set(dask.column("final_key_bits").to_pylist())) > 1


def test_a_dask_scheduler_address_runs_the_same_sweep(tmp_path: Path, small_reference) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        table = tmp_path / "scheduler.parquet"
        argv = ["sweep", str(write_spec(tmp_path)), "--table", str(table), "--quiet"]
        assert main([*argv, "--scheduler", cluster.scheduler_address]) == 0
    assert without_timing(pq.read_table(table)).equals(without_timing(small_reference))


def test_a_point_reproduces_alone_from_its_command_line(tmp_path: Path, small_reference) -> None:
    row = small_reference.slice(5, 1).to_pylist()[0]
    argv = shlex.split(row["command_line"])
    assert argv[0] == "qkd" and f"--seed={row['seed']}" in argv
    report_path = tmp_path / "point.json"
    assert main([*argv[1:], "--json", str(report_path), "--quiet"]) == 0
    report = json.loads(report_path.read_text())
    assert report["reproducible"] is True and report["seed"] == row["seed"]
    for name in ("sifted_bits", "qber", "qber_actual", "final_key_bits", "aborted"):
        assert report[name] == row[name], name


def test_the_table_holds_figures_and_no_key(small_reference) -> None:
    names = small_reference.column_names
    figures = [n for n, _ in RESULT_FIELDS["run"]]
    assert names == [
        "point_index", "point_id", "repeat", "seed", "protocol", "noise", "qubits",
        *figures, "command_line",
    ]  # fmt: skip
    assert not any("key_alice" in n or "key_bob" in n or n == "keys" for n in names)
    meta = json.loads(small_reference.schema.metadata[b"qkd_sweep"])
    assert meta["reproducible"] is True and meta["axes"] == ["protocol", "noise"]
    assert "reproducible simulation" in meta["note"] and "qkd-circuits" in meta["versions"]
    rows = small_reference.to_pylist()
    assert all(r["reproducible"] for r in rows)
    assert all(r["aborted"] == (r["final_key_bits"] == 0) for r in rows)
    # 1% depolarizing gives a QBER near 2/3 x 1% (the X- and Z-basis flips).
    low = [r["qber_actual"] for r in rows if r["noise"] == "depolarizing=0.01"]
    assert all(0.002 < q < 0.015 for q in low)


def test_a_failing_point_keeps_the_finished_ones_and_a_rerun_resumes(
    tmp_path: Path, small_reference, monkeypatch
) -> None:
    spec = load_spec(write_spec(tmp_path))
    table = tmp_path / "t.parquet"
    original = execute_module._run_row
    calls: list[str] = []

    def flaky(args):  # type: ignore[no-untyped-def]
        calls.append(args.protocol)
        if args.protocol == "six-state":
            raise RuntimeError("worker lost")
        return original(args)

    monkeypatch.setattr(execute_module, "_run_row", flaky)
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(PointFailed) as info:
        run_sweep(spec, table, executor=pool, progress=False)
    assert "point 4 failed" in str(info.value) and "RuntimeError: worker lost" in str(info.value)
    assert "qkd run six-state" in str(info.value)
    assert not table.exists()
    assert calls[:4] == ["bb84"] * 4
    monkeypatch.setattr(execute_module, "_run_row", original)
    with ThreadPoolExecutor(max_workers=1) as pool:
        outcome = run_sweep(spec, table, executor=pool, progress=False)
    assert (outcome.skipped, outcome.ran, outcome.points) == (4, 4, 8)
    assert without_timing(pq.read_table(table)).equals(without_timing(small_reference))


def test_cli_sweep_dry_run_and_bad_inputs(tmp_path: Path, capsys) -> None:
    spec = write_spec(tmp_path)
    assert main(["sweep", str(spec), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "8 points of qkd run: 4 configurations" in out and "first point: qkd run bb84" in out
    assert not (tmp_path / "sweep.parquet").exists()
    bad = write_spec(tmp_path, SMALL_SPEC.replace('"depolarizing=0.04"', '"depolarising=0.04"'))
    assert main(["sweep", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "axis 'noise' value 'depolarising=0.04'" in err and "unknown name 'depolarising'" in err
    assert main(["sweep", str(spec), "--table", str(tmp_path / "t.csv")]) == 2
    assert "unknown format '.csv'" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--workers", "2", "--dask-local", "2"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_second_sweep_on_the_same_table_is_refused(tmp_path: Path) -> None:
    from qkd_circuits.sweep.table import SweepStore

    with SweepStore(tmp_path / "t.parquet"), pytest.raises(ConfigError, match="another qkd"):
        SweepStore(tmp_path / "t.parquet").__enter__()


def test_an_unseeded_sweep_records_no_seed_and_says_so(tmp_path: Path) -> None:
    text = SMALL_SPEC.replace("seed = 11\n", "").replace("repeats = 2", "repeats = 1")
    text = text.replace('protocol = ["bb84", "six-state"]', 'protocol = ["bb84"]')
    spec = load_spec(write_spec(tmp_path, text))
    table = tmp_path / "unseeded.parquet"
    with ThreadPoolExecutor(max_workers=1) as pool:
        run_sweep(spec, table, executor=pool, progress=False)
    result = pq.read_table(table)
    assert result.column("seed").to_pylist() == [None, None]
    assert result.column("reproducible").to_pylist() == [False, False]
    assert "--seed" not in " ".join(result.column("command_line").to_pylist())
    meta = json.loads(result.schema.metadata[b"qkd_sweep"])
    assert meta["reproducible"] is False and "OS CSPRNG" in meta["note"]


def test_a_keyrate_sweep_gives_qkd_keyrates_numbers(tmp_path: Path) -> None:
    text = (
        'command = "keyrate"\n[fixed]\nparams = "gys"\n'
        '[axes]\nanalysis = ["vacuum-weak", "plob"]\ndistances = [0, 50]\n'
    )
    spec = load_spec(write_spec(tmp_path, text))
    table = tmp_path / "keyrate.parquet"
    with ThreadPoolExecutor(max_workers=1) as pool:
        run_sweep(spec, table, executor=pool, progress=False)
    rows = pq.read_table(table).to_pylist()
    rows_json = tmp_path / "rows.json"
    argv = ["keyrate", "--params", "gys", "--distances", "0,50"]
    assert main([*argv, "--analysis", "vacuum-weak,plob", "--json", str(rows_json)]) == 0
    expected = {
        (r["analysis"], r["distance_km"]): r["key_rate"] for r in json.loads(rows_json.read_text())
    }
    assert len(rows) == 4
    for row in rows:
        want = expected[row["analysis"], row["distance_km"]]
        assert row["key_rate"] == (float("inf") if want is None else want)
    assert "seed" in rows[0] and rows[0]["seed"] is None


def test_several_points_per_task_give_the_same_table_and_name_a_failing_point(
    tmp_path: Path, small_reference, monkeypatch
) -> None:
    spec = load_spec(write_spec(tmp_path))
    grouped = tmp_path / "grouped.parquet"
    with ThreadPoolExecutor(max_workers=2) as pool:
        run_sweep(spec, grouped, executor=pool, progress=False, points_per_task=3)
    assert without_timing(pq.read_table(grouped)).equals(without_timing(small_reference))

    original = execute_module._run_row

    def fails_on_point_4(args):  # type: ignore[no-untyped-def]
        if args.protocol == "six-state" and args.noise.depolarizing == 0.01:
            raise RuntimeError("worker lost")
        return original(args)

    monkeypatch.setattr(execute_module, "_run_row", fails_on_point_4)
    table = tmp_path / "t.parquet"
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(PointFailed) as info:
        run_sweep(spec, table, executor=pool, progress=False, points_per_task=3)
    assert str(info.value).startswith("point 4 failed (qkd run six-state")
    assert info.value.point.index == 4
    monkeypatch.setattr(execute_module, "_run_row", original)
    with ThreadPoolExecutor(max_workers=1) as pool:
        outcome = run_sweep(spec, table, executor=pool, progress=False, points_per_task=3)
    assert (outcome.skipped, outcome.ran) == (3, 5)  # the task of points 3-5 ran again
    with pytest.raises(ConfigError, match="points_per_task must be an integer >= 1, got 0"):
        run_sweep(spec, table, points_per_task=0)
