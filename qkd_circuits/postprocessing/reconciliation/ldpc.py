"""One-way LDPC reconciliation: syndrome decoding, rate-adaptive and blind.

Protocol (per frame)
--------------------
Slepian–Wolf coding with side information: Alice sends the syndrome ``H x`` of
her frame ``x``; Bob, who holds ``y = x ⊕ e``, decodes the error pattern ``e``
from ``H y ⊕ H x = H e`` by product-sum belief propagation, with channel
log-likelihood ratios ``log((1 − q)/q)`` from the QBER estimate ``q``: the compiled
layered decoder of :mod:`~.bp_decoder` (numba, the ``fast`` extra) when numba is
installed, else the ``ldpc`` package's ``BpDecoder`` (product-sum, flooding,
syndrome mode) — ``decoder=`` chooses (:data:`DECODERS`). One message from Alice
and one acknowledgement from Bob per frame.

Rate adaptation (Elkouss, Martínez-Mateo, Martin, QIC 11, 226 (2011)). A frame
of a mother code of length ``n`` and ``m`` checks holds ``k_f`` key bits, ``p``
*punctured* bits and ``s`` *shortened* bits (``k_f + p + s = n``):

* shortened bits are fixed to 0 and known to both (their positions follow from
  the code, :attr:`~.ldpc_codes.LdpcCode.shorten_order`): Bob's decoder treats
  them as known;
* punctured bits are **secret uniform bits drawn by Alice** (``secret_rng``),
  never used as key; Bob's decoder gives them LLR 0. Their positions are a
  prefix of the code's untainted puncturing order, so the punctured columns of
  ``H`` are linearly independent (:mod:`~.ldpc_codes`).

The rate is ``R = (k − s)/(n − p − s)``, chosen so that ``1 − R = f* h(q)`` for a
design efficiency ``f*`` (:func:`design_efficiency`); the mother code is the one
of the family (:mod:`~.ldpc_codes`) that carries the most key bits per frame at
that rate with at most its untainted set punctured. The rates are tried in order of
preference and a code is built (on first use) only when its ``m``, known beforehand,
gives ``p >= 0`` and ``s >= 0``: usually one code, not the whole family (a cold cache
then costs seconds, not ~20 s).

Leakage, counted exactly
------------------------
The syndrome has ``m`` bits; the message is recorded with ``leaked_bits = m − p``.
Why ``− p``: with ``T`` an invertible map of the syndrome space such that
``T H_p = [0; I_p]`` (it exists because the ``p`` punctured columns ``H_p`` are
independent), ``T·syndrome = (T₁ H_k x, T₂ H_k x ⊕ r)``: the last ``p`` bits are
one-time-padded by Alice's uniform secret ``r`` and independent of the key, so
the message tells Eve no more than ``m − p`` bits (the leakage of Elkouss et al.
2011, ``(1 − R)(n − p − s)``). Every punctured value Alice later reveals (blind
reconciliation) removes one bit of that pad and is recorded with
``leaked_bits = 1`` each. Shortened values are fixed by the protocol (0) and
leak nothing. Bob's acknowledgements (success or not) are public and
authenticated but, like Cascade's requests, not counted (README, *Security
model*). ``leaked_bits`` of the result equals the channel's count for the
stage, discarded frames included.

Blind reconciliation (Martínez-Mateo, Elkouss, Martin, Sci. Rep. 3, 1576 (2013))
---------------------------------------------------------------------------------
``blind=True``: a frame starts punctured for an *optimistic* efficiency
:func:`blind_start_efficiency` (between its rate's BP threshold and
:func:`design_efficiency`); when Bob's decoding fails, Alice reveals the values of the
next ``Δ`` punctured bits (last of the untainted order first) and Bob decodes again
with them known: :data:`BLIND_FINE_ROUNDS` reveals step evenly to
:func:`design_efficiency`, the rest of the :data:`BLIND_ROUNDS` on to
:func:`design_efficiency` + :data:`BLIND_END_MARGIN` as far as punctured bits are
left. A blind frame goes on the code with the fewest punctured bits whose every
punctured bit revealed reaches :func:`design_efficiency`, so that it ends at least as
protected as a one-shot frame (a full frame with no room for that carries fewer key
bits, down to ``n − 2δn``: :func:`_blind_frame`); when no code can, the frame is sent
once at that efficiency, as a one-shot frame (measured: blind frames that ran out of
punctured bits below it failed 24 of 334 times at n = 10^4 and Q = 1 %). A frame so
decodes at about its own error count's efficiency, not at one set for the unluckiest
frames: at Q = 2 % and n = 10^5, f = 1.097 against 1.154 one-shot
(``benchmarks/README.md``). Two messages per attempt.

Frame errors
------------
A frame whose decoding fails (BP did not converge to the syndrome after
:data:`MAX_ITERATIONS` iterations, every blind reveal spent) is a **frame
error**: Bob knows it, acknowledges the failure, and keeps his own bits for it
uncorrected. The key is never emitted then: the verification stage compares a
hash of the whole key and aborts (``verification_failed``) — discarding the frame
instead would change the key length the finite-key statement was computed
for, so it is not done here. A decoding that converges to a *wrong* error
pattern (another word of the same syndrome coset) is not known to Bob and is
caught by the same verification; it was seen once, 2 bits wrong in a 3,000-bit
remainder frame on a code of length 4,000 (short codes of these high-degree
distributions keep 4-cycles and low-weight words), and, before the codes'
degree-2 construction (:mod:`~.ldpc_codes`), on ~5 % of the frames of 10^5 bits
(words 3–8 bits away); ``benchmarks/bench_ldpc.py`` counts them apart.

Frames and the last one
-----------------------
A key of at least one full frame is cut into equal frames of ``n − 2δn`` to ``n − δn``
key bits (``δ`` = :data:`MODULATION`, 0.05: the modulated fraction ``(p + s)/n`` of
Elkouss et al. 2011), each on the mother code of the family that reaches the design
rate with at most its untainted set punctured; among the frame counts that fit, the
one whose frames puncture the fewest bits (a higher-rate code shortened rather than a
lower one punctured near its limit: measured, at Q = 2–4 % and n = 10^5 puncturing
4,400–4,900 bits failed 3–13 of 48 frames where shortening the next code failed 0–4 of
~50). When no code reaches that rate for them, full frames carry ``n − δ n`` key bits;
what is left of the key (less than one full frame) goes to frames of the next smaller
code length of :data:`~.ldpc_codes.FRAME_SIZES`, and the last remainder to frames of
its own code length (the next multiple of 1,000 above ``remainder / (1 − δ)``, built
and cached on first use), at the design efficiency of its own number of key bits: no
frame is mostly shortened (measured: such frames fail far below their rate's
threshold). No bit is left unreconciled. Above the lowest rate's reach (QBER ≳ 9 % at
n = 10^4) a frame carries fewer key bits and more shortened ones; below the highest
rate's reach (QBER ≲ 1 %) and between two codes' reach, frames are over-protected (a
lower rate than the design one, never a higher): more leakage, reported as it is.

Frames are decoded in parallel, one thread per CPU (the compiled decoder releases
the GIL) or one process per CPU (the ``ldpc`` package's decoder holds it), when
there are at least two; the transcript is recorded frame after frame, in order,
whatever the scheduling.
"""

