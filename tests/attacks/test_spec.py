"""``--eve`` spellings: today's keep working, the new ones parse, bad ones say why."""

import pytest

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("none", EveSpec()),
        ("intercept-resend", EveSpec(kind="intercept-resend")),
        ("intercept-resend=0.25", EveSpec(kind="intercept-resend", fraction=0.25)),
        ("intercept-resend:basis=z", EveSpec(kind="intercept-resend", basis="z")),
        (
            "intercept-resend=0.5:basis=breidbart",
            EveSpec(kind="intercept-resend", fraction=0.5, basis="breidbart"),
        ),
        ("cloner=0.1", EveSpec(kind="cloner", disturbance=0.1)),
        ("cloner=0.5:fraction=0.3", EveSpec(kind="cloner", disturbance=0.5, fraction=0.3)),
    ],
)
def test_spellings_parse_and_print_back(text, spec):
    assert EveSpec.parse(text) == spec
    assert EveSpec.parse(str(spec)) == spec
    assert str(spec) == text


def test_the_fraction_may_also_be_named():
    assert EveSpec.parse("intercept-resend:fraction=0.5:basis=x") == EveSpec(
        kind="intercept-resend", fraction=0.5, basis="x"
    )


@pytest.mark.parametrize(
    "spec",
    [
        EveSpec(kind="cloner", disturbance=1 / 3, fraction=2 / 7),
        EveSpec(kind="intercept-resend", fraction=0.123456789012, basis="breidbart"),
    ],
)
def test_printing_keeps_every_digit(spec):
    """A saved RunConfig (a resumed device run) stores str(eve): it must parse back to
    the same floats, not to 6 significant digits."""
    assert EveSpec.parse(str(spec)) == spec


def test_what_the_report_records():
    assert EveSpec().to_dict() == {"kind": "none", "fraction": 0.0}
    assert EveSpec.parse("intercept-resend=0.5:basis=x").to_dict() == {
        "kind": "intercept-resend", "fraction": 0.5, "basis": "x",
    }  # fmt: skip
    assert EveSpec.parse("cloner=0.2").to_dict() == {
        "kind": "cloner", "fraction": 1.0, "disturbance": 0.2,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("basis", "choice"), [("random", None), ("z", 0), ("x", 1), ("breidbart", 0)]
)
def test_fixed_choice_is_what_every_attacked_exchange_stores(basis, choice):
    assert EveSpec(kind="intercept-resend", basis=basis).fixed_choice() == choice
    assert EveSpec(kind="cloner", disturbance=0.1).fixed_choice() == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cloner", "needs its disturbance"),
        ("cloner=0.6", "disturbance D must be a number in \\[0, 0.5\\], got 0.6"),
        ("cloner=-0.1", "got -0.1"),
        ("cloner=abc", "disturbance D 'abc' is not a number"),
        ("cloner=nan", "is not a number"),
        ("cloner=0.1:basis=z", "unknown or repeated option 'basis=z'"),
        ("intercept-resend:basis=y", "basis must be one of random, z, x, breidbart, got 'y'"),
        ("intercept-resend=0.5:fraction=0.3", "unknown or repeated option 'fraction=0.3'"),
        ("intercept-resend:basis=z:basis=x", "unknown or repeated option 'basis=x'"),
        ("intercept-resend=2", "attack fraction"),
        ("none:basis=z", "'none' takes no value"),
        ("clone=0.1", "unknown eve spec 'clone=0.1'"),
    ],
)
def test_bad_spellings_quote_the_bad_part(text, message):
    with pytest.raises(ConfigError, match=message):
        EveSpec.parse(text)


def test_parameters_belong_to_their_attack():
    with pytest.raises(ConfigError, match="basis=z applies to intercept-resend, not cloner"):
        EveSpec(kind="cloner", basis="z")
    with pytest.raises(ConfigError, match="disturbance applies to the cloner"):
        EveSpec(kind="intercept-resend", disturbance=0.1)
