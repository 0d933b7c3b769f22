"""Throughput of the post-processing stages other than Cascade.

Stages timed (input size n = the number of key bits entering the stage):

* estimation     estimate_qber on n sifted bits (sample fraction 0.1)
* verification   verify_keys on two equal n-bit keys (eps_cor = 1e-15)
* toeplitz-fft   toeplitz_hash, one party, out_len = n/2 (what each party computes)
* amplify        amplify on two equal keys (as after verification: one product, copied),
                 seed drawing included, out_len = n/2
* toeplitz-direct the O(n·m) matrix product (reference; small n only, the baseline of the ratio)
* authentication authenticate_transcript over the transcript of a full run of the stages
                 above (throughput in transcript bits)
* key-length     finite_key_length (per call)

Each figure is the best (and the median) of ``--repeats`` timed calls after one
untimed warm-up call. The machine is shared: medians move with its load.

Usage: python benchmarks/bench_postprocessing.py [--sizes 10000,100000,1000000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from qkd_circuits.postprocessing.amplification import amplify, toeplitz_hash, toeplitz_hash_direct
from qkd_circuits.postprocessing.authentication import authenticate_transcript
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import BasisSample, estimate_qber
from qkd_circuits.postprocessing.key_length import finite_key_length
from qkd_circuits.postprocessing.verification import verify_keys
from qkd_circuits.versions import package_versions

SEED = 20260412


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best and median wall time of ``fn`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def row(stage: str, bits: int, best: float, median: float, unit: str = "key bits") -> str:
    """One Markdown table row: throughput (Mbit/s) at the best and the median time."""
    return (
        f"| {stage:<15} | {bits:>10,} | {unit:<10} | {bits / best / 1e6:>8.1f} "
        f"| {bits / median / 1e6:>8.1f} | {best * 1e3:>9.2f} |"
    )


def full_run_channel(n: int, rng: np.random.Generator) -> PublicChannel:
    """A channel carrying estimation, verification and amplification of an n-bit key."""
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice ^ (rng.random(n) < 0.02).astype(np.uint8)
    bases = rng.integers(0, 2, n, dtype=np.uint8)
    channel = PublicChannel()
    est = estimate_qber(alice, bob, bases=bases, channel=channel, rng=rng)
    verify_keys(est.key_alice, est.key_alice, channel=channel, rng=rng)
    amplify(est.key_alice, est.key_alice, out_len=est.key_length // 2, channel=channel, rng=rng)
    return channel


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--direct-size", type=int, default=10_000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(SEED)

    print(f"seed {SEED}; repeats {args.repeats} (+1 warm-up)")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    print()
    print(
        "| stage           | input bits | input      | Mbit/s (best) | Mbit/s (median) | best ms |"
    )
    print("|-----------------|-----------:|------------|---------:|---------:|----------:|")

    nd = args.direct_size
    key = rng.integers(0, 2, nd, dtype=np.uint8)
    seed_bits = rng.integers(0, 2, nd + nd // 2 - 1, dtype=np.uint8)
    direct_best, direct_med = timed(lambda: toeplitz_hash_direct(key, seed_bits, nd // 2), 3)
    print(row("toeplitz-direct", nd, direct_best, direct_med))
    fft_small, _ = timed(lambda: toeplitz_hash(key, seed_bits, nd // 2), args.repeats)

    for n in sizes:
        alice = rng.integers(0, 2, n, dtype=np.uint8)
        bob = alice ^ (rng.random(n) < 0.02).astype(np.uint8)
        bases = rng.integers(0, 2, n, dtype=np.uint8)
        seed_bits = rng.integers(0, 2, n + n // 2 - 1, dtype=np.uint8)
        m = n // 2
        stages: list[tuple[str, Callable[[], object]]] = [
            ("estimation", partial(estimate_qber, alice, bob, bases=bases, rng=rng)),
            ("verification", partial(verify_keys, alice, alice.copy(), rng=rng)),
            ("toeplitz-fft", partial(toeplitz_hash, alice, seed_bits, m)),
            ("amplify", partial(amplify, alice, alice.copy(), out_len=m, rng=rng)),
        ]
        for name, fn in stages:
            best, med = timed(fn, args.repeats)
            print(row(name, n, best, med))

        channel = full_run_channel(n, rng)
        transcript_bits = 8 * len(channel.transcript())
        snapshot = list(channel.messages)

        def authenticate(messages: list = snapshot) -> None:
            ch = PublicChannel()
            for msg in messages:
                ch.send(msg.stage, msg.sender, msg.payload, leaked_bits=msg.leaked_bits)
            authenticate_transcript(ch, rng=rng)

        best, med = timed(authenticate, args.repeats)
        print(row("authentication", transcript_bits, best, med, "transcript"))

    calls = 100
    samples = {
        b: BasisSample(basis=b, sifted_bits=500_000, sample_bits=50_000, sample_errors=1_000)
        for b in "ZX"
    }
    start = time.perf_counter()
    for _ in range(calls):
        finite_key_length(
            samples, leaked_ec=160_000, eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=0.11
        )
    per_call = (time.perf_counter() - start) / calls
    print(f"\nkey-length: finite_key_length {per_call * 1e6:.1f} µs per call")
    print(
        f"toeplitz-fft vs direct at n = {nd:,}, out_len = {nd // 2:,}: "
        f"{direct_best / fft_small:.0f}x faster"
    )


if __name__ == "__main__":
    main()
