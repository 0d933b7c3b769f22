"""What Eve learns against the errors she causes, swept over an attack's strength:
what ``qkd attack-curve`` runs.

Each point is a whole run (:func:`~qkd_circuits.runner.run_config`) at one strength of
the attack (the fraction of exchanges attacked, or the cloner's disturbance D), and
records the actual QBER, ``I_AB = 1 − h(QBER)`` and Eve's ``I_AE`` measured from her
own outcomes (:mod:`~qkd_circuits.attacks.knowledge`). The plot draws them against
the QBER with the closed forms of :mod:`~qkd_circuits.attacks.theory` and marks where
``I_AE`` reaches ``I_AB``: past it no one-way key exists (Csiszár & Körner 1978).
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.attacks.theory import AttackTheory, attack_theory, shannon_information
from qkd_circuits.errors import ConfigError
from qkd_circuits.outputs import PLOT_FORMATS
from qkd_circuits.runner import RunConfig, run_config
from qkd_circuits.specs import check_int

ATTACKS = ("cloner", "intercept-resend")
"""The attacks ``qkd attack-curve`` sweeps."""

DEFAULT_POINTS = 11

MIN_CURVE_QUBITS = 1000
"""Fewest exchanges per point: ~500 sifted bits, so every point has a QBER (a handful of
qubits can sift none) and I_AE's standard error is ~0.03, still a readable point."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CurvePoint:
    """One run of the sweep.

    Attributes:
        strength: The fraction attacked (intercept-resend) or D (cloner).
        eve: The run's ``--eve`` spelling.
        qber: Actual QBER of the sifted key.
        mutual_information_ab: ``1 − h(qber)``, bits per sifted bit.
        mutual_information_ae: Eve's, measured, bits per sifted bit.
        eve_error_rate: Eve's error on the sifted bits she attacked (None: none).
        final_key_bits: The run's key (0: aborted).
        theory_qber, theory_ae: The closed forms at this strength on a noiseless channel
            (None without them; with ``--noise`` the measured points move off them).
    """

    strength: float
    eve: str
    qber: float
    mutual_information_ab: float
    mutual_information_ae: float
    eve_error_rate: float | None
    final_key_bits: int
    theory_qber: float | None
    theory_ae: float | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON row (``--json``)."""
        return dataclasses.asdict(self)


def attack_spec(attack: str, strength: float) -> EveSpec:
    """The spec of ``attack`` (``"cloner"``, ``"intercept-resend"`` or
    ``"intercept-resend:basis=B"``) at ``strength``."""
    kind, _, options = attack.partition(":")
    if kind not in ATTACKS:
        raise ConfigError(f"--attack must be cloner or intercept-resend[:basis=B], got {attack!r}")
    if kind == "cloner":
        if options:
            raise ConfigError(f"--attack {attack!r}: the cloner takes no options here")
        return EveSpec(kind="cloner", disturbance=float(strength))
    spec = EveSpec.parse("intercept-resend" + (f":{options}" if options else ""))
    return dataclasses.replace(spec, fraction=float(strength))


def strengths(attack: str, points: int) -> list[float]:
    """``points`` evenly spaced strengths over the attack's range: D in [0, 0.5] for
    the cloner, the fraction in [0, 1] for intercept-resend."""
    points = check_int(points, name="points", minimum=2)
    high = 0.5 if attack.startswith("cloner") else 1.0
    return [float(s) for s in np.linspace(0.0, high, points)]


def sweep_attack(
    base: RunConfig,
    attack: str,
    *,
    points: int = DEFAULT_POINTS,
    on_point: Callable[[int, int], None] | None = None,
) -> list[CurvePoint]:
    """Run ``base`` at each of :func:`strengths` of ``attack``; every configuration is
    checked before the first run.

    Args:
        base: The run (protocol, qubits, noise, seed, backend); its ``eve`` is replaced.
        attack: ``"cloner"``, ``"intercept-resend"`` or ``"intercept-resend:basis=B"``.
        points: Number of strengths (>= 2).
        on_point: Called with (index, count) as each run starts.

    Raises:
        ConfigError: a bad ``attack`` or ``points``, or ``base.qubits`` under
            :data:`MIN_CURVE_QUBITS`.
    """
    if base.qubits < MIN_CURVE_QUBITS:
        raise ConfigError(
            f"attack-curve needs at least {MIN_CURVE_QUBITS:,} qubits per point for a "
            f"measured QBER and I_AE, got {base.qubits:,}"
        )
    grid = strengths(attack, points)
    configs = [dataclasses.replace(base, eve=attack_spec(attack, s)) for s in grid]
    theory = theory_for(attack, base.protocol)
    out = []
    for i, (strength, config) in enumerate(zip(grid, configs, strict=True)):
        if on_point is not None:
            on_point(i, len(configs))
        report = run_config(config)
        eve = report.eve
        qber = float(report.qber_actual)
        out.append(
            CurvePoint(
                strength=strength,
                eve=str(config.eve),
                qber=qber,
                mutual_information_ab=shannon_information(qber),
                mutual_information_ae=float(eve["mutual_information_ae"] or 0.0),
                eve_error_rate=eve["eve_error_rate"],
                final_key_bits=report.final_key_bits,
                theory_qber=None if theory is None else theory.qber(strength),
                theory_ae=None if theory is None else theory.information(strength),
            )
        )
    return out


def theory_for(attack: str, protocol: str) -> AttackTheory | None:
    """The closed forms of ``attack`` on ``protocol`` (None where there are none)."""
    kind, _, options = attack.partition(":")
    basis = options.removeprefix("basis=") if options else "random"
    return attack_theory(kind, protocol, basis=basis)


def curve_table(points: Sequence[CurvePoint]) -> str:
    """The aligned text table ``qkd attack-curve`` prints."""
    header = (
        f"{'strength':>8} {'QBER':>8} {'I_AB':>7} {'I_AE':>7} {'theory':>7} "
        f"{'Eve err':>8} {'key bits':>10}"
    )
    lines = [header, "-" * len(header)]
    for p in points:
        theory = "n/a" if p.theory_ae is None else f"{p.theory_ae:.4f}"
        err = "n/a" if p.eve_error_rate is None else f"{p.eve_error_rate:.2%}"
        lines.append(
            f"{p.strength:>8.3f} {p.qber:>8.3%} {p.mutual_information_ab:>7.4f} "
            f"{p.mutual_information_ae:>7.4f} {theory:>7} {err:>8} {p.final_key_bits:>10,}"
        )
    return "\n".join(lines)


def curve_json(points: Sequence[CurvePoint], base: RunConfig, attack: str) -> str:
    """The ``--json`` document: the sweep's settings, the crossing, one row per point."""
    theory = theory_for(attack, base.protocol)
    crossing = None if theory is None else theory.crossing()
    doc = {
        "protocol": base.protocol,
        "attack": attack,
        "qubits": base.qubits,
        "noise": base.noise.to_dict(),
        "seed": base.seed,
        "theory_crossing": None
        if crossing is None or theory is None
        else {"strength": crossing, "qber": theory.qber(crossing)},
        "points": [p.to_dict() for p in points],
    }
    return json.dumps(doc, indent=2, allow_nan=False)


