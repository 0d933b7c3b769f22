"""Finite-key security analyses of BB84 with a weak-coherent-pulse (WCP) source.

A phase-randomised WCP of mean photon number μ emits ``n`` photons with the
Poisson probability ``e^{−μ} μⁿ / n!``; a pulse of two or more photons may
give Eve a copy of the bit (photon-number splitting), so the qubit analysis
of :mod:`~qkd_circuits.postprocessing.key_length` no longer applies. Two
analyses implement :class:`~qkd_circuits.postprocessing.security.SecurityAnalysis`
for such runs:

* :class:`DecoyAnalysis`: decoy-state BB84 with three intensities, the
  finite-key bound of Lim, Curty, Walenta, Xu & Zbinden, "Concise security
  bounds for practical decoy-state quantum key distribution", PRA 89, 022307
  (2014), arXiv:1311.7129, Eqs. (1)-(5)
  (:func:`~qkd_circuits.analysis.finite_decoy.lim2014_key_length`). The whole
  Z basis is disclosed (its per-intensity counts and errors bound the
  single-photon phase error); the key comes from the X basis.
* :class:`GLLPAnalysis`: BB84 with one intensity and no decoys (Gottesman,
  Lo, Lütkenhaus & Preskill, "Security of quantum key distribution with
  imperfect devices", QIC 4, 325 (2004), arXiv:quant-ph/0212066): every
  multi-photon pulse is assumed detected and known to Eve ("tagged").

The sifted key's ``bases`` for :class:`DecoyAnalysis` are the classes
``basis · 3 + k`` (basis 0 = Z, 1 = X; ``k`` the intensity index), named
:data:`DECOY_CLASS_NAMES`; :func:`decoy_classes` builds them.

Sampling the X basis. A small X sample (``default`` of each X class,
:meth:`DecoyAnalysis.sample_fractions`) is disclosed for the QBER check and
Cascade's estimate, and leaves the key block. Lim et al.'s bounds are stated
for the block of detections they are computed from; the X sample is drawn per
class with a size fixed by the class's count, so the key block's classes are
not exactly the i.i.d. labelling the decoy argument needs. Instead the bounds
are computed on the *whole* sifted X block (where the argument holds as in the
paper) and carried to the key block: in class ``k`` the key keeps a uniformly
random ``r_k = n'_k / N_k`` of the ``N_k`` detections, independently of their
photon numbers, so the number of vacuum (single-photon) events in the key block
is a sum of independent hypergeometric variables of mean ``Σ_k r_k S_k``. That
mean is at least the least ``Σ_k r_k S_k`` over ``0 <= S_k <= N_k``, ``Σ_k S_k
= s`` (the classes of lowest ``r_k`` filled first; ``s`` Lim's bound on the
whole block), and by Hoeffding's inequality for sampling without replacement
(Hoeffding, J. Am. Stat. Assoc. 58, 13 (1963), Thm. 4) the count falls below
its mean by more than ``sqrt(n'/2 · ln(1/ε_t))`` with probability at most
ε_t (``n' = Σ_k n'_k``). The Z single-photon events and the key block's X
single-photon events remain a uniformly random split of their union (the
labelling is exchangeable), so
Lim et al.'s Eq. (5) applies with ``s_X1`` of the key block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.analysis.entropy import clipped_binary_entropy
from qkd_circuits.analysis.finite_decoy import (
    DecoyCounts,
    DecoySettings,
    FiniteKeyBounds,
    lim2014_key_length,
)
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.estimation import (
    BASIS_NAMES,
    CONJUGATE,
    BasisSample,
    check_sample_qber,
    phase_error_bound,
)
from qkd_circuits.postprocessing.key_length import (
    STATEMENTS,
    KeyLengthResult,
    Statement,
    log_eps_pe,
    max_accepted_errors,
    select_tolerance,
    tolerance_ladder,
)
from qkd_circuits.specs import check_closed_unit, check_int, check_nonnegative, check_open_unit

__all__ = [
    "DECOY_CLASS_NAMES",
    "DECOY_THEOREM",
    "GLLP_THEOREMS",
    "DecoyAnalysis",
    "GLLPAnalysis",
    "chernoff_upper",
    "decoy_class_names",
    "decoy_classes",
    "decoy_counts",
    "lim_gamma",
    "multi_photon_probability",
    "single_photon_figures",
]

_LN2 = math.log(2.0)

DECOY_CLASS_NAMES: tuple[str, ...] = ("Z@mu1", "Z@mu2", "Z@mu3", "X@mu1", "X@mu2", "X@mu3")
"""Names of the decoy classes ``basis · 3 + k`` (basis 0 = Z, 1 = X; intensity index k)."""

_Z_CLASSES = DECOY_CLASS_NAMES[:3]
_X_CLASSES = DECOY_CLASS_NAMES[3:]

DECOY_THEOREM = (
    "Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014), arXiv:1311.7129, Eqs. (1)-(5) "
    "from the observed counts at eps_sec/2 (whole Z basis disclosed, bounds on the whole "
    "sifted X block), carried to the X key block by Hoeffding's bound for sampling without "
    "replacement (two events at eps_sec/8, each counted twice); lambda_EC = the disclosed "
    "reconciliation and verification bits, plus log2(2/eps_cor)"
)
"""The theorem of every :class:`DecoyAnalysis` length (fixed and variable alike)."""

GLLP_THEOREMS: dict[str, str] = {
    statement: (
        "Gottesman, Lo, Lutkenhaus, Preskill, QIC 4, 325 (2004), arXiv:quant-ph/0212066 "
        "(multi-photon pulses tagged, their number bounded by Hoeffding's Chernoff bound), in "
        "the finite-key "
        "statement of Tomamichel, Lim, Gisin, Renner, Nat. Commun. 3, 634 (2012), "
        "arXiv:1103.4130, Suppl. Theorem 2 (Eq. S3), per basis (Lo, Chau, Ardehali, "
        "J. Cryptol. 18, 133 (2005)), exact hypergeometric sampling bound on the untagged "
        "positions; "
        + (
            "at the lowest of 64 pre-agreed tolerances the samples pass, each at eps_sec/64"
            if statement == "variable"
            else "at the pre-agreed tolerance Q_tol"
        )
    )
    for statement in STATEMENTS
}
"""The theorem each :class:`GLLPAnalysis` statement's length comes from."""


