"""Entropy functions used by every key-rate formula."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def binary_entropy(p: ArrayLike) -> NDArray[np.float64] | float:
    """Binary Shannon entropy h(p) = -p log2 p - (1-p) log2(1-p), with h(0) = h(1) = 0.

    Accepts a scalar or an array; returns the same shape (a float for a scalar).
    Values outside [0, 1] give ``nan``.
    """
    arr = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = 1.0 - arr
        h = -(
            np.where(arr > 0, arr * np.log2(np.where(arr > 0, arr, 1.0)), 0.0)
            + np.where(q > 0, q * np.log2(np.where(q > 0, q, 1.0)), 0.0)
        )
    h = np.where((arr < 0) | (arr > 1), np.nan, h) + 0.0  # + 0.0 turns -0.0 into 0.0
    return float(h) if h.ndim == 0 else h


def clipped_binary_entropy(x: float) -> float:
    """h(min(max(x, 0), 1/2)): the binary entropy charged for an upper estimate ``x`` of an
    error rate (an estimate past 1/2 costs h(1/2) = 1 bit, the most a bit can leak)."""
    return float(binary_entropy(min(max(x, 0.0), 0.5)))
