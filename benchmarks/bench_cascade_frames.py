"""Cascade on long keys: one frame against frames of 2^20-2^21 bits (``FRAME_BITS``).

For each key length, one seeded key pair (each of Bob's bits flipped with
probability ``--qber``) is reconciled twice with ``reconcile_cascade``: as one
frame (``frame_bits=n``, the baseline, measured in the same run) and in the
default frames. Printed per size: wall time (best of ``--repeats``), Mbit/s of
key reconciled, efficiency f = leaked / (n h(Q_key)) with the key's own error
rate, round trips, and the speed ratio. Both must correct every error.

Usage: python benchmarks/bench_cascade_frames.py [--sizes 1000000,4500000,10000000]
       [--qber 0.02] [--repeats 3] [--seed 20261202]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.reconciliation import reconcile_cascade
from qkd_circuits.postprocessing.reconciliation.cascade import FRAME_BITS, frame_bounds
from qkd_circuits.versions import package_versions

SEED = 20261202


def measure(
    alice: np.ndarray, bob: np.ndarray, qber: float, frame_bits: int, repeats: int
) -> tuple[float, float, int]:
    """Best wall time, efficiency and round trips of reconciling ``bob`` to ``alice``."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = reconcile_cascade(alice, bob, qber=qber, rng=SEED, frame_bits=frame_bits)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    if not np.array_equal(result.corrected, alice):
        raise SystemExit(f"frame_bits={frame_bits}: errors left after reconciliation")
    q_key = float(np.mean(alice != bob))
    f = result.leaked_bits / (alice.size * float(binary_entropy(q_key)))
    return best, f, result.round_trips


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,4500000,10000000", help="key bits")
    parser.add_argument("--qber", type=float, default=0.02)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(f"seed {args.seed}, QBER {args.qber}, best of {args.repeats}, FRAME_BITS {FRAME_BITS}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    print()
    print(
        "| bits | frames | one frame s | Mbit/s | f | round trips "
        "| framed s | Mbit/s | f | round trips | speed-up |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        alice = rng.integers(0, 2, n, dtype=np.uint8)
        bob = alice ^ (rng.random(n) < args.qber).astype(np.uint8)
        t1, f1, r1 = measure(alice, bob, args.qber, n, args.repeats)
        t2, f2, r2 = measure(alice, bob, args.qber, FRAME_BITS, args.repeats)
        frames = len(frame_bounds(n)) - 1
        print(
            f"| {n:,} | {frames} | {t1:.2f} | {n / t1 / 1e6:.2f} | {f1:.3f} | {r1} "
            f"| {t2:.2f} | {n / t2 / 1e6:.2f} | {f2:.3f} | {r2} | {t1 / t2:.2f}x |"
        )


if __name__ == "__main__":
    main()
