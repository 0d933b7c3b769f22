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
  bisected, across all passes; int32, int64 only for frames of 2^31 bits or
  more), Alice replies with their parities. So
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
* **Pending confirmation passes.** A confirmation pass (a random subset) whose
  parity agrees needs no per-position bookkeeping until a later flip makes it
  odd: both parties compute its parity from the packed subset (a popcount), and
  only then build its rows, from Bob's key at that moment. Most confirmation
  passes are never bisected, so the confirmation stage costs ~1 ms per pass
  instead of a full pass; the transcript is byte for byte the one of building
  every pass at once (checked against that implementation on 300 seeded frames).
* **Frames.** Keys of ``2 FRAME_BITS`` bits or more are cut into frames
  (:data:`FRAME_BITS`, :func:`frame_bounds`), independent Cascade runs reconciled
  concurrently on a thread per CPU (numpy releases the GIL in the per-pass work:
  1.8x on 2 cores), each with shuffles from its own public seed; their messages are
  recorded frame after frame.
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

import itertools
import math
import numbers
import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
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
    "FRAME_BITS",
    "MAX_BICONF_PASSES",
    "MAX_CONFIRM",
    "MAX_PASSES",
    "QBER_FLOOR",
    "CascadeStats",
    "ReconciliationResult",
    "frame_bounds",
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

FRAME_BITS: Final[int] = 2**20
"""Frame size of long keys: a key of ``n >= 2 FRAME_BITS`` bits is reconciled in
``n // FRAME_BITS`` frames of equal size (± 1 bit), each an independent Cascade run.

Every pass of Cascade permutes, gathers and scatters the whole frame: beyond a few
MiB of indices these are cache misses (and, on a fresh process, page faults), so the
cost per bit grows with the frame. Frames of 2^20–2^21 bits keep the per-pass
working set (int32 indices) near the cache, at the same efficiency as one frame
(``benchmarks/bench_cascade.py``); each frame ends with its own confirmation
stage, so a frame error stays a per-frame event (verification checks the whole key).
"""


def frame_bounds(n: int, frame_bits: int = FRAME_BITS) -> list[int]:
    """Boundaries ``[0, …, n]`` of the frames of an ``n``-bit key (see :data:`FRAME_BITS`).

    One frame below ``2 frame_bits``; otherwise ``n // frame_bits`` frames whose
    sizes differ by at most one bit.
    """
    count = max(1, n // frame_bits)
    return [(n * i) // count for i in range(count + 1)]


def usable_cpus() -> int:
    """CPUs this process may run on (frames reconciled at once)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _frame_bits(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ConfigError(f"frame_bits must be None or an integer >= 1, got {value!r}")
    return int(value)


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
        frames: Frames the key was cut into (:data:`FRAME_BITS`); every count
            above is summed over frames (``confirm``: the largest streak), and
            ``block_sizes`` are those of the first frame (the others differ by at
            most one bit in length).
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
    frames: int = 1

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


class _Workspace:
    """Arrays one thread reuses from frame to frame (the frames of a key differ by at most
    one bit in length): on a fresh process every new page costs a fault, as much as the
    work done on it, so a frame's O(n) rows are views of buffers kept here.

    Nothing is assumed about a buffer's contents except :meth:`arange`'s.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, NDArray[Any]] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype: type[np.generic]) -> NDArray[Any]:
        """An uninitialised C-contiguous array of ``shape``, reusing buffer ``name``."""
        size = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.dtype != np.dtype(dtype) or buf.size < size:
            buf = np.empty(size, dtype=dtype)
            self._buffers[name] = buf
        return buf[:size].reshape(shape)

    def arange(self, n: int) -> I32:
        """``0, 1, …, n − 1`` as int32 (read-only; a prefix of the longest one made)."""
        buf = self._buffers.get("arange")
        if buf is None or buf.size < n:
            buf = np.arange(n, dtype=np.int32)
            buf.flags.writeable = False
            self._buffers["arange"] = buf
        return buf[:n]


