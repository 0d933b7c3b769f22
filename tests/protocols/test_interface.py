"""Every registered protocol on the one interface: the runner, report, CLI and device path
know no protocol by name.

These checks run for each protocol in the registry, so a new protocol module is
held to them the moment it is registered; its own statistics live in its own
test file.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qkd_circuits import run
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.cli import main
from qkd_circuits.compare import ComparisonRow, compare_protocols
from qkd_circuits.errors import ConfigError
from qkd_circuits.protocols.base import Protocol, ProtocolInfo
from qkd_circuits.protocols.registry import (
    CHANNEL_PROTOCOLS,
    PROTOCOLS,
    all_protocols,
    get_protocol,
)
from qkd_circuits.runner import RunConfig, run_config
from tests.protocols.conftest import schema_valid_json

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", PROTOCOLS)
def test_each_registered_protocol_implements_the_interface(name):
    protocol = get_protocol(name)
    assert isinstance(protocol, Protocol) and isinstance(protocol.info, ProtocolInfo)
    assert protocol.info.name == name and protocol.registers
    choices = protocol.draw_choices(64, rng=np.random.default_rng(1))
    codes = np.asarray(choices.codes)
    assert codes.shape == (64,) and codes.min() >= 0
    for code in np.unique(codes):
        circuit = protocol.circuit_for_code(int(code))
        names = {r.name for r in circuit.cregs}
        assert names <= set(protocol.registers), (name, names)
        assert all(r.size == 1 for r in circuit.cregs)
        ops = [inst.operation.name for inst in circuit.data]
        last_gate = max(
            (i for i, op in enumerate(ops) if op not in ("measure", "barrier")), default=-1
        )
        first_measure = ops.index("measure")
        assert first_measure > last_gate, f"{name}: measurements must be terminal"
        channel = [inst for inst in circuit.data if inst.operation.label == "channel"]
        assert len(channel) == 1 and circuit.find_bit(channel[0].qubits[0]).index == 0
    # The asymptotic rate changes sign at the listed threshold.
    t = protocol.info.threshold
    assert protocol.asymptotic_rate(0.0) > 0
    assert protocol.asymptotic_rate(t * 0.98) > 0 > protocol.asymptotic_rate(t * 1.02 + 1e-4)


@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("eve", ["none", "intercept-resend", "intercept-resend=0"])
def test_max_circuit_qubits_is_the_widest_circuit_a_run_draws(name, eve):
    """What RunConfig checks a device against, before anything runs."""
    protocol = get_protocol(name)
    spec = EveSpec.parse(eve)
    choices = protocol.draw_choices(2000, eve=spec, rng=np.random.default_rng(4))
    drawn = max(protocol.circuit_for_code(int(c)).num_qubits for c in np.unique(choices.codes))
    assert protocol.max_circuit_qubits(eve=spec) == drawn
    entangled = name in ("bbm92", "e91")
    assert drawn == 1 + entangled + spec.active


@pytest.mark.parametrize("name", PROTOCOLS)
def test_records_rebuild_the_circuits_of_the_attack_that_ran(name):
    """records.circuit(i) without eve= is exchange i's circuit under the run's own attack
    (a cloner run's records must not redraw a random-basis intercept-resend)."""
    protocol = get_protocol(name)
    spec = EveSpec.parse("cloner=0.123")
    choices = protocol.draw_choices(40, eve=spec, rng=8)
    assert choices.eve == spec
    outcomes = {r: np.zeros(40, dtype=np.uint8) for r in protocol.registers}
    records = protocol.records(choices, outcomes)
    for i in (0, 17, 39):
        rebuilt = records.circuit(i)
        ran = protocol.circuit_for_code(int(choices.codes[i]), eve=spec)
        intercepted = protocol.circuit_for_code(int(choices.codes[i]))
        assert rebuilt == ran and rebuilt != intercepted, (name, i)
        assert records.circuit(i, eve=EveSpec.parse("intercept-resend")) == intercepted


def test_six_state_and_b92_records_share_one_generic_class():
    from qkd_circuits.protocols.b92 import B92Records
    from qkd_circuits.protocols.choices import ChoiceRecords
    from qkd_circuits.protocols.six_state import SixStateRecords

    for name, cls in (("six-state", SixStateRecords), ("b92", B92Records)):
        protocol = get_protocol(name)
        choices = protocol.draw_choices(50, eve=EveSpec.parse("intercept-resend"), rng=5)
        bits = np.random.default_rng(6).integers(0, 2, size=(2, 50), dtype=np.uint8)
        records = protocol.records(choices, {"bob": bits[0], "eve": bits[1]})
        assert type(records) is cls and isinstance(records, ChoiceRecords)
        assert records.n == 50 and np.array_equal(records.codes, choices.codes)
        assert records.circuit(7).metadata["code"] == int(choices.codes[7])
        with pytest.raises(ConfigError, match=r"eve_bits has shape \(3,\), expected \(50,\)"):
            cls(choices=choices, bob_bits=bits[0], eve_bits=bits[1][:3])
    with pytest.raises(TypeError, match="abstract"):
        ChoiceRecords(choices=choices, bob_bits=bits[0], eve_bits=bits[1])  # type: ignore[abstract]


@pytest.mark.parametrize("name", CHANNEL_PROTOCOLS)
def test_each_protocol_gives_matching_keys_without_noise_and_a_valid_report(name):
    report = run(name, qubits=150_000, seed=3)  # B92's finite key needs ~64,000
    assert report.protocol == name and not report.aborted, report.abort_message
    assert report.keys_match and report.final_key_bits > 0 and report.qber_actual == 0.0
    assert set(report.qber_by_basis) == set(report.estimation or {})
    schema_valid_json(report)
    assert report.key_length is not None and len(report.key_length["theorem"]) > 20


@pytest.mark.parametrize("name", [n for n in PROTOCOLS if n not in CHANNEL_PROTOCOLS])
def test_a_link_only_protocol_runs_over_a_link_and_is_refused_without(name):
    from qkd_circuits.analysis.link import get_preset
    from qkd_circuits.optics.link import LinkModel
    from qkd_circuits.optics.source import Source

    with pytest.raises(ConfigError, match=f"{name} runs over a link: give its distance"):
        RunConfig(protocol=name)
    link = LinkModel(
        distance_km=10, parameters=get_preset("gys"), source=Source(kind="wcp"), decoys=(0.1,)
    )
    report = run_config(RunConfig(protocol=name, qubits=10**9, link=link, seed=3))
    assert report.protocol == name and not report.aborted, report.abort_message
    assert report.keys_match and report.final_key_bits > 0 and report.pulses == 10**9
    schema_valid_json(report)


def test_an_unknown_protocol_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown protocol 'bb85'; allowed: " + PROTOCOLS[0]):
        RunConfig(protocol="bb85")


def test_qkd_protocols_lists_every_protocol_with_its_threshold(capsys):
    assert main(["protocols"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(PROTOCOLS)
    for line, protocol in zip(lines, all_protocols(), strict=True):
        assert f"threshold {protocol.info.threshold:.2%}" in line


def test_compare_runs_every_protocol_on_one_channel(tmp_path, capsys):
    out, plot = tmp_path / "c.json", tmp_path / "c.png"
    argv = ["compare", "--qubits", "20000", "--noise", "depolarizing=0.02", "--seed", "5",
            "--json", str(out), "--plot", str(plot)]  # fmt: skip
    assert main(argv) == 0
    table = capsys.readouterr().out
    doc = json.loads(out.read_text())
    rows = doc["rows"]
    assert [r["protocol"] for r in rows] == list(CHANNEL_PROTOCOLS)
    for r in rows:
        assert {"protocol", "sifted_bits", "qber_actual", "final_key_bits", "secret_key_rate",
                "aborted"} <= set(r)  # fmt: skip
        assert re.search(rf"^{re.escape(r['protocol'])}\s+{r['sifted_bits']:,}", table, re.M)
    assert plot.read_bytes().startswith(b"\x89PNG") and doc["noise"] == {"depolarizing": 0.02}


def test_compare_rows_are_the_runs_reports():
    base = RunConfig(qubits=20_000, seed=9)
    reports = compare_protocols(base, PROTOCOLS[:1])
    row = ComparisonRow.from_report(reports[0])
    assert row.final_key_bits == reports[0].final_key_bits and row.sifting_ratio > 0
    again = compare_protocols(base, PROTOCOLS[:1])[0]
    assert again.final_key_bits == reports[0].final_key_bits  # seeded: reproducible


def test_the_shared_code_names_no_protocol():
    """Adding a protocol is one module plus one registry line: outside a protocol's own
    modules and the registries, the package never names one."""
    found = subprocess.run(
        ["git", "grep", "-n", '"bb84"', "--", "qkd_circuits"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.splitlines()  # fmt: skip
    allowed = (
        "qkd_circuits/protocols/bb84.py:",
        "qkd_circuits/circuits/bb84.py:",
        "qkd_circuits/protocols/registry.py:",
        "qkd_circuits/protocols/info.py:",  # the registry's descriptions, light to import
        "qkd_circuits/analysis/rates.py:",  # the registry of analytic rate formulas
        "qkd_circuits/attacks/theory.py:",  # the registry of the attacks' closed forms
    )
    assert found and all(line.startswith(allowed) for line in found), found


@pytest.mark.parametrize("name", CHANNEL_PROTOCOLS)
def test_each_protocol_submits_and_resumes_on_a_fake_device(name, tmp_path):
    """The device path runs every protocol unchanged: submit-only saves the protocol's
    own choices, and resume (a fresh read of the run directory) finishes the run with
    the same protocol's records, sifting and analysis."""
    pytest.importorskip("qiskit_ibm_runtime")
    from qkd_circuits.execution import ibm
    from qkd_circuits.runner import resume_run, submit_run

    config = RunConfig(protocol=name, backend="fake:manila", qubits=3000, seed=4)
    run_dir = submit_run(config, tmp_path / "run")
    ibm._SIMULATED_JOBS.clear()  # as if the process had ended: resume re-runs from the seed
    report = resume_run(run_dir)
    assert report.protocol == name and report.qubits == 3000
    assert report.backend_info["route"] == "aer" and report.sifted_bits > 0
    # A device's own error is a few percent at most on manila's best qubits.
    assert report.qber_actual < 0.1, (name, report.qber_actual)


def test_the_comparison_figure_marks_an_aborted_protocol() -> None:
    """An aborted protocol's bar has no height: the figure writes "aborted" on its place."""
    from qkd_circuits.compare import ComparisonRow, comparison_figure

    common = {"qubits": 1000, "sifted_bits": 500, "qber_actual": 0.03, "threshold": 0.11}
    rows = [
        ComparisonRow(protocol="bb84", final_key_bits=100, secret_key_rate=0.1, aborted=False,
                      abort_reason=None, **common),
        ComparisonRow(protocol="b92", final_key_bits=0, secret_key_rate=0.0, aborted=True,
                      abort_reason="key_too_short", **common),
    ]  # fmt: skip
    ax = comparison_figure(rows, title="t").axes[0]
    texts = {t.get_text(): t.get_position()[0] for t in ax.texts if t.get_text()}
    assert set(texts) == {"0.1000", "aborted\nno key"}
    assert texts["aborted\nno key"] == 1  # over b92's bar
