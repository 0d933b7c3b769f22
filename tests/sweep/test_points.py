"""A sweep's points: identities, seeds, command lines, and every value parsed by
``qkd``'s own parser before anything runs."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest

from qkd_circuits.errors import ConfigError
from qkd_circuits.sweep.points import (
    SEED_BITS,
    check_points,
    expand_points,
    keyrate_inputs_of,
    parse_point_argv,
    point_key,
    point_seed,
    run_config_of,
)
from qkd_circuits.sweep.spec import SweepSpec


def make(axes: dict[str, list[object]], **top: object) -> SweepSpec:
    data: dict[str, object] = {"command": "run", "seed": 5, "fixed": {"qubits": 20000}}
    data.update(top)
    data["axes"] = axes
    return SweepSpec.from_dict(data)


def test_points_enumerate_the_product_first_axis_slowest_repeats_innermost() -> None:
    spec = make({"protocol": ["bb84", "b92"], "noise": ["depolarizing=0.01", "none"]}, repeats=2)
    points = expand_points(spec)
    assert [p.index for p in points] == list(range(8))
    assert [(dict(p.axes)["protocol"], dict(p.axes)["noise"], p.repeat) for p in points[:4]] == [
        ("bb84", "depolarizing=0.01", 0),
        ("bb84", "depolarizing=0.01", 1),
        ("bb84", "none", 0),
        ("bb84", "none", 1),
    ]
    assert len({p.point_id for p in points}) == 8
    assert len({p.seed for p in points}) == 8
    assert all(p.seed is not None and 0 <= p.seed < 2**SEED_BITS for p in points)


def test_identity_and_seed_do_not_depend_on_the_order_or_the_other_values() -> None:
    a = expand_points(make({"protocol": ["bb84", "b92"], "noise": ["none", "bitflip=0.01"]}))
    b = expand_points(
        make(
            {"noise": ["bitflip=0.01", "none", "bitflip=0.02"], "protocol": ["b92", "bb84"]},
        )
    )
    by_id = {p.point_id: p for p in b}
    for p in a:
        q = by_id[p.point_id]
        assert q.seed == p.seed and dict(q.options) == dict(p.options)


def test_seed_is_a_seedsequence_child_keyed_by_the_point() -> None:
    (point,) = expand_points(make({"noise": ["none"]}))
    key = point_key("run", point.options, 0)
    digest = hashlib.sha256(key.encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    child = np.random.SeedSequence(5, spawn_key=words)
    assert point.seed == point_seed(5, key)
    assert point.seed == int(child.generate_state(1, np.uint64)[0]) >> (64 - SEED_BITS)
    # Another sweep seed, another repeat: other seeds and ids.
    (other,) = expand_points(make({"noise": ["none"]}, seed=6))
    assert other.seed != point.seed and other.point_id != point.point_id
    unseeded = expand_points(make({"noise": ["none"]}, seed=None))[0]
    assert unseeded.seed is None and "--seed" not in " ".join(unseeded.argv)


def test_a_value_written_as_a_number_or_a_string_is_the_same_point() -> None:
    (a,) = expand_points(make({"noise": ["none"]}, fixed={"qubits": 20000}))
    (b,) = expand_points(make({"noise": ["none"]}, fixed={"qubits": "20000"}))
    assert a.point_id == b.point_id and a.seed == b.seed


def test_argv_puts_run_protocol_first_and_flags_as_flags() -> None:
    spec = make({"protocol": ["six-state"]}, fixed={"qubits": 20000, "sample_fraction": 0.2})
    (point,) = expand_points(spec)
    assert point.argv == (
        "run", "six-state", "--qubits=20000", "--sample-fraction=0.2", f"--seed={point.seed}",
    )  # fmt: skip
    assert point.command_line.startswith("qkd run six-state --qubits=20000")
    args = parse_point_argv(point.argv)
    assert (args.protocol, args.qubits, args.sample_fraction, args.seed) == (
        "six-state", 20000, 0.2, point.seed,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("axes", "fixed", "fragment"),
    [
        ({"nosie": ["none"]}, {}, "'nosie' is not an option of qkd run; did you mean 'noise'?"),
        ({"noise": ["magic=0.1"]}, {}, "axis 'noise' value 'magic=0.1': argument --noise"),
        ({"qubits": [0, 100]}, {}, "axis 'qubits' value 0: argument --qubits: '0' is not a pos"),
        ({"protocol": ["bb85"]}, {}, "axis 'protocol' value 'bb85'"),
        ({"seed": [1, 2]}, {}, "'seed' cannot be swept: the sweep gives every point"),
        ({"noise": ["none"]}, {"keys": "k.json"}, "'keys' cannot be swept: a sweep never"),
        ({"noise": ["none"]}, {"json": "-"}, "'json' cannot be swept"),
        ({"pack": [1]}, {}, "'pack' is a flag: give true or false, got 1"),
        ({"noise": [True]}, {}, "'noise' takes a value, got True"),
        ({"noise": ["none"]}, {"eve": ["a", "b"]}, "'eve' takes one value, got the array"),
        ({"backend": ["ibm:least-busy"]}, {}, "a sweep runs its points unattended"),
        ({"eve": ["none", "pns"]}, {}, "point 1 (eve='pns'): pns splits the photons"),
        ({"qubits": [20000, 10**13]}, {}, "point 1 (qubits=10000000000000): 10,000,000,000,000"),
        (
            {"protocol": ["bb84", "decoy-bb84"]},
            {},
            "point 1 (protocol='decoy-bb84'): decoy-bb84 runs over a link",
        ),
    ],
)
def test_check_points_names_the_bad_value(
    axes: dict[str, list[object]], fixed: dict[str, object], fragment: str
) -> None:
    base = {} if "qubits" in axes else {"qubits": 20000}
    spec = make(axes, fixed={**base, **fixed})
    with pytest.raises(ConfigError) as info:
        check_points(spec, expand_points(spec))
    assert fragment in str(info.value)


def test_a_bad_last_value_of_a_large_sweep_is_named_before_any_point_is_built() -> None:
    values = [f"depolarizing={i / 1000:g}" for i in range(200)] + ["depolarizing=2"]
    spec = make({"noise": values, "qber_threshold": [0.05, 0.08, 0.11]}, repeats=5)
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="axis 'noise' value 'depolarizing=2'"):
        check_points(spec, expand_points(spec))
    assert spec.points == 3015
    print(f"refused a {spec.points}-point sweep in {time.perf_counter() - start:.2f} s")


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "bb84", "--qubits=20000", "--noise=depolarizing=0.02", "--seed=3"],
        ["run", "six-state", "--qubits=30000", "--eve=intercept-resend=0.3",
         "--sample-fraction=0.2", "--qber-threshold=0.2", "--reconciliation=ldpc",
         "--key-length=fixed", "--eps-sec=1e-9"],
        ["run", "decoy-bb84", "--distance=25", "--qubits=1000000", "--decoy=0.1,0.01",
         "--source=wcp:mu=0.4", "--block=500000"],
        ["run", "bb84", "--distance=10", "--qubits=100000", "--eve=pns", "--source=wcp:mu=0.5"],
    ],
)  # fmt: skip
def test_run_config_is_the_one_qkd_run_builds(argv: list[str], monkeypatch) -> None:
    """``run_config_of`` mirrors ``qkd run``'s handler: the configs are equal."""
    import qkd_circuits.runner as runner
    from qkd_circuits.cli import main

    built = []

    class Stop(Exception):
        pass

    def capture(config, **_: object):  # type: ignore[no-untyped-def]
        built.append(config)
        raise Stop

    monkeypatch.setattr(runner, "run_config", capture)
    with pytest.raises(Stop):
        main(argv)
    assert run_config_of(parse_point_argv(argv)) == built[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["keyrate", "--distances=50", "--analysis=gllp"],
        ["keyrate", "--params=lim2014", "--set=eta_bob=0.1", "--distances=20",
         "--analysis=finite:1e6", "--eps-sec=1e-9", "--eps-cor=1e-14"],
        ["keyrate", "--distances=0", "--analysis=vacuum-weak", "--mu=0.4", "--nu=0.05"],
    ],
)  # fmt: skip
def test_keyrate_inputs_are_the_ones_qkd_keyrate_uses(
    argv: list[str], monkeypatch, tmp_path
) -> None:
    import qkd_circuits.analysis.curves as curves
    from qkd_circuits.cli import main

    seen = []

    def capture(link, distances, analysis, *, mu, nu, security):  # type: ignore[no-untyped-def]
        seen.append((link, [float(d) for d in distances], analysis, mu, nu, security))
        return []

    monkeypatch.setattr(curves, "key_rate_curve", capture)
    assert main([*argv, "--json", str(tmp_path / "rows.json")]) == 0
    inputs = keyrate_inputs_of(parse_point_argv(argv))
    link, distances, analysis, mu, nu, security = seen[0]
    assert (inputs.link, [inputs.distance_km], inputs.analysis) == (link, distances, analysis)
    assert (inputs.mu, inputs.nu, inputs.security) == (mu, nu, security)


@pytest.mark.parametrize(
    ("fixed", "fragment"),
    [
        ({}, "a keyrate point is one distance, got --distances '0:200:5'"),
        ({"distances": 50, "analysis": "gllp,plob"}, "a keyrate point is one analysis"),
        ({"distances": 50, "mu": -1}, "--mu (mean photon number) must be > 0"),
        ({"distances": 50, "simulate": "1e9"}, "'simulate' cannot be swept"),
        ({"distances": 50, "protocol": "bb84"}, "unknown protocol 'bb84'"),
    ],
)
def test_keyrate_points_are_one_analysis_at_one_distance(
    fixed: dict[str, object], fragment: str
) -> None:
    spec = SweepSpec.from_dict(
        {"command": "keyrate", "fixed": fixed, "axes": {"params": ["gys"]}}
        if "analysis" in fixed
        else {"command": "keyrate", "fixed": fixed, "axes": {"analysis": ["gllp"]}}
    )
    with pytest.raises(ConfigError) as info:
        check_points(spec, expand_points(spec))
    assert fragment in str(info.value)
