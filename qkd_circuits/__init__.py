"""qkd-circuits: quantum key distribution on real Qiskit circuits.

``run``, ``RunConfig`` and ``RunReport`` are imported on first use (PEP 562), so
``import qkd_circuits.analysis`` does not pay for importing Qiskit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qkd_circuits.errors import BackendError, ConfigError, ProtocolAbort, QKDError

if TYPE_CHECKING:
    from qkd_circuits.report import RunReport
    from qkd_circuits.runner import RunConfig, run

__version__ = "0.1.0"

_LAZY = {
    "run": "qkd_circuits.runner",
    "RunConfig": "qkd_circuits.runner",
    "RunReport": "qkd_circuits.report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qkd_circuits' has no attribute {name!r}")


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
