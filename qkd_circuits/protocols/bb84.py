"""BB84's quantum phase: random choices, circuits, execution, raw records.

Bennett & Brassard 1984 (arXiv:2003.06557). For each exchange Alice draws a
bit and a basis, Bob draws a basis, and (with probability ``eve.fraction``)
Eve intercepts in a basis of her own. Exchanges are run as real circuits
(:mod:`qkd_circuits.circuits.bb84`) through an executor, grouped by
configuration (fast) or one circuit per exchange (literal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.attacks.intercept_resend import EveSpec
from qkd_circuits.circuits.bb84 import NO_EVE, BB84Config, bb84_circuit, config_codes
from qkd_circuits.errors import ConfigError
from qkd_circuits.execution.base import Executor, ProgressCallback, run_grouped, run_literal
from qkd_circuits.randomness import RNGLike, ensure_secret_rng
from qkd_circuits.specs import check_int

ASYMPTOTIC_QBER_THRESHOLD = 0.110028
"""BB84 one-way threshold: 1 - 2 h(e) = 0 (Shor & Preskill, quant-ph/0003004)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeRecords:
    """Raw records of the quantum phase; every array has shape (n,).

    Attributes:
        alice_bits: uint8 0/1.
        alice_bases: uint8, 0 = Z, 1 = X.
        bob_bases: uint8, 0 = Z, 1 = X.
        bob_bits: uint8 0/1, Bob's measurement results.
        eve_bases: int8, 0 = Z, 1 = X, -1 where Eve did not intercept.
        eve_bits: uint8 0/1, Eve's measurement results (0 where she did not intercept).
    """

    alice_bits: NDArray[np.uint8]
    alice_bases: NDArray[np.uint8]
    bob_bases: NDArray[np.uint8]
    bob_bits: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]
    eve_bits: NDArray[np.uint8]

    def __post_init__(self) -> None:
        n = self.alice_bits.shape
        for name in ("alice_bases", "bob_bases", "bob_bits", "eve_bases", "eve_bits"):
            if getattr(self, name).shape != n:
                raise ConfigError(
                    f"{name} has shape {getattr(self, name).shape}, expected {n} like alice_bits"
                )

    @property
    def n(self) -> int:
        """Number of exchanges."""
        return int(self.alice_bits.size)

    @property
    def codes(self) -> NDArray[np.int64]:
        """Configuration code of each exchange (see :func:`config_codes`)."""
        return config_codes(self.alice_bits, self.alice_bases, self.bob_bases, self.eve_bases)

    @classmethod
    def from_outcomes(
        cls, choices: BB84Choices, outcomes: dict[str, NDArray[np.uint8]]
    ) -> ExchangeRecords:
        """The records of ``choices`` run through circuits whose registers gave ``outcomes``.

        Args:
            choices: The run's random choices.
            outcomes: Per-exchange results of the ``bob`` and ``eve`` registers, uint8 (n,).
        """
        return cls(
            alice_bits=choices.alice_bits,
            alice_bases=choices.alice_bases,
            bob_bases=choices.bob_bases,
            bob_bits=outcomes["bob"],
            eve_bases=choices.eve_bases,
            eve_bits=outcomes["eve"],
        )

    def circuit(self, index: int) -> QuantumCircuit:
        """The circuit that exchange ``index`` ran (for inspection and drawing)."""
        if not -self.n <= index < self.n:
            raise ConfigError(f"exchange index {index!r} out of range for {self.n} exchanges")
        return bb84_circuit(BB84Config.from_code(int(self.codes[index])))


@dataclass(frozen=True, slots=True, kw_only=True)
class BB84Choices:
    """The random choices of one run, before any qubit is sent; arrays of shape (n,)."""

    alice_bits: NDArray[np.uint8]
    alice_bases: NDArray[np.uint8]
    bob_bases: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]

    @property
    def codes(self) -> NDArray[np.int64]:
        """Configuration code of each exchange (see :func:`config_codes`)."""
        return config_codes(self.alice_bits, self.alice_bases, self.bob_bases, self.eve_bases)


def draw_choices(n: int, *, eve: EveSpec | None = None, rng: RNGLike = None) -> BB84Choices:
    """Draw Alice's bits and bases, Bob's bases and Eve's (uniform, independent).

    Args:
        n: Number of exchanges (>= 1).
        eve: Which exchanges Eve attacks (each independently with probability
            ``eve.fraction``), in a uniformly random basis; None means no Eve.
        rng: Secret generator or seed (None: a fresh generator keyed from the OS CSPRNG,
            see :mod:`qkd_circuits.randomness`).
    """
    n = check_int(n, name="number of qubits", minimum=1)
    gen = ensure_secret_rng(rng)
    alice_bits = gen.integers(0, 2, size=n, dtype=np.uint8)
    alice_bases = gen.integers(0, 2, size=n, dtype=np.uint8)
    bob_bases = gen.integers(0, 2, size=n, dtype=np.uint8)
    eve_bases = np.full(n, NO_EVE, dtype=np.int8)
    if eve is not None and eve.active:
        attacked = gen.random(n) < eve.fraction
        eve_bases[attacked] = gen.integers(0, 2, size=int(attacked.sum()), dtype=np.int8)
    return BB84Choices(
        alice_bits=alice_bits, alice_bases=alice_bases, bob_bases=bob_bases, eve_bases=eve_bases
    )


def circuit_for_code(code: int) -> QuantumCircuit:
    """The BB84 circuit of a configuration code (see :func:`config_codes`)."""
    return bb84_circuit(BB84Config.from_code(code))


def run_quantum_phase(
    choices: BB84Choices,
    executor: Executor,
    *,
    literal: bool = False,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> ExchangeRecords:
    """Send every exchange through its circuit on ``executor`` and collect the raw records.

    Args:
        choices: The run's random choices (:func:`draw_choices`).
        executor: Where the circuits run (e.g. :class:`~qkd_circuits.execution.AerExecutor`).
        literal: One circuit per exchange instead of one per configuration.
        rng: Secret generator or seed for the outcome draws, scatter permutations and
            simulator seeds (None: OS CSPRNG).
        progress: ``progress(done, total)`` callback (literal path reports per chunk).
    """
    gen = ensure_secret_rng(rng)
    codes = choices.codes
    if literal:
        out = run_literal(
            codes, circuit_for_code, ("bob", "eve"), executor, rng=gen, progress=progress
        )
    else:
        out = run_grouped(codes, circuit_for_code, ("bob", "eve"), executor, rng=gen)
        if progress is not None:
            progress(codes.size, codes.size)
    return ExchangeRecords.from_outcomes(choices, out)
