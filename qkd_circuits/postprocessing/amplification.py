"""Privacy amplification by (modified) Toeplitz hashing, exact over GF(2) with an FFT.

Two hash families, both universal₂ (collision probability ``2^−m`` for any two
distinct keys), which is what the quantum leftover hash lemma needs (Renner,
arXiv:quant-ph/0512258; Tomamichel et al., arXiv:1103.4130, Table I "Privacy
Amplification"):

* **Toeplitz** (:func:`toeplitz_hash`; Krawczyk, CRYPTO '94; Mansour, Nisan &
  Tiwari, STOC '90). An ``m × n`` Toeplitz matrix ``T`` (constant along
  diagonals) is fixed by ``n + m − 1`` seed bits ``s``, with the convention

      T[i, j] = s[i − j + n − 1],   i < m, j < n,

  so the first column is ``s[n−1:]`` and the first row is ``s[n−1::−1]``; the
  hash is ``T k``. The verification tag's compression uses it
  (:func:`toeplitz_hash_direct`).
* **Modified Toeplitz** ``[I_m | T]`` (:func:`modified_toeplitz_hash`, used by
  :func:`amplify`; Hayashi & Tsurumaru, "More efficient privacy amplification
  with less random seeds via dual universal hash function", IEEE Trans. Inf.
  Theory 62, 2213 (2016), arXiv:1311.5322). Split the key as ``x = (x1, x2)``
  with ``x1`` its first ``m`` bits; the hash is ``x1 ⊕ T x2`` with ``T`` the
  ``m × (n − m)`` Toeplitz matrix above (``n`` replaced by ``n − m``), from
  ``n − 1`` seed bits instead of ``n + m − 1``.

The seed is public: Alice draws it and sends it on the channel (``leaked_bits =
0``, it is independent of the key). Each party hashes its own key; the parties
never compare keys here (verification has already done so).

**Why ``[I_m | T]`` is universal₂.** Take keys ``x ≠ x′``. If their tails are
equal (``x2 = x2′``) then ``x1 ≠ x1′`` and the hashes differ for every seed.
Otherwise ``d = x2 ⊕ x2′ ≠ 0`` and the hashes collide iff ``T d = x1 ⊕ x1′``.
Let ``j₀`` be the first index with ``d[j₀] = 1``: row ``i`` of ``T d`` is
``s[i − j₀ + n − m − 1]`` plus seed bits of lower index only, so ``s ↦ T d`` is
triangular in the ``m`` distinct bits ``s[i − j₀ + n − m − 1]`` and ``T d`` is
uniform on ``{0,1}^m``: the collision probability is exactly ``2^−m``. (The
same argument proves the plain Toeplitz family universal₂.) When ``m = n`` the
tail is empty and the hash is the identity; the ``n − 1`` seed bits are then
unused, and still sent, so the seed length never depends on ``m``.

**The product as a convolution.** For a Toeplitz ``T`` of ``m × k`` from
``k + m − 1`` seed bits, ``(T v)[i] = Σ_j s[i + k − 1 − j] v[j] = (s ∗ v)[i + k − 1]``:
the "valid" part (indices ``k − 1 … k + m − 2``) of the integer linear
convolution, reduced mod 2. A *cyclic* convolution of any length
``L ≥ k + m − 1`` (the seed length) gives exactly those entries: the
wrap-around only reaches indices ``< k − 1``. The modified family's product
is therefore a cyclic convolution of length ``≥ n − 1`` (the standard
family's ``≥ n + m − 1``).

**How it is computed.** For ``L`` from ``2^15`` on we pick coprime ``L = S·G``
(7-smooth, ``16 <= S <= 256``, ``S <= G``, ``L`` within 0.5% of the smallest
such product; see :func:`_grid_shape`) and use the Chinese remainder
isomorphism ``ℤ_L ≅ ℤ_S × ℤ_G`` (Good, J. R. Stat. Soc. B 20, 361 (1958);
Agarwal & Cooley, IEEE Trans. ASSP 25, 392 (1977)): entry ``p`` of a sequence
goes to cell ``(p mod S, p mod G)`` of an ``S × G`` grid, and the 1-D cyclic
convolution becomes a 2-D cyclic convolution of the grids — exactly, with no
twiddle factors. The 2-D real FFTs are batches of short in-cache transforms:
at ``n = 10^6`` (grid 245 × 4096) the three transforms take 17 ms on one core
against 37 ms for 1-D real FFTs of length 10^6. They run through
``numpy.fft`` (pocketfft, as scipy's; numpy >= 2.0 takes ``out=``) into work
arrays kept between calls (at most 64 MiB, one shape at a time; fresh arrays made
a call at ``n = 10^6`` about 1.5× slower, in page faults). numpy rather than
scipy: importing ``scipy.fft`` costs a run ~0.2 s of start-up, and numpy's
single-threaded inverse is within 5 ms of scipy's two-threaded one at
``n = 4.5·10^6`` (``benchmarks/bench_amplification.py``). With two or more usable
CPUs a helper thread builds and transforms the seed's grid while the caller does
the key's, and rounds half of the rows. The
permutation into and out of the grid works on uint8 bits with a row
permutation and a strided "skew" view, not with index arrays, and the grid is
rounded and reduced mod 2 in cache-sized chunks. Shorter lengths use one 1-D real FFT (``S = 1``,
``G`` the smallest 5-smooth number ``>= L``, as ``scipy.fft.next_fast_len(L, real=True)``).

**Why rounding the float64 result is exact.** Every true value is an integer in
``[0, k]`` (``k = n − m`` for the modified family, ``n`` for the standard one):
a cyclic convolution entry is a sum of ``k`` products of bits. So rounding is
exact whenever the floating-point error is below ½. Percival (Math. Comp. 72,
387 (2003)) proves for radix-2 FFT convolution the bound
``‖x‖₂‖y‖₂ · ((1+ε)^{3K}(1+ε√5)^{3K+1}(1+β)^{3K} − 1)``, with ``K = log₂ L``,
``ε = 2^−53`` and ``β`` the error of the twiddle factors (``O(ε)``); the factor
is about ``(6 + 3√5)·K·ε``. For 0/1 inputs ``‖x‖₂‖y‖₂ ≤ sqrt(k L) ≤ L``; at
``n = 10^6`` (``K ≈ 20``, ``β ≈ ε``) the bound is at most about
``10^6 · 260 · 1.1·10^−16 ≈ 3·10^−8``, seven orders of magnitude below ½ (at
``n = 10^8``, ``3·10^−6``). pocketfft uses mixed radices, and a 2-D transform is
a composition of 1-D ones of lengths ``S`` and ``G`` (``log S + log G = log L``);
its error is of the same ``O(ε log L)`` order. Observed at ``n = 10^6``,
``m = n/2``: ``1.2·10⁻¹⁰`` for the worst case (all-ones key and seed, every
valid value = k), ``4·10⁻¹¹`` for random bits; at ``10^7``: ``1.9·10⁻⁹``. As a
runtime guard, every hash measures each output's distance to the nearest
integer and checks the integer lies in ``[0, k]``, and raises rather than
return a key if the distance exceeds 0.25 (or is NaN).
"""

