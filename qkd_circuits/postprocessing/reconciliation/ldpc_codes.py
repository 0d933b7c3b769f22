"""LDPC codes for reconciliation: a family of irregular codes, built from a seed, cached on disk.

The family
----------
Rates 0.50, 0.55, …, 0.90 in steps of 0.05 (:data:`RATES`) at frame sizes 10^4 and
10^5 (:data:`FRAME_SIZES`); puncturing and shortening reach every rate in between
and beyond (:mod:`~qkd_circuits.postprocessing.reconciliation.ldpc`). Degree
distributions in edge perspective (``λ_i``, ``ρ_i`` the fraction of edges on
variable / check nodes of degree ``i``; :data:`DISTRIBUTIONS`) of two origins.

**Published** (rates 0.50–0.70 and 0.80; :data:`PUBLISHED` also keeps the replaced
ones): those optimised for the binary symmetric channel by Elkouss, Leverrier,
Alléaume, Boutros, "Efficient reconciliation protocol for discrete-variable quantum
key distribution", ISIT 2009 (arXiv:0901.2140), as a public transcription of that
paper's table gives them (the caligo project's ``ldpc_degree_distributions.yaml``).
The paper's table itself could not be read here (no stored copy of its text beyond
the abstract), so the coefficients were checked in two other ways:

* each distribution sums to 1 and gives its design rate ``1 − Σρ_i/i / Σλ_i/i`` to
  10^-3 (``tests/postprocessing/test_ldpc_codes.py``); the transcription's rates
  0.75 (design rate 0.739) and 0.85 (its ``λ`` sums to 1.05) fail and are not used;
* each one's belief-propagation threshold ``ε*`` on the BSC by density evolution
  (population dynamics, ``python benchmarks/bench_ldpc.py --sections thresholds``),
  as an efficiency ``f* = (1 − R)/h(ε*)``: 1.021 (0.50), 1.038 (0.55), 1.032 (0.60),
  1.029 (0.65), 1.040 (0.70), 1.039 (0.80) — optimised ensembles, as the paper's —
  but 1.140 for the transcribed 0.90 (ε* = 0.0111 against the Shannon limit 0.0130).

**Designed here** (:data:`DESIGNED_RATES`: 0.75, 0.85, 0.90), by
``benchmarks/design_ldpc_distributions.py`` (its docstring has the details and the run
time): discretized density evolution of the sum-product decoder on the BSC
(quantized LLR densities, FFT at the variable nodes, a quantized pairwise table at the
checks; Richardson & Urbanke, Modern Coding Theory, §4.5; Chung, Forney, Richardson,
Urbanke, IEEE Commun. Lett. 5, 58 (2001)) inside the iterative linear program over
``λ`` for a fixed check-concentrated ``ρ`` (Richardson, Shokrollahi, Urbanke, IEEE
Trans. IT 47, 619 (2001), §IV), on the entropy functional; variable degrees 2 … ≤
:data:`MAX_DESIGN_DEGREE`, ``ρ`` on two consecutive degrees, the stability condition
``λ_2 ρ'(1) · 2√(ε(1 − ε)) ≤ 0.9`` at the Shannon-limit ``ε`` of the rate before the
final rate adjustment (≤ 0.95 after; tested), and a budget of 4-cycles of the n = 10^4
code (depth-2 PEG, below), which is what limits the average check degree: larger ones
gave better thresholds but thousands of 4-cycles at 10^4. Each one's threshold was then
**verified by the population density evolution** of ``benchmarks/bench_ldpc.py``
(40,000 messages, 300 iterations; 8 bisection steps in ``[0.85, 1] ε_Sh``):

=====  ======================  ===========================  =====================
rate   f* designed (verified)  f* before (v3 distribution)  4-cycles at n = 10^4
=====  ======================  ===========================  =====================
0.75   1.033                   1.057 (λ of 0.80)            0 (before: 0)
0.85   1.054                   1.089 (λ of 0.90)            0 (before: 0)
0.90   1.113                   1.140 (transcribed)          28 (before: 3,650)
=====  ======================  ===========================  =====================

(:data:`THRESHOLD_EFFICIENCY`). The program finds local optima: these are good
ensembles under the constraints, not optimal ones. At 0.80 its best (f* = 1.045 by
the grid density evolution, against 1.037 for the published one on the same grid) did
not beat the published distribution, which is kept; 0.70 was not redesigned. Until construction
version 3, 0.75 and 0.85 took the ``λ`` of 0.80 and 0.90 with a check-concentrated
``ρ`` (:func:`_check_concentrated`); the λ of 0.80 at 0.85 (degree 26) had left 13,817
4-cycles at n = 10^4, where frames decoded to wrong words 8 bits away.

Construction (deterministic from ``(rate, n, seed)``)
-----------------------------------------------------
* Variable-node degrees from the distribution (``Λ_i ∝ λ_i / i``), rounded by
  largest remainder; ``m = round(n (1 − R))`` checks.
* **Degree-2 variables first** (:func:`_chain`): a cycle of degree-2 variables is a
  codeword of its length, and the random graph had many short ones (measured at
  n = 10^5: frames decoded to words 3–8 bits away, every bit of degree 2, a frame
  error rate ~5–10 % at Q = 8 % whatever the rate). The first ``min(n₂, m − 1)``
  lie on a path through the checks (the staircase of IRA codes: no cycle); rates
  ≥ 0.75 have more degree-2 variables than checks, and each of the others joins
  checks more than :data:`_TWO_DEPTH` degree-2 hops apart (a depth-limited
  breadth-first search, as in progressive edge growth): no such codeword of
  fewer than 9 bits. The edges of these variables are never moved afterwards.
* ``n < 30,000`` (:data:`_SOCKET_MIN_N`): the other variables by **progressive edge
  growth** (Hu, Eleftheriou, Arnold, IEEE Trans. IT 51, 386 (2005)) with the tree
  search stopped at depth 2: each new edge of a variable goes to a check of lowest
  current degree among those not within two hops of it, so no 4-cycle is made
  while one can be avoided (the check degrees come out concentrated, as in
  PEG); ~2–3 s per code at n = 10^4 in numpy. The variables of degree ≥ 21 of
  rates 0.60–0.70, and the late variables of 0.90 (checks of degree 50–51),
  reach every check within two hops at this length, hence the 4-cycles these codes
  keep (:attr:`LdpcCode.four_cycles`, listed by ``qkd ldpc-codes``).
* ``n ≥ 30,000``: the other sockets matched by a seeded random permutation (check
  degrees following ``ρ``, adjusted by ±1 to the same number of edges; the
  configuration model of Richardson & Urbanke, IEEE Trans. IT 47, 599 (2001)), then
  every repeated edge and every 4-cycle (two checks sharing two variables: the entries
  ≥ 2 of ``H Hᵀ``) is broken by swapping the check end of one of its edges with that
  of a random other edge (MacKay's girth conditioning, IEEE Trans. IT 45, 399 (1999));
  1–7 s per code at n = 10^5 (the whole family of both sizes: 55 s on this machine).
  It ends with no 4-cycle. **Not a full PEG**: progressive edge growth searches the
  whole graph breadth-first for each of the ~5·10^5 edges, ~10^11 steps at n = 10^5 —
  hours in numpy; a compiled one would make the codes depend on numba, and the two
  parties must build bit-identical codes with or without it. Depth-2 PEG at n = 10^5
  in numpy (rate 0.90: 106 s per code against 5 s) decoded slightly better than the
  socket code in a short test (12 frames per QBER, before the degree-2 construction:
  8/12 against 10/12 failures at Q = 1.1 %, 0 against 1 at 1 %), not enough for its
  build time on a clean machine.
* The 4-cycles left are recorded (:attr:`LdpcCode.four_cycles`).
* **Untainted puncturing order** (Elkouss, Martínez-Mateo, Martin, IEEE Wireless
  Commun. Lett. 1, 585 (2012)): variables are visited by increasing size of
  their 2-neighbourhood (``Σ_c (deg c − 1)`` over their checks; ties by a
  seeded draw) and taken when none of their checks already holds a taken
  variable. Every prefix of that list is an untainted set: no check holds two
  punctured variables, so each punctured variable has a check of its own
  (1-step recoverable) and **the punctured columns of H are linearly
  independent** — which is what lets the reconciliation credit each punctured
  bit against the syndrome (see :mod:`~qkd_circuits.postprocessing.reconciliation.ldpc`).
* A seeded random order of the other variables, from which shortened
  positions are taken.

Cache
-----
Codes are built on first use and stored in :func:`cache_dir` (the environment
variable :data:`CACHE_ENV`, else ``$XDG_CACHE_HOME/qkd-circuits/ldpc``, else
``~/.cache/qkd-circuits/ldpc``) as ``.npz`` files written atomically (a
temporary file in the same directory, then ``os.replace``). A file whose
metadata does not match the requested ``(rate, n, seed, construction version)``
and the digest of the rate's degree distribution is rebuilt; the file name holds the
version and the digest's first 8 hex digits, so checkouts of other coefficients
sharing the cache keep apart. Nothing is ever downloaded. :func:`build_code_cache`
builds the whole family and :func:`list_code_cache` lists what is cached (the
``qkd ldpc-codes`` command).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from qkd_circuits.errors import ConfigError

__all__ = [
    "CACHE_ENV",
    "CONSTRUCTION_VERSION",
    "DEFAULT_SEED",
    "DESIGNED_RATES",
    "DISTRIBUTIONS",
    "FRAME_SIZES",
    "MAX_DESIGN_DEGREE",
    "PUBLISHED",
    "RATES",
    "THRESHOLD_EFFICIENCY",
    "DegreeDistribution",
    "LdpcCode",
    "build_code_cache",
    "cache_dir",
    "check_count",
    "code_name",
    "get_code",
    "list_code_cache",
]

CACHE_ENV: Final[str] = "QKD_CIRCUITS_LDPC_CACHE"
"""Environment variable that overrides the cache directory."""

CONSTRUCTION_VERSION: Final[int] = 4
"""Bumped whenever the construction changes, so that stale cache files are rebuilt."""

DEFAULT_SEED: Final[int] = 20090628
"""Seed of the family's codes (any seed gives a code of the same ensemble)."""

