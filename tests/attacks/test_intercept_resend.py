import numpy as np
import pytest
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import Statevector, partial_trace

from qkd_circuits.attacks.intercept_resend import append_intercept_resend
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.errors import ConfigError


def test_parse():
    assert EveSpec.parse("none") == EveSpec()
    assert not EveSpec.parse("none").active
    assert EveSpec.parse("intercept-resend") == EveSpec(kind="intercept-resend", fraction=1.0)
    assert EveSpec.parse("intercept-resend=0.25").fraction == 0.25
    assert str(EveSpec.parse("intercept-resend=0.25")) == "intercept-resend=0.25"
    assert not EveSpec.parse("intercept-resend=0").active


@pytest.mark.parametrize(
    "text", ["bar", "intercept-resend=1.5", "intercept-resend=x", "none=0.3", "", "cloning"]
)
def test_bad_specs(text):
    with pytest.raises(ConfigError, match=r"eve spec|attack fraction|unknown attack"):
        EveSpec.parse(text)


def _probe_circuit(prepare: str, basis: int) -> QuantumCircuit:
    """Signal (qubit 0) prepared by the gates named in ``prepare``, then Eve's probe
    (qubit 1) in ``basis``."""
    qc = QuantumCircuit(2)
    for gate in prepare:
        getattr(qc, gate)(0)
    append_intercept_resend(qc, qc.qubits[0], qc.qubits[1], basis=basis)
    return qc


EIGENSTATES = {0: "", 1: "h", 2: "hs"}
"""Basis -> the one-letter gates preparing its bit-0 eigenstate (bit 1: an X first)."""


@pytest.mark.parametrize(("basis", "gates"), [(0, ["cx"]), (1, ["h", "cx", "h"]),
                                              (2, ["sdg", "h", "cx", "h", "s"])])  # fmt: skip
def test_probe_gates_per_basis(basis, gates):
    """Z and X as before; Y rotates Y to Z with Sdg then H and back with H then S."""
    assert [i.operation.name for i in _probe_circuit("", basis).data] == gates


@pytest.mark.parametrize(("bit", "basis"), [(b, e) for b in (0, 1) for e in (0, 1, 2)])
def test_probe_copies_an_eigenstate_of_eves_basis_and_leaves_it_undisturbed(bit, basis):
    """On an eigenstate of her basis (|0>/|1>, |+>/|->, |+i>/|-i>) the probe reads the
    bit with certainty and the signal keeps its state: the joint state is |bit> ⊗ |ψ>."""
    prepare = ("x" if bit else "") + EIGENSTATES[basis]
    alone = QuantumCircuit(1)
    for gate in prepare:
        getattr(alone, gate)(0)
    state = Statevector(_probe_circuit(prepare, basis))
    assert state.equiv(Statevector.from_label(str(bit)).tensor(Statevector(alone)))


@pytest.mark.parametrize(("basis", "other"), [(2, 0), (2, 1), (0, 2), (1, 2)])
def test_probe_on_an_unbiased_state_reads_a_coin_and_decoheres_the_signal(basis, other):
    """On an eigenstate of another (mutually unbiased) basis Eve reads a fair coin, and
    the signal, traced over the probe, is left fully mixed in that basis: I/2."""
    state = Statevector(_probe_circuit(EIGENSTATES[other], basis))
    assert state.probabilities([1]) == pytest.approx([0.5, 0.5], abs=1e-12)
    assert np.allclose(partial_trace(state, [1]).data, np.eye(2) / 2, atol=1e-12)


@pytest.mark.parametrize("basis", [3, -1, True, 1.0])
def test_bad_probe_basis_lists_the_three_bases(basis):
    with pytest.raises(ConfigError, match=r"0 \(Z\), 1 \(X\) or 2 \(Y\) or a direction name, got"):
        _probe_circuit("", basis)
