"""The stream path of run_grouped: one inverse-CDF draw per exchange from exact distributions.

Its outcome frequencies per configuration must match the exact joint
distribution (per-cell binomial, 5 standard errors) and Aer's own shot
sampling (chi-square homogeneity), and the registers of one exchange must keep
their joint correlation.
"""

from collections.abc import Sequence

import numpy as np
import pytest
from qiskit import QuantumCircuit
from scipy.stats import chi2

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.channel.noise import NoiseSpec, build_noise_model
from qkd_circuits.errors import ConfigError
from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.execution.base import (
    DistributionExecutor,
    JointDistribution,
    draw_from_distributions,
    offers_distributions,
    run_grouped,
)
from qkd_circuits.protocols.registry import get_protocol

NOISE = NoiseSpec(depolarizing=0.02, readout=0.01)


class TableExecutor:
    """A DistributionExecutor without Aer: code -> a fixed joint distribution."""

    name = "table"
    offers_distributions = True

    def __init__(self, table: dict[int, JointDistribution]):
        self.table = table
        self.asked: list[int] = []

    def run(self, circuits, shots, *, rng):  # pragma: no cover - never called
        raise AssertionError("the stream path must not run shots")

    def describe(self) -> dict[str, object]:
        return {"name": self.name}

    def distributions(
        self, circuits: Sequence[QuantumCircuit], *, rng: np.random.Generator
    ) -> list[JointDistribution]:
        codes = [int(c.name) for c in circuits]
        self.asked.extend(codes)
        return [self.table[c] for c in codes]


def _circuit(code: int) -> QuantumCircuit:
    return QuantumCircuit(1, name=str(code))


def _joint(bob: list[int], eve: list[int], probs: list[float]) -> JointDistribution:
    return JointDistribution(
        probs=np.asarray(probs, dtype=np.float64),
        outcomes={
            "bob": np.asarray(bob, dtype=np.uint8)[:, None],
            "eve": np.asarray(eve, dtype=np.uint8)[:, None],
        },
    )


def _assert_cells_within_5se(counts: np.ndarray, probs: np.ndarray, label: object) -> None:
    n = counts.sum()
    se = np.sqrt(np.maximum(probs * (1 - probs), 1e-12) / n)
    freq = counts / n
    # A cell of probability 0 (or 1) must be hit never (always).
    assert np.all(counts[probs == 0] == 0), (label, counts, probs)
    assert np.all(np.abs(freq - probs) < 5 * se + 1e-12), (label, freq, probs)


def test_stream_matches_exact_joint_distributions_without_aer():
    """Per-cell binomial at 5 SE for awkward distributions, joint outcomes kept.

    Code 0: four outcomes with steps inside buckets and one of probability 0;
    code 3: a step of 1e-5 (inside the first bucket: the exact fix-up path);
    code 7: a certain outcome; code 9: two outcomes, "eve" absent (reads 0).
    """
    table = {
        0: _joint([0, 1, 0, 1], [0, 0, 1, 1], [0.1234567, 0.0, 0.5432100, 0.3333333]),
        3: _joint([0, 1], [1, 0], [1e-5, 1 - 1e-5]),
        7: _joint([1, 0, 1, 0], [1, 1, 0, 0], [0.0, 0.0, 1.0, 0.0]),
        9: JointDistribution(
            probs=np.array([0.3, 0.7]), outcomes={"bob": np.array([[1], [0]], dtype=np.uint8)}
        ),
    }
    rng = np.random.default_rng(11)
    codes = rng.choice([0, 3, 7, 9], size=400_000, p=[0.4, 0.3, 0.1, 0.2])
    executor = TableExecutor(table)
    out = run_grouped(codes, _circuit, ["bob", "eve"], executor, rng=rng)
    assert sorted(executor.asked) == [0, 3, 7, 9]  # each circuit tabulated once
    assert out["bob"].dtype == np.uint8 and out["bob"].shape == codes.shape
    for code, dist in table.items():
        mask = codes == code
        bob, eve = out["bob"][mask], out["eve"][mask]
        rows = np.stack(
            [
                dist.outcomes[r][:, 0] if r in dist.outcomes else np.zeros(dist.probs.size)
                for r in ("bob", "eve")
            ],
            axis=1,
        )
        # Joint cells (bob, eve): the exact probability of each pair.
        probs = np.zeros(4)
        for row, p in zip(rows.astype(int), dist.probs, strict=True):
            probs[2 * row[0] + row[1]] += p
        counts = np.bincount(2 * bob.astype(int) + eve, minlength=4)
        _assert_cells_within_5se(counts, probs, code)
    # The 1e-5 cell: expected ~1.2 hits; the binomial bound above covers it, and it
    # can occur at all (the fix-up path resolves those buckets exactly).
    small = np.mean(out["eve"][codes == 3])
    assert small < 1e-5 + 5 * np.sqrt(1e-5 / np.sum(codes == 3))


