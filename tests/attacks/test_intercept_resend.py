import pytest

from qkd_circuits.attacks.intercept_resend import EveSpec
from qkd_circuits.errors import ConfigError


def test_parse():
    assert EveSpec.parse("none") == EveSpec()
    assert not EveSpec.parse("none").active
    assert EveSpec.parse("intercept-resend") == EveSpec(kind="intercept-resend", fraction=1.0)
    assert EveSpec.parse("intercept-resend=0.25").fraction == 0.25
    assert str(EveSpec.parse("intercept-resend=0.25")) == "intercept-resend=0.25"
    assert not EveSpec.parse("intercept-resend=0").active


@pytest.mark.parametrize(
    "text", ["bar", "intercept-resend=1.5", "intercept-resend=x", "none=0.3", "", "cloning"]
)
def test_bad_specs(text):
    with pytest.raises(ConfigError, match=r"eve spec|attack fraction|unknown attack"):
        EveSpec.parse(text)
