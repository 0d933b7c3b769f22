"""BB84 exchange circuits: Alice prepares, Eve (optionally) probes, the channel acts, Bob measures.

Bennett & Brassard, Proc. IEEE ICCSSP 1984 (arXiv:2003.06557 reprint).
Bases: 0 = Z (computational), 1 = X (Hadamard). Bit b in basis Z is |b>,
in basis X it is H|b>.

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

BASIS_NAMES = ("Z", "X")
RADICES = (2, 2, 2, 3)
"""Digits of a configuration code: Alice's bit, her basis, Bob's basis, Eve's basis + 1."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BB84Config:
    """The choices that define one BB84 exchange circuit.

    Attributes:
        alice_bit: 0 or 1.
        alice_basis: 0 (Z) or 1 (X).
        bob_basis: 0 (Z) or 1 (X).
        eve_basis: Eve's choice where she attacks: her basis, 0 (Z) or 1 (X), for a
            random or fixed-basis intercept-resend, 0 for any other attack
            (:mod:`~qkd_circuits.attacks.base`); ``NO_EVE`` (-1) otherwise.
    """

    alice_bit: int
    alice_basis: int
    bob_basis: int
    eve_basis: int = NO_EVE

    def __post_init__(self) -> None:
        for name in ("alice_bit", "alice_basis", "bob_basis"):
            check_choice(getattr(self, name), (0, 1), name=name, expected="0 or 1")
        check_choice(
            self.eve_basis, (NO_EVE, 0, 1), name="eve_basis", expected="-1 (no Eve), 0 or 1"
        )

    @property
    def code(self) -> int:
        """Integer code in [0, 24): bit + 2 basis_A + 4 basis_B + 8 (eve_basis + 1)."""
        return config_code(self.alice_bit, self.alice_basis, self.bob_basis, self.eve_basis)

    @classmethod
    def from_code(cls, code: int) -> BB84Config:
        """Inverse of :attr:`code`."""
        bit, alice, bob, eve = decode(code, RADICES, what="BB84")
        return cls(alice_bit=bit, alice_basis=alice, bob_basis=bob, eve_basis=eve - 1)


N_CONFIGS = 24


def config_code(alice_bit: int, alice_basis: int, bob_basis: int, eve_basis: int) -> int:
    """Integer code of a configuration, in [0, 24)."""
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


def bb84_circuit(
    config: BB84Config, *, eve: EveSpec | None = None, eve_readout: str | None = None
) -> QuantumCircuit:
    """Build the circuit of one BB84 exchange
    (:func:`~qkd_circuits.circuits.exchange.prepare_and_measure`).

    The channel is ``IGate(label="channel")`` on the signal qubit, placed after
    Eve (she sits at Alice's output, before the channel noise) and before Bob.
    ``circuit.metadata`` records the configuration. ``eve`` is Eve's attack (None:
    random-basis intercept-resend where the code has Eve) and ``eve_readout`` the
    direction she reads her probe along (None: Bob's announced basis).
    """
    qc = prepare_and_measure(
        bit=config.alice_bit,
        basis=config.alice_basis,
        bob_basis=config.bob_basis,
        eve_basis=config.eve_basis,
        eve=eve,
        eve_readout=eve_readout,
    )
    a, b = BASIS_NAMES[config.alice_basis], BASIS_NAMES[config.bob_basis]
    e = eve_label(config.eve_basis, eve)
    qc.name = f"bb84_a{config.alice_bit}{a}_e{e}_b{b}"
    qc.metadata = {
        "protocol": "bb84",
        "alice_bit": config.alice_bit,
        "alice_basis": a,
        "bob_basis": b,
        "eve_basis": e,
        "eve_attack": eve_attack(config.eve_basis, eve),
        "code": config.code,
    }
    return qc
