"""Information reconciliation: correct Bob's key to Alice's, counting what is disclosed.

Cascade (Brassard & Salvail, EUROCRYPT '93) with the variants of arXiv:1407.3257:
:func:`reconcile_cascade`, :data:`CASCADE_VARIANTS`.
"""

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

__all__ = [
    "CASCADE_VARIANTS",
    "MAX_PASSES",
    "QBER_FLOOR",
    "CascadeStats",
    "CascadeVariant",
    "ReconciliationResult",
    "get_cascade_variant",
    "reconcile_cascade",
]
