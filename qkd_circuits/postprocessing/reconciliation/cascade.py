"""Cascade information reconciliation, vectorised with numpy.

Cascade (Brassard & Salvail, "Secret-key reconciliation by public discussion",
EUROCRYPT '93, LNCS 765, p. 410) corrects the errors between Alice's key and
Bob's noisy copy by disclosing parities of blocks of the key over the public
channel. Each pass shuffles the key with a fresh permutation, cuts it into
top-level blocks and compares their parities; every block with odd error
parity is bisected (BINARY) down to one erroneous bit, which Bob flips. A flip
toggles the error parity of the blocks of every other pass that contain the bit
(the *cascade*), and those blocks are bisected in turn. The variants (pass
counts, block sizes, BICONF, sub-block reuse) are those of Martínez-Mateo,
Pacher, Peev, Ciurana, Martin, "Demystifying the information reconciliation
protocol Cascade", arXiv:1407.3257; see
:mod:`~qkd_circuits.postprocessing.reconciliation.cascade_variants`.

How this implementation runs
----------------------------
* **Two sides.** :class:`_AliceParityOracle` holds Alice's key and answers
  parity queries; every answer goes through the :class:`PublicChannel` with
  ``leaked_bits`` = number of parities. Bob's side (:class:`_BobCascade`) holds
  his key only and learns Alice's bits exclusively through those answers.
* **Shuffles as seeds.** Each pass's permutation is drawn from a seed that Bob
  sends (``leaked_bits=0``, as in cascade-python); both parties derive the same
  permutation from it (:class:`_PublicShuffles`, memoised so the simulation
  draws each permutation once).
* **Messages.** Opening a pass is one round trip: Bob sends ``[kind, pass,
  seed, block size]``, Alice replies with all top-level block parities. One
  bisection *round* is one round trip: Bob sends the list of ranges
  ``(pass, start, end)`` he wants (the left halves of every range being
  bisected, across all passes), Alice replies with their parities. So
  ``messages = 2 × (passes + rounds)`` and ``round_trips = messages / 2``.
* **Vectorised bisection.** All ranges under bisection advance one level per
  round together. Ranges bisected at the same time are disjoint as sets of key
  positions (a greedy, smallest-first choice), so no flip can invalidate another
  range's bisection; this keeps the smallest-block-first order of sequential
  Cascade without processing one block at a time. (Bisecting every odd range
  at once, overlapping or not, was measured to leak 1–3 % more, f + 0.01–0.03,
  for at most ~25 % fewer rounds.)
* **Known sub-blocks.** Every parity Alice disclosed is remembered: each pass
  is cut into *leaves*, ranges of known parity (top-level blocks, split by
  every bisection; the right half's parity is inferred as parent ⊕ left, never
  asked). A dense per-pass map gives the leaf of every position, so after a
  flip the leaves (and top-level blocks) holding the bit in every pass are
  found by index arithmetic (key index → pass position via the inverse
  permutation → leaf), not by loops. Bob's parity of a range is a prefix-XOR
  difference corrected by the number of bits flipped inside it since the pass
  opened, so nothing is recomputed over the whole key after a flip. Known
  parities are never asked again. With *sub-block reuse* every odd leaf is
  bisected; without it only odd top-level blocks are, each from the smallest
  odd leaf inside it (a bisection from the top would walk down through the
  known sub-blocks to such a leaf without asking anything, as cascade-python
  does).
* **Zero QBER estimate.** Block sizes use ``max(qber, QBER_FLOOR)`` with
  :data:`QBER_FLOOR` = 1e-3: an estimate of 0 from a finite sample does not
  mean the key has no errors, and 1/0 block sizes would make each pass a single
  block able to find at most one error. The floor costs at most about
  ``Σ_i n/k_i ≈ 0.003 n`` parities when the key really is error free.

Frame errors and the confirmation stage
---------------------------------------
Bob never flips a correct bit, so a frame error is a set of errors that no
disclosed parity shows: an even number of them in one block of every pass. The
paper's variants leave such frames at a rate that depends on the variant and on
how many errors the frame holds compared with its block sizes (measured over
1,000 seeded frames per point, ``benchmarks/bench_cascade_fer.py``):

* ``original`` has 4 passes of blocks ``0.73/Q · 2^(i-1)``: with few errors per
  frame (``n·Q`` ≈ 10) the last passes are one or two blocks (5,840 bits at
  Q = 0.1 %, more than half of n = 10^4; clamped to ``n`` at n = 2,000), and two
  errors that shared a first-pass block share a block of every later pass with
  probability ≈ ``Π k_i/n``: FER 3–4 % at n = 10^4, Q = 0.1 %, 24–26 % at
  n = 2,000, with the true Q.
* A QBER estimate below the frame's rate makes the blocks larger still. The
  pipeline passes the error rate of a disclosed sample (10 % of the sifted key):
  with 1,000 sample bits it is 0 in 37 % of frames at Q = 0.1 % and 5 % at
  Q = 0.3 %, and then :data:`QBER_FLOOR` sets the blocks. ``original`` at
  n = 2,000, Q = 0.5 %: FER ≈ 4 % with the true Q, ≈ 33 % with sample estimates;
  at n = 9,000, Q = 0.3 % (the issue's 20,000 qubits), 2.5–5.5 % with estimates
  from 1,000 bits.
  (Cascade still corrects most frames whose estimate is far too small: at
  n = 10^4, Q = 5 % and ``qber=0.001``, 85 % of them; the rest are such pairs.)
* ``biconf`` stops after 10 clean BICONF passes, ``yanetal`` after 8 half-key
  passes: each leaves ~1–5 frames in 1,000, whatever n and Q.

Every variant therefore ends with a confirmation stage: BICONF passes until
``confirm`` consecutive ones find no error (the variant's ``confirm_streak`` by
default; see :mod:`~qkd_circuits.postprocessing.reconciliation.cascade_variants`
for the values and their derivation). A confirmation pass discloses the parity
of a random subset of the key (each bit in it with probability 1/2, from a public
seed: a pass of kind ``_SUBSET``, cheaper to draw than the half-key permutation
of ``biconf``'s own passes), bisects it when odd and cascades the flips back
into every pass. It misses remaining errors with probability exactly 1/2,
whatever caused them (measured 0.50), so the FER is at most ``N · 2^-confirm``,
``N`` being the expected number of streaks that start with errors left. The
variants' streaks are sized for the ``N`` measured with realistic estimates; on
evidence that this frame is worse (a BICONF pass finds an error, or the passes
corrected at least 4 times the errors the block-size QBER predicts) the streak
becomes :data:`CONFIRM_AFTER_ERROR` = 14. So the FER does not depend on the QBER
estimate being right, only the cost does (each error left is found at ~log2(n)
parities). Each clean pass discloses one parity. The paper's variant
(``confirm=0``) runs exactly the same passes up to its own end;
:attr:`CascadeStats.confirmation_bits` and :attr:`CascadeStats.confirmation_flips`
say what the confirmation cost and what the paper's variant would have left.

What to pass as ``qber``: the point estimate (the sample's error rate), as the
pipeline does. A high-confidence upper bound (a finite-key sampling bound is
≈ Q + 0.06–0.11 for a 1,000-bit sample at ε = 1e-3–1e-10) is *not* better: the
FER no longer depends on the estimate, and block sizes for twice the true QBER
cost +0.17–0.21 in f for ``original`` at Q = 0.5–5 % (for half of it, f is
0.04–0.07 *lower*).

Leakage counts every parity Alice discloses (top-level blocks, BICONF subsets
and every left half asked during a bisection). Bob never flips a correct bit: a
bisection of a range with odd error parity always ends on an erroneous bit, so
every flip removes one error, ``corrected ⊕ bob ⊆ alice ⊕ bob``, and a frame
error means some errors were never found.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.bits import as_bits
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.reconciliation.cascade_variants import (
    CascadeVariant,
    get_cascade_variant,
)
from qkd_circuits.randomness import RNGLike, draw_seed, ensure_rng

__all__ = [
    "CONFIRM_AFTER_ERROR",
    "MAX_BICONF_PASSES",
    "MAX_CONFIRM",
    "MAX_PASSES",
    "QBER_FLOOR",
    "CascadeStats",
    "ReconciliationResult",
    "reconcile_cascade",
]

QBER_FLOOR: Final[float] = 1e-3
"""Smallest QBER estimate used for block sizes (a 0 estimate is raised to this)."""

MAX_PASSES: Final[int] = 256
"""Largest accepted ``passes`` override (each pass keeps O(n) bookkeeping)."""

MAX_CONFIRM: Final[int] = 64
"""Largest accepted ``confirm`` streak (a streak of S leaves errors with odds ~2^-S)."""

CONFIRM_AFTER_ERROR: Final[int] = 14
"""Confirmation streak once there is evidence that the passes left errors.

