"""The collective-attack finite key shared by B92 and SARG04 (Scarani & Renner 2008):
its confidence bound and its length."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.collective import (
    AEP_CONSTANT,
    CollectiveAttackAnalysis,
    error_probability_bound,
)
from qkd_circuits.postprocessing.estimation import BasisSample, phase_error_bound


@pytest.mark.parametrize(("k", "eps"), [(50, 0.05), (400, 1e-3)])
def test_clopper_pearson_bound_covers_with_the_stated_probability(k, eps):
    """Exact coverage: for each true p, the probability of the outcomes whose bound lies
    below p is at most ε."""
    bounds = np.array([error_probability_bound(k, e, log_eps=math.log(eps)) for e in range(k + 1)])
    assert np.all(np.diff(bounds) > 0) and bounds[-1] == 1.0
    for p in np.linspace(0.001, 0.6, 120):
        miss = binom.pmf(np.arange(k + 1), k, p)[bounds < p].sum()
        assert miss <= eps * (1 + 1e-9), (p, miss)


def test_clopper_pearson_is_below_the_hypergeometric_bound_and_works_deep_in_the_tail():
    log_eps = math.log(1e-10 / 64 / 4)
    for n, k, e in (
        (13_500, 1_500, 2),
        (90_000, 10_000, 200),
        (1_000, 100, 3),
        (10**6, 10**5, 2_000),
    ):
        cp = error_probability_bound(k, e, log_eps=log_eps)
        assert e / k < cp < phase_error_bound(n, k, e, log_eps=log_eps)
    deep = [error_probability_bound(10_000, 100, log_eps=x) for x in (-10.0, -700.0, -5_000.0)]
    assert deep[0] < deep[1] < deep[2] < 1.0
    with pytest.raises(ConfigError, match="sample_errors"):
        error_probability_bound(10, 11, log_eps=-1.0)


def _analysis(threshold: float = 0.2) -> CollectiveAttackAnalysis:
    """A toy entropy bound 1 - 2 h(q)-like but monotone: S(q) = max(0, 1 - 3q)."""
    return CollectiveAttackAnalysis(
        basis_name="T",
        entropy=lambda q: max(0.0, 1.0 - 3.0 * q),
        phase_error=lambda q: q,
        threshold=threshold,
        theorems={"variable": "toy, variable", "fixed": "toy, fixed"},
    )


def _length(n: int, k: int, e: int, **kwargs):  # type: ignore[no-untyped-def]
    sample = {"T": BasisSample(basis="T", sifted_bits=n + k, sample_bits=k, sample_errors=e)}
    options = {"leaked_ec": 0, "verification_bits": 50, "eps_sec": 1e-10, "eps_cor": 1e-15,
               "qber_tolerance": 0.2, "statement": "fixed"} | kwargs  # fmt: skip
    return _analysis().key_length(sample, **options)


def test_the_length_is_the_scarani_renner_formula_term_by_term():
    """ℓ = ⌊n S(q⁺) − 7 √(n log2(2/ε̄)) − leak − v − 2 log2(1/ε_PA)⌋, ε's = ε_sec/4."""
    result = _length(10**6, 10**5, 1_000, leaked_ec=12_345)
    t = result.terms
    log_part = math.log(1e-10 / 4)
    errors = int(t["test_errors"])  # the largest count Q_tol = 0.2 accepts
    q_plus = error_probability_bound(10**5, errors, log_eps=log_part)
    expected = (
        10**6 * (1 - 3 * q_plus)
        - AEP_CONSTANT * math.sqrt(10**6 * math.log2(2 / (1e-10 / 4)))
        - 12_345
        - 50
        - 2 * math.log2(4 / 1e-10)
    )
    assert t["error_rate_bound"] == pytest.approx(q_plus)
    assert t["bound"] == pytest.approx(expected, rel=1e-12)
    assert result.length == max(0, math.floor(expected)) and result.theorem == "toy, fixed"


def test_the_variable_statement_is_the_fixed_one_at_its_level_and_eps_over_64():
    variable = _length(10**6, 10**5, 1_000, statement="variable")
    level = variable.terms["tolerance"]
    fixed = _length(10**6, 10**5, 1_000, qber_tolerance=level, eps_sec=1e-10 / 64)
    assert fixed.terms["bound"] == pytest.approx(variable.terms["bound"], rel=1e-12)


def test_no_key_above_the_threshold_and_an_abort_above_the_tolerance():
    assert _length(10**6, 10**5, 25_000, qber_tolerance=0.3).length == 0  # 25 % > 20 %
    with pytest.raises(ProtocolAbort, match="threshold"):
        _analysis().check(
            {"T": BasisSample(basis="T", sifted_bits=2000, sample_bits=1000, sample_errors=300)},
            qber_threshold=0.5,
        )
    with pytest.raises(ConfigError, match="cite each"):
        CollectiveAttackAnalysis(
            basis_name="T", entropy=abs, phase_error=abs, threshold=0.1, theorems={}
        )