from __future__ import annotations

import importlib.util
import math
import numbers
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.bits import as_bits
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.reconciliation.cascade import (
    ReconciliationResult,
    check_qber,
    usable_cpus,
)
from qkd_circuits.postprocessing.reconciliation.ldpc_codes import (
    DEFAULT_SEED,
    FRAME_SIZES,
    RATES,
    THRESHOLD_EFFICIENCY,
    LdpcCode,
    cache_dir,
    check_count,
    get_code,
)
from qkd_circuits.randomness import RNGLike, ensure_secret_rng

__all__ = [
    "BLIND_END_MARGIN",
    "BLIND_FINE_ROUNDS",
    "BLIND_ROUNDS",
    "BLIND_START",
    "DECODERS",
    "EFFICIENCY_LOSS",
    "EFFICIENCY_LOSS_EXPONENT",
    "EFFICIENCY_SIGMAS",
    "LOSS_REFERENCE",
    "MAX_ITERATIONS",
    "MODULATION",
    "QBER_FLOOR",
    "LdpcReconciliationResult",
    "LdpcStats",
    "blind_start_efficiency",
    "default_decoder",
    "design_efficiency",
    "numba_available",
    "reconcile_ldpc",
    "reconciliation_frames",
]

QBER_FLOOR: Final[float] = 1e-3
"""Smallest QBER used for the rate and the LLRs (an estimate of 0 is raised to this)."""

MAX_ITERATIONS: Final[int] = 100
"""Belief-propagation iterations per decoding attempt."""

DECODERS: Final[tuple[str, ...]] = ("numba", "ldpc")
"""``decoder=`` of :func:`reconcile_ldpc`: ``"numba"``, the compiled layered product-sum
decoder of :mod:`~.bp_decoder` (needs numba); ``"ldpc"``, the ``ldpc`` package's
flooding product-sum ``BpDecoder``."""


def numba_available() -> bool:
    """Whether numba is installed (found without importing it)."""
    return importlib.util.find_spec("numba") is not None


def default_decoder() -> str:
    """``"numba"`` when numba is installed, else ``"ldpc"``."""
    return "numba" if numba_available() else "ldpc"


EFFICIENCY_SIGMAS: Final[float] = 3.0
"""``z`` of :func:`design_efficiency`: standard deviations of a frame's error count."""

EFFICIENCY_LOSS: Final[dict[float, float]] = {
    0.50: 8.0, 0.55: 8.0, 0.60: 8.0, 0.65: 8.0, 0.70: 8.0, 0.75: 8.0, 0.80: 8.0,
    0.85: 16.0, 0.90: 30.0,
}  # fmt: skip
"""``c(R)`` of :func:`design_efficiency`, per design rate: the codes' own finite-length
loss at ``N`` = :data:`LOSS_REFERENCE` bits is ``c/√N``. Measured
(``benchmarks/README.md``): with 8 for every rate, no frame of ~105 failed at
n = 10^5 over Q = 2–10 %, but the high-rate codes, heavily punctured at Q < 2 %,
needed more (12 of 105 failed at Q = 1.5 % and 14 at 1 %; with these, 1 and 0). With
these values, 0–2 of ~320 and 0–2 of ~1,060 frames failed at Q = 2–10 %."""


LOSS_REFERENCE: Final[int] = 100_000
"""Frame size ``N`` at which :data:`EFFICIENCY_LOSS` is given."""

EFFICIENCY_LOSS_EXPONENT: Final[float] = 0.6
"""``γ``: the loss is ``c/√N · (N/n)^γ`` with ``N`` = :data:`LOSS_REFERENCE`."""


