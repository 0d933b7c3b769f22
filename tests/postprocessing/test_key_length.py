"""Secret key length: the per-basis finite-key statement and the reported asymptotic figure."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import hypergeom

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.estimation import (
    BasisSample,
    check_qber,
    phase_error_bound,
    sampling_deviation,
)
from qkd_circuits.postprocessing.key_length import (
    LADDER_LEVELS,
    KeyLengthResult,
    asymptotic_key_length,
    check_key_length,
    finite_key_length,
    log_eps_pe,
    max_accepted_errors,
    shor_preskill_rate,
    tolerance_ladder,
)


def h(x: float) -> float:
    return float(binary_entropy(min(x, 0.5)))


def samples(
    nz: int, kz: int, ez: int, nx: int | None = None, kx: int | None = None, ex: int | None = None
) -> dict[str, BasisSample]:
    """Per-basis samples from key bits n, sample bits k and sample errors e."""
    nx, kx, ex = (nz, kz, ez) if nx is None else (nx, kx, ex)
    assert kx is not None and ex is not None
    return {
        "Z": BasisSample(basis="Z", sifted_bits=nz + kz, sample_bits=kz, sample_errors=ez),
        "X": BasisSample(basis="X", sifted_bits=nx + kx, sample_bits=kx, sample_errors=ex),
    }


def brute_force_bound(n: int, k: int, e: int, log_eps: float) -> float:
    """The hypergeometric bound by a linear scan over every total error count w."""
    ws = np.arange(e, n + e + 1)
    accepted = ws[hypergeom.logcdf(e, n + k, ws, k) > log_eps]
    return (int(accepted.max()) - e) / n


def test_length_is_the_formula_recomputed_independently() -> None:
    """Fixed statement, Q_tol = 5 %: every term rebuilt here from the counts alone."""
    s = samples(20_000, 2_000, 41, 18_000, 1_800, 29)
    eps_sec, eps_cor = 1e-10, 1e-15
    r = finite_key_length(
        s, leaked_ec=3_000, eps_sec=eps_sec, eps_cor=eps_cor, qber_tolerance=0.05,
        statement="fixed", verification_bits=89,
    )  # fmt: skip
    # Tomamichel et al. Suppl. Eq. S3, eps = eps_sec/4, eps~ = eps_sec/2, two bases.
    log_eps = 2 * math.log(eps_sec / 4) - math.log(2)
    lam_z = brute_force_bound(20_000, 1_800, 90, log_eps)  # X test: 5 % of 1800 = 90 errors
    lam_x = brute_force_bound(18_000, 2_000, 100, log_eps)  # Z test: 5 % of 2000 = 100
    privacy = 20_000 * (1 - h(lam_z)) + 18_000 * (1 - h(lam_x))
    expected = privacy - 3_000 - 89 - 2 * math.log2(1 / eps_sec)
    assert r.phase_error_bound == {"Z": pytest.approx(lam_z), "X": pytest.approx(lam_x)}
    assert r.terms["bound"] == pytest.approx(expected, abs=1e-6)
    assert r.length == math.floor(expected) > 0
    assert r.statement == "fixed" and "Theorem 2" in r.theorem and "1103.4130" in r.theorem
    assert r.terms["test_errors_Z"] == 90 and r.terms["tolerance"] == 0.05


def test_paper_verification_term_when_no_tag_is_given() -> None:
    s = samples(20_000, 2_000, 41)
    common: dict[str, Any] = {"leaked_ec": 3_000, "eps_sec": 1e-10, "qber_tolerance": 0.05}
    paper = finite_key_length(s, eps_cor=1e-15, **common)
    tagged = finite_key_length(s, eps_cor=1e-15, verification_bits=89, **common)
    assert paper.terms["verification_leak"] == pytest.approx(math.log2(2e15))
    assert tagged.terms["bound"] == pytest.approx(paper.terms["bound"] + math.log2(2e15) - 89)


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 10**8),
    k=st.integers(1, 10**6),
    rate=st.floats(0.0, 1.0),
    log_eps=st.floats(-200.0, -0.01),
)
def test_exact_bound_is_never_looser_than_serfling(
    n: int, k: int, rate: float, log_eps: float
) -> None:
    """Up to 10^4 sample errors the bound is the exact hypergeometric one, which Serfling's
    inequality relaxes. (Beyond, the CDF's geometric upper bound is used, valid but not
    always tighter than Serfling when ε is near 1: see the next test.)"""
    e = min(int(rate * k), 10_000)
    exact = phase_error_bound(n, k, e, log_eps=log_eps)
    serfling = e / k + sampling_deviation(n, k, math.exp(log_eps))
    assert 0.0 <= exact <= 1.0
    assert exact <= min(1.0, serfling) + 1e-12


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 10**6),
    k=st.integers(10_001, 10**5),
    rate=st.floats(0.0, 1.0),
    log_eps=st.floats(-200.0, -0.01),
)
def test_the_many_error_bound_is_never_below_the_exact_one(
    n: int, k: int, rate: float, log_eps: float
) -> None:
    """Above 10^4 sample errors an upper bound on the CDF replaces the exact sum, which can
    only accept more total error counts: the bound is never smaller (less safe) than the
    exact one, found here by the same bisection on scipy's exact log-CDF."""
    from scipy.stats import hypergeom

    e = max(10_001, min(k, int(rate * k)))
    total = n + k
    lo, hi = e, n + e
    if float(hypergeom.logcdf(e, total, hi, k)) > log_eps:
        exact = 1.0
    else:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if float(hypergeom.logcdf(e, total, mid, k)) > log_eps else (lo, mid)
        exact = (lo - e) / n
    assert phase_error_bound(n, k, e, log_eps=log_eps) >= exact - 1e-12


