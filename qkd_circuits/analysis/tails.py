"""Exact log-tails of the hypergeometric and binomial distributions, without scipy on
the hot path.

The finite-key sampling bounds (:mod:`~qkd_circuits.postprocessing.estimation`,
:mod:`~qkd_circuits.postprocessing.collective`) need ``ln Pr[X <= e]`` deep in the
lower tail. ``scipy.stats`` costs ~0.6 s to import and ``scipy.special`` ~0.2 s, a
tenth of a 10^7-qubit run's wall time; what every run needs is computed here in
numpy and ``math``, and checked against ``scipy.stats`` and mpmath in the tests:

* pmfs by Loader's saddle-point method (C. Loader, "Fast and accurate computation of
  binomial probabilities", 2000; the algorithm of R's ``dbinom``/``dhyper``):
  ``ln b(x; n, p) = δ(n) − δ(x) − δ(n − x) − D(x, np) − D(n − x, nq)
  − ½ ln(2π x (n − x)/n)`` with Stirling's error ``δ(n) = ln n! − ln(√(2π n)(n/e)^n)``
  and the deviance ``D(x, μ) = x ln(x/μ) + μ − x`` summed as a series near ``x = μ``.
  Each term is O(1), so the result keeps full relative precision where the naive
  ``ln n! − ln x! − …`` cancels ~10^8-sized terms (≈ 10^-8 absolute at n ≈ 10^7).
  The hypergeometric pmf is a ratio of three binomial ones at ``p = draws/total``
  (Loader, §4): ``h(x) = b(x; good, p) b(draws − x; bad, p) / b(draws; total, p)``;
* the hypergeometric lower tail as ``ln pmf(e)`` plus the log-sum-exp of the
  ratios down the support, ``pmf(x − 1)/pmf(x) = x (bad − draws + x) /
  ((good − x + 1)(draws − x + 1))``, accumulated as a sum of logs;
* the binomial ``ln cdf = ln bdtr(e, n, p)``, the regularised incomplete beta function
  ``I_{1−p}(n − e, e + 1)`` (Abramowitz & Stegun 26.5.24), from ``scipy.special``,
  imported on first use (only the collective-attack bounds of B92 and SARG04 need it).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["binom_logcdf", "binom_logpmf", "hypergeom_logcdf", "hypergeom_logpmf"]

_LN_2PI = math.log(2.0 * math.pi)

#: δ(n) for n = 0 … 15 from lgamma, exact to float64 there (small arguments).
_STIRLERR_SMALL = [0.0] + [
    math.lgamma(n + 1.0) - (n + 0.5) * math.log(n) + n - 0.5 * _LN_2PI for n in range(1, 16)
]
_S0, _S1, _S2, _S3, _S4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188


def _stirlerr(n: float) -> float:
    """Stirling's error ``δ(n) = ln n! − ((n + ½) ln n − n + ½ ln 2π)`` for an integer
    ``n >= 0`` (Loader 2000, Eq. (3); the series of R's ``stirlerr``)."""
    if n <= 15:
        return _STIRLERR_SMALL[int(n)]
    nn = n * n
    if n > 500:
        return (_S0 - _S1 / nn) / n
    if n > 80:
        return (_S0 - (_S1 - _S2 / nn) / nn) / n
    if n > 35:
        return (_S0 - (_S1 - (_S2 - _S3 / nn) / nn) / nn) / n
    return (_S0 - (_S1 - (_S2 - (_S3 - _S4 / nn) / nn) / nn) / nn) / n


def _bd0(x: float, mu: float) -> float:
    """The deviance ``x ln(x/μ) + μ − x >= 0``, as a series where ``x ≈ μ`` (Loader 2000,
    §2: ``Σ 2x v^(2j+1)/(2j+1)`` with ``v = (x − μ)/(x + μ)``)."""
    if abs(x - mu) < 0.1 * (x + mu):
        v = (x - mu) / (x + mu)
        s = (x - mu) * v
        ej = 2.0 * x * v
        v *= v
        j = 1
        while True:
            ej *= v
            s1 = s + ej / (2 * j + 1)
            if s1 == s:
                return s1
            s = s1
            j += 1
    return x * math.log(x / mu) + mu - x


def _binom_logpmf_raw(x: int, n: int, p: float, q: float) -> float:
    """``ln b(x; n, p)`` with ``q = 1 − p`` given separately (Loader 2000, §3)."""
    if p == 0.0:
        return 0.0 if x == 0 else -math.inf
    if q == 0.0:
        return 0.0 if x == n else -math.inf
    if x < 0 or x > n:
        return -math.inf
    if n == 0:
        return 0.0
    if x == 0:
        return -_bd0(n, n * q) - n * p if p < 0.1 else n * math.log(q)
    if x == n:
        return -_bd0(n, n * p) - n * q if q < 0.1 else n * math.log(p)
    lc = _stirlerr(n) - _stirlerr(x) - _stirlerr(n - x) - _bd0(x, n * p) - _bd0(n - x, n * q)
    return lc - 0.5 * (_LN_2PI + math.log(x) + math.log1p(-x / n))


def _hypergeom_logpmf(x: int, total: int, good: int, draws: int) -> float:
    """``ln Pr[X = x]``, ``X ~ Hyp(total, good, draws)``; ``-inf`` off the support."""
    bad = total - good
    if x < max(0, draws - bad) or x > min(draws, good):
        return -math.inf
    if draws == 0 or draws == total:
        return 0.0
    p, q = draws / total, (total - draws) / total
    return (
        _binom_logpmf_raw(x, good, p, q)
        + _binom_logpmf_raw(draws - x, bad, p, q)
        - _binom_logpmf_raw(draws, total, p, q)
    )


def hypergeom_logpmf(x: int | np.ndarray, total: int, good: int, draws: int) -> np.ndarray:
    """``ln Pr[X = x]`` for ``X ~ Hyp(total, good, draws)`` (successes among ``draws``
    taken without replacement from ``total`` items of which ``good`` are successes).

    ``-inf`` off the support ``max(0, draws − (total − good)) <= x <= min(draws, good)``;
    float64, shape of ``x``.
    """
    k = np.asarray(x)
    flat = [_hypergeom_logpmf(int(v), total, good, draws) for v in k.reshape(-1).tolist()]
    return np.asarray(flat, dtype=np.float64).reshape(k.shape)


def hypergeom_logcdf(e: int, total: int, good: int, draws: int) -> float:
    """``ln Pr[X <= e]`` for ``X ~ Hyp(total, good, draws)``: ``-inf`` below the support,
    0 at or above its top, else ``ln pmf(e)`` plus the log-sum-exp of the pmf ratios
    down to the bottom of the support (``e − low + 1`` terms)."""
    low, high = max(0, draws - (total - good)), min(draws, good)
    if e < low:
        return -math.inf
    if e >= high:
        return 0.0
    bad = total - good
    x = np.arange(e, low, -1, dtype=np.float64)  # e, e − 1, …, low + 1
    # ln pmf(x − 1) − ln pmf(x), then ln pmf(y) − ln pmf(e) for y = e − 1, …, low.
    steps = np.log(x) + np.log(bad - draws + x) - np.log(good - x + 1) - np.log(draws - x + 1)
    relative = np.concatenate(([0.0], np.cumsum(steps)))
    top = float(relative.max())
    log_sum = top + math.log(float(np.exp(relative - top).sum()))
    return min(_hypergeom_logpmf(e, total, good, draws) + log_sum, 0.0)


def binom_logpmf(x: int, n: int, p: float) -> float:
    """``ln Pr[X = x]`` for ``X ~ Bin(n, p)``, ``0 <= x <= n``."""
    return _binom_logpmf_raw(x, n, p, 1.0 - p)


def binom_logcdf(e: int, n: int, p: float) -> float:
    """``ln Pr[X <= e]`` for ``X ~ Bin(n, p)`` (``-inf`` where the CDF underflows)."""
    if e < 0:
        return -math.inf
    if e >= n:
        return 0.0
    from scipy.special import bdtr  # ~0.2 s to import: only the collective bounds need it

    cdf = float(bdtr(e, n, p))
    return math.log(cdf) if cdf > 0.0 else -math.inf