def test_stream_resolves_steps_inside_buckets_exactly():
    """All mass in steps that fall strictly inside one bucket of the table.

    With a single code the table has 2**16 buckets; steps at 0.5 +- 2**-20 lie
    inside bucket 32767 / 32768, so every draw there goes through the exact
    comparison. P(outcome 1) = 2**-19: over 2**22 draws, about 8 hits.
    """
    eps = 2.0**-20
    table = {0: _joint([0, 1, 0], [0, 0, 1], [0.5 - eps, 2 * eps, 0.5 - eps])}
    n = 1 << 22
    out = run_grouped(
        np.zeros(n, dtype=np.int64),
        _circuit,
        ["bob", "eve"],
        TableExecutor(table),
        rng=np.random.default_rng(2),
    )
    hits = int(out["bob"].sum())
    mean = n * 2 * eps
    assert abs(hits - mean) < 5 * np.sqrt(mean)
    assert not np.any(out["bob"] & out["eve"])  # (1, 1) has probability 0
    freq_eve = out["eve"].mean()
    assert abs(freq_eve - (0.5 - eps)) < 5 * np.sqrt(0.25 / n)


def test_stream_is_reproducible_from_its_generator_and_uses_it():
    table = {0: _joint([0, 1], [0, 1], [0.5, 0.5]), 2: _joint([0, 1], [1, 0], [0.25, 0.75])}
    codes = np.random.default_rng(0).choice([0, 2], size=10_000)
    a = run_grouped(codes, _circuit, ["bob"], TableExecutor(table), rng=np.random.default_rng(5))
    b = run_grouped(codes, _circuit, ["bob"], TableExecutor(table), rng=np.random.default_rng(5))
    c = run_grouped(codes, _circuit, ["bob"], TableExecutor(table), rng=np.random.default_rng(6))
    assert np.array_equal(a["bob"], b["bob"]) and not np.array_equal(a["bob"], c["bob"])
    gen = np.random.default_rng(5)
    before = gen.bit_generator.state["state"]["state"]
    run_grouped(codes, _circuit, ["bob"], TableExecutor(table), rng=gen)
    assert gen.bit_generator.state["state"]["state"] != before  # drawn from the given rng


def test_stream_large_sparse_codes_and_edge_cases():
    table = {5: _joint([1], [0], [1.0]), 1_000_003: _joint([0, 1], [1, 1], [0.5, 0.5])}
    codes = np.array([5, 1_000_003] * 500)
    out = run_grouped(
        codes, _circuit, ["bob", "eve"], TableExecutor(table), rng=np.random.default_rng(3)
    )
    assert np.all(out["bob"][codes == 5] == 1) and np.all(out["eve"][codes == 5] == 0)
    assert np.all(out["eve"][codes == 1_000_003] == 1)
    assert 0.4 < out["bob"][codes == 1_000_003].mean() < 0.6
    empty = run_grouped(
        np.zeros(0, dtype=np.int64),
        _circuit,
        ["bob"],
        TableExecutor(table),
        rng=np.random.default_rng(0),
    )
    assert empty["bob"].shape == (0,) and empty["bob"].dtype == np.uint8
    with pytest.raises(ConfigError, match="non-negative"):
        draw_from_distributions(
            np.array([-1]), _circuit, ["bob"], TableExecutor(table), rng=np.random.default_rng(0)
        )
    with pytest.raises(ConfigError, match="sum to 1"):
        JointDistribution(probs=np.array([0.5, 0.2]), outcomes={})
    with pytest.raises(ConfigError, match="outcome rows"):
        JointDistribution(probs=np.array([1.0]), outcomes={"bob": np.zeros((2, 1), dtype=np.uint8)})