FRAME_SIZES: Final[tuple[int, ...]] = (10_000, 100_000)
"""Code lengths of the family."""

_FIX_ROUNDS: Final[int] = 200

_SOCKET_MIN_N: Final[int] = 30_000
"""Codes this long or longer are built by socket matching + 4-cycle removal; shorter
ones by depth-2 progressive edge growth (a random graph of 10^4 variables with these
degrees has ~10^4 4-cycles, which random swaps do not remove)."""

I32 = NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class DegreeDistribution:
    """An irregular LDPC ensemble in edge perspective.

    Attributes:
        rate: Design rate ``1 − Σρ_i/i / Σλ_i/i`` (as published).
        variable: ``(degree, λ_degree)`` pairs: fraction of edges on variables of that degree.
        check: ``(degree, ρ_degree)`` pairs: fraction of edges on checks of that degree.
    """

    rate: float
    variable: tuple[tuple[int, float], ...]
    check: tuple[tuple[int, float], ...]

    def design_rate(self) -> float:
        """``1 − Σρ_i/i / Σλ_i/i`` from the coefficients."""
        lam = sum(f / d for d, f in self.variable)
        rho = sum(f / d for d, f in self.check)
        return 1.0 - rho / lam


def _dist(
    rate: float, var_deg: list[int], lam: list[float], chk_deg: list[int], rho: list[float]
) -> DegreeDistribution:
    # The transcription lists polynomial exponents i − 1; node degrees are exponent + 1.
    return DegreeDistribution(
        rate,
        tuple((d + 1, f) for d, f in zip(var_deg, lam, strict=True)),
        tuple((d + 1, f) for d, f in zip(chk_deg, rho, strict=True)),
    )


