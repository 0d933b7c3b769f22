"""Summary plots of a run (matplotlib, headless: no pyplot, no display needed)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qkd_circuits.errors import ConfigError
from qkd_circuits.outputs import PLOT_FORMATS, check_output_path, write_all
from qkd_circuits.report import RunReport


def run_summary_figure(report: RunReport, *, window: int = 1000, barcode_bits: int = 300) -> Figure:
    """A figure with the QBER by basis, the error rate along the sifted key, error
    positions, and where the bits went (qubits → sifted → key → final key).

    Args:
        report: A report from :func:`qkd_circuits.run` (with its sifted key attached).
        window: Width, in sifted bits, of the moving window of the error-rate trace
            (shrunk to a tenth of the sifted key for short runs).
        barcode_bits: How many leading sifted bits the error-position strip shows.
    """
    fig = Figure(figsize=(11, 6.6), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, 2, width_ratios=(1, 2), height_ratios=(4, 1, 2.2))
    ax_basis = fig.add_subplot(grid[:2, 0])
    ax_trace = fig.add_subplot(grid[0, 1])
    ax_code = fig.add_subplot(grid[1, 1])
    ax_bits = fig.add_subplot(grid[2, :])

    noise = ",".join(f"{k}={v:g}" for k, v in report.noise.items()) or "no noise"
    eve = report.eve["attack"]
    outcome = (
        f"aborted: {report.abort_reason}"
        if report.aborted
        else f"{report.final_key_bits:,}-bit key"
    )
    seeded = f" · seed {report.seed} (reproducible)" if report.reproducible else ""
    fig.suptitle(
        f"{protocol_title(report.protocol)} on {report.backend} · {report.qubits:,} qubits · "
        f"{noise} · eve {eve} · {outcome}{seeded}",
        fontsize=11,
    )

    names = list(report.qber_by_basis)
    actual = [_nan(report.qber_by_basis[b]) for b in names]
    actual.append(_nan(report.qber_actual))
    colours = [_COLOURS[i % 2] for i in range(len(names))] + [_COLOURS[2]]
    bars = ax_basis.bar([*names, "all"], [100 * v for v in actual], color=colours)
    ax_basis.bar_label(bars, fmt="%.2f%%", padding=2)
    bounds = (report.key_length or {}).get("phase_error_bound", {})
    bound = max(bounds.values(), default=np.nan)
    lines = [
        (report.qber, "k", "--", "estimate (samples)"),
        (bound, "k", ":", "phase-error bound (key length)"),
        (report.qber_threshold, "#c44e52", "-", "abort threshold"),
    ]
    for value, colour, style, label in lines:
        if value is not None and not np.isnan(value):
            ax_basis.axhline(100 * value, color=colour, ls=style, lw=1, label=label)
    top = np.nanmax([*actual, report.qber_threshold, bound if bound == bound else 0.0, 0.01])
    ax_basis.set_ylim(0, 1.3 * 100 * min(top, 0.5) + 0.5)
    ax_basis.set_ylabel("QBER (%)")
    ax_basis.set_title("Sifted-key error rate by basis (actual)", fontsize=10)
    ax_basis.legend(fontsize=8, loc="upper right", framealpha=0.9)

    sifted = report.sifted
    w = 1
    if report.blocks is not None:
        _per_block(ax_trace, ax_code, report.blocks["per_block"])
        _where_the_bits_went(ax_bits, report)
        return fig
    if sifted is not None and sifted.size:
        errors = (sifted.alice != sifted.bob).astype(np.float64)
        w = max(1, min(window, errors.size // 10 or 1))
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
    ax_trace.set_ylabel(f"QBER (%), {w}-bit window")
    ax_trace.set_title("Error rate along the sifted key (actual)", fontsize=10)
    ax_code.set_yticks([])
    ax_code.set_xlabel(
        "sifted bit index (strip: error positions among the first bits, red = error)"
    )
    _where_the_bits_went(ax_bits, report)
    return fig


def _per_block(ax_qber: Axes, ax_key: Axes, blocks: list[dict[str, Any]]) -> None:
    """A streamed run: each block's QBER (actual and sampled) and its final key."""
    index = np.arange(1, len(blocks) + 1)
    actual = [100 * _nan(b["qber_actual"]) for b in blocks]
    sampled = [100 * _nan(b["qber"]) for b in blocks]
    ax_qber.plot(index, actual, "o-", ms=3, lw=0.8, color=_COLOURS[0], label="actual")
    ax_qber.plot(index, sampled, "s", ms=3, color="k", label="estimate (samples)")
    top = np.nanmax([*actual, *sampled, 1.0])
    ax_qber.set_ylim(0, 1.3 * top)
    ax_qber.set_xlim(0.5, len(blocks) + 0.5)
    ax_qber.set_ylabel("QBER (%)")
    ax_qber.set_title(f"Error rate of each of the {len(blocks)} blocks", fontsize=10)
    ax_qber.legend(fontsize=8, loc="lower right", framealpha=0.9)
    keys = [b["final_key_bits"] for b in blocks]
    ax_key.bar(index, keys, width=0.8, color=_COLOURS[2])
    ax_key.set_xlim(0.5, len(blocks) + 0.5)
    ax_key.set_ylabel("key bits", fontsize=8)
    ax_key.set_xlabel("block (each distilled to its own finite-key secure key)")


def _where_the_bits_went(ax: Axes, report: RunReport) -> None:
    """Horizontal bars: qubits, sifted, disclosed in estimation, key bits, what the
    finite-key statement subtracts, and the final key (log scale)."""
    kl = report.key_length or {}
    terms = kl.get("terms", {})
    key_bits = sum(e["key_bits"] for e in (report.estimation or {}).values())
    leaked = report.leaked_bits.get("reconciliation", 0) + report.leaked_bits.get("verification", 0)
    rows = [
        ("qubits sent", report.qubits, _COLOURS[0]),
        ("sifted (bases agree)", report.sifted_bits, _COLOURS[0]),
        ("disclosed to estimate", report.sample_bits, "#c44e52"),
        ("key bits after sampling", key_bits, _COLOURS[1]),
        ("leaked: parities + tag", leaked, "#c44e52"),
        ("Eve's bound: n h(λ) + PA", max(0.0, key_bits - terms.get("privacy_term", key_bits))
         + terms.get("pa_penalty", 0.0), "#c44e52"),
        ("final secret key", report.final_key_bits, _COLOURS[2]),
    ]  # fmt: skip
    labels = [r[0] for r in rows][::-1]
    values = [max(float(r[1]), 0.0) for r in rows][::-1]
    colours = [r[2] for r in rows][::-1]
    bars = ax.barh(labels, [max(v, 0.8) for v in values], color=colours)
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(0.8, 3 * max([*values, 10.0]))
    ax.set_xlabel("bits (log scale)")
    ax.set_title("Where the bits went", fontsize=10)
    ax.tick_params(axis="y", labelsize=8)


_COLOURS = ["#4c72b0", "#55a868", "#8172b2"]


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def protocol_title(name: str) -> str:
    """The display name of a registered protocol (the name itself if unknown)."""
    from qkd_circuits.protocols.registry import PROTOCOLS, get_protocol

    return get_protocol(name).info.title if name in PROTOCOLS else name


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
