"""The sweep spec: its structure checked before anything is parsed or run."""

from __future__ import annotations

from pathlib import Path

import pytest

from qkd_circuits.errors import ConfigError
from qkd_circuits.sweep.spec import MAX_POINTS, SweepSpec, load_spec


def spec(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "command": "run",
        "seed": 1,
        "repeats": 2,
        "fixed": {"qubits": 20000},
        "axes": {"noise": ["depolarizing=0.01", "depolarizing=0.02"]},
    }
    base.update(changes)
    return base


def test_a_spec_counts_its_configurations_and_points() -> None:
    s = SweepSpec.from_dict(spec(axes={"noise": ["a", "b", "c"], "protocol": ["bb84", "b92"]}))
    assert (s.configurations, s.points) == (6, 12)
    assert s.axis_names == ("noise", "protocol")
    assert s.reproducible
    assert SweepSpec.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"comand": "run"}, "unknown key 'comand'; did you mean 'command'?"),
        ({"command": "compare"}, "command must be one of 'run', 'keyrate', got 'compare'"),
        ({"repeats": 0}, "repeats must be in 1..10000, got 0"),
        ({"repeats": 2.5}, "repeats must be an integer, got 2.5"),
        ({"repeats": True}, "repeats must be an integer, got True"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"seed": "7"}, "seed must be an integer >= 0, got '7'"),
        ({"axes": {}}, "a sweep needs at least one axis"),
        ({"axes": {"noise": "depolarizing=0.01"}}, "axis 'noise' must be an array"),
        ({"axes": {"noise": []}}, "axis 'noise' must be a non-empty array"),
        ({"axes": {"qubits": [1000, "2000"]}}, "axis 'qubits' mixes number and string"),
        ({"axes": {"qubits": [1000, 1000]}}, "axis 'qubits' repeats the value(s) 1000"),
        ({"axes": {"qubits": [1000, float("nan")]}}, "nan is not a finite number"),
        ({"axes": {"qubits": [[1]]}}, "expected a string, number or true/false, got [1]"),
        ({"axes": {"qubits": [1, 2]}}, "option 'qubits' is given twice"),
        ({"axes": {"sample_fraction": [0.1]}, "fixed": {"sample-fraction": 0.2}}, "given twice"),
        ({"axes": {"no ise": ["x"]}}, "'no ise' is not an option name"),
        ({"fixed": []}, "[fixed] must be a table of options"),
        ({"fixed": {"set": ["a=1", 2]}}, "an array gives a repeatable option several strings"),
        ({"command": "keyrate", "repeats": 3}, "keyrate points are deterministic analytics"),
        (
            {"axes": {"block": list(range(1, 1001)), "noise": [f"n{i}" for i in range(600)]}},
            f"at most {MAX_POINTS:,}",
        ),
    ],
)
def test_bad_specs_are_refused_with_the_value(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        SweepSpec.from_dict(spec(**changes))
    assert fragment in str(info.value)


def test_command_and_axes_are_required() -> None:
    with pytest.raises(ConfigError, match="missing command"):
        SweepSpec.from_dict({"axes": {"qubits": [1]}})
    with pytest.raises(ConfigError, match=r"missing \[axes\] table"):
        SweepSpec.from_dict({"command": "run"})


def test_load_spec_reads_toml_and_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('command = "run"\nseed = 3\n[axes]\nqubits = [20000, 40000]\n')
    assert load_spec(good).axes == (("qubits", (20000, 40000)),)
    bad = tmp_path / "bad.toml"
    bad.write_text('command = "run"\n[axes\n')
    with pytest.raises(ConfigError, match=r"bad\.toml' is not valid TOML"):
        load_spec(bad)
    with pytest.raises(ConfigError, match="is not a file"):
        load_spec(tmp_path / "missing.toml")
    typo = tmp_path / "typo.toml"
    typo.write_text('command = "run"\nrepeat = 3\n[axes]\nqubits = [1]\n')
    with pytest.raises(
        ConfigError, match=r"typo\.toml: unknown key 'repeat'; did you mean 'repeats'"
    ):
        load_spec(typo)
