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