def design_efficiency(q: float, n: int) -> float:
    """Target ``f* = (1 − R)/h(q)`` of a non-blind frame of ``n`` key bits:
    ``f_BP(R) · h(q + z σ)/h(q) + c(R)/√N · (N/n)^γ`` with ``σ = √(q (1 − q)/n)``.

    A frame decodes when its own error fraction is below what its code corrects. That
    fraction has standard deviation ``σ`` about ``q``, so the frame is designed for
    ``q + z σ`` (``z`` = :data:`EFFICIENCY_SIGMAS`) at the BP threshold of its rate:
    ``f_BP(R)`` is the efficiency at the threshold of the family's distributions
    (:data:`~.ldpc_codes.THRESHOLD_EFFICIENCY`, interpolated in the rate
    ``R = 1 − f* h`` the frame needs: what its codes reach as n grows), and the last
    term is the codes' own finite-length loss: their waterfall lies ``∝ 1/√n`` below
    the threshold (Amraoui, Montanari, Richardson, Urbanke, IEEE Trans. IT 55, 473
    (2009)), ``c(R)`` (:data:`EFFICIENCY_LOSS`) at ``N`` = :data:`LOSS_REFERENCE`
    bits; measured, it falls a little faster than ``1/√n`` from 10^4 to 10^5 bits
    (``γ`` = :data:`EFFICIENCY_LOSS_EXPONENT`: with ``γ = 1/2``, 15 of 1,052 frames of
    10^4 bits failed at Q = 2 %, with 0.6, 5). ``z``, ``c`` and ``γ`` are set from
    ``benchmarks/bench_ldpc.py`` at n = 10^5 and 10^4 (``benchmarks/README.md``)."""
    qq = max(q, QBER_FLOOR)
    shifted = min(qq + EFFICIENCY_SIGMAS * math.sqrt(qq * (1.0 - qq) / n), 0.5)
    spread = float(binary_entropy(shifted) / binary_entropy(qq))
    return _at_threshold(
        qq, spread, (LOSS_REFERENCE / n) ** EFFICIENCY_LOSS_EXPONENT / math.sqrt(LOSS_REFERENCE)
    )


def blind_start_efficiency(q: float, n: int) -> float:
    """Efficiency of the first attempt of a blind frame of ``n`` key bits:
    ``f_BP + a (f* − f_BP)``, ``a`` = :data:`BLIND_START` of the way from the threshold
    efficiency ``f_BP(R)`` of the rate the frame needs (what the average frame reaches as
    n grows) to :func:`design_efficiency` ``f*`` (where all but ~1 % of frames decode)."""
    qq = max(q, QBER_FLOOR)
    f_bp = _at_threshold(qq, 1.0, 0.0)
    return f_bp + BLIND_START * (design_efficiency(qq, n) - f_bp)


def _at_threshold(q: float, spread: float, loss_scale: float) -> float:
    """``f = f_BP(R) · spread + c(R) · loss_scale`` at the rate ``R = 1 − f h(q)`` it
    implies (``f_BP``, ``c`` interpolated in the rate)."""
    h = float(binary_entropy(q))
    f_bp = [THRESHOLD_EFFICIENCY[r] for r in RATES]
    loss = [EFFICIENCY_LOSS[r] for r in RATES]
    f = 1.1
    for _ in range(6):  # f sets the rate, whose threshold and loss set f
        rate = min(max(1.0 - f * h, RATES[0]), RATES[-1])
        f = (
            float(np.interp(rate, RATES, f_bp)) * spread
            + float(np.interp(rate, RATES, loss)) * loss_scale
        )
    return f


BLIND_START: Final[float] = 0.3
"""Where a blind frame's first attempt lies between ``f_BP`` and
:func:`design_efficiency` (:func:`blind_start_efficiency`). Measured
(``benchmarks/README.md``): at Q = 2 % and n = 10^5, 200 frames of the rate-0.85 code
stepped by 0.005 first decoded at f = 1.06 (8 %), 1.087 (half), 1.11 (90 %), 1.135
(all but one); with 0.3 and :data:`BLIND_FINE_ROUNDS` = 6 they would average f ≈ 1.098
in 2.2 attempts (from f_BP: 1.098 in 3.7); measured on 327 frames, 1.097 in 2.05, none
failed."""

BLIND_END_MARGIN: Final[float] = 0.15
"""After :func:`design_efficiency`, a blind frame reveals on towards it + this, as far as
its punctured bits go."""

MODULATION: Final[float] = 0.05
"""Fraction ``δ = (p + s)/n`` of a full frame that is punctured or shortened: small,
since puncturing and shortening both cost decoding power (measured:
``benchmarks/bench_ldpc.py``); the family's rate steps of 0.05 are covered by it."""

BLIND_ROUNDS: Final[int] = 8
"""Reveals of a blind frame after its first attempt (each one a message and an ack)."""

BLIND_FINE_ROUNDS: Final[int] = 6
"""The first reveals, which step evenly from :func:`blind_start_efficiency` to
:func:`design_efficiency` (where all but ~1 % of frames decode); the others step on to
:func:`design_efficiency` + :data:`BLIND_END_MARGIN` while punctured bits are left."""

_MIN_CODE: Final[int] = 1000  # remainder codes have a length that is a multiple of this
_KNOWN: Final[float] = 1e-12  # error probability given to shortened and revealed bits