class _SharedPermutations:
    """The regular passes' permutations, shared by the frames of one key.

    All frames of a key draw their pass seeds from one public seed, so pass ``p`` of
    every frame has the same seed, and frames are ``length`` or ``length + 1`` bits
    long (:func:`frame_bounds`). The permutation of ``length`` for a seed is the
    shuffle of ``arange(length)`` by ``Generator(seed)``, drawn once for all frames
    (the shuffle is ~40% of a frame's work at 2^20 bits). That of ``length + 1`` is
    derived from it by one more step of the "inside-out" Fisher–Yates shuffle
    (Durstenfeld, CACM 7, 420 (1964); Knuth, TAOCP vol. 2, §3.4.2): the new index
    ``length`` goes to a uniform position ``j`` (from ``Generator([seed, length + 1])``)
    and the element there to the end. A uniform permutation and an independent
    uniform ``j`` give a uniform permutation of ``length + 1``. Sharing a public
    permutation between frames changes nothing in Cascade: each frame's errors are
    independent of it.

    Thread-safe and deterministic: the first frame to ask for a permutation computes
    it while the others wait; at most :attr:`KEEP` are kept, and one dropped is
    recomputed identically if asked for again.
    """

    KEEP = 8

    def __init__(self, length: int) -> None:
        self._length = length
        self._lock = threading.Lock()
        self._made: dict[tuple[int, int], Future[I32]] = {}

    def permutation(self, seed: int, n: int, workspace: _Workspace) -> I32:
        """The permutation of pass seed ``seed`` for a frame of ``n`` bits (int32,
        read-only); ``n`` is ``length`` or ``length + 1``."""
        if n not in (self._length, self._length + 1):
            raise ValueError(f"frame of {n} bits: expected {self._length} or {self._length + 1}")
        key = (seed, n)
        with self._lock:
            made = self._made.get(key)
            owner = made is None
            if made is None:
                made = self._made[key] = Future()
                while len(self._made) > self.KEEP:
                    del self._made[next(iter(self._made))]
        if not owner:
            return made.result()
        try:
            if n == self._length:
                order = workspace.arange(n).copy()
                np.random.default_rng(seed).shuffle(order)
            else:
                base = self.permutation(seed, self._length, workspace)
                order = self.extend(base, int(np.random.default_rng([seed, n]).integers(0, n)))
            order.flags.writeable = False
        except BaseException as exc:
            made.set_exception(exc)
            raise
        made.set_result(order)
        return order

    @staticmethod
    def extend(base: I32, j: int) -> I32:
        """The inside-out step: ``base`` (a permutation of ``n``) with ``n`` put at
        position ``j`` in ``[0, n]`` and the element there moved to the end."""
        n = base.size
        order = np.empty(n + 1, dtype=np.int32)
        order[:n] = base
        order[n] = order[j]
        order[j] = n
        return order


