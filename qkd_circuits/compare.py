"""Every protocol on the same channel, side by side: what ``qkd compare`` runs.

Each protocol runs end to end (:func:`~qkd_circuits.runner.run_config`) with the
same number of qubits, the same noise, the same eavesdropper, backend and
post-processing parameters; a row records what a reader compares first.
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

from qkd_circuits.errors import ConfigError
from qkd_circuits.outputs import PLOT_FORMATS
from qkd_circuits.protocols.registry import CHANNEL_PROTOCOLS, check_protocol_list, get_protocol
from qkd_circuits.report import RunReport
from qkd_circuits.runner import RunConfig, run_config


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonRow:
    """One protocol's outcome on the shared channel.

    Attributes:
        protocol: Registered name.
        qubits: Exchanges run.
        sifted_bits: Length of the sifted key.
        qber_actual: Actual error rate of the sifted key (None when nothing was sifted).
        final_key_bits: Length of the emitted key (0 when aborted).
        secret_key_rate: Final key bits per exchange.
        threshold: The protocol's asymptotic one-way QBER threshold.
        aborted: True when no key was emitted.
        abort_reason: Why (None when not aborted).
    """

    protocol: str
    qubits: int
    sifted_bits: int
    qber_actual: float | None
    final_key_bits: int
    secret_key_rate: float
    threshold: float
    aborted: bool
    abort_reason: str | None

    @property
    def sifting_ratio(self) -> float:
        """Sifted bits per exchange."""
        return self.sifted_bits / self.qubits

    @classmethod
    def from_report(cls, report: RunReport) -> ComparisonRow:
        """The row of one run's report."""
        qber = report.qber_actual
        return cls(
            protocol=report.protocol,
            qubits=report.qubits,
            sifted_bits=report.sifted_bits,
            qber_actual=None if qber != qber else float(qber),
            final_key_bits=report.final_key_bits,
            secret_key_rate=report.secret_key_rate,
            threshold=get_protocol(report.protocol).info.threshold,
            aborted=report.aborted,
            abort_reason=report.abort_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON row (``--json``)."""
        return {
            "protocol": self.protocol,
            "sifted_bits": self.sifted_bits,
            "sifting_ratio": self.sifting_ratio,
            "qber_actual": self.qber_actual,
            "final_key_bits": self.final_key_bits,
            "secret_key_rate": self.secret_key_rate,
            "threshold": self.threshold,
            "aborted": self.aborted,
            "abort_reason": self.abort_reason,
        }


def compare_protocols(
    base: RunConfig,
    protocols: Sequence[str] = CHANNEL_PROTOCOLS,
    *,
    on_protocol: Callable[[str], None] | None = None,
) -> list[RunReport]:
    """Run ``base`` once per protocol (only ``protocol`` changes) and return the reports.

    Every configuration is checked before the first run starts, so a bad
    combination costs nothing.

    Args:
        base: The shared run configuration (qubits, noise, Eve, seed, backend,
            post-processing); its ``protocol`` is ignored.
        protocols: Registered names, in the order of the table.
        on_protocol: Called with each protocol's name as its run starts.
    """
    configs = [dataclasses.replace(base, protocol=name) for name in protocols]
    if not configs:
        raise ConfigError("no protocol to compare")
    reports = []
    for config in configs:
        if on_protocol is not None:
            on_protocol(config.protocol)
        reports.append(run_config(config))
    return reports


def comparison_table(rows: Sequence[ComparisonRow]) -> str:
    """The aligned text table ``qkd compare`` prints."""
    header = (
        f"{'protocol':<10} {'sifted':>9} {'ratio':>7} {'QBER':>8} {'key bits':>10} "
        f"{'rate/qubit':>11} {'threshold':>9}  result"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        qber = "n/a" if r.qber_actual is None else f"{r.qber_actual:.3%}"
        result = f"aborted ({r.abort_reason})" if r.aborted else "key"
        lines.append(
            f"{r.protocol:<10} {r.sifted_bits:>9,} {r.sifting_ratio:>7.3f} {qber:>8} "
            f"{r.final_key_bits:>10,} {r.secret_key_rate:>11.5f} {r.threshold:>9.2%}  {result}"
        )
    return "\n".join(lines)


def comparison_json(rows: Sequence[ComparisonRow], base: RunConfig) -> str:
    """The ``--json`` document: the shared channel and one row per protocol."""
    doc = {
        "qubits": base.qubits,
        "noise": base.noise.to_dict(),
        "eve": base.eve.to_dict(),
        "backend": base.backend,
        "seed": base.seed,
        "rows": [r.to_dict() for r in rows],
    }
    return json.dumps(doc, indent=2, allow_nan=False)


def comparison_figure(rows: Sequence[ComparisonRow], *, title: str) -> Figure:
    """Two bar panels: final key bits per qubit, and the QBER against each threshold."""
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax_rate, ax_qber = fig.subplots(1, 2)
    names = [r.protocol for r in rows]
    x = np.arange(len(rows))
    rates = [r.secret_key_rate for r in rows]
    colours = ["#c44e52" if r.aborted else "#4c72b0" for r in rows]
    bars = ax_rate.bar(x, rates, color=colours)
    labels = ["" if r.aborted else f"{r.secret_key_rate:.4f}" for r in rows]
    ax_rate.bar_label(bars, labels=labels, padding=2, fontsize=8)
    top = max([*rates, 1e-3]) * 1.25
    for i, r in enumerate(rows):  # an aborted run's bar has no height: mark it
        if r.aborted:
            ax_rate.text(i, 0.02 * top, "aborted\nno key", ha="center", va="bottom",
                         color="#c44e52", fontsize=8, fontweight="bold")  # fmt: skip
    ax_rate.set_ylim(0, top)
    ax_rate.set_ylabel("final key bits per qubit sent")
    ax_rate.set_title("Secret key rate", fontsize=10)
    qbers = [100 * (r.qber_actual or 0.0) for r in rows]
    ax_qber.bar(x - 0.2, qbers, width=0.4, color="#55a868", label="QBER (actual)")
    ax_qber.bar(
        x + 0.2, [100 * r.threshold for r in rows], width=0.4, color="#bbbbbb",
        label="asymptotic threshold",
    )  # fmt: skip
    ax_qber.set_ylim(0, max([*qbers, *[100 * r.threshold for r in rows]]) * 1.3)
    ax_qber.set_ylabel("%")
    ax_qber.set_title("Error rate and threshold", fontsize=10)
    ax_qber.legend(fontsize=8, loc="upper left")
    for ax in (ax_rate, ax_qber):
        ax.set_xticks(x, names, fontsize=9)
    fig.suptitle(title, fontsize=11)
    return fig


def render_comparison(rows: Sequence[ComparisonRow], *, title: str, fmt: str = "png") -> bytes:
    """:func:`comparison_figure` as the bytes of a ``png``, ``pdf`` or ``svg`` file."""
    if fmt not in PLOT_FORMATS:
        raise ConfigError(f"plot format must be one of {', '.join(PLOT_FORMATS)}, got {fmt!r}")
    buffer = io.BytesIO()
    comparison_figure(rows, title=title).savefig(buffer, dpi=110, format=fmt)
    return buffer.getvalue()


__all__ = [
    "ComparisonRow",
    "check_protocol_list",
    "compare_protocols",
    "comparison_figure",
    "comparison_json",
    "comparison_table",
    "render_comparison",
]
