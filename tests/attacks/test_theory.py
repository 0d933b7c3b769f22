"""The closed forms: the signatures the issue names and the crossing points."""

import math

import pytest

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.attacks.theory import (
    BREIDBART_ERROR,
    CLONER_CROSSING,
    attack_theory,
    cloner_information,
    shannon_information,
)
from qkd_circuits.errors import ConfigError


def test_known_values():
    assert pytest.approx(0.14645, abs=1e-5) == BREIDBART_ERROR
    assert cloner_information(0.0) == 0.0
    assert cloner_information(0.5) == 1.0
    d = 0.1
    assert cloner_information(d) == pytest.approx(1 - binary_entropy(0.5 + math.sqrt(d * (1 - d))))
    assert shannon_information(0.11) == pytest.approx(1 - binary_entropy(0.11))


def test_cloner_crossing_is_fuchs_value():
    theory = attack_theory("cloner", "bb84")
    assert theory is not None
    assert theory.crossing() == pytest.approx(CLONER_CROSSING, abs=1e-12)
    assert pytest.approx(0.1464466, abs=1e-7) == CLONER_CROSSING
    d = CLONER_CROSSING
    assert shannon_information(d) == pytest.approx(cloner_information(d), abs=1e-12)


@pytest.mark.parametrize(
    ("protocol", "basis", "qber", "eve_error", "info"),
    [
        ("bb84", "random", 0.25, 0.25, 0.5),
        ("bb84", "z", 0.25, 0.25, 0.5),
        ("bbm92", "random", 0.25, 0.25, 0.5),
        ("bb84", "breidbart", 0.25, BREIDBART_ERROR, 1 - binary_entropy(BREIDBART_ERROR)),
        ("six-state", "random", 1 / 3, 1 / 3, 1 / 3),
        ("six-state", "breidbart", 1 / 3, (2 * BREIDBART_ERROR + 0.5) / 3,
         2 / 3 * (1 - binary_entropy(BREIDBART_ERROR))),
    ],
)  # fmt: skip
def test_intercept_resend_on_every_exchange(protocol, basis, qber, eve_error, info):
    theory = attack_theory("intercept-resend", protocol, basis=basis)
    assert theory is not None
    assert theory.qber(1.0) == pytest.approx(qber)
    assert theory.eve_error(1.0) == pytest.approx(eve_error)
    assert theory.information(1.0) == pytest.approx(info)
    assert theory.qber(0.4) == pytest.approx(0.4 * qber)


def test_no_closed_form_where_none_is_derived():
    assert attack_theory("cloner", "b92") is None
    assert attack_theory("intercept-resend", "sarg04") is None
    with pytest.raises(ConfigError, match="got 'photon-splitting'"):
        attack_theory("photon-splitting", "bb84")
