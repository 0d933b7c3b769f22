"""``qkd run --backend fake:/ibm:``, ``--submit-only``, ``qkd resume``: in-process, no network."""

from __future__ import annotations

import json
import re
import stat
import sys

import pytest

from qkd_circuits.cli import main
from qkd_circuits.errors import ConfigError
from qkd_circuits.runner import RunConfig, resume_run, run_config, submit_run


def test_fake_device_run_reports_calibration_beside_the_qber(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = [
        "run",
        "--backend",
        "fake:manila",
        "--qubits",
        "20000",
        "--seed",
        "4",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "shot budget:" in captured.err  # printed before submitting
    assert "device predicts" in captured.out
    report = json.loads(out.read_text())
    info = report["backend_info"]
    assert info["name"] == "fake:manila" and info["error_mitigation"].startswith("none")
    calibration = info["calibration"]
    assert calibration["qubits"] and "predicted_qber" in calibration
    # The measured QBER agrees with the chosen qubits' calibration: within the
    # model's allowance plus 5 binomial standard errors at the predicted rate.
    p = calibration["predicted_qber"]
    se = (p * (1 - p) / report["sifted_bits"]) ** 0.5
    assert abs(report["qber_actual"] - p) <= calibration["qber_model_allowance"] + 5 * se


def test_submit_only_then_resume_finishes_the_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = [
        "run",
        "--backend",
        "fake:manila",
        "--qubits",
        "20000",
        "--seed",
        "8",
        "--eve",
        "intercept-resend=0.2",
        "--submit-only",
        "--run-dir",
        str(run_dir),
    ]
    assert main(argv) == 0
    assert f"qkd resume {run_dir}" in capsys.readouterr().out
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in run_dir.iterdir())
    keys, out = tmp_path / "keys.json", tmp_path / "r.json"
    assert main(["resume", str(run_dir), "--json", str(out), "--keys", str(keys), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert report["qubits"] == 20000 and report["seed"] == 8 and report["eve"]["fraction"] == 0.2
    # Eve on 20% of exchanges adds 0.2/4 = 5% on top of the device's own error.
    device = report["backend_info"]["calibration"]["predicted_qber"]
    expected = 0.05 * (1 - device) + 0.95 * device
    assert abs(report["qber_actual"] - expected) < 0.015
    assert report["eve_agreement"] is not None
    if not report["aborted"]:
        assert json.loads(keys.read_text())["bits"] == report["final_key_bits"]


def test_interrupted_run_is_saved_before_waiting_and_can_be_resumed_once(tmp_path):
    """run_config(run_dir=...) saves the job as soon as it is submitted; an interrupted
    run is finished by resume_run, exactly once."""
    config = RunConfig(backend="fake:manila", qubits=5000, seed=2)

    def interrupt(stage: str) -> None:
        if stage == "sifting":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_config(config, run_dir=tmp_path / "r", on_stage=interrupt)
    assert (tmp_path / "r" / "run.json").exists()
    report = resume_run(tmp_path / "r")
    assert report.sifted_bits > 2000 and report.qber_actual < 0.05
    assert (tmp_path / "r" / "finished.json").exists()
    with pytest.raises(ConfigError, match="distilled once only"):
        resume_run(tmp_path / "r")


def test_a_finished_run_cannot_be_distilled_again(tmp_path, capsys):
    """Two keys from one raw key would share public linear relations: refused."""
    run_dir = tmp_path / "r"
    argv = ["run", "--backend", "fake:manila", "--qubits", "3000", "--run-dir", str(run_dir)]
    assert main([*argv, "--quiet"]) == 0
    assert main(["resume", str(run_dir), "--keys", str(tmp_path / "b.json")]) == 2
    assert "already distilled" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()


def test_run_dirs_of_the_previous_release_still_resume(tmp_path):
    """Format v1 (no checksum, key_length_method) is read; its length statement becomes
    the finite-key 'variable' one."""
    config = RunConfig(backend="fake:manila", qubits=3000, seed=4)
    run_dir = submit_run(config, tmp_path / "old")
    record = json.loads((run_dir / "run.json").read_text())
    record["format_version"] = 1
    record.pop("record_sha256")
    post = record["config"]["postprocessing"]
    post.pop("key_length")
    post["key_length_method"] = "asymptotic"
    (run_dir / "run.json").write_text(json.dumps(record))
    report = resume_run(run_dir)
    assert report.postprocessing["key_length"] == "variable"


def test_run_api_round_trips_its_config():
    config = RunConfig(backend="fake:manila", qubits=10, seed=1, pack=True, max_shots=50)
    assert RunConfig.from_dict(config.to_dict()) == config
    earlier = {k: v for k, v in config.to_dict().items() if k != "max_shots"}
    assert RunConfig.from_dict(earlier).max_shots is None  # a record from before the limit
    with pytest.raises(ConfigError, match="incomplete or malformed"):
        RunConfig.from_dict({"protocol": "bb84"})


def test_submit_run_refuses_aer_and_existing_dirs(tmp_path):
    with pytest.raises(ConfigError, match="needs a device backend"):
        submit_run(RunConfig(qubits=100), tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    with pytest.raises(ConfigError, match="never overwritten"):
        submit_run(RunConfig(backend="fake:manila", qubits=100), tmp_path / "full")
    with pytest.raises(ConfigError, match="cannot be created"):
        submit_run(
            RunConfig(backend="fake:manila", qubits=100), tmp_path / "full" / "something" / "x"
        )
    limited = RunConfig(backend="fake:manila", qubits=100, max_shots=10)
    with pytest.raises(ConfigError, match="--max-shots"):
        submit_run(limited, tmp_path / "limited")
    assert not (tmp_path / "limited").exists()  # created only once the budget has passed


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--backend", "fake:nosuch"], "unknown fake backend 'fake:nosuch'"),
        (["--backend", "gpu"], "unknown backend 'gpu'"),
        (["--backend", "fake:manila", "--noise", "readout=0.1"], "applies to Aer backends only"),
        (["--pack"], "pack applies to device backends"),
        (["--submit-only", "--backend", "fake:manila"], "--submit-only needs --run-dir"),
        (["--submit-only", "--run-dir", "x"], "submit-only needs a device backend"),
        (["--run-dir", "x"], "--run-dir applies to device backends only"),
        (["--max-shots", "100"], "max_shots applies to device backends"),
        (["--max-shots", "0", "--backend", "fake:manila"], "--max-shots"),
        (["--dry-run", "--backend", "fake:manila", "--run-dir", "x"], "--dry-run submits nothing"),
    ],
)
def test_bad_device_options_exit_2_with_one_line(argv, fragment, capsys):
    assert main(["run", "--qubits", "100", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


def test_ibm_without_credentials_fails_at_once_with_how_to_save_an_account(
    no_ibm_account, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--backend", "ibm:least-busy", "--qubits", "2000"]) == 1
    assert not (tmp_path / "runs").exists()  # no empty run directory is left behind
    err = capsys.readouterr().err
    assert "save_account" in err and "QISKIT_IBM_TOKEN" in err
    assert "Traceback" not in err


def test_resume_of_a_missing_run_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["resume", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0]


def test_without_the_ibm_extra_a_device_run_says_what_to_install(monkeypatch, capsys):
    from qkd_circuits.execution import ibm

    monkeypatch.setitem(sys.modules, "qiskit_ibm_runtime", None)  # as if not installed
    ibm._fake_classes.cache_clear()
    try:
        assert main(["run", "--backend", "fake:manila", "--qubits", "100"]) == 2
        err = capsys.readouterr().err
        assert "pip install 'qkd-circuits[ibm]'" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    finally:
        ibm._fake_classes.cache_clear()


def test_dry_run_prints_the_budget_and_submits_nothing(capsys):
    from qkd_circuits.execution import ibm

    before = dict(ibm._SIMULATED_JOBS)
    assert main(["run", "--backend", "fake:torino", "--qubits", "20000", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing was submitted" in out
    assert re.search(r"shot budget: 20000 exchanges in 8 configurations .* capped at 60 s", out)
    assert re.search(r"qubits used: \[\d+\]", out)
    assert before == ibm._SIMULATED_JOBS


def test_max_shots_refuses_a_run_before_submitting(capsys, tmp_path):
    from qkd_circuits.execution import ibm

    before = dict(ibm._SIMULATED_JOBS)
    argv = ["run", "--backend", "fake:manila", "--qubits", "2000", "--max-shots", "500"]
    assert main([*argv, "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "more than the limit of 500 (--max-shots)" in err and "Traceback" not in err
    assert before == ibm._SIMULATED_JOBS and not (tmp_path / "r").exists()
    assert main([*argv, "--dry-run"]) == 2  # the dry run refuses what the run would
    assert (
        main(
            [
                "run",
                "--backend",
                "fake:manila",
                "--qubits",
                "2000",
                "--max-shots",
                "5000",
                "--quiet",
            ]
        )
        == 0
    )


def test_a_device_report_records_usage_calibration_time_and_mode(tmp_path):
    out = tmp_path / "r.json"
    assert (
        main(["run", "--backend", "fake:manila", "--qubits", "2000", "--quiet", "--json", str(out)])
        == 0
    )
    info = json.loads(out.read_text())["backend_info"]
    assert info["execution_mode"] == "job" and info["instance"] is None
    assert info["calibrated_at"].startswith("20")
    assert info["usage"]["qpu_seconds"] is None and "simulated" in info["usage"]["source"]
    assert info["shot_budget"]["max_execution_time"] >= 60
