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
  ``φ(Σ_{u≠v} φ(|t_u|))``, sign the parity of the others' signs and ``s_c``), in
  float32, and φ is read from a table (:func:`phi_table`) indexed by the top bits of
  the input's float32 representation — its exponent and first 8 mantissa bits, so
  the bins are uniform in ``log x``, 256 per octave, from :data:`PHI_MIN_X` = 2^-24
  (φ = 17.3; smaller inputs, zero included, read as it) to :data:`PHI_MAX_X` = 64 —
  with no interpolation: one integer shift and one load per lookup, 7,680 values,
  30 kB, in the L1 cache. Its error is at most half a bin, ``|φ'(x)| x · ln(1 + 1/256)/2
  = x/sinh(x) · 1.95·10⁻³ ≤ 1.95·10⁻³`` on ``[PHI_MIN_X, PHI_MAX_X)``
  (``tests/postprocessing/test_ldpc_bp_decoder.py``). On the
  frames of ``benchmarks/bench_ldpc.py`` it decodes the same words in the same
  iterations (±2) as the previous float64 table (uniform in ``√x``, linearly
  interpolated), 1.55–1.7× faster (``benchmarks/README.md``). ``exact=True``
  evaluates the same update in float64 with ``exp``/``log`` (tanh form), ~3× slower:
  the reference the table is checked against.

