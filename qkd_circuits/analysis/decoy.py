"""Asymptotic key rates of weak-coherent-pulse BB84: GLLP, infinite decoys, vacuum+weak decoy.

Channel model (Ma, Qi, Zhao and Lo, PRA 72, 012326 (2005),
arXiv:quant-ph/0503005, Sec. II; Lo, Ma and Chen, PRL 94, 230504 (2005),
arXiv:quant-ph/0411004). Alice sends phase-randomised coherent pulses of
mean photon number μ; the overall transmittance is
η = η_Bob · 10^(−α L / 10) and an n-photon pulse is detected with
transmittance η_n = 1 − (1 − η)^n. Then::

    Y_n = Y0 + η_n − Y0 η_n                       (yield of n-photon pulses)
    e_n = (e0 Y0 + e_d η_n) / Y_n                 (their error rate, e0 = 1/2)
    Q_μ = Y0 + 1 − e^(−ημ)                        (gain of the signal)
    E_μ Q_μ = e0 Y0 + e_d (1 − e^(−ημ))           (its error rate)

(The gain formula drops the O(Y0 η μ) term of Σ_n Y_n e^(−μ) μ^n/n!, as the
papers do; the reference values of Lo–Ma–Chen are reproduced with exactly
these expressions.) When the link has an after-pulse probability p_ap, the
model of Lim et al., PRA 89, 022307 (2014), Sec. IV, is folded in: every
gain and yield is multiplied by (1 + p_ap) and the after-pulses add
p_ap/2 × (gain without after-pulses) to the error probability.

Key rates are per pulse sent, with the GLLP formula (Gottesman, Lo,
Lütkenhaus and Preskill, Quantum Inf. Comput. 4, 325 (2004),
arXiv:quant-ph/0212066) in the form of Lo–Ma–Chen Eq. (1)::

    R = q { −Q_μ f h(E_μ) + Q_1 [1 − h(e_1)] },   Q_1 = Y_1 μ e^(−μ)

and the three analyses differ in what is known about Q_1 and e_1.
A negative value means no key. All rate functions broadcast over
``distance_km`` and ``mu`` and return a float for scalar input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.analysis.link import LinkParameters
from qkd_circuits.errors import ConfigError

__all__ = [
    "DECOY_ANALYSES",
    "E0",
    "OptimizedRate",
    "decoy_rate_curve",
    "gllp_rate",
    "infinite_decoy_rate",
    "optimize_mu",
    "photon_error_rate",
    "photon_yield",
    "vacuum_weak_decoy_rate",
    "wcp_error_rate",
    "wcp_gain",
]

E0 = 0.5
"""Error rate of background counts (random bit)."""

FloatOrArray = NDArray[np.float64] | float


def _out(x: NDArray[np.float64]) -> FloatOrArray:
    return float(x) if x.ndim == 0 else x


def _h(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(binary_entropy(np.clip(x, 0.0, 0.5)), dtype=np.float64)


def _distance(distance_km: ArrayLike) -> NDArray[np.float64]:
    d = np.asarray(distance_km, dtype=np.float64)
    bad = ~(np.isfinite(d) & (d >= 0))
    if np.any(bad):
        raise ConfigError(
            f"distance must be a finite number >= 0 km, got {float(d[bad].flat[0])!r}"
        )
    return d


def _intensity(mu: ArrayLike, name: str = "mu") -> NDArray[np.float64]:
    m = np.asarray(mu, dtype=np.float64)
    bad = ~(np.isfinite(m) & (m > 0))
    if np.any(bad):
        raise ConfigError(f"{name} (mean photon number) must be > 0, got {float(m[bad].flat[0])!r}")
    return m


def _eta(link: LinkParameters, d: NDArray[np.float64]) -> NDArray[np.float64]:
    return link.eta_bob * 10.0 ** (-link.alpha_db_per_km * d / 10.0)


# --- channel model (unvalidated cores, arrays in, arrays out) -------------------------


def _gain_err(
    link: LinkParameters, eta: NDArray[np.float64], mu: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Q_μ and the error probability E_μ Q_μ (MQZL Eqs. (8)-(9), plus after-pulses)."""
    detected = -np.expm1(-eta * mu)
    q_raw = link.y0 + detected
    gain = (1.0 + link.p_afterpulse) * q_raw
    err = E0 * link.y0 + link.e_d * detected + 0.5 * link.p_afterpulse * q_raw
    return gain, err


