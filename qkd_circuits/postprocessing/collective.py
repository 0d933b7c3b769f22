"""Finite key against collective attacks, for a protocol whose entropy bound is a
function of its error rate (Scarani & Renner 2008): B92 and SARG04.

Scarani & Renner, "Quantum cryptography with finite resources: unconditional
security bound for discrete-variable protocols with one-way postprocessing",
PRL 100, 200501 (2008), arXiv:0708.0709. Against collective attacks (Eve treats
the rounds alike and independently; her memory is arbitrary) the rounds are
i.i.d., and after parameter estimation the key of ``n`` bits may be

    ℓ = ⌊ n·S(q⁺) − 7 √(n log₂(2/ε̄)) − leak_EC − v − 2 log₂(1/ε_PA) ⌋,

* ``S(q)``: the protocol's lower bound on the conditional entropy S(X|E) per
  sifted bit at error probability ``q`` (non-increasing in ``q``), minimised
  over what parameter estimation allows: ``q ≤ q⁺``;
* ``q⁺``: the Clopper–Pearson upper bound on the i.i.d. per-round error
  probability from the disclosed sample (:func:`error_probability_bound`), which
  fails with probability at most ε_PE;
* ``7 √(n log₂(2/ε̄))``: the smooth min-entropy's departure from n·S (the
  asymptotic-equipartition term of the paper, with ε̄ its smoothing);
* ``leak_EC``: every parity reconciliation disclosed; ``v``: the verification tag;
* ``2 log₂(1/ε_PA)``: the leftover hash lemma's price.

ε split, per pre-agreed tolerance level of secrecy ε_l (``ε_sec`` for the
``"fixed"`` statement; ``ε_sec/64`` per level of the ``"variable"`` ladder, a
union bound as in :mod:`~qkd_circuits.postprocessing.key_length`): ε_PE = ε̄ =
ε_PA = ε_l / 4, so ε_PE + 2ε̄ + ε_PA = ε_l: the smoothing is counted twice, never
less than the paper's ε_PE + ε̄ + ε_PA. The error count used is the largest the
level accepts (:func:`~qkd_circuits.postprocessing.key_length.max_accepted_errors`).
Correctness (ε_cor) is the verification tag's, outside ε_sec.

This covers collective attacks only, not coherent ones; every theorem text that
uses it says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from qkd_circuits.analysis.tails import binom_logcdf, binom_logpmf
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.estimation import BasisSample, check_log_eps, check_sample_qber
from qkd_circuits.postprocessing.key_length import (
    STATEMENTS,
    KeyLengthResult,
    Statement,
    max_accepted_errors,
    select_tolerance,
    tolerance_ladder,
)
from qkd_circuits.specs import check_int, check_nonnegative, check_open_unit

AEP_CONSTANT = 7.0
"""The constant of the smooth-entropy term ``7 √(n log₂(2/ε̄))`` (Scarani & Renner 2008)."""

_LOG_CDF_EXACT_FLOOR = -600.0


def _binom_log_cdf_upper(errors: int, trials: int, p: float) -> float:
    """``ln Pr[Bin(trials, p) <= errors]``, or an upper bound on it deep in the tail.

    Below e^-600 the log-CDF may underflow; there ``CDF <= pmf(e) / (1 - r)`` with
    ``r = e (1 - p) / ((trials - e + 1) p)`` (the ratio of consecutive terms, largest at
    x = e), computed from the exact log-pmf. An upper bound only accepts more p.
    """
    value = binom_logcdf(errors, trials, p)
    if math.isfinite(value) and value > _LOG_CDF_EXACT_FLOOR:
        return value
    ratio = errors * (1.0 - p) / ((trials - errors + 1) * p)
    if ratio >= 1.0:
        return 0.0
    return binom_logpmf(errors, trials, p) - math.log1p(-ratio)


def error_probability_bound(sample_bits: int, sample_errors: int, *, log_eps: float) -> float:
    """Clopper–Pearson upper bound on an i.i.d. error probability, failing w.p. <= e^log_eps.

    The smallest ``p⁺`` (to 1e-12) with ``Pr_p[E <= e] <= ε`` for every ``p >= p⁺``,
    ``E ~ Bin(k, p)``; then ``Pr[p > p⁺(E)] <= ε`` (Clopper & Pearson, Biometrika 26, 404
    (1934)). This bounds the per-round probability that collective attacks fix, the
    parameter Scarani & Renner's estimate needs (the hypergeometric
    :func:`~qkd_circuits.postprocessing.estimation.phase_error_bound` bounds a realised
    fraction of the unsampled bits instead, a different statement).

    Args:
        sample_bits: ``k`` >= 0 (0 gives 1.0: nothing is known).
        sample_errors: ``e`` in [0, k].
        log_eps: Natural log of the failure probability, < 0.
    """
    k = check_int(sample_bits, name="sample_bits", minimum=0)
    e = check_int(sample_errors, name="sample_errors", minimum=0)
    if e > k:
        raise ConfigError(f"sample_errors must be <= sample_bits = {k}, got {e!r}")
    log_eps = check_log_eps(log_eps)
    if k == 0 or e == k:
        return 1.0
    lo, hi = e / k, 1.0  # accepted at lo (Pr[E <= e] >= 1/2 > ε there), rejected at 1
    while hi - lo > 1e-12:
        mid = 0.5 * (lo + hi)
        if _binom_log_cdf_upper(e, k, mid) > log_eps:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectiveAttackAnalysis:
    """A :class:`~qkd_circuits.postprocessing.security.SecurityAnalysis` with one pooled
    sample and the Scarani–Renner length (module docstring).

    Attributes:
        basis_name: The one basis name of the sifted key (e.g. ``"B92"``).
        entropy: ``S(q)``, the protocol's lower bound on S(X|E) per sifted bit at error
            probability ``q`` in [0, 1], non-increasing (cite it where it is defined).
        phase_error: The phase-error rate behind ``entropy`` at ``q`` (reported as
            ``phase_error_bound``).
        threshold: The protocol's asymptotic threshold: :meth:`check` aborts above it
            whatever ``qber_threshold`` allows, and no length is given beyond it.
        theorems: The citation per statement (quoted in every report).
    """

    basis_name: str
    entropy: Callable[[float], float]
    phase_error: Callable[[float], float]
    threshold: float
    theorems: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.theorems) != set(STATEMENTS):
            raise ConfigError(f"theorems must cite each of {STATEMENTS}, got {self.theorems!r}")

    @property
    def basis_names(self) -> tuple[str, ...]:
        """The sifted key's one basis."""
        return (self.basis_name,)

    def _sample(self, samples: Mapping[str, BasisSample]) -> BasisSample:
        name = self.basis_name
        s = samples.get(name) if isinstance(samples, Mapping) else None
        if not isinstance(s, BasisSample) or set(samples) != {name} or s.basis != name:
            raise ConfigError(f"samples must map {name!r} to its BasisSample, got {samples!r}")
        if s.key_bits < 1:
            raise ConfigError("samples leave no key bit: nothing to compute a length for")
        return s

    def check(self, samples: Mapping[str, BasisSample], *, qber_threshold: float) -> None:
        """Abort (``qber_above_threshold``) when the sample QBER exceeds ``qber_threshold``
        or the protocol's own threshold."""
        check_sample_qber(samples, threshold=qber_threshold)
        check_sample_qber(samples, threshold=self.threshold)

    def key_length(
        self,
        samples: Mapping[str, BasisSample],
        *,
        leaked_ec: int | float,
        verification_bits: int,
        eps_sec: float,
        eps_cor: float,
        qber_tolerance: float,
        statement: Statement,
    ) -> KeyLengthResult:
        """The Scarani–Renner length (module docstring); 0 when not positive.

        Returns:
            A :class:`KeyLengthResult` whose ``terms`` hold ``tolerance``, ``levels``,
            ``key_bits``, ``test_bits``, ``test_errors`` (at the largest count the level
            accepts), ``error_rate_bound`` (q⁺), ``entropy_per_bit``, ``privacy_term``,
            ``aep_penalty``, ``leak_ec``, ``verification_leak``, ``pa_penalty``,
            ``log_eps_pe`` and ``bound``.

        Raises:
            ConfigError: on any out-of-range argument.
            ProtocolAbort: ``"qber_above_threshold"`` when the sample exceeds ``Q_tol``.
        """
        s = self._sample(samples)
        leak = check_nonnegative(leaked_ec, name="leaked_ec")
        eps_sec = check_open_unit(eps_sec, name="eps_sec")
        check_open_unit(eps_cor, name="eps_cor")
        ver = float(check_int(verification_bits, name="verification_bits", minimum=0))
        if statement not in STATEMENTS:
            raise ConfigError(f"statement must be one of {STATEMENTS}, got {statement!r}")
        ladder = tolerance_ladder(qber_tolerance, statement)
        tolerance = ladder[select_tolerance({s.basis: s}, ladder)]
        n, k = s.key_bits, s.sample_bits
        errors = max_accepted_errors(k, tolerance)
        log_part = math.log(eps_sec) - math.log(len(ladder)) - math.log(4.0)  # ε_l / 4
        q_plus = error_probability_bound(k, errors, log_eps=log_part)
        entropy = max(0.0, float(self.entropy(q_plus)))
        log2_inv = -log_part / math.log(2.0)  # log2(1/ε_l·4)
        privacy = n * entropy
        aep = AEP_CONSTANT * math.sqrt(n * (1.0 + log2_inv))  # 7 sqrt(n log2(2/ε̄))
        pa_penalty = 2.0 * log2_inv
        bound = privacy - aep - leak - ver - pa_penalty
        observed = s.qber if k else 1.0
        beyond = observed > self.threshold  # check() aborts there too
        asymptotic = n * max(0.0, float(self.entropy(min(observed, 1.0)))) - leak - ver
        terms = {
            "tolerance": tolerance,
            "levels": float(len(ladder)),
            "key_bits": float(n),
            "test_bits": float(k),
            "test_errors": float(errors),
            "error_rate_bound": q_plus,
            "entropy_per_bit": entropy,
            "privacy_term": privacy,
            "aep_penalty": aep,
            "leak_ec": leak,
            "verification_leak": ver,
            "pa_penalty": pa_penalty,
            "log_eps_pe": log_part,
            "bound": bound,
        }
        return KeyLengthResult(
            length=0 if beyond or bound <= 0 else math.floor(bound),
            statement=statement,
            theorem=self.theorems[statement],
            phase_error_bound={s.basis: min(0.5, float(self.phase_error(q_plus)))},
            asymptotic_bits=0 if beyond else max(0, math.floor(asymptotic)),
            terms=terms,
        )


__all__ = ["AEP_CONSTANT", "CollectiveAttackAnalysis", "error_probability_bound"]