The evidence: a BICONF pass found an error, or the regular passes corrected at
least ``max(8, 4 n q)`` errors for the block-size QBER ``q``, so the estimate was
about 4 times too low or worse. The odds that errors remain at the start
of a streak are then of order 1 rather than the variant's small ``N``, so the
streak is raised to ``log2(1/δ)`` for a frame error rate ``δ ≈ 6·10^-5`` per such
streak, whatever the variant's own streak. Only with the confirmation stage on.
"""

_UNDERESTIMATE_RATIO: Final[float] = 4.0
_UNDERESTIMATE_MIN_ERRORS: Final[int] = 8

MAX_BICONF_PASSES: Final[int] = 256
"""BICONF passes after which the stage stops even if its streak is not complete.

A BICONF pass that finds an error removes at least that one, so the stage ends by
itself; this only bounds the O(n)-per-pass memory when far more errors are left
than the streak was meant to confirm (e.g. ``passes=1`` with ``confirm=10``). The
frame then keeps its errors, which verification detects.
"""

_REGULAR: Final[int] = 0  # kind of pass: top-level blocks of size k
_BICONF: Final[int] = 1  # kind of pass: one random half of the key
_SUBSET: Final[int] = 2  # kind of pass: a random subset, each bit in it with probability 1/2

I64 = NDArray[np.int64]
I32 = NDArray[np.int32]
U8 = NDArray[np.uint8]


@dataclass(frozen=True, slots=True, kw_only=True)
class CascadeStats:
    """Cascade-specific details of one reconciliation.

    Attributes:
        variant: Variant name, one of ``CASCADE_VARIANTS``.
        qber_used: QBER estimate used for the block sizes, ``max(qber, QBER_FLOOR)``.
        block_sizes: Top-level block size of each regular pass, in order.
        biconf_passes: Number of BICONF passes run: the ``"biconf"`` variant's and
            the confirmation stage's (one disclosed parity each, plus bisections).
        confirm: Consecutive error-free BICONF passes the run had to end with:
            ``max(variant's BICONF streak, confirm)``, raised to
            :data:`CONFIRM_AFTER_ERROR` on evidence of errors left (a BICONF pass
            found one, or the passes corrected at least 4 times the errors the
            block-size QBER predicts), if ``confirm > 0``; 0 = none.
        rounds: Bisection rounds (one request and one answer each).
        flipped_bits: Bits Bob flipped; each one was an error, so the frame is
            error free exactly when this equals the number of initial errors.
        confirmation_bits: Parities disclosed after the point where the paper's
            variant stops (its last regular pass; for ``"biconf"``, its 10th
            consecutive clean BICONF pass): the cost of the confirmation stage.
            Included in ``leaked_bits``.
        confirmation_flips: Errors corrected after that point, i.e. errors the
            paper's variant would have left in this frame (it runs the same
            passes up to that point: ``confirm=0`` gives the same transcript,
            cut there).
    """

    variant: str
    qber_used: float
    block_sizes: tuple[int, ...]
    biconf_passes: int
    confirm: int
    rounds: int
    flipped_bits: int
    confirmation_bits: int = 0
    confirmation_flips: int = 0

    @property
    def passes(self) -> int:
        """Total passes run (regular + BICONF)."""
        return len(self.block_sizes) + self.biconf_passes


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconciliationResult:
    """Outcome of an information-reconciliation stage.

    Attributes:
        corrected: Bob's key after correction, dtype uint8, shape ``(n,)``.
        method: ``"<protocol>:<variant>"``, e.g. ``"cascade:original"``.
        leaked_bits: Bits disclosed about the key (parities); the same count is
            recorded on the channel under the stage's name.
        messages: Messages this stage sent on the channel (both directions).
        efficiency: ``leaked_bits / (n · h(q))`` with ``q`` the QBER *passed in*
            (an estimate); ``nan`` when ``h(q) = 0``. Benchmarks recompute it with
            the frame's actual error rate, as arXiv:1407.3257 does.
        cascade: Cascade-specific statistics, or None for other methods.
    """

    corrected: NDArray[np.uint8]
    method: str
    leaked_bits: int
    messages: int
    efficiency: float
    cascade: CascadeStats | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.corrected, np.ndarray) or self.corrected.ndim != 1:
            raise ConfigError(f"corrected must be a 1-D numpy array, got {self.corrected!r}")
        if self.corrected.dtype != np.uint8:
            raise ConfigError(f"corrected must have dtype uint8, got {self.corrected.dtype}")
        if self.leaked_bits < 0:
            raise ConfigError(f"leaked_bits must be >= 0, got {self.leaked_bits!r}")
        if self.messages < 0:
            raise ConfigError(f"messages must be >= 0, got {self.messages!r}")

    @property
    def round_trips(self) -> int:
        """Round trips on the channel (every request is answered): ``messages // 2``."""
        return self.messages // 2


