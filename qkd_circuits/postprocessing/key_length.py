"""Secret key length: the finite-key ε-security statement behind every emitted key.

The statement (Tomamichel, Lim, Gisin & Renner, "Tight finite-key analysis
for quantum cryptography", Nat. Commun. 3, 634 (2012), arXiv:1103.4130,
Eq. (2) and Supplementary Eqs. S3–S19, with the key drawn from both bases
as in Lo, Chau & Ardehali, J. Cryptol. 18, 133 (2005)):

    ℓ ≤ Σ_B n_B [1 − h(λ_B)] − leak_EC − v − 2 log₂(1/ε_sec),

* ``n_B``: key bits of basis B (sample removed); ``λ_B``: the bound on
  their phase error from the conjugate basis's sample
  (:func:`~qkd_circuits.postprocessing.estimation.phase_error_bound`, the
  exact hypergeometric form of the paper's Serfling μ), all bounds holding
  together except with probability ``(ε_sec/4)²`` (Suppl. Eq. S15, ε =
  ε_sec/4), split equally over the bases. The entropic uncertainty relation
  holds position by position (each key position's conjugate measurement has
  overlap ½), and the number of phase-error patterns allowed by both
  bounds is at most ``2^{Σ n_B h(λ_B)}`` (Suppl. Eq. S19 per basis), which
  gives the sum.
* ``leak_EC``: every bit reconciliation disclosed (counted on the channel).
* ``v``: the verification tag actually sent (its bits), or the paper's
  ``log₂(2/ε_cor)`` when no tag length is given.
* ``2 log₂(1/ε_sec)``: the leftover hash lemma's price (Suppl. Eq. S3 with
  ε̃ = ε_sec/2).
* ``h(x)`` is evaluated at ``min(x, ½)``: the counting bound behind it holds
  for ``x ≤ ½``; beyond, a basis contributes nothing.

Which tolerance, i.e. which statement, is chosen by ``statement``:

* ``"fixed"`` — the letter of Theorem 2 of Tomamichel et al.: the tolerated
  error rate ``Q_tol`` (``--qber-threshold``) is fixed before the run, the
  protocol aborts when a sample's error rate exceeds it, and ``λ_B`` is
  computed for the *largest* error count that passes that test
  (:func:`max_accepted_errors`). The length ignores how far below ``Q_tol``
  the run actually was.
* ``"variable"`` (default) — a ladder of ``m`` = :data:`LADDER_LEVELS`
  tolerances ``Q_j = Q_tol · j / m``, agreed before the run. The run uses
  the lowest level its samples pass and the fixed-tolerance length of that
  level, each level at ``ε_sec / m``. Security: the level is chosen from
  public data, so the run's output is a direct sum over the disjoint events
  "level j chosen", and each event lies inside "protocol j accepts"; the
  distance from an ideal key on it is at most protocol j's, ``ε_sec/m``
  (the trace norm of a block-diagonal operator is the sum of its blocks), so
  the total is at most ``ε_sec`` — a union bound over a finite family of
  fixed-tolerance protocols, a simple (looser) instance of the
  variable-length framework of Tupkary, Tan & Lütkenhaus, arXiv:2311.01600.
  Its price is ``2 log₂ m`` bits of privacy amplification, ``ln m`` inside
  the sampling bound and the rounding up to the next level.

In both statements ``n_B``, ``k_B`` and ``leak_EC`` are those of the run:
every qubit is detected here, so the sifted counts follow the basis choices
alone, and ``leak_EC`` counts every parity Alice disclosed.

The asymptotic Shor–Preskill length (Shor & Preskill, PRL 85, 441 (2000),
arXiv:quant-ph/0003004), ``Σ_B n_B [1 − h(Q_B̄)] − leak_EC − v`` with the
*observed* conjugate error rates, is reported beside the finite one
(``asymptotic_bits``) and never emitted: it ignores the statistics of the
sample, so with a small sample Eve may know much of such a key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from qkd_circuits.analysis.entropy import clipped_binary_entropy
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.estimation import (
    CONJUGATE,
    BasisSample,
    check_log_eps,
    phase_error_bounds,
)
from qkd_circuits.specs import check_closed_unit, check_int, check_nonnegative, check_open_unit

__all__ = [
    "LADDER_LEVELS",
    "STATEMENTS",
    "KeyLengthResult",
    "asymptotic_key_length",
    "check_key_length",
    "finite_key_length",
    "log_eps_pe",
    "max_accepted_errors",
    "select_tolerance",
    "shor_preskill_rate",
    "sifted_bits_needed",
    "tolerance_ladder",
]

Statement = Literal["variable", "fixed"]
STATEMENTS: tuple[Statement, ...] = ("variable", "fixed")

LADDER_LEVELS = 64
"""Tolerance levels of the ``"variable"`` statement: ``Q_tol · j / 64``, j = 1 … 64."""

THEOREMS: dict[str, str] = {
    "variable": "Tomamichel, Lim, Gisin, Renner, Nat. Commun. 3, 634 (2012), arXiv:1103.4130, "
    "Suppl. Theorem 2 (Eq. S3) at the lowest of 64 pre-agreed tolerances the samples pass, "
    "each at eps_sec/64 (union bound; variable length as in Tupkary, Tan, Lutkenhaus, "
    "arXiv:2311.01600), per basis (Lo, Chau, Ardehali, J. Cryptol. 18, 133 (2005)), exact "
    "hypergeometric sampling bound",
    "fixed": "Tomamichel, Lim, Gisin, Renner, Nat. Commun. 3, 634 (2012), arXiv:1103.4130, "
    "Suppl. Theorem 2 (Eq. S3) at the pre-agreed tolerance Q_tol, per basis (Lo, Chau, Ardehali, "
    "J. Cryptol. 18, 133 (2005)), exact hypergeometric sampling bound",
}
"""The theorem each statement's length comes from (quoted in every report)."""


