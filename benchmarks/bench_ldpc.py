"""LDPC reconciliation: decoder speed, efficiency and frame error rate vs QBER beside
Cascade, and throughput beside Cascade.

Sections (``--sections``, all by default):

* ``decoder``: nanoseconds per edge per iteration of every product-sum decoder on
  the family's rate-0.8 code of 10^5 bits (590,000 edges): the ``ldpc`` package's
  ``BpDecoder`` (product-sum flooding, its serial schedule, and min-sum flooding for
  scale) and the compiled decoders of ``bp_decoder.py`` (flooding, layered with the
  φ table, layered exact), on frames at Q = 6 % (far above the code's threshold, so
  every decoder runs all its ``--decoder-iterations``); then frames at Q = 2 %
  (rate 0.8 punctured towards f = 1.10, as far as a frame of n − ⌊δn⌋ key bits
  allows: f = 1.116; decoders differ there) per decoder, with
  iterations and milliseconds per frame.
* ``fer``: for each frame size and QBER Q, one seeded key of (frames) × n bits (each of
  Bob's bits flipped with probability Q; the same key for every method). LDPC
  (rate-adaptive, and blind) cuts it into its own frames; Cascade (``--cascade``
  variants, the best one reported) reconciles its first ``--cascade-frames`` frames
  of n bits. Per cell: ``f = leaked / (N · h(Q_key))`` with Q_key the key's actual
  error rate; frame errors (LDPC: failed to decode, and frames decoded to a wrong
  word, which only the benchmark can see) with the one-sided 95 % Clopper–Pearson
  upper bound on the FER; messages per frame; wall time. Every method is told the
  true Q.
* ``thresholds`` (not run by default: minutes per rate): the belief-propagation
  threshold ε* of each degree distribution on the BSC by density evolution, Monte
  Carlo form (population dynamics: ``--population`` messages, all-zero word, the
  product-sum rules; success when the mean LLR passes 50 with no negative message
  within 300 iterations; 8 bisection steps in ``[0.6 ε_Shannon, ε_Shannon]``),
  reported as ``f* = (1 − R)/h(ε*)``; plus the derived candidates for 0.75, 0.85, 0.90.
* ``throughput``: one 10^6-bit key at Q = 2 %, wall time of ``reconcile_ldpc`` (the
  compiled decoder on 2 threads and on 1, the ``ldpc`` package's on 2 processes)
  and of Cascade, the same key, in this run (codes loaded and code compiled first),
  min / median / max of ``--repeats`` timings (the package: one). ``--baseline TREE``
  (a checkout of an earlier commit, e.g. ``git worktree add --detach /tmp/base
  c15a4ef``) adds the 2-thread row timed alternately by that tree's package and this
  one's, each in a fresh process on the same key, and their ratio.

Usage: python benchmarks/bench_ldpc.py [--sections decoder,fer,throughput]
       [--frames 1000,300] [--sizes 10000,100000] [--qbers 0.01,0.02,0.04,0.06,0.08,0.10]
       [--cascade-frames 20] [--blind-frames N] [--repeats 5] [--baseline TREE]
       [--output PATH]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
from scipy.stats import beta

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.reconciliation import ldpc as ldpc_mod
from qkd_circuits.postprocessing.reconciliation import reconcile_cascade, reconcile_ldpc
from qkd_circuits.postprocessing.reconciliation.ldpc_codes import (
    DESIGNED_RATES,
    DISTRIBUTIONS,
    PUBLISHED,
    DegreeDistribution,
    LdpcCode,
    _check_concentrated,
    build_code_cache,
    get_code,
)
from qkd_circuits.versions import package_versions

sys.path.insert(0, str(Path(__file__).parent))
from bench_cascade import frame

SEED = 20261201
QBERS = (0.01, 0.02, 0.04, 0.06, 0.08, 0.10)


def upper_95(failures: int, frames: int) -> float:
    """One-sided 95 % Clopper–Pearson upper bound on a rate."""
    return 1.0 if failures >= frames else float(beta.ppf(0.95, failures + 1, frames - failures))


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------ decoder speed
def _decoder_frames(
    code: LdpcCode, q: float, count: int, seed: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Probabilities (q on every bit) and ``count`` syndromes of BSC(q) error patterns."""
    rng = np.random.default_rng(seed)
    probs = np.full(code.n, q)
    syndromes = [code.syndrome((rng.random(code.n) < probs).astype(np.uint8)) for _ in range(count)]
    return probs, syndromes


