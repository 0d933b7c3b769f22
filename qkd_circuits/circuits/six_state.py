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
from qiskit.circuit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit.library import IGate

from qkd_circuits.attacks.intercept_resend import append_intercept_resend
from qkd_circuits.channel.noise import CHANNEL_LABEL
from qkd_circuits.errors import ConfigError

BASIS_NAMES = ("Z", "X", "Y")
"""Name of each basis value (0, 1, 2)."""
NO_EVE = -1
"""Value of ``eve_basis`` for an exchange Eve leaves alone."""
N_CONFIGS = 72
"""Number of configuration codes: 2 bits x 3 bases (Alice) x 3 (Bob) x 4 (Eve: none, Z, X, Y)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SixStateConfig:
    """The choices that define one six-state exchange circuit.

    Attributes:
        alice_bit: 0 or 1.
        alice_basis: 0 (Z), 1 (X) or 2 (Y).
        bob_basis: 0 (Z), 1 (X) or 2 (Y).
        eve_basis: 0 (Z), 1 (X) or 2 (Y) when Eve intercepts, ``NO_EVE`` (-1) otherwise.
    """

    alice_bit: int
    alice_basis: int
    bob_basis: int
    eve_basis: int = NO_EVE

    def __post_init__(self) -> None:
        if self.alice_bit not in (0, 1):
            raise ConfigError(f"alice_bit must be 0 or 1, got {self.alice_bit!r}")
        for name in ("alice_basis", "bob_basis"):
            if getattr(self, name) not in (0, 1, 2):
                raise ConfigError(
                    f"{name} must be 0 (Z), 1 (X) or 2 (Y), got {getattr(self, name)!r}"
                )
        if self.eve_basis not in (NO_EVE, 0, 1, 2):
            raise ConfigError(
                f"eve_basis must be -1 (no Eve), 0 (Z), 1 (X) or 2 (Y), got {self.eve_basis!r}"
            )

    @property
    def code(self) -> int:
        """Integer code in [0, 72): bit + 2 basis_A + 6 basis_B + 18 (eve_basis + 1)."""
        return config_code(self.alice_bit, self.alice_basis, self.bob_basis, self.eve_basis)

    @classmethod
    def from_code(cls, code: int) -> SixStateConfig:
        """Inverse of :attr:`code`."""
        if not 0 <= code < N_CONFIGS:
            raise ConfigError(
                f"six-state configuration code must be in [0, {N_CONFIGS}), got {code!r}"
            )
        return cls(
            alice_bit=code % 2,
            alice_basis=(code // 2) % 3,
            bob_basis=(code // 6) % 3,
            eve_basis=code // 18 - 1,
        )


def config_code(alice_bit: int, alice_basis: int, bob_basis: int, eve_basis: int) -> int:
    """Integer code of a configuration, in [0, 72)."""
    return alice_bit + 2 * alice_basis + 6 * bob_basis + 18 * (eve_basis + 1)


def config_codes(
    alice_bits: NDArray[np.integer],
    alice_bases: NDArray[np.integer],
    bob_bases: NDArray[np.integer],
    eve_bases: NDArray[np.integer],
) -> NDArray[np.int64]:
    """Elementwise :func:`config_code` over arrays of shape (n,); returns int64 (n,)."""
    code = alice_bits.astype(np.int64) + 2 * alice_bases.astype(np.int64)
    code += 6 * bob_bases.astype(np.int64) + 18 * (eve_bases.astype(np.int64) + 1)
    return code


def six_state_circuit(config: SixStateConfig) -> QuantumCircuit:
    """Build the circuit of one six-state exchange.

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
    qc.name = f"six_state_a{config.alice_bit}{a}_e{e}_b{b}"
    if config.alice_bit:
        qc.x(signal[0])
    if config.alice_basis in (1, 2):
        qc.h(signal[0])
    if config.alice_basis == 2:
        qc.s(signal[0])
    qc.barrier(label="alice")
    if eve_acts:
        append_intercept_resend(qc, signal[0], probe[0], basis=config.eve_basis)
        qc.barrier(label="eve")
    qc.append(IGate(label=CHANNEL_LABEL), [signal[0]])
    qc.barrier(label="bob")
    if config.bob_basis == 2:
        qc.sdg(signal[0])
    if config.bob_basis in (1, 2):
        qc.h(signal[0])
    qc.measure(signal[0], bob[0])
    if eve_acts:
        qc.measure(probe[0], eve[0])
    qc.metadata = {
        "protocol": "six-state",
        "alice_bit": config.alice_bit,
        "alice_basis": a,
        "bob_basis": b,
        "eve_basis": e,
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