@pytest.mark.parametrize(
    ("n", "k", "e", "eps"), [(40, 12, 0, 0.05), (30, 9, 2, 0.01), (25, 25, 6, 0.2)]
)
def test_bound_matches_exact_rational_arithmetic(n: int, k: int, e: int, eps: float) -> None:
    """scipy's log-CDF against the hypergeometric CDF summed in exact fractions."""

    def cdf(w: int) -> Fraction:
        total = n + k
        return sum(
            (Fraction(math.comb(w, x) * math.comb(total - w, k - x), math.comb(total, k))
             for x in range(0, e + 1)),
            Fraction(0),
        )  # fmt: skip

    w_max = max(w for w in range(e, n + e + 1) if cdf(w) > Fraction(eps))
    assert phase_error_bound(n, k, e, log_eps=math.log(eps)) == (w_max - e) / n


def test_bound_holds_with_the_promised_probability() -> None:
    """Sampling a fixed population: the bound fails in at most eps of the draws (+5 SE)."""
    rng = np.random.default_rng(11)
    total, k, w, eps, trials = 1_000, 100, 80, 0.05, 2_000
    population = np.zeros(total, dtype=bool)
    population[:w] = True
    failures = 0
    for _ in range(trials):
        picked = rng.choice(total, size=k, replace=False)
        e = int(population[picked].sum())
        key_rate = (w - e) / (total - k)
        failures += key_rate > phase_error_bound(total - k, k, e, log_eps=math.log(eps))
    se = math.sqrt(eps * (1 - eps) / trials)
    assert failures / trials <= eps + 5 * se


def test_large_samples_use_a_tight_upper_bound_on_the_cdf() -> None:
    """Beyond 10^4 sample errors the CDF is bounded geometrically: never below the exact
    bound (so still valid), and within 0.1 % of it."""
    n, k, e, log_eps = 5 * 10**6, 5 * 10**5, 20_000, math.log(1e-22)
    fast = phase_error_bound(n, k, e, log_eps=log_eps)
    lo, hi = e, n + e  # bisection on scipy's exact log-CDF
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if hypergeom.logcdf(e, n + k, mid, k) > log_eps else (lo, mid)
    exact = (lo - e) / n
    assert exact <= fast <= exact * 1.001


def test_tiny_eps_sec_is_computed_in_logs() -> None:
    """(eps_sec/4)^2 underflows to 0 below ~1e-161; the statement still works."""
    assert (1e-200 / 4) ** 2 == 0.0
    s = samples(10**7, 10**6, 20_000)
    lengths = [
        finite_key_length(s, leaked_ec=10**6, eps_sec=e, eps_cor=1e-15, qber_tolerance=0.05).length
        for e in (1e-10, 1e-100, 1e-200, 1e-300)
    ]
    assert all(a > b > 0 for a, b in itertools.pairwise(lengths))
    assert log_eps_pe(math.log(1e-300)) == pytest.approx(2 * (math.log(1e-300) - math.log(4)))


