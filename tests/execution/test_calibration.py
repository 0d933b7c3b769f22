"""Qubit selection from a device's Target, and the calibration's QBER prediction."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.transpiler import generate_preset_pass_manager

from qkd_circuits.circuits.bb84 import BB84Config, bb84_circuit
from qkd_circuits.errors import ConfigError
from qkd_circuits.execution.calibration import (
    PULSES_PER_SIFTED_EXCHANGE,
    SINGLE_QUBIT_PULSES,
    QubitCalibration,
    choose_slots,
    mean_predicted_qber,
    predicted_bb84_qber,
    qber_model_allowance,
    qubit_calibration,
    rank_slots,
    two_qubit_link,
    usable_qubits,
)

fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")


@pytest.fixture(scope="module")
def torino():
    return fake_provider.FakeTorino()


@pytest.fixture(scope="module")
def manila():
    return fake_provider.FakeManilaV2()


def _cal(readout: float = 0.02, pulse: float = 0.001, **kw) -> QubitCalibration:
    return QubitCalibration(
        backend="test",
        qubits=kw.pop("qubits", (3,)),
        readout_errors=kw.pop("readout_errors", (readout,)),
        gate_errors=kw.pop("gate_errors", ({"sx": pulse, "x": pulse},)),
        **kw,
    )


# -- reading the Target ---------------------------------------------------------


def test_torino_qubit_0_is_the_poor_one_design_measured(torino):
    cal = qubit_calibration(torino, [0])
    assert cal.readout_errors[0] == pytest.approx(0.1667, abs=5e-4)  # DESIGN.md: 16.7 %
    # The readout error IBM reports is the mean of the two assignment errors.
    assert cal.prob_meas1_prep0[0] is not None and cal.prob_meas0_prep1[0] is not None
    mean = (cal.prob_meas1_prep0[0] + cal.prob_meas0_prep1[0]) / 2
    assert cal.readout_errors[0] == pytest.approx(mean, rel=1e-6)
    assert set(cal.gate_errors[0]) == set(SINGLE_QUBIT_PULSES)
    assert cal.t1[0] is not None and cal.t1[0] > 0
    assert cal.t2[0] is not None and cal.t2[0] > 0


def test_selection_avoids_the_bad_qubit_on_torino(torino):
    best = choose_slots(torino, count=1)[0]
    assert best.signal_qubit != 0
    assert best.predicted_qber < 0.01 < qubit_calibration(torino, [0]).predicted_qber
    ranked = rank_slots(torino)
    assert ranked[0] == best
    scores = [c.score for c in ranked]
    assert scores == sorted(scores)
    assert ranked[-1].readout_errors[0] >= qubit_calibration(torino, [0]).readout_errors[0]


def test_selection_avoids_the_bad_qubit_on_manila(manila):
    readouts = [qubit_calibration(manila, [q]).readout_errors[0] for q in range(5)]
    worst = int(np.argmax(readouts))
    assert worst == 2 and readouts[2] > 0.09
    chosen = choose_slots(manila, count=4)  # four of five: the worst must be the one left out
    assert worst not in {c.signal_qubit for c in chosen}
    assert chosen[0].signal_qubit == int(np.argmin(readouts))


def test_pairs_are_coupled_disjoint_and_ranked(torino):
    pairs = choose_slots(torino, count=6, width=2)
    used = [q for p in pairs for q in p.qubits]
    assert len(used) == len(set(used)) == 12
    for p in pairs:
        assert p.two_qubit_gate == "cz"
        link = two_qubit_link(torino, *p.qubits)
        assert link is not None and link[1] == pytest.approx(p.two_qubit_error)
        assert p.score >= p.predicted_qber
    assert [p.score for p in pairs] == sorted(p.score for p in pairs)


def test_usable_qubits_cover_the_device(manila):
    assert usable_qubits(manila) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("qubits", "match"),
    [((5,), "does not exist"), ((-1,), "does not exist"), ((0, 2), "not coupled")],
)
def test_bad_slots_are_refused(manila, qubits, match):
    with pytest.raises(ConfigError, match=match):
        qubit_calibration(manila, qubits)


def test_too_many_slots_is_a_config_error(manila):
    with pytest.raises(ConfigError, match="only 2 usable disjoint slot"):
        choose_slots(manila, count=3, width=2)
    with pytest.raises(ConfigError, match="slot count"):
        choose_slots(manila, count=0)
    with pytest.raises(ConfigError, match="slot width"):
        rank_slots(manila, width=3)


# -- the QBER model ----------------------------------------------------------------


def test_pulse_count_of_the_model_matches_the_transpiled_circuits(torino):
    """The model's 1.25 pulses per sifted exchange is what the preset pass manager emits."""
    pm = generate_preset_pass_manager(optimization_level=1, backend=torino, initial_layout=[51])
    counts = []
    for bit in (0, 1):
        for basis in (0, 1):
            config = BB84Config(alice_bit=bit, alice_basis=basis, bob_basis=basis)
            isa = pm.run(bb84_circuit(config))
            ops = isa.count_ops()
            counts.append(sum(ops.get(g, 0) for g in SINGLE_QUBIT_PULSES))
    assert np.mean(counts) == PULSES_PER_SIFTED_EXCHANGE


def test_prediction_formula():
    cal = _cal(readout=0.1, pulse=0.01)
    g = PULSES_PER_SIFTED_EXCHANGE * 0.01
    assert cal.predicted_qber == pytest.approx(0.1 * (1 - g) + g * 0.9)
    assert predicted_bb84_qber(cal, pulses=0) == pytest.approx(0.1)
    assert qber_model_allowance(cal) == pytest.approx(g + 0.01)
    assert _cal(readout=0.0, pulse=0.0).predicted_qber == 0.0
    with pytest.raises(ConfigError, match="pulses"):
        predicted_bb84_qber(cal, pulses=-1)


def test_mean_prediction_weights_slots():
    a, b = _cal(readout=0.01, pulse=0.0), _cal(readout=0.05, pulse=0.0, qubits=(4,))
    assert mean_predicted_qber([a, b]) == pytest.approx(0.03)
    assert mean_predicted_qber([a, b], [3, 1]) == pytest.approx(0.02)
    with pytest.raises(ConfigError):
        mean_predicted_qber([a, b], [1])
    with pytest.raises(ConfigError):
        mean_predicted_qber([])


def test_round_trip_through_dict(torino):
    for cal in (qubit_calibration(torino, [51]), choose_slots(torino, width=2)[0]):
        data = cal.to_dict()
        assert data["predicted_qber"] == pytest.approx(cal.predicted_qber)
        assert QubitCalibration.from_dict(data) == cal
    with pytest.raises(ConfigError, match="malformed"):
        QubitCalibration.from_dict({"qubits": [1]})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"qubits": (), "readout_errors": ()}, "1 or 2 qubits"),
        ({"qubits": (1, 2, 3), "readout_errors": (0.1, 0.1, 0.1)}, "1 or 2 qubits"),
        ({"qubits": (1, 1), "readout_errors": (0.1, 0.1)}, "distinct"),
        ({"qubits": (1,), "readout_errors": (0.1, 0.2)}, "readout_errors has 2"),
        ({"qubits": (1,), "readout_errors": (1.5,)}, "readout error must be in"),
        ({"qubits": (1, 2), "readout_errors": (0.1, 0.1)}, "two-qubit gate error"),
    ],
)
def test_invalid_records_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        QubitCalibration(backend="test", **kwargs)