def decoder_section(out: Callable[[str], None], iterations: int) -> None:
    from ldpc import BpDecoder

    from qkd_circuits.postprocessing.reconciliation.bp_decoder import BpSyndromeDecoder

    code = get_code(0.8, 100_000)
    edges = code.H.nnz
    out(f"### Decoders, code {code.name} ({edges:,} edges); {load()}")
    out()
    h2 = float(binary_entropy(0.02))
    k = code.n - math.floor(ldpc_mod.MODULATION * code.n)
    p2, s2 = ldpc_mod._frame_shape(code, k, 1.10 * h2)  # clamped to p + s = n − k
    f2 = (code.m - p2) / (k * h2)
    out(f"| decoder | ns / edge / iteration (Q = 6 %, all iterations) | Q = 2 %, {p2:,} "
        f"punctured, f = {f2:.3f}: frames decoded, mean iterations, ms / frame |")  # fmt: skip
    out("|---|---:|---|")
    probs6, hard = _decoder_frames(code, 0.06, 3, seed=1)
    punct, short, _ = ldpc_mod._positions(code, p2, s2)
    probs2 = np.full(code.n, 0.02)
    probs2[punct] = 0.5
    probs2[short] = 1e-12
    rng = np.random.default_rng(2)
    easy = []
    for _ in range(4):
        e = (rng.random(code.n) < probs2).astype(np.uint8)
        e[short] = 0
        easy.append(code.syndrome(e))

    def package(method: str, schedule: str) -> Callable[[np.ndarray, np.ndarray, int], tuple]:
        cache: dict[int, BpDecoder] = {}

        def run(s: np.ndarray, probs: np.ndarray, its: int) -> tuple[bool, int]:
            if its not in cache:
                cache[its] = BpDecoder(code.H, error_rate=0.05, max_iter=its, bp_method=method,
                                       schedule=schedule, input_vector_type="syndrome")  # fmt: skip
            dec = cache[its]
            dec.update_channel_probs(probs)
            dec.decode(s)
            return bool(dec.converge), int(dec.iter)

        return run

    def compiled(schedule: str, exact: bool) -> Callable[[np.ndarray, np.ndarray, int], tuple]:
        cache: dict[int, BpSyndromeDecoder] = {}

        def run(s: np.ndarray, probs: np.ndarray, its: int) -> tuple[bool, int]:
            if its not in cache:
                cache[its] = BpSyndromeDecoder(code.H, max_iterations=its, schedule=schedule,
                                               exact=exact)  # fmt: skip
            res = cache[its].decode(s, probs)
            return res.converged, res.iterations

        return run

    rows = [
        ("ldpc package, product-sum, flooding", package("product_sum", "parallel"), iterations),
        ("ldpc package, product-sum, serial", package("product_sum", "serial"), 3),
        ("ldpc package, min-sum, flooding (not used)", package("minimum_sum", "parallel"), 10),
        ("compiled, flooding (= package)", compiled("flooding", False), iterations),
        ("compiled, layered, exact", compiled("layered", True), iterations),
        ("compiled, layered, φ table (default)", compiled("layered", False), iterations),
    ]
    compiled("layered", False)(hard[0], probs6, 1)  # compile outside the timings
    compiled("layered", True)(hard[0], probs6, 1)
    compiled("flooding", False)(hard[0], probs6, 1)
    for name, run, its in rows:
        t0 = time.perf_counter()
        done = sum(run(s, probs6, its)[1] for s in hard)
        per_edge = (time.perf_counter() - t0) / done / edges * 1e9
        if "serial" in name or "min-sum" in name:
            out(f"| {name} | {per_edge:.1f} | — |")
            continue
        t0 = time.perf_counter()
        res = [run(s, probs2, 100) for s in easy]
        ms = (time.perf_counter() - t0) / len(easy) * 1e3
        ok = sum(r[0] for r in res)
        mean_its = np.mean([r[1] for r in res])
        out(f"| {name} | {per_edge:.1f} | {ok}/{len(easy)}, {mean_its:.1f}, {ms:.0f} |")
    # Threads: the compiled decoder releases the GIL.
    dec = BpSyndromeDecoder(code.H, max_iterations=iterations)
    batch = hard * 2
    for workers in (1, 2):
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = sum(r.iterations for r in pool.map(lambda s: dec.decode(s, probs6), batch))
        per_edge = (time.perf_counter() - t0) / done / edges * 1e9
        out(f"| compiled, layered, φ table, {len(batch)} frames on {workers} thread(s) | "
            f"{per_edge:.1f} (wall) | — |")  # fmt: skip
    t0 = time.perf_counter()
    ref = BpDecoder(code.H, error_rate=0.05, max_iter=10, bp_method="product_sum",
                    input_vector_type="syndrome")  # fmt: skip
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(5):
        ref.update_channel_probs(probs2)
    update = (time.perf_counter() - t0) / 5
    out()
    out(f"- ldpc package: BpDecoder construction {build * 1e3:.0f} ms, "
        f"update_channel_probs {update * 1e3:.1f} ms per call; {load()}")  # fmt: skip
    out()


