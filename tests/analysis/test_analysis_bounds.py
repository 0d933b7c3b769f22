"""Repeaterless bounds PLOB and TGW."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkd_circuits.analysis import fibre_transmittance, plob_bound, tgw_bound
from qkd_circuits.errors import ConfigError


@pytest.mark.parametrize(("km", "expected"), [(100, 1.450e-2), (200, 1.443e-4)])
def test_plob_reference_values(km, expected):
    eta = fibre_transmittance(km, alpha_db_per_km=0.2)
    assert plob_bound(eta) == pytest.approx(expected, rel=5e-4)


def test_plob_closed_form_and_small_eta_limit():
    assert plob_bound(0.5) == pytest.approx(1.0)
    assert plob_bound(1e-6) == pytest.approx(1e-6 / math.log(2), rel=1e-5)


def test_tgw_is_twice_plob_at_high_loss_and_always_above():
    eta = np.geomspace(1e-8, 0.99, 50)
    assert np.all(tgw_bound(eta) > plob_bound(eta))
    assert tgw_bound(1e-6) / plob_bound(1e-6) == pytest.approx(2.0, rel=1e-5)


def test_lossless_channel_is_unbounded():
    assert plob_bound(1.0) == math.inf
    assert tgw_bound(1.0) == math.inf


@pytest.mark.parametrize(
    "call",
    [
        lambda: plob_bound(-0.1),
        lambda: plob_bound(1.5),
        lambda: tgw_bound(float("nan")),
        lambda: fibre_transmittance(-1.0),
        lambda: fibre_transmittance(10.0, alpha_db_per_km=-0.2),
    ],
)
def test_invalid_inputs(call):
    with pytest.raises(ConfigError):
        call()