# Elkouss, Leverrier, Alléaume, Boutros, ISIT 2009 (arXiv:0901.2140): λ(x) = Σ λ_i x^(i-1),
# ρ(x) = Σ ρ_i x^(i-1), given here by exponent as in the polynomials.
DISTRIBUTIONS: Final[dict[float, DegreeDistribution]] = {
    0.50: _dist(
        0.50,
        [1, 2, 3, 4, 5, 7, 8, 9, 10, 13, 14, 16, 46, 48, 54, 55, 56, 57, 58, 65],
        [
            0.14438,
            0.19026,
            0.01836,
            0.00233,
            0.04697,
            0.05394,
            0.05590,
            0.01290,
            0.00162,
            0.06159,
            0.13115,
            0.01481,
            0.00879,
            0.00650,
            0.00210,
            0.00099,
            0.11178,
            0.06238,
            0.05094,
            0.02230,
        ],
        [9, 11, 12, 13],
        [0.47575, 0.46847, 0.02952, 0.02626],
    ),
    0.55: _dist(
        0.55,
        [1, 2, 5, 14, 15, 17, 18, 30],
        [0.16880, 0.20994, 0.18095, 0.03846, 0.02635, 0.23454, 0.05815, 0.08280],
        [9, 10],
        [0.27631, 0.72369],
    ),
    0.60: _dist(
        0.60,
        [1, 2, 7, 8, 25, 26, 45, 70],
        [0.11040, 0.20804, 0.14163, 0.14858, 0.14438, 0.08909, 0.00748, 0.15038],
        [1, 9, 12, 17, 18],
        [0.00036, 0.13063, 0.31068, 0.49341, 0.064915],
    ),
    0.65: _dist(
        0.65,
        [1, 2, 3, 4, 8, 12, 14, 20, 50],
        [0.10451, 0.15652, 0.08057, 0.00056, 0.12151, 0.10485, 0.10719, 0.00771, 0.31656],
        [1, 14, 15, 20],
        [0.000578, 0.06089, 0.47001, 0.46852],
    ),
    0.70: _dist(
        0.70,
        [1, 2, 5, 8, 11, 24, 45, 61, 64, 72],
        [0.05343, 0.29406, 0.00896, 0.15571, 0.12189, 0.19872, 0.09572, 0.02741, 0.04056, 0.00354],
        [19, 20],
        [0.76922, 0.23077],
    ),
    0.80: _dist(
        0.80,
        [1, 2, 5, 6, 7, 16, 25],
        [0.09420, 0.18088, 0.11972, 0.08550, 0.09816, 0.07194, 0.34960],
        [28, 29],
        [0.58807, 0.41193],
    ),
    0.90: _dist(
        0.90,
        [1, 2, 4, 8, 11, 20],
        [0.07689, 0.28096, 0.08933, 0.19620, 0.30631, 0.05031],
        [49, 50],
        [0.95025, 0.04975],
    ),
}


