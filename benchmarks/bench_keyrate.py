"""Time a 200-point key-rate curve for every analysis of ``qkd keyrate``.

Run with ``python benchmarks/bench_keyrate.py`` (``--repeat N`` for best-of-N).
For each link preset and analysis it times two 200-point curves:

* ``0-200 km``: the default CLI range; the finite-key curve stops optimising
  after the first distance without key, so its tail is free;
* ``in reach``: 200 points from 0 km to just below the analysis' reach, so
  every point of the finite-key curve is a full optimisation (worst case).

It prints a markdown table (seconds per curve, milliseconds per point, reach)
and the package versions. Timings never fail anything.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from importlib import metadata

import numpy as np

from qkd_circuits.analysis import PRESETS, key_rate_curve, max_distance

ANALYSES = (
    "infinite-decoy",
    "vacuum-weak",
    "gllp",
    "finite:1e4",
    "finite:1e6",
    "finite:1e9",
    "finite:inf",
    "plob",
    "tgw",
)
POINTS = 200


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "matplotlib", "qkd-circuits"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _time_curve(link_name: str, analysis: str, distances: np.ndarray, repeat: int) -> float:
    link = PRESETS[link_name]
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        key_rate_curve(link, distances, analysis)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--presets", default="gys,lim2014", help="comma-separated presets")
    args = parser.parse_args(argv)

    versions = _versions()
    print("# qkd keyrate: time for a 200-point curve per analysis")
    print(
        "# "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; {platform.machine()}, {os.cpu_count()} CPUs, "
        + f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    # Warm-up: imports and the finite-key scan design are built on first use.
    key_rate_curve(PRESETS["gys"], [0.0, 10.0], "finite:1e6")

    print()
    print("| preset | analysis | 0-200 km (s) | in reach (s) | ms/point (in reach) | reach (km) |")
    print("|---|---|---:|---:|---:|---:|")
    full = np.linspace(0.0, 200.0, POINTS)
    for preset in args.presets.split(","):
        link = PRESETS[preset]
        for analysis in ANALYSES:
            reach = max_distance(link, analysis)
            t_full = _time_curve(preset, analysis, full, args.repeat)
            top = 200.0 if math.isinf(reach) else 0.995 * reach
            t_reach = _time_curve(preset, analysis, np.linspace(0.0, top, POINTS), args.repeat)
            reach_txt = "inf" if math.isinf(reach) else f"{reach:.1f}"
            print(
                f"| {preset} | {analysis} | {t_full:.3f} | {t_reach:.3f} | "
                f"{1e3 * t_reach / POINTS:.2f} | {reach_txt} |"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