def decoy_class_names() -> tuple[str, ...]:
    """:data:`DECOY_CLASS_NAMES`: the name of each value ``basis · 3 + k`` of the sifted
    key's ``bases`` in a decoy-state run."""
    return DECOY_CLASS_NAMES


def decoy_classes(bases: ArrayLike, intensity: ArrayLike) -> NDArray[np.uint8]:
    """The decoy class ``basis · 3 + k`` of each sifted bit (:data:`DECOY_CLASS_NAMES`).

    Args:
        bases: Basis of each sifted bit, 0 = Z, 1 = X, shape (n,), any integer dtype.
        intensity: Alice's intensity index of each, 0, 1 or 2 (μ1, μ2, μ3), shape (n,).

    Returns:
        uint8 array (n,) with values in 0..5.

    Raises:
        ConfigError: arrays not 1-D integers of equal length, or values out of range.
    """
    b = _small_ints(bases, name="bases", top=1)
    k = _small_ints(intensity, name="intensity", top=2)
    if b.shape != k.shape:
        raise ConfigError(f"bases and intensity must have equal length, got {b.size} and {k.size}")
    return (b * 3 + k).astype(np.uint8)


def _small_ints(values: ArrayLike, *, name: str, top: int) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ConfigError(f"{name} must be a 1-D integer array, got dtype {arr.dtype} shape "
                          f"{arr.shape}")  # fmt: skip
    if arr.size and (arr.min() < 0 or arr.max() > top):
        raise ConfigError(f"{name} must be in 0..{top}, got values {sorted(set(arr.tolist()))[:6]}")
    return arr.astype(np.int64)


def multi_photon_probability(mu: float) -> float:
    """``p_m = 1 − e^{−μ}(1 + μ)``: probability that a Poisson pulse of mean μ holds
    two or more photons (computed without cancellation for small μ)."""
    m = float(mu)
    if not (math.isfinite(m) and m > 0):
        raise ConfigError(f"mean photon number must be a finite number > 0, got {mu!r}")
    # 1 − e^{−μ}(1+μ) = −expm1(−μ) − μ e^{−μ}; for small μ use the series μ²/2 − μ³/3 + …
    if m < 1e-3:
        return m * m / 2.0 - m**3 / 3.0 + m**4 / 8.0
    return -math.expm1(-m) - m * math.exp(-m)


def chernoff_upper(trials: int, p: float, *, log_eps: float) -> float:
    """Upper bound on ``X ~ Bin(trials, p)`` failing with probability at most ``e^log_eps``.

    Hoeffding's Theorem 1 (J. Am. Stat. Assoc. 58, 13 (1963), Eq. (2.1)) in its
    Kullback–Leibler form: ``Pr[X >= n a] <= exp(−n D(a‖p))`` for ``a > p``, so
    ``n a*`` with ``D(a*‖p) = ln(1/ε) / n`` (found by bisection) is the bound. His
    additive form ``n p + sqrt(n/2 · ln(1/ε))`` is a relaxation of it (``D(a‖p) >=
    2 (a − p)²``), far looser when ``p`` is small. By his Theorem 4 the same bound
    holds for the hypergeometric count of a sample drawn without replacement from a
    population in which a fraction ``p`` are marked.
    """
    n = check_int(trials, name="trials", minimum=0)
    q = check_closed_unit(p, name="p")
    if not (math.isfinite(log_eps) and log_eps < 0):
        raise ConfigError(f"log_eps must be a finite number < 0, got {log_eps!r}")
    if n == 0 or q == 0.0:
        return 0.0
    if q == 1.0:
        return float(n)
    target = -log_eps / n
    if target >= -math.log(q):  # D(1‖p) = ln(1/p): even X = n is not excluded
        return float(n)

    def divergence(a: float) -> float:
        tail = 0.0 if a >= 1.0 else (1.0 - a) * math.log((1.0 - a) / (1.0 - q))
        return a * math.log(a / q) + tail

    lo, hi = q, 1.0
    for _ in range(200):  # D is increasing on [p, 1]; keep hi on the excluded side
        mid = 0.5 * (lo + hi)
        if divergence(mid) >= target:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-15 * hi:
            break
    return min(float(n), n * hi)