def _yield_err(
    link: LinkParameters, eta: NDArray[np.float64], n: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Y_n and e_n Y_n (MQZL Eqs. (2)-(6), plus after-pulses)."""
    eta_n = -np.expm1(n * np.log1p(-np.minimum(eta, 1.0 - 1e-300))) if n else np.zeros_like(eta)
    y_raw = link.y0 + eta_n - link.y0 * eta_n
    yld = (1.0 + link.p_afterpulse) * y_raw
    err = E0 * link.y0 + link.e_d * eta_n + 0.5 * link.p_afterpulse * y_raw
    return yld, err


# --- public model quantities -----------------------------------------------------------


def wcp_gain(link: LinkParameters, distance_km: ArrayLike, *, mu: ArrayLike) -> FloatOrArray:
    """Gain Q_μ = Y0 + 1 − e^(−ημ) of coherent pulses of intensity μ (MQZL 2005, Eq. (8)).

    Args:
        link: Device and link parameters.
        distance_km: Fibre length(s) L >= 0 in km.
        mu: Mean photon number(s) > 0.

    Returns:
        Detection probability per pulse.
    """
    g, _ = _gain_err(link, _eta(link, _distance(distance_km)), _intensity(mu))
    return _out(g)


def wcp_error_rate(link: LinkParameters, distance_km: ArrayLike, *, mu: ArrayLike) -> FloatOrArray:
    """QBER E_μ = [e0 Y0 + e_d (1 − e^(−ημ))] / Q_μ of the signal (MQZL 2005, Eq. (9))."""
    g, err = _gain_err(link, _eta(link, _distance(distance_km)), _intensity(mu))
    return _out(err / g)


def photon_yield(link: LinkParameters, distance_km: ArrayLike, *, n: int) -> FloatOrArray:
    """Yield Y_n = Y0 + η_n − Y0 η_n of an n-photon pulse, η_n = 1 − (1 − η)^n (MQZL Eq. (4))."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"photon number n must be an integer >= 0, got {n!r}")
    y, _ = _yield_err(link, _eta(link, _distance(distance_km)), int(n))
    return _out(y)


def photon_error_rate(link: LinkParameters, distance_km: ArrayLike, *, n: int) -> FloatOrArray:
    """Error rate e_n = (e0 Y0 + e_d η_n) / Y_n of n-photon pulses (MQZL Eq. (6))."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"photon number n must be an integer >= 0, got {n!r}")
    y, err = _yield_err(link, _eta(link, _distance(distance_km)), int(n))
    return _out(err / y)


# --- key rates -------------------------------------------------------------------------


def _infinite_core(
    link: LinkParameters, eta: NDArray[np.float64], mu: NDArray[np.float64], vacuum: bool = False
) -> NDArray[np.float64]:
    gain, err = _gain_err(link, eta, mu)
    y1, err1 = _yield_err(link, eta, 1)
    q1 = y1 * mu * np.exp(-mu)
    rate = -gain * link.f_ec * _h(err / gain) + q1 * (1.0 - _h(err1 / y1))
    if vacuum:
        y0, _ = _yield_err(link, eta, 0)
        rate = rate + y0 * np.exp(-mu)
    return link.q * rate


def _vacuum_weak_core(
    link: LinkParameters, eta: NDArray[np.float64], mu: NDArray[np.float64], nu: float
) -> NDArray[np.float64]:
    gain, err = _gain_err(link, eta, mu)
    gain_nu, err_nu = _gain_err(link, eta, np.asarray(nu))
    y0_est, _ = _gain_err(link, eta, np.asarray(0.0))  # the vacuum decoy measures Y0
    with np.errstate(divide="ignore", invalid="ignore"):
        y1_low = (
            mu
            / (mu * nu - nu * nu)
            * (
                gain_nu * math.exp(nu)
                - gain * np.exp(mu) * nu * nu / (mu * mu)
                - (mu * mu - nu * nu) / (mu * mu) * y0_est
            )
        )
        e1_up = (err_nu * math.exp(nu) - E0 * y0_est) / (y1_low * nu)
    ok = y1_low > 0
    y1_pos = np.where(ok, y1_low, 0.0)
    e1_up = np.where(ok, e1_up, 0.5)
    q1_low = y1_pos * mu * np.exp(-mu)
    return link.q * (-gain * link.f_ec * _h(err / gain) + q1_low * (1.0 - _h(e1_up)))


def _gllp_core(
    link: LinkParameters, eta: NDArray[np.float64], mu: NDArray[np.float64]
) -> NDArray[np.float64]:
    gain, err = _gain_err(link, eta, mu)
    p_multi = -np.expm1(-mu) - mu * np.exp(-mu)  # 1 − (1 + μ) e^(−μ)
    q1_low = gain - p_multi
    ok = q1_low > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        e1_up = np.where(ok, err / np.where(ok, q1_low, 1.0), 0.5)
    return link.q * (
        -gain * link.f_ec * _h(err / gain) + np.where(ok, q1_low, 0.0) * (1.0 - _h(e1_up))
    )


def infinite_decoy_rate(
    link: LinkParameters, distance_km: ArrayLike, *, mu: ArrayLike, vacuum: bool = False
) -> FloatOrArray:
    """Decoy-state BB84 rate with infinitely many decoys (Lo, Ma, Chen 2005).

    Lo, Ma and Chen, PRL 94, 230504 (2005), arXiv:quant-ph/0411004, Eq. (1)
    with Q_1 and e_1 known exactly, as infinitely many decoy intensities
    allow::

        R = q { −Q_μ f h(E_μ) + Q_1 [1 − h(e_1)] },
        Q_1 = Y_1 μ e^(−μ),  e_1 = (e0 Y0 + e_d η) / Y_1.

    GYS, μ = 0.5, L = 0: Q_μ = 2.225046e-2, E_μ = 3.303568e-2,
    Q_1 = 1.364743e-2, e_1 = 3.301770e-2, R = 2.553403e-3.

    With ``vacuum=True`` the detections of empty pulses, Q_0 = Y0 e^(−μ),
    also count as secret bits (they carry no information about Alice's bit:
    Lo, Quantum Inf. Comput. 5, 413 (2005), arXiv:quant-ph/0503004; the
    s_{X,0} term of Lim et al. 2014, Eq. (1)):
    R = q { Q_0 − Q_μ f h(E_μ) + Q_1 [1 − h(e_1)] }. With q = 1 this is the
    n_X → ∞ limit of the finite-key rate of
    :mod:`~qkd_circuits.analysis.finite_decoy` (q_x → 1, decoys → 0).

    Args:
        link: Device and link parameters.
        distance_km: Fibre length(s) in km (>= 0).
        mu: Signal intensity (> 0).
        vacuum: Add the vacuum contribution Q_0.

    Returns:
        Secret bits per pulse (negative: no key).
    """
    return _out(_infinite_core(link, _eta(link, _distance(distance_km)), _intensity(mu), vacuum))


def vacuum_weak_decoy_rate(
    link: LinkParameters, distance_km: ArrayLike, *, mu: ArrayLike, nu: float = 0.1
) -> FloatOrArray:
    """Vacuum + weak decoy BB84 rate (Ma, Qi, Zhao, Lo 2005).

    Ma, Qi, Zhao and Lo, PRA 72, 012326 (2005), arXiv:quant-ph/0503005,
    Sec. IV.B. The vacuum decoy measures Y0 = Q_0 and one weak decoy of
    intensity ν < μ gives the lower bound on the single-photon yield
    (their Eq. (34)) and the upper bound on its error rate (Eq. (37))::

        Y_1 ≥ μ / (μν − ν²) [Q_ν e^ν − Q_μ e^μ ν²/μ² − (μ² − ν²)/μ² Y0]
        e_1 ≤ (E_ν Q_ν e^ν − e0 Y0) / (Y_1^L ν)

    which go into R = q { −Q_μ f h(E_μ) + Y_1^L μ e^(−μ) [1 − h(e_1^U)] }.

    Args:
        link: Device and link parameters.
        distance_km: Fibre length(s) in km (>= 0).
        mu: Signal intensity (> ν).
        nu: Weak-decoy intensity, 0 < ν < μ.

    Returns:
        Secret bits per pulse (negative: no key).
    """
    nu_f = float(_intensity(nu, "nu"))
    m = _intensity(mu)
    if np.any(m <= nu_f):
        raise ConfigError(f"signal intensity mu must exceed the decoy nu={nu_f!r}, got {m.min()!r}")
    return _out(_vacuum_weak_core(link, _eta(link, _distance(distance_km)), m, nu_f))


def gllp_rate(link: LinkParameters, distance_km: ArrayLike, *, mu: ArrayLike) -> FloatOrArray:
    """BB84 rate of weak coherent pulses without decoys (GLLP worst case).

    Gottesman, Lo, Lütkenhaus and Preskill, Quantum Inf. Comput. 4, 325
    (2004), arXiv:quant-ph/0212066, in the form of Lo–Ma–Chen Eq. (1):
    without decoys Eve may block single photons and forward every
    multi-photon pulse, so the single-photon gain is only known to satisfy
    Q_1 ≥ Q_μ − P_multi, P_multi = 1 − (1 + μ) e^(−μ), and all errors may
    sit on single photons, e_1 ≤ E_μ Q_μ / Q_1^L.

    Args:
        link: Device and link parameters.
        distance_km: Fibre length(s) in km (>= 0).
        mu: Signal intensity (> 0).

    Returns:
        Secret bits per pulse (negative: no key).
    """
    return _out(_gllp_core(link, _eta(link, _distance(distance_km)), _intensity(mu)))


DECOY_ANALYSES: dict[str, str] = {
    "infinite-decoy": "Lo–Ma–Chen 2005, infinitely many decoys",
    "vacuum-weak": "Ma–Qi–Zhao–Lo 2005, vacuum + one weak decoy",
    "gllp": "GLLP 2004, no decoys",
}


def _core_for(
    analysis: str, nu: float, vacuum: bool = False
) -> Callable[[LinkParameters, NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]:
    if vacuum and analysis != "infinite-decoy":
        raise ConfigError(
            f"vacuum contributions are only modelled for infinite-decoy, not {analysis!r}"
        )
    if analysis == "infinite-decoy":
        return lambda link, eta, mu: _infinite_core(link, eta, mu, vacuum)
    if analysis == "gllp":
        return _gllp_core
    if analysis == "vacuum-weak":
        return lambda link, eta, mu: _vacuum_weak_core(link, eta, mu, nu)
    raise ConfigError(
        f"unknown decoy analysis {analysis!r}; expected one of {', '.join(DECOY_ANALYSES)}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimizedRate:
    """A key rate at the signal intensity that maximises it.

    Attributes:
        distance_km: Fibre length in km.
        key_rate: Secret bits per pulse at ``mu`` (<= 0: no key at any μ).
        mu: The optimal (or the given) signal intensity.
    """

    distance_km: float
    key_rate: float
    mu: float


_MU_MAX = 1.5
_GRID = 160


def decoy_rate_curve(
    link: LinkParameters,
    distances_km: Sequence[float] | NDArray[np.float64],
    *,
    analysis: str = "infinite-decoy",
    mu: float | None = None,
    nu: float = 0.1,
    vacuum: bool = False,
) -> list[OptimizedRate]:
    """Key rate vs distance for one asymptotic analysis, μ optimised at each distance.

    The optimisation evaluates the rate on a logarithmic grid of μ (all
    distances at once) and refines the best grid point with bounded Brent
    search in log μ.

    Args:
        link: Device and link parameters.
        distances_km: Fibre lengths in km (>= 0).
        analysis: ``"infinite-decoy"``, ``"vacuum-weak"`` or ``"gllp"``.
        mu: Use this signal intensity instead of optimising.
        nu: Weak-decoy intensity for ``"vacuum-weak"``.
        vacuum: Count vacuum detections as key (``"infinite-decoy"`` only; see
            :func:`infinite_decoy_rate`).

    Returns:
        One :class:`OptimizedRate` per distance, in input order.
    """
    d = np.atleast_1d(_distance(distances_km)).astype(np.float64)
    nu_f = float(_intensity(nu, "nu"))
    core = _core_for(analysis, nu_f, vacuum)
    eta = _eta(link, d)
    lo = nu_f * (1 + 1e-9) if analysis == "vacuum-weak" else 1e-7
    if mu is not None:
        mu_arr = _intensity(mu)
        if analysis == "vacuum-weak" and float(mu_arr) <= nu_f:
            raise ConfigError(f"signal intensity mu must exceed the decoy nu={nu_f!r}, got {mu!r}")
        rates = core(link, eta, np.full_like(d, float(mu_arr)))
        return [
            OptimizedRate(distance_km=float(x), key_rate=float(r), mu=float(mu_arr))
            for x, r in zip(d, rates, strict=True)
        ]
    if lo >= _MU_MAX:
        raise ConfigError(f"decoy intensity nu={nu_f!r} leaves no room for mu below {_MU_MAX}")
    grid = np.geomspace(lo, _MU_MAX, _GRID)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        table = core(link, eta[:, None], grid[None, :])
    table = np.where(np.isfinite(table), table, -np.inf)
    out: list[OptimizedRate] = []
    for i, dist in enumerate(d):
        j = int(np.argmax(table[i]))
        a = math.log(grid[max(j - 1, 0)])
        b = math.log(grid[min(j + 1, _GRID - 1)])
        eta_i = eta[i : i + 1]

        def neg(logmu: float, eta_i: NDArray[np.float64] = eta_i) -> float:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                v = float(core(link, eta_i, np.asarray([math.exp(logmu)]))[0])
            return -v if math.isfinite(v) else math.inf

        best_mu, best_rate = float(grid[j]), float(table[i, j])
        if b > a:
            from scipy.optimize import minimize_scalar  # here, so importing this is fast

            res = minimize_scalar(neg, bounds=(a, b), method="bounded", options={"xatol": 1e-7})
            if -res.fun > best_rate:
                best_mu, best_rate = math.exp(res.x), -float(res.fun)
        out.append(OptimizedRate(distance_km=float(dist), key_rate=best_rate, mu=best_mu))
    return out


def optimize_mu(
    link: LinkParameters,
    distance_km: float,
    *,
    analysis: str = "infinite-decoy",
    nu: float = 0.1,
) -> OptimizedRate:
    """Maximise the key rate of one asymptotic analysis over the signal intensity μ.

    Args:
        link: Device and link parameters.
        distance_km: Fibre length in km (>= 0).
        analysis: ``"infinite-decoy"``, ``"vacuum-weak"`` or ``"gllp"``.
        nu: Weak-decoy intensity for ``"vacuum-weak"``.

    Returns:
        The best rate and its μ (searched in (0, 1.5]).
    """
    return decoy_rate_curve(link, [distance_km], analysis=analysis, nu=nu)[0]