class _PublicShuffles:
    """The public map from a pass's shuffle seed to its permutation, run by both parties.

    ``order(seed)[i]`` is the key index at pass position ``i`` (int32, shape
    ``(n,)``, read-only). The last permutation is memoised, so that the
    simulation draws it once although Bob and Alice each derive it.

    ``order(seed, subset=True)`` is the order of a confirmation pass: the key
    indices of a random subset (each index in it independently with probability
    1/2, from the seed's bits) in increasing order, then the others; the subset's
    size is ``subset_size(seed)``. Drawing n bits is ~5x faster than a permutation,
    and any non-empty set of errors meets such a subset in an odd number of bits
    with probability exactly 1/2. ``mask(seed)`` is the subset as packed bits
    (``np.packbits`` order, uint8, shape ``(ceil(n/8),)``): enough to compute the
    subset's parity without building its order.
    """

    def __init__(
        self,
        n: int,
        workspace: _Workspace | None = None,
        shared: _SharedPermutations | None = None,
    ) -> None:
        self._n = n
        self._shared = shared
        self._workspace = _Workspace() if workspace is None else workspace
        # Reused: fresh memory costs as much as a shuffle.
        self._order: I32 = self._workspace.array("order", (n,), np.int32)
        self._last: tuple[int, bool, I32, int] | None = None
        self._last_mask: tuple[int, U8, int] | None = None

    def order(self, seed: int, subset: bool = False) -> I32:
        """The order of the pass whose shuffle seed is ``seed`` (valid until the next call)."""
        return self._derive(seed, subset)[0]

    def mask(self, seed: int) -> U8:
        """The subset of a confirmation pass as packed bits (read-only)."""
        return self._mask(seed)[0]

    def subset_size(self, seed: int) -> int:
        """Size of the random subset of a confirmation pass (its first positions)."""
        return self._mask(seed)[1]

    def _mask(self, seed: int) -> tuple[U8, int]:
        if self._last_mask is None or self._last_mask[0] != seed:
            rng = np.random.default_rng(seed)
            bits = np.frombuffer(rng.bytes((self._n + 7) // 8), dtype=np.uint8).copy()
            if self._n % 8:  # the padding bits of the last byte are outside the key
                bits[-1] &= np.uint8((0xFF << (8 - self._n % 8)) & 0xFF)
            bits.flags.writeable = False
            self._last_mask = (seed, bits, int(np.bitwise_count(bits).sum()))
        return self._last_mask[1], self._last_mask[2]

    def _derive(self, seed: int, subset: bool) -> tuple[I32, int]:
        if self._last is None or self._last[:2] != (seed, subset):
            if not subset and self._shared is not None:
                order = self._shared.permutation(seed, self._n, self._workspace)
                size = self._n
            else:
                order = self._order
                order.flags.writeable = True
                if subset:
                    inside = np.unpackbits(self.mask(seed), count=self._n).view(bool)
                    size = int(np.count_nonzero(inside))
                    order[:size] = np.flatnonzero(inside)
                    order[size:] = np.flatnonzero(~inside)
                else:
                    # The permutation of Generator.permutation(n), without its fresh array.
                    order[:] = self._workspace.arange(self._n)
                    np.random.default_rng(seed).shuffle(order)
                    size = self._n
                order.flags.writeable = False
            self._last = (seed, subset, order, size)
        return self._last[2], self._last[3]


def _packed_parity(packed_key: U8, mask: U8) -> int:
    """Parity of the key bits inside ``mask`` (both packed with ``np.packbits``)."""
    return int(np.bitwise_count(packed_key & mask).sum()) & 1


def _mask_members(mask: U8, indices: I64) -> NDArray[np.bool_]:
    """Which key ``indices`` lie in the packed subset ``mask``."""
    shift = (7 - (indices & 7)).astype(np.uint8)
    return ((mask[indices >> 3] >> shift) & 1).astype(bool)


class _AliceParityOracle:
    """Alice's side of Cascade: holds her key and answers parity queries.

    Nothing but parities leaves this object, and every answer is sent on the
    public channel with ``leaked_bits`` equal to the number of parities.
    Alice keeps, for each pass, the prefix XOR of her key in that pass's order,
    so the parity of pass positions ``[a, b)`` is ``px[b] ^ px[a]``. For a
    confirmation pass she first answers from the packed subset alone and builds
    its prefix XOR only when Bob asks about a part of it (most such passes are
    never bisected).
    """

    def __init__(
        self,
        key: U8,
        *,
        shuffles: _PublicShuffles,
        channel: PublicChannel,
        stage: str,
        workspace: _Workspace | None = None,
        passes: int = 4,
    ) -> None:
        ws = _Workspace() if workspace is None else workspace
        self._key = key
        self._packed = np.packbits(key)
        self._shuffles = shuffles
        self._channel = channel
        self._stage = stage
        self._px = ws.array("alice_px", (max(passes, 1), key.size + 1), np.uint8)
        self._gathered = ws.array("alice_gathered", (key.size,), np.uint8)
        self._pending: dict[int, int] = {}  # confirmation pass -> seed, prefix XOR not built
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
            grown = np.empty((2 * self._passes, self._key.size + 1), dtype=np.uint8)
            grown[: self._passes] = self._px
            self._px = grown
        p = self._passes
        self._passes += 1
        if subset:
            self._pending[p] = seed
            parity = _packed_parity(self._packed, self._shuffles.mask(seed))
            return self._reply(np.full(starts.size, parity, dtype=np.uint8))
        row = self._build(p, seed, int(ends[-1]) if ends.size else 0, subset)
        return self._reply(row[ends] ^ row[starts])

    def _build(self, p: int, seed: int, limit: int, subset: bool) -> U8:
        """Fill pass ``p``'s prefix XOR over its first ``limit`` positions (all ever asked)."""
        row = self._px[p]
        row[0] = 0
        order = self._shuffles.order(seed, subset)[:limit]
        gathered = np.take(self._key, order, out=self._gathered[:limit])
        np.bitwise_xor.accumulate(gathered, out=row[1 : limit + 1])
        return row

    def parities(self, passes: I64, starts: I64, ends: I64) -> U8:
        """Parities of Alice's key over pass positions ``[starts, ends)`` of the given passes."""
        if self._pending:
            for p in np.unique(passes).tolist():
                if p in self._pending:
                    seed = self._pending.pop(p)
                    self._build(p, seed, self._shuffles.subset_size(seed), True)
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
        workspace: _Workspace | None = None,
    ) -> None:
        ws = _Workspace() if workspace is None else workspace
        n = key.size
        self._n = n
        self._stride = n + 1
        self._cur = ws.array("bob_key", (n,), np.uint8)
        self._cur[:] = key
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
        self._perm = ws.array("perm", (cap, n), np.int32)
        self._inv = ws.array("inv", (cap, n), np.int32)
        self._leaf_of = ws.array("leaf_of", (cap, n), np.int32)
        self._bpx = ws.array("bob_px", (cap, n + 1), np.uint8)
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
        self._taken = ws.array("taken", (n,), np.bool_)
        self._taken.fill(False)
        self._arange_n = ws.arange(n)
        self._cur_packed = np.packbits(self._cur)
        self._gathered = ws.array("bob_gathered", (n,), np.uint8)
        # Bisection requests carry pass numbers and positions: int32 below 2^31 bits.
        self._wire: type[np.signedinteger[Any]] = np.int32 if n < 2**31 else np.int64
        self._active = np.zeros(cap, dtype=bool)  # rows built (every pass but pending ones)
        self._first_leaf = np.zeros(cap, dtype=np.int64)
        self._pending: dict[int, tuple[int, U8]] = {}  # pending confirmation pass -> seed, mask

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

    def _send(self, payload: NDArray[np.integer[Any]]) -> None:
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
        self._active, self._first_leaf = double(self._active), double(self._first_leaf)

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
        subset; ``size`` is derived from the seed). A ``_SUBSET`` pass whose parity
        agrees is kept *pending*: its one leaf is known, but its per-position rows are
        built (:meth:`_build_rows`) only if a later flip makes it odd.
        """
        n, p = self._n, self._npass
        seed = draw_seed(self._rng)
        subset = kind == _SUBSET
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
        self._npass += 1
        self._top_off[p], self._top_k[p], self._top_lim[p] = self._tr.size, max(size, 1), limit
        if subset:
            mask = self._shuffles.mask(seed)
            err = alice ^ np.uint8(_packed_parity(self._cur_packed, mask))
            self._pending[p] = (seed, mask)
        else:
            err = self._build_rows(p, self._shuffles.order(seed), starts, ends, alice)
        n_top = self._tr.size
        self._tr = np.concatenate([self._tr, err])
        blocks = np.arange(starts.size, dtype=np.int64)
        ids = self._append_leaves(np.full(starts.size, p), starts, ends, alice, err, n_top + blocks)
        self._first_leaf[p] = ids[0]
        if subset and err[0]:
            self._build_pending(p)
        elif not subset:
            self._fill_leaf_row(p)

    def _build_rows(self, p: int, order: I32, starts: I64, ends: I64, alice: U8) -> U8:
        """Fill pass ``p``'s permutation, inverse and prefix XOR; return block error parities."""
        limit = int(self._top_lim[p])
        self._perm[p] = order
        self._inv[p][order] = self._arange_n
        px = self._bpx[p]
        # Only ranges inside [0, limit) are ever asked about.
        px[0] = 0
        gathered = np.take(self._cur, order[:limit], out=self._gathered[:limit])
        np.bitwise_xor.accumulate(gathered, out=px[1 : limit + 1])
        self._active[p] = True
        return alice ^ px[ends] ^ px[starts]

    def _fill_leaf_row(self, p: int) -> None:
        """The leaf of every position of pass ``p`` just after it opened (one per block)."""
        limit, size, first = int(self._top_lim[p]), int(self._top_k[p]), int(self._first_leaf[p])
        row = self._leaf_of[p]
        if limit <= size:
            row[:limit] = first
        else:
            np.floor_divide(self._arange_n[:limit], size, out=row[:limit])
            row[:limit] += first
        row[limit:] = -1

    def _build_pending(self, p: int) -> None:
        """Build the rows of pending confirmation pass ``p``, now odd, from Bob's current key.

        Flips made while it was pending were applied to its leaf's parity directly
        (:meth:`_apply_flips`), so the prefix XOR is of the current key and no flip
        before now is recorded for it in ``_g``.
        """
        seed, _ = self._pending.pop(p)
        limit = int(self._top_lim[p])
        order = self._shuffles.order(seed, subset=True)
        whole = np.zeros(1, np.int64), np.full(1, limit, np.int64)
        self._build_rows(p, order, *whole, np.zeros(1, np.uint8))
        self._fill_leaf_row(p)

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
            self._send(np.concatenate([p, s, m]).astype(self._wire))
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

    def _apply_flips(self, flipped: I64) -> None:
        """Flip Bob's bits and toggle the error parity of every known range holding them."""
        self._cur[flipped] ^= 1
        np.bitwise_xor.at(self._cur_packed, flipped >> 3, (0x80 >> (flipped & 7)).astype(np.uint8))
        self.flipped += int(flipped.size)
        npass = self._npass
        passes = np.flatnonzero(self._active[:npass])[:, None]
        q = self._inv[passes, flipped].astype(np.int64)  # (passes, flips) pass positions
        keys = np.sort((passes * self._stride + q).ravel())
        self._g = np.insert(self._g, np.searchsorted(self._g, keys), keys)
        leaves = self._leaf_of[passes, q]
        np.bitwise_xor.at(self._lr, leaves[leaves >= 0], 1)
        inside = q < self._top_lim[passes]
        tops = self._top_off[passes] + q // self._top_k[passes]
        np.bitwise_xor.at(self._tr, tops[inside], 1)
        for p, (_, mask) in list(self._pending.items()):
            if np.count_nonzero(_mask_members(mask, flipped)) & 1:
                leaf = self._first_leaf[p]
                self._lr[leaf] ^= 1
                self._tr[self._top_off[p]] ^= 1
                self._build_pending(p)


