"""Protocols: random choices, circuits, sifting rule and security analysis.

The BB84 names below are imported on first use (PEP 562), so importing
:mod:`qkd_circuits.protocols.registry` or :mod:`qkd_circuits.protocols.info`
does not import Qiskit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qkd_circuits.protocols.bb84 import (
        BB84Choices,
        ExchangeRecords,
        draw_choices,
        run_quantum_phase,
    )

_LAZY = ("BB84Choices", "ExchangeRecords", "draw_choices", "run_quantum_phase")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from qkd_circuits.protocols import bb84

        return getattr(bb84, name)
    raise AttributeError(f"module 'qkd_circuits.protocols' has no attribute {name!r}")


__all__ = ["BB84Choices", "ExchangeRecords", "draw_choices", "run_quantum_phase"]
