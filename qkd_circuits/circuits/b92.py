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
from qiskit.circuit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit.library import IGate

from qkd_circuits.attacks.intercept_resend import append_intercept_resend
from qkd_circuits.channel.noise import CHANNEL_LABEL
from qkd_circuits.errors import ConfigError

BASIS_NAMES = ("Z", "X")
"""Bob's measurement bases (and Eve's): value 0 is Z, 1 is X."""
STATE_NAMES = ("|0>", "|+>")
"""Alice's state for bit 0 and bit 1."""
NO_EVE = -1
"""Value of ``eve_basis`` for an exchange Eve leaves alone."""
N_CONFIGS = 12
"""Number of configuration codes: 2 bits (Alice) x 2 bases (Bob) x 3 (Eve: none, Z, X)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class B92Config:
    """The choices that define one B92 exchange circuit.

    Attributes:
        alice_bit: 0 (Alice sends |0>) or 1 (|+>).
        bob_basis: 0 (Z) or 1 (X).
        eve_basis: 0 (Z) or 1 (X) when Eve intercepts, ``NO_EVE`` (-1) otherwise.
    """

    alice_bit: int
    bob_basis: int
    eve_basis: int = NO_EVE

    def __post_init__(self) -> None:
        if self.alice_bit not in (0, 1):
            raise ConfigError(f"alice_bit must be 0 or 1, got {self.alice_bit!r}")
        if self.bob_basis not in (0, 1):
            raise ConfigError(f"bob_basis must be 0 (Z) or 1 (X), got {self.bob_basis!r}")
        if self.eve_basis not in (NO_EVE, 0, 1):
            raise ConfigError(
                f"eve_basis must be -1 (no Eve), 0 (Z) or 1 (X), got {self.eve_basis!r}"
            )

    @property
    def code(self) -> int:
        """Integer code in [0, 12): bit + 2 basis_B + 4 (eve_basis + 1)."""
        return config_code(self.alice_bit, self.bob_basis, self.eve_basis)

    @classmethod
    def from_code(cls, code: int) -> B92Config:
        """Inverse of :attr:`code`."""
        if not 0 <= code < N_CONFIGS:
            raise ConfigError(f"B92 configuration code must be in [0, {N_CONFIGS}), got {code!r}")
        return cls(alice_bit=code & 1, bob_basis=(code >> 1) & 1, eve_basis=(code >> 2) - 1)


def config_code(alice_bit: int, bob_basis: int, eve_basis: int) -> int:
    """Integer code of a configuration, in [0, 12)."""
    return alice_bit + 2 * bob_basis + 4 * (eve_basis + 1)


def config_codes(
    alice_bits: NDArray[np.integer],
    bob_bases: NDArray[np.integer],
    eve_bases: NDArray[np.integer],
) -> NDArray[np.int64]:
    """Elementwise :func:`config_code` over arrays of shape (n,); returns int64 (n,)."""
    code = alice_bits.astype(np.int64) + 2 * bob_bases.astype(np.int64)
    code += 4 * (eve_bases.astype(np.int64) + 1)
    return code


def b92_circuit(config: B92Config) -> QuantumCircuit:
    """Build the circuit of one B92 exchange.

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
    b = BASIS_NAMES[config.bob_basis]
    e = BASIS_NAMES[config.eve_basis] if eve_acts else "-"
    qc.name = f"b92_a{config.alice_bit}_e{e}_b{b}"
    if config.alice_bit:
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
        "protocol": "b92",
        "alice_bit": config.alice_bit,
        "alice_state": STATE_NAMES[config.alice_bit],
        "bob_basis": b,
        "eve_basis": e,
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
