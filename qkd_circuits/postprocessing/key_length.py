"""Secret key length: finite-key BB84 (Tomamichel et al. 2012) and asymptotic Shor–Preskill.

Finite key (Tomamichel, Lim, Gisin & Renner, "Tight finite-key analysis for
quantum cryptography", Nat. Commun. 3, 634 (2012), arXiv:1103.4130, Eq. (2)):
the protocol is ε_sec-secret (and ε_cor-correct through verification) if

    ℓ ≤ n [1 − h(Q + μ)] − leak_EC − log₂(2 / (ε_sec² ε_cor)),
    μ = sqrt((n + k)/(n k) · (k + 1)/k · ln(4/ε_sec)),

with ``n`` key bits, ``k`` parameter-estimation bits with error rate ``Q``,
preparation quality ``q = 1`` (ideal BB84 qubits), ``h`` the binary entropy.
The last term splits (Supplementary Eq. S3 with ε = ε_sec/4, ε̃ = ε_sec/2) into
``2 log₂(1/ε_sec)`` for privacy amplification (leftover hash lemma) and
``log₂(2/ε_cor)``, which bounds the leakage of a verification hash of
``⌈log₂(1/ε_cor)⌉`` bits. Our polynomial hash is longer (its tag needs
``log₂(d/ε_cor)`` bits for ``d`` blocks), so when the actual tag length is
passed as ``verification_bits`` that number replaces ``log₂(2/ε_cor)``:
every bit disclosed about the key is subtracted. Bits disclosed during
parameter estimation are not subtracted: they were removed from the key, and
``n`` counts only what is left.

``h(Q + μ)`` is evaluated as ``h(min(Q + μ, ½))``: the bound
``log Σ_{w ≤ n x} C(n, w) ≤ n h(x)`` behind it (Suppl. Eq. S19) holds for
``x ≤ ½``; beyond ½ the entropy bound is ``n`` and no key can be extracted.

On ``Q``: Theorem 2 of the paper fixes a tolerated error rate ``Q_tol`` in
advance and aborts when the observed rate exceeds it. Passing the *observed*
sample error rate as ``qber_sample`` (choosing ℓ after the fact) is common
practice; for the letter of the theorem pass the pre-agreed ``Q_tol`` and
abort with :func:`~qkd_circuits.postprocessing.estimation.check_qber` at that
threshold. In the paper the sample is taken in the basis conjugate to the key
basis, so ``Q`` bounds the phase error of the key; with a sample drawn at
random from a symmetric BB84 sifted key the same estimate is used for both
bases (the usual symmetric-BB84 assumption).

Asymptotic (Shor & Preskill, PRL 85, 441 (2000), arXiv:quant-ph/0003004):
``ℓ = n [1 − h(e_ph)] − leak_EC``; with ``leak_EC = f n h(e_bit)`` this is the
rate ``1 − h(e_ph) − f h(e_bit)`` of :func:`shor_preskill_rate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.specs import check_int, check_open_unit

__all__ = [
    "KeyLengthResult",
    "asymptotic_key_length",
    "check_key_length",
    "finite_key_length",
    "finite_key_mu",
    "secret_key_length",
    "shor_preskill_rate",
]

Method = Literal["finite", "asymptotic"]


def _h(x: float) -> float:
    """Binary entropy of ``min(x, 1/2)`` (the bound used for an upper estimate of an error rate)."""
    return float(binary_entropy(min(max(x, 0.0), 0.5)))


def _rate(value: float, *, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number in [0, 1], got {value!r}") from exc
    if not 0.0 <= x <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], got {value!r}")
    return x


def _leak(value: int | float, *, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number >= 0, got {value!r}") from exc
    if not (x >= 0.0 and math.isfinite(x)):
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyLengthResult:
    """A secret key length and how it was obtained.

    Attributes:
        length: Secret key length ℓ in bits: ``floor`` of the bound, and 0 when
            the bound is not positive.
        method: ``"finite"`` or ``"asymptotic"``.
        phase_error_bound: The phase error rate used in the entropy term
            (``Q + μ`` for the finite key, clipped to 1; ``e_ph`` for the asymptotic one).
        terms: Every term of the formula by name (see the two functions), plus
            ``"bound"``, the real-valued right-hand side before flooring.
    """

    length: int
    method: str
    phase_error_bound: float
    terms: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.length < 0:
            raise ConfigError(f"length must be >= 0, got {self.length!r}")
        if self.method not in ("finite", "asymptotic"):
            raise ConfigError(f"method must be 'finite' or 'asymptotic', got {self.method!r}")


def finite_key_mu(n: int, k: int, eps_sec: float) -> float:
    """μ of Tomamichel et al., arXiv:1103.4130, Eq. (2): ``sqrt((n+k)/(nk)·(k+1)/k·ln(4/ε_sec))``.

    Equal to :func:`~qkd_circuits.postprocessing.estimation.sampling_deviation`
    ``(n, k, (eps_sec / 4) ** 2)``: a Serfling bound failing with probability
    ``(ε_sec/4)²`` (Suppl. Eqs. S14–S15 with ε = ε_sec/4).
    """
    n = check_int(n, name="n", minimum=1)
    k = check_int(k, name="k", minimum=1)
    eps_sec = check_open_unit(eps_sec, name="eps_sec")
    # Computed directly rather than through sampling_deviation so that a tiny
    # eps_sec does not underflow (eps_sec/4)**2 to zero.
    return math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(4.0 / eps_sec))


def finite_key_length(
    *,
    n: int,
    k: int,
    qber_sample: float,
    leaked_ec: int | float,
    eps_sec: float,
    eps_cor: float,
    verification_bits: int | None = None,
) -> KeyLengthResult:
    """Finite-key secret key length of BB84, Tomamichel et al. (arXiv:1103.4130) Eq. (2).

    ``ℓ = floor(n [1 − h(Q + μ)] − leak_EC − verification − 2 log₂(1/ε_sec))``
    where ``verification = log₂(2/ε_cor)`` (the paper's term) or, when given,
    the actual ``verification_bits``. With ``verification_bits=None`` this is
    exactly ``n [1 − h(Q + μ)] − leak_EC − log₂(2/(ε_sec² ε_cor))``.

    Args:
        n: Key bits entering reconciliation (sample removed), >= 1.
        k: Parameter-estimation sample size, >= 1.
        qber_sample: Error rate ``Q`` of the sample (or the pre-agreed ``Q_tol``), in [0, 1].
        leaked_ec: Bits disclosed by error correction (e.g. Cascade parities), >= 0.
        eps_sec: Secrecy parameter, in (0, 1).
        eps_cor: Correctness parameter, in (0, 1).
        verification_bits: Tag bits disclosed by verification, or None for the
            paper's ``log₂(2/ε_cor)``.

    Returns:
        A :class:`KeyLengthResult` with ``terms``: ``n``, ``k``, ``qber_sample``,
        ``mu``, ``phase_error_bound``, ``h_phase``, ``privacy_term`` (= n(1 − h)),
        ``leak_ec``, ``verification_leak``, ``pa_penalty`` (= 2 log₂(1/ε_sec)),
        ``bound``.

    Raises:
        ConfigError: on any out-of-range argument.
    """
    n = check_int(n, name="n", minimum=1)
    k = check_int(k, name="k", minimum=1)
    q = _rate(qber_sample, name="qber_sample")
    leak = _leak(leaked_ec, name="leaked_ec")
    eps_sec = check_open_unit(eps_sec, name="eps_sec")
    eps_cor = check_open_unit(eps_cor, name="eps_cor")
    if verification_bits is None:
        ver = math.log2(2.0 / eps_cor)
    else:
        ver = float(check_int(verification_bits, name="verification_bits", minimum=0))
    mu = finite_key_mu(n, k, eps_sec)
    phase = q + mu
    h_phase = _h(phase)
    privacy = n * (1.0 - h_phase)
    pa_penalty = 2.0 * math.log2(1.0 / eps_sec)
    bound = privacy - leak - ver - pa_penalty
    terms = {
        "n": float(n),
        "k": float(k),
        "qber_sample": q,
        "mu": mu,
        "phase_error_bound": phase,
        "h_phase": h_phase,
        "privacy_term": privacy,
        "leak_ec": leak,
        "verification_leak": ver,
        "pa_penalty": pa_penalty,
        "bound": bound,
    }
    return KeyLengthResult(
        length=max(0, math.floor(bound)),
        method="finite",
        phase_error_bound=min(1.0, phase),
        terms=terms,
    )


def asymptotic_key_length(
    *, n: int, e_phase: float, leaked_ec: int | float, verification_bits: int = 0
) -> KeyLengthResult:
    """Asymptotic (Shor–Preskill, arXiv:quant-ph/0003004) key length ``n [1 − h(e_ph)] − leak_EC``.

    ``verification_bits`` (default 0) is subtracted too, so the length accounts
    for every disclosed bit. ``h(e_ph)`` is evaluated at ``min(e_ph, ½)``.

    Args:
        n: Key bits, >= 1.
        e_phase: Phase error rate, in [0, 1].
        leaked_ec: Bits disclosed by error correction, >= 0.
        verification_bits: Tag bits disclosed by verification, >= 0.

    Returns:
        A :class:`KeyLengthResult` with ``terms``: ``n``, ``e_phase``,
        ``h_phase``, ``privacy_term``, ``leak_ec``, ``verification_leak``, ``bound``.

    Raises:
        ConfigError: on any out-of-range argument.
    """
    n = check_int(n, name="n", minimum=1)
    e = _rate(e_phase, name="e_phase")
    leak = _leak(leaked_ec, name="leaked_ec")
    ver = float(check_int(verification_bits, name="verification_bits", minimum=0))
    h_phase = _h(e)
    privacy = n * (1.0 - h_phase)
    bound = privacy - leak - ver
    terms = {
        "n": float(n),
        "e_phase": e,
        "h_phase": h_phase,
        "privacy_term": privacy,
        "leak_ec": leak,
        "verification_leak": ver,
        "bound": bound,
    }
    return KeyLengthResult(
        length=max(0, math.floor(bound)), method="asymptotic", phase_error_bound=e, terms=terms
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
    eb = _rate(e_bit, name="e_bit")
    ep = eb if e_phase is None else _rate(e_phase, name="e_phase")
    if not (isinstance(f, (int, float)) and f >= 1.0):
        raise ConfigError(f"f must be a number >= 1, got {f!r}")
    return 1.0 - _h(ep) - float(f) * _h(eb)


def check_key_length(result: KeyLengthResult) -> KeyLengthResult:
    """Return ``result`` if its length is positive, else abort.

    Raises:
        ProtocolAbort: ``"key_too_short"``, quoting every term of the formula.
    """
    if result.length <= 0:
        detail = ", ".join(f"{name}={value:.6g}" for name, value in result.terms.items())
        raise ProtocolAbort(
            "key_too_short",
            f"{result.method} secret key length is not positive: {detail}",
        )
    return result


def secret_key_length(
    *,
    method: Method = "finite",
    n: int,
    k: int | None = None,
    qber: float,
    leaked_ec: int | float,
    eps_sec: float = 1e-10,
    eps_cor: float = 1e-15,
    verification_bits: int | None = None,
    abort: bool = True,
) -> KeyLengthResult:
    """Dispatch to :func:`finite_key_length` or :func:`asymptotic_key_length`.

    Args:
        method: ``"finite"`` (Tomamichel et al. 2012) or ``"asymptotic"`` (Shor–Preskill).
        n: Key bits after parameter estimation.
        k: Sample size (required for ``"finite"``; ignored otherwise).
        qber: ``qber_sample`` for the finite key, ``e_phase`` for the asymptotic one.
        leaked_ec: Bits disclosed by error correction.
        eps_sec: Secrecy parameter (finite key only).
        eps_cor: Correctness parameter (finite key only).
        verification_bits: Tag bits disclosed by verification (``None``: the
            paper's ``log₂(2/ε_cor)`` for finite, 0 for asymptotic).
        abort: Raise ``ProtocolAbort("key_too_short")`` when the length is 0.

    Returns:
        The :class:`KeyLengthResult`.

    Raises:
        ConfigError: bad arguments (including ``k`` missing for ``"finite"``).
        ProtocolAbort: ``"key_too_short"`` when ``abort`` and the length is 0.
    """
    if method == "finite":
        if k is None:
            raise ConfigError("method='finite' needs the sample size k")
        result = finite_key_length(
            n=n,
            k=k,
            qber_sample=qber,
            leaked_ec=leaked_ec,
            eps_sec=eps_sec,
            eps_cor=eps_cor,
            verification_bits=verification_bits,
        )
    elif method == "asymptotic":
        result = asymptotic_key_length(
            n=n,
            e_phase=qber,
            leaked_ec=leaked_ec,
            verification_bits=0 if verification_bits is None else verification_bits,
        )
    else:
        raise ConfigError(f"method must be 'finite' or 'asymptotic', got {method!r}")
    return check_key_length(result) if abort else result
