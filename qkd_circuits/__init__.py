"""qkd-circuits: quantum key distribution on real Qiskit circuits."""

from qkd_circuits.errors import BackendError, ConfigError, ProtocolAbort, QKDError
from qkd_circuits.report import RunReport
from qkd_circuits.runner import RunConfig, run

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "ConfigError",
    "ProtocolAbort",
    "QKDError",
    "RunConfig",
    "RunReport",
    "__version__",
    "run",
]
