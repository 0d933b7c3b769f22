"""Quantum phase with and without sorting (issue 11): old grouped fast path vs the stream.

Both paths run BB84 with channel noise (depolarizing 0.02, readout 0.01) and
Eve intercept-resending every exchange, on ``AerExecutor(mode="probabilities")``:

* sorted   the previous fast path: group by code (stable argsort), draw each
           group's shots from Aer's exact distribution, scatter them back
           through a random permutation (forced by hiding ``distributions``);
* stream   the default now: tabulate each circuit's exact joint distribution
           once and draw every exchange's outcome by inverse CDF from one
           uniform of the secret generator; no sort, scatter or permutation.

The timed phase is what the runner times as "quantum": drawing the choices,
running the exchanges and building the raw records.

Usage: python benchmarks/bench_quantum_stream.py [--sizes 1000000,10000000] [--repeats 3]
Prints exchanges/s of both paths per size (whole quantum phase, and the exchanges
alone), their ratio and the QBER of each.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
from qiskit.circuit import QuantumCircuit

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.channel.noise import NoiseSpec, build_noise_model
from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.execution.base import Outcomes, run_grouped
from qkd_circuits.protocols.base import run_exchanges
from qkd_circuits.protocols.registry import get_protocol
from qkd_circuits.randomness import RunRandomness
from qkd_circuits.versions import package_versions

SEED = 20261202
NOISE = "depolarizing=0.02,readout=0.01"
EVE = "intercept-resend"


class SortedPath:
    """The same Aer executor without ``distributions``: run_grouped sorts and scatters."""

    def __init__(self, inner: AerExecutor):
        self.inner = inner
        self.name = inner.name

    def run(
        self, circuits: Sequence[QuantumCircuit], shots: Sequence[int], *, rng: np.random.Generator
    ) -> list[Outcomes]:
        return self.inner.run(circuits, shots, rng=rng)

    def describe(self) -> dict[str, object]:
        return self.inner.describe()


def quantum_rate(executor: object, qubits: int, repeats: int) -> tuple[float, ...]:
    """Best exchanges/s over ``repeats`` seeds (phase, exchanges, run_grouped) and QBER.

    "phase" is what the runner times as "quantum" (choices + exchanges + records);
    "exchanges" is :func:`run_exchanges` alone (codes + run_grouped + records);
    "grouped" is :func:`run_grouped` alone on precomputed codes, the part this
    issue changed.
    """
    protocol = get_protocol("bb84")
    eve = EveSpec.parse(EVE)
    best_phase, best_exchanges, best_grouped, qber = 0.0, 0.0, 0.0, float("nan")
    for i in range(repeats):
        streams = RunRandomness.for_run(SEED + i)
        start = time.perf_counter()
        choices = protocol.draw_choices(qubits, eve=eve, rng=streams.choices)
        middle = time.perf_counter()
        rec = run_exchanges(protocol, choices, executor, rng=streams.quantum)  # type: ignore[arg-type]
        stop = time.perf_counter()
        best_exchanges = max(best_exchanges, qubits / (stop - middle))
        if qubits / (stop - start) > best_phase:
            best_phase = qubits / (stop - start)
            sifted = rec.alice_bases == rec.bob_bases
            qber = float(np.mean(rec.alice_bits[sifted] != rec.bob_bits[sifted]))
        codes = choices.codes
        start = time.perf_counter()
        run_grouped(
            codes, protocol.circuit_for_code, protocol.registers, executor, rng=streams.quantum
        )  # type: ignore[arg-type]
        best_grouped = max(best_grouped, qubits / (time.perf_counter() - start))
    return best_phase, best_exchanges, best_grouped, qber


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    model = build_noise_model(NoiseSpec.parse(NOISE))
    paths = {"sorted": SortedPath(AerExecutor(model)), "stream": AerExecutor(model)}

    print(f"seed {SEED} (+ repeat index); noise {NOISE}; eve {EVE}; best of {args.repeats}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    quantum_rate(paths["stream"], 10_000, 1)  # warm up imports and Aer
    print(
        f"\n{'exchanges':>11} {'part':<9} {'sorted /s':>13} {'stream /s':>13} {'ratio':>6}"
        f" {'QBER sorted':>11} {'QBER stream':>11}"
    )
    for n in sizes:
        old = quantum_rate(paths["sorted"], n, args.repeats)
        new = quantum_rate(paths["stream"], n, args.repeats)
        for part, k in (("phase", 0), ("exchanges", 1), ("grouped", 2)):
            print(
                f"{n:>11,} {part:<9} {old[k]:>13,.0f} {new[k]:>13,.0f} {new[k] / old[k]:>6.2f}"
                f" {old[3]:>11.4f} {new[3]:>11.4f}"
            )
    print("\n(expected QBER with this noise and Eve: 0.2599)")


if __name__ == "__main__":
    main()
