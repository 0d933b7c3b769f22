"""The table of Cascade variants: pass counts, block sizes and options.

Every variant is one row of Martínez-Mateo, Pacher, Peev, Ciurana, Martin,
"Demystifying the information reconciliation protocol Cascade",
arXiv:1407.3257 (Quantum Inf. Comput. 15, 453 (2015)), cited below as
"the paper". The names are those of the paper's variants, lower case:

============  ====================  ===========================================================
name          paper's label         passes and top-level block sizes ``k_i`` (``Q`` = estimate)
============  ====================  ===========================================================
original      Cascade orig.         4 passes; ``k_1 = ⌈0.73/Q⌉``, ``k_i = 2 k_{i-1}``
                                    (Brassard & Salvail, EUROCRYPT '93, LNCS 765, p. 410)
biconf        Cascade mod. (1)      2 passes, ``k_1 = ⌈0.92/Q⌉`` (= 4 ln2 / 3Q), ``k_2 = 3 k_1``
                                    (= 4 ln2 / Q), then BICONF passes (parity of a random half
                                    of the key, BINARY on it when odd, cascading back) until 10
                                    consecutive BICONF passes find no error (Sugimoto &
                                    Yamazaki, IEICE Trans. Fundamentals E83-A, 1987 (2000))
yanetal       Cascade opt. (2)      10 passes; ``k_1 = ⌈0.8/Q⌉``, ``k_2 = 5 k_1``,
                                    ``k_i = ⌈n/2⌉`` for ``i ≥ 3`` (Yan et al., 2008)
option3       Cascade opt. (3)      16 passes; ``k_1 = ⌈1/Q⌉``, ``k_2 = 2 k_1``, ``k_i = ⌈n/2⌉``
option4       Cascade opt. (4)      as option3, plus sub-block reuse
option7       Cascade opt. (7)      14 passes; ``k_1 = 2^⌈log2(1/Q)⌉``, ``k_2 = 4 k_1``,
                                    ``k_i = ⌈n/2⌉``; sub-block reuse
option8       Cascade opt. (8)      14 passes; with ``α = log2(1/Q) − 1/2``: ``k_1 = 2^⌈α⌉``,
                                    ``k_2 = 2^⌈(α+12)/2⌉``, ``k_3 = 4096``, ``k_i = ⌈n/2⌉``;
                                    sub-block reuse
============  ====================  ===========================================================

"Sub-block reuse" (the paper's option (4), after Yan et al.): when a corrected bit
makes *any* sub-block whose parity Alice disclosed earlier odd, that sub-block is
bisected directly. Without it only top-level blocks are re-examined (descending
through sub-blocks whose parities are already known, which costs nothing).

The paper's options (5) (deterministic shuffles) and (6) (singleton removal) are
not implemented. Every block size is clamped to ``[1, n]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from qkd_circuits.errors import ConfigError

BlockRule = Callable[[float, int, int], float]
"""``rule(q, n, i)``: block size of pass ``i`` (1-based) for QBER estimate ``q``, length ``n``."""


def _half(n: int) -> int:
    return (n + 1) // 2


def _original(q: float, n: int, i: int) -> float:
    return math.ceil(0.73 / q) * 2 ** (i - 1)


def _biconf(q: float, n: int, i: int) -> float:
    return math.ceil(0.92 / q) * 3 ** (i - 1)


def _yanetal(q: float, n: int, i: int) -> float:
    k1 = math.ceil(0.8 / q)
    return k1 if i == 1 else 5 * k1 if i == 2 else _half(n)


def _option3(q: float, n: int, i: int) -> float:
    k1 = math.ceil(1.0 / q)
    return k1 if i == 1 else 2 * k1 if i == 2 else _half(n)


def _option7(q: float, n: int, i: int) -> float:
    k1 = 2 ** math.ceil(math.log2(1.0 / q))
    return k1 if i == 1 else 4 * k1 if i == 2 else _half(n)


def _option8(q: float, n: int, i: int) -> float:
    alpha = math.log2(1.0 / q) - 0.5
    if i == 1:
        return 2 ** math.ceil(alpha)
    if i == 2:
        return 2 ** math.ceil((alpha + 12.0) / 2.0)
    return 4096 if i == 3 else _half(n)


@dataclass(frozen=True, slots=True, kw_only=True)
class CascadeVariant:
    """One Cascade variant of arXiv:1407.3257 (see the module docstring for the table).

    Attributes:
        name: Lower-case identifier, e.g. ``"original"``.
        label: The variant's name in the paper, e.g. ``"Cascade orig."``.
        passes: Number of regular Cascade passes.
        sub_block_reuse: Bisect any odd sub-block with a known parity (paper's option (4)).
        biconf_streak: After the regular passes, run BICONF passes until this many
            consecutive ones find no error; 0 means no BICONF stage.
        rule: Block-size rule, see :data:`BlockRule`.
    """

    name: str
    label: str
    passes: int
    sub_block_reuse: bool
    biconf_streak: int = 0
    rule: BlockRule = field(repr=False, compare=False)

    def block_size(self, qber: float, n: int, pass_number: int) -> int:
        """Top-level block size of regular pass ``pass_number`` (1-based), clamped to ``[1, n]``.

        Args:
            qber: Estimated QBER used for the block size (already floored, > 0).
            n: Key length.
            pass_number: 1 for the first pass.
        """
        if not 0.0 < qber < 0.5:
            raise ConfigError(f"qber for the block size must be in (0, 0.5), got {qber!r}")
        if pass_number < 1:
            raise ConfigError(f"pass_number must be >= 1, got {pass_number!r}")
        k = self.rule(qber, n, pass_number)
        return int(min(max(k, 1), max(n, 1)))


_VARIANTS: dict[str, CascadeVariant] = {
    v.name: v
    for v in (
        CascadeVariant(name="original", label="Cascade orig.", passes=4,
                       sub_block_reuse=False, rule=_original),
        CascadeVariant(name="biconf", label="Cascade mod. (1)", passes=2,
                       sub_block_reuse=False, biconf_streak=10, rule=_biconf),
        CascadeVariant(name="yanetal", label="Cascade opt. (2)", passes=10,
                       sub_block_reuse=False, rule=_yanetal),
        CascadeVariant(name="option3", label="Cascade opt. (3)", passes=16,
                       sub_block_reuse=False, rule=_option3),
        CascadeVariant(name="option4", label="Cascade opt. (4)", passes=16,
                       sub_block_reuse=True, rule=_option3),
        CascadeVariant(name="option7", label="Cascade opt. (7)", passes=14,
                       sub_block_reuse=True, rule=_option7),
        CascadeVariant(name="option8", label="Cascade opt. (8)", passes=14,
                       sub_block_reuse=True, rule=_option8),
    )
}  # fmt: skip

CASCADE_VARIANTS: tuple[str, ...] = tuple(_VARIANTS)
"""Names accepted by ``reconcile_cascade(..., variant=...)``, in the paper's order."""


def get_cascade_variant(name: str) -> CascadeVariant:
    """Return the variant called ``name``.

    Raises:
        ConfigError: if ``name`` is not one of :data:`CASCADE_VARIANTS`.
    """
    try:
        return _VARIANTS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown Cascade variant {name!r}; expected one of {', '.join(CASCADE_VARIANTS)}"
        ) from None
