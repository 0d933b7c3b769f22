"""Bit-array helpers: bits are 1-D ``numpy.uint8`` arrays holding 0/1.

Public entry points validate with :func:`as_bits`; inner code trusts its input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.errors import ConfigError
from qkd_circuits.randomness import RNGLike, ensure_rng

Bits = NDArray[np.uint8]


def as_bits(values: Any, *, name: str = "bits") -> Bits:
    """Validate ``values`` as a 1-D array of 0/1 and return it as ``uint8``.

    Raises:
        ConfigError: if the array is not 1-D or holds values other than 0 and 1.
    """
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be a 1-D array of 0/1, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(f"{name} must hold integers 0/1, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        bad = arr[(arr < 0) | (arr > 1)][0].item()
        raise ConfigError(f"{name} must hold only 0 and 1, found {bad!r}")
    return arr.astype(np.uint8, copy=False)


def random_bits(n: int, *, rng: RNGLike = None) -> Bits:
    """Return ``n`` uniformly random bits, dtype uint8, shape (n,)."""
    if n < 0:
        raise ConfigError(f"number of bits must be >= 0, got {n!r}")
    return ensure_rng(rng).integers(0, 2, size=n, dtype=np.uint8)


def bits_to_hex(bits: Bits) -> str:
    """Hex string of ``bits`` packed big-endian (first bit is the MSB), zero-padded to a byte."""
    return np.packbits(bits).tobytes().hex()


def hex_to_bits(text: str, n_bits: int) -> Bits:
    """Inverse of :func:`bits_to_hex`: the first ``n_bits`` bits of hex ``text``."""
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise ConfigError(f"not a hex string: {text[:20]!r}") from exc
    if n_bits > 8 * len(raw) or n_bits < 0:
        raise ConfigError(f"n_bits={n_bits} does not fit in {len(raw)} bytes")
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:n_bits].copy()
