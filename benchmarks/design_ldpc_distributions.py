"""Design LDPC degree distributions for the BSC by discretized density evolution and
linear programming, and verify them by population dynamics.

What it does
------------
For each target rate ``R`` (0.75, 0.80, 0.85, 0.90 by default; 0.70 optional) it
designs an edge-perspective ensemble ``λ(x) = Σ λ_i x^(i−1)``, ``ρ(x)`` with

* a check-concentrated ``ρ`` (two consecutive degrees ``d, d + 1``; Chung, Forney,
  Richardson, Urbanke, IEEE Commun. Lett. 5, 58 (2001));
* variable degrees ``2 … D`` with ``D ≤ 25`` per candidate (:data:`PLAN`: the family's
  codes of 10^4 bits are built by depth-2 progressive edge growth, and variables of
  high degree cannot avoid 4-cycles there);
* the stability condition ``λ_2 ρ'(1) B ≤ s`` (Richardson, Shokrollahi, Urbanke,
  IEEE Trans. IT 47, 619 (2001), Thm. 5), with ``B = 2√(ε(1 − ε))`` the Bhattacharyya
  parameter **at the Shannon limit ε_Sh of the rate** (higher than any threshold) and
  a margin ``s = --stability`` (0.9 by default).

Method
------
1. **Discretized density evolution** of the sum-product decoder on the BSC (Richardson
   & Urbanke, Modern Coding Theory (2008), §4.5; Chung, Forney, Richardson, Urbanke
   2001): log-likelihood-ratio densities on the uniform grid ``jΔ``, ``|j| ≤ K``
   (Δ = 0.1, K = 250); the variable-node rule by FFT convolution (the channel density
   times the ``λ``-mixture of powers of the check density's transform), clipped at
   ``±KΔ``; the check-node rule pairwise through the quantized table
   ``T[a, b] = round(2 atanh(tanh(aΔ/2) tanh(bΔ/2))/Δ)`` on magnitudes with signs
   carried separately, powers by binary exponentiation. Success: the error probability
   of the variable messages below 10^-7 (at most 1,500 iterations). On the published
   0.80 and 0.90 it gives f* = 1.037 and 1.155 (population DE: 1.039, 1.140).
2. **Linear programming over λ** for a fixed ``ρ`` and channel ``ε`` (the iterative
   linear program of Richardson, Shokrollahi, Urbanke 2001, §IV; Chung, thesis, MIT
   2000, ch. 3), on the **entropy** functional ``H = E log2(1 + e^(−L))`` (linear in the
   density, as the error probability, but it moves from the first iteration, when a
   high-rate code on the BSC corrects almost no bit yet: with the error probability the
   program stalled at f ≈ 1.23 for rate 0.9): run density evolution with the current
   ``λ``, record the check density ``c_ℓ`` of each iteration and the entropy
   ``H_{i,ℓ}`` of a degree-``i`` variable fed by it (Parseval on the FFT spectra);
   maximise ``Σ λ_i / i`` (the rate, ``ρ`` fixed) subject to ``Σ λ_i = 1``,
   ``Σ_i λ_i H_{i,ℓ} ≤ H_ℓ (1 − min(0.01, s_ℓ/2))`` with ``s_ℓ`` the current relative
   step (each iteration of the linearized trajectory below the diagonal, the current
   ``λ`` feasible), the stability bound on ``λ_2`` and a trust region
   ``|λ_i − λ_i^cur| ≤ δ``; accept when density evolution with the new ``λ`` still
   converges at ``ε`` (else halve ``δ``). Start: the lowest regular variable degree
   that converges. ``ε`` is the channel of a target efficiency ``f_goal``
   (``h(ε) = (1 − R)/f_goal``). Each candidate ``(ā, D)`` of :data:`PLAN` is designed;
   its ``λ`` (rounded to 5 decimals, coefficients < 5·10^-4 dropped) gets the
   check-concentrated ``ρ`` of exactly rate ``R`` (``_check_concentrated`` of
   ``ldpc_codes.py``); the family's n = 10^4 code of it is built and its 4-cycles
   counted; the candidate of highest rate at ``ε`` within the rate's 4-cycle budget is
   kept. The program finds a local optimum (it depends on the start and on ``ā``):
   these are good ensembles under the constraints, not optimal ones.
3. **Threshold** ``ε*`` of the result by 14 bisection steps of the grid density
   evolution, and **verification** by the repository's Monte-Carlo density evolution
   (population dynamics, ``_population_de`` of ``bench_ldpc.py``: 300 iterations,
   seed 1) with 8 bisection steps in ``[0.85 ε_Sh, ε_Sh]`` (resolution 6·10^-4 ε_Sh).
   Reported: ``f* = (1 − R)/h(ε*)``; the population figure is the one recorded in
   ``THRESHOLD_EFFICIENCY``.

Results (this machine; population-verified f*; the 4-cycles of the n = 10^4 code):
0.75: 1.033 (0), 0.85: 1.054 (0), 0.90: 1.113 (28), against 1.057, 1.089,
1.140 for the distributions they replace. At 0.80 the design (f* = 1.045 on the grid)
does not beat the published distribution (1.037 on the same grid, 1.039 by population
DE), which ``ldpc_codes.py`` keeps; 0.70 (``--rates 0.70``) was not run.

Everything is deterministic (the linear program and the grid DE draw nothing; the
population DE and the code construction are seeded).

Usage
-----
    python benchmarks/design_ldpc_distributions.py                  # design + verify
    python benchmarks/design_ldpc_distributions.py --rates 0.85,0.90
    python benchmarks/design_ldpc_distributions.py --verify-only    # the committed ones
    python benchmarks/design_ldpc_distributions.py --verify-only --population 0 --fine

Run time (2-core machine, one process, shared): the design ~70 s per candidate (2–3
per rate), the grid threshold ~15 s, the population verification (40,000 messages)
~3–4 min per rate; the default run ~30 min. ``--verify-only``: ~4 min per rate.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from scipy.optimize import brentq, linprog

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.reconciliation.ldpc_codes import (
    DISTRIBUTIONS,
    DegreeDistribution,
    _check_concentrated,
)

sys.path.insert(0, str(Path(__file__).parent))

SUCCESS = 1e-7


def h2(x: float) -> float:
    return float(binary_entropy(x))


def shannon_eps(rate: float) -> float:
    """The BSC crossover probability of capacity ``rate``: ``h(ε) = 1 − R``."""
    return float(brentq(lambda e: h2(e) - (1 - rate), 1e-9, 0.5 - 1e-12))


def bhattacharyya(eps: float) -> float:
    return 2.0 * math.sqrt(eps * (1.0 - eps))


# ------------------------------------------------------------------ discretized DE
@numba.njit(cache=False)
def _pair(ap, am, bp, bm, table):  # type: ignore[no-untyped-def,unused-ignore]
    """Check-node rule for two independent messages (magnitude/sign densities)."""
    k = ap.size
    op = np.zeros(k)
    om = np.zeros(k)
    for a in range(k):
        xa = ap[a]
        ya = am[a]
        if xa + ya < 1e-30:
            continue
        row = table[a]
        for b in range(k):
            xb = bp[b]
            yb = bm[b]
            t = row[b]
            op[t] += xa * xb + ya * yb
            om[t] += xa * yb + ya * xb
    return op, om


@numba.njit(cache=False)
def _power(ap, am, n, table):  # type: ignore[no-untyped-def,unused-ignore]
    """The check-node combination of ``n ≥ 1`` independent copies (binary exponentiation)."""
    rp = np.zeros(0)
    rm = np.zeros(0)
    have = False
    bp = ap.copy()
    bm = am.copy()
    while n > 0:
        if n & 1:
            if have:
                rp, rm = _pair(rp, rm, bp, bm, table)
            else:
                rp, rm = bp.copy(), bm.copy()
                have = True
        n >>= 1
        if n:
            bp, bm = _pair(bp, bm, bp, bm, table)
    return rp, rm


@dataclass
class Grid:
    """The quantization: LLR ``jΔ``, ``|j| ≤ K``; FFT length ``N`` for degrees ≤ ``dmax``."""

    delta: float
    K: int
    dmax: int

    def __post_init__(self) -> None:
        k = np.arange(self.K + 1) * self.delta
        ta = np.tanh(k / 2)
        prod = np.clip(np.outer(ta, ta), 0.0, 1.0 - 1e-16)
        self.table = np.minimum(np.rint(2 * np.arctanh(prod) / self.delta), self.K).astype(np.int64)
        span = (self.dmax - 1) * self.K + math.ceil(30 / self.delta)
        self.N = 1 << math.ceil(math.log2(2 * span + 2))
        w = np.zeros(self.N)
        w[self.N // 2 :] = 1.0
        w[0] = 0.5
        self.What = np.conj(np.fft.rfft(w))
        x = np.fft.fftfreq(self.N, 1.0 / self.N) * self.delta
        self.Hhat = np.conj(np.fft.rfft(np.logaddexp(0.0, -x) / math.log(2.0)))
        self.hw = np.logaddexp(0.0, -np.arange(-self.K, self.K + 1) * self.delta) / math.log(2.0)
        self.pw = np.full(self.What.size, 2.0)
        self.pw[0] = 1.0
        self.pw[-1] = 1.0

    def circ(self, signed: np.ndarray) -> np.ndarray:
        out = np.zeros(self.N)
        out[: self.K + 1] = signed[self.K :]
        out[self.N - self.K :] = signed[: self.K]
        return out

    def channel_hat(self, eps: float) -> np.ndarray:
        j0 = round(math.log((1 - eps) / eps) / self.delta)
        k = np.arange(self.N // 2 + 1)
        ph = np.exp(-2j * np.pi * k * j0 / self.N)
        return (1 - eps) * ph + eps * np.conj(ph)

    def perr_hat(self, spectrum: np.ndarray) -> np.ndarray:
        """Error probability ``P(L < 0) + P(L = 0)/2`` from rfft spectra (last axis)."""
        return np.real(spectrum * self.What) @ self.pw / self.N

    def entropy_hat(self, spectrum: np.ndarray) -> np.ndarray:
        """Entropy ``E log2(1 + e^(−L))`` from rfft spectra (last axis)."""
        return np.real(spectrum * self.Hhat) @ self.pw / self.N

    def from_circ(self, x: np.ndarray) -> np.ndarray:
        K, N = self.K, self.N
        x = np.maximum(x, 0.0)
        out = np.empty(2 * K + 1)
        out[K:] = x[: K + 1]
        out[:K] = x[N - K :]
        out[2 * K] += x[K + 1 : N // 2].sum()
        out[0] += x[N // 2 : N - K].sum()
        return out / out.sum()


def _check_density(v: np.ndarray, rho: tuple[tuple[int, float], ...], g: Grid) -> np.ndarray:
    K = g.K
    ap = v[K:].copy()
    am = np.zeros(K + 1)
    am[1:] = v[:K][::-1]
    out = np.zeros(2 * K + 1)
    degs = sorted(d for d, _ in rho)
    base_p, base_m = _power(ap, am, degs[0] - 1, g.table)
    cur = (base_p, base_m, degs[0] - 1)
    frac = dict(rho)
    for d in degs:
        while cur[2] < d - 1:
            p, m = _pair(cur[0], cur[1], ap, am, g.table)
            cur = (p, m, cur[2] + 1)
        p, m = cur[0], cur[1]
        f = frac[d]
        out[K:] += f * p
        out[:K] += f * m[1:][::-1]
        out[K] += f * m[0]
    return out / out.sum()


def run_de(
    eps: float,
    lam: dict[int, float],
    rho: tuple[tuple[int, float], ...],
    g: Grid,
    max_iter: int = 400,
    record: bool = False,
) -> tuple[bool, list[float], list[float], list[np.ndarray]]:
    """Discretized DE at BSC(eps); returns (converged, error probabilities P_ℓ and
    entropies H_ℓ of the variable messages, check-density spectra of each iteration when
    ``record``)."""
    ch = g.channel_hat(eps)
    K = g.K
    j0 = round(math.log((1 - eps) / eps) / g.delta)
    v = np.zeros(2 * K + 1)
    v[K + j0] = 1 - eps
    v[K - j0] = eps
    probs = [eps]
    ents = [float(v @ g.hw)]
    spectra: list[np.ndarray] = []
    degs = np.array(sorted(lam))
    fr = np.array([lam[d] for d in degs])
    for _ in range(max_iter):
        c = _check_density(v, rho, g)
        C = np.fft.rfft(g.circ(c))
        if record:
            spectra.append(C)
        acc = np.zeros_like(C)
        Cp = np.ones_like(C)
        prev = 1
        for d, f in zip(degs, fr, strict=True):
            Cp = Cp * C ** (d - prev)
            prev = d
            acc += f * Cp
        v = g.from_circ(np.fft.irfft(ch * acc, g.N))
        p = float(v[:K].sum() + 0.5 * v[K])
        probs.append(p)
        ents.append(float(v @ g.hw))
        if p < SUCCESS:
            return True, probs, ents, spectra
        if len(probs) > 30 and p > probs[-2] * (1 - 1e-6):
            return False, probs, ents, spectra
    return False, probs, ents, spectra


def grid_threshold(dist: DegreeDistribution, g: Grid, steps: int = 14) -> float:
    sh = shannon_eps(dist.design_rate())
    lo, hi = 0.7 * sh, sh
    lam = dict(dist.variable)
    for _ in range(steps):
        mid = (lo + hi) / 2
        if run_de(mid, lam, dist.check, g, max_iter=1500)[0]:
            lo = mid
        else:
            hi = mid
    return lo


# ------------------------------------------------------------------ LP design
def _rho_for(abar: float) -> tuple[tuple[int, float], ...]:
    """Check-concentrated ρ of node-average degree ``abar`` (edge perspective)."""
    d = math.floor(abar)
    # Node fractions: a of degree d, 1 − a of d + 1, a d + (1 − a)(d + 1) = abar.
    a = d + 1 - abar
    ed, ed1 = a * d, (1 - a) * (d + 1)
    return ((d, ed / (ed + ed1)), (d + 1, ed1 / (ed + ed1)))


def _rate(lam: dict[int, float], rho: tuple[tuple[int, float], ...]) -> float:
    return 1 - sum(f / d for d, f in rho) / sum(f / d for d, f in lam.items())


def lp_design(
    eps: float,
    rho: tuple[tuple[int, float], ...],
    lam2_max: float,
    g: Grid,
    dmax: int,
    rounds: int = 80,
    margin: float = 0.01,
    start: dict[int, float] | None = None,
    mean_degree: float | None = None,
    log: bool = False,
) -> dict[int, float] | None:
    """Maximise the rate for ``ρ`` at BSC(eps) by the iterative linear program;
    ``mean_degree`` bounds the edge-perspective mean variable degree ``Σ λ_i i``."""
    degs = list(range(2, dmax + 1))
    lam: dict[int, float] | None = None
    if start is not None and run_de(eps, start, rho, g, max_iter=1500)[0]:
        lam = dict(start)
    for d0 in range(3, dmax + 1) if lam is None else ():  # a regular start that converges
        if run_de(eps, {d0: 1.0}, rho, g, max_iter=300)[0]:
            lam = {d0: 1.0}
            break
    if lam is None:
        return None
    delta = 0.05
    for it in range(rounds):
        _, probs, ents, spectra = run_de(eps, lam, rho, g, max_iter=1500, record=True)
        ch = g.channel_hat(eps)
        rows = []
        bounds = []
        for ell, C in enumerate(spectra):
            if probs[ell] < 1e-6:
                break
            pows = np.stack([ch * C ** (d - 1) for d in degs])
            rows.append(g.entropy_hat(pows))
            # Below the diagonal with a margin, never more than half the current step's
            # progress (so the current λ stays feasible).
            step = 1.0 - ents[ell + 1] / ents[ell]
            bounds.append(ents[ell] * (1.0 - min(margin, 0.5 * step)))
        if mean_degree is not None:
            rows.append(np.array(degs, dtype=float))
            bounds.append(max(mean_degree, float(sum(d * f for d, f in lam.items()))))
        A = np.array(rows)
        cur = np.array([lam.get(d, 0.0) for d in degs])
        box = [(max(0.0, c - delta), min(1.0, c + delta)) for c in cur]
        box[0] = (box[0][0], min(box[0][1], lam2_max))
        if box[0][0] > box[0][1]:
            box[0] = (lam2_max, lam2_max)
        res = linprog(
            -1.0 / np.array(degs),
            A_ub=A,
            b_ub=np.array(bounds),
            A_eq=np.ones((1, len(degs))),
            b_eq=[1.0],
            bounds=box,
            method="highs",
        )
        if res.status != 0:
            delta /= 2
            if delta < 1e-4:
                break
            continue
        new = {d: float(x) for d, x in zip(degs, res.x, strict=True) if x > 1e-7}
        s = sum(new.values())
        new = {d: x / s for d, x in new.items()}
        if run_de(eps, new, rho, g, max_iter=1500)[0]:
            gain = _rate(new, rho) - _rate(lam, rho)
            lam = new
            if log:
                print(f"    it {it}: rate {_rate(lam, rho):.5f} δ={delta:.4f}", flush=True)
            if gain < 2e-5 and delta < 0.01:
                break
            delta = min(0.05, delta * 1.5)
        else:
            if log:
                print(f"    it {it}: rejected (rate {_rate(new, rho):.5f}) δ={delta:.4f}")
            delta /= 2
            if delta < 1e-4:
                break
    return lam


def _round(lam: dict[int, float], digits: int = 5) -> tuple[tuple[int, float], ...]:
    items = sorted((d, f) for d, f in lam.items() if f >= 5e-4)
    s = sum(f for _, f in items)
    vals = [round(f / s, digits) for _, f in items]
    big = int(np.argmax(vals))
    vals[big] = round(vals[big] + 1.0 - sum(vals), digits)
    return tuple((d, v) for (d, _), v in zip(items, vals, strict=True))


# ------------------------------------------------------------------ population DE
def population_threshold(dist: DegreeDistribution, population: int) -> float:
    from bench_ldpc import population_threshold as threshold

    return threshold(dist, population, shannon_eps(dist.design_rate()), low=0.85)


def report(
    name: str, dist: DegreeDistribution, g: Grid | None, population: int, search: float | None
) -> None:
    rate = dist.design_rate()
    sh = shannon_eps(rate)
    rho1 = sum(f * (d - 1) for d, f in dist.check)
    lam2 = dict(dist.variable).get(2, 0.0)
    print(f"rate {name}: design rate {rate:.5f}, ε_Sh {sh:.5f}")
    print(f"  λ = {dict(dist.variable)}")
    print(f"  ρ = {dict(dist.check)}")
    print(f"  stability λ2 ρ'(1) B(ε_Sh) = {lam2 * rho1 * bhattacharyya(sh):.3f} (< 1)")
    if search is not None:
        f_search = (1 - rate) / h2(search)
        print(f"  grid DE (Δ={SEARCH_DELTA}) ε* {search:.5f}  f* {f_search:.4f}")
    if g is not None:
        t0 = time.perf_counter()
        eg = grid_threshold(dist, g)
        print(f"  grid DE (Δ={g.delta}) ε* {eg:.5f}  f* {(1 - rate) / h2(eg):.4f}  "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)  # fmt: skip
    if population:
        t0 = time.perf_counter()
        ep = population_threshold(dist, population)
        print(f"  population DE ({population:,}) ε* {ep:.5f}  f* {(1 - rate) / h2(ep):.4f}  "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)  # fmt: skip


SEARCH_DELTA = 0.1

# For each rate: the candidates (average check degree ā, largest variable degree), the
# target efficiency of the design channel (h(ε) = (1 − R)/f_goal) and the budget of
# 4-cycles of the family's n = 10^4 code (depth-2 PEG; the old family's counts were 0,
# 7, 0, 3,650 at 0.75, 0.80, 0.85, 0.90). The candidate of highest rate at ε within
# the budget is kept (else the one with fewest 4-cycles). At 0.85 (f at ε in
# brackets): ā = 39, degrees ≤ 20 (1.049) leaves 467 4-cycles; ā = 37, ≤ 20 (1.053)
# leaves 17; ā = 38, ≤ 18 (1.054) none; ā = 36, ≤ 25 (1.058) 22; ā = 34 (1.067) none.
# At 0.90: ā = 52 (1.081) leaves 6,252, ā = 56 (1.068) 25,626, ā = 58 (1.063) 34,300.
PLAN: dict[float, tuple[tuple[tuple[float, int], ...], float, int]] = {
    0.70: (((19.0, 25), (22.0, 25)), 1.03, 50),
    0.75: (((22.0, 25), (25.0, 25)), 1.035, 50),
    0.80: (((27.0, 25), (31.0, 25)), 1.035, 50),
    0.85: (((37.0, 20), (38.0, 18)), 1.05, 10),
    0.90: (((48.0, 20), (52.0, 20), (56.0, 21)), 1.05, 3650),
}


def four_cycles(dist: DegreeDistribution, n: int = 10_000) -> int:
    """4-cycles left in the family's construction of ``dist`` at length ``n``."""
    from qkd_circuits.postprocessing.reconciliation.ldpc_codes import DEFAULT_SEED, _construct

    return _construct(dist, n, DEFAULT_SEED)[3]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", default="0.75,0.80,0.85,0.90")
    ap.add_argument("--stability", type=float, default=0.9)
    ap.add_argument("--population", type=int, default=40_000, help="0: no population DE")
    ap.add_argument("--fine", action="store_true", help="also the Δ = 0.05 grid threshold")
    ap.add_argument("--verify-only", action="store_true", help="check the committed ones")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    fine = Grid(0.05, 500, 25) if args.fine else None
    coarse = Grid(SEARCH_DELTA, 250, 25)
    for rate in rates:
        if args.verify_only:
            dist = DISTRIBUTIONS[rate]
            search = grid_threshold(dist, coarse)
            report(f"{rate:.2f}", dist, fine, args.population, search)
            continue
        cands, fgoal, budget = PLAN[rate]
        target = (1 - rate) / fgoal
        eps = float(brentq(lambda e, t=target: h2(e) - t, 1e-9, 0.5))
        sh = shannon_eps(rate)
        found: list[tuple[bool, float, int, DegreeDistribution]] = []
        t0 = time.perf_counter()
        for abar, dmax in cands:
            rho = _rho_for(abar)
            rho1 = sum(f * (d - 1) for d, f in rho)
            lam2_max = args.stability / (bhattacharyya(sh) * rho1)
            lam = lp_design(eps, rho, lam2_max, coarse, dmax, rounds=60, log=args.verbose)
            if lam is None:
                print(f"  ā={abar}: no start")
                continue
            r = _rate(lam, rho)
            base = DegreeDistribution(rate, _round(lam), ((2, 1.0),))
            dist = _check_concentrated(rate, base)
            dist = DegreeDistribution(rate, dist.variable, _round(dict(dist.check)))
            cyc = four_cycles(dist)
            f_eps = (1 - r) / h2(eps)
            print(f"  ā={abar}, degrees ≤ {dmax}: rate {r:.5f} at ε={eps:.5f} (f {f_eps:.4f}); "
                  f"4-cycles at n = 10^4: {cyc}", flush=True)  # fmt: skip
            found.append((cyc <= budget, r if cyc <= budget else -cyc, cyc, dist))
        print(f"  design {time.perf_counter() - t0:.0f} s")
        _, _, cyc, dist = max(found, key=lambda x: (x[0], x[1]))
        print(f"  kept: 4-cycles at n = 10^4: {cyc}")
        search = grid_threshold(dist, coarse)
        report(f"{rate:.2f}", dist, fine, args.population, search)


if __name__ == "__main__":
    main()
