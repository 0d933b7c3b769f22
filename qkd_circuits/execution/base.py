"""The executor interface and the two ways of mapping exchanges onto circuits.

An :class:`Executor` runs a list of circuits, each with its own number of
shots, and returns every shot's outcome per classical register. How exchanges
become circuits is decided here, not by the executor:

* :func:`run_grouped` (fast): exchanges with the same configuration are the
  same circuit, built once and run with shots = the number of exchanges that
  use it; the group's per-shot outcomes are scattered back to the group's
  positions through a random permutation (shots are i.i.d., so this is
  statistically identical to running the exchanges one by one);
* :func:`run_literal`: one circuit per exchange, one shot each (teaching, and
  a check of the fast path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.errors import ConfigError

Outcomes = dict[str, NDArray[np.uint8]]
"""Register name -> per-shot bits, uint8 array of shape (shots, register size)."""

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while exchanges are executed."""


class Executor(Protocol):
    """Runs circuits and returns each shot's outcome per classical register."""

    name: str

    def run(
        self,
        circuits: Sequence[QuantumCircuit],
        shots: Sequence[int],
        *,
        rng: np.random.Generator,
    ) -> list[Outcomes]:
        """Run ``circuits[i]`` with ``shots[i]`` shots; return one :data:`Outcomes` per circuit.

        The order of the shots within a circuit's result carries no meaning.
        """
        ...

    def describe(self) -> dict[str, object]:
        """What the report should say about this executor (name, method, qubits, ...)."""
        ...


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """Exchanges grouped by configuration code.

    Attributes:
        codes: The distinct codes present, ascending, int64 (g,).
        shots: Number of exchanges with each code, int64 (g,).
        order: Exchange indices sorted by code (stable), int64 (n,); group i is
            ``order[starts[i]:starts[i+1]]``.
    """

    codes: NDArray[np.int64]
    shots: NDArray[np.int64]
    order: NDArray[np.int64]

    @classmethod
    def from_codes(cls, codes: NDArray[np.integer]) -> GroupPlan:
        """Group exchanges by their configuration codes (non-negative ints, shape (n,))."""
        codes = np.asarray(codes)
        counts = np.bincount(codes, minlength=1)
        present = np.flatnonzero(counts)
        return cls(present, counts[present], np.argsort(codes, kind="stable"))

    @property
    def n(self) -> int:
        """Number of exchanges."""
        return int(self.order.size)

    def scatter(
        self,
        results: Sequence[Outcomes],
        registers: Sequence[str],
        *,
        rng: np.random.Generator,
    ) -> dict[str, NDArray[np.uint8]]:
        """Put each group's shots back at its exchanges' positions, in random order.

        Args:
            results: One :data:`Outcomes` per group, in the order of :attr:`codes`.
            registers: 1-bit registers to return; absent from a circuit, they read 0.
            rng: Draws the permutation of each group's shots.

        Returns:
            Register name -> uint8 array of shape (n,).
        """
        if len(results) != self.codes.size:
            raise ConfigError(f"got {len(results)} results for {self.codes.size} groups")
        out = {r: np.zeros(self.n, dtype=np.uint8) for r in registers}
        starts = np.concatenate(([0], np.cumsum(self.shots)))
        for i, outcome in enumerate(results):
            positions = self.order[starts[i] : starts[i + 1]]
            perm = rng.permutation(positions.size)
            for r in registers:
                if r in outcome:
                    if outcome[r].shape[0] != positions.size:
                        raise ConfigError(
                            f"group {int(self.codes[i])}: register {r!r} has "
                            f"{outcome[r].shape[0]} shots, expected {positions.size}"
                        )
                    out[r][positions] = outcome[r][perm, 0]
        return out


def run_grouped(
    codes: NDArray[np.integer],
    circuit_for_code: Callable[[int], QuantumCircuit],
    registers: Sequence[str],
    executor: Executor,
    *,
    rng: np.random.Generator,
) -> dict[str, NDArray[np.uint8]]:
    """Run exchanges grouped by configuration and scatter the outcomes back.

    Args:
        codes: Configuration code of each exchange, non-negative ints, shape (n,).
        circuit_for_code: Builds the circuit of a configuration code.
        registers: Classical registers to return (1-bit registers; bit 0 is used).
            A register absent from a circuit reads 0 for that circuit's exchanges.
        executor: Runs the distinct circuits.
        rng: Draws the scatter permutations (and the executor's seeds).

    Returns:
        Register name -> uint8 array of shape (n,), the outcome of each exchange.
    """
    plan = GroupPlan.from_codes(codes)
    circuits = [circuit_for_code(int(c)) for c in plan.codes]
    results = executor.run(circuits, [int(s) for s in plan.shots], rng=rng)
    return plan.scatter(results, registers, rng=rng)


def run_literal(
    codes: NDArray[np.integer],
    circuit_for_code: Callable[[int], QuantumCircuit],
    registers: Sequence[str],
    executor: Executor,
    *,
    rng: np.random.Generator,
    chunk_size: int = 2048,
    progress: ProgressCallback | None = None,
) -> dict[str, NDArray[np.uint8]]:
    """Run one circuit per exchange, one shot each, in chunks of ``chunk_size`` circuits.

    Same arguments and return value as :func:`run_grouped`. Each exchange gets
    its own circuit object (a fresh copy), as a user stepping through the
    protocol exchange by exchange would build it.
    """
    codes = np.asarray(codes)
    n = codes.size
    templates: Mapping[int, QuantumCircuit] = {
        int(c): circuit_for_code(int(c)) for c in np.unique(codes)
    }
    out = {r: np.zeros(n, dtype=np.uint8) for r in registers}
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        circuits = [templates[int(c)].copy() for c in codes[start:stop]]
        results = executor.run(circuits, [1] * len(circuits), rng=rng)
        for i, outcome in enumerate(results, start=start):
            for r in registers:
                if r in outcome:
                    out[r][i] = outcome[r][0, 0]
        if progress is not None:
            progress(stop, n)
    return out