@dataclass(frozen=True, slots=True)
class _FrameStats:
    """What :func:`reconcile_cascade` keeps of one frame's run (its arrays are reused)."""

    block_sizes: tuple[int, ...]
    biconf_passes: int
    streak: int
    rounds: int
    flipped: int
    variant_leaked: int
    variant_flipped: int
    disclosed: int
    messages: int

    @classmethod
    def of(cls, bob: _BobCascade, alice: _AliceParityOracle) -> _FrameStats:
        return cls(
            tuple(bob.block_sizes), bob.biconf_passes, bob.streak, bob.rounds, bob.flipped,
            bob.variant_leaked, bob.variant_flipped, alice.disclosed,
            bob.messages + alice.messages,
        )  # fmt: skip


def check_qber(qber: object) -> float:
    """``qber`` as a float in ``[0, 0.5)``, or ConfigError quoting it (Cascade and LDPC)."""
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
    frame_bits: int | None = None,
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
        frame_bits: Frame size for long keys (:func:`frame_bounds`); None:
            :data:`FRAME_BITS`. Each frame runs the variant's passes and
            confirmation stage, concurrently with the others (module docstring);
            with several frames, ``rng`` draws one public seed that every frame's
            pass seeds come from, so the frames' regular passes share their
            permutations (``_SharedPermutations``).

    Returns:
        The :class:`ReconciliationResult`; ``corrected`` is uint8, shape ``(n,)``.

    Raises:
        ConfigError: on an unknown variant, ``qber`` outside ``[0, 0.5)``,
            empty or non-binary keys, keys of different lengths, or a bad
            ``passes`` or ``confirm``.
    """
    spec = get_cascade_variant(variant)
    q = check_qber(qber)
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
    n = a.size
    frames = frame_bounds(n, FRAME_BITS if frame_bits is None else _frame_bits(frame_bits))
    corrected = np.empty(n, dtype=np.uint8)
    bounds = list(itertools.pairwise(frames))

    passes_cap = (
        (spec.passes if n_passes is None else n_passes) + 2 * max(spec.biconf_streak, n_confirm) + 2
    )

    shared = _SharedPermutations(min(hi - lo for lo, hi in bounds)) if len(bounds) > 1 else None

    def reconcile_frame(
        lo: int, hi: int, rng: np.random.Generator, frame_channel: PublicChannel, ws: _Workspace
    ) -> _FrameStats:
        shuffles = _PublicShuffles(hi - lo, ws, shared)
        oracle = _AliceParityOracle(
            a[lo:hi], shuffles=shuffles, channel=frame_channel, stage=stage, workspace=ws,
            passes=passes_cap,
        )  # fmt: skip
        bob_side = _BobCascade(
            b[lo:hi],
            oracle=oracle,
            shuffles=shuffles,
            variant=spec,
            qber_used=q_used,
            passes=spec.passes if n_passes is None else n_passes,
            rng=rng,
            channel=frame_channel,
            stage=stage,
            confirm=n_confirm,
            workspace=ws,
        )
        corrected[lo:hi] = bob_side.run()
        return _FrameStats.of(bob_side, oracle)

    if len(bounds) == 1:
        runs = [reconcile_frame(0, n, generator, chan, _Workspace())]
    else:
        # Independent frames run concurrently (numpy releases the GIL in the O(n) work):
        # each draws its pass seeds from the same public seed, so their regular passes
        # share one permutation (``_SharedPermutations``), and speaks on its own channel,
        # recorded on ``chan`` frame after frame, so the transcript does not depend on
        # the scheduling. Each thread reuses one workspace for its frames.
        seeds = [draw_seed(generator)] * len(bounds)
        channels = [PublicChannel() for _ in bounds]
        workers = min(len(bounds), usable_cpus())
        spaces: queue.SimpleQueue[_Workspace] = queue.SimpleQueue()
        for _ in range(workers):
            spaces.put(_Workspace())

        def frame_task(lo: int, hi: int, seed: int, frame_chan: PublicChannel) -> _FrameStats:
            ws = spaces.get()
            try:
                return reconcile_frame(lo, hi, np.random.default_rng(seed), frame_chan, ws)
            finally:
                spaces.put(ws)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(frame_task, lo, hi, seed, frame_chan)
                for (lo, hi), seed, frame_chan in zip(bounds, seeds, channels, strict=True)
            ]
            runs = [f.result() for f in futures]
        for frame_chan in channels:
            chan.extend(frame_chan)
    leaked = sum(r.disclosed for r in runs)
    messages = sum(r.messages for r in runs)

    h = float(binary_entropy(q))
    efficiency = leaked / (n * h) if h > 0 else math.nan
    stats = CascadeStats(
        variant=spec.name,
        qber_used=q_used,
        block_sizes=runs[0].block_sizes,
        biconf_passes=sum(r.biconf_passes for r in runs),
        confirm=max(r.streak for r in runs),
        rounds=sum(r.rounds for r in runs),
        flipped_bits=sum(r.flipped for r in runs),
        confirmation_bits=leaked - sum(r.variant_leaked for r in runs),
        confirmation_flips=sum(r.flipped - r.variant_flipped for r in runs),
        frames=len(runs),
    )
    return ReconciliationResult(
        corrected=corrected,
        method=f"cascade:{spec.name}",
        leaked_bits=leaked,
        messages=messages,
        efficiency=efficiency,
        cascade=stats,
    )