class _PublicShuffles:
    """The public map from a pass's shuffle seed to its permutation, run by both parties.

    ``order(seed)[i]`` is the key index at pass position ``i`` (int64, shape
    ``(n,)``, read-only). The last permutation is memoised, so that the
    simulation draws it once although Bob and Alice each derive it.

    ``order(seed, subset=True)`` is the order of a confirmation pass: the key
    indices of a random subset (each index in it independently with probability
    1/2, from the seed's bits) in increasing order, then the others; the subset's
    size is ``subset_size(seed)``. Drawing n bits is ~5x faster than a permutation,
    and any non-empty set of errors meets such a subset in an odd number of bits
    with probability exactly 1/2.
    """

    def __init__(self, n: int) -> None:
        self._n = n
        self._last: tuple[int, bool, I64, int] | None = None

    def order(self, seed: int, subset: bool = False) -> I64:
        """The order of the pass whose shuffle seed is ``seed``."""
        return self._derive(seed, subset)[0]

    def subset_size(self, seed: int) -> int:
        """Size of the random subset of a confirmation pass (its first positions)."""
        return self._derive(seed, True)[1]

    def _derive(self, seed: int, subset: bool) -> tuple[I64, int]:
        if self._last is None or self._last[:2] != (seed, subset):
            rng = np.random.default_rng(seed)
            if subset:
                bits = np.frombuffer(rng.bytes((self._n + 7) // 8), dtype=np.uint8)
                inside = np.unpackbits(bits, count=self._n).view(bool)
                first = np.flatnonzero(inside)
                order = np.concatenate([first, np.flatnonzero(~inside)])
                size = int(first.size)
            else:
                order, size = rng.permutation(self._n), self._n
            order.flags.writeable = False
            self._last = (seed, subset, order, size)
        return self._last[2], self._last[3]


class _AliceParityOracle:
    """Alice's side of Cascade: holds her key and answers parity queries.

    Nothing but parities leaves this object, and every answer is sent on the
    public channel with ``leaked_bits`` equal to the number of parities.
    Alice keeps, for each pass, the prefix XOR of her key in that pass's order,
    so the parity of pass positions ``[a, b)`` is ``px[b] ^ px[a]``.
    """

    def __init__(
        self, key: U8, *, shuffles: _PublicShuffles, channel: PublicChannel, stage: str
    ) -> None:
        self._key = key
        self._shuffles = shuffles
        self._channel = channel
        self._stage = stage
        self._px = np.zeros((4, key.size + 1), dtype=np.uint8)
        self._passes = 0
        self.disclosed = 0
        self.messages = 0

    def open_pass(self, seed: int, starts: I64, ends: I64, subset: bool = False) -> U8:
        """Handle Bob's "new pass" request: disclose the parities of blocks ``[starts, ends)``.

        Args:
            seed: The public shuffle seed Bob sent; Alice derives the pass order from it.
            starts, ends: int64 pass positions of the requested top-level blocks.
            subset: A confirmation pass (``_PublicShuffles.order(seed, subset=True)``).
        """
        if self._passes == self._px.shape[0]:
            self._px = np.concatenate([self._px, np.zeros_like(self._px)])
        row = self._px[self._passes]
        # Only positions inside the blocks are ever asked about (BICONF: the first half).
        limit = int(ends[-1]) if ends.size else 0
        order = self._shuffles.order(seed, subset)[:limit]
        np.bitwise_xor.accumulate(self._key[order], out=row[1 : limit + 1])
        self._passes += 1
        return self._reply(row[ends] ^ row[starts])

    def parities(self, passes: I64, starts: I64, ends: I64) -> U8:
        """Parities of Alice's key over pass positions ``[starts, ends)`` of the given passes."""
        px = self._px
        return self._reply(px[passes, ends] ^ px[passes, starts])

    def _reply(self, parities: U8) -> U8:
        self._channel.send(self._stage, "alice", parities, leaked_bits=int(parities.size))
        self.disclosed += int(parities.size)
        self.messages += 1
        return parities


class _BobCascade:
    """Bob's side of Cascade: his key, the public shuffles, and what Alice disclosed.

    Per pass ``p`` (rows of 2-D arrays): the permutation ``_perm[p]`` (pass
    position → key index) and its inverse ``_inv[p]``; ``_bpx[p]``, the prefix
    XOR of Bob's key in pass order when the pass opened; ``_leaf_of[p]``, the
    leaf holding each pass position (-1 outside every known range).

    Leaves (append-only, ids ``0 .. _nl-1``): the ranges of known Alice parity
    that are not split further: pass ``_lp``, pass positions ``[_ls, _le)``,
    Alice's parity ``_la``, error parity against Bob's current key ``_lr``, and
    top-level block ``_ltop``. Top-level blocks: error parity ``_tr``; block
    ``i`` of pass ``p`` has id ``_top_off[p] + i`` and covers positions
    ``[i k, (i+1) k) ∩ [0, _top_lim[p])`` with ``k = _top_k[p]``.

    ``_g``: sorted keys ``p·(n+1) + position`` of every bit flipped after pass
    ``p`` opened (Bob's parity of a range is ``_bpx`` corrected by their count).
    Tasks ``_tl``: the leaves under bisection, reserved in ``_taken`` (key
    indices) so that ranges bisected together are disjoint.
    """

    def __init__(
        self,
        key: U8,
        *,
        oracle: _AliceParityOracle,
        shuffles: _PublicShuffles,
        variant: CascadeVariant,
        qber_used: float,
        passes: int,
        rng: np.random.Generator,
        channel: PublicChannel,
        stage: str,
        confirm: int = 0,
    ) -> None:
        n = key.size
        self._n = n
        self._stride = n + 1
        self._cur = key.copy()
        self._oracle = oracle
        self._shuffles = shuffles
        self._variant = variant
        self._qber = qber_used
        self._n_regular = passes
        self._confirm = confirm
        self.streak = max(variant.biconf_streak, confirm)
        self._rng = rng
        self._channel = channel
        self._stage = stage
        self.messages = 0
        self.rounds = 0
        self.flipped = 0
        self.block_sizes: list[int] = []
        self.biconf_passes = 0
        self.variant_leaked = -1  # parities disclosed / bits flipped where the paper's
        self.variant_flipped = -1  # variant stops (set by run())

        cap = passes + 2 * self.streak + 2  # BICONF passes: grown further if needed
        self._npass = 0
        # Per-pass rows; int32 positions (half the memory of int64).
        self._perm = np.empty((cap, n), dtype=np.int32)
        self._inv = np.empty((cap, n), dtype=np.int32)
        self._leaf_of = np.empty((cap, n), dtype=np.int32)
        self._bpx = np.zeros((cap, n + 1), dtype=np.uint8)
        self._top_off = np.zeros(cap, dtype=np.int64)
        self._top_k = np.ones(cap, dtype=np.int64)
        self._top_lim = np.zeros(cap, dtype=np.int64)
        self._tr = np.empty(0, dtype=np.uint8)

        self._nl = 0
        lcap = 1024
        self._lp = np.empty(lcap, dtype=np.int64)
        self._ls = np.empty(lcap, dtype=np.int64)
        self._le = np.empty(lcap, dtype=np.int64)
        self._ltop = np.empty(lcap, dtype=np.int64)
        self._la = np.empty(lcap, dtype=np.uint8)
        self._lr = np.empty(lcap, dtype=np.uint8)

        self._g = np.empty(0, dtype=np.int64)
        self._tl = np.empty(0, dtype=np.int64)
        self._taken = np.zeros(n, dtype=bool)
        self._arange_n = np.arange(n, dtype=np.int32)

    # ----------------------------------------------------------------- protocol
    def run(self) -> U8:
        """Run every pass of the variant and return Bob's corrected key (uint8, shape (n,))."""
        for i in range(1, self._n_regular + 1):
            k = self._variant.block_size(self._qber, self._n, i)
            self.block_sizes.append(k)
            self._open_pass(_REGULAR, k)
            self._cascade()
        # BICONF passes until `self.streak` consecutive ones find no error (raised to
        # CONFIRM_AFTER_ERROR on evidence of errors left, if the confirmation stage is on).
        # The paper's variant stops when the streak first reaches its own BICONF streak
        # (at once when it has none); what follows is the confirmation stage.
        paper_streak = self._variant.biconf_streak
        streak = 0
        if paper_streak == 0:
            self._end_of_variant()
        if self._confirm > 0 and self.flipped >= max(
            _UNDERESTIMATE_MIN_ERRORS, _UNDERESTIMATE_RATIO * self._n * self._qber
        ):
            self.streak = max(self.streak, CONFIRM_AFTER_ERROR)
        while streak < self.streak and self.biconf_passes < MAX_BICONF_PASSES:
            before = self.flipped
            if self.variant_leaked < 0:  # the variant's own BICONF pass ("biconf")
                self._open_pass(_BICONF, max(self._n // 2, 1))
            else:  # a confirmation pass
                self._open_pass(_SUBSET)
            self.biconf_passes += 1
            self._cascade()
            if self.flipped == before:
                streak += 1
            else:
                streak = 0
                if self._confirm > 0:
                    self.streak = max(self.streak, CONFIRM_AFTER_ERROR)
            if streak == paper_streak and self.variant_leaked < 0:
                self._end_of_variant()
        if self.variant_leaked < 0:  # MAX_BICONF_PASSES reached first
            self._end_of_variant()
        return self._cur

    def _end_of_variant(self) -> None:
        self.variant_leaked = self._oracle.disclosed
        self.variant_flipped = self.flipped

    def _send(self, payload: I64) -> None:
        self._channel.send(self._stage, "bob", payload, leaked_bits=0)
        self.messages += 1

    def _grow_passes(self) -> None:
        def double(a: NDArray[Any]) -> NDArray[Any]:
            return np.concatenate([a, np.zeros_like(a)])

        self._perm, self._inv, self._leaf_of = (
            double(self._perm),
            double(self._inv),
            double(self._leaf_of),
        )
        self._bpx = double(self._bpx)
        self._top_off, self._top_k, self._top_lim = (
            double(self._top_off),
            double(self._top_k),
            double(self._top_lim),
        )

    def _append_leaves(self, p: I64, s: I64, e: I64, alice: U8, err: U8, top: I64) -> I64:
        """Append leaves; return their ids."""
        k, nl = p.size, self._nl
        if nl + k > self._lp.size:
            cap = max(2 * self._lp.size, nl + k)
            for name in ("_lp", "_ls", "_le", "_ltop", "_la", "_lr"):
                old = getattr(self, name)
                new = np.empty(cap, dtype=old.dtype)
                new[:nl] = old[:nl]
                setattr(self, name, new)
        sl = slice(nl, nl + k)
        self._lp[sl], self._ls[sl], self._le[sl] = p, s, e
        self._la[sl], self._lr[sl], self._ltop[sl] = alice, err, top
        self._nl = nl + k
        return np.arange(nl, nl + k, dtype=np.int64)

    def _open_pass(self, kind: int, size: int = 0) -> None:
        """Draw and announce the pass's shuffle seed; receive the top-level parities.

        ``kind``: ``_REGULAR`` (blocks of ``size``), ``_BICONF`` (one block, the first
        ``size`` positions of a permutation) or ``_SUBSET`` (one block, a random
        subset; ``size`` is derived from the seed).
        """
        n, p = self._n, self._npass
        seed = draw_seed(self._rng)
        subset = kind == _SUBSET
        order = self._shuffles.order(seed, subset)
        if subset:
            size = self._shuffles.subset_size(seed)
        limit = n if kind == _REGULAR else size
        # An empty subset is one empty block (its parity, 0, is still disclosed).
        starts = np.arange(0, limit, size, dtype=np.int64) if limit else np.zeros(1, np.int64)
        ends = np.minimum(starts + size, limit)
        self._send(np.array([kind, p, seed, size], dtype=np.int64))
        alice = self._oracle.open_pass(seed, starts, ends, subset)

        if p == self._perm.shape[0]:
            self._grow_passes()
        self._perm[p] = order
        self._inv[p, order] = self._arange_n
        px = self._bpx[p]
        # Only ranges inside [0, limit) are ever asked about.
        np.bitwise_xor.accumulate(self._cur[order[:limit]], out=px[1 : limit + 1])
        err = alice ^ px[ends] ^ px[starts]
        self._npass += 1

        n_top = self._tr.size
        self._top_off[p], self._top_k[p], self._top_lim[p] = n_top, max(size, 1), limit
        self._tr = np.concatenate([self._tr, err])
        blocks = np.arange(starts.size, dtype=np.int64)
        ids = self._append_leaves(np.full(starts.size, p), starts, ends, alice, err, n_top + blocks)
        row = self._leaf_of[p]
        if starts.size == 1:
            row[:limit] = ids[0]
        else:
            row[:limit] = ids[0] + self._arange_n[:limit] // size
        row[limit:] = -1

    def _cascade(self) -> None:
        """Bisect odd ranges, round by round, until no known range has odd error parity."""
        select = True
        while True:
            if select:
                self._select()
            if self._tl.size == 0:
                return
            select = self._bisect_round()

    # ---------------------------------------------------------------- selection
    def _flat(self, p: I64, s: I64, e: I64) -> tuple[I64, I64]:
        """Flat indices into the per-pass rows of ranges ``[s, e)`` of passes ``p``, and lengths."""
        lengths = e - s
        total = int(lengths.sum())
        offsets = np.cumsum(lengths) - lengths
        flat = np.arange(total, dtype=np.int64) - np.repeat(offsets - s - p * self._n, lengths)
        return flat, lengths

    def _candidates(self) -> I64:
        """Ids of the odd leaves that may be bisected now."""
        nl = self._nl
        odd = self._lr[:nl].astype(bool)
        odd[self._tl] = False
        if self._variant.sub_block_reuse:
            return np.flatnonzero(odd)
        # Only odd top-level blocks are re-examined, one task per block, starting from the
        # smallest odd leaf inside it (known sub-block parities are never asked again).
        top = self._ltop[:nl]
        open_top = self._tr.astype(bool)
        open_top[top[self._tl]] = False
        leaves = np.flatnonzero(odd & open_top[top])
        if leaves.size > 1:
            leaves = leaves[np.lexsort((self._le[leaves] - self._ls[leaves], top[leaves]))]
            leaves = leaves[np.unique(top[leaves], return_index=True)[1]]
        return leaves

    def _select(self) -> None:
        """Start bisecting odd leaves, smallest first, disjoint from each other and from tasks."""
        cand = self._candidates()
        if cand.size == 0:
            return
        p, s, e = self._lp[cand], self._ls[cand], self._le[cand]
        group = np.frexp((e - s).astype(np.float64))[1].astype(np.int64) * self._npass + p
        keep = np.zeros(cand.size, dtype=bool)
        taken, perm = self._taken, self._perm.reshape(-1)
        for g in np.unique(group):
            members = np.flatnonzero(group == g)
            flat, lengths = self._flat(p[members], s[members], e[members])
            pos = perm[flat]
            free = ~np.logical_or.reduceat(taken[pos], np.cumsum(lengths) - lengths)
            taken[pos[np.repeat(free, lengths)]] = True
            keep[members[free]] = True
        self._tl = np.concatenate([self._tl, cand[keep]])

    # ---------------------------------------------------------------- bisection
    def _bob_parity(self, p: I64, a: I64, b: I64) -> U8:
        """Parity of Bob's *current* key over pass positions ``[a, b)`` of passes ``p``."""
        par = self._bpx[p, b] ^ self._bpx[p, a]
        if self._g.size:
            base = p * self._stride
            flips = np.searchsorted(self._g, base + b) - np.searchsorted(self._g, base + a)
            par ^= (flips & 1).astype(np.uint8)
        return par

    def _bisect_round(self) -> bool:
        """Halve every task's range (one request, one answer); True if bits were flipped."""
        t = self._tl
        p, s, e = self._lp[t], self._ls[t], self._le[t]
        single = e - s == 1
        flips = [self._perm[p[single], s[single]]]
        if single.any():
            t, p, s, e = t[~single], p[~single], s[~single], e[~single]
        if t.size:
            m = s + (e - s + 1) // 2
            self._send(np.concatenate([p, s, m]))
            alice_left = self._oracle.parities(p, s, m)
            left_err = alice_left ^ self._bob_parity(p, s, m)
            self.rounds += 1

            # Split: the leaf keeps the left half; the right half (parity inferred) is new.
            alice = self._la[t]
            right = self._append_leaves(p, m, e, alice ^ alice_left, 1 - left_err, self._ltop[t])
            self._le[t], self._la[t], self._lr[t] = m, alice_left, left_err
            flat, lengths = self._flat(p, m, e)
            self._leaf_of.reshape(-1)[flat] = np.repeat(right, lengths)

            go_left = left_err.astype(bool)
            drop, _ = self._flat(p, np.where(go_left, m, s), np.where(go_left, e, m))
            self._taken[self._perm.reshape(-1)[drop]] = False
            t = np.where(go_left, t, right)
            done = self._le[t] - self._ls[t] == 1
            if done.any():
                flips.append(self._perm[p[done], self._ls[t[done]]])
                t = t[~done]
        self._tl = t
        flipped = np.concatenate(flips)
        if flipped.size:
            self._taken[flipped] = False
            self._apply_flips(flipped)
            return True
        return False

    def _apply_flips(self, flipped: I32) -> None:
        """Flip Bob's bits and toggle the error parity of every known range holding them."""
        self._cur[flipped] ^= 1
        self.flipped += int(flipped.size)
        npass = self._npass
        passes = np.arange(npass, dtype=np.int64)[:, None]
        q = self._inv[:npass, flipped].astype(np.int64)  # (passes, flips) pass positions
        keys = np.sort((passes * self._stride + q).ravel())
        self._g = np.insert(self._g, np.searchsorted(self._g, keys), keys)
        leaves = self._leaf_of[passes, q]
        np.bitwise_xor.at(self._lr, leaves[leaves >= 0], 1)
        inside = q < self._top_lim[:npass, None]
        tops = self._top_off[:npass, None] + q // self._top_k[:npass, None]
        np.bitwise_xor.at(self._tr, tops[inside], 1)


def _check_qber(qber: object) -> float:
    if isinstance(qber, bool) or not isinstance(qber, numbers.Real):
        raise ConfigError(f"qber must be a real number in [0, 0.5), got {qber!r}")
    q = float(qber)
    if not (math.isfinite(q) and 0.0 <= q < 0.5):
        raise ConfigError(f"qber must be in [0, 0.5), got {qber!r}")
    return q


def _optional_count(value: object, *, name: str, low: int, high: int) -> int | None:
    """None, or an integer in ``[low, high]`` (``passes``, ``confirm``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be None or an integer >= {low}, got {value!r}")
    if not low <= int(value) <= high:
        raise ConfigError(f"{name} must be in [{low}, {high}], got {value!r}")
    return int(value)


def reconcile_cascade(
    alice: ArrayLike,
    bob: ArrayLike,
    *,
    qber: float,
    variant: str = "original",
    channel: PublicChannel | None = None,
    rng: RNGLike = None,
    stage: str = "reconciliation",
    passes: int | None = None,
    confirm: int | None = None,
) -> ReconciliationResult:
    """Reconcile Bob's key with Alice's by Cascade (Brassard–Salvail; arXiv:1407.3257 variants).

    Alice's key is only read by her side of the protocol (a parity oracle);
    Bob's side sees nothing but the parities sent on ``channel``.

    Args:
        alice: Alice's key, 1-D 0/1 values (any integer or bool dtype), shape ``(n,)``.
        bob: Bob's noisy key, same shape.
        qber: Estimated QBER in ``[0, 0.5)`` used for the block sizes (raised to
            :data:`QBER_FLOOR` if smaller). Also the ``q`` of ``result.efficiency``.
            Pass the point estimate (e.g. the sample's error rate), not an upper
            bound: an estimate that is too low, even 0, changes the leakage little
            and not the frame error rate (the confirmation stage finds what the
            passes left); one that is too high costs leakage (module docstring).
        variant: One of :data:`CASCADE_VARIANTS` (see ``cascade_variants``).
        channel: Public channel on which every message is recorded; a fresh one
            if None.
        rng: Generator or seed for the shuffle seeds (one seed per pass).
        stage: Stage name under which messages and leakage are recorded.
        passes: Override of the variant's number of regular passes (the
            variant's block-size rule continues beyond its own count; BICONF
            passes of ``"biconf"`` still follow). Fewer passes disclose less and
            leave more residual errors: use it to trade leakage against frame
            error rate (arXiv:1407.3257, Fig. 12) or to produce a deliberately
            imperfect reconciliation, e.g. ``passes=1`` for testing verification.
            With ``passes`` given, the confirmation stage is off unless
            ``confirm`` is given too.
        confirm: Confirmation streak: after the regular passes, BICONF passes
            (parity of a random subset of the key, bisected and cascaded when
            odd) run until this many consecutive ones find no error (for ``"biconf"``,
            its own streak of 10 counts: it runs until ``max(10, confirm)``).
            Remaining errors survive it with probability ``≈ 2^-confirm`` per
            streak; each clean pass discloses one parity. On evidence that
            errors were left (see :data:`CONFIRM_AFTER_ERROR`) the streak is at
            least :data:`CONFIRM_AFTER_ERROR`. None (default): the variant's
            ``confirm_streak`` (10 for ``"original"``, see ``cascade_variants``),
            or 0 when ``passes`` is given. 0: the paper's variant unchanged. At
            most :data:`MAX_CONFIRM`; the stage also stops after
            :data:`MAX_BICONF_PASSES` BICONF passes.

    Returns:
        The :class:`ReconciliationResult`; ``corrected`` is uint8, shape ``(n,)``.

    Raises:
        ConfigError: on an unknown variant, ``qber`` outside ``[0, 0.5)``,
            empty or non-binary keys, keys of different lengths, or a bad
            ``passes`` or ``confirm``.
    """
    spec = get_cascade_variant(variant)
    q = _check_qber(qber)
    n_passes = _optional_count(passes, name="passes", low=1, high=MAX_PASSES)
    n_confirm = _optional_count(confirm, name="confirm", low=0, high=MAX_CONFIRM)
    if n_confirm is None:
        n_confirm = spec.confirm_streak if n_passes is None else 0
    a = as_bits(alice, name="alice")
    b = as_bits(bob, name="bob")
    if a.size == 0:
        raise ConfigError("alice and bob keys must not be empty, got length 0")
    if a.size != b.size:
        raise ConfigError(f"alice and bob keys differ in length: {a.size} != {b.size}")
    if not isinstance(stage, str) or not stage:
        raise ConfigError(f"stage must be a non-empty string, got {stage!r}")
    generator = ensure_rng(rng)
    chan = PublicChannel() if channel is None else channel

    q_used = max(q, QBER_FLOOR)
    shuffles = _PublicShuffles(a.size)
    oracle = _AliceParityOracle(a, shuffles=shuffles, channel=chan, stage=stage)
    bob_side = _BobCascade(
        b,
        oracle=oracle,
        shuffles=shuffles,
        variant=spec,
        qber_used=q_used,
        passes=spec.passes if n_passes is None else n_passes,
        rng=generator,
        channel=chan,
        stage=stage,
        confirm=n_confirm,
    )
    corrected = bob_side.run()

    n = a.size
    h = float(binary_entropy(q))
    leaked = oracle.disclosed
    efficiency = leaked / (n * h) if h > 0 else math.nan
    stats = CascadeStats(
        variant=spec.name,
        qber_used=q_used,
        block_sizes=tuple(bob_side.block_sizes),
        biconf_passes=bob_side.biconf_passes,
        confirm=bob_side.streak,
        rounds=bob_side.rounds,
        flipped_bits=bob_side.flipped,
        confirmation_bits=leaked - bob_side.variant_leaked,
        confirmation_flips=bob_side.flipped - bob_side.variant_flipped,
    )
    return ReconciliationResult(
        corrected=corrected,
        method=f"cascade:{spec.name}",
        leaked_bits=leaked,
        messages=bob_side.messages + oracle.messages,
        efficiency=efficiency,
        cascade=stats,
    )