@dataclass(frozen=True, slots=True, kw_only=True)
class LdpcStats:
    """LDPC-specific details of one reconciliation.

    Attributes:
        blind: Blind reconciliation (reveals on failure).
        codes: Names of the mother codes used (:func:`~.ldpc_codes.code_name`).
        code_bits: Code length ``n`` (frame size, key + punctured + shortened bits).
        frames: Frames the key was cut into.
        frame_errors: Frames that failed to decode (left uncorrected; the key is then
            rejected by verification).
        frame_key_bits: Key bits of each frame, in key order.
        syndrome_bits: Syndrome bits sent, over all frames (``Σ m``).
        punctured_bits: Punctured bits credited against them (``Σ p``).
        shortened_bits: Shortened bits (``Σ s``).
        revealed_bits: Punctured values revealed by blind reconciliation.
        attempts: Decoding attempts over all frames (``frames`` when not blind).
        iterations: Belief-propagation iterations over all attempts.
        design_efficiency: ``f*`` of the first attempt.
        rate: Adapted rate ``(k − s)/(n − p − s)`` of the first frame's first attempt.
        qber_used: ``max(qber, QBER_FLOOR)``: the QBER of the rate and the LLRs.
        decoder: The decoder used, one of :data:`DECODERS`.
    """

    blind: bool
    codes: tuple[str, ...]
    code_bits: int
    frames: int
    frame_errors: int
    frame_key_bits: tuple[int, ...]
    syndrome_bits: int
    punctured_bits: int
    shortened_bits: int
    revealed_bits: int
    attempts: int
    iterations: int
    design_efficiency: float
    rate: float
    qber_used: float
    decoder: str = "ldpc"


@dataclass(frozen=True, slots=True, kw_only=True)
class LdpcReconciliationResult(ReconciliationResult):
    """A :class:`~.cascade.ReconciliationResult` with the LDPC details.

    Attributes:
        ldpc: :class:`LdpcStats` (``frames``, ``frame_errors``, …).
    """

    ldpc: LdpcStats

    @property
    def frames(self) -> int:
        """Frames the key was cut into."""
        return self.ldpc.frames

    @property
    def frame_errors(self) -> int:
        """Frames that failed to decode (their bits left uncorrected)."""
        return self.ldpc.frame_errors


def reconciliation_frames(result: ReconciliationResult) -> tuple[int | None, int | None]:
    """``(frames, frame_errors)`` of any reconciliation result, for the report.

    LDPC: both counts. Cascade: its frames, and ``None`` frame errors (Cascade cannot
    tell a frame left with errors; verification does). Other results: ``(None, None)``.
    """
    ldpc = getattr(result, "ldpc", None)
    if isinstance(ldpc, LdpcStats):
        return ldpc.frames, ldpc.frame_errors
    if result.cascade is not None:
        return result.cascade.frames, None
    return None, None


@dataclass(frozen=True, slots=True)
class _Plan:
    """What Alice and Bob both derive from the public QBER estimate for one frame."""

    rate: float  # mother code design rate
    n: int
    seed: int
    key_bits: int
    punctured: int
    shortened: int
    reveals: tuple[int, ...]  # Δ of each blind reveal
    f_start: float  # efficiency the first attempt is designed for
    decoder: str = "ldpc"


def _positions(code: LdpcCode, p: int, s: int) -> tuple[NDArray[np.int64], ...]:
    """Punctured, shortened and key positions of a frame with ``p`` punctured, ``s`` shortened."""
    punct = code.puncture_order[:p].astype(np.int64)
    fill = np.concatenate([code.shorten_order, code.puncture_order[::-1]]).astype(np.int64)
    taken = np.zeros(code.n, dtype=bool)
    taken[punct] = True
    fill = fill[~taken[fill]]
    short = fill[:s]
    taken[short] = True
    key = np.flatnonzero(~taken)
    return punct, short, key


def _frame_shape(code: LdpcCode, key_bits: int, leak: float) -> tuple[int, int]:
    """``(p, s)`` for ``key_bits`` at ``leak`` syndrome bits per key bit (clamped)."""
    p = round(code.m - leak * key_bits)
    p = max(0, min(code.max_punctured, p, code.n - key_bits))
    return p, code.n - key_bits - p


def _best_code(
    n: int, seed: int, k_f: int, leak: float, reach: float | None = None
) -> LdpcCode | None:
    """The code of length ``n`` whose frame of ``k_f`` key bits at ``leak`` syndrome bits
    per key bit needs ``0 <= p <= max_punctured`` and ``s >= 0``, with the fewest
    punctured bits (puncturing costs BP more than shortening); or None. ``reach``
    (blind): also ``m >= reach · k_f``, so that revealing every punctured bit takes the
    frame to that leak per key bit.

    ``p = m − leak k_f`` grows with ``m``, i.e. as the rate falls, so the rates are tried
    from the highest and the first that fits is the best: a code is built only when its
    ``m``, known beforehand (:func:`~.ldpc_codes.check_count`), gives ``p >= 0``,
    ``s >= 0`` and the reach — usually one."""
    for rate in sorted(RATES, reverse=True):
        m = check_count(rate, n)
        p = m - leak * k_f
        if p < 0 or n - k_f - p < 0 or (reach is not None and m < reach * k_f):
            continue
        code = get_code(rate, n, seed=seed)
        if p <= code.max_punctured:
            return code
    return None


