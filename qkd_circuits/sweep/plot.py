"""The standard figures of a sweep table (matplotlib, headless: no pyplot).

For each axis, one figure: the QBER and the secret key rate (a keyrate sweep: the key
rate) against that axis, one line per combination of the other axes. Each marker is
the mean over the configuration's repeats, its bar the standard error of that mean,
s/sqrt(n) with s the sample standard deviation (no bar with one repeat).
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qkd_circuits.errors import ConfigError
from qkd_circuits.outputs import PLOT_FORMATS

MAX_LEGEND = 16
"""Most lines a figure labels in its legend (more are drawn, unlabelled)."""

_AXIS_LABELS = {
    "distance": "fibre length (km)",
    "distances": "fibre length (km)",
    "qubits": "exchanges per run (qubits or pulses)",
    "block": "exchanges per block",
    "noise": "channel noise (--noise)",
    "eve": "attack (--eve)",
    "protocol": "protocol",
    "reconciliation": "reconciliation method",
    "sample_fraction": "fraction of the sifted key disclosed",
    "qber_threshold": "QBER threshold (fraction)",
    "eps_sec": "secrecy parameter ε_sec",
    "eps_cor": "correctness parameter ε_cor",
    "key_length": "finite-key statement",
    "mu": "signal mean photon number μ (photons per pulse)",
    "nu": "decoy mean photon number ν (photons per pulse)",
    "source": "source (--source)",
    "decoy": "decoy intensities (photons per pulse)",
    "analysis": "key-rate analysis",
    "params": "link parameters",
    "link": "link parameters",
    "set": "link parameter override (--set)",
    "backend": "backend",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """One line of a figure: the means and standard errors at each x.

    Attributes:
        label: The other axes' values (empty with one axis).
        x: Positions, float64 (n,).
        mean: Means over the repeats, float64 (n,) (NaN: no value).
        stderr: Standard errors of the means, float64 (n,) (0 with one repeat).
        count: Values averaged at each x, int64 (n,).
    """

    label: str
    x: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    count: np.ndarray


def mean_and_stderr(values: Sequence[float | None]) -> tuple[float, float, int]:
    """Mean, standard error s/sqrt(n) (0 for n = 1) and n of the non-null finite values
    (NaN, 0, 0 when there are none)."""
    data = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = int(data.size)
    if n == 0:
        return math.nan, 0.0, 0
    stderr = float(data.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    return float(data.mean()), stderr, n


def axis_series(
    rows: Sequence[dict[str, Any]],
    axis: str,
    axes: Sequence[str],
    values: Sequence[Any],
    column: str,
) -> list[Series]:
    """The lines of ``column`` against ``axis``: one per combination of the other
    ``axes``, with x the axis values (numbers) or their positions in ``values``."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    others = [a for a in axes if a != axis]
    groups: dict[tuple[Any, ...], dict[Any, list[float | None]]] = {}
    for row in rows:
        key = tuple(_hashable(row[a]) for a in others)
        groups.setdefault(key, {}).setdefault(_hashable(row[axis]), []).append(row[column])
    series = []
    for key, by_x in groups.items():
        xs, means, errs, counts = [], [], [], []
        for position, value in enumerate(values):
            if _hashable(value) not in by_x:
                continue
            mean, err, n = mean_and_stderr(by_x[_hashable(value)])
            xs.append(float(value) if numeric else float(position))
            means.append(mean)
            errs.append(err)
            counts.append(n)
        label = ", ".join(f"{a}={_show(v)}" for a, v in zip(others, key, strict=True))
        series.append(
            Series(
                label=label,
                x=np.array(xs),
                mean=np.array(means),
                stderr=np.array(errs),
                count=np.array(counts, dtype=np.int64),
            )
        )
    return series


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ";".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def sweep_figure(table: Any, meta: dict[str, Any], axis: str) -> Figure:
    """The figure of one axis of a sweep table (``pyarrow.Table``) with its metadata."""
    spec = meta["spec"]
    axes = list(meta["axes"])
    if axis not in axes:
        raise ConfigError(f"{axis!r} is not an axis of this sweep (axes: {', '.join(axes)})")
    values = list(meta["axis_values"][axes.index(axis)])
    rows = table.to_pylist()
    command = spec["command"]
    repeats = int(spec["repeats"])
    if command == "run":
        per = {r["rate_per"] for r in rows} or {"qubit"}
        unit = "pulse" if per == {"pulse"} else "qubit" if per == {"qubit"} else "qubit or pulse"
        panels = [
            ("qber", "QBER estimate (%)", 100.0),
            ("secret_key_rate", f"secret key rate (bits per {unit})", 1.0),
        ]
    else:
        panels = [("key_rate", "secret key rate (bits per pulse)", 1.0)]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    fig = Figure(figsize=(8.5, 3.4 * len(panels) + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (column, ylabel, scale) in zip(grid, panels, strict=True):
        lines = axis_series(rows, axis, axes, values, column)
        if not numeric:
            lines = _dodged(lines)
        infinite = sum(1 for r in rows if r[column] is not None and math.isinf(r[column]))
        _draw(
            ax,
            lines,
            scale=scale,
            log_rate=column != "qber",
            infinite=infinite,
            linestyle="-" if numeric else ":",
        )
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    bottom = grid[-1]
    bottom.set_xlabel(_AXIS_LABELS.get(axis, axis))
    if numeric:
        positive = [float(v) for v in values if float(v) > 0]
        if len(positive) == len(values) and max(positive) / min(positive) > 100:
            bottom.set_xscale("log")
    else:
        bottom.set_xticks(range(len(values)), [_show(v) for v in values])
        bottom.set_xlim(-0.5, len(values) - 0.5)
        if max(len(_show(v)) for v in values) > 12:
            for label in bottom.get_xticklabels():
                label.set_rotation(20)
                label.set_horizontalalignment("right")
    stats = (
        f"mean ± standard error over {repeats} repeats"
        if repeats > 1
        else "one run per configuration"
    )
    seeded = f" · seed {spec['seed']} (reproducible)" if spec.get("seed") is not None else ""
    fig.suptitle(f"qkd {command} sweep: against {axis} ({stats}){seeded}", fontsize=11)
    return fig


def _dodged(lines: list[Series], width: float = 0.3) -> list[Series]:
    """The lines of a categorical axis shifted side by side within ``width`` of each
    category, so equal values (e.g. several rates of 0) stay visible."""
    if len(lines) < 2:
        return lines
    step = width / (len(lines) - 1)
    return [dataclasses.replace(s, x=s.x + (i * step - width / 2)) for i, s in enumerate(lines)]


def _draw(
    ax: Axes,
    lines: list[Series],
    *,
    scale: float,
    log_rate: bool,
    infinite: int,
    linestyle: str = "-",
) -> None:
    """Error-bar lines; a rate spanning over two decades is drawn on a log scale, where
    zero (no key) cannot appear; infinite values (the repeaterless bounds at 0 km) are
    never drawn. Both are counted in the legend."""
    finite = np.concatenate([s.mean[np.isfinite(s.mean)] for s in lines] or [np.array([])])
    positive = finite[finite > 0]
    log = bool(log_rate and positive.size and positive.max() / positive.min() > 100)
    zeros = 0
    for i, s in enumerate(lines):
        keep = np.isfinite(s.mean) & ((s.mean > 0) if log else True)
        zeros += int(np.count_nonzero(~keep & (s.count > 0)))
        ax.errorbar(
            s.x[keep],
            s.mean[keep] * scale,
            yerr=s.stderr[keep] * scale,
            marker="o",
            markersize=4,
            capsize=3,
            linewidth=1.2,
            linestyle=linestyle,
            label=(s.label or None) if i < MAX_LEGEND else None,
        )
    if log:
        ax.set_yscale("log")
    notes = []
    if zeros:
        notes.append(f"{zeros} point(s) with no key (rate 0): not drawn on the log scale")
    if infinite:
        notes.append(f"{infinite} infinite value(s) (a bound at 0 km): not drawn")
    if len(lines) > MAX_LEGEND:
        notes.append(f"... and {len(lines) - MAX_LEGEND} more lines, unlabelled")
    if any(s.label for s in lines[:MAX_LEGEND]) or notes:
        handles, labels = ax.get_legend_handles_labels()
        for note in notes:
            handles.append(ax.plot([], [], linestyle="none")[0])
            labels.append(note)
        ax.legend(handles, labels, fontsize=7, loc="best")


def render_sweep_figures(
    table: Any, meta: dict[str, Any], *, fmt: str = "png"
) -> list[tuple[str, bytes]]:
    """Every axis's figure as ``(file name, bytes)``: ``AXIS.FMT``.

    Raises:
        ConfigError: an unknown format or an empty table.
    """
    if fmt not in PLOT_FORMATS:
        raise ConfigError(f"plot format must be one of {', '.join(PLOT_FORMATS)}, got {fmt!r}")
    if table.num_rows == 0:
        raise ConfigError("the sweep table has no rows")
    out = []
    for axis in meta["axes"]:
        buffer = io.BytesIO()
        sweep_figure(table, meta, axis).savefig(buffer, dpi=110, format=fmt)
        out.append((f"{axis}.{fmt}", buffer.getvalue()))
    return out
