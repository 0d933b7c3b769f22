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


@pytest.mark.parametrize("rate", sorted(lc.DERIVED_RATES))
def test_derived_rates_keep_their_base_lambda_with_a_check_concentrated_rho(rate):
    """0.75 and 0.85: the λ of a published rate, ρ on two consecutive degrees."""
    dist, base = lc.DISTRIBUTIONS[rate], lc.DISTRIBUTIONS[lc.DERIVED_FROM[rate]]
    assert lc.DERIVED_FROM[rate] not in lc.DERIVED_RATES
    assert dist.variable == base.variable
    (d1, r1), (d2, r2) = dist.check
    assert d2 == d1 + 1 and 0 <= r1 <= 1 and 0 <= r2 <= 1
    assert dist.design_rate() == pytest.approx(rate, abs=1e-9)
    assert tuple(sorted(lc.RATES)) == lc.RATES and {0.75, 0.85} <= set(lc.RATES)


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


def test_bad_rate_or_length_is_refused():
    with pytest.raises(ConfigError, match="rate"):
        lc.get_code(0.72, 10_000)
    with pytest.raises(ConfigError, match="length"):
        lc.get_code(0.8, 10)
