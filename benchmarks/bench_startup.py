"""Start-up time of the ``qkd`` command (issue 11): median wall time of fresh processes.

Usage: ``python benchmarks/bench_startup.py [--runs N]``. Each command is run as
``python -m qkd_circuits ARGS`` in a fresh interpreter, ``--runs`` times (default 15),
after one warm-up run; ``python -c pass`` and ``python -c "import numpy"`` are the
baselines. ``-m`` imports the package found first on ``sys.path``, the current
directory included: run from another checkout's root to time that one. Timing is
printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS: tuple[tuple[str, list[str]], ...] = (
    ("python -c pass", ["-c", "pass"]),
    ("python -c 'import numpy'", ["-c", "import numpy"]),
    ("qkd --help", ["-m", "qkd_circuits", "--help"]),
    ("qkd --version", ["-m", "qkd_circuits", "--version"]),
    ("qkd run --help", ["-m", "qkd_circuits", "run", "--help"]),
    ("qkd protocols", ["-m", "qkd_circuits", "protocols"]),
    ("qkd keyrate --help", ["-m", "qkd_circuits", "keyrate", "--help"]),
    ("qkd run --qubits 0", ["-m", "qkd_circuits", "run", "--qubits", "0"]),
)


def median_seconds(args: list[str], runs: int) -> float:
    """Median wall time of ``runs`` fresh ``python ARGS`` processes (after one warm-up)."""
    cmd = [sys.executable, *args]
    subprocess.run(cmd, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    print(f"python {sys.version.split()[0]}; median of {runs} runs")
    for label, args in COMMANDS:
        print(f"{label:<28} {median_seconds(args, runs):7.3f} s")


if __name__ == "__main__":
    main()
