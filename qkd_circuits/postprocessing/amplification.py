"""Privacy amplification by Toeplitz hashing, computed exactly over GF(2) with an FFT.

A Toeplitz matrix ``T`` (``m × n``, constant along diagonals) is fixed by
``n + m − 1`` seed bits ``s``. We use the convention

    T[i, j] = s[i − j + n − 1],   i < m, j < n,

so the first column is ``s[n−1:]`` and the first row is ``s[n−1::−1]``.
Random Toeplitz matrices form a universal₂ family (Krawczyk, CRYPTO '94;
Mansour, Nisan & Tiwari, STOC '90), which is what the quantum leftover hash
lemma needs (Renner, arXiv:quant-ph/0512258; Tomamichel et al.,
arXiv:1103.4130, Table I "Privacy Amplification"). The seed is public: Alice
draws it and sends it on the channel (``leaked_bits = 0``, it is independent of
the key). Each party multiplies its own key; the parties never compare keys
here (verification has already done so).

The product is a convolution: ``(T k)[i] = Σ_j s[i + n − 1 − j] k[j]
= (s ∗ k)[i + n − 1]``, the integer linear convolution sampled at
``n − 1 … n + m − 2`` and reduced mod 2. A cyclic convolution of length
``L ≥ n + m − 1`` gives those entries without wrap-around, so one real FFT
size ``L`` (``scipy.fft.next_fast_len``) suffices: two forward ``rfft``, one
pointwise product and one ``irfft``, ``O(L log L)``.

Why rounding the float64 result is exact: every true value is an integer in
``[0, n]``, so rounding is exact whenever the floating-point error is below
½. Percival (Math. Comp. 72, 387 (2003)) proves for radix-2 FFT convolution
the bound ``‖x‖₂‖y‖₂ · ((1+ε)^{3K}(1+ε√5)^{3K+1}(1+β)^{3K} − 1)``, with
``K = log₂ L``, ``ε = 2^−53`` and ``β`` the error of the twiddle factors
(``O(ε)``). For 0/1 inputs ``‖x‖₂‖y‖₂ ≤ sqrt(n (n + m)) ≤ √2 n``; at
``n = 10^6`` (``K ≈ 21``, ``β ≈ ε``) this is about
``1.4·10^6 · 270 · 1.1·10^−16 ≈ 4·10^−8``, seven orders of magnitude below ½.
pocketfft (behind ``scipy.fft``) uses mixed radices, whose error is of the
same ``O(ε log L)`` order; the observed error at ``n = 10^6`` is ~10⁻¹⁰, also
for the worst case (all-ones key and seed, every value = n). As a runtime
guard, :func:`toeplitz_hash` measures the largest distance of any output to
the nearest integer and raises rather than return a key if it exceeds 0.25.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.bits import as_bits, random_bits
from qkd_circuits.errors import ConfigError, QKDError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.randomness import RNGLike, ensure_rng

__all__ = ["amplify", "toeplitz_hash", "toeplitz_hash_direct"]

#: Largest tolerated distance of an FFT output to the nearest integer.
ROUNDING_GUARD = 0.25


def _check_inputs(
    key: ArrayLike, seed_bits: ArrayLike, out_len: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], int]:
    """Validate the arguments shared by both Toeplitz implementations."""
    k = as_bits(key, name="key")
    s = as_bits(seed_bits, name="seed_bits")
    if k.size == 0:
        raise ConfigError("key is empty: nothing to hash")
    if isinstance(out_len, bool) or not isinstance(out_len, (int, np.integer)) or out_len < 1:
        raise ConfigError(f"out_len must be an integer >= 1, got {out_len!r}")
    m = int(out_len)
    if s.size != k.size + m - 1:
        raise ConfigError(
            f"seed_bits must have length n + out_len - 1 = {k.size + m - 1} "
            f"(n={k.size}, out_len={m}), got {s.size}"
        )
    return k, s, m


def _toeplitz_float(
    keys: NDArray[np.uint8], seed: NDArray[np.uint8], m: int
) -> NDArray[np.float64]:
    """The integer products ``T @ key`` as float64 (before rounding), via a real FFT.

    ``keys`` has shape ``(r, n)``: several keys share one seed spectrum.
    Returns shape ``(r, m)``.
    """
    r, n = keys.shape
    size = scipy.fft.next_fast_len(n + m - 1, real=True)
    # One 1-D transform per row, reusing one input buffer: at sizes ~10^6 the
    # cost of fresh (page-faulting) memory is comparable to the FFT itself.
    buf = np.zeros(size, dtype=np.float64)
    buf[: seed.size] = seed
    seed_spectrum = scipy.fft.rfft(buf)
    out = np.empty((r, m), dtype=np.float64)
    for row in range(r):
        buf[:n] = keys[row]
        buf[n:] = 0.0
        spectrum = scipy.fft.rfft(buf)
        spectrum *= seed_spectrum
        out[row] = scipy.fft.irfft(spectrum, size, overwrite_x=True)[n - 1 : n - 1 + m]
    return out


def _round_exact(values: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Round FFT outputs to integers and reduce mod 2, with the rounding guard."""
    rounded = np.rint(values)
    values = values - rounded
    np.abs(values, out=values)
    deviation = float(values.max()) if values.size else 0.0
    if not deviation <= ROUNDING_GUARD:
        raise QKDError(
            f"FFT rounding error {deviation!r} exceeds {ROUNDING_GUARD}; refusing to emit a key "
            f"(shape {values.shape})"
        )
    return (rounded.astype(np.int64) & 1).astype(np.uint8)


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
    return _round_exact(_toeplitz_float(k[np.newaxis, :], s, m))[0]