def _clamped_code(codes: list[LdpcCode], k_f: int, leak: float) -> LdpcCode:
    """When no code reaches the rate exactly: the one whose clamped frame leaks the least
    among those leaking at least ``leak`` per key bit (over-protected, never under-)."""
    best: tuple[float, LdpcCode] | None = None
    worst: tuple[float, LdpcCode] | None = None
    for code in codes:
        if k_f > code.n:
            continue
        p, _ = _frame_shape(code, k_f, leak)
        cost = code.m - p
        if cost >= leak * k_f - 1 and (best is None or cost < best[0]):
            best = (cost, code)
        if worst is None or cost > worst[0]:
            worst = (cost, code)
    chosen = best or worst
    assert chosen is not None
    return chosen[1]


@dataclass(frozen=True, slots=True)
class _Slot:
    """One frame of a layout: its code, key bits, efficiency of the first attempt, and
    whether it is a blind frame that starts optimistic and reveals on failure."""

    code: LdpcCode
    key_bits: int
    f_start: float
    reveals: bool = False


def _layout(n_key: int, q: float, size: int, seed: int, blind: bool) -> list[_Slot]:
    """The frames of a key, in key order.

    Full frames carry ``n − ⌊δ n⌋`` key bits (``δ`` = :data:`MODULATION`; ``d = p + s``
    modulated bits, as in Elkouss et al. 2011) on the code of the family that reaches the
    frame's rate with ``0 <= p <= max_punctured``; what is left of the key goes to frames
    of the next smaller code length of :data:`FRAME_SIZES`, and the last remainder to a
    code of its own length (module docstring).
    """
    h = float(binary_entropy(q))
    delta = MODULATION
    equal = _equal_frames(n_key, q, h, size, seed, blind)
    if equal is not None:
        return equal
    lengths = [size] + [n for n in sorted(FRAME_SIZES, reverse=True) if n < size]
    out: list[_Slot] = []
    left = n_key
    for n in lengths:
        while left >= n - math.floor(delta * n):
            k = n - math.floor(delta * n)
            out.append(_frame(n, k, q, h, seed, blind))
            left -= out[-1].key_bits
    if left > 0:
        # The remainder gets a code of its own length (a multiple of 1,000, built and
        # cached on first use), with the same modulated fraction: no frame is mostly
        # shortened (such frames decode far worse than their rate says).
        n_r = max(_MIN_CODE, math.ceil(left / (1 - delta) / _MIN_CODE) * _MIN_CODE)
        while left > 0:
            out.append(_frame(n_r, min(left, n_r - math.floor(delta * n_r)), q, h, seed, blind))
            left -= out[-1].key_bits
    return out