# ------------------------------------------------------------------ DE thresholds
def _population_de(
    eps: float, dist: DegreeDistribution, population: int, iterations: int, seed: int
) -> bool:
    """Whether BP on the ensemble ``dist`` decodes BSC(eps) (population dynamics)."""
    import numba

    @numba.njit(cache=False)
    def run(eps, vdeg, vcum, cdeg, ccum, size, iters, rng):  # type: ignore[no-untyped-def]
        l0 = math.log((1 - eps) / eps)
        v = np.empty(size)
        c = np.empty(size)
        for i in range(size):
            v[i] = -l0 if rng.random() < eps else l0
        for _ in range(iters):
            for i in range(size):
                u = rng.random()
                j = 0
                while ccum[j] < u:
                    j += 1
                p = 1.0
                for _k in range(cdeg[j] - 1):
                    p *= math.tanh(v[rng.integers(0, size)] / 2)
                p = min(max(p, -0.9999999999999), 0.9999999999999)
                c[i] = math.log((1 + p) / (1 - p))
            total = 0.0
            negative = 0
            for i in range(size):
                u = rng.random()
                j = 0
                while vcum[j] < u:
                    j += 1
                x = -l0 if rng.random() < eps else l0
                for _k in range(vdeg[j] - 1):
                    x += c[rng.integers(0, size)]
                x = min(max(x, -60.0), 60.0)
                v[i] = x
                total += x
                negative += x < 0
            if total / size > 50.0 and negative == 0:
                return True
        return False

    vd = np.array([d for d, _ in dist.variable])
    vf = np.array([f for _, f in dist.variable])
    cd = np.array([d for d, _ in dist.check])
    cf = np.array([f for _, f in dist.check])
    vc = np.cumsum(vf / vf.sum())
    cc = np.cumsum(cf / cf.sum())
    vc[-1] = cc[-1] = 1.0
    return bool(run(eps, vd, vc, cd, cc, population, iterations, np.random.default_rng(seed)))


def population_threshold(
    dist: DegreeDistribution, population: int, shannon: float, low: float = 0.6
) -> float:
    """ε* of ``dist`` by 8 bisection steps of :func:`_population_de` in
    ``[low · shannon, shannon]`` (300 iterations, seed 1): the largest ε found to decode."""
    lo, hi = low * shannon, shannon
    for _ in range(8):
        mid = (lo + hi) / 2
        if _population_de(mid, dist, population, 300, seed=1):
            lo = mid
        else:
            hi = mid
    return lo