def lim_gamma(a: float, b: float, c: float, d: float) -> float:
    """γ(a, b, c, d) of Lim et al. 2014, Eq. (5) (random sampling without replacement):
    ``sqrt[(c + d)(1 − b) b / (c d ln 2) · log2((c + d) / (c d (1 − b) b) · 21² / a²)]``;
    0 where it is undefined (b ∉ (0, 1), c or d ≤ 0, or the logarithm's argument ≤ 1)."""
    if not (0.0 < b < 1.0 and c > 0.0 and d > 0.0):
        return 0.0
    arg = (c + d) / (c * d * (1.0 - b) * b) * (441.0 / (a * a))
    if arg <= 1.0:
        return 0.0
    return math.sqrt((c + d) * (1.0 - b) * b / (c * d * _LN2) * math.log2(arg))


# --- decoy-state BB84 -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DecoyAnalysis:
    """Decoy-state BB84 with intensities (μ1, μ2, μ3), finite key after Lim et al. 2014.

    Alice sends ``pulses`` phase-randomised WCPs, each of intensity μ_k with
    probability p_k; each party picks X with probability ``basis_probability_x``
    (q_x). The sifted key's classes are :data:`DECOY_CLASS_NAMES`. The whole Z
    basis is disclosed (:meth:`sample_fractions`); the key is the X basis minus a
    small sample. The length (:meth:`key_length`) is Lim et al.'s Eq. (1)::

        ℓ = ⌊s_X0 + s_X1 (1 − h(φ_X)) − λ_EC − 6 log2(21/ε') − log2(2/ε_cor)⌋

    with ``ε' = ε_sec/2``, ``λ_EC`` = the bits reconciliation *and* verification
    disclosed, ``s_X0, s_X1`` the key block's vacuum and single-photon events
    (module docstring: Lim's Eqs. (2)-(3) on the whole sifted X block, then the
    thinning bound, at ``ε_sec/8`` each), ``φ_X`` Eq. (5) from the Z-basis
    ``s_Z1`` and ``v_Z1`` (Eqs. (3)-(4)). The ε budget: Lim's at ε' plus the two
    thinning events, each counted twice (as the phase-error failure is in Lim's
    composition), ``ε_sec/2 + 4 · ε_sec/8 = ε_sec``.

    ``statement``: Lim et al.'s bound is a function of the observed counts, so
    ``"fixed"`` and ``"variable"`` give the same length (the paper's statement;
    the tolerance only enters :meth:`check`'s abort).

    Attributes:
        intensities: (μ1, μ2, μ3), μ1 > μ2 + μ3, μ2 > μ3 >= 0 (μ3 = 0: vacuum).
        probabilities: (p1, p2, p3), each in (0, 1), summing to 1.
        pulses: Pulses Alice sent in the run (for :func:`single_photon_figures`).
        basis_probability_x: q_x, the probability each party picks X, in (0, 1).
    """

    intensities: tuple[float, float, float]
    probabilities: tuple[float, float, float]
    pulses: int
    basis_probability_x: float = 0.5

    def __post_init__(self) -> None:
        mus = _three(self.intensities, name="intensities")
        ps = _three(self.probabilities, name="probabilities")
        DecoySettings(
            q_x=self.basis_probability_x, mu1=mus[0], mu2=mus[1], mu3=mus[2],
            p_mu1=ps[0], p_mu2=ps[1],
        )  # fmt: skip
        if not 0.0 < ps[2] < 1.0 or abs(sum(ps) - 1.0) > 1e-9:
            raise ConfigError(f"probabilities must be in (0, 1) and sum to 1, got {ps!r}")
        object.__setattr__(self, "intensities", mus)
        object.__setattr__(self, "probabilities", ps)
        object.__setattr__(self, "pulses", check_int(self.pulses, name="pulses", minimum=1))
        object.__setattr__(self, "basis_probability_x", float(self.basis_probability_x))

    @property
    def basis_names(self) -> tuple[str, ...]:
        """:data:`DECOY_CLASS_NAMES`."""
        return DECOY_CLASS_NAMES

    def sample_fractions(self, default: float) -> dict[str, float]:
        """Z classes 1.0 (disclosed whole: parameter estimation), X classes ``default``
        (the QBER check and Cascade's estimate; these bits leave the key block)."""
        fraction = check_open_unit(default, name="sample_fraction")
        return {**dict.fromkeys(_Z_CLASSES, 1.0), **dict.fromkeys(_X_CLASSES, fraction)}

    def check(self, samples: Mapping[str, BasisSample], *, qber_threshold: float) -> None:
        """Abort when the Z error rate (all intensities pooled) or the X sample's error
        rate (pooled) exceeds ``qber_threshold``.

        Raises:
            ProtocolAbort: ``"qber_above_threshold"``, quoting the rates and counts.
        """
        thr = check_closed_unit(qber_threshold, name="qber_threshold")
        by_class = _check_decoy_samples(samples)
        for basis, names in (("Z", _Z_CLASSES), ("X", _X_CLASSES)):
            bits = sum(by_class[c].sample_bits for c in names)
            errors = sum(by_class[c].sample_errors for c in names)
            if bits and errors / bits > thr:
                what = "error rate" if basis == "Z" else "sample error rate"
                raise ProtocolAbort(
                    "qber_above_threshold",
                    f"{basis}-basis {what} (all intensities) {errors / bits:.6f} exceeds the "
                    f"threshold {thr:.6f} ({errors} errors in {bits} disclosed bits)",
                )

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
        """The Lim et al. length of the X key block (class docstring).

        Returns:
            A :class:`KeyLengthResult`: ``phase_error_bound = {"X": φ_X}``;
            ``asymptotic_bits`` the infinite-data value of the same bound (Eqs. (2)-(4)
            without the Hoeffding terms, ``φ_X = v_Z1/s_Z1``, no ε terms) minus
            ``λ_EC``; ``terms`` every bound by name: the key block's ``s_x0``,
            ``s_x1``, the whole sifted X block's ``s_x0_sifted``, ``s_x1_sifted``,
            ``s_z0``, ``s_z1``, ``v_z1``, ``phi_x`` (and ``phase_error_bound_X``, the
            same), ``keep_fraction_x`` (``s_x1 / s_x1_sifted``), ``thinning_deviation``,
            ``key_bits_X``,
            ``lambda_ec``, ``leak_ec``, ``verification_leak``, ``pa_penalty`` (6
            log2(21/ε')), ``cor_penalty`` (log2(2/ε_cor)), ``eps_lim`` (ε'),
            ``tolerance`` (the abort threshold), the single-photon figures
            ``y1_lower``, ``e1_upper``, ``q1_lower`` (:func:`single_photon_figures`),
            and ``bound``, ℓ before the floor.

        Raises:
            ConfigError: samples not the six classes, a Z class not disclosed whole,
                or an out-of-range argument.
            ProtocolAbort: ``"key_too_short"`` when the X key block or the Z basis
                is empty.
        """
        if statement not in STATEMENTS:
            raise ConfigError(f"statement must be one of {STATEMENTS}, got {statement!r}")
        by_class = _check_decoy_samples(samples)
        eps_sec = check_open_unit(eps_sec, name="eps_sec")
        eps_cor = check_open_unit(eps_cor, name="eps_cor")
        tolerance = check_closed_unit(qber_tolerance, name="qber_tolerance")
        leak = check_nonnegative(leaked_ec, name="leaked_ec")
        ver = check_int(verification_bits, name="verification_bits", minimum=0)
        lam = float(leak) + float(ver)
        partial = [c for c in _Z_CLASSES if by_class[c].key_bits]
        if partial:
            raise ConfigError(
                f"DecoyAnalysis needs the whole Z basis disclosed (sample_fractions gives it "
                f"1.0), but classes {partial} keep key bits"
            )
        counts = decoy_counts(by_class)
        key_x = tuple(by_class[c].key_bits for c in _X_CLASSES)
        if sum(key_x) < 1 or sum(counts.n_z) <= 0:
            raise ProtocolAbort(
                "key_too_short",
                f"decoy-state key needs X key bits and Z detections, got {sum(key_x)} X key "
                f"bits and {sum(counts.n_z):.0f} Z detections",
            )
        eps_lim = eps_sec / 2.0
        eps_thin = eps_sec / 8.0
        sifted = lim2014_key_length(
            counts, intensities=self.intensities, probabilities=self.probabilities,
            eps_sec=eps_lim, eps_cor=eps_cor, lambda_ec=lam,
        )  # fmt: skip
        deviation = math.sqrt(sum(key_x) / 2.0 * math.log(1.0 / eps_thin))
        s_x0 = max(0.0, _kept_lower(sifted.s_x0, key_x, counts.n_x) - deviation)
        if sifted.s_x1 > 0:
            s_x1 = _kept_lower(sifted.s_x1, key_x, counts.n_x) - deviation
        else:
            s_x1 = sifted.s_x1
        keep = s_x1 / sifted.s_x1 if sifted.s_x1 > 0 else 0.0
        if s_x1 > 0 and sifted.s_z1 > 0:
            b = max(sifted.v_z1, 0.0) / sifted.s_z1
            phi = min(b + lim_gamma(eps_lim, b, sifted.s_z1, s_x1), 0.5)
        else:
            phi = 0.5
        pa_penalty = 6.0 * math.log2(21.0 / eps_lim)
        cor_penalty = math.log2(2.0 / eps_cor)
        bound = s_x0 + max(s_x1, 0.0) * (1.0 - clipped_binary_entropy(phi)) - lam
        bound -= pa_penalty + cor_penalty
        figures = single_photon_figures(sifted, self, counts)
        terms = {
            "s_x0": s_x0, "s_x1": s_x1,
            "s_x0_sifted": sifted.s_x0, "s_x1_sifted": sifted.s_x1,
            "s_z0": sifted.s_z0, "s_z1": sifted.s_z1, "v_z1": sifted.v_z1,
            "phi_x": phi, "phase_error_bound_X": phi,
            "keep_fraction_x": keep, "thinning_deviation": deviation,
            "key_bits_X": float(sum(key_x)),
            "lambda_ec": lam, "leak_ec": float(leak), "verification_leak": float(ver),
            "pa_penalty": pa_penalty, "cor_penalty": cor_penalty, "eps_lim": eps_lim,
            "tolerance": tolerance,
            **figures,
            "bound": bound,
        }  # fmt: skip
        return KeyLengthResult(
            length=max(0, math.floor(bound)),
            statement=statement,
            theorem=DECOY_THEOREM,
            phase_error_bound={"X": phi},
            asymptotic_bits=self._asymptotic_bits(by_class, key_x, lam),
            terms=terms,
        )

    def _asymptotic_bits(
        self, by_class: Mapping[str, BasisSample], key_x: tuple[int, ...], lam: float
    ) -> int:
        """Eqs. (1)-(5) with no statistical fluctuation and no ε terms, on the key block."""
        n_z = tuple(float(by_class[c].sifted_bits) for c in _Z_CLASSES)
        m_z = tuple(float(by_class[c].sample_errors) for c in _Z_CLASSES)
        s_x0, s_x1 = _vacuum_single(tuple(map(float, key_x)), self.intensities,
                                    self.probabilities)  # fmt: skip
        _, s_z1 = _vacuum_single(n_z, self.intensities, self.probabilities)
        v_z1 = _single_errors(m_z, self.intensities, self.probabilities)
        if s_x1 <= 0 or s_z1 <= 0:
            return max(0, math.floor(s_x0 - lam))
        e1 = min(max(v_z1, 0.0) / s_z1, 0.5)
        return max(0, math.floor(s_x0 + s_x1 * (1.0 - clipped_binary_entropy(e1)) - lam))


