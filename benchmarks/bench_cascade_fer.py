"""Cascade frame error rate (FER) and efficiency per variant and QBER, before and after the fix.

For every variant and every QBER Q (default 0.1, 0.5, 1, 2, 5, 10 %): ``--frames``
seeded frames (default 1,000) of ``--n`` bits (default 10^4; each bit of Bob's key
flipped with probability Q; every variant sees the same frames).

The QBER given to Cascade (``--estimate``):

* ``sample`` (default): what the pipeline passes, the error rate of a disclosed
  sample of ``k = round(n · s / (1 − s))`` further bits, ``s = --sample-fraction``
  (0.1: the sample is 10 % of a sifted key of n / 0.9 bits): ``Binomial(k, Q) / k``.
  At n = 10^4, Q = 0.1 % it is 0 in a third of the frames;
* ``true``: Q itself.

Each frame is reconciled once, with the default confirmation stage
(``reconcile_cascade(confirm=None)``). The paper's variant (``confirm=0``, the
behaviour before the fix) runs the same passes with the same shuffles up to the
point where it stops, and the confirmation stage only adds passes after it, so
its result on the same frame is read off the same run: it discloses
``leaked_bits − confirmation_bits`` and leaves errors exactly when the frame
still has errors or the confirmation stage corrected some
(``confirmation_flips > 0``). ``tests/postprocessing/test_cascade.py::
test_confirmation_only_extends_the_paper_transcript`` checks this equivalence.

Reported per (variant, Q):

* ``FER``: frames left with errors / frames, and for the default its one-sided
  95 % Clopper–Pearson upper bound (3.0e-3 with 0 failures in 1,000 frames:
  1,000 frames can show FER ≤ 1e-3, not resolve 1e-4);
* ``f``: mean of ``leaked / (n · h(Q_frame))`` with ``Q_frame`` the frame's own
  error rate (arXiv:1407.3257), ± standard error; frames without errors are
  left out of the mean (h = 0);
* ``BICONF``: mean BICONF passes (the confirmation stage, and ``biconf``'s own);
* ``frames/s``: frames reconciled per second of one worker (the machine is
  shared; rates move with its load).

Usage: python benchmarks/bench_cascade_fer.py [--frames 1000] [--n 10000]
       [--estimate sample|true] [--jobs 2] [--output PATH]
Default run: 42 cells × 1,000 frames of 10^4 bits, about 6 minutes on 2 cores
(most of it options 7 and 8 at Q ≥ 5 %, 15–25 frames/s per core).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import beta

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.reconciliation import (
    CASCADE_VARIANTS,
    get_cascade_variant,
    reconcile_cascade,
)
from qkd_circuits.versions import package_versions

SEED = 20261201
QBERS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.10)
TARGET_FER = 1e-3


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """Results of one (variant, Q) cell."""

    variant: str
    qber: float
    frames: int
    fail_paper: int
    fail_default: int
    f_paper: float
    f_paper_se: float
    f_default: float
    f_default_se: float
    biconf_passes: float
    seconds: float


def upper_95(failures: int, frames: int) -> float:
    """One-sided 95 % Clopper–Pearson upper bound on a binomial rate."""
    return 1.0 if failures >= frames else float(beta.ppf(0.95, failures + 1, frames - failures))


def streak(variant: str) -> int:
    """Clean BICONF passes the variant ends with by default (its own and the confirmation's)."""
    spec = get_cascade_variant(variant)
    return max(spec.biconf_streak, spec.confirm_streak)


def mean_se(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return (float(x.mean()) if x.size else math.nan), math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def run_cell(
    variant: str, qber: float, qi: int, n: int, frames: int, seed: int, estimate: str, k: int
) -> Cell:
    """Reconcile ``frames`` frames; frame ``i`` of Q index ``qi`` is the same for every variant."""
    root = np.random.SeedSequence(seed, spawn_key=(qi,))
    f_paper = np.full(frames, math.nan)
    f_default = np.full(frames, math.nan)
    fail_paper = fail_default = 0
    biconf = 0
    start = time.perf_counter()
    for i, child in enumerate(root.spawn(frames)):
        frame_seq, sample_seq, cascade_seq = child.spawn(3)
        frame_rng = np.random.default_rng(frame_seq)
        alice = frame_rng.integers(0, 2, n, dtype=np.uint8)
        errors = (frame_rng.random(n) < qber).astype(np.uint8)
        if estimate == "sample":
            q_est = int(np.random.default_rng(sample_seq).binomial(k, qber)) / k
        else:
            q_est = qber
        res = reconcile_cascade(
            alice,
            alice ^ errors,
            qber=min(q_est, 0.49),
            variant=variant,
            rng=np.random.default_rng(cascade_seq),
        )
        stats = res.cascade
        assert stats is not None
        left = int(np.count_nonzero(res.corrected ^ alice))
        fail_default += left > 0
        fail_paper += left + stats.confirmation_flips > 0
        biconf += stats.biconf_passes
        h = float(binary_entropy(float(errors.mean())))
        if h > 0:
            f_default[i] = res.leaked_bits / (n * h)
            f_paper[i] = (res.leaked_bits - stats.confirmation_bits) / (n * h)
    seconds = time.perf_counter() - start
    fp, fp_se = mean_se(f_paper)
    fd, fd_se = mean_se(f_default)
    return Cell(
        variant=variant,
        qber=qber,
        frames=frames,
        fail_paper=fail_paper,
        fail_default=fail_default,
        f_paper=fp,
        f_paper_se=fp_se,
        f_default=fd,
        f_default_se=fd_se,
        biconf_passes=biconf / frames,
        seconds=seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames per (variant, Q)")
    parser.add_argument("--n", type=int, default=10_000, help="frame length in bits")
    parser.add_argument("--qbers", default=",".join(str(q) for q in QBERS))
    parser.add_argument("--variants", default=",".join(CASCADE_VARIANTS))
    parser.add_argument("--estimate", choices=("sample", "true"), default="sample")
    parser.add_argument("--sample-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    qbers = [float(q) for q in args.qbers.split(",")]
    variants = args.variants.split(",")
    for v in variants:
        get_cascade_variant(v)  # fail early on a typo
    s = args.sample_fraction
    k = max(1, round(args.n * s / (1 - s)))

    versions = package_versions()
    estimate = (
        f"sample estimate Binomial({k}, Q)/{k} (sample fraction {s})"
        if args.estimate == "sample"
        else "the true Q"
    )
    header = [
        f"seed {args.seed}; n = {args.n:,} bits, {args.frames:,} frames per cell; "
        f"QBER given to Cascade: {estimate}",
        "versions: " + ", ".join(f"{name} {v}" for name, v in versions.items()),
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, {platform.system()}; "
        f"{args.jobs} worker processes",
        "command: python " + " ".join(["benchmarks/bench_cascade_fer.py", *sys.argv[1:]]),
        "confirmation streak per variant: " + ", ".join(f"{v} {streak(v)}" for v in variants),
    ]
    for line in header:
        print(line, flush=True)

    tasks = [
        (v, q, qi, args.n, args.frames, args.seed, args.estimate, k)
        for v in variants
        for qi, q in enumerate(qbers)
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_cell, *t) for t in tasks]
        for done, fut in enumerate(as_completed(futures), 1):
            c = fut.result()
            print(
                f"  [{done}/{len(tasks)}] {c.variant} Q = {c.qber:.1%}: failures "
                f"{c.fail_paper} → {c.fail_default}, f {c.f_paper:.3f} → {c.f_default:.3f} "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        cells = [fut.result() for fut in futures]
    elapsed = time.perf_counter() - t0

    rows = [
        "| variant | Q | paper FER | default FER (95 % upper) | paper f | default f | Δf "
        "| BICONF | frames/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        rows.append(
            f"| {c.variant} | {c.qber:.1%} | {c.fail_paper}/{c.frames} "
            f"| {c.fail_default}/{c.frames} (≤ {upper_95(c.fail_default, c.frames):.1e}) "
            f"| {c.f_paper:.3f} ± {c.f_paper_se:.3f} | {c.f_default:.3f} ± {c.f_default_se:.3f} "
            f"| {c.f_default - c.f_paper:+.3f} | {c.biconf_passes:.1f} "
            f"| {c.frames / c.seconds:.0f} |"
        )
    by = {(c.variant, c.qber): c for c in cells}
    summary = [
        "| variant | " + " | ".join(f"Q = {q:.1%}" for q in qbers) + " |",
        "|---|" + "---:|" * len(qbers),
    ]
    for v in variants:
        summary.append(
            f"| {v} | "
            + " | ".join(
                f"{by[v, q].fail_paper} → {by[v, q].fail_default}; "
                f"{by[v, q].f_paper:.3f} → {by[v, q].f_default:.3f}"
                for q in qbers
            )
            + " |"
        )
    total_frames = sum(c.frames for c in cells)
    worst = max(cells, key=lambda c: c.fail_default)
    verdict = (
        f"target FER ≤ {TARGET_FER:g} in every cell: "
        + ("met" if all(c.fail_default <= TARGET_FER * c.frames for c in cells) else "NOT met")
        + f" (most failures in a cell: {worst.fail_default}/{worst.frames}, "
        f"{worst.variant} at Q = {worst.qber:.1%}; total "
        f"{sum(c.fail_paper for c in cells)} → {sum(c.fail_default for c in cells)} "
        f"failures in {total_frames:,} frames)"
    )
    text = [
        "# Cascade frame error rate and efficiency",
        "",
        *[f"- {line}" for line in header],
        f"- {total_frames:,} frames in {elapsed:.0f} s ({total_frames / elapsed:.0f} frames/s "
        f"over {args.jobs} workers)",
        "",
        "Failures (frames left with errors) paper → default; f paper → default:",
        "",
        *summary,
        "",
        "Per cell (paper = the variant of arXiv:1407.3257, `confirm=0`; default = with the "
        "confirmation streak; f = leaked / (n·h(Q_frame)) ± s.e.):",
        "",
        *rows,
        "",
        verdict,
    ]
    print("\n" + "\n".join(text))
    if args.output is not None:
        args.output.write_text("\n".join(text) + "\n", encoding="utf-8")
        print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
