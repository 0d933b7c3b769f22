"""The executor interface and the two ways of mapping exchanges onto circuits.

An :class:`Executor` runs a list of circuits, each with its own number of
shots, and returns every shot's outcome per classical register. How exchanges
become circuits is decided here, not by the executor:

* :func:`run_grouped` (fast): exchanges with the same configuration are the
  same circuit, built once. If the executor offers exact distributions
  (:class:`DistributionExecutor`, e.g. Aer in ``mode="probabilities"``), each
  circuit's joint outcome distribution over its registers is tabulated once
  and every exchange's joint outcome is drawn by inverse CDF from one uniform
  of the secret generator, in place: no sort, no scatter, no permutation.
  Otherwise each circuit runs with shots = the number of exchanges that use
  it, and the group's per-shot outcomes are scattered back to the group's
  positions through a random permutation (shots are i.i.d., so both are
  statistically identical to running the exchanges one by one);
* :func:`run_literal`: one circuit per exchange, one shot each (teaching, and
  a check of the fast path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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
class JointDistribution:
    """A circuit's exact joint outcome distribution over its classical registers.

    Attributes:
        probs: Probability of each joint outcome, float64 (k,), non-negative, sum 1.
        outcomes: Register name -> the register's bits in each joint outcome, uint8
            (k, register size); row j goes with ``probs[j]``.
    """

    probs: NDArray[np.float64]
    outcomes: Outcomes

    def __post_init__(self) -> None:
        probs = np.asarray(self.probs)
        if probs.ndim != 1 or probs.size == 0:
            raise ConfigError(f"probs must be a non-empty 1-D array, got shape {probs.shape}")
        if np.any(probs < 0) or not np.isclose(probs.sum(), 1.0, rtol=0, atol=1e-9):
            raise ConfigError(
                f"probs must be non-negative and sum to 1, got min {probs.min()}, sum {probs.sum()}"
            )
        for name, bits in self.outcomes.items():
            if bits.shape[0] != probs.size:
                raise ConfigError(
                    f"register {name!r} has {bits.shape[0]} outcome rows, expected {probs.size}"
                )


@runtime_checkable
class DistributionExecutor(Executor, Protocol):
    """An executor that can also return each circuit's exact joint outcome distribution.

    :func:`run_grouped` uses :meth:`distributions` when ``offers_distributions``
    is true; device executors do not offer it and keep the shots path.
    """

    @property
    def offers_distributions(self) -> bool:
        """Whether :meth:`distributions` may be used (it may depend on the mode)."""
        ...

    def distributions(
        self, circuits: Sequence[QuantumCircuit], *, rng: np.random.Generator
    ) -> list[JointDistribution]:
        """One :class:`JointDistribution` per circuit, over all its classical registers."""
        ...


def offers_distributions(executor: Executor) -> bool:
    """Whether ``executor`` can tabulate exact joint distributions for :func:`run_grouped`."""
    return isinstance(executor, DistributionExecutor) and bool(executor.offers_distributions)


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
    """Run exchanges grouped by configuration; return each exchange's outcome.

    With an executor that offers exact distributions (see
    :func:`offers_distributions`), this is :func:`draw_from_distributions`;
    otherwise each distinct circuit runs with as many shots as exchanges use
    it, and the shots are scattered back (:meth:`GroupPlan.scatter`).

    Args:
        codes: Configuration code of each exchange, non-negative ints, shape (n,).
        circuit_for_code: Builds the circuit of a configuration code.
        registers: Classical registers to return (1-bit registers; bit 0 is used).
            A register absent from a circuit reads 0 for that circuit's exchanges.
        executor: Runs the distinct circuits.
        rng: Secret generator: the outcome draws (they become Bob's and Eve's
            results), the scatter permutations and the executor's seeds.

    Returns:
        Register name -> uint8 array of shape (n,), the outcome of each exchange.
    """
    if isinstance(executor, DistributionExecutor) and executor.offers_distributions:
        return draw_from_distributions(codes, circuit_for_code, registers, executor, rng=rng)
    plan = GroupPlan.from_codes(codes)
    circuits = [circuit_for_code(int(c)) for c in plan.codes]
    results = executor.run(circuits, [int(s) for s in plan.shots], rng=rng)
    return plan.scatter(results, registers, rng=rng)


def draw_from_distributions(
    codes: NDArray[np.integer],
    circuit_for_code: Callable[[int], QuantumCircuit],
    registers: Sequence[str],
    executor: DistributionExecutor,
    *,
    rng: np.random.Generator,
) -> dict[str, NDArray[np.uint8]]:
    """Draw every exchange's joint outcome from its circuit's exact distribution, in place.

    Each distinct circuit's joint outcome distribution over its registers is
    tabulated once (``executor.distributions``). Exchange i then gets outcome
    ``j = #{k : u_i >= F_k(code_i)}`` for one uniform ``u_i`` in [0, 1) from
    ``rng`` and the cumulative distribution ``F`` of its code (inverse CDF), and
    each register reads its bit of that joint outcome — so the registers of one
    exchange (Bob's, Eve's, Alice's for entangled sources) keep their
    correlation. Exchanges are independent given their codes, as when every
    exchange runs on its own; nothing is sorted, scattered or permuted.

    Same arguments and return value as :func:`run_grouped`; ``rng`` (secret)
    draws the n uniforms.
    """
    given = np.asarray(codes)
    if given.ndim != 1:
        raise ConfigError(f"codes must be 1-D, got shape {given.shape}")
    if len(registers) > 7:
        raise ConfigError(f"at most 7 registers can be drawn jointly, got {len(registers)}")
    n = given.size
    out = {r: np.zeros(n, dtype=np.uint8) for r in registers}
    if n == 0:
        return out
    if not np.issubdtype(given.dtype, np.integer):
        raise ConfigError(f"codes must be integers, got dtype {given.dtype}")
    if np.issubdtype(given.dtype, np.signedinteger) and int(given.min()) < 0:
        raise ConfigError(f"codes must be non-negative, got {int(given.min())}")
    index: NDArray[np.integer[Any]] = given
    present: NDArray[np.intp] = np.flatnonzero(_bincount(given))
    dists = executor.distributions([circuit_for_code(int(c)) for c in present], rng=rng)
    if len(dists) != present.size:
        raise ConfigError(f"got {len(dists)} distributions for {present.size} circuits")
    if int(present[-1]) >= 4096:  # sparse large codes: number them 0..g-1 first
        rank = np.zeros(int(present[-1]) + 1, dtype=np.intp)
        rank[present] = np.arange(present.size)
        index = rank[index]
        present = np.arange(present.size, dtype=np.intp)
    n_codes = int(present[-1]) + 1
    k_max = max(d.probs.size for d in dists)
    # Joint outcome j of a code -> its registers' bits packed in one byte (bit i: register i).
    packed = np.zeros((n_codes, k_max), dtype=np.uint8)
    # cdfs[code, k] = F_k = P(outcome <= k); 2.0 (never reached) past a code's last outcome.
    cdfs = np.full((n_codes, k_max), 2.0)
    for code, dist in zip(present, dists, strict=True):
        probs = np.asarray(dist.probs, dtype=np.float64)
        cdf = np.cumsum(probs) / probs.sum()
        cdfs[code, : probs.size - 1] = cdf[:-1]
        for i, r in enumerate(registers):
            if r in dist.outcomes:
                packed[code, : probs.size] |= (dist.outcomes[r][:, 0] & 1).astype(np.uint8) << i
    byte = _inverse_cdf_bytes(index, present, cdfs, packed, rng=rng)
    for i, r in enumerate(registers):
        np.right_shift(byte, i, out=out[r])
        np.bitwise_and(out[r], 1, out=out[r])
    return out


_UNRESOLVED = np.uint8(255)
_TABLE_BITS = 21
"""The bucket table has at most about 2**21 one-byte entries (2 MiB)."""


def _bincount(codes: NDArray[np.integer[Any]], chunk: int = 1 << 20) -> NDArray[np.intp]:
    """``np.bincount(codes)`` a chunk at a time (bincount widens its input to intp: 8
    bytes per exchange at once otherwise)."""
    counts = np.zeros(1, dtype=np.intp)
    for start in range(0, codes.size, chunk):
        part = np.bincount(codes[start : start + chunk])
        if part.size > counts.size:
            part[: counts.size] += counts
            counts = part
        else:
            counts[: part.size] += part
    return counts


def _inverse_cdf_bytes(
    codes: NDArray[np.integer[Any]],
    present: NDArray[np.intp],
    cdfs: NDArray[np.float64],
    packed: NDArray[np.uint8],
    *,
    rng: np.random.Generator,
) -> NDArray[np.uint8]:
    """``packed[code_i, j_i]``, ``j_i`` the exact inverse-CDF draw of exchange i's outcome.

    ``j_i = #{k : u_i >= cdfs[code_i, k]}`` for ``u_i`` uniform on [0, 1): one 16-bit
    word of ``rng`` per exchange. Its top ``b <= 16`` bits pick one of ``2**b`` equal
    buckets of [0, 1) (edges exact in float64). A code's bucket holds the outcome of every
    ``u`` in it unless one of the code's CDF steps falls strictly inside the bucket
    (at most ``k - 1`` buckets per code), so one gather from a small table does
    almost all the work. For the few exchanges in such a bucket (a fraction below
    ``k / 2**b``) the position ``v`` of ``u`` inside its bucket, uniform on [0, 1) and
    independent of the bucket, is drawn from ``rng`` and compared with the steps
    exactly (``v >= F * 2**b - bucket``, exact in float64).

    Args:
        codes: Code of each exchange, any integer dtype (n,), ``0 <= codes < cdfs.shape[0]``.
        present: The codes that occur, intp (g,).
        cdfs: ``cdfs[code, k] = P(outcome <= k)``, float64 (codes, k); 2.0 past a
            code's last outcome (and in its last column).
        packed: The byte to return for each code and outcome, uint8 (codes, k); no
            entry equals 255.
        rng: Secret generator.

    Returns:
        uint8 (n,).
    """
    n_codes, k_max = cdfs.shape
    code_bits = max(int(n_codes - 1).bit_length(), 0)
    # A table of about n / 16 entries (at most 2**21): building it costs less than the draw.
    table_bits = int(np.clip(int(codes.size).bit_length() - 4, 10, _TABLE_BITS))
    bits = int(np.clip(table_bits - code_bits, 4, 16))
    # table[bucket, code], flattened: index = bucket << code_bits | code. Outcome of
    # bucket b = #{k : F_k <= b / 2**b_}, i.e. of steps with ceil(F_k 2**b_) <= b; a
    # step with F_k 2**b_ not an integer lies inside bucket floor(F_k 2**b_).
    buckets = 1 << bits
    scaled = cdfs[present, : k_max - 1] * float(buckets)  # exact (power of two)
    live = scaled < buckets  # F_k < 1; the 2.0 padding is never reached
    rows, cols = np.nonzero(live)
    step_codes = present[rows]
    steps = scaled[rows, cols]
    rises = np.zeros((1 << code_bits, buckets + 1), dtype=np.int32)  # [code, bucket] to build
    np.add.at(rises, (step_codes, np.ceil(steps).astype(np.intp)), 1)
    outcome = np.cumsum(rises[:, :buckets], axis=1, dtype=np.int32)
    np.minimum(outcome, k_max - 1, out=outcome)
    padded = np.zeros((1 << code_bits, k_max), dtype=np.uint8)
    padded[:n_codes] = packed
    by_code = padded[np.arange(1 << code_bits)[:, None], outcome]
    inside = steps != np.floor(steps)
    by_code[step_codes[inside], np.floor(steps[inside]).astype(np.intp)] = _UNRESOLVED
    table = np.ascontiguousarray(by_code.T)
    # In place, to touch each 8-byte word as few times as possible.
    # One uniform 16-bit word per exchange (four per 64-bit output of the generator):
    # its top ``bits`` (<= 16) bits are the bucket.
    words = rng.bit_generator.random_raw((codes.size + 3) // 4).view(np.uint16)[: codes.size]
    # uint32 indices (bits + code_bits <= 32): fancy indexing takes them as they are,
    # where np.take would widen them to intp first.
    index = np.right_shift(words, 16 - bits, dtype=np.uint32)
    np.left_shift(index, code_bits, out=index)
    np.bitwise_or(index, codes, out=index, casting="unsafe")  # 0 <= codes < 2**code_bits
    byte = table.reshape(-1)[index]
    unresolved = np.flatnonzero(byte == _UNRESOLVED)
    if unresolved.size:
        c = codes[unresolved]
        bucket = (index[unresolved] >> code_bits).astype(np.float64)
        v = rng.random(unresolved.size)
        j = np.sum(v[:, None] >= cdfs[c] * float(1 << bits) - bucket[:, None], axis=1)
        byte[unresolved] = packed[c, np.minimum(j, k_max - 1)]
    return byte


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
