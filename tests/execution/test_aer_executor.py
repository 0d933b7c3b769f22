import numpy as np
import pytest
from qiskit import QuantumCircuit

from qkd_circuits.channel.noise import NoiseSpec, build_noise_model
from qkd_circuits.circuits.bb84 import BB84Config, bb84_circuit
from qkd_circuits.errors import ConfigError
from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.execution.base import GroupPlan, run_grouped


def test_probabilities_mode_applies_asymmetric_readout_exactly():
    from qiskit_aer.noise import NoiseModel, ReadoutError

    model = NoiseModel()
    model.add_readout_error(ReadoutError([[0.9, 0.1], [0.3, 0.7]]), [0])
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    out = AerExecutor(model).run([circuit], [200_000], rng=np.random.default_rng(0))
    bits = out[0]["c"].ravel()
    se = np.sqrt(0.3 * 0.7 / bits.size)
    assert abs((1 - bits.mean()) - 0.3) < 5 * se


def test_outcomes_have_register_shapes_and_zero_shots_are_fine():
    circuits = [bb84_circuit(BB84Config.from_code(c)) for c in (0, 9, 23)]
    for mode in ("probabilities", "shots"):
        out = AerExecutor(mode=mode).run(circuits, [5, 0, 3], rng=np.random.default_rng(1))
        assert out[0]["bob"].shape == (5, 1) and set(out[0]) == {"bob"}
        assert out[1]["bob"].shape == (0, 1) and out[1]["eve"].shape == (0, 1)
        assert out[2]["eve"].shape == (3, 1) and out[2]["bob"].dtype == np.uint8


def test_probabilities_mode_refuses_mid_circuit_measurement():
    circuit = QuantumCircuit(1, 2)
    circuit.measure(0, 0)
    circuit.h(0)
    circuit.measure(0, 1)
    with pytest.raises(ConfigError, match=r"terminal|measured once"):
        AerExecutor().run([circuit], [10], rng=np.random.default_rng(0))
    # Aer's own sampling runs it.
    out = AerExecutor(mode="shots").run([circuit], [10], rng=np.random.default_rng(0))
    assert out[0]["c"].shape == (10, 2)


def test_probabilities_mode_refuses_quantum_error_on_measure():
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), "measure")
    with pytest.raises(ConfigError, match="mode='shots'"):
        AerExecutor(model)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="'exact'"):
        AerExecutor(mode="exact")  # type: ignore[arg-type]
    circuit = bb84_circuit(BB84Config.from_code(0))
    with pytest.raises(ConfigError, match="1 circuits but 2"):
        AerExecutor().run([circuit], [1, 2], rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match=">= 0"):
        AerExecutor().run([circuit], [-1], rng=np.random.default_rng(0))


def test_group_plan_scatters_each_group_to_its_positions():
    codes = np.array([3, 0, 3, 3, 0, 5])
    plan = GroupPlan.from_codes(codes)
    assert plan.codes.tolist() == [0, 3, 5] and plan.shots.tolist() == [2, 3, 1]
    # Give each group's shots a value that identifies the group.
    results = [
        {"r": np.full((int(s), 1), int(c), dtype=np.uint8)}
        for c, s in zip(plan.codes, plan.shots, strict=True)
    ]
    out = plan.scatter(results, ["r", "absent"], rng=np.random.default_rng(0))
    assert out["r"].tolist() == codes.tolist()
    assert out["absent"].tolist() == [0] * 6
    with pytest.raises(ConfigError, match="2 shots, expected 3"):
        plan.scatter([results[0], results[0], results[2]], ["r"], rng=np.random.default_rng(0))


def test_run_grouped_noise_free_bb84_is_deterministic_where_bases_match():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 8, size=1000)  # no Eve
    out = run_grouped(
        codes, lambda c: bb84_circuit(BB84Config.from_code(c)), ["bob"], AerExecutor(), rng=rng
    )
    same = ((codes >> 1) & 1) == ((codes >> 2) & 1)
    assert np.array_equal(out["bob"][same], (codes & 1)[same])
    model = build_noise_model(NoiseSpec(readout=0.5))
    noisy = run_grouped(
        codes, lambda c: bb84_circuit(BB84Config.from_code(c)), ["bob"], AerExecutor(model), rng=rng
    )
    assert 0.4 < noisy["bob"].mean() < 0.6


def _group_error_zscores(executor_mode: str, *, seeds: int, n: int) -> np.ndarray:
    """z-scores of the error rate of each sifted Eve configuration, one row per seed."""
    from qkd_circuits.attacks.spec import EveSpec
    from qkd_circuits.protocols.bb84 import draw_choices, run_quantum_phase

    model = build_noise_model(NoiseSpec(depolarizing=0.02, readout=0.01))
    e_c = 0.01 * 0.99 + 0.99 * 0.01
    rows = []
    for s in range(seeds):
        choices = draw_choices(n, eve=EveSpec(kind="intercept-resend"), rng=100 + s)
        rec = run_quantum_phase(choices, AerExecutor(model, mode=executor_mode), rng=900 + s)
        sifted = rec.alice_bases == rec.bob_bases
        row = []
        for code in (8, 9, 14, 15, 16, 17, 22, 23):  # the sifted configurations with Eve
            mask = sifted & (rec.codes == code)
            p = e_c if (code >> 3) - 1 == (code >> 1) & 1 else 0.5
            err = np.mean(rec.bob_bits[mask] != rec.alice_bits[mask])
            row.append((err - p) / np.sqrt(p * (1 - p) / mask.sum()))
        rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize("mode", ["probabilities", "shots"])
def test_groups_of_one_run_are_statistically_independent(mode):
    """Each group's outcomes must be independent of the others'.

    Aer's SamplerV2 runs PUBs of different shot counts in separate simulator runs
    that share one seed; groups run that way came out correlated (|r| ~ 0.95
    between groups with the same distribution). Under independence each of the
    28 pairwise correlations over S seeds has S r^2 ~ chi2(1), so their sum
    ~ chi2(28); its 99.9% quantile is 56.9.
    """
    from scipy.stats import chi2

    z = _group_error_zscores(mode, seeds=40, n=20_000)
    r = np.corrcoef(z.T)[np.triu_indices(8, 1)]
    statistic = 40 * float(np.sum(r**2))
    assert statistic < chi2.ppf(0.999, df=28), (statistic, np.round(r, 2))
    # Each group is unbiased with binomial spread: mean z ~ 0, var z ~ 1.
    assert np.all(np.abs(z.mean(axis=0)) < 4 / np.sqrt(40))
