"""Log-scale plot of key rate per pulse vs distance (headless: a bare matplotlib Figure)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from qkd_circuits.analysis.bounds import plob_bound
from qkd_circuits.analysis.curves import KeyRatePoint
from qkd_circuits.analysis.link import LinkParameters
from qkd_circuits.errors import ConfigError

__all__ = ["plot_key_rates"]


def plot_key_rates(
    points: Sequence[KeyRatePoint],
    path: str | os.PathLike[str],
    *,
    link: LinkParameters,
    title: str | None = None,
) -> None:
    """Save a log-scale plot of key rate per pulse vs distance, one line per analysis.

    The PLOB bound of the fibre (−log2(1 − 10^(−αL/10)), Pirandola et al.
    2017) is always drawn, dashed, over the same distances. Zero rates (no
    key) are left out of the log plot. The format follows the file suffix
    (png, pdf, svg, ...). Uses ``matplotlib.figure.Figure`` directly, so no
    display or pyplot state is involved.

    Args:
        points: Curve points (any order, several analyses).
        path: Output file.
        link: The link, for the PLOB line and the default title.
        title: Plot title (default names the link).

    Raises:
        ConfigError: if there is nothing to plot or the file cannot be written.
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
    ax.set_yscale("log")
    if positive:
        lo = max(min(positive), 1e-14)
        ax.set_ylim(lo / 2.0, max(positive) * 2.0)
    ax.set_xlabel("fibre length (km)")
    ax.set_ylabel("secret key rate (bits per pulse)")
    ax.set_title(
        title or f"decoy-state BB84, link '{link.name}' (α = {link.alpha_db_per_km} dB/km)"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    try:
        fig.savefig(os.fspath(path), dpi=120)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot write plot {os.fspath(path)!r}: {exc}") from exc