def test_which_executors_offer_distributions():
    assert offers_distributions(AerExecutor())
    assert isinstance(AerExecutor(), DistributionExecutor)
    shots = AerExecutor(mode="shots")
    assert not offers_distributions(shots)
    with pytest.raises(ConfigError, match="mode='probabilities'"):
        shots.distributions([QuantumCircuit(1, 1)], rng=np.random.default_rng(0))

    class Plain:
        name = "plain"

        def run(self, circuits, shots, *, rng):
            return [{"bob": np.ones((s, 1), dtype=np.uint8)} for s in shots]

        def describe(self):
            return {}

    assert not offers_distributions(Plain())  # type: ignore[arg-type]
    out = run_grouped(np.array([0, 1, 0]), _circuit, ["bob"], Plain(), rng=np.random.default_rng(0))  # type: ignore[arg-type]
    assert out["bob"].tolist() == [1, 1, 1]  # the shots path


def _joint_index(out: dict[str, np.ndarray], registers: Sequence[str]) -> np.ndarray:
    index = np.zeros(out[registers[0]].size, dtype=np.int64)
    for i, r in enumerate(registers):
        index |= out[r].astype(np.int64) << i
    return index


def _exact_cells(dist: JointDistribution, registers: Sequence[str]) -> np.ndarray:
    cells = np.zeros(1 << len(registers))
    for j, p in enumerate(dist.probs):
        idx = sum(
            int(dist.outcomes[r][j, 0]) << i for i, r in enumerate(registers) if r in dist.outcomes
        )
        cells[idx] += p
    return cells


@pytest.mark.parametrize("protocol_name", ["bb84", "bbm92"])
def test_stream_matches_aer_exact_distribution_and_the_shots_path(protocol_name):
    """With noise and full intercept-resend, every configuration's joint outcome
    (Bob, Eve; and Alice for the entangled source) has the frequencies of Aer's
    exact distribution (per cell, 5 SE) and the same distribution as Aer's own
    shot sampling (chi-square homogeneity over all configurations, 99.99%)."""
    protocol = get_protocol(protocol_name)
    registers = protocol.registers
    model = build_noise_model(NOISE)
    choices = protocol.draw_choices(300_000, eve=EveSpec(kind="intercept-resend"), rng=31)
    codes = np.asarray(choices.codes)
    stream_ex = AerExecutor(model)
    out = run_grouped(
        codes, protocol.circuit_for_code, registers, stream_ex, rng=np.random.default_rng(32)
    )
    present = np.unique(codes)
    dists = stream_ex.distributions(
        [protocol.circuit_for_code(int(c)) for c in present], rng=np.random.default_rng(0)
    )
    joint = _joint_index(out, registers)
    shots_codes = codes[:100_000]
    shots = run_grouped(
        shots_codes,
        protocol.circuit_for_code,
        registers,
        AerExecutor(model, mode="shots"),
        rng=np.random.default_rng(33),
    )
    joint_shots = _joint_index(shots, registers)
    statistic, df = 0.0, 0
    cells = 1 << len(registers)
    for code, dist in zip(present, dists, strict=True):
        probs = _exact_cells(dist, registers)
        counts = np.bincount(joint[codes == code], minlength=cells)
        _assert_cells_within_5se(counts, probs, int(code))
        # Homogeneity of stream vs shots counts over the cells either path hits.
        other = np.bincount(joint_shots[shots_codes == code], minlength=cells)
        table = np.stack([counts, other])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            continue
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
        statistic += float(np.sum((table - expected) ** 2 / expected))
        df += table.shape[1] - 1
    assert df > 0
    assert statistic < chi2.ppf(0.9999, df), (statistic, df)
