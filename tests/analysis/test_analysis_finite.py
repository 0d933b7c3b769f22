"""Finite-key decoy BB84 of Lim, Curty, Walenta, Xu and Zbinden (PRA 89, 022307 (2014))."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkd_circuits.analysis import (
    PRESETS,
    DecoyCounts,
    DecoySettings,
    FiniteKeySecurity,
    expected_counts,
    finite_key_curve,
    finite_key_rate,
    key_rate_curve,
    lim2014_key_length,
    max_distance,
    optimize_finite_key,
)
from qkd_circuits.errors import ConfigError

LIM = PRESETS["lim2014"]
GYS = PRESETS["gys"]
SETTINGS = DecoySettings(q_x=0.8, mu1=0.5, mu2=0.1, mu3=2e-4, p_mu1=0.6, p_mu2=0.3)


def _single_photon_truth(link, km):
    """True single-photon yield and error rate of the Sec. IV model (p_ap included)."""
    eta = link.transmittance(km)
    y1_raw = 1 - (1 - link.y0) * (1 - eta)
    y1 = (1 + link.p_afterpulse) * y1_raw
    e1 = (0.5 * link.y0 + link.e_d * eta + 0.5 * link.p_afterpulse * y1_raw) / y1
    return y1, e1


def test_expected_counts_follow_sec_iv_model():
    counts, n_pulses = expected_counts(LIM, 0.0, SETTINGS, n_x=1e6)
    assert sum(counts.n_x) == pytest.approx(1e6)
    ratio = (1 - SETTINGS.q_x) ** 2 / SETTINGS.q_x**2
    assert sum(counts.n_z) == pytest.approx(1e6 * ratio)
    d1 = 1 - (1 - LIM.y0) * math.exp(-0.1 * 0.5)  # η_sys = η_Bob at 0 km
    assert counts.n_x[0] == pytest.approx(n_pulses * 0.64 * 0.6 * d1 * 1.04)


def test_bounds_are_valid_and_tight_without_fluctuations():
    # With huge blocks the decoy bounds bracket the truth closely: s_X1 below the expected
    # number of single-photon detections, the phase-error bound above e_1.
    settings_ = DecoySettings(q_x=0.5, mu1=0.5, mu2=0.02, mu3=2e-4, p_mu1=0.4, p_mu2=0.3)
    res = finite_key_rate(LIM, 25.0, settings_, n_x=1e14, security=FiniteKeySecurity(eps_sec=1e-10))
    y1, e1 = _single_photon_truth(LIM, 25.0)
    pairs = zip(settings_.probabilities, settings_.intensities, strict=True)
    tau1 = sum(p * m * math.exp(-m) for p, m in pairs)
    s1_true = res.n_pulses * settings_.q_x**2 * tau1 * y1
    assert 0.95 * s1_true < res.bounds.s_x1 <= s1_true
    assert e1 <= res.bounds.phi_x < 1.2 * e1


def test_key_length_from_counts_matches_the_model_path():
    counts, _ = expected_counts(LIM, 40.0, SETTINGS, n_x=1e6)
    fixed = FiniteKeySecurity(eps_sec=1e-10)
    via_model = finite_key_rate(LIM, 40.0, SETTINGS, n_x=1e6, security=fixed)
    direct = lim2014_key_length(
        counts,
        intensities=SETTINGS.intensities,
        probabilities=SETTINGS.probabilities,
        eps_sec=1e-10,
        eps_cor=fixed.eps_cor,
        f_ec=LIM.f_ec,
    )
    assert direct.key_length == pytest.approx(via_model.bounds.key_length, rel=1e-12)
    assert via_model.key_length == math.floor(direct.key_length)


def test_more_errors_and_more_leakage_mean_less_key():
    good = DecoySettings(q_x=0.7, mu1=0.45, mu2=0.2, p_mu1=0.3, p_mu2=0.5)
    counts, _ = expected_counts(LIM, 40.0, good, n_x=1e7)
    kw = {
        "intensities": good.intensities,
        "probabilities": good.probabilities,
        "eps_sec": 1e-10,
        "eps_cor": 1e-15,
    }
    base = lim2014_key_length(counts, **kw)
    assert base.key_length > 0
    noisy = DecoyCounts(
        n_x=counts.n_x, m_x=counts.m_x, n_z=counts.n_z, m_z=tuple(2 * m for m in counts.m_z)
    )
    assert lim2014_key_length(noisy, **kw).key_length < base.key_length
    leak = lim2014_key_length(counts, **kw, lambda_ec=base.lambda_ec + 1000)
    assert leak.key_length == pytest.approx(base.key_length - 1000)


def test_eps_sec_is_kappa_times_key_length():
    res = finite_key_rate(LIM, 20.0, SETTINGS, n_x=1e7)
    assert res.key_length > 0
    assert res.bounds.eps_sec == pytest.approx(1e-15 * res.bounds.key_length, rel=1e-9)
    # A fixed, looser ε_sec gives a longer key than ε_sec = κℓ ~ 1e-9.
    loose = finite_key_rate(LIM, 20.0, SETTINGS, n_x=1e7, security=FiniteKeySecurity(eps_sec=1e-3))
    assert loose.key_length > res.key_length


def test_optimiser_beats_random_settings():
    best = optimize_finite_key(LIM, 50.0, n_x=1e6)
    rng = np.random.default_rng(7)
    for _ in range(150):
        mu2 = rng.uniform(0.01, 0.4)
        p1 = rng.uniform(0.05, 0.9)
        trial = DecoySettings(
            q_x=rng.uniform(0.3, 0.99),
            mu1=mu2 + 2e-4 + rng.uniform(0.05, 0.8),
            mu2=mu2,
            p_mu1=p1,
            p_mu2=rng.uniform(0.05, 0.95) * (1 - p1),
        )
        r = finite_key_rate(LIM, 50.0, trial, n_x=1e6)
        assert r.key_rate <= best.key_rate * (1 + 1e-9)


def test_warm_start_agrees_with_cold_start():
    cold = optimize_finite_key(GYS, 60.0, n_x=1e6)
    warm = optimize_finite_key(
        GYS, 60.0, n_x=1e6, start=optimize_finite_key(GYS, 55.0, n_x=1e6).settings
    )
    assert warm.key_rate == pytest.approx(cold.key_rate, rel=2e-3)


@pytest.mark.parametrize("link", [LIM, GYS], ids=["lim2014", "gys"])
def test_finite_rates_lie_below_the_asymptote_and_approach_it(link):
    d = [0.0, 50.0, 100.0]
    asym = np.array([p.key_rate for p in key_rate_curve(link, d, "finite:inf")])
    fractions = []
    for n_x in (1e4, 1e6, 1e9):
        r = np.array([p.key_rate for p in key_rate_curve(link, d, f"finite:{n_x:g}")])
        assert np.all(r < asym)
        fractions.append(r / asym)
    f4, f6, f9 = fractions
    assert np.all(f4 < f6) and np.all(f6 < f9)
    assert np.all(f9 > 0.4)  # 1e9: within a factor ~2 (3 intensities, q_x < 1)


@pytest.mark.parametrize("link", [LIM, GYS], ids=["lim2014", "gys"])
def test_reach_grows_with_block_size(link):
    reach = [max_distance(link, f"finite:{n:g}") for n in (1e4, 1e6, 1e9)]
    reach.append(max_distance(link, "finite:inf"))
    assert reach == sorted(reach)
    assert reach[0] < reach[1] - 10


def test_lim2014_figure_1_cross_checks():
    # "at a fiber length of 100 km, the secret key rate obtained with n_X = 1e9 is
    # about 1.75 times the one based on n_X = 1e7" and "even if we use a block size of
    # 1e4, cryptographic keys can still be distributed over a fiber length of 135 km".
    r9 = optimize_finite_key(LIM, 100.0, n_x=1e9).key_rate
    r7 = optimize_finite_key(LIM, 100.0, n_x=1e7).key_rate
    assert 1.6 < r9 / r7 < 1.9
    assert 120.0 < max_distance(LIM, "finite:1e4") < 140.0


def test_curve_stops_after_the_reach():
    curve = finite_key_curve(GYS, [0.0, 100.0, 200.0, 300.0], n_x=1e4)
    assert curve[0] is not None and curve[0].key_rate > 0
    assert curve[-1] is None


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    q_x=st.floats(0.1, 0.99),
    mu1_extra=st.floats(0.01, 1.0),
    mu2=st.floats(0.001, 0.5),
    p1=st.floats(0.01, 0.98),
    share=st.floats(0.01, 0.99),
    km=st.floats(0.0, 150.0),
    n_exp=st.integers(4, 12),
)
def test_any_setting_stays_below_the_asymptote(q_x, mu1_extra, mu2, p1, share, km, n_exp):
    s = DecoySettings(
        q_x=q_x, mu1=mu2 + 2e-4 + mu1_extra, mu2=mu2, p_mu1=p1, p_mu2=share * (1 - p1)
    )
    r = finite_key_rate(LIM, km, s, n_x=10.0**n_exp)
    asym = key_rate_curve(LIM, [km], "finite:inf")[0].key_rate
    assert r.key_rate <= asym


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: DecoySettings(q_x=1.0, mu1=0.5, mu2=0.1, p_mu1=0.5, p_mu2=0.2), "q_x"),
        (lambda: DecoySettings(q_x=0.5, mu1=0.1, mu2=0.1, p_mu1=0.5, p_mu2=0.2), "mu1"),
        (lambda: DecoySettings(q_x=0.5, mu1=0.5, mu2=1e-4, p_mu1=0.5, p_mu2=0.2), "mu2"),
        (lambda: DecoySettings(q_x=0.5, mu1=0.5, mu2=0.1, p_mu1=0.6, p_mu2=0.4), "p_mu3"),
        (lambda: FiniteKeySecurity(eps_cor=0.0), "eps_cor"),
        (lambda: finite_key_rate(LIM, 10.0, SETTINGS, n_x=0.0), "n_x"),
        (lambda: finite_key_rate(LIM, -1.0, SETTINGS, n_x=1e6), "distance"),
        (lambda: optimize_finite_key(LIM, 10.0, n_x=1e6, mu3=-1.0), "mu3"),
        (
            lambda: DecoyCounts(n_x=(1, 2, 3), m_x=(2, 0, 0), n_z=(1, 1, 1), m_z=(0, 0, 0)),
            "errors exceed",
        ),
    ],
)
def test_invalid_inputs(call, match):
    with pytest.raises(ConfigError, match=match):
        call()
