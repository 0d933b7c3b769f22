"""The Python API ``run(...)`` mirrors the CLI and returns a frozen report."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from qkd_circuits.cli import main
from qkd_circuits.errors import ConfigError
from qkd_circuits.runner import RunConfig, run


def test_report_is_frozen_and_to_dict_equals_the_cli_json(capsys):
    report = run(qubits=5000, seed=9, noise="depolarizing=0.05")
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.qber = 0.0  # type: ignore[misc]
    assert (
        main(
            [
                "run",
                "--qubits",
                "5000",
                "--seed",
                "9",
                "--noise",
                "depolarizing=0.05",
                "--json",
                "-",
                "--quiet",
            ]
        )
        == 0
    )
    cli = json.loads(capsys.readouterr().out)
    api = json.loads(report.to_json())
    for d in (cli, api):
        d.pop("timings_s")
    assert cli == api


def test_same_seed_reproduces_the_run():
    a = run(qubits=3000, seed=4, eve="intercept-resend=0.3", noise="readout=0.02")
    b = run(qubits=3000, seed=4, eve="intercept-resend=0.3", noise="readout=0.02")
    assert a.qber_actual == b.qber_actual and a.sifted_bits == b.sifted_bits
    assert np.array_equal(a.records.bob_bits, b.records.bob_bits)


def test_unseeded_run_records_no_seed_and_is_not_reproducible():
    a, b = run(qubits=2000), run(qubits=2000)
    assert a.seed is None and a.reproducible is False and a.to_dict()["seed"] is None
    assert a.records is not None and b.records is not None
    assert not np.array_equal(a.records.alice_bits, b.records.alice_bits)
    seeded = run(qubits=2000, seed=5)
    assert seeded.reproducible is True and seeded.to_dict()["reproducible"] is True


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"qubits": 0}, "qubits must be a positive integer, got 0"),
        ({"qubits": -5}, "got -5"),
        ({"qubits": 2.5}, "got 2.5"),
        ({"qubits": True}, "got True"),
        ({"noise": "depolarizing=1.5"}, "depolarizing=1.5 is outside"),
        ({"noise": "foo=0.1"}, "unknown name 'foo'"),
        ({"eve": "bar"}, "unknown eve spec 'bar'"),
        ({"backend": "gpu"}, "unknown backend 'gpu'"),
        ({"seed": -3}, "seed must be an integer >= 0, got -3"),
        ({"sample_fraction": 0.0}, "sample fraction must be in (0, 1), got 0.0"),
        ({"qber_threshold": 0.7}, "qber threshold must be in [0, 0.5], got 0.7"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, fragment):
    with pytest.raises(ConfigError) as info:
        run(**{"qubits": 100, **kwargs})
    assert fragment in str(info.value)


def test_unknown_protocol():
    with pytest.raises(ConfigError, match="unknown protocol 'bb85'"):
        RunConfig(protocol="bb85")


def test_no_noise_no_eve_is_error_free_and_eve_raises_the_qber():
    clean = run(qubits=20000, seed=1)
    assert clean.qber_actual == 0.0 and clean.qber == 0.0 and not clean.aborted
    assert clean.eve_agreement is None
    attacked = run(qubits=20000, seed=1, eve="intercept-resend")
    assert attacked.aborted and attacked.abort_reason == "qber_above_threshold"
    assert 0.2 < attacked.qber_actual < 0.3 and 0.7 < attacked.eve_agreement < 0.8


def test_stage_callback_sees_every_stage_in_order():
    seen: list[str] = []
    report = run(qubits=20_000, seed=1, noise="depolarizing=0.02")
    from qkd_circuits.runner import run_config

    run_config(RunConfig(qubits=20_000, seed=1), on_stage=seen.append, progress=lambda d, t: None)
    assert seen == [
        "quantum",
        "sifting",
        "estimation",
        "reconciliation",
        "verification",
        "key_length",
        "amplification",
        "authentication",
    ]
    assert list(report.timings_s) == seen


@pytest.mark.parametrize(
    "kwargs",
    [
        {"qubits": 20_000, "noise": "depolarizing=0.02"},
        {"qubits": 20_000, "noise": "depolarizing=0.02", "seed": 3, "key_length": "fixed"},
        {"qubits": 4_000, "eve": "intercept-resend"},
        {"qubits": 60_000, "eve": "cloner=0.02", "seed": 4},
        {"qubits": 4_000, "eve": "intercept-resend=0.5:basis=breidbart", "protocol": "bbm92"},
        {"qubits": 10},
    ],
)
def test_the_json_report_follows_its_published_schema(kwargs):
    jsonschema = pytest.importorskip("jsonschema")
    from qkd_circuits.report import SCHEMA_VERSION, report_schema

    data = json.loads(run(**kwargs).to_json())
    assert data["schema_version"] == SCHEMA_VERSION
    jsonschema.Draft202012Validator(report_schema()).validate(data)


# -- a device run wider than the device is refused before anything runs --------------


@pytest.mark.parametrize(
    ("protocol", "eve", "backend", "fragment"),
    [
        ("e91", "intercept-resend", "fake:manila", "e91 with Eve (intercept-resend) has exchange "
         "circuits of 3 qubits, but device backends run circuits of 1 or 2 qubits"),
        ("bbm92", "intercept-resend=0.3", "fake:torino", "circuits of 3 qubits"),
        ("bbm92", "intercept-resend", "ibm:ibm_torino", "or without Eve"),  # no connection
        ("bb84", "intercept-resend", "fake:armonk", "circuits of 2 qubits, more than the 1 of "
         "'fake:armonk'"),
        ("e91", "none", "fake:armonk", "e91 has exchange circuits of 2 qubits"),
    ],
)  # fmt: skip
def test_run_config_refuses_circuits_wider_than_the_device(protocol, eve, backend, fragment):
    pytest.importorskip("qiskit_ibm_runtime")
    with pytest.raises(ConfigError) as info:
        run(protocol, qubits=2000, eve=eve, backend=backend)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("protocol", "eve", "backend"),
    [
        ("e91", "none", "fake:manila"),
        ("bbm92", "intercept-resend=0", "fake:manila"),  # an inactive Eve adds no probe
        ("bb84", "intercept-resend", "fake:manila"),
        ("six-state", "none", "fake:armonk"),
        ("e91", "intercept-resend", "aer"),
    ],
)
def test_run_config_accepts_what_the_device_path_can_run(protocol, eve, backend):
    pytest.importorskip("qiskit_ibm_runtime")
    from qkd_circuits.attacks.spec import EveSpec

    RunConfig(protocol=protocol, qubits=2000, eve=EveSpec.parse(eve), backend=backend)


def test_compare_refuses_a_too_wide_protocol_before_running_any(monkeypatch, capsys):
    """``qkd compare --backend fake:manila --eve intercept-resend`` used to run BB84,
    six-state, B92 and SARG04 on the device before BBM92's plan refused its 3-qubit
    circuits; now no run starts."""
    pytest.importorskip("qiskit_ibm_runtime")
    import qkd_circuits.compare as compare

    started: list[str] = []
    monkeypatch.setattr(compare, "run_config", lambda config: started.append(config.protocol))
    argv = ["compare", "--qubits", "2000", "--backend", "fake:manila", "--quiet"]
    assert main([*argv, "--eve", "intercept-resend"]) == 2
    assert "bbm92 with Eve (intercept-resend) has exchange circuits of 3 qubits" in (
        capsys.readouterr().err
    )
    assert started == []
    assert main([*argv[:4], "fake:armonk", "--quiet"]) == 2
    assert "bbm92 has exchange circuits of 2 qubits, more than the 1" in capsys.readouterr().err
    assert started == []