PUBLISHED: Final[dict[float, DegreeDistribution]] = dict(DISTRIBUTIONS)
"""The transcribed distributions of Elkouss et al. 2009 (module docstring), including
those the family replaces by designed ones (:data:`DESIGNED_RATES`)."""


def _check_concentrated(rate: float, base: DegreeDistribution) -> DegreeDistribution:
    """``base``'s variable degrees ``λ`` with a check-concentrated ``ρ`` (two consecutive
    degrees ``d, d + 1``, the form optimised ensembles take; Chung, Forney, Richardson,
    Urbanke, IEEE Commun. Lett. 5, 58 (2001)) whose average gives design rate ``rate``:
    ``Σρ_i/i = (1 − rate) Σλ_i/i``."""
    target = (1.0 - rate) * sum(f / d for d, f in base.variable)
    d = int(1.0 / target)
    a = (target - 1.0 / (d + 1)) / (1.0 / d - 1.0 / (d + 1))
    return DegreeDistribution(rate, base.variable, ((d, a), (d + 1, 1.0 - a)))


MAX_DESIGN_DEGREE: Final[int] = 25
"""Largest variable degree of a designed distribution (depth-2 PEG at n = 10^4 cannot
keep variables of higher degree free of 4-cycles)."""

# Designed here (benchmarks/design_ldpc_distributions.py; module docstring): node degrees
# and edge fractions, λ then ρ.
_DESIGNED: Final[dict[float, DegreeDistribution]] = {
    0.75: DegreeDistribution(
        0.75,
        ((2, 0.1072), (3, 0.21859), (6, 0.01421), (7, 0.14994), (8, 0.08271), (12, 0.1),
         (25, 0.32735)),
        ((21, 0.02305), (22, 0.97695)),
    ),
    0.85: DegreeDistribution(
        0.85,
        ((2, 0.08378), (3, 0.20598), (6, 0.13889), (7, 0.10778), (18, 0.46357)),
        ((38, 0.86901), (39, 0.13099)),
    ),
    0.90: DegreeDistribution(
        0.90,
        ((2, 0.08457), (3, 0.25185), (6, 0.13055), (8, 0.2), (11, 0.02263), (12, 0.1),
         (13, 0.15473), (14, 0.05567)),
        ((50, 0.81198), (51, 0.18802)),
    ),
}  # fmt: skip
DISTRIBUTIONS.update(_DESIGNED)
DESIGNED_RATES: Final[frozenset[float]] = frozenset(_DESIGNED)
"""Rates whose distribution is designed here by density evolution (module docstring),
not published."""

RATES: Final[tuple[float, ...]] = tuple(sorted(DISTRIBUTIONS))
"""Design rates of the family."""

THRESHOLD_EFFICIENCY: Final[dict[float, float]] = {
    0.50: 1.021, 0.55: 1.038, 0.60: 1.032, 0.65: 1.029, 0.70: 1.040,
    0.75: 1.033, 0.80: 1.039, 0.85: 1.054, 0.90: 1.113,
}  # fmt: skip
"""``(1 − R)/h(ε*)`` at each distribution's BP threshold ε* on the BSC (population
density evolution, module docstring): the efficiency its codes approach as n grows.
Construction version ≤ 3: 1.057 (0.75), 1.089 (0.85), 1.140 (0.90)."""


def check_count(rate: float, n: int) -> int:
    """``m = round(n (1 − R))``: the checks of the family's code of design rate ``rate``
    and length ``n``, known without building it."""
    return round(n * (1.0 - rate))


