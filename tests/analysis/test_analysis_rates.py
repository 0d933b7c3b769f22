"""One-way secret fractions and their QBER thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkd_circuits.analysis import (
    bb84_rate,
    bbm92_rate,
    chsh_di_rate,
    chsh_value_depolarising,
    qber_threshold,
    six_state_rate,
)
from qkd_circuits.errors import ConfigError

QBER = st.floats(min_value=0.0, max_value=0.5, allow_nan=False)


@pytest.mark.parametrize(
    ("protocol", "f", "expected", "digits"),
    [
        ("bb84", 1.0, 0.110028, 6),  # Shor–Preskill
        ("bbm92", 1.0, 0.110028, 6),
        ("six-state", 1.0, 0.126193, 6),  # Lo 2001
        ("bb84", 1.16, 0.0981, 4),
    ],
)
def test_thresholds_match_the_literature(protocol, f, expected, digits):
    assert round(qber_threshold(protocol, f=f), digits) == pytest.approx(expected, abs=1e-12)


def test_di_threshold_is_about_seven_percent():
    # Acín et al. 2007: with depolarising noise the DI-QKD rate vanishes near Q = 7.1 %.
    assert qber_threshold("di-chsh") == pytest.approx(0.0715, abs=1e-3)


def test_rates_vanish_at_their_thresholds():
    for protocol, rate in (("bb84", bb84_rate), ("six-state", six_state_rate)):
        e = qber_threshold(protocol)
        assert abs(float(rate(e))) < 1e-10


def test_noiseless_rates_are_one_bit():
    assert bb84_rate(0.0) == 1.0
    assert six_state_rate(0.0) == 1.0
    assert bbm92_rate(0.0) == 1.0
    assert chsh_di_rate(2 * math.sqrt(2), 0.0) == pytest.approx(1.0, abs=1e-12)


def test_six_state_closed_form():
    # Lo 2001: 1 + (1 - 3e/2) log2(1 - 3e/2) + (3e/2) log2(e/2).
    e = np.array([0.01, 0.05, 0.1])
    closed = 1 + (1 - 1.5 * e) * np.log2(1 - 1.5 * e) + 1.5 * e * np.log2(e / 2)
    np.testing.assert_allclose(six_state_rate(e), closed, rtol=1e-12)


def test_bb84_with_separate_phase_error_and_f():
    e, ph = 0.02, 0.05
    h = lambda p: -p * math.log2(p) - (1 - p) * math.log2(1 - p)  # noqa: E731
    assert bb84_rate(e, e_phase=ph, f=1.2) == pytest.approx(1 - h(ph) - 1.2 * h(e))


def test_array_in_array_out():
    out = bb84_rate([0.0, 0.05, 0.11])
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert isinstance(bb84_rate(0.05), float)


def test_no_bell_violation_no_key():
    assert chsh_di_rate(2.0, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert chsh_di_rate(1.5, 0.01) < 0
    assert chsh_value_depolarising(0.0) == pytest.approx(2 * math.sqrt(2))


@settings(derandomize=True)
@given(QBER, QBER)
def test_rates_decrease_with_qber(a, b):
    lo, hi = min(a, b), max(a, b)
    assert bb84_rate(lo) >= bb84_rate(hi) - 1e-12
    assert six_state_rate(lo) >= six_state_rate(hi) - 1e-12


@settings(derandomize=True)
@given(QBER)
def test_six_state_beats_bb84_and_di_is_hardest(e):
    # The tomographic six-state protocol knows more about the phase errors;
    # the device-independent rate trusts nothing and is the lowest.
    assert six_state_rate(e) >= bb84_rate(e) - 1e-12
    assert chsh_di_rate(chsh_value_depolarising(e), e) <= bb84_rate(e) + 1e-12


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: bb84_rate(-0.1), "e_bit"),
        (lambda: bb84_rate(0.6), "e_bit"),
        (lambda: bb84_rate(0.1, e_phase=1.0), "e_phase"),
        (lambda: bb84_rate(0.1, f=0.9), "f must be >= 1"),
        (lambda: six_state_rate(float("nan")), r"\[0, 0.5\]"),
        (lambda: chsh_di_rate(3.0, 0.0), "2\\*sqrt\\(2\\)"),
        (lambda: qber_threshold("e91"), "unknown protocol"),
    ],
)
def test_invalid_inputs_raise_config_error(call, match):
    with pytest.raises(ConfigError, match=match):
        call()
