"""Compiled belief-propagation syndrome decoders (numba), for LDPC reconciliation.

Both decoders find an error pattern ``e`` (``(n,)`` uint8) with ``H e = s (mod 2)``
for a syndrome ``s`` (``(m,)`` uint8), given each bit's error probability ``p_v``
(channel log-likelihood ratio ``λ_v = log((1 − p_v)/p_v)``), by the product-sum
(sum-product) algorithm in the log domain: a check ``c`` sends bit ``v``
``(−1)^{s_c} · 2 atanh(Π_{u ≠ v} tanh(t_u / 2))`` with ``t_u`` the bit-to-check
messages (Kschischang, Frey, Loeliger, IEEE Trans. IT 47, 498 (2001); syndrome
form as in Liveris, Xiong, Georghiades, IEEE Commun. Lett. 6, 440 (2002)). The bit
decision is ``e_v = 1`` when its posterior LLR is ``<= 0``; decoding stops as soon
as the decisions reproduce ``s``.

Schedules
---------
* ``"flooding"`` (:func:`decode_flooding`): every check, then every bit, per
  iteration — the ``ldpc`` package's ``BpDecoder(bp_method="product_sum",
  schedule="parallel")`` operation for operation (same products in the same order,
  same ``tanh``/``log`` calls, no clamping), so it returns the same decoded words,
  convergence flags and iteration counts (``tests/postprocessing/test_ldpc_bp_decoder.py``).
  The reference against which the fast one is checked.
* ``"layered"`` (:func:`decode_layered`, the default): row-layered (shuffled by
  checks) schedule — each check reads the bits' current posteriors and updates them
  at once (Hocevar, IEEE SiPS 2004, 107; Sharon, Litsyn, Goldberger, IEEE Trans.
  Commun. 55, 1081 (2007): about half the iterations of flooding). The check update
  is written with ``φ(x) = −log tanh(x/2)`` (Gallager's form: magnitude
  ``φ(Σ_{u≠v} φ(|t_u|))``, sign the parity of the others' signs and ``s_c``), and φ
  is read from a table, linearly interpolated on a grid uniform in ``√x`` (step
  :data:`PHI_STEP`, dense near 0 where φ is steep: 1,450 points, 23 kB, in the L1
  cache): φ of inputs below ``(PHI_STEP/2)²`` (≈ 3.8·10⁻⁶) is that of
  ``(PHI_STEP/2)²`` (13.2), of inputs beyond :data:`PHI_MAX_X` zero. A grid uniform
  in ``x`` (step 1/256) was measured to lose frames the exact update decodes
  (heavily punctured frames, whose many LLR-0 inputs need φ's large values);
  on this grid FER and iterations match the exact update's
  (``benchmarks/bench_ldpc.py``). ``exact=True`` evaluates the same update with
  ``exp``/``log`` (tanh form) instead, ~3× slower.

Both release the GIL (``nogil``): frames are decoded in parallel by threads. numba is
imported with this module (so import it only to decode: ``qkd --help`` must not load
numba); :func:`~.ldpc.numba_available` tells whether it can be, without importing it.
Compiled code is cached on disk by numba (``cache=True``: ``__pycache__`` beside this
file, or numba's user cache directory when that is read-only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numba
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from qkd_circuits.errors import ConfigError

__all__ = [
    "PHI_MAX_X",
    "PHI_STEP",
    "SCHEDULES",
    "BpDecoding",
    "BpSyndromeDecoder",
    "decode_flooding",
    "decode_layered",
]

SCHEDULES: Final[tuple[str, ...]] = ("layered", "flooding")
"""Schedules of :class:`BpSyndromeDecoder`."""

PHI_STEP: Final[float] = 1.0 / 256
"""Grid step, in ``√x``, of the φ table of the layered decoder."""

PHI_MAX_X: Final[float] = 32.0
"""φ is 0 beyond this (``φ(32) = 2.5e-14``)."""

_LLR_CLAMP: Final[float] = 30.0  # |check message| bound of the exact layered update


def _phi(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``φ(x) = log((1 + e^{-x}) / (1 − e^{-x})) = −log tanh(x/2)``, ``x > 0``."""
    return np.log1p(2.0 / np.expm1(x))


