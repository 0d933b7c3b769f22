"""Executors on qiskit-aer's density-matrix simulator.

Two ways of getting per-shot outcomes, exact for noise that acts
independently on each shot (DESIGN.md, "The key performance insight"):

* ``mode="probabilities"`` (default): Aer computes each circuit's exact
  outcome distribution once (``SaveProbabilities``, one shot, measurements
  removed); Bob's readout error is applied to that distribution as the
  confusion matrix the noise model holds; the shots are then drawn with the
  run's numpy Generator. Needs terminal measurements and no quantum error on
  the ``measure`` instruction (a clear error otherwise). In this mode the
  executor also offers :meth:`AerExecutor.distributions` (each circuit's
  exact joint distribution over its registers), which
  :func:`~qkd_circuits.execution.base.run_grouped` uses to draw every
  exchange's outcome in place, without grouping shots at all.
* ``mode="shots"``: Aer's ``SamplerV2`` samples every shot itself (and
  :func:`~qkd_circuits.execution.base.run_grouped` scatters them back).

Circuits are not transpiled: they use only gates Aer simulates natively, and
the channel's labelled identity (see :mod:`qkd_circuits.channel.noise`) must
reach the simulator untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit
from qiskit_aer import AerSimulator
from qiskit_aer.library import SaveProbabilities
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import SamplerV2

from qkd_circuits.channel.noise import CHANNEL_LABEL
from qkd_circuits.errors import BackendError, ConfigError
from qkd_circuits.execution.base import JointDistribution, Outcomes
from qkd_circuits.randomness import draw_seed

AerMode = Literal["probabilities", "shots"]
_PROBS_LABEL = "qkd_probabilities"


class AerExecutor:
    """Runs circuits on ``AerSimulator(method="density_matrix")`` with a noise model.

    Args:
        noise_model: Aer noise model (None for an ideal simulator).
        mode: ``"probabilities"`` (exact distribution, shots drawn with numpy)
            or ``"shots"`` (Aer's SamplerV2 samples every shot).
    """

    def __init__(self, noise_model: NoiseModel | None = None, *, mode: AerMode = "probabilities"):
        if mode not in ("probabilities", "shots"):
            raise ConfigError(f"Aer mode must be 'probabilities' or 'shots', got {mode!r}")
        self.noise_model = noise_model
        self.mode: AerMode = mode
        self.name = "aer" if mode == "probabilities" else "aer-shots"
        self._backend_options: dict[str, object] = {"method": "density_matrix"}
        if noise_model is not None:
            self._backend_options["noise_model"] = noise_model
        self._needs_channel = noise_model is not None and CHANNEL_LABEL in (
            noise_model.noise_instructions
        )
        self._readout: dict[int, NDArray[np.float64]] = {}
        self._default_readout: NDArray[np.float64] | None = None
        if mode == "probabilities" and noise_model is not None:
            self._read_measure_noise(noise_model)

    def describe(self) -> dict[str, object]:
        """Name, simulation method and sampling mode."""
        return {"name": self.name, "method": "density_matrix", "sampling": self.mode}

    def run(
        self,
        circuits: Sequence[QuantumCircuit],
        shots: Sequence[int],
        *,
        rng: np.random.Generator,
    ) -> list[Outcomes]:
        """Run each circuit with its number of shots; see :class:`Executor`."""
        if len(circuits) != len(shots):
            raise ConfigError(f"got {len(circuits)} circuits but {len(shots)} shot counts")
        if any(s < 0 for s in shots):
            raise ConfigError(f"shot counts must be >= 0, got {min(shots)}")
        if self._needs_channel:
            self._check_channel(circuits)
        if self.mode == "probabilities":
            return self._run_probabilities(circuits, shots, rng=rng)
        return self._run_shots(circuits, shots, rng=rng)

    def _check_channel(self, circuits: Sequence[QuantumCircuit]) -> None:
        for circuit in circuits:
            if not any(
                inst.operation.label == CHANNEL_LABEL and inst.operation.name != "barrier"
                for inst in circuit.data
            ):
                raise ConfigError(
                    f"circuit {circuit.name!r} has no instruction labelled "
                    f"{CHANNEL_LABEL!r}, so the noise model's channel noise would silently "
                    "vanish (was it transpiled at optimization_level >= 2?)"
                )

    # -- shots mode ---------------------------------------------------------
    def _run_shots(
        self, circuits: Sequence[QuantumCircuit], shots: Sequence[int], *, rng: np.random.Generator
    ) -> list[Outcomes]:
        results: list[Outcomes] = [_empty_outcomes(c) for c in circuits]
        live = [i for i, s in enumerate(shots) if s > 0]
        options = {"backend_options": dict(self._backend_options)}
        for batch in independent_batches(live, shots):
            sampler = SamplerV2(seed=draw_seed(rng), options=options)
            pub_results = sampler.run([(circuits[i], None, int(shots[i])) for i in batch]).result()
            for i, res in zip(batch, pub_results, strict=True):
                results[i] = {
                    creg.name: getattr(res.data, creg.name)
                    .to_bool_array(order="little")
                    .astype(np.uint8)
                    for creg in circuits[i].cregs
                }
        return results

    # -- probabilities mode -------------------------------------------------
    def _read_measure_noise(self, model: NoiseModel) -> None:
        for err in model.to_dict()["errors"]:
            ops = err.get("operations", [])
            if "measure" not in ops:
                continue
            if err["type"] != "roerror":
                raise ConfigError(
                    "mode='probabilities' cannot apply a quantum error on 'measure'; "
                    "use mode='shots' for this noise model"
                )
            matrix = np.asarray(err["probabilities"], dtype=np.float64)
            if matrix.shape != (2, 2):
                raise ConfigError(
                    f"mode='probabilities' supports 1-qubit readout errors only, got a matrix "
                    f"of shape {matrix.shape}"
                )
            if "gate_qubits" in err:
                for (q,) in err["gate_qubits"]:
                    self._readout[int(q)] = matrix
            else:
                self._default_readout = matrix

    def _confusion(self, qubit: int) -> NDArray[np.float64] | None:
        return self._readout.get(qubit, self._default_readout)

    def _exact_probabilities(
        self, circuits: Sequence[QuantumCircuit], *, rng: np.random.Generator
    ) -> list[tuple[NDArray[np.float64], dict[int, int]]]:
        """Each circuit's exact outcome distribution over its measured qubits, readout included.

        Returns one ``(probs, clbit_of)`` per circuit: ``probs`` float64 (2**m,), summing
        to 1, bit j of the index = outcome of the j-th measured qubit; ``clbit_of`` maps a
        clbit index to that bit position.
        """
        if not circuits:
            return []
        prepared = [_distribution_circuit(c) for c in circuits]
        sim = AerSimulator(**self._backend_options)
        result = sim.run([p[0] for p in prepared], shots=1, seed_simulator=draw_seed(rng)).result()
        if not result.success:
            raise BackendError(f"Aer failed: {result.status}")
        out: list[tuple[NDArray[np.float64], dict[int, int]]] = []
        for i, (_, measured, clbit_of) in enumerate(prepared):
            probs = np.asarray(result.data(i)[_PROBS_LABEL], dtype=np.float64)
            probs = self._apply_readout(probs, measured)
            probs = np.clip(probs, 0.0, None)
            probs /= probs.sum()
            out.append((probs, clbit_of))
        return out

    def _run_probabilities(
        self, circuits: Sequence[QuantumCircuit], shots: Sequence[int], *, rng: np.random.Generator
    ) -> list[Outcomes]:
        outcomes: list[Outcomes] = []
        exact = self._exact_probabilities(circuits, rng=rng)
        for circuit, count, (probs, clbit_of) in zip(circuits, shots, exact, strict=True):
            drawn = rng.choice(probs.size, size=int(count), p=probs)
            outcomes.append(_split_registers(circuit, drawn, clbit_of))
        return outcomes

    # -- exact joint distributions (the stream path of run_grouped) ---------
    @property
    def offers_distributions(self) -> bool:
        """True in ``mode="probabilities"``: :meth:`distributions` is available.

        :func:`~qkd_circuits.execution.base.run_grouped` then draws every exchange's
        outcome from the tabulated distributions; in ``mode="shots"`` Aer samples
        every shot and this is False.
        """
        return self.mode == "probabilities"

    def distributions(
        self, circuits: Sequence[QuantumCircuit], *, rng: np.random.Generator
    ) -> list[JointDistribution]:
        """Each circuit's exact joint outcome distribution over all its classical registers.

        Aer computes the measured qubits' probabilities once per circuit under the
        noise model (one ``SaveProbabilities`` shot), readout confusion applied.

        Args:
            circuits: Circuits with terminal measurements only.
            rng: Secret generator; draws the simulator seed (the density-matrix
                probabilities themselves are exact and draw nothing).

        Returns:
            One :class:`~qkd_circuits.execution.base.JointDistribution` per circuit.

        Raises:
            ConfigError: in ``mode="shots"``, or for a circuit that is not terminal-measured.
        """
        if not self.offers_distributions:
            raise ConfigError(
                f"AerExecutor(mode={self.mode!r}) samples shots; exact distributions need "
                "mode='probabilities'"
            )
        if self._needs_channel:
            self._check_channel(circuits)
        out: list[JointDistribution] = []
        exact = self._exact_probabilities(circuits, rng=rng)
        for circuit, (probs, clbit_of) in zip(circuits, exact, strict=True):
            joint = np.arange(probs.size, dtype=np.int64)
            out.append(
                JointDistribution(probs=probs, outcomes=_split_registers(circuit, joint, clbit_of))
            )
        return out

    def _apply_readout(
        self, probs: NDArray[np.float64], measured: list[int]
    ) -> NDArray[np.float64]:
        """Apply each measured qubit's confusion matrix to the outcome distribution.

        ``probs[idx]`` has bit j of ``idx`` = outcome of ``measured[j]``
        (little-endian, Aer's convention).
        """
        m = len(measured)
        tensor = probs.reshape((2,) * m)  # axis 0 is bit m-1 (C order)
        for j, qubit in enumerate(measured):
            confusion = self._confusion(qubit)
            if confusion is None:
                continue
            axis = m - 1 - j
            tensor = np.moveaxis(np.tensordot(tensor, confusion, axes=([axis], [0])), -1, axis)
        return tensor.reshape(-1)


def independent_batches(indices: Sequence[int], shots: Sequence[int]) -> list[list[int]]:
    """Split circuits into sampler calls whose outcomes are statistically independent.

    Aer's SamplerV2 runs the PUBs of one call grouped by shot count, one simulator
    run per shot count, and every one of those runs starts from the same seed.
    Groups of BB84 exchanges have different shot counts, so with one call their
    outcomes were drawn from the same random stream: groups with the same
    distribution came out with counts correlated at |r| ~ 0.99 (measured with
    qiskit-aer 0.18 over 60 seeds; PUBs of *equal* shot count, run together, were
    independent). So every circuit with more than one shot gets a call, and a
    seed, of its own; one-shot circuits (the literal path) share one call, where
    Aer gives each circuit its own seed.

    Args:
        indices: Indices of the circuits to run.
        shots: Shots of every circuit (indexed by the values in ``indices``).
    """
    single = [i for i in indices if shots[i] == 1]
    batches = [[i] for i in indices if shots[i] > 1]
    return batches + ([single] if single else [])


def _empty_outcomes(circuit: QuantumCircuit) -> Outcomes:
    return {c.name: np.zeros((0, c.size), dtype=np.uint8) for c in circuit.cregs}


def _distribution_circuit(
    circuit: QuantumCircuit,
) -> tuple[QuantumCircuit, list[int], dict[int, int]]:
    """Strip terminal measurements and save the measured qubits' probabilities instead.

    Returns the new circuit, the measured qubit indices (in the order of the
    saved distribution's bits) and a map clbit index -> position in that order.

    Raises:
        ConfigError: if a measured qubit is acted on after its measurement, a
            clbit is written twice, or the circuit has classical control flow.
    """
    stripped = circuit.copy_empty_like()
    measured: list[int] = []
    clbit_of: dict[int, int] = {}
    done: set[int] = set()
    for inst in circuit.data:
        qubits = [circuit.find_bit(q).index for q in inst.qubits]
        name = inst.operation.name
        if name == "measure":
            q, c = qubits[0], circuit.find_bit(inst.clbits[0]).index
            if c in clbit_of or q in done:
                raise ConfigError(
                    f"circuit {circuit.name!r}: mode='probabilities' needs each qubit measured "
                    f"once into its own clbit (qubit {q}, clbit {c})"
                )
            done.add(q)
            clbit_of[c] = len(measured)
            measured.append(q)
            continue
        if inst.clbits:
            raise ConfigError(
                f"circuit {circuit.name!r}: instruction {name!r} uses classical bits; "
                "mode='probabilities' needs all measurements terminal"
            )
        if name != "barrier" and done.intersection(qubits):
            raise ConfigError(
                f"circuit {circuit.name!r}: {name!r} acts on a measured qubit; "
                "mode='probabilities' needs all measurements terminal"
            )
        stripped.append(inst)
    stripped.append(SaveProbabilities(len(measured), label=_PROBS_LABEL), measured)
    return stripped, measured, clbit_of


def _split_registers(
    circuit: QuantumCircuit, drawn: NDArray[np.integer], clbit_of: dict[int, int]
) -> Outcomes:
    """Per-register bits (shots, size) from drawn outcome indices; unmeasured clbits read 0."""
    out: Outcomes = {}
    for creg in circuit.cregs:
        bits = np.zeros((drawn.size, creg.size), dtype=np.uint8)
        for j, clbit in enumerate(creg):
            pos = clbit_of.get(circuit.find_bit(clbit).index)
            if pos is not None:
                bits[:, j] = (drawn >> pos) & 1
        out[creg.name] = bits
    return out