Both release the GIL (``nogil``): frames are decoded in parallel by threads. numba is
imported with this module (so import it only to decode: ``qkd --help`` must not load
numba); :func:`~.ldpc.numba_available` tells whether it can be, without importing it.
Compiled code is cached on disk by numba (``cache=True``: ``__pycache__`` beside this
file, or numba's user cache directory when that is read-only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numba
import numpy as np
import scipy.sparse as sp
from llvmlite import ir as llvm_ir
from numba.extending import intrinsic
from numpy.typing import NDArray

from qkd_circuits.errors import ConfigError

__all__ = [
    "PHI_BINS_PER_OCTAVE",
    "PHI_MAX_X",
    "PHI_MIN_X",
    "SCHEDULES",
    "BpDecoding",
    "BpSyndromeDecoder",
    "decode_flooding",
    "decode_layered",
    "phi_table",
]

SCHEDULES: Final[tuple[str, ...]] = ("layered", "flooding")
"""Schedules of :class:`BpSyndromeDecoder`."""

PHI_BINS_PER_OCTAVE: Final[int] = 256
"""Bins of the φ table per factor 2 of ``x`` (bits of the float32 mantissa that index it: 8)."""

PHI_MIN_X: Final[float] = 2.0**-24
"""Inputs below this are read as this (``φ(2^-24) = 17.3``; φ(0) is infinite)."""

PHI_MAX_X: Final[float] = 64.0
"""Inputs at or beyond this are read from the last bin (``φ ≈ 3·10^-28``)."""

_LLR_CLAMP: Final[float] = 30.0  # |check message| bound of the exact layered update
_MANTISSA_BITS: Final[int] = 23
_SHIFT: Final[int] = _MANTISSA_BITS - int(math.log2(PHI_BINS_PER_OCTAVE))
_LOW_EXPONENT: Final[int] = -24
_HIGH_EXPONENT: Final[int] = 6
_BASE: Final[int] = ((127 + _LOW_EXPONENT) << _MANTISSA_BITS) >> _SHIFT
_X_LOW: Final[np.float32] = np.float32(PHI_MIN_X)
_X_HIGH: Final[np.float32] = np.nextafter(np.float32(PHI_MAX_X), np.float32(0.0))


def _phi(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``φ(x) = log((1 + e^{-x}) / (1 − e^{-x})) = −log tanh(x/2)``, ``x > 0``."""
    return np.log1p(2.0 / np.expm1(x))


def phi_table() -> NDArray[np.float32]:
    """``(K,)`` float32: φ on bins of ``x`` uniform in ``log x``, indexed by the top bits of
    ``x``'s float32 representation (exponent and the first 8 mantissa bits): bin ``i``
    covers ``[x_i, x_{i+1})`` with ``x_i = (1 + (i mod 256)/256) · 2^{⌊i/256⌋ − 24}``,
    and holds φ at its geometric midpoint ``√(x_i x_{i+1})``. 30 octaves, 7,680 bins,
    30 kB (in the L1 cache)."""
    k = (_HIGH_EXPONENT - _LOW_EXPONENT) * PHI_BINS_PER_OCTAVE
    idx = np.arange(k, dtype=np.int64) + _BASE
    lo = (idx << _SHIFT).astype(np.int32).view(np.float32).astype(np.float64)
    hi = ((idx + 1) << _SHIFT).astype(np.int32).view(np.float32).astype(np.float64)
    return np.ascontiguousarray(_phi(np.sqrt(lo * hi)).astype(np.float32))


_PHI_TABLE: Final[NDArray[np.float32]] = phi_table()
_TABLE_LAST: Final[int] = _PHI_TABLE.size - 1
_Q_MAX: Final[float] = math.tanh(_LLR_CLAMP / 2)


@intrinsic
def _float_bits(typingctx: Any, x: Any) -> Any:  # pragma: no cover - compiled
    """The int32 bit pattern of a float32 (an LLVM bitcast)."""
    sig = numba.types.int32(numba.types.float32)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], llvm_ir.IntType(32))

    return sig, codegen


@numba.njit(inline="always", fastmath=True, cache=True)
def _phi_lookup(x: np.float32, table: NDArray[np.float32]) -> np.float32:  # pragma: no cover
    b: int = _float_bits(min(max(x, _X_LOW), _X_HIGH))  # type: ignore[call-arg]
    # The clamp above passes NaN through: bound the index too (never out of the table).
    return table[min(max((b >> _SHIFT) - _BASE, 0), _TABLE_LAST)]


@numba.njit(nogil=True, fastmath=True, error_model="numpy", cache=True)
def _layered_table(
    rowptr: NDArray[np.int32],
    cols: NDArray[np.int32],
    syndrome: NDArray[np.uint8],
    llr: NDArray[np.float32],
    max_iter: int,
    table: NDArray[np.float32],
) -> tuple[NDArray[np.uint8], bool, int]:  # pragma: no cover - compiled
    m = rowptr.size - 1
    post = llr.copy()
    msg = np.zeros(cols.size, dtype=np.float32)
    dmax = _max_degree(rowptr)
    t = np.empty(dmax, dtype=np.float32)
    a = np.empty(dmax, dtype=np.float32)
    for it in range(1, max_iter + 1):
        unsatisfied = 0
        for c in range(m):
            lo = rowptr[c]
            d = rowptr[c + 1] - lo
            # Read the inputs first, then look φ up over the contiguous copies (measured
            # faster than one loop doing both: the lookups no longer wait on the gathers).
            sign = syndrome[c]
            for j in range(d):
                x = post[cols[lo + j]] - msg[lo + j]
                t[j] = x
                sign ^= np.uint8(x < 0.0)
            total = np.float32(0.0)
            for j in range(d):
                a[j] = _phi_lookup(abs(t[j]), table)
                total += a[j]
            parity = 0
            for j in range(d):
                mag = _phi_lookup(total - a[j], table)
                r = -mag if (sign ^ (t[j] < 0.0)) else mag
                msg[lo + j] = r
                y = t[j] + r
                post[cols[lo + j]] = y
                parity ^= y <= 0.0
            if parity != syndrome[c]:
                unsatisfied += 1
        # Every check held when it was updated: confirm on the final decisions (later
        # checks of the pass may have moved a bit); the last iteration is always checked.
        if (unsatisfied == 0 or it == max_iter) and _holds(rowptr, cols, syndrome, post):
            return _decisions(post), True, it
    return _decisions(post), False, max_iter


@numba.njit(nogil=True, fastmath=True, error_model="numpy", cache=True)
def _layered_exact(
    rowptr: NDArray[np.int32],
    cols: NDArray[np.int32],
    syndrome: NDArray[np.uint8],
    llr: NDArray[np.float64],
    max_iter: int,
) -> tuple[NDArray[np.uint8], bool, int]:  # pragma: no cover - compiled
    m = rowptr.size - 1
    post = llr.copy()
    msg = np.zeros(cols.size)
    dmax = _max_degree(rowptr)
    t = np.empty(dmax)
    a = np.empty(dmax)
    fwd = np.empty(dmax)
    for it in range(1, max_iter + 1):
        unsatisfied = 0
        for c in range(m):
            lo = rowptr[c]
            d = rowptr[c + 1] - lo
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
            if parity != syndrome[c]:
                unsatisfied += 1
        if (unsatisfied == 0 or it == max_iter) and _holds(rowptr, cols, syndrome, post):
            return _decisions(post), True, it
    return _decisions(post), False, max_iter


@numba.njit(nogil=True, cache=True)
def _max_degree(rowptr: NDArray[np.int32]) -> int:  # pragma: no cover - compiled
    dmax = 0
    for c in range(rowptr.size - 1):
        dmax = max(dmax, rowptr[c + 1] - rowptr[c])
    return dmax


@numba.njit(nogil=True, cache=True)
def _decisions(post: NDArray[np.floating]) -> NDArray[np.uint8]:  # pragma: no cover - compiled
    """``e_v = 1`` where the posterior LLR is ``<= 0``."""
    out = np.zeros(post.size, dtype=np.uint8)
    for v in range(post.size):
        out[v] = post[v] <= 0.0
    return out


@numba.njit(nogil=True, cache=True)
def _holds(
    rowptr: NDArray[np.int32],
    cols: NDArray[np.int32],
    syndrome: NDArray[np.uint8],
    post: NDArray[np.floating],
) -> bool:  # pragma: no cover - compiled
    """Whether the decisions ``post <= 0`` reproduce the syndrome."""
    for c in range(rowptr.size - 1):
        parity = syndrome[c]
        for e in range(rowptr[c], rowptr[c + 1]):
            parity ^= post[cols[e]] <= 0.0
        if parity:
            return False
    return True


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
                self._rowptr, self._cols, s, llr, self.max_iterations, exact=self.exact
            )
        return BpDecoding(error=e, converged=bool(ok), iterations=int(it))


def decode_layered(
    rowptr: NDArray[np.int32],
    cols: NDArray[np.int32],
    syndrome: NDArray[np.uint8],
    llr: NDArray[np.float64],
    max_iter: int,
    *,
    exact: bool = False,
) -> tuple[NDArray[np.uint8], bool, int]:
    """The compiled layered kernels: ``(error, converged, iterations)`` of one syndrome;
    CSR arrays int32 with sorted columns, ``llr`` the channel LLRs (float32 for the φ
    table, float64 for ``exact``)."""
    if exact:
        return _layered_exact(rowptr, cols, syndrome, np.asarray(llr, dtype=np.float64), max_iter)
    return _layered_table(
        rowptr, cols, syndrome, np.asarray(llr, dtype=np.float32), max_iter, _PHI_TABLE
    )


decode_flooding = _flooding
"""The compiled flooding kernel: ``(rowptr, cols, colptr, col_edges, edge_rows,
syndrome, llr, max_iter)`` → ``(error, converged, iterations)``."""
