"""Cascade reconciliation: efficiency table and throughput table, with an optional reference.

Efficiency (arXiv:1407.3257, Figs. 1, 9-11): for every variant and every QBER
Q, ``--runs`` seeded frames of ``--n`` bits (each bit of Bob's key flipped with
probability Q; every variant sees the same frames). Reported per cell:

* ``f``: mean of ``leaked / (n · h(Q_frame))`` with Q_frame the frame's own error
  rate (as in the paper), ± its standard error;
* ``FER``: fraction of frames left with errors;
* ``msgs``: mean number of messages on the channel (round trips = msgs / 2).

Cascade is given the true Q as its estimate. ``--confirm`` sets the confirmation
streak (``reconcile_cascade(confirm=...)``): ``default`` (each variant's own, the
library default), or a number; ``--confirm 0`` runs the paper's variants unchanged,
as the tables recorded in benchmarks/README.md before the confirmation stage did.
Frame error rates over ≥ 1,000 frames per point: ``bench_cascade_fer.py``.

Throughput: wall time of ``reconcile_cascade`` on one core for ``--throughput-n``
bits at Q = 2 %, median and best of ``--throughput-runs`` calls after one warm-up,
as Mbit/s of key reconciled (the machine is shared: medians move with its load).

Reference (optional): brunorijsman/cascade-python, a pure-Python implementation
with the same variant names, measured side by side on the same frames when its
``cascade`` package can be imported, from ``--cascade-python DIR`` (a checkout
containing ``cascade/``) or the environment variable ``CASCADE_PYTHON``. Only
timed and its leakage read here; nothing of it is part of this repository.

Usage: python benchmarks/bench_cascade.py [--runs 100] [--n 10000]
       [--cascade-python DIR] [--output PATH]
Prints the tables as Markdown (recorded in benchmarks/README.md); --output also writes them.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.reconciliation import CASCADE_VARIANTS, reconcile_cascade
from qkd_circuits.versions import package_versions

SEED = 20260419
QBERS = (0.01, 0.02, 0.05, 0.08, 0.10)
THROUGHPUT_QBER = 0.02


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """Statistics of one (variant, Q) cell of the efficiency table."""

    f_mean: float
    f_se: float
    fer: float
    failures: int
    runs: int
    messages: float


def frame(n: int, q: float, seed_seq: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """Alice's key and Bob's noisy copy (BSC with crossover q), from one seed sequence."""
    rng = np.random.default_rng(seed_seq)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    return alice, alice ^ (rng.random(n) < q).astype(np.uint8)


def efficiency_cell(
    variant: str, n: int, q: float, runs: int, root: np.random.SeedSequence, confirm: int | None
) -> Cell:
    """Run ``runs`` frames (children of ``root``: the same frames for every variant)."""
    f = np.empty(runs)
    msgs = np.empty(runs)
    failures = 0
    for i, child in enumerate(root.spawn(runs)):
        frame_seed, cascade_seed = child.spawn(2)
        alice, bob = frame(n, q, frame_seed)
        res = reconcile_cascade(
            alice,
            bob,
            qber=q,
            variant=variant,
            rng=np.random.default_rng(cascade_seed),
            confirm=confirm,
        )
        q_frame = float(np.count_nonzero(alice ^ bob)) / n
        h = float(binary_entropy(q_frame))
        f[i] = res.leaked_bits / (n * h) if h > 0 else math.nan
        msgs[i] = res.messages
        failures += not np.array_equal(res.corrected, alice)
    valid = f[np.isfinite(f)]  # frames with no error at all have no h(Q_frame)
    se = float(valid.std(ddof=1) / math.sqrt(valid.size)) if valid.size > 1 else math.nan
    return Cell(
        f_mean=float(valid.mean()) if valid.size else math.nan,
        f_se=se,
        fer=failures / runs,
        failures=failures,
        runs=runs,
        messages=float(msgs.mean()),
    )


def time_ours(
    variant: str, alice: np.ndarray, bob: np.ndarray, runs: int, confirm: int | None
) -> list[float]:
    kwargs: dict[str, Any] = {"qber": THROUGHPUT_QBER, "variant": variant, "confirm": confirm}
    reconcile_cascade(alice, bob, rng=0, **kwargs)  # warm-up
    times = []
    for seed in range(1, runs + 1):
        start = time.perf_counter()
        reconcile_cascade(alice, bob, rng=seed, **kwargs)
        times.append(time.perf_counter() - start)
    return times


# --------------------------------------------------------------------------- reference
def load_cascade_python(path: str | None) -> dict[str, ModuleType] | None:
    """Import cascade-python's modules from ``path`` (or as installed); None if unavailable."""
    if path:
        if not (Path(path) / "cascade" / "reconciliation.py").is_file():
            print(f"cascade-python: no cascade/reconciliation.py under {path!r}; skipped")
            return None
        sys.path.insert(0, str(Path(path).resolve()))
    try:
        mods = {
            name: importlib.import_module(f"cascade.{name}")
            for name in ("key", "mock_classical_channel", "reconciliation", "shuffle")
        }
    except ImportError as exc:
        print(f"cascade-python: not importable ({exc}); skipped")
        return None
    return mods


