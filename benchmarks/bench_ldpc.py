"""LDPC reconciliation: efficiency and frame error rate vs QBER, beside Cascade; throughput.

Efficiency (both frame sizes, 10^4 and 10^5): for every QBER Q, one seeded key of
``--frames`` × n bits (each of Bob's bits flipped with probability Q; the same key
for every method). LDPC (rate-adaptive, and blind) cuts it into its own frames;
Cascade (``--cascade`` variants, the best one reported) reconciles it in frames of
n bits. Reported per cell:

* ``f``: ``leaked / (N · h(Q_key))`` with Q_key the key's actual error rate;
* ``FER``: frames that failed / frames (LDPC: failed to decode, and frames whose
  decoded bits differ from Alice's, which the benchmark alone can see), with the
  95 % Clopper–Pearson upper bound;
* ``msgs``: messages per frame.

Every method is told the true Q. Throughput: ``reconcile_ldpc`` (frames decoded in
one process per CPU) and Cascade on one 10^6-bit key at Q = 2 %, wall time, the same
key, in this run.

Usage: python benchmarks/bench_ldpc.py [--frames 10] [--sizes 10000,100000]
       [--qbers 0.01,0.02,0.04,0.06,0.08,0.10] [--output PATH]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import beta

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.reconciliation import reconcile_cascade, reconcile_ldpc
from qkd_circuits.postprocessing.reconciliation.ldpc_codes import build_code_cache
from qkd_circuits.versions import package_versions

sys.path.insert(0, str(Path(__file__).parent))
from bench_cascade import frame

SEED = 20261201
QBERS = (0.01, 0.02, 0.04, 0.06, 0.08, 0.10)


def upper_95(failures: int, frames: int) -> float:
    """One-sided 95 % Clopper–Pearson upper bound on a rate."""
    return 1.0 if failures >= frames else float(beta.ppf(0.95, failures + 1, frames - failures))


def ldpc_cell(a: np.ndarray, b: np.ndarray, q: float, n: int, blind: bool) -> str:
    start = time.perf_counter()
    res = reconcile_ldpc(a, b, qber=q, frame_bits=n, blind=blind, secret_rng=SEED)
    seconds = time.perf_counter() - start
    st = res.ldpc
    bounds = np.cumsum([0, *st.frame_key_bits])
    wrong = sum(
        int(np.any(res.corrected[lo:hi] != a[lo:hi])) for lo, hi in itertools.pairwise(bounds)
    )
    f = res.leaked_bits / (a.size * float(binary_entropy(float(np.mean(a != b)))))
    return (
        f"{f:.3f} / {wrong}/{st.frames} (≤ {upper_95(wrong, st.frames):.2g}) / "
        f"{res.messages / st.frames:.1f} [{seconds:.0f} s]"
    )


def cascade_cell(a: np.ndarray, b: np.ndarray, q: float, n: int, variants: list[str]) -> str:
    best: tuple[float, str, int, int, float] | None = None
    h = float(binary_entropy(float(np.mean(a != b))))
    for variant in variants:
        leaked = wrong = msgs = 0
        frames = a.size // n
        for i in range(frames):
            lo, hi = i * n, (i + 1) * n
            res = reconcile_cascade(a[lo:hi], b[lo:hi], qber=q, variant=variant, rng=SEED + i)
            leaked += res.leaked_bits
            msgs += res.messages
            wrong += int(np.any(res.corrected != a[lo:hi]))
        f = leaked / (frames * n * h)
        if best is None or f < best[0]:
            best = (f, variant, wrong, frames, msgs / frames)
    assert best is not None
    f, variant, wrong, frames, per_frame = best
    return f"{f:.3f} / {wrong}/{frames} / {per_frame:.0f} ({variant})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--qbers", default=",".join(str(q) for q in QBERS))
    parser.add_argument("--cascade", default="biconf,option7")
    parser.add_argument("--throughput-bits", type=int, default=1_000_000)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    qbers = [float(q) for q in args.qbers.split(",")]
    variants = args.cascade.split(",")
    lines: list[str] = []

    def out(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    start = time.perf_counter()
    build_code_cache(sizes=tuple(sizes))
    out(f"- seed {SEED}; {args.frames} × n key bits per cell; codes built/loaded in "
        f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    out(f"- versions: {package_versions()}")
    out(f"- machine: {platform.machine()}, {platform.system()}")
    out()
    root = np.random.SeedSequence(SEED)
    for n in sizes:
        out(f"### n = {n:,}: f / frame errors (95 % upper bound) / messages per frame")
        out()
        out("| Q | LDPC | LDPC blind | Cascade best |")
        out("|---|---|---|---|")
        for q, child in zip(qbers, root.spawn(len(qbers)), strict=True):
            a, b = frame(args.frames * n, q, child)
            cells = [
                ldpc_cell(a, b, q, n, blind=False),
                ldpc_cell(a, b, q, n, blind=True),
                cascade_cell(a, b, q, n, variants),
            ]
            out(f"| {q:.0%} | " + " | ".join(cells) + " |")
        out()
    # Throughput at Q = 2 %, one key for every method.
    q = 0.02
    a, b = frame(args.throughput_bits, q, np.random.SeedSequence(SEED + 1))
    out(f"### Throughput, {args.throughput_bits:,}-bit key, Q = 2 %")
    out()
    out("| method | s | Mbit/s | f |")
    out("|---|---:|---:|---:|")
    h = float(binary_entropy(float(np.mean(a != b))))
    runs = [
        ("ldpc (2 processes)", lambda: reconcile_ldpc(a, b, qber=q, secret_rng=SEED)),
        ("ldpc (1 process)", lambda: reconcile_ldpc(a, b, qber=q, secret_rng=SEED, parallel=False)),
        ("cascade:original", lambda: reconcile_cascade(a, b, qber=q, rng=SEED)),
        ("cascade:biconf", lambda: reconcile_cascade(a, b, qber=q, variant="biconf", rng=SEED)),
    ]
    for name, call in runs:
        t0 = time.perf_counter()
        res = call()
        dt = time.perf_counter() - t0
        f = res.leaked_bits / (a.size * h)
        out(f"| {name} | {dt:.2f} | {a.size / dt / 1e6:.3f} | {f:.3f} |")
    if args.output:
        args.output.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
