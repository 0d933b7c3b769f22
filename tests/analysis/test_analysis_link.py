"""Link parameters: validation, presets, TOML/JSON files."""

from __future__ import annotations

import json

import pytest

from qkd_circuits.analysis import (
    PRESETS,
    LinkParameters,
    get_preset,
    load_link_parameters,
    resolve_link_parameters,
)
from qkd_circuits.errors import ConfigError

GOOD = {"alpha_db_per_km": 0.2, "eta_bob": 0.1, "y0": 1e-6, "e_d": 0.01, "f_ec": 1.1, "q": 0.5}


def test_gys_preset_is_lo_ma_chen():
    gys = get_preset("gys")
    assert (gys.alpha_db_per_km, gys.eta_bob, gys.y0, gys.e_d, gys.f_ec, gys.q) == (
        0.21,
        0.045,
        1.7e-6,
        0.033,
        1.22,
        0.5,
    )
    assert gys.p_afterpulse == 0.0


def test_lim2014_preset_is_sec_iv():
    lim = get_preset("lim2014")
    assert lim.alpha_db_per_km == 0.2
    assert lim.eta_bob == 0.1
    assert lim.y0 == pytest.approx(2 * 6e-7)  # two detectors, p_dc = 6e-7 each
    assert (lim.e_d, lim.f_ec, lim.p_afterpulse) == (5e-3, 1.16, 4e-2)


def test_transmittance():
    gys = PRESETS["gys"]
    assert gys.transmittance(0) == pytest.approx(0.045)
    assert gys.transmittance(100) == pytest.approx(0.045 * 10**-2.1)
    assert gys.channel_transmittance(50) == pytest.approx(10 ** (-0.21 * 5))


def test_frozen():
    with pytest.raises(AttributeError):
        PRESETS["gys"].eta_bob = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("eta_bob", 1.5, r"eta_bob must be in \[0, 1\], got 1.5"),
        ("eta_bob", -0.1, "eta_bob"),
        ("alpha_db_per_km", -0.2, "alpha_db_per_km"),
        ("y0", 1.0, "y0"),
        ("e_d", 0.7, "e_d"),
        ("f_ec", 0.9, "f_ec"),
        ("q", 0.0, "q"),
        ("p_afterpulse", 1.0, "p_afterpulse"),
        ("eta_bob", "0.1", "must be a number"),
        ("eta_bob", True, "must be a number"),
        ("y0", float("inf"), "finite"),
    ],
)
def test_invalid_values(field, value, match):
    with pytest.raises(ConfigError, match=match):
        LinkParameters(**{**GOOD, field: value})


def test_load_toml_with_preset_override(tmp_path):
    path = tmp_path / "mylink.toml"
    path.write_text('preset = "gys"\neta_bob = 0.1\n')
    link = load_link_parameters(path)
    assert link.eta_bob == 0.1
    assert link.alpha_db_per_km == 0.21
    assert link.name == "gys+mylink"


def test_load_json_and_link_table(tmp_path):
    path = tmp_path / "link.json"
    path.write_text(json.dumps({"link": GOOD}))
    link = resolve_link_parameters(str(path))
    assert link == LinkParameters(**GOOD, name="link")


def test_round_trip_through_toml(tmp_path):
    lim = PRESETS["lim2014"]
    lines = [
        f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"'
        for k, v in lim.to_dict().items()
    ]
    path = tmp_path / "lim.toml"
    path.write_text("\n".join(lines) + "\n")
    assert load_link_parameters(path) == lim


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("a.toml", "eta_bob = 0.1\n", "missing link parameter"),
        ("a.toml", 'preset = "gys"\nbogus = 1\n', "unknown link parameter"),
        ("a.toml", 'preset = "nope"\n', "unknown link preset"),
        ("a.toml", "eta_bob = \n", "cannot parse"),
        ("a.json", "[1, 2]", "table/object"),
        ("a.json", '{"preset": "gys", "eta_bob": 2}', "eta_bob must be in"),
        ("a.yaml", "eta_bob: 0.1", "must end in .toml or .json"),
    ],
)
def test_bad_files(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_link_parameters(path)


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown link preset 'foo'"):
        resolve_link_parameters("foo")
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_link_parameters(str(tmp_path / "missing.toml"))
