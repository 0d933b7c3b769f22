"""Wall time of whole ``qkd run`` commands: start-up, quantum phase and post-processing.

Usage: python benchmarks/bench_end_to_end.py [--repeats 3] [--scaling 1e6,1e7,1e8]
       [--baseline TREE]

Runs ``python -m qkd_circuits run ...`` as a user would (a fresh process, so
imports count) and prints the wall time, the peak resident memory of the
process, the stage times from the JSON report, and the key bits per second of
wall time. ``--scaling`` runs BB84 with 4% depolarizing noise once per size and
prints each stage's seconds and seconds per 10^6 qubits (a stage whose cost grows
as n log n or slower keeps the second column nearly flat); runs longer than
10^7 qubits are streamed in blocks of 10^7. ``--baseline TREE`` (a checkout of an
earlier commit, e.g. ``git worktree add /tmp/base COMMIT``) runs every case
alternately with that tree's ``qkd_circuits`` and this one's, and prints both and
their ratio (min / median / max of ``--repeats`` pairs, with the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


HERE = Path(__file__).resolve().parents[1]


def run_once(
    extra: list[str], report_path: Path, tree: Path | None = None
) -> tuple[float, int, dict[str, Any]]:
    """Wall seconds, peak RSS (KiB) and JSON report of one ``qkd run`` in a fresh process
    (of the ``qkd_circuits`` in ``tree``, if given)."""
    cmd = [sys.executable, "-m", "qkd_circuits", "run", *extra, "--seed", str(SEED),
           "--json", str(report_path), "--quiet"]  # fmt: skip
    env = None if tree is None else {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {child.returncode}")
    return wall, int(usage.ru_maxrss), json.loads(report_path.read_text())


def scaling(sizes: list[int]) -> None:
    """Seconds per stage at each size, and per 10^6 qubits."""
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            extra = ["--qubits", str(n), "--noise", "depolarizing=0.04"]
            reports.append(run_once(extra, Path(tmp) / "r.json"))
    stages = list(reports[0][2]["timings_s"])
    print("\n| stage | " + " | ".join(f"{n:.0e} s | s per 1e6" for n in sizes) + " |")
    print("|---|" + "---:|---:|" * len(sizes))
    for stage in [*stages, "all stages", "wall (with start-up)"]:
        cells = []
        for n, (wall, _, report) in zip(sizes, reports, strict=True):
            t = report["timings_s"]
            value = {"all stages": sum(t.values()), "wall (with start-up)": wall}.get(
                stage, t.get(stage, 0.0)
            )
            cells.append(f"{value:.2f} | {value / (n / 1e6):.3f}")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    rss = " | ".join(f"{r[1] / 1024:,.0f} MiB | " for r in reports)
    print(f"| peak RSS | {rss}")
    blocks = " | ".join(f"{(r[2].get('blocks') or {}).get('count', 1)} | " for r in reports)
    print(f"| blocks | {blocks}")


def against(baseline: Path, repeats: int) -> None:
    """Each case run alternately on ``baseline`` and on this tree: min / median / max."""
    if not (baseline / "qkd_circuits" / "__init__.py").is_file():
        raise SystemExit(f"--baseline {baseline}: no qkd_circuits package there")
    print(f"baseline tree {baseline}; this tree {HERE}; {repeats} pairs per case")
    print("\n| case | baseline s (min / median / max) | this s (min / median / max) | ratio "
          "(medians) | load |")  # fmt: skip
    print("|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "r.json"
        for name, extra in CASES:
            times: dict[Path, list[float]] = {baseline: [], HERE: []}
            loads = []
            for _ in range(repeats):
                for tree in times:
                    loads.append(os.getloadavg()[0])
                    times[tree].append(run_once(extra, report_path, tree)[0])
            cells = []
            for tree in (baseline, HERE):
                t = sorted(times[tree])
                cells.append(f"{t[0]:.2f} / {t[len(t) // 2]:.2f} / {t[-1]:.2f}")
            ratio = sorted(times[HERE])[repeats // 2] / sorted(times[baseline])[repeats // 2]
            print(f"| {name} | {cells[0]} | {cells[1]} | {ratio:.2f} | "
                  f"{min(loads):.2f}–{max(loads):.2f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scaling", default=None, help="sizes, e.g. 1e6,1e7,1e8")
    parser.add_argument("--baseline", type=Path, default=None, help="tree of an earlier commit")
    args = parser.parse_args()
    if args.baseline is not None:
        print(f"seed {SEED}")
        print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
        against(args.baseline.resolve(), args.repeats)
        return
    if args.scaling:
        print(f"seed {SEED}")
        print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
        scaling([int(float(x)) for x in args.scaling.split(",")])
        return
    print(f"seed {SEED}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    head = ("case", "wall s", "RSS MiB", "quantum", "post", "key bits", "key bit/s")
    print("\n{:<28} {:>7} {:>8} {:>8} {:>6} {:>10} {:>10}  result".format(*head))
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "r.json"
        for name, extra in CASES:
            best = None
            for _ in range(args.repeats):
                wall, rss, report = run_once(extra, report_path)
                if best is None or wall < best[0]:
                    best = (wall, rss, report)
            assert best is not None
            wall, rss, report = best
            t = report["timings_s"]
            post = sum(v for k, v in t.items() if k != "quantum")
            bits = report["final_key_bits"]
            if report["aborted"]:
                result = f"aborted: {report['abort_reason']}"
            else:
                result = "keys match" if report["keys_match"] else "KEYS DIFFER"
            print(
                f"{name:<28} {wall:>7.2f} {rss / 1024:>8,.0f} {t['quantum']:>8.2f} {post:>6.2f} "
                f"{bits:>10,} "
                f"{bits / wall:>10,.0f}  {result}"
            )


if __name__ == "__main__":
    main()
