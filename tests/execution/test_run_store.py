"""Saving a submitted run: private files, atomic writes, refusal to overwrite, integrity."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.bb84 import BB84Config, bb84_circuit
from qkd_circuits.errors import BackendError, ConfigError
from qkd_circuits.execution import run_store
from qkd_circuits.execution.ibm import collect_grouped, make_backend_executor, submit_grouped
from qkd_circuits.execution.run_store import (
    RUN_FILE,
    SECRETS_FILE,
    ensure_new_run_dir,
    load_pending_run,
    save_pending_run,
)
from qkd_circuits.protocols.bb84 import BB84Choices, draw_choices

pytest.importorskip("qiskit_ibm_runtime")


def _circuit(code: int):
    return bb84_circuit(BB84Config.from_code(code))


@pytest.fixture(scope="module")
def submitted():
    """A small submitted run on fake:manila (Aer route), with Eve on half the exchanges."""
    gen = np.random.default_rng(7)
    choices = draw_choices(300, eve=EveSpec(kind="intercept-resend", fraction=0.5), rng=gen)
    executor = make_backend_executor("fake:manila")
    job = submit_grouped(choices.codes, _circuit, executor, rng=gen)
    return choices, job


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_are_private_and_the_round_trip_is_exact(tmp_path, submitted):
    choices, job = submitted
    run_dir = tmp_path / "runs" / "x"
    config = {"seed": 7, "qubits": 300, "eve": str(choices.eve)}
    path = save_pending_run(run_dir, choices=choices, job=job, config=config)
    assert path == run_dir / RUN_FILE
    assert _mode(run_dir) == 0o700
    assert _mode(run_dir / RUN_FILE) == 0o600 and _mode(run_dir / SECRETS_FILE) == 0o600
    assert sorted(os.listdir(run_dir)) == sorted([RUN_FILE, SECRETS_FILE])  # no temp files left

    record = json.loads((run_dir / RUN_FILE).read_text())
    assert record["backend"] == "fake:manila" and record["config"]["seed"] == 7
    assert {"qiskit", "qiskit-ibm-runtime", "numpy"} <= set(record["versions"])
    assert "alice_bits" not in json.dumps(record)  # the secrets are only in the npz

    pending = load_pending_run(run_dir)
    assert isinstance(pending.choices, BB84Choices)
    for name in ("alice_bits", "alice_bases", "bob_bases", "eve_bases"):
        saved, original = getattr(pending.choices, name), getattr(choices, name)
        assert saved.dtype == original.dtype and np.array_equal(saved, original)
    assert pending.job == job and pending.config == config
    assert pending.choices.eve == choices.eve  # from the config: the attack the choices ran
    out = collect_grouped(pending.job, pending.choices.codes, ("bob", "eve"), rng=1)
    assert out["bob"].shape == (300,)


def test_an_existing_run_is_never_overwritten(tmp_path, submitted):
    choices, job = submitted
    run_dir = tmp_path / "x"
    save_pending_run(run_dir, choices=choices, job=job, config={})
    before = (run_dir / RUN_FILE).read_bytes()
    with pytest.raises(ConfigError, match="already exists"):
        save_pending_run(run_dir, choices=choices, job=job, config={"seed": 1})
    assert (run_dir / RUN_FILE).read_bytes() == before
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    save_pending_run(empty, choices=choices, job=job, config={})  # an empty dir is fine
    assert _mode(empty) == 0o700
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        save_pending_run(not_dir, choices=choices, job=job, config={})


def test_a_crash_while_saving_leaves_nothing_to_resume(tmp_path, submitted, monkeypatch):
    choices, job = submitted
    calls = []
    real = run_store.write_private_file

    def crash_on_second(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C between the secrets and the record
        return real(path, data)

    monkeypatch.setattr(run_store, "write_private_file", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        save_pending_run(tmp_path / "x", choices=choices, job=job, config={})
    assert not (tmp_path / "x" / RUN_FILE).exists()
    with pytest.raises(ConfigError, match="nothing to resume"):
        load_pending_run(tmp_path / "x")


def test_tampering_and_loose_permissions_are_refused(tmp_path, submitted):
    choices, job = submitted
    run_dir = tmp_path / "x"
    save_pending_run(run_dir, choices=choices, job=job, config={})
    os.chmod(run_dir / SECRETS_FILE, 0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        load_pending_run(run_dir)
    os.chmod(run_dir / SECRETS_FILE, 0o600)
    with open(run_dir / SECRETS_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ConfigError, match="checksum"):
        load_pending_run(run_dir)


def test_bad_inputs_are_config_errors(tmp_path, submitted):
    choices, job = submitted
    with pytest.raises(ConfigError, match="JSON-serialisable"):
        save_pending_run(tmp_path / "a", choices=choices, job=job, config={"x": object()})
    with pytest.raises(ConfigError, match="dataclass of arrays"):
        save_pending_run(tmp_path / "b", choices={"alice_bits": 1}, job=job, config={})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / RUN_FILE).write_text(json.dumps({"format": "other"}))
    os.chmod(tmp_path / "c" / RUN_FILE, 0o600)
    with pytest.raises(ConfigError, match="is not a qkd-circuits/pending-run"):
        load_pending_run(tmp_path / "c")


def test_the_run_dir_can_be_claimed_before_submitting(tmp_path, submitted):
    choices, job = submitted
    run_dir = ensure_new_run_dir(tmp_path / "deep" / "x")
    assert run_dir.is_dir() and _mode(run_dir) == 0o700
    save_pending_run(run_dir, choices=choices, job=job, config={})
    with pytest.raises(ConfigError, match="not empty"):
        ensure_new_run_dir(run_dir)


def test_a_failed_save_after_submission_names_the_job_ids(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "other").write_text("taken")
    choices = draw_choices(50, rng=1)

    def persist(job):
        save_pending_run(tmp_path / "x", choices=choices, job=job, config={})

    executor = make_backend_executor("fake:manila", on_submit=persist)
    with pytest.raises(BackendError, match=r"job\(s\) aer-.* were submitted .* keep these ids"):
        submit_grouped(choices.codes, _circuit, executor, rng=2)


def test_resume_in_a_fresh_process_gives_the_same_shots(tmp_path, submitted):
    """The client dies after submitting: a new interpreter loads the run and fetches it."""
    choices, job = submitted
    run_dir = tmp_path / "x"
    save_pending_run(run_dir, choices=choices, job=job, config={"seed": 7})
    here = collect_grouped(job, choices.codes, ("bob", "eve"), rng=3)
    script = (
        "import sys, numpy as np\n"
        "from qkd_circuits.execution.ibm import collect_grouped\n"
        "from qkd_circuits.execution.run_store import load_pending_run\n"
        "p = load_pending_run(sys.argv[1])\n"
        "out = collect_grouped(p.job, p.choices.codes, ('bob', 'eve'), rng=3)\n"
        "np.savez(sys.argv[2], **out)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(run_dir), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "out.npz") as there:
        for name in ("bob", "eve"):
            assert np.array_equal(there[name], here[name])
