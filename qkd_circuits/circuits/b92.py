"""B92 exchange circuits: Alice prepares one of two non-orthogonal states, Eve (optionally)
probes, the channel acts, Bob measures in Z or X.

Bennett, "Quantum cryptography using any two nonorthogonal states", PRL 68, 3121
(1992). Alice sends |0> for bit 0 and |+> = H|0> for bit 1 (overlap <0|+> = 1/√2).
Bob measures in Z (basis 0) or in X (basis 1, H then a Z measurement). An outcome
1 is conclusive: in Z it is |1>, orthogonal to |0>, so the state was |+> (bit 1);
in X it is |->, orthogonal to |+>, so the state was |0> (bit 0). Outcome 0 (|0> or
|+>) is inconclusive. Eve's intercept-resend in Z or X is a probe interaction
(:func:`~qkd_circuits.attacks.intercept_resend.append_intercept_resend`).

Qubit 0 (register ``signal``) is the photon; qubit 1 (register ``probe``, present
only when Eve attacks) is Eve's probe. Classical registers: ``bob`` (1 bit) and,
with Eve, ``eve`` (1 bit). All measurements are terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.codes import Codes, check_choice, decode, encode, encode_arrays
from qkd_circuits.circuits.exchange import NO_EVE, eve_attack, eve_label, prepare_and_measure
from qkd_circuits.errors import ConfigError

BASIS_NAMES = ("Z", "X")
"""Bob's measurement bases (and Eve's): value 0 is Z, 1 is X."""
STATE_NAMES = ("|0>", "|+>")
"""Alice's state for bit 0 and bit 1."""
N_CONFIGS = 12
"""Number of configuration codes: 2 bits (Alice) x 2 bases (Bob) x 3 (Eve: none, Z, X)."""
RADICES = (2, 2, 3)
"""Digits of a configuration code: Alice's bit, Bob's basis, Eve's basis + 1."""


@dataclass(frozen=True, slots=True, kw_only=True)
class B92Config:
    """The choices that define one B92 exchange circuit.

    Attributes:
        alice_bit: 0 (Alice sends |0>) or 1 (|+>).
        bob_basis: 0 (Z) or 1 (X).
        eve_basis: Eve's choice where she attacks: her basis, 0 (Z) or 1 (X), for a
            random or fixed-basis intercept-resend, 0 for any other attack
            (:mod:`~qkd_circuits.attacks.base`); ``NO_EVE`` (-1) otherwise.
    """

    alice_bit: int
    bob_basis: int
    eve_basis: int = NO_EVE

    def __post_init__(self) -> None:
        check_choice(self.alice_bit, (0, 1), name="alice_bit", expected="0 or 1")
        check_choice(self.bob_basis, (0, 1), name="bob_basis", expected="0 (Z) or 1 (X)")
        check_choice(
            self.eve_basis, (NO_EVE, 0, 1), name="eve_basis", expected="-1 (no Eve), 0 (Z) or 1 (X)"
        )

    @property
    def code(self) -> int:
        """Integer code in [0, 12): bit + 2 basis_B + 4 (eve_basis + 1)."""
        return config_code(self.alice_bit, self.bob_basis, self.eve_basis)

    @classmethod
    def from_code(cls, code: int) -> B92Config:
        """Inverse of :attr:`code`."""
        bit, bob, eve = decode(code, RADICES, what="B92")
        return cls(alice_bit=bit, bob_basis=bob, eve_basis=eve - 1)


def config_code(alice_bit: int, bob_basis: int, eve_basis: int) -> int:
    """Integer code of a configuration, in [0, 12)."""
    return encode((alice_bit, bob_basis, eve_basis + 1), RADICES)


def config_codes(
    alice_bits: NDArray[np.integer],
    bob_bases: NDArray[np.integer],
    eve_bases: NDArray[np.integer],
) -> Codes:
    """Elementwise :func:`config_code` over arrays of shape (n,); returns
    :data:`~qkd_circuits.circuits.codes.Codes` (n,)."""
    return encode_arrays((alice_bits, bob_bases, eve_bases + 1), RADICES)


def b92_circuit(config: B92Config, *, eve: EveSpec | None = None) -> QuantumCircuit:
    """Build the circuit of one B92 exchange
    (:func:`~qkd_circuits.circuits.exchange.prepare_and_measure`): Alice's |0> is bit 0
    in Z and her |+> bit 0 in X.

    The channel is ``IGate(label="channel")`` on the signal qubit, placed after
    Eve (she sits at Alice's output, before the channel noise) and before Bob.
    ``circuit.metadata`` records the configuration. Bob announces only whether his
    result was conclusive (his basis is his key bit), so Eve reads her probe in Z.

    Raises:
        ConfigError: ``eve`` is a Breidbart intercept-resend. BB84's Breidbart basis
            (W, between Z and X) tells |0> from |1> and |+> from |->, but B92's two
            states |0> and |+> are equally close to W's outcomes: Eve would learn
            nothing while disturbing every exchange she touches.
    """
    if eve is not None and eve.kind == "intercept-resend" and eve.basis == "breidbart":
        raise ConfigError(
            "intercept-resend:basis=breidbart is BB84's Breidbart basis: its outcomes are "
            "equally likely for B92's |0> and |+>, so Eve learns nothing; use basis=z, x "
            "or random for b92"
        )
    qc = prepare_and_measure(
        bit=0,
        basis=config.alice_bit,
        bob_basis=config.bob_basis,
        eve_basis=config.eve_basis,
        eve=eve,
        eve_readout="Z",
    )
    b = BASIS_NAMES[config.bob_basis]
    e = eve_label(config.eve_basis, eve)
    qc.name = f"b92_a{config.alice_bit}_e{e}_b{b}"
    qc.metadata = {
        "protocol": "b92",
        "alice_bit": config.alice_bit,
        "alice_state": STATE_NAMES[config.alice_bit],
        "bob_basis": b,
        "eve_basis": e,
        "eve_attack": eve_attack(config.eve_basis, eve),
        "code": config.code,
    }
    return qc


__all__ = [
    "BASIS_NAMES",
    "NO_EVE",
    "N_CONFIGS",
    "STATE_NAMES",
    "B92Config",
    "b92_circuit",
    "config_code",
    "config_codes",
]
