"""Simulated decoy-BB84 runs as points on a key-rate plot, with error bars.

``qkd keyrate --simulate N`` runs, at a few distances, a real decoy-BB84 run of
``N`` pulses over the link (:func:`~qkd_circuits.runner.run_config` with a
:class:`~qkd_circuits.optics.link.LinkModel`: weak coherent pulses of signal μ,
decoy ν and the vacuum, chosen with probabilities
:data:`~qkd_circuits.optics.source.DEFAULT_INTENSITY_PROBABILITIES`, both bases
with probability 1/2, the whole Z basis disclosed to estimate the phase error
and the X basis the key), and plots the emitted secret bits per pulse ℓ/N.

Two figures come with each point:

* an error bar, ±1 standard deviation of ℓ/N from re-evaluating the run's own
  decoy analysis on counts redrawn around the observed ones
  (:func:`key_rate_spread`);
* the expected rate of the same protocol at the same settings
  (:func:`expected_key_rate`): the run's analysis
  (:class:`~qkd_circuits.postprocessing.photon_analysis.DecoyAnalysis`, Lim et
  al. 2014) on the expected counts of the Lim et al. Sec. IV fibre model
  (:func:`~qkd_circuits.analysis.finite_decoy.expected_counts`), the analytic
  value the simulated points should scatter around.

Afterpulsing is not simulated (:class:`~qkd_circuits.optics.link.LinkModel`
refuses ``p_afterpulse > 0``), so :func:`check_simulation` refuses such a link.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.analysis.entropy import clipped_binary_entropy
from qkd_circuits.analysis.finite_decoy import DecoySettings, expected_counts
from qkd_circuits.analysis.link import LinkParameters
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.optics.link import MAX_DISTANCE_KM, LinkModel
from qkd_circuits.optics.source import DEFAULT_INTENSITY_PROBABILITIES, Source
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.postprocessing.key_length import Statement
from qkd_circuits.postprocessing.photon_analysis import DECOY_CLASS_NAMES, DecoyAnalysis
from qkd_circuits.postprocessing.pipeline import PostprocessingConfig
from qkd_circuits.postprocessing.verification import verification_tag_bits

if TYPE_CHECKING:  # the runner imports qiskit: only when a point is simulated
    from qkd_circuits.runner import RunConfig

__all__ = [
    "DEFAULT_REDRAWS",
    "MAX_DETECTIONS",
    "MAX_POINTS",
    "MAX_PULSES",
    "MIN_PULSES",
    "SIMULATION_Q_X",
    "SimulatedPoint",
    "SimulatedSeries",
    "SimulationSettings",
    "check_link",
    "check_simulation",
    "choose_distances",
    "expected_curve",
    "expected_key_rate",
    "format_count",
    "key_rate_spread",
    "simulate_point",
]

MIN_PULSES = 10**6
"""Fewest pulses per simulated point (fewer never give a decoy key)."""
MAX_PULSES = 10**12
"""Most pulses per simulated point (what is drawn scales with the detections, not the
pulses; :data:`MAX_DETECTIONS` bounds those)."""
MAX_DETECTIONS = 3 * 10**7
"""Most expected detections per simulated point: one block of a link run
(``runner.DEFAULT_LINK_BLOCK_DETECTIONS``, ~2 GiB, ~20 s)."""
MAX_POINTS = 20
"""Most simulated distances."""
DEFAULT_REDRAWS = 30
"""Redraws of the counts behind each error bar."""
SIMULATION_Q_X = 0.5
"""Probability of the X basis in a simulated run: both bases equally likely."""

_Z_CLASSES = DECOY_CLASS_NAMES[:3]
_X_CLASSES = DECOY_CLASS_NAMES[3:]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationSettings:
    """What every simulated point runs.

    Attributes:
        pulses: Pulses N per point, in [:data:`MIN_PULSES`, :data:`MAX_PULSES`].
        mu: Signal intensity μ (> ν).
        nu: Decoy intensity ν (> 0); the third intensity is the vacuum.
        eps_sec: Secrecy ε of each run.
        eps_cor: Correctness ε of each run.
        seed: Root seed: each point's run and redraws are seeded from it.
        redraws: Redraws of the counts per error bar (>= 2).
    """

    pulses: int
    mu: float
    nu: float
    eps_sec: float = 1e-10
    eps_cor: float = 1e-15
    seed: int = 0
    redraws: int = DEFAULT_REDRAWS

    def __post_init__(self) -> None:
        n = self.pulses
        if isinstance(n, bool) or not isinstance(n, int) or not MIN_PULSES <= n <= MAX_PULSES:
            raise ConfigError(
                f"--simulate takes the pulses per point, an integer in "
                f"[{format_count(MIN_PULSES)}, {format_count(MAX_PULSES)}], got {n!r}"
            )
        if not (math.isfinite(self.nu) and self.nu > 0):
            raise ConfigError(f"simulated decoy intensity nu must be > 0, got {self.nu!r}")
        if not (math.isfinite(self.mu) and self.mu > self.nu):
            raise ConfigError(
                f"simulated signal intensity mu must be > the decoy nu = {self.nu:g} "
                f"(mu1 > mu2 + mu3, Lim et al. 2014), got {self.mu!r}"
            )
        if not isinstance(self.redraws, int) or self.redraws < 2:
            raise ConfigError(f"redraws must be an integer >= 2, got {self.redraws!r}")
        PostprocessingConfig(eps_sec=self.eps_sec, eps_cor=self.eps_cor)  # checks the ε's

    @property
    def postprocessing(self) -> PostprocessingConfig:
        """The runs' post-processing: the defaults with these ε's."""
        return PostprocessingConfig(eps_sec=self.eps_sec, eps_cor=self.eps_cor)

    @property
    def decoy_settings(self) -> DecoySettings:
        """The simulated protocol as Lim et al.'s parameters (q_x = 1/2, μ3 = 0)."""
        p1, p2, _ = DEFAULT_INTENSITY_PROBABILITIES
        return DecoySettings(
            q_x=SIMULATION_Q_X, mu1=self.mu, mu2=self.nu, mu3=0.0, p_mu1=p1, p_mu2=p2
        )

    def link(self, parameters: LinkParameters, distance_km: float) -> LinkModel:
        """The simulated link at ``distance_km`` (signal μ, decoy ν, vacuum)."""
        return LinkModel(
            distance_km=float(distance_km),
            parameters=parameters,
            source=Source(kind="wcp", mu=self.mu),
            decoys=(self.nu,),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form: pulses, intensities, probabilities, q_x, ε's, seed, redraws."""
        s = self.decoy_settings
        return {
            "pulses": self.pulses,
            "q_x": s.q_x, "mu1": s.mu1, "mu2": s.mu2, "mu3": s.mu3,
            "p_mu1": s.p_mu1, "p_mu2": s.p_mu2, "p_mu3": s.p_mu3,
            "eps_sec": self.eps_sec, "eps_cor": self.eps_cor,
            "seed": self.seed, "redraws": self.redraws,
        }  # fmt: skip

    def describe(self) -> str:
        """One line saying exactly what each point simulates."""
        p = ", ".join(f"{x:g}" for x in DEFAULT_INTENSITY_PROBABILITIES)
        return (
            f"decoy BB84, {format_count(self.pulses)} pulses per point: mu={self.mu:g}, "
            f"nu={self.nu:g}, vacuum with p=({p}), q_x={SIMULATION_Q_X:g}, "
            f"eps_sec={self.eps_sec:g}, eps_cor={self.eps_cor:g}, seed {self.seed}; "
            f"+-1 SD from {self.redraws} redraws"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedPoint:
    """One simulated run.

    Attributes:
        distance_km: Fibre length in km.
        key_rate: Emitted secret bits per pulse, ℓ/N (0 when the run aborted).
        key_rate_sd: One standard deviation of ℓ/N (:func:`key_rate_spread`); None
            when the run stopped before its key length (nothing to redraw).
        expected_key_rate: The same protocol's rate on expected counts
            (:func:`expected_key_rate`, error correction at the link's f_EC).
        reconciliation_efficiency: The run's error correction (Cascade) leakage over
            n h(e), e the actual error rate (None when not reached).
        expected_key_rate_run_ec: :func:`expected_key_rate` with the run's
            ``reconciliation_efficiency`` as f_EC: the expectation of the points
            themselves (None when not reached).
        final_key_bits: ℓ.
        pulses: N.
        seed: The run's seed.
        aborted: The run emitted no key.
        abort_reason: Why (None when not aborted).
    """

    distance_km: float
    key_rate: float
    key_rate_sd: float | None
    expected_key_rate: float
    reconciliation_efficiency: float | None
    expected_key_rate_run_ec: float | None
    final_key_bits: int
    pulses: int
    seed: int
    aborted: bool
    abort_reason: str | None = None

    def to_dict(self, label: str, settings: SimulationSettings) -> dict[str, Any]:
        """JSON row (``analysis`` = ``label``, e.g. ``"simulated:1e9"``)."""
        return {
            "distance_km": self.distance_km,
            "analysis": label,
            "key_rate": self.key_rate,
            "key_rate_sd": self.key_rate_sd,
            "expected_key_rate": self.expected_key_rate,
            "reconciliation_efficiency": self.reconciliation_efficiency,
            "expected_key_rate_run_ec": self.expected_key_rate_run_ec,
            "final_key_bits": self.final_key_bits,
            "pulses": self.pulses,
            "seed": self.seed,
            "aborted": self.aborted,
            "abort_reason": self.abort_reason,
            "mu": settings.mu,
            "settings": settings.to_dict(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedSeries:
    """The simulated points of a plot and the expected curve of their settings.

    Attributes:
        settings: What every point ran.
        points: The runs, by distance.
        expected: ``(distance, expected_key_rate)`` (:func:`expected_curve`).
        f_ec: The error-correction efficiency of ``expected``: the runs' own (their
            median Cascade efficiency), so the curve is the points' expectation.
    """

    settings: SimulationSettings
    points: tuple[SimulatedPoint, ...]
    expected: tuple[tuple[float, float], ...] = ()
    f_ec: float = 1.0

    @property
    def label(self) -> str:
        """The points' name in tables and JSON, e.g. ``"simulated:1e9"``."""
        return f"simulated:{format_count(self.settings.pulses)}"

    def legend(self) -> str:
        """The points' legend: exactly what was simulated."""
        s = self.settings
        p = ", ".join(f"{x:g}" for x in DEFAULT_INTENSITY_PROBABILITIES)
        return (
            f"simulated decoy BB84, {format_count(s.pulses)} pulses/point (±1 SD)\n"
            f"μ={s.mu:g}, ν={s.nu:g}, vacuum; p=({p}); q_x={SIMULATION_Q_X:g}; "
            f"ε_sec={s.eps_sec:g}"
        )

    def expected_legend(self) -> str:
        """The expected curve's legend."""
        return (
            "Lim et al. 2014 at the simulated settings\n"
            f"(expected counts, {format_count(self.settings.pulses)} pulses, "
            f"f_EC={self.f_ec:.3g}, the runs' Cascade)"
        )


def expected_curve(
    parameters: LinkParameters,
    distances_km: Sequence[float] | NDArray[np.float64],
    settings: SimulationSettings,
    *,
    f_ec: float | None = None,
) -> list[tuple[float, float]]:
    """``(distance, expected_key_rate)`` along ``distances_km`` (sorted, duplicates
    dropped), up to and including the first distance past the key's reach (the rate
    does not grow with distance, so the rest would be 0); error correction at ``f_ec``
    (None: the link's)."""
    out: list[tuple[float, float]] = []
    for d in sorted({float(x) for x in distances_km}):
        rate = expected_key_rate(parameters, d, settings, f_ec=f_ec)
        out.append((d, rate))
        if rate <= 0 and any(r > 0 for _, r in out):
            break
    return out


def choose_distances(
    parameters: LinkParameters,
    curve: Sequence[tuple[float, float]],
    settings: SimulationSettings,
    count: int,
) -> list[float]:
    """Up to ``count`` distances of ``curve`` (:func:`expected_curve`), evenly spaced
    (by index) over those where the expected key is positive and a run of
    ``settings.pulses`` stays within :data:`MAX_DETECTIONS` (short distances may not).

    Raises:
        ConfigError: no such distance, saying how many pulses would give a key.
    """
    keyed = [d for d, r in curve if r > 0]
    fits = [
        d
        for d in keyed
        if settings.link(parameters, d).expected_detections(settings.pulses) <= MAX_DETECTIONS
    ]
    n_text = format_count(settings.pulses)
    if not keyed:
        d0 = curve[0][0] if curve else 0.0
        enough = pulses_for_a_key(parameters, d0, settings, above=settings.pulses)
        hint = (
            f"no number of pulses up to {format_count(MAX_PULSES)} gives one at {d0:g} km"
            if enough is None
            else f"about {format_count(enough)} pulses give one at {d0:g} km"
        )
        raise ConfigError(
            f"--simulate {n_text}: the expected key of {n_text} pulses (mu={settings.mu:g}, "
            f"nu={settings.nu:g}, vacuum) is 0 at every plotted distance; {hint}"
        )
    if not fits:
        raise ConfigError(
            f"--simulate {n_text}: at every plotted distance with a key a run would draw "
            f"more than {format_count(MAX_DETECTIONS)} detections; use fewer pulses or "
            "longer distances"
        )
    picks = np.unique(np.round(np.linspace(0, len(fits) - 1, min(count, len(fits)))))
    return [fits[int(i)] for i in picks]


def pulses_for_a_key(
    parameters: LinkParameters, distance_km: float, settings: SimulationSettings, *, above: int
) -> int | None:
    """The smallest power of ten of pulses, more than ``above`` and in [:data:`MIN_PULSES`,
    :data:`MAX_PULSES`], whose expected key (:func:`expected_key_rate` at ``settings``
    with that many pulses) over ``distance_km`` is positive; None if there is none."""
    for k in range(round(math.log10(MIN_PULSES)), round(math.log10(MAX_PULSES)) + 1):
        if (
            10**k > above
            and expected_key_rate(parameters, distance_km, replace(settings, pulses=10**k)) > 0
        ):
            return 10**k
    return None


def check_link(parameters: LinkParameters) -> None:
    """Refuse a link with afterpulsing (not simulated), naming the fix.

    Raises:
        ConfigError: ``p_afterpulse > 0``.
    """
    if parameters.p_afterpulse > 0:
        raise ConfigError(
            f"--simulate: link {parameters.name!r} has p_afterpulse = "
            f"{parameters.p_afterpulse:g}, and afterpulsing is not simulated; use "
            f"--set p_afterpulse=0, or a params file with preset = "
            f'"{parameters.name}" and p_afterpulse = 0'
        )


def check_simulation(
    parameters: LinkParameters, distances_km: Sequence[float], settings: SimulationSettings
) -> list[RunConfig]:
    """The runs of the points, built and checked before any of them runs.

    Raises:
        ConfigError: afterpulsing on the link, no or too many distances, a distance
            out of range, or a point whose expected detections exceed
            :data:`MAX_DETECTIONS` (or the memory).
    """
    check_link(parameters)
    if not 1 <= len(distances_km) <= MAX_POINTS:
        raise ConfigError(f"--simulate needs 1 to {MAX_POINTS} distances, got {len(distances_km)}")
    from qkd_circuits.runner import RunConfig, check_fits_in_memory

    configs = []
    for i, d in enumerate(distances_km):
        if not (math.isfinite(d) and 0.0 <= d <= MAX_DISTANCE_KM):
            raise ConfigError(
                f"simulated distances must be in [0, {MAX_DISTANCE_KM:g}] km, got {d!r}"
            )
        link = settings.link(parameters, d)
        expected = link.expected_detections(settings.pulses)
        if expected > MAX_DETECTIONS:
            raise ConfigError(
                f"--simulate {format_count(settings.pulses)}: at {d:g} km a run would draw "
                f"about {expected:.3g} detections, more than {format_count(MAX_DETECTIONS)} "
                f"per point (memory, ~20 s); use fewer pulses (at most "
                f"{format_count(math.floor(settings.pulses * MAX_DETECTIONS / expected))} "
                "there) or longer distances"
            )
        config = RunConfig(
            protocol="decoy-bb84",
            qubits=settings.pulses,
            link=link,
            seed=_point_seed(settings.seed, i),
            postprocessing=settings.postprocessing,
            block_qubits=settings.pulses,  # one block: its estimation is the run's
        )
        check_fits_in_memory(*config.memory_exchanges())
        configs.append(config)
    return configs


def format_count(n: float) -> str:
    """A count the way the options take it: ``1e9``, ``2.5e8``, ``123456``."""
    if n < 1e6:
        return f"{n:g}"
    mantissa, exponent = f"{n:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _point_seed(root: int, index: int) -> int:
    """Seed of point ``index``'s run, from the root seed (its redraws use the next one)."""
    ss = np.random.SeedSequence([int(root), int(index)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def simulate_point(config: RunConfig, settings: SimulationSettings) -> SimulatedPoint:
    """Run one point (a config from :func:`check_simulation`) and its error bar."""
    from qkd_circuits.runner import run_config

    assert config.link is not None and config.seed is not None
    report = run_config(config)
    pp = config.postprocessing
    analysis = DecoyAnalysis(
        intensities=settings.decoy_settings.intensities,
        probabilities=settings.decoy_settings.probabilities,
        pulses=settings.pulses,
    )
    sd = None
    if report.estimation is not None and report.key_length is not None:
        terms = report.key_length["terms"]
        sd = key_rate_spread(
            report.estimation,
            analysis=analysis,
            leaked_ec=float(terms["leak_ec"]),
            verification_bits=int(terms["verification_leak"]),
            eps_sec=pp.eps_sec,
            eps_cor=pp.eps_cor,
            qber_tolerance=pp.qber_threshold,
            statement=pp.key_length,
            sample_fraction=pp.sample_fraction,
            redraws=settings.redraws,
            rng=np.random.default_rng(np.random.SeedSequence([config.seed, 1])),
        )
    d = config.link.distance_km
    efficiency = None
    if report.reconciliation is not None:
        efficiency = float(report.reconciliation["efficiency"])
    parameters = config.link.parameters
    return SimulatedPoint(
        distance_km=float(d),
        key_rate=report.final_key_bits / settings.pulses,
        key_rate_sd=sd,
        expected_key_rate=expected_key_rate(parameters, d, settings),
        reconciliation_efficiency=efficiency,
        expected_key_rate_run_ec=None
        if efficiency is None or not (math.isfinite(efficiency) and efficiency > 0)
        else expected_key_rate(parameters, d, settings, f_ec=efficiency),
        final_key_bits=int(report.final_key_bits),
        pulses=settings.pulses,
        seed=config.seed,
        aborted=bool(report.aborted),
        abort_reason=report.abort_reason,
    )


def key_rate_spread(
    estimation: Mapping[str, Mapping[str, Any]],
    *,
    analysis: DecoyAnalysis,
    leaked_ec: float,
    verification_bits: int,
    eps_sec: float,
    eps_cor: float,
    qber_tolerance: float,
    statement: Statement,
    sample_fraction: float,
    redraws: int = DEFAULT_REDRAWS,
    rng: np.random.Generator,
) -> float:
    """Standard deviation of a decoy run's key rate ℓ/N, by redrawing its counts.

    Method (a parametric bootstrap of the run's own analysis): ``redraws`` times,
    each class of the run's ``estimation`` (``"Z@mu1"`` ... ``"X@mu3"``, each with
    ``sifted_bits``, ``sample_bits``, ``sample_errors``) is redrawn around what was
    observed — the sifted count ``n' ~ Poisson(n)``; the Z classes are disclosed
    whole (sample = sifted) with ``e' ~ Binomial(n', e/n)`` errors; an X class
    discloses ``k' = ceil(sample_fraction · n')`` bits with ``e' ~ Binomial(k',
    e/k)`` errors — and ``analysis.key_length`` (Lim et al. 2014 as the run applies
    it) gives ℓ' on those samples. The error-correction leakage follows the X key
    bits at the run's observed reconciliation cost per bit (``leaked_ec · n'_key /
    n_key``); the verification tag is fixed. A redraw without a key (ℓ' <= 0, or
    :class:`~qkd_circuits.errors.ProtocolAbort`) counts as ℓ' = 0. Returns the
    sample standard deviation (ddof = 1) of ℓ'/N, N = ``analysis.pulses``.

    The function is pure: the same ``rng`` state gives the same value.

    Raises:
        ConfigError: ``estimation`` lacks a class or a count.
    """
    try:
        obs = {c: {k: int(estimation[c][k]) for k in _COUNT_FIELDS} for c in DECOY_CLASS_NAMES}
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            f"estimation must give {', '.join(_COUNT_FIELDS)} for each of "
            f"{', '.join(DECOY_CLASS_NAMES)}, got {sorted(estimation)}"
        ) from None
    if redraws < 2:
        raise ConfigError(f"redraws must be >= 2, got {redraws!r}")
    key_obs = sum(obs[c]["sifted_bits"] - obs[c]["sample_bits"] for c in _X_CLASSES)
    rates = np.zeros(redraws)
    for r in range(redraws):
        samples: dict[str, BasisSample] = {}
        for c in DECOY_CLASS_NAMES:
            n, k, e = (obs[c][f] for f in _COUNT_FIELDS)
            n2 = int(rng.poisson(n))
            k2 = n2 if c in _Z_CLASSES else min(n2, math.ceil(sample_fraction * n2))
            e2 = int(rng.binomial(k2, e / k)) if k else 0
            samples[c] = BasisSample(basis=c, sifted_bits=n2, sample_bits=k2, sample_errors=e2)
        key_new = sum(samples[c].key_bits for c in _X_CLASSES)
        leak = leaked_ec * key_new / key_obs if key_obs else leaked_ec
        try:
            length = analysis.key_length(
                samples,
                leaked_ec=leak,
                verification_bits=verification_bits,
                eps_sec=eps_sec,
                eps_cor=eps_cor,
                qber_tolerance=qber_tolerance,
                statement=statement,
            ).length
        except ProtocolAbort:
            length = 0
        rates[r] = length / analysis.pulses
    return float(np.std(rates, ddof=1))


_COUNT_FIELDS = ("sifted_bits", "sample_bits", "sample_errors")


def expected_key_rate(
    parameters: LinkParameters,
    distance_km: float,
    settings: SimulationSettings,
    *,
    f_ec: float | None = None,
) -> float:
    """The simulated protocol's key rate ℓ/N on *expected* counts (0: no key).

    The expected per-intensity detections and errors of N pulses in each basis are
    those of Lim et al.'s Sec. IV fibre model
    (:func:`~qkd_circuits.analysis.finite_decoy.expected_counts` at q_x = 1/2,
    (μ, ν, 0), p = (0.7, 0.2, 0.1)), rounded to whole bits; the run's analysis
    (:class:`DecoyAnalysis` with the run's ε's, the whole Z basis disclosed, an X
    sample of ``ceil(sample_fraction · n)`` per class) gives ℓ, with error
    correction leaking ``f_EC · h(E_X)`` per X key bit (``f_EC`` = ``f_ec``, by
    default the link's; E_X the expected X error rate) and the verification tag of
    :func:`~qkd_circuits.postprocessing.verification.verification_tag_bits`. A run
    whose expected Z error rate exceeds the abort threshold gives 0.
    """
    decoy = settings.decoy_settings
    pp = settings.postprocessing
    _, pulses_per_bit = expected_counts(parameters, distance_km, decoy, n_x=1.0)
    counts, _ = expected_counts(
        parameters, distance_km, decoy, n_x=settings.pulses / pulses_per_bit
    )
    samples: dict[str, BasisSample] = {}
    for i, c in enumerate(_Z_CLASSES):
        n = round(counts.n_z[i])
        samples[c] = BasisSample(
            basis=c, sifted_bits=n, sample_bits=n, sample_errors=min(n, round(counts.m_z[i]))
        )
    for i, c in enumerate(_X_CLASSES):
        n = round(counts.n_x[i])
        k = min(n, math.ceil(pp.sample_fraction * n))
        e = min(k, round(k * counts.m_x[i] / counts.n_x[i])) if counts.n_x[i] > 0 else 0
        samples[c] = BasisSample(basis=c, sifted_bits=n, sample_bits=k, sample_errors=e)
    z_bits = sum(counts.n_z)
    if z_bits <= 0 or sum(counts.m_z) / z_bits > pp.qber_threshold:
        return 0.0
    key_bits = sum(samples[c].key_bits for c in _X_CLASSES)
    if key_bits < 1:
        return 0.0
    e_x = sum(counts.m_x) / sum(counts.n_x)
    analysis = DecoyAnalysis(
        intensities=decoy.intensities, probabilities=decoy.probabilities, pulses=settings.pulses
    )
    try:
        length = analysis.key_length(
            samples,
            leaked_ec=(parameters.f_ec if f_ec is None else f_ec)
            * key_bits
            * clipped_binary_entropy(e_x),
            verification_bits=verification_tag_bits(key_bits, pp.eps_cor)[1],
            eps_sec=pp.eps_sec,
            eps_cor=pp.eps_cor,
            qber_tolerance=pp.qber_threshold,
            statement=pp.key_length,
        ).length
    except ProtocolAbort:
        return 0.0
    return length / settings.pulses
