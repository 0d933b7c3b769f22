"""The tails equal the exact values (mpmath) to float64 precision, and scipy.stats' to
scipy's own accuracy (the library imports neither scipy.stats nor scipy.special)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, hypergeom

from qkd_circuits.analysis.tails import (
    binom_logcdf,
    binom_logpmf,
    hypergeom_logcdf,
    hypergeom_logpmf,
)

mp = pytest.importorskip("mpmath")


def _exact_hypergeom_logcdf(e: int, total: int, good: int, draws: int) -> float:
    """``ln Pr[Hyp(total, good, draws) <= e]`` summed term by term at 40 digits."""
    mp.mp.dps = 40

    def log_choose(a: int, b: int) -> object:
        return mp.loggamma(a + 1) - mp.loggamma(b + 1) - mp.loggamma(a - b + 1)

    base = -log_choose(total, draws)
    low = max(0, draws - (total - good))
    terms = (mp.e ** (log_choose(good, x) + log_choose(total - good, draws - x) + base)
             for x in range(low, e + 1))  # fmt: skip
    return float(mp.log(mp.fsum(terms)))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[int, int, int, int]:
    """(total, good, draws, e): populations up to 10^7 (a sifted key), samples up to 30%
    of them (at most 2·10^5), error counts up to 1.2 times the sample's mean."""
    total = draw(st.integers(1, 10**7))
    good = round(draw(st.floats(0, 1)) * total)
    draws = min(round(draw(st.floats(0, 0.3)) * total), 200_000)
    return total, good, draws, int(draw(st.floats(0, 1.2)) * draws * good / total)


_CASES = _cases()


@settings(max_examples=300, deadline=None)
@given(case=_CASES)
def test_hypergeometric_lower_tail_matches_scipy(case: tuple[int, int, int, int]) -> None:
    """To scipy's accuracy: its betaln terms carry ~1e-8 absolute error at arguments
    ~10^6 (the mpmath tests below show ours does not)."""
    total, good, draws, e = case
    e = min(e, 10_000)
    ours = hypergeom_logcdf(e, total, good, draws)
    ref = float(hypergeom.logcdf(e, total, good, draws))
    if math.isinf(ref):
        assert ours == ref
    elif ref < -20:
        assert ours == pytest.approx(ref, rel=1e-9)
    else:
        # Near the mean scipy takes log1p(-sf) from Boost.
        assert ours == pytest.approx(
            math.log(float(hypergeom.cdf(e, total, good, draws))), rel=5e-8, abs=3e-8
        )


@settings(max_examples=60, deadline=None)
@given(case=_CASES)
def test_hypergeometric_lower_tail_is_exact(case: tuple[int, int, int, int]) -> None:
    """Against 40-digit sums: float64 precision, in the tail and near the mean."""
    total, good, draws, e = case
    e = min(e, 1_500)
    low, high = max(0, draws - (total - good)), min(draws, good)
    if not low <= e < high:
        return
    assert hypergeom_logcdf(e, total, good, draws) == pytest.approx(
        _exact_hypergeom_logcdf(e, total, good, draws), rel=1e-12, abs=1e-13
    )


@pytest.mark.parametrize(
    ("e", "total", "good", "draws"),
    [
        (6250, 4_999_996, 156_250, 200_000),
        (4_000, 2_000_000, 500_000, 20_000),
        (30, 10**6, 5_000, 20_000),
    ],
)
def test_hypergeometric_tail_against_mpmath(e: int, total: int, good: int, draws: int) -> None:
    assert hypergeom_logcdf(e, total, good, draws) == pytest.approx(
        _exact_hypergeom_logcdf(e, total, good, draws), rel=1e-13
    )


def test_hypergeometric_pmf_and_edges() -> None:
    x = np.arange(0, 41)
    np.testing.assert_allclose(
        hypergeom_logpmf(x, 1000, 300, 40), hypergeom.logpmf(x, 1000, 300, 40), rtol=1e-12
    )
    assert hypergeom_logpmf(41, 1000, 300, 40) == -math.inf  # above the support
    # No successes, or no failures, in the population: one point of support.
    assert hypergeom_logpmf(np.array([0, 1]), 100, 0, 5).tolist() == [0.0, -math.inf]
    assert hypergeom_logpmf(np.array([5, 4]), 100, 100, 5).tolist() == [0.0, -math.inf]
    assert binom_logpmf(0, 0, 0.3) == 0.0
    assert binom_logpmf(3, 10, 0.0) == -math.inf and binom_logpmf(10, 10, 1.0) == 0.0
    assert hypergeom_logcdf(-1, 100, 50, 10) == -math.inf
    assert hypergeom_logcdf(10, 100, 50, 10) == 0.0
    assert hypergeom_logcdf(2, 100, 95, 10) == -math.inf  # support starts at 5


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 10**6), p=st.floats(1e-6, 0.5), e_frac=st.floats(0, 1.2))
def test_binomial_tail_matches_scipy_above_the_underflow_floor(
    n: int, p: float, e_frac: float
) -> None:
    e = min(int(e_frac * n * p), n)
    ref = float(binom.logcdf(e, n, p))
    if ref < -600:  # the callers bound the tail from the pmf there (collective.py)
        return
    # bdtr (incomplete beta) against Boost: ~1e-10 relative in the tail, ~1e-9 near the mean.
    assert binom_logcdf(e, n, p) == pytest.approx(ref, rel=1e-9 if ref < -20 else 1e-8, abs=1e-12)
    assert binom_logpmf(e, n, p) == pytest.approx(float(binom.logpmf(e, n, p)), rel=1e-9)


def test_the_library_does_not_import_scipy_stats() -> None:
    import subprocess
    import sys

    code = (
        "import sys, qkd_circuits.runner, qkd_circuits.postprocessing.collective; "
        "print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_bb84_run_imports_no_scipy() -> None:
    """scipy.special, .fft, .linalg and .sparse cost ~0.35 s of a run's start-up: a BB84
    run's estimation, key length, reconciliation and amplification use numpy and math."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from qkd_circuits.runner import run\n"
        "report = run(qubits=50_000, seed=3, noise='depolarizing=0.04')\n"
        "assert report.final_key_bits > 0\n"
        "heavy = ('special', 'fft', 'linalg', 'sparse', 'stats', 'optimize')\n"
        "heavy = tuple('scipy.' + name for name in heavy)\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # (qiskit imports the bare scipy package)