def log_eps_pe(log_eps_sec: float) -> float:
    """``ln((ε/4)²)`` from ``ln ε``: the log failure probability of the phase-error
    bounds of a protocol with secrecy ε (Suppl. Eq. S15, ε_PE = ε/4).

    Everything is in logarithms, so that ε far below 1e-161 does not underflow.
    """
    return 2.0 * (check_log_eps(log_eps_sec, name="ln eps_sec") - math.log(4.0))


def tolerance_ladder(qber_tolerance: float, statement: Statement) -> tuple[float, ...]:
    """The pre-agreed tolerances of a statement: ``(Q_tol,)`` or ``Q_tol · j / m``."""
    q = check_closed_unit(qber_tolerance, name="qber_tolerance")
    if statement == "fixed" or q == 0.0:
        return (q,)
    return tuple(q * j / LADDER_LEVELS for j in range(1, LADDER_LEVELS + 1))


def select_tolerance(samples: Mapping[str, BasisSample], ladder: tuple[float, ...]) -> int:
    """Index of the lowest tolerance that every basis's sample passes.

    Raises:
        ProtocolAbort: ``"qber_above_threshold"`` if a sample exceeds even the top one.
    """
    for j, q in enumerate(ladder):
        if all(s.sample_errors <= max_accepted_errors(s.sample_bits, q) for s in samples.values()):
            return j
    worst = max(samples.values(), key=lambda s: s.qber if s.sample_bits else -1.0)
    raise ProtocolAbort(
        "qber_above_threshold",
        f"sample QBER of basis {worst.basis} {worst.qber:.6f} exceeds the tolerance "
        f"{ladder[-1]:.6f}",
    )


def max_accepted_errors(sample_bits: int, qber_tolerance: float) -> int:
    """Largest error count ``e`` in a sample of ``sample_bits`` with ``e / k <= Q_tol``.

    Exactly the counts :func:`~qkd_circuits.postprocessing.estimation.check_qber`
    lets through (computed with the same floating-point comparison).
    """
    k = check_int(sample_bits, name="sample_bits", minimum=0)
    q = check_closed_unit(qber_tolerance, name="qber_tolerance")
    if k == 0:
        return 0
    e = min(k, math.floor(q * k))
    while e + 1 <= k and (e + 1) / k <= q:
        e += 1
    while e > 0 and e / k > q:
        e -= 1
    return e


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyLengthResult:
    """A secret key length and the statement it comes from.

    Attributes:
        length: Secret key length ℓ in bits: ``floor`` of the bound, 0 when not positive.
        statement: ``"variable"`` or ``"fixed"`` (see the module docstring).
        theorem: Citation of the theorem the length comes from.
        phase_error_bound: Per basis, the phase-error bound ``λ_B`` used.
        asymptotic_bits: The asymptotic Shor–Preskill length, for comparison only
            (never emitted).
        terms: Every term of the formula by name, plus ``"bound"``, the real-valued
            right-hand side before flooring.
    """

    length: int
    statement: str
    theorem: str
    phase_error_bound: dict[str, float]
    asymptotic_bits: int
    terms: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.length < 0 or self.asymptotic_bits < 0:
            raise ConfigError(
                f"lengths must be >= 0, got {self.length!r} and {self.asymptotic_bits!r}"
            )
        if self.statement not in STATEMENTS:
            raise ConfigError(f"statement must be one of {STATEMENTS}, got {self.statement!r}")


