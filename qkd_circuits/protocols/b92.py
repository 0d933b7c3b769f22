"""The B92 protocol: random choices, circuits, raw records, sifting, security analysis.

Bennett, "Quantum cryptography using any two nonorthogonal states", PRL 68, 3121
(1992). Alice sends |0> for bit 0 and |+> for bit 1; Bob measures in Z or X at
random (:mod:`qkd_circuits.circuits.b92`). Outcome |1> (Z) rules out |0>: bit 1;
outcome |-> (X) rules out |+>: bit 0; the other outcomes are inconclusive. Bob
announces which exchanges were conclusive and both keep those: 1/4 of them
without noise (each of Bob's two bases is conclusive on one state, with
probability |<1|+>|² = |<-|0>|² = 1/2).

The announcement (one bit per exchange, ``leaked_bits=0``). Its distribution
given Alice's bit is P(conclusive | 0) = ½ P(- | ρ_0) + ½ P(1 | ρ_0) and the same
for bit 1. Without noise both are 1/4, and a depolarizing channel keeps them
equal ((1 + p)/4): the announcement is then independent of the bit. It is not
in general: amplitude damping γ gives 1/4 for bit 0 and (2 − γ − √(1−γ))/4 for
bit 1, and Eve can skew it at will. Nothing is subtracted for it because the
entropy bound below is computed for the state *conditioned on* the
announcement, with Eve holding it (her system purifies the post-selected
state): whatever it tells her about the kept bits is already inside that bound.

Security analysis (asymptotic; Tamaki, Koashi & Imoto, "Unconditionally secure
key distribution based on two nonorthogonal states", PRL 90, 167904 (2003),
arXiv:quant-ph/0212162, and its lossy extension Tamaki & Lütkenhaus, PRA 69,
032316 (2004), arXiv:quant-ph/0308048, Sec. III, at no loss). In their notation
|φ_j> = β|0_x> + (−1)^j α|1_x> with β² − α² = <φ_0|φ_1> = c = 1/√2, and Bob's
measurement is theirs, F_0 = |φ̄_1><φ̄_1|/2, F_1 = |φ̄_0><φ̄_0|/2 (a random choice
of the two projective measurements). Written out:

* Source replacement: Alice holds A of |Ψ> = (|0>|φ_0> + |1>|φ_1>)/√2 =
  β|0_x 0_x> + α|1_x 1_x>, so ρ_A = β²|0_x><0_x| + α²|1_x><1_x| whatever Eve does.
* F_0 + F_1 = K² with K = α|0_x><0_x| + β|1_x><1_x|, and F_j = K|j_z><j_z|K with
  |j_z> = (|0_x> ± |1_x>)/√2: Bob's measurement is the filter K followed by a
  measurement in that (virtual) Z basis. On the filtered state σ = KρK the key is
  Z_A vs Z_B (bit error rate Q), the phase error X_A vs X_B (Alice's X: |±>).
* With d_ab = <a_x b_x|ρ|a_x b_x>: the conclusive probability (gain) is G = α²(d00 +
  d10) + β²(d01 + d11) = 2α²β² + c(d01 − d10); the phase errors are β² d01 +
  α² d10 = (x + cΔ)/2 with x = d01 + d10, Δ = d01 − d10 = (G − 2α²β²)/c; and,
  because Z_A ⊗ Z_B flips both X labels and K's entries multiply to αβ on every such
  coherence, G(1 − 2Q) = αβ tr(ρ Z_A⊗Z_B) ≤ 2αβ(√(d00 d11) + √(d01 d10)) by
  positivity of ρ. With the marginals this reads √(x² − a²) + √((1 − x)² − b²) ≥
  G(1 − 2Q)/(αβ), a = |Δ|, b = |c − Δ|: the phase error rate is at most
  (x_max + cΔ)/(2G) (:func:`tki_phase_error`; an X-state attains it).
* The left side is concave in x with its peak √(1 − (a+b)²) at x = a/(a + b), so the
  admissible x form an interval and x_max is its upper end. The admissible (d01, d10)
  form a convex set and the phase error rate is linear-fractional in them, so its
  maximum over the gain is found by a golden-section search
  (:func:`worst_phase_error`): the rate used here holds whatever the gain, so no
  estimate of the gain is needed.

The rate per conclusive bit is then ``1 − h(e_ph) − h(Q)`` (Shor & Preskill, PRL 85,
441 (2000), for the filtered qubit pair; equivalently the uncertainty relation of
Berta et al., Nat. Phys. 6, 659 (2010), H(Z_A|E) ≥ 1 − h(e_ph), with error correction
at the Shannon limit), which vanishes at a QBER of 3.89 %. Check against the papers:
the same bound at the gain of a depolarizing channel (Pauli rate p, Bloch vector
shrunk by 1 − 4p/3) and the best overlap (c² ≈ 0.46) gives no key above p = 3.38 %,
the about 3.4 % of Tamaki & Lütkenhaus's Fig. 2 at no loss, and below the 3.5 % at
which Matsumoto, arXiv:1301.5083, and Sasaki, Matsumoto & Uyematsu, arXiv:1504.05628,
say those analyses give no key.

Finite key (what an emitted key's length comes from): Scarani & Renner, "Quantum
cryptography with finite resources", PRL 100, 200501 (2008), arXiv:0708.0709, the
framework Sasaki, Matsumoto & Uyematsu (ISIT 2015, arXiv:1504.05628) apply to B92.
It holds against **collective attacks** (Eve treats every exchange alike and
independently; her quantum memory is arbitrary), not against coherent attacks::

    ℓ = n [1 − h(e_ph(Q⁺)) − δ] − leak_EC − v − 2 log2(1/ε_PA),   δ = 7 √(log2(2/ε̄)/n),

with n the conclusive bits left after the sample, ``e_ph = worst_phase_error`` (so
``1 − h(e_ph)`` is a lower bound on S(X|E) over the confidence set, monotone in Q),
and Q⁺ the Clopper–Pearson upper bound on the i.i.d. per-round error probability.
The formula, the ε split (ε_PE = ε̄ = ε_PA = ε/4, the smoothing counted twice) and
the statements (``"fixed"`` at the tolerance Q_tol, ``"variable"`` at the lowest of
64 ladder tolerances the sample passes, each at ε_sec/64) are shared with SARG04:
:class:`~qkd_circuits.postprocessing.collective.CollectiveAttackAnalysis`. ε_EC is
the verification's ε_cor, reported separately. No key is emitted at a sample QBER
above the 3.89 % threshold, and none when the formula is not positive
(``key_too_short``): with a 10 % sample and ε_sec = 1e-10 that needs about 64,000
qubits without noise and about 160,000 at 1 % QBER.

:data:`B92` is the protocol object the runner uses
(:class:`~qkd_circuits.protocols.base.Protocol`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit
from scipy.optimize import brentq

from qkd_circuits.analysis.entropy import clipped_binary_entropy
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.b92 import N_CONFIGS, B92Config, b92_circuit, config_codes
from qkd_circuits.circuits.codes import Codes
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.collective import CollectiveAttackAnalysis
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.protocols.choices import (
    ChoiceRecords,
    check_same_shape,
    draw_secret_choices,
    widest_circuit,
)
from qkd_circuits.protocols.info import B92_INFO
from qkd_circuits.randomness import RNGLike
from qkd_circuits.specs import check_closed_unit

OVERLAP = 1.0 / math.sqrt(2.0)
"""<0|+>, the overlap c = β² − α² of Alice's two states."""
ASYMPTOTIC_QBER_THRESHOLD = B92_INFO.threshold
"""Root of :func:`b92_rate` (module docstring): no key above this QBER."""
SIFTED_BASIS_NAMES: tuple[str, ...] = ("B92",)
"""The sifted key's one basis label (every conclusive bit is estimated together)."""
_SEARCH_STEPS = 90
_BISECT_STEPS = 64
_MARGIN = 1e-9
"""Added to every maximised phase error: the numerical search can only fall short."""