@pytest.mark.parametrize("k", [1, 7, 99, 100, 1000, 12345])
@pytest.mark.parametrize("q", [0.0, 0.07, 0.11, 0.29, 0.5, 1.0])
def test_max_accepted_errors_is_exactly_what_the_abort_test_lets_through(k: int, q: float) -> None:
    e = max_accepted_errors(k, q)
    assert e / k <= q and (e == k or (e + 1) / k > q)
    sample = BasisSample(basis="Z", sifted_bits=k, sample_bits=k, sample_errors=e)
    from qkd_circuits.postprocessing.estimation import QBEREstimate

    z = np.zeros(0, dtype=np.uint8)
    none = BasisSample(basis="X", sifted_bits=0, sample_bits=0, sample_errors=0)
    est = QBEREstimate(
        samples={"Z": sample, "X": none},
        sample_positions=np.arange(k, dtype=np.int64),
        key_alice=z,
        key_bob=z,
        key_bases=z,
    )
    check_qber(est, threshold=q)  # accepted: no abort


def test_variable_statement_uses_the_lowest_passing_tolerance() -> None:
    s = samples(100_000, 10_000, 300)  # 3 % in both bases
    common: dict[str, Any] = {"leaked_ec": 25_000, "eps_sec": 1e-10, "eps_cor": 1e-15}
    variable = finite_key_length(s, qber_tolerance=0.11, **common)
    ladder = tolerance_ladder(0.11, "variable")
    assert len(ladder) == LADDER_LEVELS and variable.terms["levels"] == LADDER_LEVELS
    level = ladder.index(variable.terms["tolerance"])
    assert ladder[level] >= 0.03 > ladder[level - 1]
    fixed_at_threshold = finite_key_length(s, qber_tolerance=0.11, statement="fixed", **common)
    fixed_at_level = finite_key_length(s, qber_tolerance=ladder[level], statement="fixed", **common)
    # Far more key than at Q_tol itself; a little less than if that level had been fixed
    # in advance (the ladder's 2 log2(64) bits and ln 64 inside the sampling bound).
    assert variable.length > 1.5 * fixed_at_threshold.length
    assert 0.97 * fixed_at_level.length < variable.length < fixed_at_level.length


def test_above_the_tolerance_the_statement_aborts() -> None:
    with pytest.raises(ProtocolAbort) as info:
        finite_key_length(
            samples(10_000, 1_000, 120), leaked_ec=0, eps_sec=1e-10, eps_cor=1e-15,
            qber_tolerance=0.11,
        )  # fmt: skip
    assert info.value.reason == "qber_above_threshold"


def test_a_basis_without_a_conjugate_sample_contributes_nothing() -> None:
    """All Z: nothing bounds the phase error of the Z key, so there is no key."""
    s = samples(100_000, 10_000, 0, 0, 0, 0)
    r = finite_key_length(s, leaked_ec=0, eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=0.11)
    assert r.phase_error_bound["Z"] == 1.0 and r.terms["privacy_term"] == 0.0
    assert r.length == 0 and r.asymptotic_bits == 0


def test_errors_in_one_basis_set_the_tolerance_of_both() -> None:
    """Errors only in X (Eve measured in Z): the ladder level is set by the worse basis,
    so the Z key, whose phase error the X sample bounds, pays for them."""
    s = samples(100_000, 10_000, 0, 100_000, 10_000, 900)
    r = finite_key_length(s, leaked_ec=0, eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=0.11)
    assert r.terms["tolerance"] >= 0.09 and r.terms["test_errors_Z"] >= 900
    assert r.phase_error_bound["Z"] > 0.09


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 10**7),
    k=st.integers(1, 10**6),
    rate=st.floats(0.0, 0.11),
    leak_frac=st.floats(0.0, 1.0),
    eps_sec=st.floats(1e-30, 0.5),
)
def test_finite_never_exceeds_asymptotic(
    n: int, k: int, rate: float, leak_frac: float, eps_sec: float
) -> None:
    s = samples(n, k, int(rate * k))
    r = finite_key_length(
        s, leaked_ec=int(leak_frac * n), eps_sec=eps_sec, eps_cor=1e-15, qber_tolerance=0.11
    )
    assert r.length <= r.asymptotic_bits
    assert all(r.phase_error_bound[b] >= s["XZ"[i]].qber for i, b in enumerate("ZX"))


