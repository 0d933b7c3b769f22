"""Repeaterless upper bounds on the secret-key capacity of a pure-loss channel.

Both bounds are in secret bits per channel use (per pulse) and depend only
on the channel transmittance η; for fibre, η = 10^(−α L / 10). They apply to
the channel alone, so curves compare them with the fibre transmittance
(Bob's detector efficiency is a trusted device inside his lab).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.errors import ConfigError

__all__ = ["fibre_transmittance", "plob_bound", "tgw_bound"]

FloatOrArray = NDArray[np.float64] | float


def _out(x: NDArray[np.float64]) -> FloatOrArray:
    return float(x) if x.ndim == 0 else x


def _as_transmittance(eta: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(eta, dtype=np.float64)
    bad = ~(np.isfinite(arr) & (arr >= 0) & (arr <= 1))
    if np.any(bad):
        raise ConfigError(f"transmittance must be in [0, 1], got {float(arr[bad].flat[0])!r}")
    return arr


def fibre_transmittance(distance_km: ArrayLike, *, alpha_db_per_km: float = 0.2) -> FloatOrArray:
    """Transmittance η = 10^(−α L / 10) of L km of fibre with loss α dB/km.

    Raises:
        ConfigError: for a negative distance or loss.
    """
    d = np.asarray(distance_km, dtype=np.float64)
    if np.any(~np.isfinite(d)) or np.any(d < 0):
        raise ConfigError(f"distance must be >= 0 km, got {float(d[~(d >= 0)].flat[0])!r}")
    if not alpha_db_per_km >= 0:
        raise ConfigError(f"alpha_db_per_km must be >= 0, got {alpha_db_per_km!r}")
    return _out(10.0 ** (-alpha_db_per_km * d / 10.0))


def plob_bound(eta: ArrayLike) -> FloatOrArray:
    """PLOB bound −log2(1 − η) on the secret-key capacity of a pure-loss channel.

    Pirandola, Laurenza, Ottaviani and Banchi, Nat. Commun. 8, 15043 (2017),
    arXiv:1510.08863. For small η it is ≈ 1.44 η: at 100 km of 0.2 dB/km
    fibre (η = 0.01) it is 1.450e-2, at 200 km 1.443e-4.

    Args:
        eta: Channel transmittance in [0, 1] (η = 1, a lossless channel, gives inf).

    Returns:
        Secret bits per channel use.
    """
    arr = _as_transmittance(eta)
    with np.errstate(divide="ignore"):
        return _out(-np.log2(1.0 - arr))


def tgw_bound(eta: ArrayLike) -> FloatOrArray:
    """TGW bound log2((1 + η) / (1 − η)) on the two-way assisted key capacity.

    Takeoka, Guha and Wilde, Nat. Commun. 5, 5235 (2014), arXiv:1310.0129
    (squashed-entanglement bound). It is about 2/ln 2 · η ≈ 2.885 η for small
    η, twice the PLOB bound.

    Args:
        eta: Channel transmittance in [0, 1] (η = 1 gives inf).

    Returns:
        Secret bits per channel use.
    """
    arr = _as_transmittance(eta)
    with np.errstate(divide="ignore"):
        return _out(np.log2((1.0 + arr) / (1.0 - arr)))
