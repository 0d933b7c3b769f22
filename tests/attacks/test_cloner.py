"""The entangling probe, exactly (statevectors): Bob's error D and Eve's error
1/2 − √(D(1 − D)) in Z and X, the Fuchs et al. (1997) optimum; the six-state Y basis as
derived in :mod:`qkd_circuits.attacks.theory`; Breidbart's intercept-resend."""

import math

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qkd_circuits.attacks.cloner import append_cloner, cloner_angle
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.attacks.theory import BREIDBART_ERROR, attack_theory, cloner_eve_error
from qkd_circuits.circuits.bb84 import BB84Config, bb84_circuit
from qkd_circuits.circuits.six_state import SixStateConfig, six_state_circuit
from qkd_circuits.errors import ConfigError


def _errors(circuit) -> tuple[float, float]:
    """P(Bob's result != Alice's bit), P(Eve's != Alice's bit) of one exchange circuit
    (Alice's bit in its metadata), exactly: the final statevector's marginals."""
    bit = circuit.metadata["alice_bit"]
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    bob, eve = state.probabilities([0]), state.probabilities([1])
    return float(bob[1 - bit]), float(eve[1 - bit])


@pytest.mark.parametrize("d", [0.0, 0.05, 0.1464, 0.25, 0.4, 0.5])
@pytest.mark.parametrize(("bit", "basis"), [(b, a) for b in (0, 1) for a in (0, 1)])
def test_bob_errs_with_probability_d_and_eve_reaches_the_fuchs_bound(d, bit, basis):
    spec = EveSpec(kind="cloner", disturbance=d)
    config = BB84Config(alice_bit=bit, alice_basis=basis, bob_basis=basis, eve_basis=0)
    bob, eve = _errors(bb84_circuit(config, eve=spec))
    assert bob == pytest.approx(d, abs=1e-12)
    assert eve == pytest.approx(cloner_eve_error(d), abs=1e-12)


@pytest.mark.parametrize("d", [0.05, 0.25])
def test_six_state_y_basis_matches_its_closed_form(d):
    spec = EveSpec(kind="cloner", disturbance=d)
    bob = eve = 0.0
    for bit in (0, 1):
        config = SixStateConfig(alice_bit=bit, alice_basis=2, bob_basis=2, eve_basis=0)
        b, e = _errors(six_state_circuit(config, eve=spec))
        bob, eve = bob + b / 2, eve + e / 2
    s2 = 4 * d * (1 - d)
    assert bob == pytest.approx(s2 / 2, abs=1e-12)
    assert eve == pytest.approx((1 - s2) / 2, abs=1e-12)
    theory = attack_theory("cloner", "six-state")
    assert theory is not None
    assert theory.qber(d) == pytest.approx((2 * d + s2 / 2) / 3)


@pytest.mark.parametrize(("bit", "basis"), [(b, a) for b in (0, 1) for a in (0, 1)])
def test_breidbart_intercept_resend(bit, basis):
    """Eve's error sin²(π/8) ≈ 0.146 and Bob's 1/4 in both BB84 bases."""
    spec = EveSpec(kind="intercept-resend", basis="breidbart")
    config = BB84Config(alice_bit=bit, alice_basis=basis, bob_basis=basis, eve_basis=0)
    circuit = bb84_circuit(config, eve=spec)
    # The resent qubit is a mixture (Eve's probe holds her record): Bob's error is the
    # probability his and Alice's bits differ, traced over the probe.
    bob, eve = _errors(circuit)
    assert eve == pytest.approx(BREIDBART_ERROR, abs=1e-12)
    assert eve == pytest.approx(math.sin(math.pi / 8) ** 2, abs=1e-12)
    assert bob == pytest.approx(0.25, abs=1e-12)
    assert circuit.metadata["eve_basis"] == "W"


def test_circuits_name_the_attack_and_keep_measurements_terminal():
    spec = EveSpec(kind="cloner", disturbance=0.1)
    qc = bb84_circuit(BB84Config(alice_bit=0, alice_basis=1, bob_basis=1, eve_basis=0), eve=spec)
    assert qc.name == "bb84_a0X_eC_bX"
    assert qc.metadata["eve_basis"] == "C" and qc.metadata["eve_attack"] == "cloner=0.1"
    measured = set()
    for inst in qc.data:  # nothing acts on a qubit once it is measured
        assert not measured & set(inst.qubits), inst.operation.name
        if inst.operation.name == "measure":
            measured |= set(inst.qubits)
    assert measured == set(qc.qubits)
    names = {i.operation.name for i in qc.data}
    assert names <= {"x", "h", "rx", "ry", "cx", "barrier", "id", "measure"}


def test_angle_runs_from_identity_to_swap():
    assert cloner_angle(0.0) == 0.0
    assert cloner_angle(0.5) == pytest.approx(math.pi / 2)
    with pytest.raises(ConfigError, match=r"got 0\.7"):
        cloner_angle(0.7)


def test_zero_disturbance_leaves_the_signal_alone():
    """At D = 0 the signal leaves as it came and the probe is uncorrelated with it."""
    from qiskit.circuit import QuantumCircuit
    from qiskit.quantum_info import DensityMatrix, partial_trace

    qc = QuantumCircuit(2)
    qc.h(0)
    append_cloner(qc, qc.qubits[0], qc.qubits[1], disturbance=0.0)
    signal = partial_trace(Statevector(qc), [1])
    assert np.allclose(signal.data, DensityMatrix.from_label("+").data, atol=1e-12)
    assert signal.purity() == pytest.approx(1.0)


def test_the_quantum_phase_runs_the_attack_the_choices_were_drawn_for():
    """Without eve=, run_quantum_phase uses choices.eve: a D = 0 cloner leaves every
    matched-basis bit intact, where the default intercept-resend would flip a quarter."""
    from qkd_circuits.execution import AerExecutor
    from qkd_circuits.protocols.bb84 import draw_choices, run_quantum_phase

    choices = draw_choices(4000, eve=EveSpec(kind="cloner", disturbance=0.0), rng=3)
    records = run_quantum_phase(choices, AerExecutor(), rng=5)
    assert records.eve == choices.eve
    matched = records.alice_bases == records.bob_bases
    assert matched.sum() > 1800
    assert np.array_equal(records.bob_bits[matched], records.alice_bits[matched])
