import math

import pytest

from qkd_circuits.errors import ConfigError
from qkd_circuits.specs import check_int, check_open_unit


@pytest.mark.parametrize("value", [0.0, 1.0, -0.1, math.nan, "0.5", True, None, [0.5]])
def test_check_open_unit_rejects(value):
    with pytest.raises(ConfigError, match="eps"):
        check_open_unit(value, name="eps")


def test_check_open_unit_and_check_int_accept():
    assert check_open_unit(0.25, name="eps") == 0.25
    assert check_int(3, name="n", minimum=1) == 3
    for bad in (0, 2.0, True, "3"):
        with pytest.raises(ConfigError, match="n must be"):
            check_int(bad, name="n", minimum=1)