def thresholds_section(out: Callable[[str], None], rates: list[str], population: int) -> None:
    from scipy.optimize import brentq

    dists = dict(DISTRIBUTIONS)
    dists |= {
        # What construction versions <= 3 used, for comparison.
        "0.75 (v3: λ of 0.80)": _check_concentrated(0.75, PUBLISHED[0.80]),
        "0.85 (v3: λ of the published 0.90)": _check_concentrated(0.85, PUBLISHED[0.90]),
        "0.90 (v3: published)": PUBLISHED[0.90],
    }
    out(f"### BP thresholds on the BSC (population {population:,}); {load()}")
    out()
    out("| distribution | design rate | ε Shannon | ε* BP | f* = (1 − R)/h(ε*) |")
    out("|---|---:|---:|---:|---:|")
    for key, dist in dists.items():
        name = f"{key:.2f}" if isinstance(key, float) else key
        if rates and name.split()[0] not in rates:
            continue
        rate = dist.design_rate()
        shannon = brentq(lambda e, r=rate: float(binary_entropy(e)) - (1 - r), 1e-6, 0.5 - 1e-9)
        lo = population_threshold(dist, population, shannon)
        f = (1 - rate) / float(binary_entropy(lo))
        label = name + (" (designed)" if key in DESIGNED_RATES else "")
        out(f"| {label} | {rate:.4f} | {shannon:.5f} | {lo:.5f} | {f:.3f} |")
    out()


# ------------------------------------------------------------------ FER and efficiency
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


def cascade_cell(
    a: np.ndarray, b: np.ndarray, q: float, n: int, frames: int, variants: list[str]
) -> str:
    best: tuple[float, str, int, int, float] | None = None
    for variant in variants:
        leaked = wrong = msgs = errors = 0
        for i in range(frames):
            lo, hi = i * n, (i + 1) * n
            res = reconcile_cascade(a[lo:hi], b[lo:hi], qber=q, variant=variant, rng=SEED + i)
            leaked += res.leaked_bits
            msgs += res.messages
            errors += int(np.count_nonzero(a[lo:hi] != b[lo:hi]))
            wrong += int(np.any(res.corrected != a[lo:hi]))
        f = leaked / (frames * n * float(binary_entropy(errors / (frames * n))))
        if best is None or f < best[0]:
            best = (f, variant, wrong, frames, msgs / frames)
    assert best is not None
    f, variant, wrong, count, per_frame = best
    return f"{f:.3f} / {wrong}/{count} / {per_frame:.0f} ({variant})"


def fer_section(
    out: Callable[[str], None],
    sizes: list[int],
    frame_counts: list[int],
    qbers: list[float],
    cascade_frames: int,
    variants: list[str],
    blind_frames: list[int] | None,
) -> None:
    root = np.random.SeedSequence(SEED)
    blinds = blind_frames or list(frame_counts)
    for n, frames, nb, size_seed in zip(
        sizes, frame_counts, blinds, root.spawn(len(sizes)), strict=True
    ):
        out(f"### n = {n:,}: {frames} × n key bits per Q; f / frame errors (95 % upper "
            f"bound on the FER) / messages per frame [time]; {load()}")  # fmt: skip
        out()
        nb = min(frames, nb)
        out(f"| Q | LDPC | LDPC blind ({nb} × n key bits) | Cascade best ({cascade_frames} "
            "frames of n) |")  # fmt: skip
        out("|---|---|---|---|")
        for q, child in zip(qbers, size_seed.spawn(len(qbers)), strict=True):
            a, b = frame(frames * n, q, child)
            cells = [
                ldpc_cell(a, b, q, n, blind=False),
                ldpc_cell(a[: nb * n], b[: nb * n], q, n, blind=True),
                cascade_cell(a, b, q, n, cascade_frames, variants),
            ]
            out(f"| {q:.0%} | " + " | ".join(cells) + " |")
        out()
        out(f"- {load()}")
        out()


