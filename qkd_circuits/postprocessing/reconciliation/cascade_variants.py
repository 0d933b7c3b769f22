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

Confirmation streak (this package's addition, not the paper's)
--------------------------------------------------------------
The paper's variants leave errors in some frames: an even number of errors can
sit together in a block of every pass, so no parity shows them. Measured over
1,000 seeded frames per point (Q = 0.1–10 %, the estimate being Q or a binomial
sample estimate from n/9 bits), the frame error rate (FER) is up to 2–4 %
(``original``, n = 10^4, Q = 0.1 %; 34 % at n = 2,000, Q = 0.5 % with sample
estimates), 0.1–0.6 % (``biconf``, ``yanetal``) and ≲ 1e-3 (options 3–8).
:func:`~qkd_circuits.postprocessing.reconciliation.reconcile_cascade` therefore
ends every variant with BICONF passes (the parity of a random subset of the key,
each bit in it with probability 1/2, bisected and cascaded when odd, as in
``biconf``) until ``confirm_streak`` consecutive ones find no error. Each pass
misses remaining errors with probability 1/2 (measured: 0.50), so

    FER ≤ N · 2^-S,

with ``S`` the streak and ``N`` the expected number of times a streak starts
while errors remain (after the regular passes, and after each BICONF pass that
found one). After a BICONF pass found an error, or when the regular passes
corrected at least 4 times the errors the block-size QBER predicts, errors are
likely left and the streak is ``CONFIRM_AFTER_ERROR`` = 14 whatever the variant
(``cascade.py``). Before that, ``S`` = ``confirm_streak``, the smallest streak
with ``N_max · 2^-S ≲ 3·10^-5`` for the largest ``N`` measured at n = 10^4, in
parentheses at n = 2,000 (same grid) and at n = 10^5 (300 frames per point,
Q = 0.2, 1, 5 %, estimate Q):

============  ===================================  ==================
name          ``N_max``, n = 10^4 (2·10^3; 10^5)   ``confirm_streak``
============  ===================================  ==================
original      0.032 (0.50; 0)                      10
biconf        0.67 (0.92; 0.63)                    14 (paper: 10)
yanetal       0.004 (0.005; 0.003)                 7
option3/4     0 in 12,000 frames (0; 0)            3
option7/8     0.001 (0.002; 0.003)                 6
============  ===================================  ==================

Each clean BICONF pass discloses one parity: the streak costs ``S`` bits per
frame, ``S / (n h(Q))`` of efficiency, plus the bisections of the errors it
finds (measured at n = 10^4: +0.10–0.11 in f for ``original`` at Q = 0.1 %,
+0.02 at 0.5 %, ≤ +0.013 at Q ≥ 1 %; +0.03–0.07 for the others at 0.1 %,
≤ +0.01 at Q ≥ 1 %). A frame error loses the whole frame's key, so this is cheap
where the FER was high. ``reconcile_cascade(confirm=0)`` runs the paper's
variant unchanged.
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
        biconf_streak: The paper's BICONF stage: after the regular passes, run
            BICONF passes until this many consecutive ones find no error; 0 means
            none (every variant but ``biconf``).
        confirm_streak: This package's confirmation stage: the BICONF passes go on
            until ``max(biconf_streak, confirm_streak)`` consecutive ones find no
            error (the default of ``reconcile_cascade(confirm=None)``; see the
            module docstring).
        rule: Block-size rule, see :data:`BlockRule`.
    """

    name: str
    label: str
    passes: int
    sub_block_reuse: bool
    biconf_streak: int = 0
    confirm_streak: int = 0
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
                       sub_block_reuse=False, confirm_streak=10, rule=_original),
        CascadeVariant(name="biconf", label="Cascade mod. (1)", passes=2,
                       sub_block_reuse=False, biconf_streak=10, confirm_streak=14,
                       rule=_biconf),
        CascadeVariant(name="yanetal", label="Cascade opt. (2)", passes=10,
                       sub_block_reuse=False, confirm_streak=7, rule=_yanetal),
        CascadeVariant(name="option3", label="Cascade opt. (3)", passes=16,
                       sub_block_reuse=False, confirm_streak=3, rule=_option3),
        CascadeVariant(name="option4", label="Cascade opt. (4)", passes=16,
                       sub_block_reuse=True, confirm_streak=3, rule=_option3),
        CascadeVariant(name="option7", label="Cascade opt. (7)", passes=14,
                       sub_block_reuse=True, confirm_streak=6, rule=_option7),
        CascadeVariant(name="option8", label="Cascade opt. (8)", passes=14,
                       sub_block_reuse=True, confirm_streak=6, rule=_option8),
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