def test_finite_tends_to_asymptotic() -> None:
    q, f = 0.03, 1.1
    ratios = []
    for n in (10**4, 10**5, 10**6, 10**8, 10**10):
        k = n // 10
        s = samples(n, k, round(q * k))
        r = finite_key_length(
            s, leaked_ec=f * 2 * n * h(q), eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=0.11
        )
        ratios.append(r.terms["bound"] / r.asymptotic_bits)
    assert all(a < b for a, b in itertools.pairwise(ratios))
    assert 0.99 < ratios[-1] < 1.0


def test_shor_preskill_threshold_is_eleven_percent() -> None:
    root = brentq(lambda e: shor_preskill_rate(e), 0.05, 0.2)
    assert root == pytest.approx(0.1100, abs=2e-4)
    assert shor_preskill_rate(0.05, f=1.2) == pytest.approx(1 - h(0.05) - 1.2 * h(0.05))
    assert shor_preskill_rate(0.02, 0.04) == pytest.approx(1 - h(0.04) - h(0.02))


def test_finite_key_dies_well_before_eleven_percent() -> None:
    def bound(q: float, n: int) -> float:
        k = n // 10
        s = samples(n, k, math.floor(q * k))
        return finite_key_length(
            s, leaked_ec=2 * n * h(q), eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=q,
            statement="fixed",
        ).terms["bound"]  # fmt: skip

    # Ideal reconciliation (f = 1), Q_tol = Q: the asymptotic cut-off is 11.0 %; the
    # finite key reaches zero earlier, the more so the smaller the block.
    cutoffs = [brentq(bound, 0.0, 0.11, args=(n,), xtol=1e-4) for n in (10**4, 10**5, 10**6)]
    assert all(a < b for a, b in itertools.pairwise(cutoffs))
    assert cutoffs[-1] < 0.11 and cutoffs[0] < 0.07


def test_check_key_length_quotes_the_terms() -> None:
    r = finite_key_length(
        samples(1_000, 100, 5), leaked_ec=900, eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=0.11
    )
    assert r.length == 0
    with pytest.raises(ProtocolAbort) as info:
        check_key_length(r)
    assert info.value.reason == "key_too_short" and "leak_ec=900" in str(info.value)


def test_asymptotic_figure() -> None:
    s = samples(10_000, 1_000, 20)
    assert asymptotic_key_length(s, leaked_ec=1500, verification_bits=89) == math.floor(
        2 * 10_000 * (1 - h(0.02)) - 1500 - 89
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"leaked_ec": -1}, "leaked_ec"),
        ({"leaked_ec": float("inf")}, "leaked_ec"),
        ({"eps_sec": 0.0}, "eps_sec"),
        ({"eps_sec": 1.0}, "eps_sec"),
        ({"eps_cor": 2.0}, "eps_cor"),
        ({"verification_bits": -3}, "verification_bits"),
        ({"qber_tolerance": 1.5}, "qber_tolerance"),
        ({"statement": "asymptotic"}, "statement"),
        ({"samples": {"Z": 1}}, "samples"),
        ({"samples": samples(0, 10, 0)}, "no key bit"),
    ],
)
def test_finite_rejects_bad_input(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "samples": samples(1_000, 100, 2),
        "leaked_ec": 100,
        "eps_sec": 1e-10,
        "eps_cor": 1e-15,
        "qber_tolerance": 0.11,
    }
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        finite_key_length(args.pop("samples"), **args)


def test_other_bad_input() -> None:
    with pytest.raises(ConfigError, match="f must"):
        shor_preskill_rate(0.01, f=0.5)
    with pytest.raises(ConfigError, match="lengths"):
        KeyLengthResult(
            length=-1, statement="fixed", theorem="", phase_error_bound={}, asymptotic_bits=0
        )
    with pytest.raises(ConfigError, match="sample_errors"):
        phase_error_bound(10, 5, 6, log_eps=-1.0)
    with pytest.raises(ConfigError, match="log_eps"):
        phase_error_bound(10, 5, 1, log_eps=0.5)
