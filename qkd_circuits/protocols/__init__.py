"""Protocols: random choices, circuits, sifting rule and security analysis."""

from qkd_circuits.protocols.bb84 import (
    BB84Choices,
    ExchangeRecords,
    draw_choices,
    run_quantum_phase,
)

__all__ = ["BB84Choices", "ExchangeRecords", "draw_choices", "run_quantum_phase"]