def _kept_lower(events: float, kept: tuple[int, ...], sifted: tuple[float, ...]) -> float:
    """Least mean number of ``events`` (of some kind, spread over the classes in any way
    with at most ``sifted[k]`` in class k) that survive when class k keeps a uniformly
    random ``kept[k]`` of its ``sifted[k]`` detections: ``min Σ_k r_k S_k`` subject to
    ``Σ_k S_k = events``, ``0 <= S_k <= sifted[k]``, ``r_k = kept[k]/sifted[k]`` —
    filling the classes of lowest ``r_k`` first (a linear programme). A tiny class whose
    rounded-up sample took a large share can hold only few events."""
    left = max(0.0, events)
    total = 0.0
    for r, cap in sorted((k / n, n) for k, n in zip(kept, sifted, strict=True) if n > 0):
        take = min(left, cap)
        total += r * take
        left -= take
    return total


def _three(values: object, *, name: str) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in values)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be three numbers, got {values!r}") from None
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise ConfigError(f"{name} must be three finite numbers, got {values!r}")
    return (out[0], out[1], out[2])


def _check_decoy_samples(samples: Mapping[str, BasisSample]) -> dict[str, BasisSample]:
    if set(samples) != set(DECOY_CLASS_NAMES) or not all(
        isinstance(s, BasisSample) and s.basis == b for b, s in samples.items()
    ):
        raise ConfigError(
            f"samples must map each of {DECOY_CLASS_NAMES} to its BasisSample, got "
            f"{sorted(samples)}"
        )
    return dict(samples)


