"""Asymptotic weak-coherent-pulse BB84: reference values of Lo–Ma–Chen and Ma–Qi–Zhao–Lo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkd_circuits.analysis import (
    PRESETS,
    decoy_rate_curve,
    gllp_rate,
    infinite_decoy_rate,
    max_distance,
    optimize_mu,
    photon_error_rate,
    photon_yield,
    vacuum_weak_decoy_rate,
    wcp_error_rate,
    wcp_gain,
)
from qkd_circuits.errors import ConfigError

GYS = PRESETS["gys"]
REL = 5e-6  # the reference values are given to 7 digits and reproduced exactly


def test_gys_reference_quantities_at_zero_km():
    mu = 0.5
    assert wcp_gain(GYS, 0, mu=mu) == pytest.approx(2.225046e-2, rel=REL)
    assert wcp_error_rate(GYS, 0, mu=mu) == pytest.approx(3.303568e-2, rel=REL)
    q1 = photon_yield(GYS, 0, n=1) * mu * math.exp(-mu)
    assert q1 == pytest.approx(1.364743e-2, rel=REL)
    assert photon_error_rate(GYS, 0, n=1) == pytest.approx(3.301770e-2, rel=REL)


@pytest.mark.parametrize(
    ("km", "expected"), [(0, 2.553403e-3), (50, 2.222800e-4), (100, 1.714576e-5)]
)
def test_gys_infinite_decoy_reference_rates(km, expected):
    assert infinite_decoy_rate(GYS, km, mu=0.5) == pytest.approx(expected, rel=REL)


def test_gys_reach_with_mu_optimised():
    assert max_distance(GYS, "infinite-decoy") == pytest.approx(142.0, abs=1.0)
    assert max_distance(GYS, "vacuum-weak", nu=0.1) == pytest.approx(140.0, abs=1.0)
    # Without decoys the reach collapses (GLLP, μ ~ η): a few tens of km.
    assert 25.0 < max_distance(GYS, "gllp") < 50.0


def test_vacuum_photon_error_rate_is_one_half():
    assert photon_error_rate(GYS, 30, n=0) == pytest.approx(0.5)
    assert photon_yield(GYS, 30, n=0) == pytest.approx(GYS.y0)


def test_analyses_are_ordered():
    d = np.linspace(0, 120, 13)
    for mu in (0.1, 0.3, 0.5):
        inf = infinite_decoy_rate(GYS, d, mu=mu)
        vw = vacuum_weak_decoy_rate(GYS, d, mu=mu, nu=0.05)
        gl = gllp_rate(GYS, d, mu=mu)
        assert np.all(vw <= inf + 1e-15)  # bounds on Y1 and e1 never beat the truth
        assert np.all(gl <= vw + 1e-15)


def test_vacuum_weak_approaches_infinite_decoy_as_nu_shrinks():
    inf = infinite_decoy_rate(GYS, 50, mu=0.5)
    gaps = [inf - vacuum_weak_decoy_rate(GYS, 50, mu=0.5, nu=nu) for nu in (0.2, 0.05, 0.01)]
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert gaps[2] / inf < 0.02


def test_vacuum_contribution_adds_q0():
    with_vac = infinite_decoy_rate(GYS, 100, mu=0.5, vacuum=True)
    without = infinite_decoy_rate(GYS, 100, mu=0.5)
    assert with_vac - without == pytest.approx(GYS.q * GYS.y0 * math.exp(-0.5), rel=1e-9)


def test_optimal_mu_is_order_one_for_decoys_and_small_without():
    best = optimize_mu(GYS, 50)
    assert 0.4 < best.mu < 0.6  # Lo–Ma–Chen: μ_opt ~ 0.5 for GYS
    assert best.key_rate >= infinite_decoy_rate(GYS, 50, mu=0.5)
    grid = np.linspace(0.05, 1.2, 200)
    assert best.key_rate >= np.max(infinite_decoy_rate(GYS, 50, mu=grid)) - 1e-15
    gllp = optimize_mu(GYS, 10, analysis="gllp")
    assert gllp.mu < 0.05 and gllp.key_rate > 0


def test_curve_with_fixed_mu_matches_pointwise():
    d = [0.0, 50.0, 100.0]
    curve = decoy_rate_curve(GYS, d, analysis="infinite-decoy", mu=0.5)
    assert [p.key_rate for p in curve] == pytest.approx(
        [2.553403e-3, 2.222800e-4, 1.714576e-5], rel=REL
    )
    assert all(p.mu == 0.5 for p in curve)


def test_afterpulses_cost_key():
    lim = PRESETS["lim2014"]
    no_ap = type(lim)(**{**lim.to_dict(), "p_afterpulse": 0.0})
    assert infinite_decoy_rate(lim, 50, mu=0.5) < infinite_decoy_rate(no_ap, 50, mu=0.5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: infinite_decoy_rate(GYS, -1.0, mu=0.5), "distance"),
        (lambda: infinite_decoy_rate(GYS, 10, mu=0.0), "mu"),
        (lambda: gllp_rate(GYS, 10, mu=-0.5), "mu"),
        (lambda: vacuum_weak_decoy_rate(GYS, 10, mu=0.1, nu=0.2), "exceed"),
        (lambda: vacuum_weak_decoy_rate(GYS, 10, mu=0.5, nu=0.0), "nu"),
        (lambda: photon_yield(GYS, 10, n=-1), "photon number"),
        (lambda: decoy_rate_curve(GYS, [0], analysis="magic"), "unknown decoy analysis"),
        (lambda: decoy_rate_curve(GYS, [0], analysis="gllp", vacuum=True), "vacuum"),
    ],
)
def test_invalid_inputs(call, match):
    with pytest.raises(ConfigError, match=match):
        call()