_PROOF = (
    "Scarani, Renner, PRL 100, 200501 (2008), arXiv:0708.0709 (collective attacks only; as "
    "applied to B92 by Sasaki, Matsumoto, Uyematsu, ISIT 2015, arXiv:1504.05628): "
    "l = n[1 - h(e_ph(Q+)) - 7 sqrt(log2(2/eps_bar)/n)] - leak_EC - v - 2 log2(1/eps_PA), "
    "with S(X|E) >= 1 - h(e_ph) and e_ph the phase error bound of Tamaki, Koashi, Imoto, PRL "
    "90, 167904 (2003) (lossless case of Tamaki, Lutkenhaus, PRA 69, 032316 (2004)) maximised "
    "over the conclusive rate, Q+ the Clopper-Pearson upper bound of the i.i.d. error "
    "probability, eps_PE = eps_bar = eps_PA = eps/4 (smoothing counted twice), {tolerance}"
)
THEOREMS: dict[str, str] = {
    "variable": _PROOF.format(
        tolerance="at the lowest of 64 pre-agreed tolerances the sample passes, each at "
        "eps = eps_sec/64 (union bound; variable length as in Tupkary, Tan, Lutkenhaus, "
        "arXiv:2311.01600)"
    ),
    "fixed": _PROOF.format(tolerance="eps = eps_sec, at the pre-agreed tolerance Q_tol"),
}
"""The theorem each finite-key statement's length comes from (quoted in every report)."""


