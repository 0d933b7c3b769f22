import numpy as np
import pytest
from qiskit import transpile

from qkd_circuits.channel.noise import CHANNEL_LABEL, NoiseSpec, build_noise_model
from qkd_circuits.circuits.bb84 import BB84Config, bb84_circuit
from qkd_circuits.errors import ConfigError
from qkd_circuits.execution.aer import AerExecutor


def test_parse_round_trip():
    spec = NoiseSpec.parse("depolarizing=0.02, readout=0.01,amplitude-damping=0.1")
    assert spec == NoiseSpec(depolarizing=0.02, readout=0.01, amplitude_damping=0.1)
    assert NoiseSpec.parse(str(spec)) == spec
    assert NoiseSpec.parse("none").is_noiseless
    assert spec.to_dict() == {"depolarizing": 0.02, "amplitude-damping": 0.1, "readout": 0.01}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("depolarizing=1.5", "depolarizing=1.5 is outside [0, 1]"),
        ("depolarizing=-0.1", "outside [0, 1]"),
        ("foo=0.1", "unknown name 'foo'"),
        ("depolarizing", "needs a value"),
        ("depolarizing=abc", "'abc' is not a number"),
        ("depolarizing=0.1,,readout=0.1", "empty item"),
        ("readout=", "empty value"),
        ("readout=0.1,readout=0.2", "given twice"),
        ("depolarizing=nan", "outside [0, 1]"),
    ],
)
def test_bad_specs_raise_config_error(text, fragment):
    with pytest.raises(ConfigError) as info:
        NoiseSpec.parse(text)
    assert fragment in str(info.value)


def test_model_attaches_channel_noise_to_label_and_readout_to_signal_only():
    model = build_noise_model(NoiseSpec(depolarizing=0.1, readout=0.05))
    assert CHANNEL_LABEL in model.noise_instructions
    assert model.noise_qubits == [0]


@pytest.mark.parametrize("level", [0, 1])
def test_labelled_channel_survives_low_optimisation_levels(level):
    circuit = bb84_circuit(BB84Config(alice_bit=0, alice_basis=0, bob_basis=0))
    optimised = transpile(circuit, basis_gates=["x", "h", "cx", "id"], optimization_level=level)
    assert any(inst.operation.label == CHANNEL_LABEL for inst in optimised.data)
    # A bit flip of probability 1 on the channel flips Bob's Z result every time.
    executor = AerExecutor(build_noise_model(NoiseSpec(bitflip=1.0)))
    out = executor.run([optimised], [50], rng=np.random.default_rng(level))
    assert out[0]["bob"].ravel().tolist() == [1] * 50


@pytest.mark.parametrize("mode", ["probabilities", "shots"])
def test_executor_refuses_a_circuit_whose_channel_was_optimised_away(mode):
    """Level 2+ removes even the labelled identity; the executor must not run it noiselessly."""
    circuit = bb84_circuit(BB84Config(alice_bit=0, alice_basis=0, bob_basis=0))
    optimised = transpile(circuit, basis_gates=["x", "h", "cx", "id"], optimization_level=3)
    executor = AerExecutor(build_noise_model(NoiseSpec(bitflip=1.0)), mode=mode)
    with pytest.raises(ConfigError, match="no instruction labelled 'channel'"):
        executor.run([optimised], [10], rng=np.random.default_rng(0))
    # Readout-only noise needs no channel instruction.
    AerExecutor(build_noise_model(NoiseSpec(readout=0.1)), mode=mode).run(
        [optimised], [10], rng=np.random.default_rng(0)
    )
