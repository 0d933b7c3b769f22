"""Quantum-phase throughput of every registered protocol, against BB84 measured in the same run.

Each protocol runs its fast path (``backend="aer"``: grouped circuits, exact
distributions) on the same channel (depolarizing 0.02, readout 0.01), with and
without a full intercept-resend Eve. The rate is exchanges per second of the
quantum phase (circuit build + execution + scatter); the ratio is against BB84
at the same size and Eve setting. The goal for every protocol: ratio >= 0.5.

Usage: python benchmarks/bench_protocols.py [--qubits 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

from qkd_circuits.protocols.registry import PROTOCOLS
from qkd_circuits.runner import run
from qkd_circuits.versions import package_versions

SEED = 20261202
NOISE = "depolarizing=0.02,readout=0.01"


def quantum_rate(protocol: str, qubits: int, eve: str, repeats: int) -> tuple[float, float]:
    """Best exchanges/s of the quantum phase over ``repeats`` seeded runs, and its QBER."""
    best, qber = 0.0, float("nan")
    for i in range(repeats):
        report = run(protocol, qubits=qubits, noise=NOISE, eve=eve, seed=SEED + i)
        rate = qubits / report.timings_s["quantum"]
        if rate > best:
            best, qber = rate, report.qber_actual
    return best, qber


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"seed {SEED}; noise {NOISE}; {args.qubits:,} exchanges; best of {args.repeats}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    start = time.perf_counter()
    print(f"\n{'protocol':<10} {'eve':<17} {'exchanges/s':>12} {'x BB84':>7} {'QBER':>8}")
    for eve in ("none", "intercept-resend"):
        measured = {name: quantum_rate(name, args.qubits, eve, args.repeats) for name in PROTOCOLS}
        baseline = measured[PROTOCOLS[0]][0]
        for name, (rate, qber) in measured.items():
            print(f"{name:<10} {eve:<17} {rate:>12,.0f} {rate / baseline:>7.2f} {qber:>8.4f}")
    print(f"\n(total time {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