def decoy_counts(samples: Mapping[str, BasisSample]) -> DecoyCounts:
    """The Lim et al. counts of a decoy run's samples: ``n_x``/``m_x`` the sifted X
    detections and the X *sample* errors of each intensity, ``n_z``/``m_z`` the Z
    detections and errors (the Z basis disclosed whole, so its sample errors are all
    of them). ``m_x`` is not a count of the X errors: the lengths use the disclosed
    leakage, never ``m_x``."""
    by_class = _check_decoy_samples(samples)

    def t3(names: tuple[str, ...], field: str) -> tuple[float, float, float]:
        v = [float(getattr(by_class[c], field)) for c in names]
        return (v[0], v[1], v[2])

    return DecoyCounts(
        n_x=t3(_X_CLASSES, "sifted_bits"), m_x=t3(_X_CLASSES, "sample_errors"),
        n_z=t3(_Z_CLASSES, "sifted_bits"), m_z=t3(_Z_CLASSES, "sample_errors"),
    )  # fmt: skip


def _vacuum_single(
    n: tuple[float, ...], mus: tuple[float, float, float], ps: tuple[float, float, float]
) -> tuple[float, float]:
    """Lim et al. Eqs. (2)-(3) with no Hoeffding term (the infinite-data values)."""
    mu1, mu2, mu3 = mus
    e = [math.exp(m) for m in mus]
    tau0 = sum(p / ek for p, ek in zip(ps, e, strict=True))
    tau1 = sum(p * m / ek for p, m, ek in zip(ps, mus, e, strict=True))
    nk = [ek / p * x for ek, p, x in zip(e, ps, n, strict=True)]
    s0 = max(tau0 * (mu2 * nk[2] - mu3 * nk[1]) / (mu2 - mu3), 0.0)
    den = mu1 * (mu2 - mu3) - mu2 * mu2 + mu3 * mu3
    c2 = (mu2 * mu2 - mu3 * mu3) / (mu1 * mu1)
    s1 = tau1 * mu1 * (nk[1] - nk[2] - c2 * (nk[0] - s0 / tau0)) / den
    return s0, s1