def _equal_frames(
    n_key: int, q: float, h: float, size: int, seed: int, blind: bool
) -> list[_Slot] | None:
    """Equal frames (±1 bit) of codes of length ``size`` that reach their rate, or None.

    ``c`` frames of at least ``n − 2⌊δn⌋`` key bits each (at most 2δ modulated) for
    ``c`` from ``⌈n_key / (n − ⌊δn⌋)⌉`` up: the count whose frames puncture the fewest
    bits (a frame with fewer key bits can be a higher-rate code shortened instead of a
    lower-rate one punctured near its limit, which decodes worse: measured,
    ``benchmarks/README.md``); blind frames start at :func:`blind_start_efficiency` and
    must reach :func:`design_efficiency` by their reveals (:func:`_blind_reach`). Else
    ``⌊n_key / (n − ⌊δn⌋)⌋`` frames of at least ``n − ⌊δn⌋`` key bits when they fit in
    a frame.
    """
    d = math.floor(MODULATION * size)
    first = math.ceil(n_key / (size - d))
    counts = [c for c in range(first, n_key // (size - 2 * d) + 1) if c >= 1]
    counts += [n_key // (size - d)]
    best: tuple[int, list[_Slot]] | None = None
    for count in counts:
        if count < 1:
            continue
        sizes = [(n_key * (i + 1)) // count - (n_key * i) // count for i in range(count)]
        if max(sizes) >= size:
            continue
        chosen: dict[int, _Slot] = {}
        for k in set(sizes):
            slot = _slot(size, seed, k, q, h, blind)
            if slot is None:
                break
            chosen[k] = slot
        else:
            frames = [chosen[k] for k in sizes]
            punctured = max(_frame_shape(x.code, x.key_bits, x.f_start * h)[0] for x in frames)
            if best is None or punctured < best[0]:
                best = (punctured, frames)
            if punctured == 0:
                break
    return None if best is None else best[1]


def _slot(n: int, seed: int, k: int, q: float, h: float, blind: bool) -> _Slot | None:
    """A frame of ``k`` key bits on the best code of length ``n`` (:func:`_best_code`):
    one-shot at :func:`design_efficiency`, or blind from :func:`blind_start_efficiency`
    with reveals reaching :func:`_blind_reach`; None when no code fits."""
    f = blind_start_efficiency(q, k) if blind else design_efficiency(q, k)
    code = _best_code(n, seed, k, f * h, _blind_reach(q, k, h) if blind else None)
    return None if code is None else _Slot(code, k, f, blind)


def _frame(n: int, k: int, q: float, h: float, seed: int, blind: bool) -> _Slot:
    """One frame of (at most) ``k`` key bits on a code of length ``n``."""
    if blind:
        slot = _blind_frame(n, k, q, h, seed)
        if slot is not None:
            return slot
    # Not blind, or a blind frame no code can start that optimistically: a one-shot
    # frame at the design efficiency.
    slot = _slot(n, seed, k, q, h, False)
    if slot is not None:
        return slot
    f = design_efficiency(q, k)
    lowest = get_code(RATES[0], n, seed=seed)
    if lowest.m < f * h * k:
        # Above the reach of the lowest rate (high QBER): fewer key bits, more shortening.
        for _ in range(8):  # f* grows as k shrinks: iterate to k = m / (f*(k) h)
            k = max(1, math.floor(lowest.m / (f * h)))
            f = design_efficiency(q, k)
        k = max(1, math.floor(lowest.m / (f * h)))
        return _Slot(lowest, k, f)
    codes = [get_code(r, n, seed=seed) for r in RATES]
    return _Slot(_clamped_code(codes, k, f * h), k, f)


def _blind_frame(n: int, k: int, q: float, h: float, seed: int) -> _Slot | None:
    """A blind frame of ``k`` key bits, or of fewer but at least ``n − 2⌊δn⌋`` (at most
    2δ modulated, as :func:`_equal_frames` allows) when only that lets a code start it at
    :func:`blind_start_efficiency` and reach :func:`_blind_reach`: of the key bit counts
    that fit, the one whose frame punctures the fewest bits (then the most key bits);
    None when none fits.

    The counts tried are ``k`` and, per rate of ``m`` checks, the most key bits whose
    reveals reach :func:`design_efficiency` (``m / (f* h)``, with ``f*`` of the fewest
    key bits, the largest) and whose start leaves room for its punctured bits
    (``p = m − f₀ h k <= n − k``, with ``f₀`` of ``k`` key bits, the smallest)."""
    fewest = min(k, n - 2 * math.floor(MODULATION * n))
    f_most = design_efficiency(q, max(1, fewest))
    f_least = blind_start_efficiency(q, k)
    tries = {k}
    for rate in RATES:
        m = check_count(rate, n)
        room = (n - m) / (1.0 - f_least * h) if f_least * h < 1.0 else k
        tries.add(min(k, math.floor(m / (f_most * h)), math.floor(room)))
    best: tuple[int, int, _Slot] | None = None
    for k_f in sorted(t for t in tries if fewest <= t):
        slot = _slot(n, seed, k_f, q, h, True)
        if slot is None:
            continue
        p, _ = _frame_shape(slot.code, k_f, slot.f_start * h)
        if best is None or (p, -k_f) < best[:2]:
            best = (p, -k_f, slot)
    return None if best is None else best[2]


def _blind_reach(q: float, k: int, h: float) -> float:
    """Leak per key bit a blind frame must be able to reach by revealing every punctured
    bit: that of :func:`design_efficiency`, so that its last reveal leaves it at least as
    protected as a one-shot frame. (Reaching on to + :data:`BLIND_END_MARGIN` would take
    a lower-rate code punctured more, on which every attempt decodes worse: measured, at
    Q = 2 % and n = 10^5, blind f was 1.125 that way against 1.097 this way,
    ``benchmarks/README.md``.)"""
    return design_efficiency(q, k) * h


def _plans(n_key: int, q: float, blind: bool, size: int, seed: int) -> list[_Plan]:
    h = float(binary_entropy(q))
    plans = []
    for slot in _layout(n_key, q, size, seed, blind):
        code, k_f = slot.code, slot.key_bits
        p, s = _frame_shape(code, k_f, slot.f_start * h)
        reveals: tuple[int, ...] = ()
        if slot.reveals:
            reveals = _reveals(code, k_f, h, p, slot.f_start, design_efficiency(q, k_f))
        plans.append(_Plan(code.rate, code.n, seed, k_f, p, s, reveals, slot.f_start))
    return plans


def _reveals(
    code: LdpcCode, k_f: int, h: float, p: int, f_start: float, f_design: float
) -> tuple[int, ...]:
    """Punctured values revealed by each blind round: :data:`BLIND_FINE_ROUNDS` even steps
    in f from ``f_start`` to ``f_design``, then even steps to ``f_design`` +
    :data:`BLIND_END_MARGIN` (:data:`BLIND_ROUNDS` in all; empty steps dropped)."""
    fine = [f_start + (f_design - f_start) * i / BLIND_FINE_ROUNDS
            for i in range(1, BLIND_FINE_ROUNDS + 1)]  # fmt: skip
    coarse_rounds = BLIND_ROUNDS - BLIND_FINE_ROUNDS
    coarse = [f_design + BLIND_END_MARGIN * j / coarse_rounds for j in range(1, coarse_rounds + 1)]
    out = []
    left = p
    for f in fine + coarse:
        target, _ = _frame_shape(code, k_f, f * h)
        if target < left:
            out.append(left - target)
            left = target
    return tuple(out)


# ------------------------------------------------------------------ Bob's decoder
_DECODERS: dict[tuple[str, float, int, int, str], Any] = {}


def _decoder(code: LdpcCode, kind: str) -> Any:
    """The decoder of ``code`` (built once per process): a :class:`~.bp_decoder.
    BpSyndromeDecoder` (``"numba"``) or an ``ldpc.BpDecoder`` (``"ldpc"``)."""
    key = (kind, code.rate, code.n, code.seed, str(cache_dir()))
    dec = _DECODERS.get(key)
    if dec is None:
        if kind == "numba":
            from qkd_circuits.postprocessing.reconciliation.bp_decoder import BpSyndromeDecoder

            dec = BpSyndromeDecoder(code.H, max_iterations=MAX_ITERATIONS, schedule="layered")
        else:
            from ldpc import BpDecoder  # imported lazily: only LDPC runs need it

            dec = BpDecoder(
                code.H,
                error_rate=0.05,
                max_iter=MAX_ITERATIONS,
                bp_method="product_sum",
                schedule="parallel",
                input_vector_type="syndrome",
            )
        _DECODERS[key] = dec
    return dec


def _decode(
    code: LdpcCode, kind: str, syndrome: NDArray[np.uint8], probs: NDArray[np.float64]
) -> tuple[bool, NDArray[np.uint8], int]:
    """``(converged, error pattern, iterations)`` of one decoding attempt."""
    dec = _decoder(code, kind)
    if kind == "numba":
        out = dec.decode(syndrome, probs)
        return out.converged, out.error, out.iterations
    if not syndrome.any():  # the package returns at once, leaving its iteration count stale
        return True, np.zeros(code.n, dtype=np.uint8), 0
    dec.update_channel_probs(probs)
    e = np.asarray(dec.decode(syndrome), dtype=np.uint8)
    return bool(dec.converge), e, int(dec.iter)


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    corrected: NDArray[np.uint8]
    attempts: int
    iterations: int
    revealed: int


def _bob_frame(
    plan: _Plan,
    q: float,
    syndrome: NDArray[np.uint8],
    bob_key: NDArray[np.uint8],
    alice_reveals: NDArray[np.uint8],
) -> _Outcome:
    """Bob's side of one frame. ``alice_reveals`` are the punctured values Alice would
    send, in reveal order (last punctured first); Bob reads only those he asks for."""
    code = get_code(plan.rate, plan.n, seed=plan.seed)
    punct, short, key = _positions(code, plan.punctured, plan.shortened)
    y = np.zeros(code.n, dtype=np.uint8)
    y[key] = bob_key
    probs = np.full(code.n, q)
    probs[punct] = 0.5
    probs[short] = _KNOWN
    attempts = iterations = revealed = 0
    order = punct[::-1]
    rounds = (0, *plan.reveals)
    for delta in rounds:
        if delta:
            idx = order[revealed : revealed + delta]
            y[idx] = alice_reveals[revealed : revealed + delta]
            probs[idx] = _KNOWN
            revealed += delta
        ok, e, its = _decode(code, plan.decoder, syndrome ^ code.syndrome(y), probs)
        attempts += 1
        iterations += its
        if ok:
            return _Outcome(True, (y ^ e)[key].astype(np.uint8), attempts, iterations, revealed)
    return _Outcome(False, bob_key.copy(), attempts, iterations, revealed)


def _bob_task(args: tuple[Any, ...]) -> _Outcome:
    return _bob_frame(*args)


def _check_decoder(decoder: object) -> str:
    if decoder is None:
        return default_decoder()
    if decoder not in DECODERS:
        raise ConfigError(f"decoder must be None or one of {DECODERS}, got {decoder!r}")
    if decoder == "numba" and not numba_available():
        raise ConfigError(
            "decoder 'numba' needs numba (pip install 'qkd-circuits[fast]'), "
            "which is not installed; use decoder='ldpc'"
        )
    return str(decoder)


def _frame_size(frame_bits: object, n_key: int) -> int:
    if frame_bits is None:
        return FRAME_SIZES[-1] if n_key >= FRAME_SIZES[-1] else FRAME_SIZES[0]
    if (
        isinstance(frame_bits, bool)
        or not isinstance(frame_bits, numbers.Integral)
        or int(frame_bits) < 1000
    ):
        raise ConfigError(f"frame_bits must be None or an integer >= 1000, got {frame_bits!r}")
    return int(frame_bits)


def reconcile_ldpc(
    alice: ArrayLike,
    bob: ArrayLike,
    *,
    qber: float,
    channel: PublicChannel | None = None,
    rng: RNGLike = None,
    secret_rng: RNGLike = None,
    stage: str = "reconciliation",
    blind: bool = False,
    frame_bits: int | None = None,
    code_seed: int = DEFAULT_SEED,
    parallel: bool | None = None,
    decoder: str | None = None,
    variant: str | None = None,
) -> LdpcReconciliationResult:
    """Reconcile Bob's key with Alice's by one-way LDPC syndrome decoding.

    Same contract as :func:`~.cascade.reconcile_cascade`: Alice's key is read only to
    compute her syndromes; Bob's side decodes from his key and what is on ``channel``.

    Args:
        alice: Alice's key, 1-D 0/1 values, shape ``(n,)``.
        bob: Bob's noisy key, same shape.
        qber: QBER estimate in ``[0, 0.5)`` (raised to :data:`QBER_FLOOR`): sets the
            rate and the decoder's LLRs. Also the ``q`` of ``result.efficiency``.
        channel: Public channel on which every message is recorded; a fresh one if None.
        rng: Unused (the protocol draws nothing public: every position follows from
            the code); accepted for the reconciler signature of ``distill_key``.
        secret_rng: Secret generator for the punctured bits' values (None: the OS
            CSPRNG, :func:`~qkd_circuits.randomness.ensure_secret_rng`).
        stage: Stage name under which messages and leakage are recorded.
        blind: Blind reconciliation (reveal punctured values on failure).
        frame_bits: Code length, one of ``FRAME_SIZES`` (10^4, 10^5) or any length
            >= 1000 (its codes are built on first use); None: 10^5 for keys of
            10^5 bits or more, else 10^4.
        code_seed: Seed of the code family (both parties must use the same).
        parallel: Decode frames in parallel, threads for ``"numba"``, processes for
            ``"ldpc"`` (None: when there are >= 2 frames and >= 2 CPUs).
        decoder: One of :data:`DECODERS`; None: :func:`default_decoder`.
        variant: Ignored (the ``distill_key`` reconciler signature passes it).

    Returns:
        The :class:`~.cascade.ReconciliationResult`, with ``ldpc`` set and
        ``method`` ``"ldpc"`` or ``"ldpc:blind"``.

    Raises:
        ConfigError: on ``qber`` outside ``[0, 0.5)``, empty, non-binary or mismatched
            keys, a bad ``frame_bits``, ``stage`` or ``decoder`` (``"numba"`` without
            numba installed).
    """
    del rng, variant
    q = max(check_qber(qber), QBER_FLOOR)
    a = as_bits(alice, name="alice")
    b = as_bits(bob, name="bob")
    if a.size == 0:
        raise ConfigError("alice and bob keys must not be empty, got length 0")
    if a.size != b.size:
        raise ConfigError(f"alice and bob keys differ in length: {a.size} != {b.size}")
    if not isinstance(stage, str) or not stage:
        raise ConfigError(f"stage must be a non-empty string, got {stage!r}")
    size = _frame_size(frame_bits, a.size)
    kind = _check_decoder(decoder)
    secret = ensure_secret_rng(secret_rng)
    chan = PublicChannel() if channel is None else channel

    plans = [replace(p, decoder=kind) for p in _plans(a.size, q, blind, size, code_seed)]
    bounds = np.cumsum([0] + [pl.key_bits for pl in plans])

    # Alice: her frames (key bits, secret punctured values, zero shortened bits) → syndromes.
    tasks = []
    headers = []
    for pl, lo, hi in zip(plans, bounds[:-1], bounds[1:], strict=True):
        code = get_code(pl.rate, pl.n, seed=pl.seed)
        punct, _, key = _positions(code, pl.punctured, pl.shortened)
        x = np.zeros(code.n, dtype=np.uint8)
        x[key] = a[lo:hi]
        pad = secret.integers(0, 2, size=punct.size, dtype=np.uint8)
        x[punct] = pad
        syndrome = code.syndrome(x)
        headers.append(
            np.array([round(pl.rate * 100), pl.n, pl.key_bits, pl.punctured, pl.shortened])
        )
        tasks.append((pl, q, syndrome, b[lo:hi], pad[::-1].copy()))

    for pl in plans:  # build each decoder once, here, before any worker uses it
        _decoder(get_code(pl.rate, pl.n, seed=pl.seed), kind)
    use_pool = (len(plans) >= 2 and usable_cpus() >= 2) if parallel is None else bool(parallel)
    if use_pool and len(plans) >= 2:
        workers = min(usable_cpus(), len(plans))
        pool: Executor
        if kind == "numba":
            pool = ThreadPoolExecutor(max_workers=workers)
        else:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"))
        with pool:
            outcomes = list(pool.map(_bob_task, tasks))
    else:
        outcomes = [_bob_task(t) for t in tasks]

    corrected = np.empty(a.size, dtype=np.uint8)
    leaked = messages = 0
    for pl, (_, _, syndrome, _, pad), head, out, lo, hi in zip(
        plans, tasks, headers, outcomes, bounds[:-1], bounds[1:], strict=True
    ):
        corrected[lo:hi] = out.corrected
        code = get_code(pl.rate, pl.n, seed=pl.seed)
        payload = head.astype(np.int64).tobytes() + np.packbits(syndrome).tobytes()
        chan.send(stage, "alice", payload, leaked_bits=code.m - pl.punctured)
        leaked += code.m - pl.punctured
        done = 0
        for attempt in range(out.attempts):
            last = attempt == out.attempts - 1
            chan.send(stage, "bob", b"\x01" if (last and out.ok) else b"\x00")
            messages += 2
            if last:
                break
            delta = pl.reveals[attempt]
            chan.send(stage, "alice", pad[done : done + delta], leaked_bits=delta)
            leaked += delta
            done += delta

    h = float(binary_entropy(q))
    first = plans[0]
    first_code = get_code(first.rate, first.n, seed=first.seed)
    stats = LdpcStats(
        blind=blind,
        codes=tuple(dict.fromkeys(get_code(p.rate, p.n, seed=p.seed).name for p in plans)),
        code_bits=size,
        frames=len(plans),
        frame_errors=sum(not o.ok for o in outcomes),
        frame_key_bits=tuple(p.key_bits for p in plans),
        syndrome_bits=sum(get_code(p.rate, p.n, seed=p.seed).m for p in plans),
        punctured_bits=sum(p.punctured for p in plans),
        shortened_bits=sum(p.shortened for p in plans),
        revealed_bits=sum(o.revealed for o in outcomes),
        attempts=sum(o.attempts for o in outcomes),
        iterations=sum(o.iterations for o in outcomes),
        design_efficiency=first.f_start,
        rate=(first_code.k - first.shortened) / (first.n - first.punctured - first.shortened),
        qber_used=q,
        decoder=kind,
    )
    return LdpcReconciliationResult(
        corrected=corrected,
        method="ldpc:blind" if blind else "ldpc",
        leaked_bits=leaked,
        messages=messages,
        efficiency=leaked / (a.size * h) if h > 0 else math.nan,
        ldpc=stats,
    )