from __future__ import annotations

import bisect
import concurrent.futures
import contextlib
import functools
import math
import os
import sys
import threading
from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.bits import as_bits
from qkd_circuits.errors import ConfigError, QKDError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.randomness import RNGLike, ensure_rng

__all__ = [
    "amplify",
    "modified_toeplitz_hash",
    "modified_toeplitz_hash_direct",
    "modified_toeplitz_seed_bits",
    "toeplitz_hash",
    "toeplitz_hash_direct",
]

#: Largest tolerated distance of an FFT output to the nearest integer.
ROUNDING_GUARD = 0.25

#: Cyclic lengths below this use one 1-D real FFT; from it on, the 2-D CRT grid.
_GRID_FROM = 1 << 15


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


#: Threads for the transforms and the rounding (the caller and at most one helper).
_WORKERS = max(1, min(_usable_cpus(), 2))

#: Longest short axis of the grid.
_SHORT_MAX = 256

#: Elements per chunk of the rounding pass (512 KiB of float64: stays in L2).
_ROUND_CHUNK = 1 << 16

# Adding 1.5·2^52 rounds a float64 of magnitude < 2^51 to the nearest integer
# (ties to even) and leaves that integer in the low mantissa bits.
_MAGIC = 6755399441055744.0
#: Index of a float64's least significant byte.
_LOW_BYTE = 0 if sys.byteorder == "little" else 7


# --------------------------------------------------------------------------- plan


