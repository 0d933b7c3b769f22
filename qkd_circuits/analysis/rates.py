"""Asymptotic one-way secret-key fractions of qubit protocols and their QBER thresholds.

Every rate here is a secret fraction per *sifted* bit in the asymptotic limit
(infinitely many signals), with an error-correction leakage f·h(e_bit) per
bit (f = 1 is the Shannon limit). A negative value means no key can be
extracted with one-way post-processing. All functions accept scalars or
arrays (broadcast together) and return a float for scalar input.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.errors import ConfigError

__all__ = [
    "THRESHOLD_PROTOCOLS",
    "bb84_rate",
    "bbm92_rate",
    "chsh_di_rate",
    "chsh_value_depolarising",
    "qber_threshold",
    "six_state_rate",
]

FloatOrArray = NDArray[np.float64] | float


def _out(x: NDArray[np.float64]) -> FloatOrArray:
    return float(x) if x.ndim == 0 else x


def _check_f(f: float) -> float:
    f = float(f)
    if not (math.isfinite(f) and f >= 1.0):
        raise ConfigError(f"error-correction efficiency f must be >= 1, got {f!r}")
    return f


def _as_error_rate(e: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(e, dtype=np.float64)
    if np.any(~np.isfinite(arr)) or np.any((arr < 0) | (arr > 0.5)):
        bad = arr[~np.isfinite(arr) | (arr < 0) | (arr > 0.5)].flat[0]
        raise ConfigError(f"{name} must be in [0, 0.5], got {float(bad)!r}")
    return arr


def _h(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(binary_entropy(x), dtype=np.float64)


def bb84_rate(
    e_bit: ArrayLike, *, e_phase: ArrayLike | None = None, f: float = 1.0
) -> FloatOrArray:
    """Shor–Preskill BB84 secret fraction r = 1 − h(e_ph) − f·h(e_bit).

    Shor and Preskill, PRL 85, 441 (2000), arXiv:quant-ph/0003004. For BB84
    with symmetric errors the phase-error rate equals the bit-error rate of
    the other basis, so ``e_phase`` defaults to ``e_bit``; the threshold
    r = 0 is at e = 11.0028 % for f = 1.

    Args:
        e_bit: Bit-error rate (QBER) of the key basis, in [0, 0.5].
        e_phase: Phase-error rate, in [0, 0.5]; defaults to ``e_bit``.
        f: Error-correction efficiency (>= 1).

    Returns:
        Secret bits per sifted bit (may be negative: no key).
    """
    f = _check_f(f)
    eb = _as_error_rate(e_bit, "e_bit")
    ep = eb if e_phase is None else _as_error_rate(e_phase, "e_phase")
    return _out(1.0 - _h(ep) - f * _h(eb))


def bbm92_rate(
    e_bit: ArrayLike, *, e_phase: ArrayLike | None = None, f: float = 1.0
) -> FloatOrArray:
    """BBM92 (entanglement-based BB84) secret fraction r = 1 − h(e_ph) − f·h(e_bit).

    Bennett, Brassard and Mermin, PRL 68, 557 (1992). Measuring each half of
    an entangled pair in the Z or X basis is equivalent to BB84, and its
    security with an untrusted (even adversarial) source has the same
    Shor–Preskill rate: Koashi and Preskill, PRL 90, 057902 (2003),
    arXiv:quant-ph/0208155; Ma, Fung and Lo, PRA 76, 012307 (2007),
    arXiv:quant-ph/0703122. The sifting factor (1/2 for unbiased bases) is
    not included.

    Args:
        e_bit: Bit-error rate in [0, 0.5].
        e_phase: Phase-error rate in [0, 0.5]; defaults to ``e_bit``.
        f: Error-correction efficiency (>= 1).

    Returns:
        Secret bits per sifted coincidence.
    """
    return bb84_rate(e_bit, e_phase=e_phase, f=f)


def six_state_rate(e: ArrayLike, *, f: float = 1.0) -> FloatOrArray:
    """Six-state one-way secret fraction (Lo 2001).

    Lo, Quantum Inf. Comput. 1, 81 (2001), arXiv:quant-ph/0102138. Errors in
    all three bases are symmetric, so the Bell-diagonal state has weights
    λ0 = 1 − 3e/2 and λ1 = λ2 = λ3 = e/2, and the rate 1 − H(λ) splits as::

        r = 1 − f·h(e) − e − (1 − e)·h((1 − 3e/2) / (1 − e))

    (error correction, then the phase information given the bit-error
    pattern). With f = 1 this is 1 + (1 − 3e/2) log2(1 − 3e/2) +
    (3e/2) log2(e/2), whose root is e = 12.6193 %.

    Args:
        e: QBER in [0, 0.5].
        f: Error-correction efficiency (>= 1).

    Returns:
        Secret bits per sifted bit.
    """
    f = _check_f(f)
    arr = _as_error_rate(e, "e")
    ratio = (1.0 - 1.5 * arr) / (1.0 - arr)  # e <= 1/2, so 1 - e >= 1/2
    return _out(1.0 - f * _h(arr) - arr - (1.0 - arr) * _h(ratio))


def chsh_value_depolarising(qber: ArrayLike) -> FloatOrArray:
    """CHSH value S = 2√2 (1 − 2Q) of a Werner state with QBER Q.

    Acín et al., PRL 98, 230501 (2007), arXiv:quant-ph/0702152: for the
    depolarising channel the CHSH value and the QBER are tied in this way.
    """
    arr = _as_error_rate(qber, "qber")
    return _out(2.0 * math.sqrt(2.0) * (1.0 - 2.0 * arr))


def chsh_di_rate(s: ArrayLike, qber: ArrayLike, *, f: float = 1.0) -> FloatOrArray:
    """Device-independent key rate from the CHSH value (collective attacks).

    Acín, Brunner, Gisin, Massar, Pironio and Scarani, PRL 98, 230501 (2007),
    arXiv:quant-ph/0702152, Eq. (2)::

        r ≥ 1 − f·h(Q) − h((1 + sqrt((S/2)² − 1)) / 2)

    For S ≤ 2 (no Bell violation) Eve's information term is h(1/2) = 1 and
    no key is possible. With S = 2√2(1 − 2Q) the threshold is Q ≈ 7.1 %.

    Args:
        s: CHSH value in [0, 2√2] (values in [−2√2, 0) are mapped to |S|).
        qber: Bit-error rate Q of the key measurement, in [0, 0.5].
        f: Error-correction efficiency (>= 1).

    Returns:
        Secret bits per key-generating round.
    """
    f = _check_f(f)
    q_arr = _as_error_rate(qber, "qber")
    s_arr = np.abs(np.asarray(s, dtype=np.float64))
    tsirelson = 2.0 * math.sqrt(2.0)
    if np.any(~np.isfinite(s_arr)) or np.any(s_arr > tsirelson * (1 + 1e-12)):
        bad = s_arr[~np.isfinite(s_arr) | (s_arr > tsirelson * (1 + 1e-12))].flat[0]
        raise ConfigError(f"CHSH value S must satisfy |S| <= 2*sqrt(2), got {float(bad)!r}")
    root = np.sqrt(np.clip((s_arr / 2.0) ** 2 - 1.0, 0.0, 1.0))
    return _out(1.0 - f * _h(q_arr) - _h((1.0 + root) / 2.0))


def _di_depolarising(e: float, *, f: float) -> float:
    return float(chsh_di_rate(chsh_value_depolarising(e), e, f=f))


THRESHOLD_PROTOCOLS: dict[str, Callable[..., FloatOrArray]] = {
    "bb84": bb84_rate,
    "bbm92": bbm92_rate,
    "six-state": six_state_rate,
    "di-chsh": _di_depolarising,
}


def qber_threshold(protocol: str, *, f: float = 1.0) -> float:
    """QBER at which the one-way rate of ``protocol`` reaches zero, found with Brent's method.

    Known values for f = 1: BB84/BBM92 0.110028 (Shor–Preskill), six-state
    0.126193 (Lo 2001), CHSH device-independent with depolarising noise
    ≈ 0.0711 (Acín et al. 2007). For BB84 with f = 1.16 it is 0.0981.

    Args:
        protocol: One of ``"bb84"``, ``"bbm92"``, ``"six-state"``, ``"di-chsh"``.
        f: Error-correction efficiency (>= 1).

    Returns:
        The threshold QBER in (0, 0.5).

    Raises:
        ConfigError: for an unknown protocol or an invalid ``f``.
    """
    try:
        rate = THRESHOLD_PROTOCOLS[protocol]
    except KeyError:
        raise ConfigError(
            f"unknown protocol {protocol!r}; expected one of {', '.join(THRESHOLD_PROTOCOLS)}"
        ) from None
    f = _check_f(f)
    return float(
        brentq(lambda e: float(rate(e, f=f)), 1e-12, 0.25, xtol=1e-14, rtol=1e-14, maxiter=200)
    )
