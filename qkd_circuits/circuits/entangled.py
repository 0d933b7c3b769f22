"""Entanglement-based exchange circuits (BBM92, E91): a Bell pair, Eve on Bob's half, two
measurements in the XZ plane.

The source prepares |Φ+> = (|00> + |11>)/√2 (Bell 1964; Bennett, Brassard & Mermin,
PRL 68, 557 (1992); Ekert, PRL 67, 661 (1991)). Qubit 0 (register ``bob_half``) is
Bob's half: it travels, so Eve's intercept-resend (optional) and the channel
``IGate(label="channel")`` act on it, and the noise model and the readout error act on
it alone. Qubit 1 (``alice_half``) is Alice's half, kept at the source and measured
there. Qubit 2 (``probe``), present only when Eve attacks, is her probe: such a circuit
has 3 qubits and runs on Aer only (the device path takes circuits of at most 2 qubits);
without Eve a circuit has 2 qubits and runs on a device, placed on a coupled pair.
Classical registers: ``alice``, ``bob`` and, with Eve, ``eve`` (1 bit each). All
measurements are terminal.

A *setting* is a measurement direction at angle θ in the XZ plane of the Bloch
sphere, the observable ``cos θ Z + sin θ X``: Z (θ = 0), X (π/2), W (π/4), V (−π/4).
It is measured as ``Ry(−θ)`` then Z (``Ry(θ)|0>`` is its +1 eigenstate); outcome 0 is
the eigenvalue +1. For |Φ+>, ``<Z⊗Z> = <X⊗X> = 1`` and ``<Z⊗X> = <X⊗Z> = 0``, so the
correlation of settings θa, θb is ``E(θa, θb) = cos θa cos θb + sin θa sin θb =
cos(θa − θb)`` and the outcomes differ with probability ``(1 − E)/2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import ClassicalRegister, QuantumCircuit, QuantumRegister

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.codes import Codes, check_choice, decode, encode, encode_arrays
from qkd_circuits.circuits.exchange import (
    NO_EVE,
    append_eve_readout,
    append_transit,
    eve_attack,
    eve_label,
)

SETTING_NAMES = ("Z", "X", "W", "V")
"""Name of each setting value: Alice uses 0 (Z) and 1 (X); Bob any of the four."""

SETTING_ANGLES = (0.0, math.pi / 2, math.pi / 4, -math.pi / 4)
"""Angle θ in the XZ plane of each setting value (radians)."""

N_CONFIGS = 24
"""Configuration codes are in [0, 24): Alice 2 settings × Bob 4 × Eve 3 (none, Z, X)."""

ALICE_SETTINGS = 2
BOB_SETTINGS = 4
RADICES = (ALICE_SETTINGS, BOB_SETTINGS, 3)
"""Digits of a configuration code: Alice's setting, Bob's, Eve's basis + 1."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EntangledConfig:
    """The choices that define one entanglement-based exchange circuit.

    Attributes:
        alice_setting: 0 (Z) or 1 (X).
        bob_setting: 0 (Z), 1 (X), 2 (W, π/4) or 3 (V, −π/4).
        eve_basis: Eve's choice where she attacks Bob's half: her basis, 0 (Z) or 1 (X), for a
            random or fixed-basis intercept-resend, 0 for any other attack
            (:mod:`~qkd_circuits.attacks.base`); ``NO_EVE`` (-1) otherwise.
    """

    alice_setting: int
    bob_setting: int
    eve_basis: int = NO_EVE

    def __post_init__(self) -> None:
        check_choice(
            self.alice_setting,
            range(ALICE_SETTINGS),
            name="alice_setting",
            expected="0 (Z) or 1 (X)",
        )
        check_choice(
            self.bob_setting,
            range(BOB_SETTINGS),
            name="bob_setting",
            expected="0 (Z), 1 (X), 2 (W) or 3 (V)",
        )
        check_choice(
            self.eve_basis, (NO_EVE, 0, 1), name="eve_basis", expected="-1 (no Eve), 0 or 1"
        )

    @property
    def code(self) -> int:
        """Integer code in [0, 24): alice + 2 bob + 8 (eve_basis + 1)."""
        return encode((self.alice_setting, self.bob_setting, self.eve_basis + 1), RADICES)

    @classmethod
    def from_code(cls, code: int) -> EntangledConfig:
        """Inverse of :attr:`code`."""
        alice, bob, eve = decode(code, RADICES, what="entangled")
        return cls(alice_setting=alice, bob_setting=bob, eve_basis=eve - 1)


