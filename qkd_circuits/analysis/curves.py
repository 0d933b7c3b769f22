"""Key rate vs distance for every analysis, and the distance where each reaches zero.

An *analysis* is named by a short spec string, as on the command line:

* ``infinite-decoy`` — Lo, Ma, Chen 2005 (:func:`.decoy.infinite_decoy_rate`)
* ``vacuum-weak`` — Ma, Qi, Zhao, Lo 2005 (:func:`.decoy.vacuum_weak_decoy_rate`)
* ``gllp`` — no decoys (:func:`.decoy.gllp_rate`)
* ``finite:N`` — Lim et al. 2014 with block size n_X = N
  (:func:`~qkd_circuits.analysis.finite_decoy.optimize_finite_key`);
  ``finite:inf`` is its n_X → ∞ limit: infinite decoys with the vacuum
  contribution and sifting factor q_x² → 1 (``infinite_decoy_rate(...,
  vacuum=True)`` on the link with q = 1), the asymptote the finite-key
  curves approach from below.
* ``plob`` / ``tgw`` — repeaterless bounds of the fibre channel
  (:mod:`~qkd_circuits.analysis.bounds`)

Rates are secret bits per pulse, clipped at 0 ("no key").
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.analysis.bounds import plob_bound, tgw_bound
from qkd_circuits.analysis.decoy import DECOY_ANALYSES, OptimizedRate, decoy_rate_curve
from qkd_circuits.analysis.finite_decoy import (
    DecoySettings,
    FiniteKeyResult,
    FiniteKeySecurity,
    finite_key_curve,
    optimize_finite_key,
)
from qkd_circuits.analysis.link import LinkParameters
from qkd_circuits.errors import ConfigError

__all__ = [
    "ANALYSIS_NAMES",
    "AnalysisSpec",
    "KeyRatePoint",
    "key_rate_curve",
    "max_distance",
    "parse_analyses",
    "parse_distances",
]

ANALYSIS_NAMES = (*DECOY_ANALYSES, "finite", "plob", "tgw")
_BOUNDS = ("plob", "tgw")
_MAX_POINTS = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisSpec:
    """One analysis to run.

    Attributes:
        name: One of ``infinite-decoy``, ``vacuum-weak``, ``gllp``, ``finite``,
            ``plob``, ``tgw``.
        n_x: Block size n_X for ``finite`` (>= 1); None otherwise.
    """

    name: str
    n_x: float | None = None

    def __post_init__(self) -> None:
        if self.name not in ANALYSIS_NAMES:
            raise ConfigError(
                f"unknown analysis {self.name!r}; expected one of "
                f"{', '.join(ANALYSIS_NAMES[:-3])}, finite:N (block size), plob, tgw"
            )
        if self.name == "finite":
            if (
                self.n_x is None
                or math.isnan(self.n_x)
                or self.n_x < 1
                or (math.isfinite(self.n_x) and self.n_x != int(self.n_x))
            ):
                raise ConfigError(
                    f"finite-key analysis needs a whole block size n_X >= 1 (or inf), "
                    f"got {self.n_x!r}"
                )
        elif self.n_x is not None:
            raise ConfigError(f"analysis {self.name!r} takes no block size, got {self.n_x!r}")

    @property
    def label(self) -> str:
        """The canonical spec string, e.g. ``"finite:1e6"``, ``"finite:2.5e5"`` or ``"plob"``."""
        if self.name != "finite":
            return self.name
        assert self.n_x is not None
        if math.isinf(self.n_x) or self.n_x < 1e4:
            return f"finite:{self.n_x:g}"
        mantissa, exponent = f"{self.n_x:.6e}".split("e")
        return f"finite:{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"

    @property
    def is_bound(self) -> bool:
        """True for the repeaterless bounds (PLOB, TGW)."""
        return self.name in _BOUNDS

    @classmethod
    def parse(cls, text: str) -> AnalysisSpec:
        """Parse ``"infinite-decoy"``, ``"finite:1e6"`` etc.

        Raises:
            ConfigError: for an unknown analysis or a bad block size.
        """
        t = text.strip().lower()
        if t.startswith("finite"):
            m = re.fullmatch(r"finite:(.+)", t)
            if m is None:
                raise ConfigError(
                    f"finite-key analysis needs a block size, e.g. 'finite:1e6', got {text!r}"
                )
            try:
                n_x = float(m.group(1))
            except ValueError:
                raise ConfigError(
                    f"block size in {text!r} is not a number; expected e.g. 'finite:1e6'"
                ) from None
            return cls(name="finite", n_x=n_x)
        return cls(name=t)


def parse_analyses(text: str) -> list[AnalysisSpec]:
    """Parse a comma-separated list of analysis specs (duplicates dropped, order kept).

    Raises:
        ConfigError: for an empty list or any invalid entry.
    """
    parts = [s.strip() for s in text.split(",")]
    if not any(parts):
        raise ConfigError(f"no analysis given in {text!r}; expected e.g. 'infinite-decoy,plob'")
    if not all(parts):
        raise ConfigError(
            f"empty entry in the analysis list {text!r}; expected e.g. 'infinite-decoy,plob'"
        )
    out: list[AnalysisSpec] = []
    for p in parts:
        spec = AnalysisSpec.parse(p)
        if spec not in out:
            out.append(spec)
    return out


def _float(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(v):
        raise ConfigError(f"{what} must be finite, got {text!r}")
    return v


def parse_distances(text: str) -> NDArray[np.float64]:
    """Parse ``START:STOP:STEP`` (STOP included when on the grid), a list ``0,50,100`` or ``50``.

    Raises:
        ConfigError: for malformed text, negative distances, STOP < START,
            STEP <= 0 or more than 100000 points.
    """
    t = text.strip()
    if ":" in t:
        parts = t.split(":")
        if len(parts) != 3:
            raise ConfigError(
                f"malformed distance range {text!r}; expected START:STOP:STEP, e.g. 0:200:5"
            )
        start, stop, step = (_float(p, "distance range value") for p in parts)
        if start < 0:
            raise ConfigError(f"distances must be >= 0 km, got start {start!r} in {text!r}")
        if stop < start:
            raise ConfigError(f"distance range {text!r} has STOP < START")
        if step <= 0:
            raise ConfigError(f"distance range {text!r} needs STEP > 0, got {step!r}")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > _MAX_POINTS:
            raise ConfigError(f"distance range {text!r} has {count} points; at most {_MAX_POINTS}")
        return start + step * np.arange(count, dtype=np.float64)
    items = [s.strip() for s in t.split(",")]
    if not t or any(not s for s in items):
        raise ConfigError(
            f"malformed distances {text!r}; expected START:STOP:STEP or a list like 0,50,100"
        )
    values = np.array([_float(s, "distance") for s in items], dtype=np.float64)
    if np.any(values < 0):
        raise ConfigError(f"distances must be >= 0 km, got {float(values[values < 0][0])!r}")
    return values


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRatePoint:
    """One point of a key-rate curve.

    Attributes:
        distance_km: Fibre length in km.
        analysis: The analysis label (e.g. ``"finite:1e+06"``).
        key_rate: Secret bits per pulse, >= 0 (0: no key; inf for the bounds at L = 0).
        mu: Signal intensity used (optimised unless fixed); None for the bounds
            and where there is no key.
        settings: For finite-key points with a key, the optimised protocol parameters.
    """

    distance_km: float
    analysis: str
    key_rate: float
    mu: float | None = None
    settings: DecoySettings | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON row: ``distance_km``, ``analysis``, ``key_rate``, ``mu`` (+ ``settings``).

        An infinite ``key_rate`` (the bounds at L = 0) becomes None (JSON null).
        """
        row: dict[str, Any] = {
            "distance_km": self.distance_km,
            "analysis": self.analysis,
            "key_rate": self.key_rate if math.isfinite(self.key_rate) else None,
            "mu": self.mu,
        }
        if self.settings is not None:
            s = self.settings
            row["settings"] = {
                "q_x": s.q_x, "mu1": s.mu1, "mu2": s.mu2, "mu3": s.mu3,
                "p_mu1": s.p_mu1, "p_mu2": s.p_mu2, "p_mu3": s.p_mu3,
            }  # fmt: skip
        return row


