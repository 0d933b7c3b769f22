"""Six-state exchange circuits: Alice prepares, Eve (optionally) probes, the channel acts,
Bob measures.

Bruß, "Optimal eavesdropping in quantum cryptography with six states", PRL 81,
3018 (1998), arXiv:quant-ph/9805019. Bases: 0 = Z, 1 = X, 2 = Y (pairwise
mutually unbiased). Bit b is prepared as

* Z: |b>                      (X^b),
* X: H|b>, i.e. |+> or |->     (X^b, then H),
* Y: S H|b>, i.e. |+i> or |-i> (X^b, then H, then S);

Bob measures in Z directly, in X after H, in Y after Sdg then H (which takes
|+i> to |0> and |-i> to |1>). Eve's intercept-resend in any of the three
bases is a probe interaction (:func:`~qkd_circuits.attacks.intercept_resend.
append_intercept_resend`).

Qubit 0 (register ``signal``) is the photon; qubit 1 (register ``probe``,
present only when Eve attacks) is Eve's probe. Classical registers: ``bob``
(1 bit) and, with Eve, ``eve`` (1 bit). All measurements are terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.codes import Codes, check_choice, decode, encode, encode_arrays
from qkd_circuits.circuits.exchange import NO_EVE, eve_attack, eve_label, prepare_and_measure

BASIS_NAMES = ("Z", "X", "Y")
"""Name of each basis value (0, 1, 2)."""
N_CONFIGS = 72
"""Number of configuration codes: 2 bits x 3 bases (Alice) x 3 (Bob) x 4 (Eve: none, Z, X, Y)."""
RADICES = (2, 3, 3, 4)
"""Digits of a configuration code: Alice's bit, her basis, Bob's basis, Eve's basis + 1."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SixStateConfig:
    """The choices that define one six-state exchange circuit.

    Attributes:
        alice_bit: 0 or 1.
        alice_basis: 0 (Z), 1 (X) or 2 (Y).
        bob_basis: 0 (Z), 1 (X) or 2 (Y).
        eve_basis: Eve's choice where she attacks: her basis, 0 (Z), 1 (X) or 2 (Y), for a
            random or fixed-basis intercept-resend, 0 for any other attack
            (:mod:`~qkd_circuits.attacks.base`); ``NO_EVE`` (-1) otherwise.
    """

    alice_bit: int
    alice_basis: int
    bob_basis: int
    eve_basis: int = NO_EVE

    def __post_init__(self) -> None:
        check_choice(self.alice_bit, (0, 1), name="alice_bit", expected="0 or 1")
        for name in ("alice_basis", "bob_basis"):
            check_choice(
                getattr(self, name), (0, 1, 2), name=name, expected="0 (Z), 1 (X) or 2 (Y)"
            )
        check_choice(
            self.eve_basis,
            (NO_EVE, 0, 1, 2),
            name="eve_basis",
            expected="-1 (no Eve), 0 (Z), 1 (X) or 2 (Y)",
        )

    @property
    def code(self) -> int:
        """Integer code in [0, 72): bit + 2 basis_A + 6 basis_B + 18 (eve_basis + 1)."""
        return config_code(self.alice_bit, self.alice_basis, self.bob_basis, self.eve_basis)

    @classmethod
    def from_code(cls, code: int) -> SixStateConfig:
        """Inverse of :attr:`code`."""
        bit, alice, bob, eve = decode(code, RADICES, what="six-state")
        return cls(alice_bit=bit, alice_basis=alice, bob_basis=bob, eve_basis=eve - 1)


def config_code(alice_bit: int, alice_basis: int, bob_basis: int, eve_basis: int) -> int:
    """Integer code of a configuration, in [0, 72)."""
    return encode((alice_bit, alice_basis, bob_basis, eve_basis + 1), RADICES)


def config_codes(
    alice_bits: NDArray[np.integer],
    alice_bases: NDArray[np.integer],
    bob_bases: NDArray[np.integer],
    eve_bases: NDArray[np.integer],
) -> Codes:
    """Elementwise :func:`config_code` over arrays of shape (n,); returns
    :data:`~qkd_circuits.circuits.codes.Codes` (n,)."""
    eve = eve_bases + 1  # NO_EVE (-1) -> 0
    return encode_arrays((alice_bits, alice_bases, bob_bases, eve), RADICES)


def six_state_circuit(config: SixStateConfig, *, eve: EveSpec | None = None) -> QuantumCircuit:
    """Build the circuit of one six-state exchange
    (:func:`~qkd_circuits.circuits.exchange.prepare_and_measure`).

    The channel is ``IGate(label="channel")`` on the signal qubit, placed after
    Eve (she sits at Alice's output, before the channel noise) and before Bob.
    ``circuit.metadata`` records the configuration.
    """
    qc = prepare_and_measure(
        bit=config.alice_bit,
        basis=config.alice_basis,
        bob_basis=config.bob_basis,
        eve_basis=config.eve_basis,
        eve=eve,
    )
    a, b = BASIS_NAMES[config.alice_basis], BASIS_NAMES[config.bob_basis]
    e = eve_label(config.eve_basis, eve)
    qc.name = f"six_state_a{config.alice_bit}{a}_e{e}_b{b}"
    qc.metadata = {
        "protocol": "six-state",
        "alice_bit": config.alice_bit,
        "alice_basis": a,
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
    "SixStateConfig",
    "config_code",
    "config_codes",
    "six_state_circuit",
]