def _phi_table() -> NDArray[np.float64]:
    """``(K, 2)`` float64: φ at ``x = (i · PHI_STEP)²`` and the slope (per grid step) to
    the next point; the first point is φ((PHI_STEP/2)²) (φ(0) is infinite), the last
    two are 0."""
    k = int(math.sqrt(PHI_MAX_X) / PHI_STEP) + 2
    us = np.arange(k, dtype=np.float64) * PHI_STEP
    us[0] = PHI_STEP / 2
    values = np.zeros(k)
    values[: k - 2] = _phi(us[: k - 2] ** 2)
    slopes = np.append(np.diff(values), 0.0)
    return np.ascontiguousarray(np.stack([values, slopes], axis=1))


_PHI_TABLE: Final[NDArray[np.float64]] = _phi_table()
_PHI_SCALE: Final[float] = 1.0 / PHI_STEP
_PHI_TOP: Final[float] = math.sqrt(PHI_MAX_X) - PHI_STEP / 4
_Q_MAX: Final[float] = math.tanh(_LLR_CLAMP / 2)


@numba.njit(inline="always", fastmath=True, cache=True)
def _phi_lookup(x: float, table: NDArray[np.float64]) -> float:  # pragma: no cover - compiled
    y = min(math.sqrt(x), _PHI_TOP) * _PHI_SCALE
    i = int(y)
    return float(table[i, 0] + (y - i) * table[i, 1])


@numba.njit(nogil=True, fastmath=True, cache=True)
def _layered(
    rowptr: NDArray[np.int32],
    cols: NDArray[np.int32],
    syndrome: NDArray[np.uint8],
    llr: NDArray[np.float64],
    max_iter: int,
    table: NDArray[np.float64],
    exact: bool,
) -> tuple[NDArray[np.uint8], bool, int]:  # pragma: no cover - compiled
    m = rowptr.size - 1
    n = llr.size
    post = llr.copy()
    msg = np.zeros(cols.size)
    dmax = 0
    for c in range(m):
        dmax = max(dmax, rowptr[c + 1] - rowptr[c])
    t = np.empty(dmax)
    a = np.empty(dmax)
    fwd = np.empty(dmax)
    out = np.zeros(n, dtype=np.uint8)
    for it in range(1, max_iter + 1):
        unsatisfied = 0
        for c in range(m):
            lo = rowptr[c]
            d = rowptr[c + 1] - lo
            if exact:
                # tanh form: forward products, then backward (no division by a zero tanh).
                prod = 1.0
                for j in range(d):
                    x = post[cols[lo + j]] - msg[lo + j]
                    t[j] = x
                    u = math.exp(-abs(x))
                    y = (1.0 - u) / (1.0 + u)
                    a[j] = y if x >= 0.0 else -y
                    fwd[j] = prod
                    prod *= a[j]
                prod = -1.0 if syndrome[c] else 1.0
                parity = 0
                for j in range(d - 1, -1, -1):
                    q = min(max(fwd[j] * prod, -_Q_MAX), _Q_MAX)
                    prod *= a[j]
                    r = math.log((1.0 + q) / (1.0 - q))
                    msg[lo + j] = r
                    v = cols[lo + j]
                    post[v] = t[j] + r
                    parity ^= post[v] <= 0.0
            else:
                total = 0.0
                sign = syndrome[c]
                for j in range(d):
                    x = post[cols[lo + j]] - msg[lo + j]
                    t[j] = x
                    if x < 0.0:
                        sign ^= 1
                    a[j] = _phi_lookup(abs(x), table)
                    total += a[j]
                parity = 0
                for j in range(d):
                    mag = _phi_lookup(total - a[j], table)
                    r = -mag if (sign ^ (t[j] < 0.0)) else mag
                    msg[lo + j] = r
                    v = cols[lo + j]
                    post[v] = t[j] + r
                    parity ^= post[v] <= 0.0
            if parity != syndrome[c]:
                unsatisfied += 1
        # Every check held when it was updated: confirm on the final decisions (later
        # checks of the pass may have moved a bit); the last iteration is always checked.
        if unsatisfied == 0 or it == max_iter:
            ok = True
            for c in range(m):
                parity = syndrome[c]
                for e in range(rowptr[c], rowptr[c + 1]):
                    parity ^= post[cols[e]] <= 0.0
                if parity:
                    ok = False
                    break
            if ok:
                for v in range(n):
                    out[v] = post[v] <= 0.0
                return out, True, it
    for v in range(n):
        out[v] = post[v] <= 0.0
    return out, False, max_iter