def code_name(rate: float, n: int, seed: int = DEFAULT_SEED) -> str:
    """``"r0.80-n100000-s<seed>"``: the name of a code in reports and in the cache."""
    return f"r{rate:.2f}-n{n}-s{seed}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LdpcCode:
    """One parity-check matrix with its puncturing and shortening orders.

    Attributes:
        name: :func:`code_name`.
        rate: Design rate of its distribution.
        n: Code length (columns of ``H``).
        m: Checks (rows of ``H``); ``k = n − m`` is the mother code's dimension.
        seed: Construction seed.
        H: The parity-check matrix, ``scipy.sparse.csr_matrix`` (m, n) of uint8 ones.
        puncture_order: Variables in untainted-puncturing order: any prefix of it is
            an untainted set (no check holds two of its variables).
        shorten_order: The other variables in a seeded random order (shortened first).
        four_cycles: 4-cycles left after the construction.
        build_seconds: Time the construction took.
    """

    name: str
    rate: float
    n: int
    m: int
    seed: int
    H: sp.csr_matrix = field(repr=False)
    puncture_order: I32 = field(repr=False)
    shorten_order: I32 = field(repr=False)
    four_cycles: int
    build_seconds: float

    @property
    def k(self) -> int:
        """Dimension of the mother code, ``n − m`` (its rate is ``k / n``)."""
        return self.n - self.m

    @property
    def max_punctured(self) -> int:
        """Largest untainted puncturing set of this code."""
        return int(self.puncture_order.size)

    def syndrome(self, frames: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """``H x mod 2`` of one frame ``(n,)`` or of frames ``(F, n)`` → ``(m,)`` / ``(F, m)``."""
        x = np.asarray(frames, dtype=np.int32)
        s = (self.H @ x.T).T if x.ndim == 2 else self.H @ x
        return (np.asarray(s) & 1).astype(np.uint8)


# ------------------------------------------------------------------ construction
def _largest_remainder(weights: NDArray[np.float64], total: int) -> NDArray[np.int64]:
    raw = weights / weights.sum() * total
    counts = np.floor(raw).astype(np.int64)
    rest = total - int(counts.sum())
    if rest > 0:
        counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return counts


def _degrees(pairs: tuple[tuple[int, float], ...], nodes: int) -> NDArray[np.int64]:
    deg = np.array([d for d, _ in pairs], dtype=np.int64)
    frac = np.array([f for _, f in pairs], dtype=np.float64)
    counts = _largest_remainder(frac / deg, nodes)
    return np.repeat(deg, counts)


def _check_degrees(
    dist: DegreeDistribution, m: int, edges: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    cdeg = _degrees(dist.check, m)
    diff = edges - int(cdeg.sum())
    # Spread the difference by ±1 over checks (the most common degrees first, at random).
    step = 1 if diff > 0 else -1
    while diff:
        idx = rng.permutation(m)[: min(abs(diff), m)]
        if step < 0:
            idx = idx[cdeg[idx] > 2]
        cdeg[idx] += step
        diff -= step * idx.size
    return cdeg


def _matrix(vs: I32, cs: I32, n: int, m: int) -> sp.csr_matrix:
    data = np.ones(vs.size, dtype=np.int32)
    return sp.csr_matrix((data, (cs, vs)), shape=(m, n))


def _bad_edges(
    vs: I32, cs: I32, n: int, m: int, fixed: NDArray[np.bool_] | None = None
) -> tuple[NDArray[np.int64], int]:
    """Edges to move: one of every repeated edge and one edge of every 4-cycle, never one
    of the ``fixed`` variables' (the degree-2 chain, :func:`_chain`) when the 4-cycle has
    another.

    Returns the edge indices and the number of 4-cycles (check pairs sharing ≥ 2 variables).
    """
    key = vs.astype(np.int64) * m + cs
    order = np.argsort(key, kind="stable")
    dup = order[1:][key[order][1:] == key[order][:-1]]
    H = _matrix(vs, cs, n, m)
    H.data[:] = 1
    H.sum_duplicates()
    H.data[:] = 1
    C = sp.triu(H @ H.T, k=1).tocoo()
    sel = C.data >= 2
    a, b = C.row[sel], C.col[sel]
    cycles = int(a.size)
    if cycles == 0:
        return np.unique(dup), 0
    # For each offending pair (a, b) move the edge (v, a) of the first variable v they
    # share that is not fixed.
    shared = H[a].multiply(H[b]).tocsr()
    if fixed is not None:
        shared.data[fixed[shared.indices]] = 0
        shared.eliminate_zeros()
    rows = np.flatnonzero(np.diff(shared.indptr) > 0)
    first = shared.indices[shared.indptr[rows]]
    edge_keys = first.astype(np.int64) * m + a[rows]
    sorted_keys = key[order]
    pos = np.searchsorted(sorted_keys, edge_keys)
    moves = order[pos]
    return np.unique(np.concatenate([dup, moves])), cycles


_TWO_DEPTH: Final[int] = 7
"""Degree-2 variables beyond the chain join checks more than this many degree-2 hops
apart: every cycle of degree-2 variables, a codeword of its length, has more than
``_TWO_DEPTH + 1`` of them."""


def _chain(
    vdeg: NDArray[np.int64], m: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The checks of every degree-2 variable, ``(variables, (k, 2) checks)``.

    A cycle of degree-2 variables is a codeword of the cycle's length (measured on the
    random graph: frames decoded to words 3–8 bits away, all degree 2, FER ~10^-1 at
    Q = 8 %). The first ``min(n₂, m − 1)`` lie on a path through the checks (variable
    ``j`` joins ``π(j)`` and ``π(j + 1)``, ``π`` a seeded permutation): the staircase of
    IRA codes (Jin, Khandekar, McEliece, Turbo Codes 2000), no cycle. The others (codes of
    rate ≥ 0.75 have more degree-2 variables than checks) each join a check of fewest
    degree-2 edges to a random check more than :data:`_TWO_DEPTH` degree-2 hops from it
    (a breadth-first search, as in progressive edge growth), or the farthest when none is.
    """
    two = np.flatnonzero(vdeg == 2)
    count = min(two.size, m - 1)
    if count == 0:
        return two[:0], np.zeros((0, 2), dtype=np.int64)
    path = rng.permutation(m)[: count + 1]
    pairs = [(int(path[j]), int(path[j + 1])) for j in range(count)]
    adj: list[list[int]] = [[] for _ in range(m)]
    for a, b in pairs:
        adj[a].append(b)
        adj[b].append(a)
    order = rng.permutation(m)
    degree = np.bincount(np.asarray(pairs, dtype=np.int64).ravel(), minlength=m)[order]
    position = np.empty(m, dtype=np.int64)
    position[order] = np.arange(m)
    for _ in range(two.size - count):
        a = int(order[int(np.argmin(degree))])
        seen = {a}
        frontier = [a]
        for _depth in range(_TWO_DEPTH):
            nxt = [u for c in frontier for u in adj[c] if u not in seen]
            if not nxt:
                break
            seen.update(nxt)
            frontier = list(dict.fromkeys(nxt))
        b = -1
        for _try in range(64):
            c = int(rng.integers(m))
            if c not in seen:
                b = c
                break
        if b < 0:  # every check is near: the farthest layer
            b = int(frontier[int(rng.integers(len(frontier)))]) if frontier != [a] else a
            if b == a:
                b = int((a + 1 + rng.integers(m - 1)) % m)
        pairs.append((a, b))
        adj[a].append(b)
        adj[b].append(a)
        degree[position[a]] += 1
        degree[position[b]] += 1
    return two, np.asarray(pairs, dtype=np.int64)


def _peg_short(dist: DegreeDistribution, n: int, rng: np.random.Generator) -> tuple[I32, I32]:
    """Progressive edge growth with the search stopped at depth 2 (codes up to
    :data:`_SOCKET_MIN_N`), after the degree-2 variables (:func:`_chain`): the others
    in nondecreasing degree order, each new edge to a check of lowest current degree among
    those *not* within two hops of the variable (no 4-cycle), ties by a seeded draw; when
    every check is within two hops, the lowest-degree check not yet connected (a 4-cycle,
    counted afterwards)."""
    vdeg = np.sort(_degrees(dist.variable, n))
    m = check_count(dist.rate, n)
    deg = np.zeros(m, dtype=np.int64)
    var_checks: list[list[int]] = [[] for _ in range(n)]
    check_vars: list[list[int]] = [[] for _ in range(m)]
    chain_vars, pairs = _chain(vdeg, m, rng)
    for v, ends in zip(chain_vars.tolist(), pairs.tolist(), strict=True):
        for c in ends:
            var_checks[v].append(c)
            check_vars[c].append(v)
            deg[c] += 1
    on_chain = np.zeros(n, dtype=bool)
    on_chain[chain_vars] = True
    big = np.iinfo(np.int64).max
    for v in range(n):
        if on_chain[v]:
            continue
        near = np.zeros(m, dtype=bool)
        mine = var_checks[v]
        for _ in range(int(vdeg[v])):
            score = np.where(near, big, deg)
            low = score.min()
            if low == big:
                score = deg.copy()
                score[mine] = big
                low = score.min()
            cand = np.flatnonzero(score == low)
            c = int(cand[rng.integers(cand.size)]) if cand.size > 1 else int(cand[0])
            mine.append(c)
            deg[c] += 1
            near[c] = True
            for u in check_vars[c]:
                near[var_checks[u]] = True
            check_vars[c].append(v)
    perm = rng.permutation(n).astype(np.int32)  # spread the degrees over the frame
    vs = np.repeat(perm, vdeg)
    cs = np.fromiter((c for checks in var_checks for c in checks), dtype=np.int32, count=vs.size)
    return vs, cs


def _construct(dist: DegreeDistribution, n: int, seed: int) -> tuple[sp.csr_matrix, I32, I32, int]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, n, round(dist.rate * 1000)]))
    m = check_count(dist.rate, n)
    if n < _SOCKET_MIN_N:
        vs, cs = _peg_short(dist, n, rng)
        _, cycles = _bad_edges(vs, cs, n, m)
    else:
        vs, cs, cycles = _socket_code(dist, n, m, rng)
    H = _matrix(vs, cs, n, m)
    H.sum_duplicates()
    H.data[:] = 1
    H = H.astype(np.uint8)
    H.eliminate_zeros()
    punct = _untainted_order(H, rng)
    others = np.setdiff1d(np.arange(n, dtype=np.int32), punct)
    shorten = rng.permutation(others).astype(np.int32)
    return H, punct, shorten, cycles


def _socket_code(
    dist: DegreeDistribution, n: int, m: int, rng: np.random.Generator
) -> tuple[I32, I32, int]:
    vdeg = _degrees(dist.variable, n)
    vdeg = vdeg[rng.permutation(n)]
    edges = int(vdeg.sum())
    cdeg = _check_degrees(dist, m, edges, rng)
    chain_vars, pairs = _chain(vdeg, m, rng)
    fixed = np.zeros(n, dtype=bool)
    fixed[chain_vars] = True
    # The degree-2 variables' edges first, then the other variables' sockets matched at
    # random to the checks' remaining sockets.
    chain_vs = np.repeat(chain_vars, 2).astype(np.int32)
    chain_cs = pairs.ravel().astype(np.int32)
    left = cdeg - np.bincount(chain_cs, minlength=m)
    rest = np.flatnonzero(~fixed)
    rest_vs = np.repeat(rest, vdeg[rest]).astype(np.int32)
    rest_cs = rng.permutation(np.repeat(np.arange(m, dtype=np.int32), left))
    vs = np.concatenate([chain_vs, rest_vs])
    cs = np.concatenate([chain_cs, rest_cs]).astype(np.int32)
    movable = np.flatnonzero(~fixed[vs])
    cycles = 0
    for _ in range(_FIX_ROUNDS):
        bad, cycles = _bad_edges(vs, cs, n, m, fixed)
        bad = bad[~fixed[vs[bad]]]
        if bad.size == 0:
            break
        mask = np.zeros(edges, dtype=bool)
        mask[movable] = True
        mask[bad] = False
        partners = rng.choice(np.flatnonzero(mask), size=bad.size, replace=False)
        cs[bad], cs[partners] = cs[partners], cs[bad].copy()
    else:
        _, cycles = _bad_edges(vs, cs, n, m, fixed)
    return vs, cs, cycles


def _untainted_order(H: sp.csr_matrix, rng: np.random.Generator) -> I32:
    """Untainted puncturing (Elkouss et al. 2012): no check holds two chosen variables."""
    n = H.shape[1]
    csc = H.tocsc()
    cdeg = np.diff(H.indptr)
    size2 = np.asarray(csc.T @ (cdeg - 1)).ravel()
    order = np.lexsort((rng.random(n), size2))
    free = np.ones(n, dtype=bool)
    chosen: list[int] = []
    cind, cptr, rind, rptr = csc.indices, csc.indptr, H.indices, H.indptr
    for v in order.tolist():
        if not free[v]:
            continue
        checks = cind[cptr[v] : cptr[v + 1]]
        chosen.append(v)
        for c in checks.tolist():
            free[rind[rptr[c] : rptr[c + 1]]] = False
    return np.asarray(chosen, dtype=np.int32)


# ------------------------------------------------------------------ cache
def cache_dir() -> Path:
    """Directory of cached codes: ``$QKD_CIRCUITS_LDPC_CACHE``, else the user cache dir."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qkd-circuits" / "ldpc"


def _digest(rate: float) -> str:
    """16 hex digits of SHA-256 of the rate's distribution coefficients."""
    dist = DISTRIBUTIONS[round(rate, 2)]
    return hashlib.sha256(repr((dist.variable, dist.check)).encode()).hexdigest()[:16]


def _path(rate: float, n: int, seed: int) -> Path:
    # The digest in the name too: checkouts with other coefficients sharing the cache
    # keep their own files instead of rebuilding each other's.
    name = f"{code_name(rate, n, seed)}-v{CONSTRUCTION_VERSION}-{_digest(rate)[:8]}.npz"
    return cache_dir() / name


def _meta(rate: float, n: int, seed: int) -> dict[str, object]:
    return {
        "rate": round(rate, 2), "n": n, "seed": seed, "version": CONSTRUCTION_VERSION,
        "distribution": _digest(rate),
    }  # fmt: skip


def _load(path: Path, rate: float, n: int, seed: int) -> LdpcCode | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            want = _meta(rate, n, seed)
            if {k: meta.get(k) for k in want} != want:
                return None
            m = int(meta["m"])
            indptr, indices = z["indptr"], z["indices"]
            H = sp.csr_matrix(
                (np.ones(indices.size, dtype=np.uint8), indices, indptr), shape=(m, n)
            )
            return LdpcCode(
                name=code_name(rate, n, seed), rate=rate, n=n, m=m, seed=seed, H=H,
                puncture_order=z["puncture"].astype(np.int32),
                shorten_order=z["shorten"].astype(np.int32),
                four_cycles=int(meta["four_cycles"]), build_seconds=float(meta["build_seconds"]),
            )  # fmt: skip
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def _store(path: Path, code: LdpcCode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = _meta(code.rate, code.n, code.seed) | {
        "m": code.m,
        "four_cycles": code.four_cycles,
        "build_seconds": code.build_seconds,
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(
                fh,
                meta=np.array(json.dumps(meta)),
                indptr=code.H.indptr.astype(np.int32),
                indices=code.H.indices.astype(np.int32),
                puncture=code.puncture_order,
                shorten=code.shorten_order,
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_MEMO: dict[tuple[float, int, int, str], LdpcCode] = {}


def _check_rate_n(rate: float, n: int) -> float:
    matches = [r for r in RATES if abs(r - rate) < 1e-9]
    if not matches:
        raise ConfigError(f"no LDPC distribution of rate {rate!r}; rates: {RATES}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1000:
        raise ConfigError(f"code length must be an integer >= 1000, got {n!r}")
    return matches[0]


def get_code(rate: float, n: int, *, seed: int = DEFAULT_SEED, cache: bool = True) -> LdpcCode:
    """The code of design rate ``rate`` (one of :data:`RATES`) and length ``n``.

    Loaded from the cache, or built (and stored, when ``cache``) on first use;
    memoised in the process. The same ``(rate, n, seed)`` always gives the same code.
    """
    r = _check_rate_n(rate, n)
    memo_key = (r, n, seed, str(cache_dir()))
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    path = _path(r, n, seed)
    code = _load(path, r, n, seed) if cache else None
    if code is None:
        start = time.perf_counter()
        H, punct, shorten, cycles = _construct(DISTRIBUTIONS[r], n, seed)
        code = LdpcCode(
            name=code_name(r, n, seed), rate=r, n=n, m=H.shape[0], seed=seed, H=H,
            puncture_order=punct, shorten_order=shorten, four_cycles=cycles,
            build_seconds=time.perf_counter() - start,
        )  # fmt: skip
        if cache:
            _store(path, code)
    _MEMO[memo_key] = code
    return code


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedCode:
    """One entry of :func:`list_code_cache`."""

    name: str
    rate: float
    n: int
    m: int
    max_punctured: int
    four_cycles: int
    build_seconds: float
    path: str
    bytes: int


def list_code_cache() -> list[CachedCode]:
    """The family's codes present in :func:`cache_dir` (valid files only), by n then rate."""
    out: list[CachedCode] = []
    for n in FRAME_SIZES:
        for r in RATES:
            path = _path(r, n, DEFAULT_SEED)
            if not path.exists():
                continue
            code = _load(path, r, n, DEFAULT_SEED)
            if code is None:
                continue
            out.append(
                CachedCode(
                    name=code.name,
                    rate=r,
                    n=n,
                    m=code.m,
                    max_punctured=code.max_punctured,
                    four_cycles=code.four_cycles,
                    build_seconds=code.build_seconds,
                    path=str(path),
                    bytes=path.stat().st_size,
                )
            )
    return out


def build_code_cache(
    sizes: tuple[int, ...] = FRAME_SIZES, rates: tuple[float, ...] = RATES
) -> list[CachedCode]:
    """Build (or load) every code of the family for ``sizes`` × ``rates``, then list the cache.

    This is what ``qkd ldpc-codes`` runs: idempotent, never downloads anything.
    """
    for n in sizes:
        for r in rates:
            get_code(r, n)
    return list_code_cache()
