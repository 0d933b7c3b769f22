"""The LDPC code family: distributions, deterministic construction, untainted puncturing, cache."""

from __future__ import annotations

import numpy as np
import pytest

from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.reconciliation import ldpc_codes as lc


@pytest.mark.parametrize("rate", lc.RATES)
def test_distributions_sum_to_one_and_give_their_design_rate(rate):
    dist = lc.DISTRIBUTIONS[rate]
    assert sum(f for _, f in dist.variable) == pytest.approx(1.0, abs=1e-4)
    assert sum(f for _, f in dist.check) == pytest.approx(1.0, abs=1e-4)
    assert dist.design_rate() == pytest.approx(rate, abs=1e-3)


def _shannon_eps(rate):
    """The BSC crossover of capacity ``rate`` (``h(ε) = 1 − R``), by bisection."""
    lo, hi = 1e-9, 0.5
    for _ in range(200):
        mid = (lo + hi) / 2
        h = -mid * np.log2(mid) - (1 - mid) * np.log2(1 - mid)
        lo, hi = (mid, hi) if h < 1 - rate else (lo, mid)
    return lo


_V3_THRESHOLD = {0.75: 1.057, 0.85: 1.089, 0.90: 1.140}
"""f* of the construction-version-3 distributions of the rates now designed."""


@pytest.mark.parametrize("rate", sorted(lc.DESIGNED_RATES))
def test_designed_rates_are_check_concentrated_stable_and_bounded(rate):
    """Rates designed here (benchmarks/design_ldpc_distributions.py): ρ on two
    consecutive degrees, variable degrees 2 … MAX_DESIGN_DEGREE, the stability
    condition λ2 ρ'(1) B < 1 with margin at the Shannon-limit ε of the rate."""
    dist = lc.DISTRIBUTIONS[rate]
    (d1, r1), (d2, r2) = dist.check
    assert d2 == d1 + 1 and 0 < r1 < 1 and 0 < r2 < 1
    degrees = [d for d, _ in dist.variable]
    assert degrees == sorted(degrees) and degrees[0] == 2
    assert max(degrees) <= lc.MAX_DESIGN_DEGREE
    assert all(f > 0 for _, f in dist.variable)
    eps = _shannon_eps(rate)
    bhattacharyya = 2 * np.sqrt(eps * (1 - eps))
    rho_prime = sum(f * (d - 1) for d, f in dist.check)
    lam2 = dict(dist.variable)[2]
    assert lam2 * rho_prime * bhattacharyya < 0.95
    # More degree-2 variables than the staircase holds, but not absurdly many (_chain).
    nodes = sum(f / d for d, f in dist.variable)
    per_check = (lam2 / 2) / nodes / (1 - rate)
    assert 0.5 < per_check < 3
    # Its verified threshold (population density evolution, module docstring) beats the
    # distribution it replaced (construction version 3).
    assert 1.0 < lc.THRESHOLD_EFFICIENCY[rate] < _V3_THRESHOLD[rate]


def test_family_rates_and_provenance():
    assert tuple(sorted(lc.RATES)) == lc.RATES
    assert tuple(round(0.5 + 0.05 * i, 2) for i in range(9)) == lc.RATES
    assert set(lc.THRESHOLD_EFFICIENCY) == set(lc.RATES)
    assert set(lc.RATES) >= lc.DESIGNED_RATES
    for rate, dist in lc.DISTRIBUTIONS.items():
        assert (rate in lc.DESIGNED_RATES) != (lc.PUBLISHED.get(rate) == dist)
    assert lc.CONSTRUCTION_VERSION == 4


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(lc.CACHE_ENV, str(tmp_path))
    return tmp_path


def test_construction_is_deterministic_and_has_the_design_shape(tmp_cache):
    one = lc.get_code(0.8, 2000, seed=7, cache=False)
    lc._MEMO.clear()
    two = lc.get_code(0.8, 2000, seed=7, cache=False)
    assert (one.H != two.H).nnz == 0
    assert np.array_equal(one.puncture_order, two.puncture_order)
    assert np.array_equal(one.shorten_order, two.shorten_order)
    assert one.m == 400 and one.H.shape == (400, 2000)
    other = lc.get_code(0.8, 2000, seed=8, cache=False)
    assert (one.H != other.H).nnz > 0
    # Every variable is in exactly one of the two orders.
    both = np.concatenate([one.puncture_order, one.shorten_order])
    assert np.array_equal(np.sort(both), np.arange(2000))


@pytest.mark.parametrize("rate", [0.5, 0.9])
def test_untainted_puncturing_gives_independent_punctured_columns(tmp_cache, rate):
    code = lc.get_code(rate, 3000, cache=False)
    H = code.H.tocsc()
    punct = code.puncture_order
    assert punct.size > 0.02 * code.n
    # No check holds two punctured variables ...
    per_check = np.asarray(H[:, punct].sum(axis=1)).ravel()
    assert per_check.max() == 1
    # ... so each punctured column has a row of its own: the columns are independent.
    sub = H[:, punct].toarray()
    assert np.all(sub.sum(axis=0) >= 1)


def test_cache_is_written_atomically_loaded_and_rebuilt_when_stale(tmp_cache):
    code = lc.get_code(0.9, 10_000)
    path = lc._path(0.9, 10_000, lc.DEFAULT_SEED)
    assert path.exists() and not list(tmp_cache.glob("*.tmp"))
    lc._MEMO.clear()
    again = lc.get_code(0.9, 10_000)
    assert again is not code and (again.H != code.H).nnz == 0
    listed = lc.list_code_cache()
    assert [c.name for c in listed] == [code.name]
    assert listed[0].m == 1000 and listed[0].max_punctured == code.max_punctured
    # A corrupt file is ignored by the listing and rebuilt on use.
    path.write_bytes(b"not a code")
    lc._MEMO.clear()
    assert lc.list_code_cache() == []
    rebuilt = lc.get_code(0.9, 10_000)
    assert (rebuilt.H != code.H).nnz == 0 and lc.list_code_cache()[0].name == code.name


def test_a_truncated_cache_file_is_rebuilt(tmp_cache):
    code = lc.get_code(0.9, 10_000)
    path = lc._path(0.9, 10_000, lc.DEFAULT_SEED)
    path.write_bytes(path.read_bytes()[:200])  # a zip cut short: BadZipFile, not ValueError
    lc._MEMO.clear()
    assert (lc.get_code(0.9, 10_000).H != code.H).nnz == 0


def test_a_cached_code_of_another_distribution_is_rebuilt(tmp_cache, monkeypatch):
    """The cache key holds a digest of the rate's distribution: a file built from other
    coefficients under the same construction version is not loaded."""
    lc.get_code(0.9, 10_000)
    path = lc._path(0.9, 10_000, lc.DEFAULT_SEED)
    assert lc._load(path, 0.9, 10_000, lc.DEFAULT_SEED) is not None
    old = lc.DISTRIBUTIONS[0.9]
    changed = lc.DegreeDistribution(old.rate, old.variable, ((50, 0.5), (51, 0.5)))
    monkeypatch.setitem(lc.DISTRIBUTIONS, 0.9, changed)
    assert lc._load(path, 0.9, 10_000, lc.DEFAULT_SEED) is None
    # ... and its file keeps its own name: the new distribution's code goes beside it.
    assert lc._path(0.9, 10_000, lc.DEFAULT_SEED) != path


def test_bad_rate_or_length_is_refused():
    with pytest.raises(ConfigError, match="rate"):
        lc.get_code(0.72, 10_000)
    with pytest.raises(ConfigError, match="length"):
        lc.get_code(0.8, 10)
