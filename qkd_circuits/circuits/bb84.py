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
from qiskit.circuit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit.library import IGate

from qkd_circuits.attacks.intercept_resend import append_intercept_resend
from qkd_circuits.channel.noise import CHANNEL_LABEL
from qkd_circuits.errors import ConfigError

BASIS_NAMES = ("Z", "X")
NO_EVE = -1
"""Value of ``eve_basis`` for an exchange Eve leaves alone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BB84Config:
    """The choices that define one BB84 exchange circuit.

    Attributes:
        alice_bit: 0 or 1.
        alice_basis: 0 (Z) or 1 (X).
        bob_basis: 0 (Z) or 1 (X).
        eve_basis: 0 (Z) or 1 (X) when Eve intercepts, ``NO_EVE`` (-1) otherwise.
    """

    alice_bit: int
    alice_basis: int
    bob_basis: int
    eve_basis: int = NO_EVE

    def __post_init__(self) -> None:
        for name in ("alice_bit", "alice_basis", "bob_basis"):
            if getattr(self, name) not in (0, 1):
                raise ConfigError(f"{name} must be 0 or 1, got {getattr(self, name)!r}")
        if self.eve_basis not in (NO_EVE, 0, 1):
            raise ConfigError(f"eve_basis must be -1 (no Eve), 0 or 1, got {self.eve_basis!r}")

    @property
    def code(self) -> int:
        """Integer code in [0, 24): bit + 2 basis_A + 4 basis_B + 8 (eve_basis + 1)."""
        return config_code(self.alice_bit, self.alice_basis, self.bob_basis, self.eve_basis)

    @classmethod
    def from_code(cls, code: int) -> BB84Config:
        """Inverse of :attr:`code`."""
        if not 0 <= code < N_CONFIGS:
            raise ConfigError(f"BB84 configuration code must be in [0, {N_CONFIGS}), got {code!r}")
        return cls(
            alice_bit=code & 1,
            alice_basis=(code >> 1) & 1,
            bob_basis=(code >> 2) & 1,
            eve_basis=(code >> 3) - 1,
        )


N_CONFIGS = 24


def config_code(alice_bit: int, alice_basis: int, bob_basis: int, eve_basis: int) -> int:
    """Integer code of a configuration, in [0, 24)."""
    return alice_bit + 2 * alice_basis + 4 * bob_basis + 8 * (eve_basis + 1)


def config_codes(
    alice_bits: NDArray[np.integer],
    alice_bases: NDArray[np.integer],
    bob_bases: NDArray[np.integer],
    eve_bases: NDArray[np.integer],
) -> NDArray[np.int64]:
    """Elementwise :func:`config_code` over arrays of shape (n,); returns int64 (n,)."""
    code = alice_bits.astype(np.int64) + 2 * alice_bases.astype(np.int64)
    code += 4 * bob_bases.astype(np.int64) + 8 * (eve_bases.astype(np.int64) + 1)
    return code


def bb84_circuit(config: BB84Config) -> QuantumCircuit:
    """Build the circuit of one BB84 exchange.

    The channel is ``IGate(label="channel")`` on the signal qubit, placed after
    Eve (she sits at Alice's output, before the channel noise) and before Bob.
    ``circuit.metadata`` records the configuration.
    """
    signal = QuantumRegister(1, "signal")
    bob = ClassicalRegister(1, "bob")
    eve_acts = config.eve_basis != NO_EVE
    if eve_acts:
        probe = QuantumRegister(1, "probe")
        eve = ClassicalRegister(1, "eve")
        qc = QuantumCircuit(signal, probe, bob, eve)
    else:
        qc = QuantumCircuit(signal, bob)
    a, b = BASIS_NAMES[config.alice_basis], BASIS_NAMES[config.bob_basis]
    e = BASIS_NAMES[config.eve_basis] if eve_acts else "-"
    qc.name = f"bb84_a{config.alice_bit}{a}_e{e}_b{b}"
    if config.alice_bit:
        qc.x(signal[0])
    if config.alice_basis:
        qc.h(signal[0])
    qc.barrier(label="alice")
    if eve_acts:
        append_intercept_resend(qc, signal[0], probe[0], basis=config.eve_basis)
        qc.barrier(label="eve")
    qc.append(IGate(label=CHANNEL_LABEL), [signal[0]])
    qc.barrier(label="bob")
    if config.bob_basis:
        qc.h(signal[0])
    qc.measure(signal[0], bob[0])
    if eve_acts:
        qc.measure(probe[0], eve[0])
    qc.metadata = {
        "protocol": "bb84",
        "alice_bit": config.alice_bit,
        "alice_basis": a,
        "bob_basis": b,
        "eve_basis": e,
        "code": config.code,
    }
    return qc