def _check_samples(
    samples: Mapping[str, BasisSample], conjugate: Mapping[str, str] = CONJUGATE
) -> dict[str, BasisSample]:
    names = tuple(conjugate)
    if (
        set(samples) != set(names)
        or not set(conjugate.values()) <= set(names)
        or not all(isinstance(s, BasisSample) and s.basis == b for b, s in samples.items())
    ):
        raise ConfigError(
            f"samples must map each of {names} to its BasisSample, got {dict(samples)!r}"
        )
    if sum(s.key_bits for s in samples.values()) < 1:
        raise ConfigError("samples leave no key bit: nothing to compute a length for")
    return dict(samples)


def asymptotic_key_length(
    samples: Mapping[str, BasisSample],
    *,
    leaked_ec: int | float,
    verification_bits: int = 0,
    conjugate: Mapping[str, str] = CONJUGATE,
) -> int:
    """Asymptotic length ``Σ_B n_B [1 − h(Q_B̄)] − leak_EC − v`` (Shor–Preskill,
    arXiv:quant-ph/0003004), with the *observed* conjugate error rates.

    For comparison only: it is never an emitted key's length.
    """
    by_basis = _check_samples(samples, conjugate)
    leak = check_nonnegative(leaked_ec, name="leaked_ec")
    ver = check_int(verification_bits, name="verification_bits", minimum=0)
    privacy = 0.0
    for basis, s in by_basis.items():
        test = by_basis[conjugate[basis]]
        q = test.qber if test.sample_bits else 1.0
        privacy += s.key_bits * (1.0 - clipped_binary_entropy(q))
    return max(0, math.floor(privacy - leak - ver))


def finite_key_length(
    samples: Mapping[str, BasisSample],
    *,
    leaked_ec: int | float,
    eps_sec: float,
    eps_cor: float,
    qber_tolerance: float,
    verification_bits: int | None = None,
    statement: Statement = "variable",
    conjugate: Mapping[str, str] = CONJUGATE,
    theorem: str | None = None,
) -> KeyLengthResult:
    """Finite-key secret key length (module docstring) from the per-basis sample counts.

    Args:
        samples: ``{"Z": BasisSample, "X": BasisSample}`` from parameter estimation
            (one per basis of ``conjugate``).
        leaked_ec: Bits disclosed by error correction (e.g. Cascade parities), >= 0.
        eps_sec: Secrecy parameter, in (0, 1).
        eps_cor: Correctness parameter, in (0, 1).
        qber_tolerance: ``Q_tol``, fixed before the run (the abort threshold), in [0, 1].
        verification_bits: Tag bits disclosed by verification, or None for the
            paper's ``log₂(2/ε_cor)``.
        statement: ``"variable"`` (tolerance ladder) or ``"fixed"`` (``Q_tol`` itself).
        conjugate: Basis -> the basis whose sample bounds its phase error (default
            BB84's Z <-> X). Any pair of mutually unbiased bases has the overlap ½
            the uncertainty relation of the theorem uses.
        theorem: The citation to report (default: :data:`THEOREMS` for ``statement``).

    Returns:
        A :class:`KeyLengthResult`; ``terms`` holds ``tolerance`` (the level used),
        ``levels`` (``m``), and per basis B ``key_bits_B``, ``test_bits_B`` and
        ``test_errors_B`` (the conjugate sample, at the largest count the level
        accepts), ``phase_error_bound_B``, ``privacy_term_B``; then ``privacy_term``,
        ``leak_ec``, ``verification_leak``, ``pa_penalty``, ``log_eps_pe``, ``bound``.

    Raises:
        ConfigError: on any out-of-range argument.
        ProtocolAbort: ``"qber_above_threshold"`` when a sample exceeds ``Q_tol``.
    """
    by_basis = _check_samples(samples, conjugate)
    leak = check_nonnegative(leaked_ec, name="leaked_ec")
    eps_sec = check_open_unit(eps_sec, name="eps_sec")
    eps_cor = check_open_unit(eps_cor, name="eps_cor")
    if statement not in STATEMENTS:
        raise ConfigError(f"statement must be one of {STATEMENTS}, got {statement!r}")
    if verification_bits is None:
        ver = 1.0 - math.log2(eps_cor)
    else:
        ver = float(check_int(verification_bits, name="verification_bits", minimum=0))
    ladder = tolerance_ladder(qber_tolerance, statement)
    level = select_tolerance(by_basis, ladder)
    tolerance = ladder[level]
    log_eps_sub = math.log(eps_sec) - math.log(len(ladder))  # each level at ε_sec / m
    log_eps = log_eps_pe(log_eps_sub)
    errors = {b: max_accepted_errors(s.sample_bits, tolerance) for b, s in by_basis.items()}
    bounds = phase_error_bounds(
        by_basis, log_eps=log_eps, sample_errors=errors, conjugate=conjugate
    )
    terms: dict[str, float] = {"tolerance": tolerance, "levels": float(len(ladder))}
    privacy = 0.0
    for basis, s in by_basis.items():
        test = by_basis[conjugate[basis]]
        term = s.key_bits * (1.0 - clipped_binary_entropy(bounds[basis]))
        privacy += term
        terms |= {
            f"key_bits_{basis}": float(s.key_bits),
            f"test_bits_{basis}": float(test.sample_bits),
            f"test_errors_{basis}": float(errors[test.basis]),
            f"phase_error_bound_{basis}": bounds[basis],
            f"privacy_term_{basis}": term,
        }
    pa_penalty = -2.0 * log_eps_sub / math.log(2.0)  # 2 log2(1/(2 ε̃)), ε̃ = ε/2 (Eq. S3)
    bound = privacy - leak - ver - pa_penalty
    terms |= {
        "privacy_term": privacy,
        "leak_ec": leak,
        "verification_leak": ver,
        "pa_penalty": pa_penalty,
        "log_eps_pe": log_eps,
        "bound": bound,
    }
    return KeyLengthResult(
        length=max(0, math.floor(bound)),
        statement=statement,
        theorem=THEOREMS[statement] if theorem is None else theorem,
        phase_error_bound=bounds,
        asymptotic_bits=asymptotic_key_length(
            by_basis, leaked_ec=leak, verification_bits=math.ceil(ver), conjugate=conjugate
        ),
        terms=terms,
    )


