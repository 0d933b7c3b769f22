"""Log-scale plot of key rate per pulse vs distance (headless: a bare matplotlib Figure)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from qkd_circuits.analysis.bounds import plob_bound
from qkd_circuits.analysis.curves import KeyRatePoint
from qkd_circuits.analysis.link import LinkParameters
from qkd_circuits.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from qkd_circuits.analysis.simulated_points import SimulatedSeries

__all__ = ["key_rate_figure", "plot_key_rates"]


def plot_key_rates(
    points: Sequence[KeyRatePoint],
    path: str | os.PathLike[str],
    *,
    link: LinkParameters,
    title: str | None = None,
    simulated: SimulatedSeries | None = None,
) -> None:
    """Save :func:`key_rate_figure` to ``path``; the format follows the file suffix
    (png, pdf, svg, ...).

    Raises:
        ConfigError: if there is nothing to plot or the file cannot be written.
    """
    fig = key_rate_figure(points, link=link, title=title, simulated=simulated)
    try:
        fig.savefig(os.fspath(path), dpi=120)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot write plot {os.fspath(path)!r}: {exc}") from exc


def key_rate_figure(
    points: Sequence[KeyRatePoint],
    *,
    link: LinkParameters,
    title: str | None = None,
    simulated: SimulatedSeries | None = None,
) -> Figure:
    """A log-scale plot of key rate per pulse vs distance, one line per analysis.

    The PLOB bound of the fibre (−log2(1 − 10^(−αL/10)), Pirandola et al.
    2017) is always drawn, dashed, over the same distances. Zero rates (no
    key) are left out of the log plot. Uses ``matplotlib.figure.Figure`` directly,
    so no display or pyplot state is involved (a notebook shows the returned figure).

    Args:
        points: Curve points (any order, several analyses).
        link: The link, for the PLOB line and the default title.
        title: Plot title (default names the link).
        simulated: Simulated runs to overlay as points with ±1 SD error bars, with
            the expected curve of their settings (dotted); a run without key is
            drawn as an open triangle on the lower edge.

    Raises:
        ConfigError: if there is nothing to plot.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not points:
        raise ConfigError("no key-rate points to plot")
    labels: list[str] = []
    for p in points:
        if p.analysis not in labels:
            labels.append(p.analysis)
    fig = Figure(figsize=(7.0, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    all_d = np.unique([p.distance_km for p in points])
    positive: list[float] = []
    for label in labels:
        pts = sorted((p for p in points if p.analysis == label), key=lambda p: p.distance_km)
        x = np.array([p.distance_km for p in pts])
        y = np.array([p.key_rate if 0 < p.key_rate < np.inf else np.nan for p in pts])
        positive += [float(v) for v in y if np.isfinite(v)]
        if label == "plob":
            ax.plot(x, y, color="black", linestyle="--", label="PLOB bound")
        else:
            ax.plot(x, y, label=label)
    if "plob" not in labels:
        x = np.linspace(float(all_d.min()), float(all_d.max()), 200)
        y = np.asarray(plob_bound(link.channel_transmittance(x)), dtype=np.float64)
        y = np.where((y > 0) & np.isfinite(y), y, np.nan)
        positive += [float(v) for v in y if np.isfinite(v)]
        ax.plot(x, y, color="black", linestyle="--", label="PLOB bound")
    if simulated is not None:
        positive += [r for _, r in simulated.expected if r > 0]
        positive += [p.key_rate for p in simulated.points if p.key_rate > 0]
    ax.set_yscale("log")
    if positive:
        lo = max(min(positive), 1e-14)
        ax.set_ylim(lo / 2.0, max(positive) * 2.0)
    if simulated is not None:
        _overlay(ax, simulated)
    ax.set_xlabel("fibre length (km)")
    ax.set_ylabel("secret key rate (bits per pulse)")
    ax.set_title(
        title or f"decoy-state BB84, link '{link.name}' (α = {link.alpha_db_per_km} dB/km)"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    return fig


_SIM_COLOUR = "#8b008b"  # dark magenta: not in matplotlib's default colour cycle


def _overlay(ax: Axes, simulated: SimulatedSeries) -> None:
    """The simulated points (±1 SD bars, clipped at the lower edge) and their expected curve."""
    bottom = ax.get_ylim()[0]
    exp = [(d, r) for d, r in simulated.expected if r > 0]
    if exp:
        ax.plot(
            [d for d, _ in exp], [r for _, r in exp], color=_SIM_COLOUR, linestyle=":",
            linewidth=1.5, label=simulated.expected_legend(),
        )  # fmt: skip
    keyed = [p for p in simulated.points if p.key_rate > 0]
    if keyed:
        y = np.array([p.key_rate for p in keyed])
        sd = np.array([p.key_rate_sd or 0.0 for p in keyed])
        lower = np.minimum(sd, y - bottom * 1.0001)  # a bar below the axis stops at its edge
        ax.errorbar(
            [p.distance_km for p in keyed], y, yerr=np.vstack([lower, sd]), fmt="o",
            color=_SIM_COLOUR, markersize=5, capsize=4, elinewidth=1.5, zorder=5,
            label=simulated.legend(),
        )  # fmt: skip
    empty = [p for p in simulated.points if p.key_rate <= 0]
    if empty:
        ax.plot(
            [p.distance_km for p in empty], [bottom * 1.25] * len(empty), linestyle="none",
            marker="v", markersize=7, markerfacecolor="none", color=_SIM_COLOUR, zorder=5,
            label="simulated, no key" if keyed else f"{simulated.legend()}\n(no key)",
        )  # fmt: skip