# ------------------------------------------------------------------ throughput
_CHILD = """
import json, sys, time
import numpy as np
from qkd_circuits.postprocessing.reconciliation import reconcile_ldpc
keys = np.load(sys.argv[1])
a, b, q = keys["a"], keys["b"], float(keys["q"])
import qkd_circuits
print(qkd_circuits.__file__, file=sys.stderr)
reconcile_ldpc(a, b, qber=q, secret_rng=1)  # the codes of this key loaded, code compiled
t0 = time.perf_counter()
res = reconcile_ldpc(a, b, qber=q, secret_rng=1)
print(json.dumps([time.perf_counter() - t0, res.ldpc.frame_errors, res.ldpc.frames]))
"""


def _child_seconds(tree: Path, keys: Path) -> tuple[float, str]:
    """One 2-thread ``reconcile_ldpc`` of the saved key by the package of ``tree``, in a
    fresh process (codes loaded and code compiled first, not timed)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(keys)],
        env=env, capture_output=True, text=True, check=True, cwd=tree,
    )  # fmt: skip
    seconds, failed, frames = json.loads(done.stdout.strip().splitlines()[-1])
    return float(seconds), f"{failed}/{frames}"


def throughput_section(
    out: Callable[[str], None], bits: int, repeats: int, baseline: Path | None
) -> None:
    q = 0.02
    a, b = frame(bits, q, np.random.SeedSequence(SEED + 1))
    h = float(binary_entropy(float(np.mean(a != b))))
    reconcile_ldpc(a, b, qber=q, secret_rng=SEED)  # this key's codes loaded, code compiled
    reconcile_ldpc(a[:200_000], b[:200_000], qber=q, secret_rng=SEED, decoder="ldpc")
    out(f"### Throughput, {bits:,}-bit key, Q = 2 %, median of {repeats}; {load()}")
    out()
    out("| method | s (min / median / max) | Mbit/s (median) | f | frames failed |")
    out("|---|---:|---:|---:|---:|")
    runs: list[tuple[str, Callable[[], object], int]] = [
        ("ldpc, compiled layered, 2 threads",
         lambda: reconcile_ldpc(a, b, qber=q, secret_rng=SEED), repeats),
        ("ldpc, compiled layered, 1 thread",
         lambda: reconcile_ldpc(a, b, qber=q, secret_rng=SEED, parallel=False), repeats),
        ("ldpc, ldpc package, 2 processes",
         lambda: reconcile_ldpc(a, b, qber=q, secret_rng=SEED, decoder="ldpc"), 1),
        ("cascade:original", lambda: reconcile_cascade(a, b, qber=q, rng=SEED), repeats),
        ("cascade:biconf",
         lambda: reconcile_cascade(a, b, qber=q, variant="biconf", rng=SEED), repeats),
    ]  # fmt: skip
    for name, call, times in runs:
        seconds = []
        for _ in range(times):
            t0 = time.perf_counter()
            res = call()
            seconds.append(time.perf_counter() - t0)
        seconds.sort()
        mid = seconds[len(seconds) // 2]
        f = res.leaked_bits / (a.size * h)  # type: ignore[attr-defined]
        st = getattr(res, "ldpc", None)
        failed = f"{st.frame_errors}/{st.frames}" if st is not None else "—"
        out(f"| {name} | {seconds[0]:.2f} / {mid:.2f} / {seconds[-1]:.2f} | "
            f"{a.size / mid / 1e6:.3f} | {f:.3f} | {failed} |")  # fmt: skip
    if baseline is not None:
        _against(out, a, b, q, repeats, baseline)
    out()
    out(f"- {load()}")


def _against(
    out: Callable[[str], None], a: np.ndarray, b: np.ndarray, q: float, repeats: int,
    baseline: Path,
) -> None:  # fmt: skip
    """The 2-thread LDPC row again, alternately by ``baseline``'s package and this one's,
    each in a fresh process on the same key."""
    if not (baseline / "qkd_circuits" / "__init__.py").is_file():
        raise SystemExit(f"--baseline {baseline}: no qkd_circuits package there")
    here = Path(__file__).resolve().parent.parent
    times: dict[Path, list[float]] = {baseline: [], here: []}
    failed: dict[Path, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys.npz"
        np.savez(keys, a=a, b=b, q=q)
        for _ in range(repeats):
            for tree in times:
                seconds, failed[tree] = _child_seconds(tree, keys)
                times[tree].append(seconds)
    for tree, label in ((baseline, f"baseline {baseline}"), (here, "this tree")):
        t = sorted(times[tree])
        mid = t[len(t) // 2]
        out(f"| ldpc, 2 threads, {label} (fresh process, alternating) | {t[0]:.2f} / "
            f"{mid:.2f} / {t[-1]:.2f} | {a.size / mid / 1e6:.3f} | — | "
            f"{failed[tree]} |")  # fmt: skip
    ratio = sorted(times[baseline])[repeats // 2] / sorted(times[here])[repeats // 2]
    out()
    out(f"- this tree / baseline, median throughput: {ratio:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="decoder,fer,throughput")
    parser.add_argument("--frames", default="1000,300", help="frames per Q, one per size")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--qbers", default=",".join(str(q) for q in QBERS))
    parser.add_argument("--cascade", default="biconf,option7")
    parser.add_argument("--cascade-frames", type=int, default=20)
    parser.add_argument("--blind-frames", help="frames of the blind cells, one per size (a prefix)")
    parser.add_argument("--decoder-iterations", type=int, default=20)
    parser.add_argument("--throughput-bits", type=int, default=1_000_000)
    parser.add_argument("--threshold-rates", default="", help="e.g. 0.70,0.90 (all: empty)")
    parser.add_argument("--population", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=5, help="timings per throughput row")
    parser.add_argument("--baseline", type=Path, help="throughput: also time this tree's package")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    sections = set(args.sections.split(","))
    sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(c) for c in args.frames.split(",")]
    if len(counts) != len(sizes):
        parser.error(f"--frames needs one count per size, got {args.frames!r}")
    qbers = [float(q) for q in args.qbers.split(",")]
    lines: list[str] = []

    def out(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    start = time.perf_counter()
    if sections & {"decoder", "fer", "throughput"}:
        build_code_cache(sizes=tuple(sizes))
    versions = package_versions() | {
        name: metadata.version(name) for name in ("ldpc", "numba") if _installed(name)
    }
    out(f"- seed {SEED}; codes built/loaded in {time.perf_counter() - start:.0f} s; "
        f"default decoder {ldpc_mod.default_decoder()}")  # fmt: skip
    out(f"- versions: {versions}")
    out(f"- machine: {platform.machine()}, {platform.system()}, {os.cpu_count()} CPUs; {load()}")
    out()
    if "decoder" in sections:
        decoder_section(out, args.decoder_iterations)
    if "fer" in sections:
        variants = args.cascade.split(",")
        blind = [int(c) for c in args.blind_frames.split(",")] if args.blind_frames else None
        if blind is not None and len(blind) != len(sizes):
            parser.error(f"--blind-frames needs one count per size, got {args.blind_frames!r}")
        fer_section(out, sizes, counts, qbers, args.cascade_frames, variants, blind)
    if "thresholds" in sections:
        rates = [r for r in args.threshold_rates.split(",") if r]
        thresholds_section(out, rates, args.population)
    if "throughput" in sections:
        throughput_section(out, args.throughput_bits, args.repeats, args.baseline)
    if args.output:
        tmp = args.output.with_suffix(args.output.suffix + ".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(args.output)


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


if __name__ == "__main__":
    main()