def run_reference(
    mods: dict[str, ModuleType], variant: str, alice: np.ndarray, bob: np.ndarray, seed: int
) -> tuple[float, int, bool]:
    """One cascade-python reconciliation: (seconds, parities disclosed, success)."""
    key_cls = mods["key"].Key
    # Its random generators are class attributes; seed them for a reproducible run.
    key_cls._random.seed(seed)
    mods["shuffle"].Shuffle._shuffle_seed_random_generator.seed(seed)

    def to_key(bits: np.ndarray) -> Any:
        key = key_cls()
        key._size = int(bits.size)
        key._bits = dict(enumerate(bits.tolist()))
        return key

    correct, noisy = to_key(alice), to_key(bob)
    channel = mods["mock_classical_channel"].MockClassicalChannel(correct)
    recon = mods["reconciliation"].Reconciliation(variant, channel, noisy, THROUGHPUT_QBER)
    start = time.perf_counter()
    out = recon.reconcile()
    seconds = time.perf_counter() - start
    ok = [out._bits[i] for i in range(out._size)] == alice.tolist()
    return seconds, int(recon.stats.ask_parity_blocks), ok


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="frames per (variant, Q) cell")
    parser.add_argument("--n", type=int, default=10_000, help="frame length, efficiency table")
    parser.add_argument("--qbers", default=",".join(str(q) for q in QBERS))
    parser.add_argument("--variants", default=",".join(CASCADE_VARIANTS))
    parser.add_argument("--throughput-n", type=int, default=100_000)
    parser.add_argument("--throughput-runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--confirm", default="default", help="confirmation streak: default, or 0 (the paper's)"
    )
    parser.add_argument("--cascade-python", default=os.environ.get("CASCADE_PYTHON"))
    parser.add_argument("--reference-runs", type=int, default=2, help="cascade-python runs")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    qbers = [float(q) for q in args.qbers.split(",")]
    variants = args.variants.split(",")
    confirm = None if args.confirm == "default" else int(args.confirm)

    versions = package_versions()
    header = [
        f"seed {args.seed}; efficiency: n = {args.n:,}, {args.runs} frames per cell; "
        f"throughput: n = {args.throughput_n:,}, Q = {THROUGHPUT_QBER:.0%}, "
        f"{args.throughput_runs} timed calls (+1 warm-up); confirmation streak: "
        + ("each variant's default" if confirm is None else str(confirm)),
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, {platform.system()}; "
        "one process, numpy single-threaded",
        "command: python " + " ".join(["benchmarks/bench_cascade.py", *sys.argv[1:]]),
    ]
    for line in header:
        print(line)

    # ------------------------------------------------------------- efficiency table
    root = np.random.SeedSequence(args.seed)
    q_roots = dict(zip(qbers, root.spawn(len(qbers)), strict=True))
    cells: dict[tuple[str, float], Cell] = {}
    eff_lines = [
        "| variant | " + " | ".join(f"Q = {q:.0%}" for q in qbers) + " |",
        "|---|" + "---|" * len(qbers),
    ]
    print("\nEfficiency f (± s.e.) / FER / mean messages")
    print(eff_lines[0])
    print(eff_lines[1])
    t0 = time.perf_counter()
    for variant in variants:
        parts = []
        for q in qbers:
            # The same SeedSequence for every variant: every variant sees the same frames.
            seq = np.random.SeedSequence(q_roots[q].entropy, spawn_key=q_roots[q].spawn_key)
            cell = efficiency_cell(variant, args.n, q, args.runs, seq, confirm)
            cells[variant, q] = cell
            parts.append(
                f"{cell.f_mean:.3f} ± {cell.f_se:.3f} / {cell.fer:.2g} / {cell.messages:.0f}"
            )
        line = f"| {variant} | " + " | ".join(parts) + " |"
        eff_lines.append(line)
        print(line, flush=True)
    eff_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------- throughput table
    tp_root = np.random.SeedSequence([args.seed, 1])
    alice, bob = frame(args.throughput_n, THROUGHPUT_QBER, tp_root)
    mods = load_cascade_python(args.cascade_python)
    ref_label = " cascade-python Mbit/s | its f | speed ratio |" if mods is not None else ""
    tp_lines = [
        "| variant | median Mbit/s | best Mbit/s | median ms | msgs | f |" + ref_label,
        "|---|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if mods is not None else ""),
    ]
    print(f"\nThroughput at n = {args.throughput_n:,}, Q = {THROUGHPUT_QBER:.0%}")
    print(tp_lines[0])
    print(tp_lines[1])
    n_tp = args.throughput_n
    nh = n_tp * float(binary_entropy(np.count_nonzero(alice ^ bob) / n_tp))  # n·h(Q_frame)
    for variant in variants:
        times = time_ours(variant, alice, bob, args.throughput_runs, confirm)
        med, best = statistics.median(times), min(times)
        res = reconcile_cascade(
            alice, bob, qber=THROUGHPUT_QBER, variant=variant, rng=1, confirm=confirm
        )
        line = (
            f"| {variant} | {n_tp / med / 1e6:.2f} | {n_tp / best / 1e6:.2f} | {med * 1e3:.1f} "
            f"| {res.messages} | {res.leaked_bits / nh:.3f} |"
        )
        if mods is not None:
            ref = [
                run_reference(mods, variant, alice, bob, seed)
                for seed in range(args.reference_runs)
            ]
            ref_med = statistics.median(r[0] for r in ref)
            ref_f = statistics.mean(r[1] for r in ref) / nh
            ref_ok = all(r[2] for r in ref)
            line += (
                f" {n_tp / ref_med / 1e6:.3f}{'' if ref_ok else ' (frame error)'} "
                f"| {ref_f:.3f} | {ref_med / med:.0f}× |"
            )
        tp_lines.append(line)
        print(line, flush=True)

    if args.no_write:
        return
    text = [
        "# Cascade benchmark results",
        "",
        "Produced by `benchmarks/bench_cascade.py` (see its docstring for the method).",
        "",
        *[f"- {line}" for line in header],
        "",
        f"## Efficiency, n = {args.n:,}, {args.runs} frames per cell ({eff_seconds:.0f} s)",
        "",
        "Each cell: mean efficiency f = leaked / (n·h(Q_frame)) ± standard error / "
        "frame error rate / mean messages (round trips = messages / 2). "
        "Cascade is told the true Q.",
        "",
        *eff_lines,
        "",
        f"## Throughput, n = {n_tp:,}, Q = {THROUGHPUT_QBER:.0%}, one core",
        "",
        *tp_lines,
        "",
    ]
    print("\n".join(text))
    if args.output is not None:
        args.output.write_text("\n".join(text), encoding="utf-8")
        print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
