"""Wall time of whole ``qkd run`` commands: start-up, quantum phase and post-processing.

Usage: python benchmarks/bench_end_to_end.py [--repeats 3]

Runs ``python -m qkd_circuits run ...`` as a user would (a fresh process, so
imports count) and prints the wall time, the stage times from the JSON report,
and the key bits per second of wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qkd_circuits.versions import package_versions

SEED = 20261127
CASES = [
    ("1e6, depolarizing 4%", ["--qubits", "1000000", "--noise", "depolarizing=0.04"]),
    (
        "1e6, full intercept-resend",
        [
            "--qubits",
            "1000000",
            "--noise",
            "depolarizing=0.02,readout=0.01",
            "--eve",
            "intercept-resend",
        ],
    ),
    ("1e7, depolarizing 4%", ["--qubits", "10000000", "--noise", "depolarizing=0.04"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"seed {SEED}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    head = ("case", "wall s", "quantum", "post", "key bits", "key bit/s")
    print("\n{:<28} {:>7} {:>8} {:>6} {:>10} {:>10}  result".format(*head))
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "r.json"
        for name, extra in CASES:
            best = None
            for _ in range(args.repeats):
                cmd = [
                    sys.executable,
                    "-m",
                    "qkd_circuits",
                    "run",
                    *extra,
                    "--seed",
                    str(SEED),
                    "--json",
                    str(report_path),
                    "--quiet",
                ]
                start = time.perf_counter()
                subprocess.run(cmd, check=True)
                wall = time.perf_counter() - start
                if best is None or wall < best[0]:
                    best = (wall, json.loads(report_path.read_text()))
            assert best is not None
            wall, report = best
            t = report["timings_s"]
            post = sum(v for k, v in t.items() if k != "quantum")
            bits = report["final_key_bits"]
            if report["aborted"]:
                result = f"aborted: {report['abort_reason']}"
            else:
                result = "keys match" if report["keys_match"] else "KEYS DIFFER"
            print(
                f"{name:<28} {wall:>7.2f} {t['quantum']:>8.2f} {post:>6.2f} {bits:>10,} "
                f"{bits / wall:>10,.0f}  {result}"
            )


if __name__ == "__main__":
    main()
