"""Information reconciliation: correct Bob's key to Alice's, counting what is disclosed.

Cascade (Brassard & Salvail, EUROCRYPT '93) with the variants of arXiv:1407.3257:
:func:`reconcile_cascade`, :data:`CASCADE_VARIANTS`. One-way LDPC syndrome decoding,
rate-adaptive (Elkouss et al., QIC 11, 226 (2011)) and blind (Martínez-Mateo et al.,
Sci. Rep. 3, 1576 (2013)): :func:`reconcile_ldpc`, with the code family of
:mod:`~qkd_circuits.postprocessing.reconciliation.ldpc_codes`.
"""

from importlib import import_module
from typing import Any

from qkd_circuits.postprocessing.reconciliation.cascade import (
    MAX_PASSES,
    QBER_FLOOR,
    CascadeStats,
    ReconciliationResult,
    reconcile_cascade,
)
from qkd_circuits.postprocessing.reconciliation.cascade_variants import (
    CASCADE_VARIANTS,
    CascadeVariant,
    get_cascade_variant,
)

_LAZY = {
    "LdpcReconciliationResult": "ldpc",
    "LdpcStats": "ldpc",
    "reconcile_ldpc": "ldpc",
    "reconciliation_frames": "ldpc",
    "build_code_cache": "ldpc_codes",
    "list_code_cache": "ldpc_codes",
}
"""LDPC names, imported on first use: their modules load scipy.sparse (~0.2 s), which
``qkd --help`` and a Cascade run do not need (the CLI imports this package)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CASCADE_VARIANTS",
    "MAX_PASSES",
    "QBER_FLOOR",
    "CascadeStats",
    "CascadeVariant",
    "LdpcReconciliationResult",
    "LdpcStats",
    "ReconciliationResult",
    "build_code_cache",
    "get_cascade_variant",
    "list_code_cache",
    "reconcile_cascade",
    "reconcile_ldpc",
    "reconciliation_frames",
]
