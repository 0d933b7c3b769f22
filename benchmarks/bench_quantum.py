"""Throughput of BB84's quantum phase (circuit build + execution) on Aer.

Every exchange has channel noise (depolarizing 0.02, readout 0.01) and Eve
intercept-resends every exchange, so each run uses all 16 Eve configurations.
Paths:

* aer          grouped circuits, exact distributions from Aer, shots drawn by numpy (default)
* aer-shots    grouped circuits, Aer's SamplerV2 samples every shot
* aer-literal  one circuit per exchange (the naive path; the baseline of the ratios)

Usage: python benchmarks/bench_quantum.py [--sizes 10000,100000,1000000] [--repeats 3]
Prints exchanges/s per path and size, and the ratio to the literal path at 10^4.
"""

from __future__ import annotations

import argparse
import time

from qkd_circuits.runner import run
from qkd_circuits.versions import package_versions

SEED = 20261127
NOISE = "depolarizing=0.02,readout=0.01"
EVE = "intercept-resend"


def quantum_rate(backend: str, qubits: int, repeats: int) -> tuple[float, float]:
    """Best exchanges/s of the quantum phase over ``repeats`` runs, and that run's QBER."""
    best, qber = 0.0, float("nan")
    for i in range(repeats):
        report = run(qubits=qubits, noise=NOISE, eve=EVE, seed=SEED + i, backend=backend)
        rate = qubits / report.timings_s["quantum"]
        if rate > best:
            best, qber = rate, report.qber_actual
    return best, qber


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--literal-size", type=int, default=10_000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"seed {SEED}; noise {NOISE}; eve {EVE}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    start = time.perf_counter()
    baseline, qber = quantum_rate("aer-literal", args.literal_size, 1)
    print(f"\n{'path':<12} {'exchanges':>10} {'exchanges/s':>14} {'x literal':>10} {'QBER':>8}")
    print(
        f"{'aer-literal':<12} {args.literal_size:>10,} {baseline:>14,.0f} {1.0:>10.1f} {qber:>8.4f}"
    )
    for backend in ("aer-shots", "aer"):
        for n in sizes:
            rate, qber = quantum_rate(backend, n, args.repeats)
            print(f"{backend:<12} {n:>10,} {rate:>14,.0f} {rate / baseline:>10.1f} {qber:>8.4f}")
    elapsed = time.perf_counter() - start
    print(f"\n(expected QBER with this noise and Eve: 0.2599; total time {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
