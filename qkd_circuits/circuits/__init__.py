"""Per-protocol circuit builders."""

from qkd_circuits.circuits.bb84 import BB84Config, bb84_circuit

__all__ = ["BB84Config", "bb84_circuit"]
