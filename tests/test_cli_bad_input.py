"""The bad-input catalogue: every mistake exits 2 with one line, before any work, leaving nothing.

Each case is a command a user could type. It must end with status 2 and exactly
one line on stderr that names the bad value (the fragment given here) and says
what is allowed; no traceback, and no file left in the working directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from qkd_circuits.cli import main

RUN_CASES: list[tuple[list[str], str]] = [
    (["--distance", "-1"], "'-1'"),
    (["--distance", "abc"], "'abc'"),
    (["--distance", "10", "--source", "laser"], "unknown source 'laser'"),
    (["--distance", "10", "--source", "wcp:mu=0"], "got '0'"),
    (["--source", "wcp"], "--source describe a link: give its --distance KM"),
    (["--distance", "10", "--decoy", "0.1"], "--decoy applies to decoy-state protocols, not bb84"),
    (["decoy-bb84"], "decoy-bb84 runs over a link: give its distance"),
    (["decoy-bb84", "--distance", "10", "--decoy", "0.6"], "mu1 > mu2 + mu3"),
    (["decoy-bb84", "--distance", "10", "--decoy", "x"], "'x' is not a number"),
    (["decoy-bb84", "--distance", "10", "--decoy", "0.2,0.1,0.05"], "one or two intensities"),
    (["--distance", "10", "--link", "nosuch"], "'nosuch'"),
    (["--distance", "10", "--link", "lim2014"], "afterpulsing is not simulated"),
    (["--eve", "pns"], "pns splits the photons"),
    (["--distance", "10", "--eve", "pns"], "pns needs multi-photon pulses"),
    (["--distance", "10", "--eve", "cloner=0.1"], "on a link, --eve takes none or pns"),
    (["--distance", "10", "--backend", "aer-shots"], "backend 'aer', not 'aer-shots'"),
    (["six-state", "--distance", "10"], "--distance applies to protocols run over a link"),
    (["--distance", "10", "--noise", "misalignment=0.01"], "the link sets the misalignment"),
    (["--distance", "10", "--qubits", "10000000000000"], "detections need about"),
    (["--qubits", "0"], "'0'"),
    (["--qubits", "-5"], "'-5'"),
    (["--qubits", "abc"], "'abc'"),
    (["--qubits", "1.5"], "'1.5'"),
    (["--qubits", "10^9"], "'10^9'"),
    (["--qubits", "1000000000000"], "1,000,000,000,000 qubits"),
    (["--noise", ""], "empty noise spec"),
    (["--noise", "depolarizing"], "depolarizing"),
    (["--noise", "depolarizing=2"], "2"),
    (["--noise", "magic=0.1"], "magic"),
    (["--noise", "depolarizing=x"], "'x'"),
    (["--noise", ","], "','"),
    (["--eve", "magic"], "'magic'"),
    (["--eve", "intercept-resend=1.5"], "1.5"),
    (["--eve", "intercept-resend=x"], "'x'"),
    (["--eve", ""], "''"),
    (["--eve", "cloner"], "cloner=D"),
    (["--eve", "cloner=0.7"], "0.7"),
    (["--eve", "intercept-resend:basis=y"], "'y'"),
    (["--eve", "cloner=0.1:basis=z"], "'basis=z'"),
    (["--seed", "-1"], "'-1'"),
    (["--seed", "x"], "'x'"),
    (["--backend", "magic"], "'magic'"),
    (["--backend", "fake:nosuch"], "nosuch"),
    (["--backend", "aer", "--pack"], "'aer'"),
    (["--backend", "fake:manila", "--noise", "depolarizing=0.1"], "depolarizing=0.1"),
    (["--sample-fraction", "0"], "'0'"),
    (["--sample-fraction", "1"], "'1'"),
    (["--sample-fraction", "x"], "'x'"),
    (["--qber-threshold", "0.6"], "'0.6'"),
    (["--qber-threshold", "-0.1"], "'-0.1'"),
    (["--reconciliation", "polar"], "'polar'"),
    (["--reconciliation", "cascade:"], "'cascade:'"),
    (["--reconciliation", "cascade:fast"], "'fast'"),
    (["--key-length", "asymptotic"], "'asymptotic'"),
    (["--key-length", "magic"], "'magic'"),
    (["--eps-sec", "0"], "'0'"),
    (["--eps-sec", "-1e-10"], "'-1e-10'"),
    (["--eps-sec", "1"], "'1'"),
    (["--eps-cor", "1.5"], "'1.5'"),
    (["--eps-cor", "-1e-5"], "'-1e-5'"),
    (["--json", ""], "--json"),
    (["--json", "/proc/x"], "'/proc/x'"),
    (["--json", "."], "'.'"),
    (["--json", "missing/dir/r.json"], "'missing/dir/r.json'"),
    (["--plot", "out.jpg"], "'.jpg'"),
    (["--plot", "out"], "'out'"),
    (["--plot", ""], "--plot"),
    (["--keys", ""], "--keys"),
    (["--keys", "."], "'.'"),
    (["--keys", "k.json", "--json", "k.json"], "'k.json'"),
    (["--plot", "p.png", "--json", "p.png"], "'p.png'"),
    (["--keys", "/proc/keys.json"], "'/proc/keys.json'"),
    (["--nosie", "x"], "'--nosie'"),
    (["--qbits", "5"], "'--qbits'"),
    (["--run-dir", "x"], "'aer'"),
    (["--submit-only"], "--run-dir"),
    (["--submit-only", "--run-dir", "x"], "'aer'"),
    (["bb84", "extra"], "extra"),
    (["bb85"], "'bb85'"),
    (["--timeout", "5"], "'--timeout'"),
]


@pytest.fixture
def in_empty_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err and "error" in lines[0]
    return lines[0]


@pytest.mark.parametrize(("argv", "fragment"), RUN_CASES)
def test_run_refuses_bad_input(argv, fragment, in_empty_dir, capsys) -> None:
    assert main(["run", "--qubits", "2000", "--quiet", *argv]) == 2
    assert fragment in _one_error_line(capsys)
    assert list(in_empty_dir.iterdir()) == []  # nothing left behind


KEYRATE_CASES: list[tuple[list[str], str]] = [
    (["--analysis", "gllp,"], "'gllp,'"),
    (["--analysis", "finite:1.5"], "1.5"),
    (["--analysis", "magic"], "'magic'"),
    (["--distances", "5:1:1"], "5:1:1"),
    (["--mu", "-1"], "-1"),
    (["--params", "nosuch"], "nosuch"),
    (["--json", "/proc/x.json"], "/proc/x.json"),
]


@pytest.mark.parametrize(("argv", "fragment"), KEYRATE_CASES)
def test_keyrate_refuses_bad_input(argv, fragment, in_empty_dir, capsys) -> None:
    assert main(["keyrate", *argv]) == 2
    assert fragment in _one_error_line(capsys)
    assert list(in_empty_dir.iterdir()) == []


COMPARE_CASES: list[tuple[list[str], str]] = [
    (["--protocols", ""], "--protocols ''"),
    (["--protocols", "bb84,"], "'bb84,'"),
    (["--protocols", "bb84,bb85"], "'bb85'"),
    (["--protocols", "bb84,bb84"], "bb84 more than once"),
    (["--qubits", "0"], "'0'"),
    (["--noise", "depolarizing=2"], "2"),
    (["--eve", "magic"], "'magic'"),
    (["--backend", "magic"], "'magic'"),
    (["--json", "/proc/x.json"], "'/proc/x.json'"),
    (["--plot", "c.gif"], "'.gif'"),
    (["--plot", "c.png", "--json", "c.png"], "'c.png'"),
    (["--qubits", "1000000000000"], "1,000,000,000,000 qubits"),
]


@pytest.mark.parametrize(("argv", "fragment"), COMPARE_CASES)
def test_compare_refuses_bad_input(argv, fragment, in_empty_dir, capsys) -> None:
    assert main(["compare", "--qubits", "2000", "--quiet", *argv]) == 2
    assert fragment in _one_error_line(capsys)
    assert list(in_empty_dir.iterdir()) == []


ATTACK_CURVE_CASES: list[tuple[list[str], str]] = [
    (["--attack", "magic"], "'magic'"),
    (["--attack", "cloner=0.1"], "'cloner=0.1'"),
    (["--attack", "intercept-resend:basis=y"], "'y'"),
    (["--attack", "cloner:fraction=0.5"], "takes no options"),
    (["--qubits", "1"], "at least 1,000 qubits per point for a measured QBER and I_AE, got 1"),
    (["--protocol", "bb85"], "'bb85'"),
    (["--points", "1"], "'1'"),
    (["--qubits", "0"], "'0'"),
    (["--noise", "depolarizing=2"], "2"),
    (["--plot", "c.gif"], "'.gif'"),
    (["--json", "/proc/x.json"], "'/proc/x.json'"),
    (["--qubits", "1000000000000"], "1,000,000,000,000 qubits"),
]


@pytest.mark.parametrize(("argv", "fragment"), ATTACK_CURVE_CASES)
def test_attack_curve_refuses_bad_input(argv, fragment, in_empty_dir, capsys) -> None:
    assert main(["attack-curve", "--qubits", "2000", "--quiet", *argv]) == 2
    assert fragment in _one_error_line(capsys)
    assert list(in_empty_dir.iterdir()) == []


@pytest.mark.parametrize(("argv", "fragment"), [([], "command"), (["magic"], "'magic'")])
def test_top_level_refuses_bad_input(argv, fragment, capsys) -> None:
    assert main(argv) == 2
    assert fragment in _one_error_line(capsys)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    """A run submitted to fake:manila with --submit-only (module-wide, copied per test)."""
    pytest.importorskip("qiskit_ibm_runtime")
    run_dir = tmp_path_factory.mktemp("saved") / "run"
    argv = ["run", "--backend", "fake:manila", "--qubits", "300", "--submit-only",
            "--run-dir", str(run_dir), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    return run_dir


def _copy(saved: Path, target: Path) -> Path:
    shutil.copytree(saved, target)
    os.chmod(target, 0o700)
    return target


def _edit_run_json(run_dir: Path, edit) -> None:
    path = run_dir / "run.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps(edit(record)))
    os.chmod(path, 0o600)


RESUME_EDITS = {
    "not an object": lambda r: [],
    "job missing": lambda r: {k: v for k, v in r.items() if k != "job"},
    "qubits edited": lambda r: {**r, "config": {**r["config"], "qubits": 10**6}},
    "backend edited": lambda r: {**r, "config": {**r["config"], "backend": "aer"}},
}


@pytest.mark.parametrize("edit", list(RESUME_EDITS))
def test_resume_refuses_a_damaged_or_edited_run(edit, saved_run, tmp_path, capsys) -> None:
    run_dir = _copy(saved_run, tmp_path / "run")
    _edit_run_json(run_dir, RESUME_EDITS[edit])
    assert main(["resume", str(run_dir), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert "run.json" in line


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--timeout", "-1"], "'-1'"),
        (["--timeout", "nan"], "'nan'"),
        (["--json", ""], "--json"),
        (["--plot", "x.gif"], "'.gif'"),
    ],
)
def test_resume_refuses_bad_options_before_fetching(argv, fragment, saved_run, tmp_path, capsys):
    run_dir = _copy(saved_run, tmp_path / "run")
    assert main(["resume", str(run_dir), *argv]) == 2
    assert fragment in _one_error_line(capsys)


def test_resume_of_nothing(tmp_path, capsys) -> None:
    assert main(["resume", str(tmp_path / "nosuch")]) == 2
    assert "nosuch" in _one_error_line(capsys)


def test_the_catalogue_is_large() -> None:
    cases = len(RUN_CASES) + len(KEYRATE_CASES) + len(COMPARE_CASES) + len(RESUME_EDITS)
    assert cases + 4 + 2 + 1 >= 60
