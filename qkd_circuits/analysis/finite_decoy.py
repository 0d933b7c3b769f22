"""Finite-key decoy-state BB84 with two decoys (Lim, Curty, Walenta, Xu, Zbinden 2014).

Lim et al., "Concise security bounds for practical decoy-state quantum key
distribution", PRA 89, 022307 (2014), arXiv:1311.7129.

Protocol (their Sec. II): Alice and Bob each pick the basis X with
probability q_x and Z with 1 − q_x; Alice picks the intensity μ1, μ2 or μ3
(μ1 > μ2 + μ3, μ2 > μ3 >= 0) with probabilities p_μ1, p_μ2, p_μ3. The key
comes from the X-basis detections of *all* intensities (block size n_X);
the Z-basis detections estimate the phase-error rate.

Security bounds (their Eqs. (1)-(5)), implemented in
:func:`lim2014_key_length`. With τ_n = Σ_k e^(−k) k^n p_k / n! and the
Hoeffding-corrected counts::

    n±_{X,k} = e^k / p_k [n_{X,k} ± sqrt(n_X / 2 · ln(21/ε_sec))]
    m±_{Z,k} = e^k / p_k [m_{Z,k} ± sqrt(m_Z / 2 · ln(21/ε_sec))]

    (2)  s_{X,0} >= τ0 (μ2 n−_{X,μ3} − μ3 n+_{X,μ2}) / (μ2 − μ3)
    (3)  s_{X,1} >= τ1 μ1 [n−_{X,μ2} − n+_{X,μ3} − (μ2² − μ3²)/μ1² (n+_{X,μ1} − s_{X,0}/τ0)]
                    / [μ1 (μ2 − μ3) − μ2² + μ3²]
         (and s_{Z,0}, s_{Z,1} from the Z-basis counts the same way)
    (4)  v_{Z,1} <= τ1 (m+_{Z,μ2} − m−_{Z,μ3}) / (μ2 − μ3)
    (5)  φ_X <= v_{Z,1}/s_{Z,1} + γ(ε_sec, v_{Z,1}/s_{Z,1}, s_{Z,1}, s_{X,1}),
         γ(a, b, c, d) = sqrt[(c + d)(1 − b) b / (c d ln 2)
                              · log2((c + d) / (c d (1 − b) b) · 21² / a²)]
    (1)  ℓ = ⌊s_{X,0} + s_{X,1} − s_{X,1} h(φ_X) − λ_EC − 6 log2(21/ε_sec) − log2(2/ε_cor)⌋

Expected statistics (their Sec. IV, dedicated fibre), in
:func:`expected_counts`: with η = η_Bob 10^(−αL/10) and Y0 = 2 p_dc,
D_k = 1 − (1 − Y0) e^(−η k), detection probability R_k = D_k (1 + p_ap),
error probability e_k = Y0/2 + e_mis (1 − e^(−η k)) + p_ap D_k / 2,
n_{X,k} = N q_x² p_k R_k, m_{X,k} = N q_x² p_k e_k (and (1 − q_x)² for Z),
with N = n_X / (q_x² Σ_k p_k R_k) pulses, and λ_EC = f_EC n_X h(m_X / n_X).
(The paper prints exp(−η_ch k) in e_k; the misalignment acts on detected
photons, so we use η = η_ch η_Bob, as in D_k.) The secret key rate is
R = ℓ / N per pulse. Sec. IV fixes μ3 = 2e-4, ε_cor = 1e-15 and
ε_sec = κ ℓ with κ = 1e-15 (a fixed point, solved by iteration here), and
optimises R over {q_x, p_μ1, p_μ2, μ1, μ2}: :func:`optimize_finite_key`.

Implementation notes. Negative lower bounds on s_{X,0} are replaced by 0
(still a valid lower bound); if s_{X,1} or s_{Z,1} is not positive the
single-photon term is 0, and φ_X is capped at 1/2. The link's sifting
factor ``q`` is not used: the basis bias q_x is a free parameter of this
protocol, and as n_X → ∞ the rate tends to the infinite-decoy rate with
q = 1 plus the vacuum term (``finite:inf`` in :mod:`.curves`). Near the
end of its reach the optimum drives q_x towards 0 (huge Z-basis samples
pin the phase error; the rate per pulse vanishes); q_x >= 0.005 here, which
moves the reach by < 0.1 km compared with q_x -> 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.analysis.link import LinkParameters
from qkd_circuits.errors import ConfigError

__all__ = [
    "DecoyCounts",
    "DecoySettings",
    "FiniteKeyBounds",
    "FiniteKeyResult",
    "FiniteKeySecurity",
    "expected_counts",
    "finite_key_curve",
    "finite_key_rate",
    "lim2014_key_length",
    "optimize_finite_key",
]

_LN2 = math.log(2.0)
_MU3_DEFAULT = 2e-4


def _pos(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
    return v


@dataclass(frozen=True, slots=True, kw_only=True)
class DecoySettings:
    """Alice's and Bob's free parameters in the Lim et al. protocol.

    Attributes:
        q_x: Probability of choosing the key basis X (both parties), in (0, 1).
        mu1: Signal intensity μ1 > μ2 + μ3.
        mu2: Decoy intensity μ2 > μ3.
        mu3: Second decoy μ3 >= 0 (2e-4 in Lim et al., Sec. IV).
        p_mu1: Probability of μ1, in (0, 1).
        p_mu2: Probability of μ2, in (0, 1); p_μ3 = 1 − p_μ1 − p_μ2 > 0.
    """

    q_x: float
    mu1: float
    mu2: float
    mu3: float = _MU3_DEFAULT
    p_mu1: float
    p_mu2: float

    def __post_init__(self) -> None:
        if not 0.0 < self.q_x < 1.0:
            raise ConfigError(f"q_x must be in (0, 1), got {self.q_x!r}")
        if not (math.isfinite(self.mu3) and self.mu3 >= 0):
            raise ConfigError(f"mu3 must be >= 0, got {self.mu3!r}")
        if not (math.isfinite(self.mu2) and self.mu2 > self.mu3):
            raise ConfigError(f"mu2 must be > mu3={self.mu3!r}, got {self.mu2!r}")
        if not (math.isfinite(self.mu1) and self.mu1 > self.mu2 + self.mu3):
            raise ConfigError(
                f"mu1 must be > mu2 + mu3 = {self.mu2 + self.mu3!r}, got {self.mu1!r}"
            )
        for name in ("p_mu1", "p_mu2"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise ConfigError(f"{name} must be in (0, 1), got {v!r}")
        if self.p_mu1 + self.p_mu2 >= 1.0:
            raise ConfigError(
                f"p_mu1 + p_mu2 must be < 1 (p_mu3 > 0), got {self.p_mu1 + self.p_mu2!r}"
            )

    @property
    def p_mu3(self) -> float:
        """Probability of μ3: 1 − p_μ1 − p_μ2."""
        return 1.0 - self.p_mu1 - self.p_mu2

    @property
    def intensities(self) -> tuple[float, float, float]:
        """(μ1, μ2, μ3)."""
        return (self.mu1, self.mu2, self.mu3)

    @property
    def probabilities(self) -> tuple[float, float, float]:
        """(p_μ1, p_μ2, p_μ3)."""
        return (self.p_mu1, self.p_mu2, self.p_mu3)


@dataclass(frozen=True, slots=True, kw_only=True)
class FiniteKeySecurity:
    """Security parameters of the finite-key bound.

    Attributes:
        eps_cor: Correctness ε_cor (1e-15 in Lim et al., Sec. IV).
        eps_sec: Fixed secrecy ε_sec; if None, ε_sec = κ ℓ as in Sec. IV.
        kappa: Secrecy leakage per key bit κ, used when ``eps_sec`` is None.
    """

    eps_cor: float = 1e-15
    eps_sec: float | None = None
    kappa: float = 1e-15

    def __post_init__(self) -> None:
        if not 0.0 < self.eps_cor < 1.0:
            raise ConfigError(f"eps_cor must be in (0, 1), got {self.eps_cor!r}")
        if self.eps_sec is not None and not 0.0 < self.eps_sec < 1.0:
            raise ConfigError(f"eps_sec must be in (0, 1) or None, got {self.eps_sec!r}")
        if not 0.0 < self.kappa < 1.0:
            raise ConfigError(f"kappa must be in (0, 1), got {self.kappa!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DecoyCounts:
    """Observed detection and error counts of one block, per intensity (μ1, μ2, μ3).

    Attributes:
        n_x: Detections in the sifted X basis, n_{X,k}.
        m_x: Bit errors among them, m_{X,k}.
        n_z: Detections in the sifted Z basis, n_{Z,k}.
        m_z: Bit errors among them, m_{Z,k}.
    """

    n_x: tuple[float, float, float]
    m_x: tuple[float, float, float]
    n_z: tuple[float, float, float]
    m_z: tuple[float, float, float]

    def __post_init__(self) -> None:
        for name in ("n_x", "m_x", "n_z", "m_z"):
            v = getattr(self, name)
            if len(v) != 3 or any(not (math.isfinite(x) and x >= 0) for x in v):
                raise ConfigError(f"{name} must be three counts >= 0, got {v!r}")
        for n, m, basis in ((self.n_x, self.m_x, "X"), (self.n_z, self.m_z, "Z")):
            if any(mk > nk for mk, nk in zip(m, n, strict=True)):
                raise ConfigError(f"errors exceed detections in basis {basis}: {m!r} > {n!r}")
        if sum(self.n_x) <= 0 or sum(self.n_z) <= 0:
            raise ConfigError("both bases need detections (n_X > 0 and n_Z > 0)")


@dataclass(frozen=True, slots=True, kw_only=True)
class FiniteKeyBounds:
    """The quantities of Lim et al. Eqs. (1)-(5) for one block.

    Attributes:
        s_x0: Lower bound on vacuum events in the X block (Eq. 2), clipped at 0.
        s_x1: Lower bound on single-photon events in the X block (Eq. 3).
        s_z0: Same as s_x0 for the Z basis.
        s_z1: Same as s_x1 for the Z basis.
        v_z1: Upper bound on single-photon bit errors in Z (Eq. 4).
        phi_x: Upper bound on the single-photon phase-error rate in X (Eq. 5).
        lambda_ec: Error-correction leakage λ_EC in bits.
        key_length: ℓ of Eq. (1) before the floor (negative: no key).
        eps_sec: The secrecy parameter used.
    """

    s_x0: float
    s_x1: float
    s_z0: float
    s_z1: float
    v_z1: float
    phi_x: float
    lambda_ec: float
    key_length: float
    eps_sec: float


Arr = NDArray[np.float64]


def _h(x: Arr) -> Arr:
    """Binary entropy, vectorised, 0 outside (0, 1)."""
    xc = np.clip(x, 1e-300, 1.0 - 1e-16)
    out = -xc * np.log2(xc) - (1.0 - xc) * np.log2(1.0 - xc)
    return np.where((x <= 0.0) | (x >= 1.0), 0.0, out)


def _gamma(a: Arr | float, b: Arr, c: Arr, d: Arr) -> Arr:
    """γ(a, b, c, d) of Lim et al. Eq. (5) (random sampling without replacement)."""
    ok = (b > 0.0) & (b < 1.0) & (c > 0.0) & (d > 0.0)
    bb = np.where(ok, b, 0.25)
    cc = np.where(ok, c, 1.0)
    dd = np.where(ok, d, 1.0)
    pre = (cc + dd) * (1.0 - bb) * bb / (cc * dd * _LN2)
    arg = (cc + dd) / (cc * dd * (1.0 - bb) * bb) * (441.0 / np.square(a))
    return np.where(ok & (arg > 1.0), np.sqrt(pre * np.log2(np.maximum(arg, 1.0))), 0.0)


@dataclass(frozen=True, slots=True)
class _Stats:
    """Block statistics, arrays broadcast over a batch of candidate settings."""

    mus: tuple[Arr, Arr, Arr]
    ps: tuple[Arr, Arr, Arr]
    n_x: tuple[Arr, Arr, Arr]
    m_x: tuple[Arr, Arr, Arr]
    n_z: tuple[Arr, Arr, Arr]
    m_z: tuple[Arr, Arr, Arr]


def _bounds(
    st: _Stats,
    *,
    eps_sec: Arr | float,
    eps_cor: float,
    f_ec: float,
    lambda_ec: Arr | float | None = None,
) -> dict[str, Arr]:
    """Lim et al. Eqs. (1)-(5) for a batch of blocks; returns every intermediate bound."""
    mu1, mu2, mu3 = st.mus
    p1, p2, p3 = st.ps
    e1, e2, e3 = np.exp(mu1), np.exp(mu2), np.exp(mu3)
    tau0 = p1 / e1 + p2 / e2 + p3 / e3
    tau1 = p1 * mu1 / e1 + p2 * mu2 / e2 + p3 * mu3 / e3
    den1 = mu1 * (mu2 - mu3) - mu2 * mu2 + mu3 * mu3
    c2 = (mu2 * mu2 - mu3 * mu3) / (mu1 * mu1)
    ln_term = np.log(21.0 / np.asarray(eps_sec))

    def s01(n: tuple[Arr, Arr, Arr]) -> tuple[Arr, Arr]:
        delta = np.sqrt(0.5 * (n[0] + n[1] + n[2]) * ln_term)  # Hoeffding, same for all k
        n1p = e1 / p1 * (n[0] + delta)
        n2p, n2m = e2 / p2 * (n[1] + delta), e2 / p2 * (n[1] - delta)
        n3p, n3m = e3 / p3 * (n[2] + delta), e3 / p3 * (n[2] - delta)
        s0 = np.maximum(tau0 * (mu2 * n3m - mu3 * n2p) / (mu2 - mu3), 0.0)  # Eq. (2)
        s1 = tau1 * mu1 * (n2m - n3p - c2 * (n1p - s0 / tau0)) / den1  # Eq. (3)
        return s0, s1

    sx0, sx1 = s01(st.n_x)
    sz0, sz1 = s01(st.n_z)
    mz1, mz2, mz3 = st.m_z
    dm = np.sqrt(0.5 * (mz1 + mz2 + mz3) * ln_term)
    vz1 = tau1 * (e2 / p2 * (mz2 + dm) - e3 / p3 * (mz3 - dm)) / (mu2 - mu3)  # Eq. (4)
    nx_tot = st.n_x[0] + st.n_x[1] + st.n_x[2]
    if lambda_ec is None:
        mx_tot = st.m_x[0] + st.m_x[1] + st.m_x[2]
        lam = f_ec * nx_tot * _h(mx_tot / np.where(nx_tot > 0, nx_tot, 1.0))
    else:
        lam = np.asarray(lambda_ec, dtype=np.float64)
    usable = (sx1 > 0.0) & (sz1 > 0.0)
    b = np.maximum(vz1, 0.0) / np.where(usable, sz1, 1.0)
    phi = np.where(usable, np.minimum(b + _gamma(eps_sec, b, sz1, sx1), 0.5), 0.5)  # Eq. (5)
    fixed = 6.0 * np.log2(21.0 / np.asarray(eps_sec)) + math.log2(2.0 / eps_cor)
    ell = sx0 + np.maximum(sx1, 0.0) * (1.0 - _h(phi)) - lam - fixed  # Eq. (1), no floor
    return {
        "s_x0": sx0, "s_x1": sx1, "s_z0": sz0, "s_z1": sz1, "v_z1": vz1,
        "phi_x": phi, "lambda_ec": lam, "key_length": ell,
    }  # fmt: skip


def lim2014_key_length(
    counts: DecoyCounts,
    *,
    intensities: tuple[float, float, float],
    probabilities: tuple[float, float, float],
    eps_sec: float,
    eps_cor: float,
    f_ec: float = 1.16,
    lambda_ec: float | None = None,
) -> FiniteKeyBounds:
    """Secret-key length ℓ from observed decoy statistics (Lim et al. 2014, Eqs. (1)-(5)).

    Args:
        counts: Per-intensity detections and errors in both bases.
        intensities: (μ1, μ2, μ3) with μ1 > μ2 + μ3, μ2 > μ3 >= 0.
        probabilities: (p_μ1, p_μ2, p_μ3), each > 0, summing to 1.
        eps_sec: Secrecy parameter ε_sec in (0, 1).
        eps_cor: Correctness parameter ε_cor in (0, 1).
        f_ec: Error-correction efficiency for λ_EC = f n_X h(m_X/n_X).
        lambda_ec: Actual error-correction leakage in bits (overrides ``f_ec``).

    Returns:
        The bounds; ``key_length`` is ℓ before the floor of Eq. (1).
    """
    mus = tuple(float(x) for x in intensities)
    ps = tuple(float(x) for x in probabilities)
    if len(mus) != 3 or len(ps) != 3:
        raise ConfigError("intensities and probabilities need three values (mu1, mu2, mu3)")
    DecoySettings(q_x=0.5, mu1=mus[0], mu2=mus[1], mu3=mus[2], p_mu1=ps[0], p_mu2=ps[1])
    if ps[2] <= 0 or abs(sum(ps) - 1.0) > 1e-9:
        raise ConfigError(f"probabilities must be > 0 and sum to 1, got {ps!r}")
    if not (0.0 < eps_sec < 1.0 and 0.0 < eps_cor < 1.0):
        raise ConfigError(f"eps_sec and eps_cor must be in (0, 1), got {eps_sec!r}, {eps_cor!r}")
    if f_ec < 1.0:
        raise ConfigError(f"f_ec must be >= 1, got {f_ec!r}")
    if lambda_ec is not None and not (math.isfinite(lambda_ec) and lambda_ec >= 0):
        raise ConfigError(f"lambda_ec must be >= 0 bits, got {lambda_ec!r}")

    def a3(v: Sequence[float]) -> tuple[Arr, Arr, Arr]:
        return (np.asarray(v[0]), np.asarray(v[1]), np.asarray(v[2]))

    st = _Stats(
        mus=a3(mus), ps=a3(ps), n_x=a3(counts.n_x), m_x=a3(counts.m_x),
        n_z=a3(counts.n_z), m_z=a3(counts.m_z),
    )  # fmt: skip
    out = _bounds(st, eps_sec=eps_sec, eps_cor=eps_cor, f_ec=f_ec, lambda_ec=lambda_ec)
    return FiniteKeyBounds(**{k: float(v) for k, v in out.items()}, eps_sec=float(eps_sec))


# --- expected statistics of the Sec. IV fibre model ------------------------------------


def _eta(link: LinkParameters, distance_km: float) -> float:
    return link.eta_bob * 10.0 ** (-link.alpha_db_per_km * distance_km / 10.0)


def _model(link: LinkParameters, eta: float, s: Arr, n_x: float) -> tuple[_Stats, Arr]:
    """Expected statistics for settings rows s = (q_x, μ1, μ2, μ3, p_μ1, p_μ2); and N."""
    qx = s[..., 0]
    mus = (s[..., 1], s[..., 2], s[..., 3])
    ps = (s[..., 4], s[..., 5], 1.0 - s[..., 4] - s[..., 5])
    rk = []
    ek = []
    for k in mus:
        lost = np.exp(-eta * k)
        d_k = 1.0 - (1.0 - link.y0) * lost  # D_k, with 2 p_dc = Y0
        rk.append(d_k * (1.0 + link.p_afterpulse))  # R_k
        ek.append(0.5 * link.y0 + link.e_d * (1.0 - lost) + 0.5 * link.p_afterpulse * d_k)
    det = ps[0] * rk[0] + ps[1] * rk[1] + ps[2] * rk[2]
    n_pulses = n_x / (qx * qx * det)
    ax = n_pulses * qx * qx
    az = n_pulses * (1.0 - qx) ** 2
    st = _Stats(
        mus=mus,
        ps=ps,
        n_x=(ax * ps[0] * rk[0], ax * ps[1] * rk[1], ax * ps[2] * rk[2]),
        m_x=(ax * ps[0] * ek[0], ax * ps[1] * ek[1], ax * ps[2] * ek[2]),
        n_z=(az * ps[0] * rk[0], az * ps[1] * rk[1], az * ps[2] * rk[2]),
        m_z=(az * ps[0] * ek[0], az * ps[1] * ek[1], az * ps[2] * ek[2]),
    )
    return st, n_pulses


def _as_row(s: DecoySettings) -> Arr:
    return np.array([s.q_x, s.mu1, s.mu2, s.mu3, s.p_mu1, s.p_mu2], dtype=np.float64)


def _check_distance(distance_km: float) -> float:
    d = float(distance_km)
    if not (math.isfinite(d) and d >= 0):
        raise ConfigError(f"distance must be a finite number >= 0 km, got {distance_km!r}")
    return d


def expected_counts(
    link: LinkParameters, distance_km: float, settings: DecoySettings, *, n_x: float
) -> tuple[DecoyCounts, float]:
    """Expected block statistics of the Lim et al. Sec. IV fibre model.

    Args:
        link: Device and link parameters (Y0 = 2 p_dc, e_d = e_mis, p_afterpulse = p_ap).
        distance_km: Fibre length in km (>= 0).
        settings: Basis and intensity choices.
        n_x: Block size n_X (X-basis detections), > 0.

    Returns:
        The counts (n_{X,k}, m_{X,k}, n_{Z,k}, m_{Z,k}) and the number of pulses N.
    """
    eta = _eta(link, _check_distance(distance_km))
    n_x = _pos("n_x", n_x)
    st, n_pulses = _model(link, eta, _as_row(settings), n_x)

    def t3(v: tuple[Arr, Arr, Arr]) -> tuple[float, float, float]:
        return (float(v[0]), float(v[1]), float(v[2]))

    counts = DecoyCounts(n_x=t3(st.n_x), m_x=t3(st.m_x), n_z=t3(st.n_z), m_z=t3(st.m_z))
    return counts, float(n_pulses)


# --- key rate with ε_sec = κ ℓ ----------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FiniteKeyResult:
    """Finite-key rate of one block at one distance.

    Attributes:
        distance_km: Fibre length in km.
        n_x: Block size n_X.
        key_rate: ⌊ℓ⌋ / N, secret bits per pulse (<= 0: no key).
        key_length: ⌊ℓ⌋ of Eq. (1) (negative: no key).
        n_pulses: N, pulses needed for the block.
        settings: The (optimised or given) protocol parameters.
        bounds: The intermediate bounds of Eqs. (2)-(5).
    """

    distance_km: float
    n_x: float
    key_rate: float
    key_length: float
    n_pulses: float
    settings: DecoySettings
    bounds: FiniteKeyBounds


def _rates(
    link: LinkParameters, eta: float, s: Arr, n_x: float, eps: Arr | float, eps_cor: float
) -> tuple[Arr, Arr, dict[str, Arr]]:
    """(ℓ, N, bounds) for a batch of settings rows at fixed ε_sec."""
    st, n_pulses = _model(link, eta, s, n_x)
    out = _bounds(st, eps_sec=eps, eps_cor=eps_cor, f_ec=link.f_ec)
    return out["key_length"], n_pulses, out


def _eps_for(security: FiniteKeySecurity, ell: Arr) -> Arr:
    if security.eps_sec is not None:
        return np.full_like(ell, security.eps_sec)
    return np.minimum(security.kappa * np.maximum(ell, 1.0), 0.5)


def _self_consistent(
    link: LinkParameters,
    eta: float,
    s: Arr,
    n_x: float,
    security: FiniteKeySecurity,
    *,
    iterations: int = 60,
) -> tuple[Arr, Arr, Arr, dict[str, Arr]]:
    """ℓ with ε_sec = κ ℓ (the fixed point), or with the fixed ε_sec; batch over rows of s.

    ℓ(ε) increases with ε, so iterating ε ← κ ℓ(ε) from the upper bound ℓ = n_X
    decreases monotonically to the largest fixed point (a few iterations:
    ℓ depends on ε only through log(1/ε)). Returns (ℓ, N, ε, bounds).
    """
    eps = _eps_for(security, np.full(s.shape[:-1], n_x))
    for _ in range(iterations):
        ell, n_pulses, out = _rates(link, eta, s, n_x, eps, security.eps_cor)
        new = _eps_for(security, ell)
        if np.all(np.abs(np.log(new / eps)) < 1e-7):  # ℓ then moves by << 1 bit
            break
        eps = new
    return ell, n_pulses, eps, out


def _result(
    link: LinkParameters, distance_km: float, row: Arr, n_x: float, security: FiniteKeySecurity
) -> FiniteKeyResult:
    ell, n_pulses, eps, out = _self_consistent(link, _eta(link, distance_km), row, n_x, security)
    key_length = float(math.floor(float(ell)))
    q_x, mu1, mu2, mu3, p1, p2 = (float(v) for v in row)
    bounds = FiniteKeyBounds(**{k: float(v) for k, v in out.items()}, eps_sec=float(eps))
    return FiniteKeyResult(
        distance_km=float(distance_km),
        n_x=n_x,
        key_rate=key_length / float(n_pulses),
        key_length=key_length,
        n_pulses=float(n_pulses),
        settings=DecoySettings(q_x=q_x, mu1=mu1, mu2=mu2, mu3=mu3, p_mu1=p1, p_mu2=p2),
        bounds=bounds,
    )


def finite_key_rate(
    link: LinkParameters,
    distance_km: float,
    settings: DecoySettings,
    *,
    n_x: float,
    security: FiniteKeySecurity | None = None,
) -> FiniteKeyResult:
    """Finite-key rate ⌊ℓ⌋/N at given protocol parameters (Lim et al. 2014, Eqs. (1)-(5), Sec. IV).

    Args:
        link: Device and link parameters.
        distance_km: Fibre length in km (>= 0).
        settings: Basis and intensity choices.
        n_x: Block size n_X (> 0).
        security: ε_cor and ε_sec (default: Sec. IV, ε_sec = 1e-15 ℓ, ε_cor = 1e-15).

    Returns:
        The rate, ℓ, N and the intermediate bounds.
    """
    d = _check_distance(distance_km)
    n_x = _pos("n_x", n_x)
    return _result(link, d, _as_row(settings), n_x, security or FiniteKeySecurity())


# --- optimisation -----------------------------------------------------------------------

# Box coordinates z = (q_x, μ1 − μ2 − μ3, μ2 − μ3, p_μ1, p_μ2 / (1 − p_μ1)): every
# point of the box is a valid setting (μ1 > μ2 + μ3 > 2 μ3, p_μ3 > 0), and so is a
# small neighbourhood of the box, which the finite differences below may visit.
_Z_LO = np.array([0.005, 1e-3, 1e-4, 1e-3, 1e-3])
_Z_HI = np.array([0.9995, 1.5, 1.0, 0.999, 0.999])
_FD_STEP = 2e-5


def _from_z(z: Arr, mu3: float) -> Arr:
    mu2 = mu3 + z[..., 2]
    mu1 = mu2 + mu3 + z[..., 1]
    p1 = z[..., 3]
    return np.stack(
        [z[..., 0], mu1, mu2, np.full_like(mu2, mu3), p1, z[..., 4] * (1.0 - p1)], axis=-1
    )


def _to_z(row: Arr) -> Arr:
    qx, mu1, mu2, mu3, p1, p2 = row
    return np.clip(np.array([qx, mu1 - mu2 - mu3, mu2 - mu3, p1, p2 / (1.0 - p1)]), _Z_LO, _Z_HI)


def _stencil(n: int) -> Arr:
    """Offsets (in units of the step) for central-difference gradient and Hessian."""
    eye = np.eye(n)
    rows = [np.zeros(n)]
    rows += [eye[i] for i in range(n)] + [-eye[i] for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            rows += [eye[i] + eye[j], eye[i] - eye[j], -eye[i] + eye[j], -eye[i] - eye[j]]
    return np.array(rows)


_STENCIL = _stencil(5)
_LINE_STEPS = 0.5 ** np.arange(0, 12)


def _maximise(f: Callable[[Arr], Arr], z0: Arr, *, max_iter: int = 60) -> tuple[Arr, float]:
    """Projected Newton ascent on the box [_Z_LO, _Z_HI] with batched finite differences.

    Each iteration evaluates ``f`` once on the 51-point central-difference
    stencil (gradient and Hessian) and once on a batch of trial steps
    (damped Newton steps and projected-gradient steps), keeping the best.
    Variables at a bound whose gradient points outwards are held fixed.
    Pure numpy: a vectorised call costs about as much as a scalar one.
    """
    n = z0.size
    h = _FD_STEP
    z = np.clip(z0, _Z_LO, _Z_HI)
    fz = float(f(z[None, :])[0])
    width = _Z_HI - _Z_LO
    for _ in range(max_iter):
        vals = f(z + h * _STENCIL)
        f0 = vals[0]
        fp, fm = vals[1 : n + 1], vals[n + 1 : 2 * n + 1]
        g = (fp - fm) / (2 * h)
        hess = np.diag((fp - 2 * f0 + fm) / h**2)
        k = 2 * n + 1
        for i in range(n):
            for j in range(i + 1, n):
                pp, pm, mp, mm = vals[k : k + 4]
                hess[i, j] = hess[j, i] = (pp - pm - mp + mm) / (4 * h * h)
                k += 4
        at_lo = (z <= _Z_LO + 1e-12) & (g < 0)
        at_hi = (z >= _Z_HI - 1e-12) & (g > 0)
        free = ~(at_lo | at_hi)
        trials = []
        if free.any():
            gf = g[free]
            a = -hess[np.ix_(free, free)]
            w = np.linalg.eigvalsh(a)
            shift = max(0.0, -w[0]) + 1e-9 * max(abs(w[-1]), 1e-300)
            d = np.zeros(n)
            d[free] = np.linalg.solve(a + shift * np.eye(int(free.sum())), gf)
            trials += [z + t * d for t in _LINE_STEPS]
            gn = np.zeros(n)
            gn[free] = gf
            norm = float(np.max(np.abs(gn) / width))
            if norm > 0:
                trials += [z + t * 0.1 * gn / norm for t in _LINE_STEPS[::2]]
        if not trials:
            break
        cand = np.clip(np.array(trials), _Z_LO, _Z_HI)
        cv = f(cand)
        best = int(np.argmax(cv))
        gain = float(cv[best]) - fz
        if not gain > 1e-13 * max(abs(fz), 1e-300):
            break
        z, fz = cand[best], float(cv[best])
    return z, fz


def _halton(count: int, dim: int) -> Arr:
    """First ``count`` points (from index 1) of the Halton sequence in [0, 1)^dim."""
    primes = (2, 3, 5, 7, 11, 13)[:dim]
    out = np.zeros((count, dim))
    idx = np.arange(1, count + 1)
    for j, base in enumerate(primes):
        i = idx.copy()
        f = 1.0 / base
        while np.any(i > 0):
            out[:, j] += f * (i % base)
            i //= base
            f /= base
    return out


def _scan_candidates(count: int) -> Arr:
    """A deterministic low-discrepancy design over the box coordinates."""
    return _Z_LO + (_Z_HI - _Z_LO) * _halton(count, 5)


_CANDIDATES: dict[int, Arr] = {}


def _rate_function(
    link: LinkParameters, eta: float, n_x: float, eps: float, eps_cor: float, mu3: float
) -> Callable[[Arr], Arr]:
    """The optimisation objective for a batch of box coordinates, at fixed ε_sec."""

    def rate(z: Arr) -> Arr:
        ell, n_pulses, _ = _rates(link, eta, _from_z(z, mu3), n_x, eps, eps_cor)
        return _objective(ell, n_pulses, n_x)

    return rate


def _objective(ell: Arr, n_pulses: Arr, n_x: float) -> Arr:
    """ℓ/N where there is a key; ℓ (scaled down) where there is none.

    Maximising ℓ/N alone where ℓ < 0 drifts to settings with N → ∞ (a rate
    of −0); maximising ℓ instead climbs towards settings that give a key.
    Both branches are 0 at ℓ = 0, so the objective is continuous and every
    setting with a key beats every setting without one.
    """
    return np.where(ell > 0, ell / n_pulses, ell / (n_x * 1e6))


def _optimise(
    link: LinkParameters,
    eta: float,
    n_x: float,
    security: FiniteKeySecurity,
    mu3: float,
    z_start: Arr | None,
) -> Arr:
    """Best settings row: low-discrepancy scan, then Newton refinement of the best points."""
    m = 1023 if z_start is None else 127
    if m not in _CANDIDATES:
        _CANDIDATES[m] = _scan_candidates(m)
    cands = _CANDIDATES[m] if z_start is None else np.vstack([z_start[None, :], _CANDIDATES[m]])
    ell, n_pulses, eps_rows, _ = _self_consistent(
        link, eta, _from_z(cands, mu3), n_x, security, iterations=4
    )
    rates = _objective(ell, n_pulses, n_x)
    order = [int(i) for i in np.argsort(-rates)]
    picks = [0] if z_start is not None else []
    picks += [i for i in order[:2] if i not in picks]
    if z_start is not None and rates[picks[1]] <= rates[0]:
        picks = picks[:1]  # the scan found nothing better than the warm start
    best_z, best_r = cands[order[0]], -math.inf
    for i in picks[:2]:
        z = cands[i]
        # ε_sec = κ ℓ depends on the optimum itself: optimise at fixed ε, re-solve ε at the
        # optimum, repeat until ε settles (ℓ depends on ε only through log 1/ε). Where the
        # start has no key its own ε (= κ) is pessimistic and can hide the key, so start
        # from the optimistic ε = κ n_X (ℓ <= n_X) instead.
        eps = float(eps_rows[i]) if ell[i] > 1.0 else float(_eps_for(security, np.array(n_x)))
        for _ in range(6):
            z, _ = _maximise(_rate_function(link, eta, n_x, eps, security.eps_cor, mu3), z)
            ell_z, n_z, eps_z, _ = _self_consistent(
                link, eta, _from_z(z, mu3)[None, :], n_x, security
            )
            moved = abs(math.log(float(eps_z[0]) / eps)) > math.log(1.5)
            eps = float(eps_z[0])
            if not moved:
                break
        r = float(_objective(ell_z, n_z, n_x)[0])
        if r > best_r:
            best_z, best_r = z, r
    return _from_z(best_z, mu3)


def optimize_finite_key(
    link: LinkParameters,
    distance_km: float,
    *,
    n_x: float,
    security: FiniteKeySecurity | None = None,
    mu3: float = _MU3_DEFAULT,
    start: DecoySettings | None = None,
) -> FiniteKeyResult:
    """Maximise the finite-key rate over (q_x, μ1, μ2, p_μ1, p_μ2), as in Lim et al. Sec. IV.

    A deterministic Halton scan of the box coordinates
    (q_x, μ1 − μ2 − μ3, μ2 − μ3, p_μ1, p_μ2/(1 − p_μ1)) — 1023 points, or
    127 around a warm ``start`` — picks the starting points, which a
    projected Newton ascent with batched finite differences refines at
    fixed ε_sec; ε_sec = κ ℓ is then re-solved at the optimum and the
    refinement repeated until ε_sec moves by less than a factor of 1.5. A
    ``start`` (e.g. the optimum at a nearby distance) is always refined.
    Where no setting gives a key the search maximises ℓ itself (see
    ``_objective``), so it climbs towards settings that do.

    Args:
        link: Device and link parameters.
        distance_km: Fibre length in km (>= 0).
        n_x: Block size n_X (> 0).
        security: ε parameters (default: Sec. IV).
        mu3: The fixed second-decoy intensity (2e-4 in Sec. IV).
        start: Warm start.

    Returns:
        The optimal result (``key_rate`` <= 0 if no key is possible).
    """
    d = _check_distance(distance_km)
    n_x = _pos("n_x", n_x)
    if not (math.isfinite(mu3) and 0 <= mu3 < 0.1):
        raise ConfigError(f"mu3 must be in [0, 0.1), got {mu3!r}")
    security = security or FiniteKeySecurity()
    z0 = None
    if start is not None:
        row = _as_row(start)
        row[3] = mu3
        z0 = _to_z(row)
    best = _optimise(link, _eta(link, d), n_x, security, mu3, z0)
    return _result(link, d, best, n_x, security)


def finite_key_curve(
    link: LinkParameters,
    distances_km: Sequence[float] | NDArray[np.float64],
    *,
    n_x: float,
    security: FiniteKeySecurity | None = None,
    mu3: float = _MU3_DEFAULT,
    stop_at_zero: bool = True,
) -> list[FiniteKeyResult | None]:
    """Optimised finite-key rates along a distance curve, warm-starting each point.

    Distances are processed in increasing order, each optimisation also
    starting from the optimum at the previous distance. The optimal rate
    cannot grow with distance (more loss, same noise), so with
    ``stop_at_zero`` the distances beyond the first one without key are not
    optimised and come back as None.

    Args:
        link: Device and link parameters.
        distances_km: Fibre lengths in km (>= 0), any order.
        n_x: Block size n_X (> 0).
        security: ε parameters (default: Sec. IV).
        mu3: The fixed second-decoy intensity.
        stop_at_zero: Skip distances past the first non-positive rate.

    Returns:
        One result per distance in input order (None where skipped).
    """
    d = [_check_distance(x) for x in np.atleast_1d(np.asarray(distances_km, dtype=np.float64))]
    n_x = _pos("n_x", n_x)
    security = security or FiniteKeySecurity()
    out: list[FiniteKeyResult | None] = [None] * len(d)
    start: DecoySettings | None = None
    for i in sorted(range(len(d)), key=lambda i: d[i]):
        res = optimize_finite_key(link, d[i], n_x=n_x, security=security, mu3=mu3, start=start)
        out[i] = res
        if res.key_rate > 0:
            start = res.settings
        elif stop_at_zero:
            break
    return out