# -- choices, records, sifting --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class B92Choices:
    """The random choices of one run, before any qubit is sent; arrays of shape (n,).

    Attributes:
        alice_bits: uint8 0/1 (0: Alice sends |0>, 1: |+>).
        bob_bases: uint8, 0 = Z, 1 = X.
        eve_bases: int8, 0 = Z, 1 = X, -1 where Eve does not intercept.
        eve: The attack the choices were drawn for (None: no Eve); the circuits'
            default.
    """

    alice_bits: NDArray[np.uint8]
    bob_bases: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]
    eve: EveSpec | None = None

    def __post_init__(self) -> None:
        names = ("bob_bases", "eve_bases")
        check_same_shape(self, names, self.alice_bits.shape, like="alice_bits")

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange (:func:`~qkd_circuits.circuits.b92.
        config_codes`), uint8 (n,) in [0, 12)."""
        return config_codes(self.alice_bits, self.bob_bases, self.eve_bases)


@dataclass(frozen=True, slots=True, kw_only=True)
class B92Records(ChoiceRecords[B92Choices]):
    """Raw records of the quantum phase; every array has shape (n,)
    (:class:`~qkd_circuits.protocols.choices.ChoiceRecords`, with B92's readings of them).

    Attributes:
        choices: The run's random choices.
        bob_bits: uint8 0/1, Bob's measurement results (1 = conclusive).
        eve_bits: uint8 0/1, Eve's results (0 where she did not intercept).
    """

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The B92 circuit of a configuration code (:class:`~qkd_circuits.circuits.b92.
        B92Config`)."""
        return B92.circuit_for_code(code, eve=eve)

    @property
    def conclusive(self) -> NDArray[np.bool_]:
        """Bob's outcome was |1> (Z) or |-> (X), i.e. his bit reads 1; bool (n,)."""
        return self.bob_bits == 1

    @property
    def bob_key_bits(self) -> NDArray[np.uint8]:
        """Bob's inferred bit, ``1 − basis`` (|1> in Z: 1; |-> in X: 0); meaningful where
        :attr:`conclusive`; uint8 (n,)."""
        return (np.uint8(1) - self.choices.bob_bases).astype(np.uint8)

    @property
    def eve_guesses(self) -> NDArray[np.uint8]:
        """Eve's guess of Alice's bit: her result in Z (|1> proves |+>), its complement in
        X (|-> proves |0>); the cloner's probe is read in Z (Bob's basis stays secret),
        a lower bound on what an optimal readout would learn; 0 where she did not attack;
        uint8 (n,)."""
        basis = np.maximum(self.choices.eve_bases, 0).astype(np.uint8)
        return (self.eve_bits ^ basis).astype(np.uint8)


def draw_choices(n: int, *, eve: EveSpec | None = None, rng: RNGLike = None) -> B92Choices:
    """Draw Alice's bits, Bob's bases and Eve's (uniform, independent).

    Args:
        n: Number of exchanges (>= 1).
        eve: Which exchanges Eve attacks (each independently with probability
            ``eve.fraction``) with her attack (a random-basis
            intercept-resend picks Z or X uniformly); None: no Eve.
        rng: Secret generator or seed (None: a fresh generator keyed from the OS CSPRNG,
            see :mod:`qkd_circuits.randomness`).
    """
    (alice_bits, bob_bases), eve_bases = draw_secret_choices(
        n, (2, 2), eve=eve, eve_bases=2, rng=rng
    )
    return B92Choices(alice_bits=alice_bits, bob_bases=bob_bases, eve_bases=eve_bases, eve=eve)


def sift_records(records: B92Records, *, channel: PublicChannel | None = None) -> SiftedKey:
    """Keep the conclusive exchanges (1/4 of them without noise).

    Bob announces one bit per exchange, conclusive or not (``leaked_bits=0``: the
    module docstring says why); Alice answers nothing. The sifted ``bases`` are all
    0 (``basis_names = ("B92",)``); Eve's guesses at the kept positions ride along
    for the report.
    """
    conclusive = records.conclusive
    if channel is not None:
        channel.send("sifting", "bob", conclusive.astype(np.uint8))
    positions = np.flatnonzero(conclusive).astype(np.int64)
    sifted = SiftedKey(
        alice=records.choices.alice_bits[positions],
        bob=records.bob_key_bits[positions],
        positions=positions,
        bases=np.zeros(positions.size, dtype=np.uint8),
        basis_names=SIFTED_BASIS_NAMES,
    )
    return sifted.with_eve(eve_choice=records.choices.eve_bases, eve_bits=records.eve_guesses)


# -- the phase-error bound and the asymptotic rate ------------------------------------------


def _overlap(overlap: float) -> tuple[float, float, float]:
    """``(c, α², β²)`` for an overlap ``c`` in (0, 1)."""
    c = float(overlap)
    if not 0.0 < c < 1.0:
        raise ConfigError(f"overlap must be in (0, 1), got {overlap!r}")
    return c, (1.0 - c) / 2.0, (1.0 + c) / 2.0


def _phase(gain: float, qber: float, c: float, a2: float, b2: float) -> float | None:
    """The TKI bound (module docstring) at one gain; None if no state gives (gain, qber)."""
    ab = math.sqrt(a2 * b2)
    delta = (gain - 2.0 * a2 * b2) / c
    a, b = abs(delta), abs(c - delta)
    if a + b > 1.0 + 1e-12:
        return None  # the gain lies outside [α², β²]
    g = gain * (1.0 - 2.0 * qber) / ab
    peak = math.sqrt(max(0.0, 1.0 - (a + b) ** 2))
    if g > peak * (1.0 + 1e-12) + 1e-15:
        return None

    def f(x: float) -> float:
        return math.sqrt(max(0.0, x * x - a * a)) + math.sqrt(max(0.0, (1.0 - x) ** 2 - b * b))

    lo, hi = a / (a + b), max(a, 1.0 - b)
    if f(hi) < g:  # f decreases on [lo, hi] from f(lo) = peak >= g: bisect, keep the upper end
        for _ in range(_BISECT_STEPS):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if f(mid) >= g else (lo, mid)
    return min(0.5, max(0.0, (hi + c * delta) / (2.0 * gain)))


def tki_phase_error(gain: float, qber: float, *, overlap: float = OVERLAP) -> float | None:
    """Upper bound on the phase error rate of the conclusive bits at a known gain.

    Tamaki, Koashi & Imoto, PRL 90, 167904 (2003); Tamaki & Lütkenhaus, PRA 69,
    032316 (2004), Sec. III at no loss (derivation in the module docstring).

    Args:
        gain: Probability that an exchange is conclusive, in (0, 1].
        qber: Bit error rate of the conclusive exchanges, in [0, 1].
        overlap: ``<φ_0|φ_1>`` of Alice's states, in (0, 1) (B92 here: 1/√2).

    Returns:
        The bound, in [0, 1/2], or None when no state gives this gain and QBER.
    """
    c, a2, b2 = _overlap(overlap)
    g = check_closed_unit(gain, name="gain")
    if g == 0.0:
        raise ConfigError(f"gain must be > 0, got {gain!r}")
    return _phase(g, check_closed_unit(qber, name="qber"), c, a2, b2)


@functools.lru_cache(maxsize=4096)
def _worst(qber: float, c: float) -> float:
    c, a2, b2 = _overlap(c)
    if qber >= 0.5:
        return 0.5
    if qber == 0.0:
        return 0.0  # only the gain 2α²β² is possible, at the tangency x = 0: no phase error
    ab, pair = math.sqrt(a2 * b2), 2.0 * a2 * b2

    def slack(gain: float) -> float:  # >= 0 where some state has this gain and QBER (concave)
        delta = (gain - pair) / c
        s = abs(delta) + abs(c - delta)
        return math.sqrt(max(0.0, 1.0 - s * s)) - gain * (1.0 - 2.0 * qber) / ab

    if slack(pair) <= 0.0:
        lo = hi = pair
    else:
        lo = brentq(slack, a2, pair, xtol=1e-15, rtol=1e-15)
        hi = brentq(slack, pair, b2, xtol=1e-15, rtol=1e-15)

    def e(gain: float) -> float:
        value = _phase(gain, qber, c, a2, b2)
        return 0.0 if value is None else value

    # e is quasiconcave in the gain (module docstring): golden-section search.
    best = max(e(lo), e(hi), e(pair))
    inv = (math.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = hi - inv * (hi - lo), lo + inv * (hi - lo)
    f1, f2 = e(x1), e(x2)
    for _ in range(_SEARCH_STEPS):
        if f1 < f2:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + inv * (hi - lo)
            f2 = e(x2)
        else:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - inv * (hi - lo)
            f1 = e(x1)
        best = max(best, f1, f2)
    return min(0.5, best + _MARGIN) if best > 0.0 else 0.0


def worst_phase_error(qber: float, *, overlap: float = OVERLAP) -> float:
    """The TKI phase-error bound maximised over every gain a state can give with this QBER.

    Needs no estimate of the conclusive rate (module docstring); nondecreasing in
    ``qber`` (the admissible states only grow). 0 at ``qber = 0``.

    Args:
        qber: Bit error rate of the conclusive exchanges, in [0, 1].
        overlap: ``<φ_0|φ_1>``, in (0, 1).

    Returns:
        The bound, in [0, 1/2].
    """
    c, _, _ = _overlap(overlap)
    return _worst(check_closed_unit(qber, name="qber"), c)


def b92_rate(qber: float) -> float:
    """Asymptotic B92 secret bits per conclusive bit, ``1 − h(e_ph) − h(Q)``, with ``e_ph =``
    :func:`worst_phase_error` (Tamaki, Koashi & Imoto, PRL 90, 167904 (2003),
    arXiv:quant-ph/0212162; Shor & Preskill, PRL 85, 441 (2000)); negative: no key. Its
    root is :data:`ASYMPTOTIC_QBER_THRESHOLD`."""
    q = check_closed_unit(qber, name="qber")
    return 1.0 - clipped_binary_entropy(worst_phase_error(q)) - clipped_binary_entropy(q)


# -- the finite-key analysis ----------------------------------------------------------------


def b92_entropy_bound(qber: float) -> float:
    """Lower bound on S(X|E) per conclusive bit at error probability ``qber``:
    ``1 − h(e_ph)`` with ``e_ph =`` :func:`worst_phase_error` (module docstring;
    non-increasing in ``qber``)."""
    return 1.0 - clipped_binary_entropy(worst_phase_error(qber))


def b92_analysis() -> CollectiveAttackAnalysis:
    """B92's security analysis: one sample of the conclusive bits and the Scarani–Renner
    length (:mod:`~qkd_circuits.postprocessing.collective`) with
    :func:`b92_entropy_bound`; no key above :data:`ASYMPTOTIC_QBER_THRESHOLD`."""
    (name,) = SIFTED_BASIS_NAMES
    return CollectiveAttackAnalysis(
        basis_name=name,
        entropy=b92_entropy_bound,
        phase_error=worst_phase_error,
        threshold=ASYMPTOTIC_QBER_THRESHOLD,
        theorems=THEOREMS,
    )


class B92Protocol:
    """B92 on the :class:`~qkd_circuits.protocols.base.Protocol` interface.

    Two states, |0> and |+>; Bob measures in Z or X and keeps the conclusive outcomes
    (1/4); one sample of the conclusive bits; Scarani–Renner finite key with the
    Tamaki–Koashi–Imoto entropy bound, against collective attacks (module docstring).
    """

    info = B92_INFO
    registers: tuple[str, ...] = ("bob", "eve")

    def draw_choices(
        self, n: int, *, eve: EveSpec | None = None, rng: RNGLike = None
    ) -> B92Choices:
        """See :func:`draw_choices`."""
        return draw_choices(n, eve=eve, rng=rng)

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The circuit of a configuration code (:class:`~qkd_circuits.circuits.b92.B92Config`)
        under Eve's attack ``eve`` (None: random-basis intercept-resend where the code has
        Eve)."""
        return b92_circuit(B92Config.from_code(code), eve=eve)

    def records(self, choices: B92Choices, outcomes: Mapping[str, NDArray[np.uint8]]) -> B92Records:
        """``choices`` with the ``bob`` and ``eve`` registers' results, uint8 (n,)."""
        return B92Records(choices=choices, bob_bits=outcomes["bob"], eve_bits=outcomes["eve"])

    def sift(self, records: B92Records, *, channel: PublicChannel | None = None) -> SiftedKey:
        """See :func:`sift_records`."""
        return sift_records(records, channel=channel)

    def analysis(self, sifted: SiftedKey) -> CollectiveAttackAnalysis:
        """One sample of all conclusive bits; the length of :func:`b92_analysis`."""
        return b92_analysis()

    def asymptotic_rate(self, qber: float) -> float:
        """See :func:`b92_rate`."""
        return b92_rate(qber)

    def max_circuit_qubits(self, *, eve: EveSpec | None = None) -> int:
        """Qubits of the widest circuit a run with ``eve`` uses: 1 (the signal) without
        Eve, 2 (signal, probe) with her (:func:`~qkd_circuits.protocols.choices.widest_circuit`)."""
        return widest_circuit(
            self.circuit_for_code,
            range(N_CONFIGS),
            eve=eve,
            eve_basis_of=lambda code: B92Config.from_code(code).eve_basis,
        )

    def report_extras(self, records: B92Records, sifted: SiftedKey) -> dict[str, Any]:
        """B92 adds nothing to the report."""
        return {}


B92 = B92Protocol()
"""The B92 protocol object."""


__all__ = [
    "ASYMPTOTIC_QBER_THRESHOLD",
    "B92",
    "OVERLAP",
    "THEOREMS",
    "B92Choices",
    "B92Protocol",
    "B92Records",
    "b92_analysis",
    "b92_entropy_bound",
    "b92_rate",
    "draw_choices",
    "sift_records",
    "tki_phase_error",
    "worst_phase_error",
]