@numba.njit(nogil=True, cache=True)
def _flooding(
    rowptr: NDArray[np.int32],
    cols: NDArray[np.int32],
    colptr: NDArray[np.int32],
    col_edges: NDArray[np.int32],
    edge_rows: NDArray[np.int32],
    syndrome: NDArray[np.uint8],
    llr: NDArray[np.float64],
    max_iter: int,
) -> tuple[NDArray[np.uint8], bool, int]:  # pragma: no cover - compiled
    m = rowptr.size - 1
    n = llr.size
    b2c = np.empty(cols.size)  # bit-to-check messages, CSR edge order
    c2b = np.empty(cols.size)
    out = np.zeros(n, dtype=np.uint8)
    cand = np.zeros(m, dtype=np.uint8)
    for v in range(n):
        for k in range(colptr[v], colptr[v + 1]):
            b2c[col_edges[k]] = llr[v]
    for it in range(1, max_iter + 1):
        for c in range(m):
            cand[c] = 0
            temp = 1.0
            for e in range(rowptr[c], rowptr[c + 1]):
                c2b[e] = temp
                temp *= math.tanh(b2c[e] / 2)
            temp = 1.0
            sign = -1.0 if syndrome[c] else 1.0
            for e in range(rowptr[c + 1] - 1, rowptr[c] - 1, -1):
                c2b[e] *= temp
                c2b[e] = sign * math.log((1 + c2b[e]) / (1 - c2b[e]))
                temp *= math.tanh(b2c[e] / 2)
        for v in range(n):
            temp = llr[v]
            for k in range(colptr[v], colptr[v + 1]):
                e = col_edges[k]
                b2c[e] = temp
                temp += c2b[e]
            if temp <= 0:
                out[v] = 1
                for k in range(colptr[v], colptr[v + 1]):
                    cand[edge_rows[col_edges[k]]] ^= 1
            else:
                out[v] = 0
        same = True
        for c in range(m):
            if cand[c] != syndrome[c]:
                same = False
                break
        if same:
            return out, True, it
        for v in range(n):
            temp = 0.0
            for k in range(colptr[v + 1] - 1, colptr[v] - 1, -1):
                e = col_edges[k]
                b2c[e] += temp
                temp += c2b[e]
    return out, False, max_iter


@dataclass(frozen=True, slots=True, kw_only=True)
class BpDecoding:
    """One decoding.

    Attributes:
        error: Decided error pattern, ``(n,)`` uint8 (the last iteration's decisions
            when not converged).
        converged: The decisions reproduce the syndrome.
        iterations: Iterations run (0 for an all-zero syndrome).
    """

    error: NDArray[np.uint8]
    converged: bool
    iterations: int