def config_codes(
    alice_settings: NDArray[np.integer],
    bob_settings: NDArray[np.integer],
    eve_bases: NDArray[np.integer],
) -> Codes:
    """Elementwise :attr:`EntangledConfig.code` over arrays of shape (n,); returns
    :data:`~qkd_circuits.circuits.codes.Codes` (n,)."""
    eve = eve_bases + 1  # NO_EVE (-1) -> 0
    return encode_arrays((alice_settings, bob_settings, eve), RADICES)


def _measure_in(qc: QuantumCircuit, qubit: int, setting: int) -> None:
    """Rotate ``qubit`` so that a Z measurement measures ``setting`` (``Ry(−θ)``)."""
    theta = SETTING_ANGLES[setting]
    if theta != 0.0:
        qc.ry(-theta, qubit)


def entangled_circuit(
    config: EntangledConfig, *, protocol: str, eve: EveSpec | None = None
) -> QuantumCircuit:
    """Build the circuit of one entanglement-based exchange (module docstring).

    Args:
        config: The settings and Eve's basis.
        protocol: Name recorded in ``circuit.metadata`` and the circuit name
            (``"bbm92"``, ``"e91"``).
        eve: Eve's attack on Bob's half (None: random-basis intercept-resend); she reads
            her probe along Bob's announced setting.

    Returns:
        A circuit of 2 qubits (3 with Eve's probe), measurements terminal;
        ``circuit.metadata`` records the configuration.
    """
    bob_half = QuantumRegister(1, "bob_half")
    alice_half = QuantumRegister(1, "alice_half")
    alice, bob = ClassicalRegister(1, "alice"), ClassicalRegister(1, "bob")
    eve_acts = config.eve_basis != NO_EVE
    if eve_acts:
        probe, eve_register = QuantumRegister(1, "probe"), ClassicalRegister(1, "eve")
        qc = QuantumCircuit(bob_half, alice_half, probe, alice, bob, eve_register)
    else:
        qc = QuantumCircuit(bob_half, alice_half, alice, bob)
    a, b = SETTING_NAMES[config.alice_setting], SETTING_NAMES[config.bob_setting]
    e = eve_label(config.eve_basis, eve)
    qc.name = f"{protocol}_a{a}_e{e}_b{b}"
    qc.h(alice_half[0])
    qc.cx(alice_half[0], bob_half[0])
    qc.barrier(label="source")
    append_transit(
        qc, bob_half[0], probe[0] if eve_acts else None, eve_basis=config.eve_basis, eve=eve
    )
    qc.barrier(label="measure")
    _measure_in(qc, 1, config.alice_setting)
    _measure_in(qc, 0, config.bob_setting)
    qc.measure(alice_half[0], alice[0])
    qc.measure(bob_half[0], bob[0])
    if eve_acts:
        append_eve_readout(qc, probe[0], announced=b, eve=eve)
        qc.measure(probe[0], eve_register[0])
    qc.metadata = {
        "protocol": protocol,
        "alice_setting": a,
        "bob_setting": b,
        "eve_basis": e,
        "eve_attack": eve_attack(config.eve_basis, eve),
        "code": config.code,
    }
    return qc


__all__ = [
    "NO_EVE",
    "N_CONFIGS",
    "SETTING_ANGLES",
    "SETTING_NAMES",
    "EntangledConfig",
    "config_codes",
    "entangled_circuit",
]