def _smooth_numbers(limit: int) -> list[int]:
    """All 7-smooth numbers ``<= limit`` (pocketfft's fast radices), sorted."""
    nums = [1]
    for p in (2, 3, 5, 7):
        grown = []
        for x in nums:
            while x <= limit:
                grown.append(x)
                x *= p
        nums = grown
    return sorted(nums)


def _next_fast_len(n: int) -> int:
    """The smallest 5-smooth number ``>= n`` (``scipy.fft.next_fast_len(n, real=True)``:
    the lengths of pocketfft's fast real transforms)."""
    best = 1 << max(n - 1, 0).bit_length()
    fives = 1
    while fives < best:
        threes = fives
        while threes < best:
            twos = threes
            while twos < n:
                twos *= 2
            best = min(best, twos)
            threes *= 3
        fives *= 5
    return best


def _twos(x: int) -> int:
    """The exponent of 2 in ``x``."""
    return (x & -x).bit_length() - 1


@functools.lru_cache(maxsize=64)
def _grid_shape(min_len: int) -> tuple[int, int]:
    """``(S, G)``: the cyclic length ``S·G >= min_len`` and its grid.

    ``S = 1`` (a plain 1-D FFT of a fast length) below :data:`_GRID_FROM`.
    Otherwise coprime 7-smooth ``16 <= S <= min(G, 256)`` (a longer short
    axis makes the byte skew of :class:`_Grid` miss the cache): among the
    pairs whose product is within 0.5% of the smallest, the one whose long
    axis has the most factors 2 (pocketfft's radix-4 passes), then the larger
    ``S``. Measured
    at ``n = 10^6``: (245, 4096) 17.6 ms for the three transforms against
    20.3 ms for the smallest product (64, 15625).
    """
    if min_len < _GRID_FROM:
        return 1, _next_fast_len(max(min_len, 1))
    smooth = _smooth_numbers(2 * min_len)
    pairs: list[tuple[int, int]] = []
    for s in smooth:
        if s < 16:
            continue
        if s * s > min_len or s > _SHORT_MAX:
            break
        i = bisect.bisect_left(smooth, -(-min_len // s))
        while i < len(smooth) and math.gcd(smooth[i], s) != 1:
            i += 1
        if i < len(smooth):
            pairs.append((s, smooth[i]))
    if not pairs:  # pragma: no cover - 2^a · 3^b always qualifies
        return 1, _next_fast_len(min_len)
    smallest = min(s * g for s, g in pairs)
    close = [(s, g) for s, g in pairs if s * g * 200 <= smallest * 201]
    return max(close, key=lambda sg: (_twos(sg[1]), sg[0]))


class _Grid:
    """The CRT map between a length-``S·G`` sequence and an ``S × G`` grid.

    Entry ``p`` of the sequence lives in cell ``(p mod S, p mod G)``. Read the
    sequence as ``S`` rows of ``G`` (``p = r·G + t``): row ``r`` goes to the
    cells ``((π(r) + t) mod S, t)`` with ``π(r) = r·G mod S``, a permutation.
    So the grid is the rows permuted by ``π`` and then column ``t`` rotated
    down by ``t mod S`` — a strided view of two stacked copies. The byte
    copies use a row pitch of ``G + 64``: with a power-of-two ``G`` the skew's
    column walk would otherwise hit one cache set (measured 4× slower).
    """

    __slots__ = ("block_step", "blocks", "long", "pitch", "rows_in", "rows_out", "short", "size")

    def __init__(self, short: int, long: int) -> None:
        if math.gcd(short, long) != 1 or short > long:
            raise ValueError(f"grid {short} x {long}: need coprime S <= G")
        self.short, self.long, self.size = short, long, short * long
        self.blocks = long // short
        self.block_step = max(1, 4096 // short)
        self.pitch = long if short == 1 else long + 64
        pi = (np.arange(short, dtype=np.int64) * long) % short
        inverse = np.empty(short, dtype=np.intp)
        inverse[pi] = np.arange(short)
        # Gathering these rows of the (S, G) sequence gives two stacked copies
        # of the row-permuted grid (row π(r) = sequence row r).
        self.rows_in = np.concatenate([inverse, inverse])
        self.rows_out = pi.astype(np.intp)

    def stacked(self) -> NDArray[np.uint8]:
        """An uninitialised ``(2S, pitch)`` byte array; the grid lives in ``[:, :G]``."""
        return np.empty((2 * self.short, self.pitch), dtype=np.uint8)

    def to_grid(
        self,
        seq: NDArray[np.uint8],
        out: NDArray[np.float64],
        stacked: NDArray[np.uint8],
        skewed: NDArray[np.uint8],
    ) -> None:
        """Write the length-``S·G`` uint8 sequence ``seq`` into the float64 grid ``out``.

        ``stacked`` (from :meth:`stacked`) and ``skewed`` (``(S, G)`` uint8) are
        scratch space.
        """
        s, g, pitch = self.short, self.long, self.pitch
        if s == 1:
            out[0] = seq
            return
        np.take(seq.reshape(s, g), self.rows_in, axis=0, out=stacked[:, :g], mode="clip")
        flat = stacked.reshape(-1)
        # out[i, t] = stacked[i − (t mod S) + S, t]; for t = b·S + j the flat
        # address is S·P + i·P + b·S + j·(1 − P), P the pitch.
        nb, rem = self.blocks, g - self.blocks * s
        full = as_strided(flat[s * pitch :], shape=(s, nb, s), strides=(pitch, s, 1 - pitch))
        # The skew reads across rows: do it on bytes, then widen contiguously.
        dest = skewed[:, : nb * s].reshape(s, nb, s)
        step = self.block_step
        for b in range(0, nb, step):  # column slabs of ~4 KiB: the source rows stay in L2
            dest[:, b : b + step] = full[:, b : b + step]
        if rem:
            skewed[:, nb * s :] = as_strided(
                flat[s * pitch + nb * s :], shape=(s, rem), strides=(pitch, 1 - pitch)
            )
        out[...] = skewed

    def from_grid(self, stacked: NDArray[np.uint8], start: int, count: int) -> NDArray[np.uint8]:
        """Entries ``start … start + count − 1`` of the sequence whose grid is ``stacked[:S, :G]``.

        ``stacked`` comes from :meth:`stacked` and holds the grid twice (rows
        ``S…2S−1`` a copy of rows ``0…S−1``).
        """
        s, g, pitch = self.short, self.long, self.pitch
        if s == 1:
            return stacked[0, start : start + count].copy()
        r0, r1 = start // g, (start + count - 1) // g
        rows = self.rows_out[r0 : r1 + 1]
        flat = stacked.reshape(-1)
        nb, rem = self.blocks, g - self.blocks * s
        # Sequence row r, column t = b·S + j is grid cell ((π(r) + j) mod S, t):
        # flat address π(r)·P + b·S + j·(P + 1) in the stacked copies.
        out = np.empty((rows.size, g), dtype=np.uint8)
        full = as_strided(flat, shape=(s, nb, s), strides=(pitch, s, pitch + 1))
        dest = out[:, : nb * s].reshape(rows.size, nb, s)
        step = self.block_step
        for b in range(0, nb, step):
            dest[:, b : b + step] = full[rows, b : b + step]
        if rem:
            tail = as_strided(flat[nb * s :], shape=(s, rem), strides=(pitch, pitch + 1))
            out[:, nb * s :] = tail[rows]
        offset = start - r0 * g
        return out.reshape(-1)[offset : offset + count]


@functools.lru_cache(maxsize=16)
def _grid(min_len: int) -> _Grid:
    return _Grid(*_grid_shape(min_len))


# --------------------------------------------------------------------------- core


#: Workspaces up to this size are kept between calls (one shape at a time): with
#: fresh arrays a call at n = 10^6 took about 1.5x as long (page faults).
_WORKSPACE_MAX_BYTES = 64 << 20
_workspace_lock = threading.Lock()
_workspace_cache: dict[tuple[int, int, int], _Workspace] = {}


class _Scratch:
    """Byte and chunk scratch of one thread: the linear sequence, the stacked
    copies and the skew of :class:`_Grid`, and the rounding pass's chunks."""

    __slots__ = ("error", "seq", "shifted", "skewed", "stacked")

    def __init__(self, grid: _Grid) -> None:
        s, g = grid.short, grid.long
        self.seq = np.empty(grid.size, dtype=np.uint8)
        self.stacked = grid.stacked()
        self.skewed = np.empty((s, g), dtype=np.uint8)
        chunk_rows = max(1, _ROUND_CHUNK // g)
        self.shifted = np.empty((chunk_rows, g), dtype=np.float64)
        self.error = np.empty((chunk_rows, g), dtype=np.float64)


class _Workspace:
    """The arrays one hash of ``rows − 1`` vectors on ``grid`` works in (two
    threads' scratch)."""

    __slots__ = ("cells", "scratch", "spectra")

    def __init__(self, rows: int, grid: _Grid) -> None:
        s, g = grid.short, grid.long
        self.cells = np.empty((rows, s, g), dtype=np.float64)
        self.spectra = np.empty((rows, s, g // 2 + 1), dtype=np.complex128)
        self.scratch = (_Scratch(grid), _Scratch(grid))

    @staticmethod
    def nbytes(rows: int, grid: _Grid) -> int:
        s, g = grid.short, grid.long
        return rows * s * (8 * g + 16 * (g // 2 + 1)) + 2 * (4 * grid.size + 2 * s * grid.pitch)


@contextlib.contextmanager
def _workspace(rows: int, grid: _Grid) -> Iterator[_Workspace]:
    """A :class:`_Workspace`: kept between calls when small enough and not in use
    by another thread, otherwise fresh."""
    key = (rows, grid.short, grid.long)
    if _Workspace.nbytes(rows, grid) <= _WORKSPACE_MAX_BYTES and _workspace_lock.acquire(
        blocking=False
    ):
        try:
            work = _workspace_cache.get(key)
            if work is None:
                _workspace_cache.clear()
                work = _workspace_cache[key] = _Workspace(rows, grid)
            yield work
        finally:
            _workspace_lock.release()
    else:
        yield _Workspace(rows, grid)


_pool_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _helper() -> concurrent.futures.ThreadPoolExecutor | None:
    """One helper thread for the second half of the work, if two FFT threads are allowed.

    numpy's copies, ufuncs and FFTs release the GIL, so the helper and
    the caller run on two cores.
    """
    global _pool
    if _WORKERS < 2:
        return None
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="qkd-amplification"
            )
        return _pool


def _reset_after_fork() -> None:
    """In a forked child the helper thread and any held lock are gone: start afresh."""
    global _pool, _pool_lock, _workspace_lock
    _pool = None
    _pool_lock = threading.Lock()
    _workspace_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _finish(future: concurrent.futures.Future[None] | None) -> None:
    """Wait for the helper's part (re-raising its error) before the workspace is reused."""
    if future is not None:
        future.result()


def _grid_products(
    grid: _Grid, seed: NDArray[np.uint8], vectors: NDArray[np.uint8], work: _Workspace
) -> NDArray[np.float64]:
    """The cyclic convolutions ``seed ⊛ vectors[r]`` on the grid, as float64 (before rounding).

    ``vectors`` has shape ``(r, k)``; ``work`` is a workspace for ``r + 1``
    grids. Returns shape ``(r, S, G)`` (a view of ``work.cells``).
    """
    r = vectors.shape[0]
    s, g, size = grid.short, grid.long, grid.size
    cells, spectra = work.cells, work.spectra
    big = size >= 4 * _GRID_FROM
    axes: tuple[int, ...] = (2,) if s == 1 else (1, 2)
    helper = _helper() if big else None

    def fill(row: int, data: NDArray[np.uint8], scratch: _Scratch, transform: bool) -> None:
        seq = scratch.seq
        seq[: data.size] = data
        seq[data.size :] = 0
        grid.to_grid(seq, cells[row], scratch.stacked, scratch.skewed)
        if transform:
            np.fft.rfftn(cells[row : row + 1], axes=axes, out=spectra[row : row + 1])

    # With a helper thread, it builds and transforms the seed's grid while this
    # thread does the keys'; otherwise all grids, then one batched transform.
    future = None if helper is None else helper.submit(fill, 0, seed, work.scratch[1], True)
    try:
        if future is None:
            fill(0, seed, work.scratch[0], False)
        for row in range(r):
            fill(row + 1, vectors[row], work.scratch[0], future is not None)
    finally:
        _finish(future)
    if future is None:
        np.fft.rfftn(cells, axes=axes, out=spectra)
    products = spectra[1:]
    products *= spectra[0]
    if s > 1:  # inverse along the short axis in place (divides by S) ...
        np.fft.ifft(products, axis=1, out=products)
    # ... then complex-to-real along the long axis (divides by G), into the cells.
    values = cells[1:]
    np.fft.irfft(products, n=g, axis=2, out=values)
    return values


def _parity_rows(
    values: NDArray[np.float64],
    bound: int,
    lo: int,
    hi: int,
    out: NDArray[np.uint8],
    scratch: _Scratch,
) -> None:
    """Rows ``lo … hi − 1`` of :func:`_grid_parity`, into ``out[:, :G]``."""
    s, g = values.shape
    shifted, error = scratch.shifted, scratch.error
    rows = shifted.shape[0]
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, which the guard refuses
        for a in range(lo, hi, rows):
            b = min(hi, a + rows)
            v, t, e = values[a:b], shifted[: b - a], error[: b - a]
            np.add(v, _MAGIC, out=t)
            np.subtract(t, _MAGIC, out=e)
            np.subtract(e, v, out=e)
            # numpy's max/min propagate NaN, and every comparison with NaN fails.
            worst, lowest, highest = max(e.max(), -e.min()), t.min() - _MAGIC, t.max() - _MAGIC
            if not (worst <= ROUNDING_GUARD and lowest >= 0.0 and highest <= bound):
                raise QKDError(
                    f"FFT rounding error {float(worst)!r} (tolerated {ROUNDING_GUARD}) or a value "
                    f"outside [0, {bound}] (rounded range [{float(lowest)!r}, {float(highest)!r}]) "
                    f"in grid {s} x {g}; refusing to emit a key"
                )
            # The rounded integer's lowest bit is bit 0 of the float's lowest byte.
            np.bitwise_and(t.view(np.uint8)[:, _LOW_BYTE::8], 1, out=out[a:b, :g])


def _grid_parity(
    grid: _Grid, values: NDArray[np.float64], bound: int, work: _Workspace
) -> NDArray[np.uint8]:
    """Round one ``(S, G)`` grid of FFT outputs and reduce mod 2, with the rounding guard.

    Returns the parities as :meth:`_Grid.stacked` bytes (in ``work``), the grid
    twice (for :meth:`_Grid.from_grid`). Works in chunks of whole rows that
    stay in cache; with a helper thread, it does the second half of the rows.

    Raises:
        QKDError: if any value is farther than :data:`ROUNDING_GUARD` from an
            integer or its integer lies outside ``[0, bound]``.
    """
    s, g = values.shape
    stacked = work.scratch[0].stacked
    helper = _helper() if grid.size >= 4 * _GRID_FROM else None
    half = s if helper is None else s // 2
    future = None
    if helper is not None:
        future = helper.submit(_parity_rows, values, bound, half, s, stacked, work.scratch[1])
    try:
        _parity_rows(values, bound, 0, half, stacked, work.scratch[0])
    finally:
        _finish(future)
    stacked[s:, :g] = stacked[:s, :g]
    return stacked


def _toeplitz_products(
    seed: NDArray[np.uint8], vectors: NDArray[np.uint8], out_len: int
) -> NDArray[np.uint8]:
    """``T v mod 2`` for each row ``v`` of ``vectors`` (``(r, k)``, ``k >= 1``).

    ``T`` is the ``out_len × k`` Toeplitz matrix ``T[i, j] = seed[i − j + k − 1]``
    (``seed`` of length ``k + out_len − 1``). Returns ``(r, out_len)`` uint8.
    """
    r, k = vectors.shape
    grid = _grid(seed.size)
    out = np.empty((r, out_len), dtype=np.uint8)
    with _workspace(r + 1, grid) as work:
        values = _grid_products(grid, seed, vectors, work)
        for row in range(r):
            out[row] = grid.from_grid(_grid_parity(grid, values[row], k, work), k - 1, out_len)
    return out


# --------------------------------------------------------------------------- public


def _check_out_len(out_len: object, name: str = "out_len") -> int:
    if isinstance(out_len, bool) or not isinstance(out_len, (int, np.integer)) or out_len < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {out_len!r}")
    return int(out_len)


def _check_inputs(
    key: ArrayLike, seed_bits: ArrayLike, out_len: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], int]:
    """Validate the arguments shared by both (plain) Toeplitz implementations."""
    k = as_bits(key, name="key")
    s = as_bits(seed_bits, name="seed_bits")
    if k.size == 0:
        raise ConfigError("key is empty: nothing to hash")
    m = _check_out_len(out_len)
    if s.size != k.size + m - 1:
        raise ConfigError(
            f"seed_bits must have length n + out_len - 1 = {k.size + m - 1} "
            f"(n={k.size}, out_len={m}), got {s.size}"
        )
    return k, s, m


def toeplitz_hash(key: ArrayLike, seed_bits: ArrayLike, out_len: int) -> NDArray[np.uint8]:
    """Multiply ``key`` by the Toeplitz matrix of ``seed_bits`` over GF(2), via FFT.

    Exact: see the module docstring for the rounding argument; a runtime guard
    raises instead of returning a key if any output is farther than 0.25 from
    an integer.

    Args:
        key: The key, 1-D 0/1 array of length ``n >= 1``.
        seed_bits: 1-D 0/1 array of length ``n + out_len − 1`` defining
            ``T[i, j] = seed_bits[i − j + n − 1]``.
        out_len: Output length ``m >= 1``.

    Returns:
        ``T @ key mod 2``, uint8, shape ``(out_len,)``.

    Raises:
        ConfigError: empty key, non-binary input, ``out_len < 1`` or a seed of
            the wrong length.
        QKDError: if the floating-point guard trips (never observed).
    """
    k, s, m = _check_inputs(key, seed_bits, out_len)
    return _toeplitz_products(s, k[np.newaxis, :], m)[0]


def toeplitz_hash_direct(key: ArrayLike, seed_bits: ArrayLike, out_len: int) -> NDArray[np.uint8]:
    """Reference ``O(n·m)`` Toeplitz product over GF(2) (builds the matrix; for tests and
    small inputs such as the verification tag's compression).

    Same arguments, conventions and result as :func:`toeplitz_hash`.
    """
    k, s, _ = _check_inputs(key, seed_bits, out_len)
    n = k.size
    matrix = _toeplitz_matrix(s, m=s.size - n + 1, k=n)
    return ((matrix @ k.astype(np.int64)) & 1).astype(np.uint8)


def _toeplitz_matrix(seed: NDArray[np.uint8], *, m: int, k: int) -> NDArray[np.int64]:
    """The ``m × k`` Toeplitz matrix ``T[i, j] = seed[i − j + k − 1]`` (int64; for the
    reference products only)."""
    index = np.arange(m)[:, np.newaxis] - np.arange(k)[np.newaxis, :] + (k - 1)
    return seed[index].astype(np.int64)


def modified_toeplitz_seed_bits(n: int) -> int:
    """Seed length of the modified Toeplitz family for ``n``-bit keys: ``n − 1`` (any ``m``)."""
    return n - 1


def _check_modified(
    key: ArrayLike, seed_bits: ArrayLike, out_len: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], int]:
    x = as_bits(key, name="key")
    s = as_bits(seed_bits, name="seed_bits")
    if x.size == 0:
        raise ConfigError("key is empty: nothing to hash")
    m = _check_out_len(out_len)
    if m > x.size:
        raise ConfigError(f"out_len must be in [1, n={x.size}], got {m}")
    if s.size != modified_toeplitz_seed_bits(x.size):
        raise ConfigError(
            f"seed_bits must have length n - 1 = {x.size - 1} (n={x.size}), got {s.size}"
        )
    return x, s, m


def _modified_products(
    seed: NDArray[np.uint8], keys: NDArray[np.uint8], out_len: int
) -> NDArray[np.uint8]:
    """``[I_m | T] x mod 2`` for each row ``x`` of ``keys`` (``(r, n)``); ``(r, m)`` uint8."""
    m = out_len
    heads = keys[:, :m]
    if keys.shape[1] == m:  # T is m × 0: the identity
        return heads.copy()
    out = _toeplitz_products(seed, keys[:, m:], m)
    np.bitwise_xor(out, heads, out=out)
    return out


def modified_toeplitz_hash(key: ArrayLike, seed_bits: ArrayLike, out_len: int) -> NDArray[np.uint8]:
    """Hash ``key`` with the modified Toeplitz matrix ``[I_m | T]`` over GF(2), via FFT.

    The family of Hayashi & Tsurumaru (IEEE Trans. Inf. Theory 62, 2213 (2016),
    arXiv:1311.5322), universal₂ with ``n − 1`` seed bits (the proof is in the
    module docstring). With ``x1 = key[:m]`` and ``x2 = key[m:]`` the result is
    ``x1 ⊕ T x2``, ``T[i, j] = seed_bits[i − j + n − m − 1]`` (``i < m``,
    ``j < n − m``), i.e. ``x1 ⊕ toeplitz_hash(x2, seed_bits, m)``. For
    ``m = n`` it is the identity (the seed is unused).

    Args:
        key: The key, 1-D 0/1 array of length ``n >= 1``.
        seed_bits: 1-D 0/1 array of length ``n − 1``.
        out_len: Output length ``m``, ``1 <= m <= n``.

    Returns:
        uint8, shape ``(out_len,)``.

    Raises:
        ConfigError: empty key, non-binary input, ``out_len`` outside
            ``[1, n]`` or a seed of the wrong length.
        QKDError: if the floating-point guard trips (never observed).
    """
    x, s, m = _check_modified(key, seed_bits, out_len)
    return _modified_products(s, x[np.newaxis, :], m)[0]


def modified_toeplitz_hash_direct(
    key: ArrayLike, seed_bits: ArrayLike, out_len: int
) -> NDArray[np.uint8]:
    """Reference ``O(n·m)`` product with the matrix ``[I_m | T]`` (built explicitly; for tests).

    Same arguments, conventions and result as :func:`modified_toeplitz_hash`.
    """
    x, s, m = _check_modified(key, seed_bits, out_len)
    k = x.size - m
    matrix = np.zeros((m, x.size), dtype=np.int64)
    matrix[:, :m] = np.eye(m, dtype=np.int64)
    if k:
        matrix[:, m:] = _toeplitz_matrix(s, m=m, k=k)
    return ((matrix @ x.astype(np.int64)) & 1).astype(np.uint8)


def _draw_seed(n_bits: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """``n_bits`` uniform bits from ``rng``'s bytes (one draw, unpacked)."""
    raw = np.frombuffer(rng.bytes(-(-n_bits // 8)), dtype=np.uint8)
    return np.unpackbits(raw, count=n_bits)


def amplify(
    key_alice: ArrayLike,
    key_bob: ArrayLike,
    *,
    out_len: int,
    channel: PublicChannel | None = None,
    rng: RNGLike = None,
    stage: str = "amplification",
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Privacy amplification: both parties hash their keys with one modified Toeplitz matrix.

    Alice draws ``n − 1`` uniform seed bits from ``rng`` and sends them
    publicly (``leaked_bits = 0``); each party computes
    :func:`modified_toeplitz_hash` of its key (Hayashi & Tsurumaru, IEEE Trans.
    Inf. Theory 62, 2213 (2016): universal₂, so the leftover hash lemma
    applies). ``out_len`` is the secret key length computed by
    :mod:`~qkd_circuits.postprocessing.key_length`; this function does not
    decide it.

    Args:
        key_alice: Alice's verified key, 1-D 0/1 array of length ``n``.
        key_bob: Bob's verified key, same length.
        out_len: Final key length ``m``, ``1 <= m <= n``.
        channel: Public channel that records the seed (optional).
        rng: Generator, seed or None; draws the seed.
        stage: Stage name used on the channel.

    Returns:
        ``(final_alice, final_bob)``, uint8 arrays of shape ``(out_len,)``.

    Raises:
        ConfigError: empty or mismatched keys, non-binary values, ``out_len``
            outside ``[1, n]``.
    """
    a = as_bits(key_alice, name="key_alice")
    b = as_bits(key_bob, name="key_bob")
    if a.size == 0:
        raise ConfigError("keys to amplify are empty")
    if a.size != b.size:
        raise ConfigError(f"keys must have equal length, got {a.size} (Alice) and {b.size} (Bob)")
    if isinstance(out_len, bool) or not isinstance(out_len, (int, np.integer)):
        raise ConfigError(f"out_len must be an integer in [1, {a.size}], got {out_len!r}")
    if not 1 <= out_len <= a.size:
        raise ConfigError(f"out_len must be in [1, n={a.size}], got {out_len!r}")
    m = int(out_len)
    seed = _draw_seed(modified_toeplitz_seed_bits(a.size), ensure_rng(rng))
    if channel is not None:
        channel.send(stage, "alice", seed, leaked_bits=0)
    if np.array_equal(a, b):
        # After verification the keys are equal: the hash is then the same for
        # both parties, so it is computed once (identical result).
        final_a = _modified_products(seed, a[np.newaxis, :], m)[0]
        return final_a, final_a.copy()
    final = _modified_products(seed, np.stack([a, b]), m)
    return final[0].copy(), final[1].copy()