def curve_figure(points: Sequence[CurvePoint], *, attack: str, protocol: str, title: str) -> Figure:
    """I_AB and I_AE against the QBER: measured points, closed-form curves, and the
    crossing of the theory curves (the Csiszár–Körner one-way limit)."""
    fig = Figure(figsize=(7.5, 5.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    qber = [100 * p.qber for p in points]
    ax.plot(qber, [p.mutual_information_ab for p in points], "o", color="#4c72b0",
            label="I(A;B) measured")  # fmt: skip
    ax.plot(qber, [p.mutual_information_ae for p in points], "s", color="#c44e52",
            label="I(A;E) measured, from Eve's outcomes")  # fmt: skip
    theory = theory_for(attack, protocol)
    if theory is not None:
        low, high = theory.strength_range
        grid = np.linspace(low, high, 201)
        q = np.array([theory.qber(s) for s in grid])
        ax.plot(100 * q, [shannon_information(x) for x in q], "-", color="#4c72b0",
                label="I(A;B) = 1 − h(Q)")  # fmt: skip
        ax.plot(100 * q, [theory.information(s) for s in grid], "-", color="#c44e52",
                label=_theory_label(attack))  # fmt: skip
        crossing = theory.crossing()
        if crossing is not None:
            qc = 100 * theory.qber(crossing)
            ax.axvline(qc, color="#555555", linestyle="--", linewidth=1)
            ax.annotate(
                f"I(A;E) = I(A;B) at QBER {qc:.1f}%\n(no one-way key beyond)",
                xy=(qc, shannon_information(theory.qber(crossing))),
                xytext=(8, 30), textcoords="offset points", fontsize=8,
            )  # fmt: skip
    else:
        ax.text(0.02, 0.02, f"no closed form for {attack} on {protocol}",
                transform=ax.transAxes, fontsize=8)  # fmt: skip
    ax.set_xlabel("QBER (%)")
    ax.set_ylabel("bits per sifted bit")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    ax.set_title(title, fontsize=10)
    return fig


def _theory_label(attack: str) -> str:
    if attack == "cloner":
        return "I(A;E) = 1 − h(1/2 + √(D(1−D))), Fuchs et al. 1997"
    return f"I(A;E), {attack} closed form"


def render_curve(
    points: Sequence[CurvePoint], *, attack: str, protocol: str, title: str, fmt: str = "png"
) -> bytes:
    """:func:`curve_figure` as the bytes of a ``png``, ``pdf`` or ``svg`` file."""
    if fmt not in PLOT_FORMATS:
        raise ConfigError(f"plot format must be one of {', '.join(PLOT_FORMATS)}, got {fmt!r}")
    buffer = io.BytesIO()
    curve_figure(points, attack=attack, protocol=protocol, title=title).savefig(
        buffer, dpi=110, format=fmt
    )
    return buffer.getvalue()


__all__ = [
    "ATTACKS",
    "CurvePoint",
    "attack_spec",
    "curve_figure",
    "curve_json",
    "curve_table",
    "render_curve",
    "strengths",
    "sweep_attack",
    "theory_for",
]