def _as_spec(analysis: AnalysisSpec | str) -> AnalysisSpec:
    return analysis if isinstance(analysis, AnalysisSpec) else AnalysisSpec.parse(analysis)


def _check_distances(distances_km: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    d = np.atleast_1d(np.asarray(distances_km, dtype=np.float64))
    bad = ~(np.isfinite(d) & (d >= 0))
    if np.any(bad):
        raise ConfigError(f"distances must be finite and >= 0 km, got {float(d[bad][0])!r}")
    return d


def key_rate_curve(
    link: LinkParameters,
    distances_km: Sequence[float] | NDArray[np.float64],
    analysis: AnalysisSpec | str,
    *,
    mu: float | None = None,
    nu: float = 0.1,
    security: FiniteKeySecurity | None = None,
) -> list[KeyRatePoint]:
    """Key rate per pulse at each distance for one analysis (μ optimised unless given).

    Args:
        link: Device and link parameters.
        distances_km: Fibre lengths in km (>= 0).
        analysis: Spec (e.g. ``"infinite-decoy"``, ``"finite:1e6"``, ``"plob"``).
        mu: Fixed signal intensity for the asymptotic decoy analyses (the
            finite-key analysis always optimises its intensities).
        nu: Weak-decoy intensity for ``vacuum-weak``.
        security: ε parameters for ``finite`` (default: Lim et al. Sec. IV).

    Returns:
        One :class:`KeyRatePoint` per distance, in input order.
    """
    spec = _as_spec(analysis)
    d = _check_distances(distances_km)
    if mu is not None and not (math.isfinite(mu) and mu > 0):
        raise ConfigError(f"mu (mean photon number) must be > 0, got {mu!r}")
    label = spec.label
    if spec.is_bound:
        bound = plob_bound if spec.name == "plob" else tgw_bound
        values = np.atleast_1d(np.asarray(bound(link.channel_transmittance(d)), dtype=np.float64))
        return [
            KeyRatePoint(distance_km=float(x), analysis=label, key_rate=float(v))
            for x, v in zip(d, values, strict=True)
        ]
    if spec.name == "finite" and spec.n_x == math.inf:
        spec = AnalysisSpec(name="infinite-decoy")
        link = dataclasses.replace(link, q=1.0)
        rates = decoy_rate_curve(link, d, analysis=spec.name, mu=mu, nu=nu, vacuum=True)
        return [_decoy_point(r, label) for r in rates]
    if spec.name == "finite":
        assert spec.n_x is not None
        results = finite_key_curve(link, d, n_x=spec.n_x, security=security)
        return [_finite_point(float(x), label, r) for x, r in zip(d, results, strict=True)]
    rates = decoy_rate_curve(link, d, analysis=spec.name, mu=mu, nu=nu)
    return [_decoy_point(r, label) for r in rates]


def _decoy_point(r: OptimizedRate, label: str) -> KeyRatePoint:
    return KeyRatePoint(
        distance_km=r.distance_km,
        analysis=label,
        key_rate=max(r.key_rate, 0.0),
        mu=r.mu if r.key_rate > 0 else None,
    )


def _finite_point(distance: float, label: str, r: FiniteKeyResult | None) -> KeyRatePoint:
    if r is None or r.key_rate <= 0:
        return KeyRatePoint(distance_km=distance, analysis=label, key_rate=0.0)
    return KeyRatePoint(
        distance_km=distance,
        analysis=label,
        key_rate=r.key_rate,
        mu=r.settings.mu1,
        settings=r.settings,
    )


def max_distance(
    link: LinkParameters,
    analysis: AnalysisSpec | str,
    *,
    mu: float | None = None,
    nu: float = 0.1,
    security: FiniteKeySecurity | None = None,
    limit_km: float = 2000.0,
    xtol_km: float = 0.01,
) -> float:
    """Distance (km) at which the (optimised) key rate of ``analysis`` reaches zero.

    The rate is scanned on a grid (10 km steps; 5 km for finite keys, with
    warm starts) until it is no longer positive, then the zero is located
    with Brent's method (``xtol_km``). The optimal rates never increase with
    distance, so the first zero is the reach.

    Returns:
        The reach in km; ``math.inf`` for the PLOB/TGW bounds (never zero);
        0.0 if there is no key even at 0 km; ``limit_km`` if still positive there.
    """
    spec = _as_spec(analysis)
    if spec.is_bound:
        return math.inf
    vacuum = False
    if spec.name == "finite" and spec.n_x == math.inf:
        spec, vacuum = AnalysisSpec(name="infinite-decoy"), True
        link = dataclasses.replace(link, q=1.0)
    elif spec.name == "finite":
        return _finite_max_distance(link, spec, security, limit_km, xtol_km)

    def curve(x: Sequence[float] | NDArray[np.float64]) -> list[OptimizedRate]:
        return decoy_rate_curve(link, x, analysis=spec.name, mu=mu, nu=nu, vacuum=vacuum)

    grid = np.arange(0.0, limit_km + 10.0, 10.0)
    rates = np.array([r.key_rate for r in curve(grid)])
    if rates[0] <= 0:
        return 0.0
    nonpos = np.nonzero(rates <= 0)[0]
    if nonpos.size == 0:
        return float(limit_km)
    hi = float(grid[nonpos[0]])

    def rate(x: float) -> float:
        return curve([x])[0].key_rate

    from scipy.optimize import brentq  # here, so parsing an analysis spec is fast

    return float(brentq(rate, hi - 10.0, hi, xtol=xtol_km))


def _finite_max_distance(
    link: LinkParameters,
    spec: AnalysisSpec,
    security: FiniteKeySecurity | None,
    limit_km: float,
    xtol_km: float,
) -> float:
    assert spec.n_x is not None
    n_x = spec.n_x
    step = 5.0
    grid = np.arange(0.0, limit_km + step, step)
    results = finite_key_curve(link, grid, n_x=n_x, security=security)
    positive = [r for r in results if r is not None and r.key_rate > 0]
    if not positive:
        return 0.0
    last = positive[-1]
    if last.distance_km >= limit_km:
        return float(limit_km)
    lo, hi = last.distance_km, last.distance_km + step
    start = last.settings
    # Bisection: ⌊ℓ⌋/N is piecewise constant near zero, so keep it simple and robust.
    while hi - lo > xtol_km:
        mid = 0.5 * (lo + hi)
        r = optimize_finite_key(link, mid, n_x=n_x, security=security, start=start)
        if r.key_rate > 0:
            lo, start = mid, r.settings
        else:
            hi = mid
    return 0.5 * (lo + hi)
