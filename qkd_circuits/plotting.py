"""Summary plots of a run (matplotlib, headless: no pyplot, no display needed)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qkd_circuits.errors import ConfigError
from qkd_circuits.outputs import PLOT_FORMATS, check_output_path, write_all
from qkd_circuits.report import RunReport


def run_summary_figure(report: RunReport, *, window: int = 1000, barcode_bits: int = 300) -> Figure:
    """A figure with the QBER by basis, the error rate along the sifted key and error positions.

    Args:
        report: A report from :func:`qkd_circuits.run` (with its sifted key attached).
        window: Width, in sifted bits, of the moving window of the error-rate trace.
        barcode_bits: How many leading sifted bits the error-position strip shows.
    """
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 2, width_ratios=(1, 2), height_ratios=(4, 1))
    ax_basis = fig.add_subplot(grid[:, 0])
    ax_trace = fig.add_subplot(grid[0, 1])
    ax_code = fig.add_subplot(grid[1, 1])

    actual = [report.qber_by_basis.get("Z", np.nan), report.qber_by_basis.get("X", np.nan)]
    actual.append(report.qber_actual)
    bars = ax_basis.bar(["Z", "X", "all"], [100 * v for v in actual], color=_COLOURS)
    ax_basis.bar_label(bars, fmt="%.2f%%", padding=2)
    bounds = (report.key_length or {}).get("phase_error_bound", {})
    lines = [
        (report.qber, "k", "--", "estimate (sample)"),
        (max(bounds.values(), default=np.nan), "k", ":", "phase-error bound (key length)"),
    ]
    lines.append((report.qber_threshold, "#c44e52", "-", "abort threshold"))
    for value, colour, style, label in lines:
        if not np.isnan(value):
            ax_basis.axhline(100 * value, color=colour, ls=style, lw=1, label=label)
    ax_basis.set_ylim(0, 1.35 * 100 * max(np.nanmax([*actual, report.qber_threshold]), 0.01))
    ax_basis.set_ylabel("QBER (%)")
    ax_basis.set_title("Sifted-key error rate by basis (actual)")
    ax_basis.legend(fontsize=8, loc="upper right", framealpha=0.9)

    sifted = report.sifted
    if sifted is not None and sifted.size:
        errors = (sifted.alice != sifted.bob).astype(np.float64)
        w = max(1, min(window, errors.size))
        trace = np.convolve(errors, np.ones(w) / w, mode="valid")
        ax_trace.plot(np.arange(trace.size) + w // 2, 100 * trace, lw=0.8, color=_COLOURS[0])
        ax_trace.set_xlim(0, errors.size)
        ax_trace.set_ylim(0, max(100 * float(trace.max(initial=0.0)), 1.0) * 1.15)
        m = min(barcode_bits, sifted.size)
        ax_code.imshow(
            errors[None, :m],
            aspect="auto",
            cmap="Reds",
            vmin=0,
            vmax=1,
            extent=(0, m, 0, 1),
            interpolation="nearest",
        )
    ax_trace.set_ylabel(f"QBER (%), {window}-bit window")
    outcome = f"aborted: {report.abort_reason}" if report.aborted else "key distilled"
    eve = report.eve["kind"]
    title = f"{report.protocol.upper()} · {report.qubits:,} qubits · eve {eve} · {outcome}"
    ax_trace.set_title(title)
    ax_code.set_yticks([])
    ax_code.set_xlabel(
        "sifted bit index (strip: error positions among the first bits, red = error)"
    )
    return fig


_COLOURS = ["#4c72b0", "#55a868", "#8172b2"]


def render_run_summary(report: RunReport, fmt: str = "png") -> bytes:
    """:func:`run_summary_figure` as the bytes of a ``png``, ``pdf`` or ``svg`` file."""
    if fmt not in PLOT_FORMATS:
        raise ConfigError(f"plot format must be one of {', '.join(PLOT_FORMATS)}, got {fmt!r}")
    buffer = io.BytesIO()
    run_summary_figure(report).savefig(buffer, dpi=110, format=fmt)
    return buffer.getvalue()


def save_run_summary(report: RunReport, path: str | Path) -> Path:
    """Write :func:`run_summary_figure` to ``path`` in the format its extension names
    (``.png``, ``.pdf``, ``.svg``) and return the path."""
    out = check_output_path(str(path), option="plot path", formats=PLOT_FORMATS)
    write_all([(out, render_run_summary(report, out.suffix.lower()[1:]), 0o644)])
    return out
