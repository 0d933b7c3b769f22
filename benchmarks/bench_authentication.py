"""Wegman–Carter tag throughput: the old block-by-block Horner loop against the blocked numpy path.

Both compute ``wegman_carter_tag`` of the same random transcript with the same key:
the reference hashes with ``verification.polynomial_hash`` (one ``int.from_bytes``
and one big-int multiply per block, what ``wegman_carter_tag`` did before issue 11),
the new path with ``authentication._polynomial_hash_fast`` (exact float64 products
of row bytes with limb weights, Horner over rows). Each rate is the best of
``--repeats`` timed calls; the tags are checked equal at every size.

Usage: python benchmarks/bench_authentication.py [--sizes 10000,1000000,10000000]
       [--exponents 61,89] [--repeats 3] [--seed 20261202]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from qkd_circuits.postprocessing.authentication import (
    PresharedKeyReader,
    WegmanCarterKey,
    wegman_carter_tag,
)
from qkd_circuits.postprocessing.verification import PolynomialHashFamily, polynomial_hash
from qkd_circuits.versions import package_versions

SEED = 20261202


def reference_tag(message: bytes, key: WegmanCarterKey) -> tuple[int, ...]:
    """The tag as computed before issue 11 (pure-Python Horner over blocks)."""
    p = key.family.prime
    hashes = polynomial_hash(message, 8 * len(message), key.hash_keys, key.family)
    return tuple((h + s) % p for h, s in zip(hashes, key.pads, strict=True))


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000,10000000", help="transcript bytes")
    parser.add_argument("--exponents", default="61,89", help="Mersenne exponents e")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    exponents = [int(e) for e in args.exponents.split(",")]
    rng = np.random.default_rng(args.seed)

    print(f"seed {args.seed}, best of {args.repeats}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    print()
    print("| field | r | bytes | reference MB/s | new MB/s | new / reference |")
    print("|---|---:|---:|---:|---:|---:|")
    for exponent in exponents:
        family = PolynomialHashFamily(exponent=exponent, repetitions=1)
        key = WegmanCarterKey.draw(family, PresharedKeyReader(rng=rng))
        for size in sizes:
            message = rng.bytes(size)
            if wegman_carter_tag(message, key) != reference_tag(message, key):
                raise SystemExit(f"tags differ at e={exponent}, {size} bytes")
            t_ref = best_time(lambda: reference_tag(message, key), args.repeats)  # noqa: B023
            t_new = best_time(lambda: wegman_carter_tag(message, key), args.repeats)  # noqa: B023
            print(
                f"| 2^{exponent}-1 | 1 | {size:,} | {size / t_ref / 1e6:.1f} | "
                f"{size / t_new / 1e6:.1f} | {t_ref / t_new:.1f}x |"
            )


if __name__ == "__main__":
    main()
