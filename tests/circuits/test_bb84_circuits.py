import itertools

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qkd_circuits.circuits.bb84 import (
    N_CONFIGS,
    NO_EVE,
    BB84Config,
    bb84_circuit,
    config_code,
    config_codes,
)
from qkd_circuits.errors import ConfigError


def test_codes_round_trip_and_are_dense():
    codes = {BB84Config.from_code(c).code for c in range(N_CONFIGS)}
    assert codes == set(range(N_CONFIGS))
    arr = np.array([[1, 0, 1, NO_EVE], [0, 1, 1, 1]])
    assert config_codes(*(arr[:, i] for i in range(4))).tolist() == [
        config_code(*row) for row in arr.tolist()
    ]


@pytest.mark.parametrize(("bit", "basis"), list(itertools.product((0, 1), (0, 1))))
def test_alice_prepares_the_bb84_states(bit, basis):
    # With Bob in Z (no basis change) the state before measurement is Alice's state.
    circuit = bb84_circuit(BB84Config(alice_bit=bit, alice_basis=basis, bob_basis=0))
    expected = {(0, 0): "0", (1, 0): "1", (0, 1): "+", (1, 1): "-"}[bit, basis]
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    assert state.equiv(Statevector.from_label(expected))


def test_metadata_registers_and_terminal_measurements():
    circuit = bb84_circuit(BB84Config(alice_bit=1, alice_basis=1, bob_basis=0, eve_basis=1))
    assert circuit.metadata == {
        "protocol": "bb84",
        "alice_bit": 1,
        "alice_basis": "X",
        "bob_basis": "Z",
        "eve_basis": "X",
        "eve_attack": "intercept-resend",
        "code": 19,
    }
    assert [r.name for r in circuit.cregs] == ["bob", "eve"]
    assert [r.name for r in circuit.qregs] == ["signal", "probe"]
    names = [inst.operation.name for inst in circuit.data]
    assert names[-2:] == ["measure", "measure"]
    assert "measure" not in names[:-2]
    assert "bob" in circuit.draw(output="text").single_string()
    no_eve = bb84_circuit(BB84Config(alice_bit=0, alice_basis=0, bob_basis=0))
    assert [r.name for r in no_eve.cregs] == ["bob"] and no_eve.num_qubits == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alice_bit": 2, "alice_basis": 0, "bob_basis": 0},
        {"alice_bit": 0, "alice_basis": -1, "bob_basis": 0},
        {"alice_bit": 0, "alice_basis": 0, "bob_basis": 0, "eve_basis": 3},
    ],
)
def test_bad_configs(kwargs):
    with pytest.raises(ConfigError, match="must be"):
        BB84Config(**kwargs)


def test_bad_code():
    with pytest.raises(ConfigError, match="got 24"):
        BB84Config.from_code(24)