class BpSyndromeDecoder:
    """Product-sum syndrome decoder of one parity-check matrix (compiled, GIL released).

    Args:
        H: Parity-check matrix ``(m, n)``, any scipy sparse format, entries 0/1.
        max_iterations: Iterations per decoding, >= 1.
        schedule: ``"layered"`` (default) or ``"flooding"`` (module docstring).
        exact: Layered only: ``exp``/``log`` check updates instead of the φ table.

    Raises:
        ConfigError: on a bad schedule, iteration count or matrix.
    """

    def __init__(
        self,
        H: sp.spmatrix | sp.sparray,
        *,
        max_iterations: int,
        schedule: str = "layered",
        exact: bool = False,
    ) -> None:
        if schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if isinstance(max_iterations, bool) or not isinstance(max_iterations, int):
            raise ConfigError(f"max_iterations must be an integer >= 1, got {max_iterations!r}")
        if max_iterations < 1:
            raise ConfigError(f"max_iterations must be an integer >= 1, got {max_iterations!r}")
        if not sp.issparse(H) or H.ndim != 2:
            raise ConfigError(f"H must be a 2-D scipy sparse matrix, got {type(H).__name__}")
        csr = sp.csr_matrix(H, copy=True)
        csr.sum_duplicates()
        csr.sort_indices()
        csr.eliminate_zeros()
        if csr.nnz and not np.all(csr.data == 1):
            raise ConfigError("H must have 0/1 entries")
        self.m, self.n = (int(s) for s in csr.shape)
        self.edges = int(csr.nnz)
        self.schedule = schedule
        self.exact = bool(exact)
        self.max_iterations = max_iterations
        self._rowptr = csr.indptr.astype(np.int32)
        self._cols = csr.indices.astype(np.int32)
        if schedule == "flooding":
            self._col_edges = np.argsort(self._cols, kind="stable").astype(np.int32)
            counts = np.bincount(self._cols, minlength=self.n)
            self._colptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            self._edge_rows = np.repeat(
                np.arange(self.m, dtype=np.int32), np.diff(self._rowptr)
            ).astype(np.int32)

    def decode(
        self, syndrome: NDArray[np.uint8], error_probabilities: NDArray[np.float64]
    ) -> BpDecoding:
        """Decode one syndrome.

        Args:
            syndrome: ``(m,)`` 0/1 values.
            error_probabilities: ``(n,)`` error probability of each bit, in ``(0, 1)``
                (0.5: no information, e.g. a punctured bit).

        Raises:
            ConfigError: on a shape mismatch or a probability outside ``(0, 1)``.
        """
        s = np.ascontiguousarray(syndrome, dtype=np.uint8)
        p = np.ascontiguousarray(error_probabilities, dtype=np.float64)
        if s.shape != (self.m,):
            raise ConfigError(f"syndrome must have shape ({self.m},), got {s.shape}")
        if p.shape != (self.n,):
            raise ConfigError(f"error_probabilities must have shape ({self.n},), got {p.shape}")
        if not np.all((p > 0.0) & (p < 1.0)):
            raise ConfigError("error_probabilities must lie in (0, 1)")
        if not s.any():
            return BpDecoding(error=np.zeros(self.n, dtype=np.uint8), converged=True, iterations=0)
        llr = np.log((1.0 - p) / p)
        if self.schedule == "flooding":
            e, ok, it = decode_flooding(
                self._rowptr, self._cols, self._colptr, self._col_edges, self._edge_rows,
                s, llr, self.max_iterations,
            )  # fmt: skip
        else:
            e, ok, it = decode_layered(
                self._rowptr, self._cols, s, llr, self.max_iterations, _PHI_TABLE, self.exact
            )
        return BpDecoding(error=e, converged=bool(ok), iterations=int(it))


decode_layered = _layered
"""The compiled layered kernel: ``(rowptr, cols, syndrome, llr, max_iter, table, exact)``
→ ``(error, converged, iterations)``; CSR arrays int32, sorted columns."""

decode_flooding = _flooding
"""The compiled flooding kernel: ``(rowptr, cols, colptr, col_edges, edge_rows,
syndrome, llr, max_iter)`` → ``(error, converged, iterations)``."""