def _single_errors(
    m: tuple[float, ...], mus: tuple[float, float, float], ps: tuple[float, float, float]
) -> float:
    """Lim et al. Eq. (4) with no Hoeffding term."""
    e = [math.exp(x) for x in mus]
    tau1 = sum(p * x / ek for p, x, ek in zip(ps, mus, e, strict=True))
    return tau1 * (e[1] / ps[1] * m[1] - e[2] / ps[2] * m[2]) / (mus[1] - mus[2])


def single_photon_figures(
    bounds: FiniteKeyBounds, analysis: DecoyAnalysis, counts: DecoyCounts
) -> dict[str, float]:
    """The run's single-photon figures from Lim et al.'s bounds on its sifted counts.

    The quantities of Ma, Qi, Zhao & Lo, "Practical decoy state for quantum key
    distribution", PRA 72, 012326 (2005), arXiv:quant-ph/0503005 (yield Y1,
    error rate e1, gain Q1), here as finite-key bounds:

    * ``y1_lower = s_X1 / (N q_x² τ1)``, ``τ1 = Σ_k p_k μ_k e^{−μ_k}``: the
      single-photon detections of the whole sifted X block over the expected
      number of single-photon pulses sent with both parties in X (clipped to
      [0, 1]);
    * ``e1_upper = v_Z1 / s_Z1``, capped at 0.5 (0.5 when s_Z1 <= 0);
    * ``q1_lower = y1_lower · μ1 e^{−μ1}``: the signal's single-photon gain.

    Args:
        bounds: :func:`~qkd_circuits.analysis.finite_decoy.lim2014_key_length` on
            ``counts``.
        analysis: The intensities, probabilities, q_x and pulse count of the run.
        counts: The whole sifted block's counts the bounds come from.

    Raises:
        ConfigError: if ``bounds`` cannot come from ``counts`` (more single-photon
            events than detections).
    """
    if bounds.s_x1 > sum(counts.n_x) + 1e-9 * max(1.0, sum(counts.n_x)) or bounds.s_z1 > sum(
        counts.n_z
    ) + 1e-9 * max(1.0, sum(counts.n_z)):
        raise ConfigError(
            f"bounds (s_x1={bounds.s_x1:.6g}, s_z1={bounds.s_z1:.6g}) exceed the detections of "
            f"the counts ({sum(counts.n_x):.6g} X, {sum(counts.n_z):.6g} Z): not their bounds"
        )
    mus, ps = analysis.intensities, analysis.probabilities
    tau1 = sum(p * m * math.exp(-m) for p, m in zip(ps, mus, strict=True))
    sent = analysis.pulses * analysis.basis_probability_x**2 * tau1
    y1 = min(1.0, max(0.0, bounds.s_x1) / sent)
    e1 = min(0.5, max(0.0, bounds.v_z1) / bounds.s_z1) if bounds.s_z1 > 0 else 0.5
    return {
        "y1_lower": y1,
        "e1_upper": e1,
        "q1_lower": y1 * mus[0] * math.exp(-mus[0]),
    }