def shor_preskill_rate(e_bit: float, e_phase: float | None = None, *, f: float = 1.0) -> float:
    """Asymptotic BB84 rate ``1 − h(e_ph) − f·h(e_bit)`` (Shor & Preskill, arXiv:quant-ph/0003004).

    Args:
        e_bit: Bit error rate, in [0, 1].
        e_phase: Phase error rate, in [0, 1]; defaults to ``e_bit``.
        f: Reconciliation inefficiency, >= 1 (1 = Shannon limit).

    Returns:
        The rate (may be negative: no key).
    """
    eb = check_closed_unit(e_bit, name="e_bit")
    ep = eb if e_phase is None else check_closed_unit(e_phase, name="e_phase")
    if not (isinstance(f, (int, float)) and f >= 1.0):
        raise ConfigError(f"f must be a number >= 1, got {f!r}")
    return 1.0 - clipped_binary_entropy(ep) - float(f) * clipped_binary_entropy(eb)


def check_key_length(result: KeyLengthResult) -> KeyLengthResult:
    """Return ``result`` if its length is positive, else abort.

    Raises:
        ProtocolAbort: ``"key_too_short"``, quoting every term of the formula.
    """
    if result.length <= 0:
        detail = ", ".join(f"{name}={value:.6g}" for name, value in result.terms.items())
        raise ProtocolAbort(
            "key_too_short",
            f"finite-key ({result.statement}) secret key length is not positive: {detail}",
        )
    return result


def sifted_bits_needed(
    qber: float,
    *,
    sample_fraction: float,
    eps_sec: float,
    eps_cor: float,
    qber_tolerance: float,
    statement: Statement = "variable",
    efficiency: float = 1.2,
    tag_bits: int = 50,
    max_bits: int = 10**13,
) -> int | None:
    """About how many sifted bits give a positive key at this QBER (None: none up to ``max_bits``).

    Expected counts: the sifted bits split evenly between the bases, a sample of
    ``sample_fraction`` of each with ``qber`` errors, reconciliation leaking
    ``efficiency · n · h(qber)``. For telling a user how long a run must be; the
    emitted length is always computed from the run's own counts.
    """
    from qkd_circuits.postprocessing.security import PhaseErrorAnalysis
    from qkd_circuits.postprocessing.security import sifted_bits_needed as needed

    return needed(
        PhaseErrorAnalysis(),
        check_closed_unit(qber, name="qber"),
        sample_fraction=sample_fraction,
        eps_sec=eps_sec,
        eps_cor=eps_cor,
        qber_tolerance=qber_tolerance,
        statement=statement,
        efficiency=efficiency,
        tag_bits=tag_bits,
        max_bits=max_bits,
    )
