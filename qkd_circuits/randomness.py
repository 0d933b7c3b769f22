"""Random-number conventions: one ``numpy.random.Generator`` per run.

Every function that draws randomness takes a keyword-only
``rng: numpy.random.Generator | int | None`` and normalises it once with
:func:`ensure_rng`. Simulator seeds are drawn from that generator
(:func:`draw_seed`), never computed as ``seed + i`` (Aer's streams for ``s``
and ``s + 1`` are shifted copies of each other).
"""

from __future__ import annotations

import numpy as np

from qkd_circuits.errors import ConfigError

RNGLike = np.random.Generator | int | None


def ensure_rng(rng: RNGLike) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng`` (a Generator, a seed, or None)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        if rng is not None and int(rng) < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {rng!r}")
        return np.random.default_rng(rng)
    raise ConfigError(f"rng must be a numpy Generator, an int seed or None, got {rng!r}")


def draw_seed(rng: np.random.Generator) -> int:
    """Draw a 63-bit seed for a simulator from ``rng``."""
    return int(rng.integers(0, 2**63 - 1, dtype=np.int64))