def toeplitz_hash_direct(key: ArrayLike, seed_bits: ArrayLike, out_len: int) -> NDArray[np.uint8]:
    """Reference ``O(n·m)`` Toeplitz product over GF(2) (builds the matrix; for tests and
    small inputs such as the verification tag's compression).

    Same arguments, conventions and result as :func:`toeplitz_hash`.
    """
    k, s, _ = _check_inputs(key, seed_bits, out_len)
    n = k.size
    matrix = scipy.linalg.toeplitz(s[n - 1 :], s[n - 1 :: -1]).astype(np.int64)
    return ((matrix @ k.astype(np.int64)) & 1).astype(np.uint8)


def amplify(
    key_alice: ArrayLike,
    key_bob: ArrayLike,
    *,
    out_len: int,
    channel: PublicChannel | None = None,
    rng: RNGLike = None,
    stage: str = "amplification",
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Privacy amplification: both parties hash their keys with one random Toeplitz matrix.

    Alice draws ``n + out_len − 1`` uniform seed bits from ``rng`` and sends them
    publicly (``leaked_bits = 0``). ``out_len`` is the secret key length computed
    by :mod:`~qkd_circuits.postprocessing.key_length`; this function does not
    decide it.

    Args:
        key_alice: Alice's verified key, 1-D 0/1 array of length ``n``.
        key_bob: Bob's verified key, same length.
        out_len: Final key length ``m``, ``1 <= m <= n``.
        channel: Public channel that records the seed (optional).
        rng: Generator, seed or None; draws the Toeplitz seed.
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
    seed = random_bits(a.size + m - 1, rng=ensure_rng(rng))
    if channel is not None:
        channel.send(stage, "alice", seed, leaked_bits=0)
    if np.array_equal(a, b):
        # After verification the keys are equal: the matrix product is then the
        # same for both parties, so it is computed once (identical result).
        final_a = _round_exact(_toeplitz_float(a[np.newaxis, :], seed, m))[0]
        return final_a, final_a.copy()
    final = _round_exact(_toeplitz_float(np.stack([a, b]), seed, m))
    return final[0].copy(), final[1].copy()
