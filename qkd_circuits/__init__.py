"""qkd-circuits: quantum key distribution on real Qiskit circuits."""

__version__ = "0.1.0"
