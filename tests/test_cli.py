"""The ``qkd`` command, tested in-process through ``main(argv)``."""

from __future__ import annotations

import json

import pytest

from qkd_circuits.cli import main


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--qubits", "0"], "'0' is not a positive integer"),
        (["--qubits", "-5"], "'-5' is not a positive integer"),
        (["--qubits", "many"], "'many' is not an integer"),
        (["--noise", "depolarizing=1.5"], "depolarizing=1.5 is outside [0, 1]"),
        (["--noise", "foo=0.1"], "unknown name 'foo'"),
        (["--noise", "depolarizing=0.1,"], "empty item"),
        (["--noise", "depolarizing"], "needs a value"),
        (["--eve", "bar"], "unknown eve spec 'bar'"),
        (["--eve", "intercept-resend=2"], "attack fraction=2.0 is outside [0, 1]"),
        (["--backend", "gpu"], "unknown backend 'gpu'"),
        (["--seed", "-1"], "'-1' is not an integer >= 0"),
        (["--sample-fraction", "1.5"], "outside (0, 1)"),
        (["bb85"], "invalid choice: 'bb85'"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(argv, fragment, capsys):
    assert main(["run", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert fragment in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_json_to_stdout_has_the_documented_fields(capsys):
    assert main(["run", "--qubits", "20000", "--seed", "3", "--json", "-"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    for key in (
        "protocol",
        "qubits",
        "seed",
        "backend",
        "sifted_bits",
        "qber",
        "qber_actual",
        "aborted",
        "abort_reason",
        "timings_s",
        "versions",
    ):
        assert key in report, key
    assert report["protocol"] == "bb84" and report["qubits"] == 20000 and report["seed"] == 3
    assert report["qber_actual"] == 0.0 and report["aborted"] is False
    assert "quantum" in report["timings_s"]
    assert {"qiskit", "qiskit-aer", "numpy"} <= set(report["versions"])
    # With JSON on stdout, the human summary goes to stderr.
    assert "BB84 on aer" in captured.err


def test_summary_plot_and_json_file(tmp_path, capsys):
    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    argv = [
        "run",
        "bb84",
        "--qubits",
        "20000",
        "--seed",
        "1",
        "--noise",
        "depolarizing=0.02,readout=0.01",
        "--eve",
        "intercept-resend",
        "--json",
        str(out_json),
        "--plot",
        str(out_png),
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "ABORTED (qber_above_threshold)" in text and "Eve knows       I(A;E)" in text
    report = json.loads(out_json.read_text())
    assert report["aborted"] is True and report["abort_reason"] == "qber_above_threshold"
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_literal_backend_runs(capsys):
    assert (
        main(["run", "--qubits", "300", "--backend", "aer-literal", "--seed", "2", "--quiet"]) == 0
    )
    assert capsys.readouterr().out == ""


def test_help_exits_0(capsys):
    assert main(["run", "--help"]) == 0
    assert "--qubits" in capsys.readouterr().out


def test_keys_written_0600_and_match_the_report(tmp_path, capsys):
    import stat

    keys, out_json = tmp_path / "keys.json", tmp_path / "r.json"
    argv = [
        "run",
        "--qubits",
        "200000",
        "--noise",
        "depolarizing=0.04",
        "--seed",
        "5",
        "--keys",
        str(keys),
        "--json",
        str(out_json),
        "--reconciliation",
        "cascade:biconf",
    ]
    assert main(argv) == 0
    report = json.loads(out_json.read_text())
    record = json.loads(keys.read_text())
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert record["alice"] == record["bob"] and record["bits"] == report["final_key_bits"] > 0
    assert report["keys_match"] is True and report["reconciliation"]["method"] == "cascade:biconf"
    for field in (
        "final_key_bits",
        "secret_key_rate",
        "leaked_bits",
        "reconciliation",
        "keys_match",
        "auth_key_bits_used",
        "net_key_bits",
    ):
        assert field in report
    assert report["net_key_bits"] == report["final_key_bits"] - report["auth_key_bits_used"]
    assert set(report["leaked_bits"]) >= {"estimation", "reconciliation", "verification"}
    assert "keys match" in capsys.readouterr().out


def test_full_intercept_resend_aborts_and_writes_no_key_file(tmp_path, capsys):
    keys = tmp_path / "keys.json"
    argv = [
        "run",
        "--qubits",
        "50000",
        "--eve",
        "intercept-resend",
        "--seed",
        "5",
        "--keys",
        str(keys),
    ]
    assert main(argv) == 0
    assert not keys.exists()
    assert "not written (aborted)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--reconciliation", "polar"], "unknown reconciliation 'polar'"),
        (["--reconciliation", "cascade:x"], "unknown cascade variant 'x'"),
        (["--eps-sec", "0"], "'0' is outside (0, 1)"),
        (["--eps-cor", "1.5"], "'1.5' is outside (0, 1)"),
        (["--key-length", "infinite"], "unknown key length statement 'infinite'"),
        (["--key-length", "asymptotic"], "never emitted"),
        (["--qber-threshold", "0.6"], "'0.6' is outside [0, 0.5]"),
    ],
)
def test_bad_postprocessing_options(argv, fragment, capsys):
    assert main(["run", "--qubits", "100", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_qber_threshold_option_moves_the_abort(capsys):
    argv = ["run", "--qubits", "20000", "--seed", "3", "--noise", "depolarizing=0.1", "--quiet"]
    assert main([*argv, "--json", "-"]) == 0
    default = json.loads(capsys.readouterr().out)  # QBER 5% is below the default 11%
    assert default["abort_reason"] != "qber_above_threshold" and default["reconciliation"]
    assert main([*argv, "--qber-threshold", "0.03", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["aborted"] and report["abort_reason"] == "qber_above_threshold"
    assert report["qber_threshold"] == 0.03
