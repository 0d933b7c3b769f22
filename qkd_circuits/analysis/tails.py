"""Exact log-tails of the hypergeometric and binomial distributions, from ``scipy.special``.

The finite-key sampling bounds (:mod:`~qkd_circuits.postprocessing.estimation`,
:mod:`~qkd_circuits.postprocessing.collective`) need ``ln Pr[X <= e]`` deep in
the lower tail. ``scipy.stats`` computes them with the same special functions but
costs ~0.6 s to import, a quarter of a short run's wall time; these are the same
formulas, checked against ``scipy.stats`` in the tests:

* hypergeometric: ``ln pmf`` through ``betaln`` as ``scipy.stats.hypergeom._logpmf``
  does, and the lower-tail ``ln cdf`` as the log-sum-exp of the pmf terms of the
  support up to ``e`` (what ``hypergeom.logcdf`` evaluates below the mean);
* binomial: ``ln pmf = ln C(n, x) + x ln p + (n − x) ln(1 − p)`` (``gammaln``,
  ``xlogy``, ``xlog1py``) and ``ln cdf = ln bdtr(e, n, p)``, the regularised
  incomplete beta function ``I_{1−p}(n − e, e + 1)`` (Abramowitz & Stegun 26.5.24).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import bdtr, betaln, gammaln, logsumexp, xlog1py, xlogy

__all__ = ["binom_logcdf", "binom_logpmf", "hypergeom_logcdf", "hypergeom_logpmf"]


def hypergeom_logpmf(x: int | np.ndarray, total: int, good: int, draws: int) -> np.ndarray:
    """``ln Pr[X = x]`` for ``X ~ Hyp(total, good, draws)`` (successes among ``draws``
    taken without replacement from ``total`` items of which ``good`` are successes).

    Valid on the support ``max(0, draws − (total − good)) <= x <= min(draws, good)``;
    float64, shape of ``x``.
    """
    k = np.asarray(x, dtype=np.float64)
    bad = total - good
    return np.asarray(
        betaln(good + 1, 1)
        + betaln(bad + 1, 1)
        + betaln(total - draws + 1, draws + 1)
        - betaln(k + 1, good - k + 1)
        - betaln(draws - k + 1, bad - draws + k + 1)
        - betaln(total + 1, 1)
    )


def hypergeom_logcdf(e: int, total: int, good: int, draws: int) -> float:
    """``ln Pr[X <= e]`` for ``X ~ Hyp(total, good, draws)``: ``-inf`` below the support,
    0 at or above its top, else the log-sum-exp of the ``e − low + 1`` terms."""
    low, high = max(0, draws - (total - good)), min(draws, good)
    if e < low:
        return -math.inf
    if e >= high:
        return 0.0
    terms = hypergeom_logpmf(np.arange(low, e + 1), total, good, draws)
    return min(float(logsumexp(terms)), 0.0)


def binom_logpmf(x: int, n: int, p: float) -> float:
    """``ln Pr[X = x]`` for ``X ~ Bin(n, p)``, ``0 <= x <= n``."""
    log_choose = gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1)
    return float(log_choose + xlogy(x, p) + xlog1py(n - x, -p))


def binom_logcdf(e: int, n: int, p: float) -> float:
    """``ln Pr[X <= e]`` for ``X ~ Bin(n, p)`` (``-inf`` where the CDF underflows)."""
    if e < 0:
        return -math.inf
    if e >= n:
        return 0.0
    cdf = float(bdtr(e, n, p))
    return math.log(cdf) if cdf > 0.0 else -math.inf
