"""Simulated optical links (issue 13): detection samplers and whole ``decoy-bb84`` runs.

Usage: python benchmarks/bench_link.py [--sizes 1e7,5e7] [--repeats 3] [--pulses 1e10]
       [--distances 25,100]

The link: the ``gys`` preset at 50 km, a weak laser source (``wcp:mu=0.5``) with
decoy-bb84's default decoy (0.1, the vacuum added as the weaker one).

1. End to end: ``python -m qkd_circuits run decoy-bb84 --distance 50 --qubits
   <--pulses> ...`` in a fresh process (start-up included, as a user runs it),
   ``--repeats`` runs with the same seed; wall seconds (min / median / max), pulses and
   key bits per second of wall time, peak RSS, each stage's seconds from the JSON
   report, and the ratio against the real link's duration at a 1 GHz source (the
   issue's goal: 10^10 pulses, < 60 s, faster than the link).
2. Distance sweep (``--distances``, empty to skip): the same run once at each other
   distance, to show the time follows the detections, not the pulses.
3. Samplers: :func:`~qkd_circuits.optics.detections.sample_exact` (class by class, the
   runner's) against :func:`~qkd_circuits.optics.detections.sample_per_pulse` (every
   pulse drawn, the baseline) at the same pulse counts, best and median of
   ``--repeats`` calls after one warm-up call; pulses/s and the ratio. The exact
   sampler is also timed alone at ``--pulses`` (past the per-pulse limit).
   Run last: on Linux a child's peak RSS (``os.wait4``) starts at its parent's peak.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_end_to_end import SEED, run_once  # fresh-process run with wall time and RSS
from bench_postprocessing import timed  # the same best-and-median timer (same folder)

from qkd_circuits.analysis.link import get_preset
from qkd_circuits.optics.detections import sample_exact, sample_per_pulse
from qkd_circuits.optics.link import LinkModel
from qkd_circuits.optics.source import Source
from qkd_circuits.versions import package_versions

PRESET = "gys"
DISTANCE_KM = 50.0
SOURCE = Source(kind="wcp", mu=0.5)
DECOYS = (0.1,)  # decoy-bb84's default: one decoy, the vacuum added as the weaker one
SOURCE_HZ = 1e9  # the real link's pulse rate: 10^10 pulses are 10 s of it
GOAL_S = 60.0


def link_at(distance_km: float) -> LinkModel:
    return LinkModel(
        distance_km=distance_km, parameters=get_preset(PRESET), source=SOURCE, decoys=DECOYS
    )


def samplers(sizes: list[int], big: int, repeats: int) -> None:
    """Pulses/s of both samplers at each size; the per-pulse one is the baseline."""
    link = link_at(DISTANCE_KM)
    gen = np.random.default_rng(SEED)
    print(
        f"\n## samplers: {PRESET} at {DISTANCE_KM:g} km, {SOURCE}, decoys {DECOYS}; "
        f"best and median of {repeats} calls (+1 warm-up)"
    )
    print("\n| sampler | pulses | detections | best s | median s | pulses/s (best) | x per-pulse |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        rows = []
        for name, fn in (("per-pulse", sample_per_pulse), ("exact", sample_exact)):
            best, median = timed(lambda fn=fn, n=n: fn(n, link, rng=gen), repeats)
            rows.append((name, fn(n, link, rng=gen).count, best, median))
        baseline = n / rows[0][2]
        for name, count, best, median in rows:
            print(
                f"| {name} | {n:.0e} | {count:,} | {best:.4f} | {median:.4f} "
                f"| {n / best:,.0f} | {n / best / baseline:,.0f} |"
            )
    best, median = timed(lambda: sample_exact(big, link, rng=gen), repeats)
    count = sample_exact(big, link, rng=gen).count
    print(
        f"| exact | {big:.0e} | {count:,} | {best:.4f} | {median:.4f} | {big / best:,.0f} "
        f"| (per-pulse refuses > 1e8) |"
    )


def result(report: dict[str, Any]) -> str:
    if report.get("aborted"):
        return f"aborted: {report.get('abort_reason')}"
    return "keys match" if report.get("keys_match") else "KEYS DIFFER"


def cli_args(distance_km: float, pulses: int) -> list[str]:
    return ["decoy-bb84", "--distance", f"{distance_km:g}", "--qubits", str(pulses)]


def end_to_end(pulses: int, repeats: int, tmp: Path) -> tuple[float, dict[str, Any]]:
    """Whole runs at 50 km; returns the wall seconds and report of the median run."""
    extra = cli_args(DISTANCE_KM, pulses)
    print(
        f"\n## end to end: python -m qkd_circuits run {' '.join(extra)} --seed {SEED} "
        f"--json r.json --quiet; {repeats} fresh processes"
    )
    runs = [run_once(extra, tmp / "r.json") for _ in range(repeats)]
    walls = [w for w, _, _ in runs]
    report = runs[0][2]
    same = all(
        (r["detections"], r["final_key_bits"]) == (report["detections"], report["final_key_bits"])
        for _, _, r in runs
    )
    lo, med, hi = min(walls), statistics.median(walls), max(walls)
    bits, real_s = report["final_key_bits"], pulses / SOURCE_HZ
    rss = max(r for _, r, _ in runs) / 1024
    print("\n| quantity | value |")
    print("|---|---:|")
    print(f"| pulses | {pulses:,} ({real_s:g} s of a {SOURCE_HZ / 1e9:g} GHz source) |")
    print(f"| detections | {report['detections']:,} |")
    print(
        "| gains (signal, decoy, vacuum) | " + ", ".join(f"{g:.3g}" for g in report["gain"]) + " |"
    )
    print(f"| final key bits | {bits:,} |")
    print(f"| wall s (min / median / max) | {lo:.2f} / {med:.2f} / {hi:.2f} |")
    print(f"| pulses/s (median wall) | {pulses / med:,.3g} |")
    print(f"| key bit/s (median wall) | {bits / med:,.0f} |")
    print(f"| x real time (link's {real_s:g} s / median wall) | {real_s / med:.2f} |")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the figure's floor
    print(f"| peak RSS | {rss:,.0f} MiB (this benchmark's own: {own:,.0f} MiB) |")
    print(f"| same detections and key in every run | {'yes' if same else 'NO'} |")
    verdict = "met" if hi < GOAL_S else ("met at the median" if med < GOAL_S else "NOT met")
    print(
        f"\ngoal < {GOAL_S:g} s: {verdict} (max {hi:.2f} s, {GOAL_S / hi:.1f}x under); "
        f"{'faster' if med < real_s else 'slower'} than the real link"
    )
    print(f"result: {result(report)}")
    stages = list(report["timings_s"])
    print("\n| stage | min s | median s | share of median wall |")
    print("|---|---:|---:|---:|")
    for stage in [*stages, "all stages", "other (start-up, report)"]:
        values = []
        for wall, _, r in runs:
            t = r["timings_s"]
            values.append(
                {"all stages": sum(t.values()), "other (start-up, report)": wall - sum(t.values())}
                .get(stage, t.get(stage, 0.0))
            )  # fmt: skip
        m = statistics.median(values)
        print(f"| {stage} | {min(values):.2f} | {m:.2f} | {m / med:.0%} |")
    wall_mid, _, report_mid = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
    return wall_mid, report_mid


def sweep(
    distances: list[float], pulses: int, at_50: tuple[float, dict[str, Any]], tmp: Path
) -> None:
    """One run per distance at the same pulse count (50 km: the median run above)."""
    print(f"\n## distance sweep: {pulses:.0e} pulses, one run per distance (50 km: median above)")
    print(
        "\n| km | detections | wall s | quantum s | post s | key bits | key bit/s "
        "| pulses/s | stages s per 1e6 detections | blocks | result |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rows: list[tuple[float, float, dict[str, Any]]] = []
    for km in sorted({*distances, DISTANCE_KM}):
        if km == DISTANCE_KM:
            rows.append((km, *at_50))
            continue
        wall, _, report = run_once(cli_args(km, pulses), tmp / "r.json")
        rows.append((km, wall, report))
    for km, wall, r in rows:
        t = r["timings_s"]
        post = sum(v for k, v in t.items() if k != "quantum")
        det, bits = r["detections"], r["final_key_bits"]
        print(
            f"| {km:g} | {det:,} | {wall:.2f} | {t['quantum']:.2f} | {post:.2f} | {bits:,} "
            f"| {bits / wall:,.0f} | {pulses / wall:,.3g} | {sum(t.values()) / (det / 1e6):.3f} "
            f"| {(r.get('blocks') or {}).get('count', 1)} | {result(r)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e7,5e7", help="pulses for both samplers (<= 1e8)")
    parser.add_argument("--pulses", default="1e10", help="pulses of the end-to-end runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--distances", default="25,100", help="sweep km besides 50 ('' skips)")
    args = parser.parse_args()
    sizes = [int(float(x)) for x in args.sizes.split(",") if x]
    pulses = int(float(args.pulses))
    distances = [float(x) for x in args.distances.split(",") if x]

    print(f"seed {SEED}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, {platform.system()}; "
        f"load average at start {load}"
    )
    print("command: python " + " ".join(["benchmarks/bench_link.py", *sys.argv[1:]]))
    start = time.perf_counter()
    # The whole runs come first: on Linux a child's peak RSS (os.wait4) starts at its
    # parent's peak, so this process must not have held the samplers' arrays yet.
    with tempfile.TemporaryDirectory() as tmp:
        at_50 = end_to_end(pulses, args.repeats, Path(tmp))
        if distances:
            sweep(distances, pulses, at_50, Path(tmp))
    if sizes:
        samplers(sizes, pulses, args.repeats)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n(total time {time.perf_counter() - start:.0f} s; load average at end {load})")


if __name__ == "__main__":
    main()