# --- GLLP: one intensity, no decoys -----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GLLPAnalysis:
    """BB84 with a WCP source of mean photon number μ and no decoys (GLLP 2004), finite key.

    Worst case (Gottesman, Lo, Lütkenhaus & Preskill, QIC 4, 325 (2004)): every
    multi-photon pulse is detected and Eve knows its bit ("tagged"). With ``N``
    pulses sent and ``p_m = 1 − e^{−μ}(1 + μ)``, the number of multi-photon
    pulses is ``Bin(N, p_m)`` (phase randomisation), and Hoeffding's inequality
    in its Kullback–Leibler form (:func:`chernoff_upper`)

        M⁺ = N a*,  D(a*‖p_m) = ln(1/ε_M) / N   (<= N p_m + sqrt(N/2 · ln(1/ε_M)))

    bounds it except with probability ε_M (the additive form is far looser for
    the small p_m of a useful μ). For basis B (key bits ``n_B``,
    conjugate C with ``N_C`` sifted, ``k_C`` sampled bits and ``e_C`` sample
    errors at the statement's tolerance, :func:`max_accepted_errors`):

    * the untagged key bits are at least ``s_B = n_B − M⁺``;
    * the untagged test bits of C are at least ``k_u = k_C − ⌊t⁺⌋``, ``t⁺ =
      min(k_C, M⁺, chernoff_upper(k_C, min(1, M⁺/N_C), ε_t))``: the sample is a
      uniformly random ``k_C``-subset of C's sifted bits, independent of the
      tagging, so its tagged count is hypergeometric with at most ``M⁺`` marked
      (Hoeffding's Theorem 4: the binomial bound holds without replacement);
    * on the untagged positions alone the basis and sample labels are hidden
      from Eve (single-photon and vacuum states do not depend on the basis), so
      the exact hypergeometric bound of
      :func:`~qkd_circuits.postprocessing.estimation.phase_error_bound` applies;
      it grows with the key size and the sample errors and shrinks with the
      sample size (stochastic ordering of the hypergeometric family), so
      ``λ'_B = phase_error_bound(n_B, k_u, min(e_C, k_u))`` bounds the untagged
      key's phase errors as a count ``λ'_B n_B``; the phase-error *rate* of the
      untagged key bits is at most ``λ'_B n_B / s_B``.

    Tagged bits give Eve everything, and ``u (1 − h(w/u))`` is non-decreasing in
    ``u`` (with ``h`` clipped at ½), so the length is the statement of
    :mod:`~qkd_circuits.postprocessing.key_length` on the untagged bits::

        ℓ = Σ_B s_B (1 − h(λ'_B n_B / s_B)) − leak_EC − v − 2 log₂(1/ε_level)

    (a basis with ``s_B <= 0`` contributes 0). The ε budget is that of the BB84
    statement: the parameter-estimation failure ``(ε_level/4)²`` (Tomamichel
    et al., Suppl. Eq. S15) is split in three equal parts — the sampling bounds,
    the bound M⁺ and the tagged-in-sample bounds (the first and last split again
    over the bases) — so ε_sec, ε_cor and the privacy-amplification price are
    unchanged. The asymptotic comparison (``asymptotic_bits``) is GLLP's rate
    with the observed conjugate error rates, ``Σ_B u_B (1 − h(Q_C n_B / u_B)) −
    leak_EC − v`` with ``u_B = n_B − N p_m q²``.

    Per basis: Alice's and Bob's bases do not depend on the photon number, so the
    multi-photon pulses that can land in basis B's sifted bits are ``Bin(N, p_m q²)``
    with ``q`` the probability that each party picks B (1/2 in BB84): ``M⁺`` above
    is taken per basis, ``M_B⁺`` at ``p_m q²``, and the ε of the M⁺ bounds is split
    over the two bases.

    Attributes:
        mu: Mean photon number μ of the source, > 0.
        pulses: Pulses ``N`` Alice sent in the run, >= 1.
        basis_probability: ``q``, each party's probability of each basis (1/2).
    """

    mu: float
    pulses: int
    basis_probability: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", float(self.mu))
        multi_photon_probability(self.mu)
        object.__setattr__(self, "pulses", check_int(self.pulses, name="pulses", minimum=1))
        check_open_unit(self.basis_probability, name="basis_probability")

    @property
    def multi_photon_per_basis(self) -> float:
        """``p_m q²``: probability that a pulse is multi-photon and both parties pick a
        given basis."""
        return self.multi_photon_probability * self.basis_probability**2

    @property
    def basis_names(self) -> tuple[str, ...]:
        """BB84's ``("Z", "X")``."""
        return BASIS_NAMES

    @property
    def multi_photon_probability(self) -> float:
        """``p_m = 1 − e^{−μ}(1 + μ)``."""
        return multi_photon_probability(self.mu)

    def multi_photon_upper(self, log_eps: float) -> float:
        """``M_B⁺``: the multi-photon pulses sent in one basis B (both parties), at most,
        except with probability ``e^log_eps`` (:func:`chernoff_upper` at ``p_m q²``;
        at most ``N p_m q² + sqrt(N/2 · ln(1/ε))``)."""
        return chernoff_upper(self.pulses, self.multi_photon_per_basis, log_eps=log_eps)

    def check(self, samples: Mapping[str, BasisSample], *, qber_threshold: float) -> None:
        """BB84's QBER check; then abort when even the *expected* number of multi-photon
        pulses per basis ``N p_m q²`` reaches the key bits of every basis (the finite
        bound M_B⁺ is larger still; :meth:`key_length` aborts on it).

        Raises:
            ProtocolAbort: ``"qber_above_threshold"`` or ``"key_too_short"``.
        """
        check_sample_qber(samples, threshold=qber_threshold)
        expected = self.pulses * self.multi_photon_per_basis
        key_bits = {b: s.key_bits for b, s in samples.items()}
        if all(expected >= n for n in key_bits.values()):
            raise ProtocolAbort(
                "key_too_short", self._no_key_message(expected, key_bits, "N p_m q^2")
            )

    def _no_key_message(self, multi: float, key_bits: Mapping[str, int], name: str) -> str:
        return (
            "multi-photon pulses could account for every detection: no key without decoy "
            f"states ({name} = {multi:.6g} multi-photon pulses per basis of {self.pulses} "
            f"at mu = {self.mu:g}, key bits per basis {dict(key_bits)})"
        )

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
        """The GLLP finite-key length (class docstring).

        Returns:
            A :class:`KeyLengthResult`; ``phase_error_bound`` per basis is the bound on
            the untagged key bits' phase-error rate (1.0 for a basis without untagged
            bits); ``terms`` hold ``tolerance``, ``levels``, ``pulses``,
            ``multi_photon_probability``, ``multi_photon_pulses_upper`` (M⁺), per
            basis B ``key_bits_B``, ``untagged_key_bits_B`` (s_B), ``test_bits_B``,
            ``untagged_test_bits_B`` (k_u), ``test_errors_B``,
            ``phase_error_bound_all_B`` (λ'_B), ``phase_error_bound_B``,
            ``privacy_term_B``; then ``privacy_term``, ``leak_ec``,
            ``verification_leak``, ``pa_penalty``, ``log_eps_pe``, ``bound``.

        Raises:
            ConfigError: on an out-of-range argument.
            ProtocolAbort: ``"qber_above_threshold"`` when a sample exceeds the
                tolerance, ``"key_too_short"`` when M⁺ reaches every basis's key bits.
        """
        if set(samples) != set(BASIS_NAMES) or not all(
            isinstance(s, BasisSample) and s.basis == b for b, s in samples.items()
        ):
            raise ConfigError(
                f"samples must map each of {BASIS_NAMES} to its BasisSample, got {dict(samples)!r}"
            )
        if statement not in STATEMENTS:
            raise ConfigError(f"statement must be one of {STATEMENTS}, got {statement!r}")
        by_basis = dict(samples)
        leak = check_nonnegative(leaked_ec, name="leaked_ec")
        ver = float(check_int(verification_bits, name="verification_bits", minimum=0))
        eps_sec = check_open_unit(eps_sec, name="eps_sec")
        check_open_unit(eps_cor, name="eps_cor")
        ladder = tolerance_ladder(qber_tolerance, statement)
        level = select_tolerance(by_basis, ladder)
        tolerance = ladder[level]
        log_eps_sub = math.log(eps_sec) - math.log(len(ladder))  # each level at ε_sec / m
        log_pe = log_eps_pe(log_eps_sub)
        log_part = log_pe - math.log(3.0)  # sampling | M⁺ | tagged in the sample
        multi = self.multi_photon_upper(log_part - math.log(len(BASIS_NAMES)))  # per basis
        key_bits = {b: s.key_bits for b, s in by_basis.items()}
        if all(multi >= n for n in key_bits.values()):
            raise ProtocolAbort("key_too_short", self._no_key_message(multi, key_bits, "M+"))
        with_key = [b for b in BASIS_NAMES if key_bits[b] > 0]
        log_share = log_part - math.log(max(1, len(with_key)))
        terms: dict[str, float] = {
            "tolerance": tolerance,
            "levels": float(len(ladder)),
            "pulses": float(self.pulses),
            "multi_photon_probability": self.multi_photon_probability,
            "multi_photon_pulses_upper": multi,  # per basis
        }
        rates: dict[str, float] = {}
        privacy = 0.0
        for basis in BASIS_NAMES:
            test = by_basis[CONJUGATE[basis]]
            n_b, k_c = key_bits[basis], test.sample_bits
            errors = max_accepted_errors(k_c, tolerance)
            if test.sifted_bits and k_c:
                marked = min(1.0, multi / test.sifted_bits)
                tagged = chernoff_upper(k_c, marked, log_eps=log_share)
                k_u = k_c - math.floor(min(k_c, multi, tagged))
            else:
                k_u = 0
            lam_all = phase_error_bound(n_b, k_u, min(errors, k_u), log_eps=log_share)
            untagged = n_b - multi
            if untagged > 0:
                rate = min(1.0, lam_all * n_b / untagged)
                term = untagged * (1.0 - clipped_binary_entropy(rate))
            else:
                rate, term = 1.0, 0.0
            rates[basis] = rate
            privacy += term
            terms |= {
                f"key_bits_{basis}": float(n_b),
                f"untagged_key_bits_{basis}": max(0.0, untagged),
                f"test_bits_{basis}": float(k_c),
                f"untagged_test_bits_{basis}": float(k_u),
                f"test_errors_{basis}": float(errors),
                f"phase_error_bound_all_{basis}": lam_all,
                f"phase_error_bound_{basis}": rate,
                f"privacy_term_{basis}": term,
            }
        pa_penalty = -2.0 * log_eps_sub / _LN2  # 2 log2(1/(2 ε̃)), ε̃ = ε/2 (Eq. S3)
        bound = privacy - leak - ver - pa_penalty
        terms |= {
            "privacy_term": privacy,
            "leak_ec": float(leak),
            "verification_leak": ver,
            "pa_penalty": pa_penalty,
            "log_eps_pe": log_pe,
            "bound": bound,
        }
        return KeyLengthResult(
            length=max(0, math.floor(bound)),
            statement=statement,
            theorem=GLLP_THEOREMS[statement],
            phase_error_bound=rates,
            asymptotic_bits=self._asymptotic_bits(by_basis, leak + ver),
            terms=terms,
        )

    def _asymptotic_bits(self, by_basis: Mapping[str, BasisSample], lost: float) -> int:
        expected = self.pulses * self.multi_photon_per_basis
        privacy = 0.0
        for basis, s in by_basis.items():
            test = by_basis[CONJUGATE[basis]]
            untagged = s.key_bits - expected
            if untagged <= 0:
                continue
            q = test.qber if test.sample_bits else 1.0
            privacy += untagged * (
                1.0 - clipped_binary_entropy(min(1.0, q * s.key_bits / untagged))
            )
        return max(0, math.floor(privacy - lost))
