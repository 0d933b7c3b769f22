"""Closed forms for the attacks: the QBER Eve causes and what she learns, per sifted bit.

For BB84 and its entanglement-based form (BBM92, E91's key rounds), Eve attacking a
fraction f of the exchanges:

- random-basis intercept-resend: QBER f/4, Eve's error 1/4 on the bits she attacked,
  I_AE = f/2 (she knows the half where her basis was right; Bennett & Brassard 1984;
  Gisin et al., Rev. Mod. Phys. 74, 145 (2002), Sec. VI.A). Fixed basis: the same
  totals. Six-state (three bases): QBER f/3, Eve's error 1/3, I_AE = f/3 (Bruß, PRL
  81, 3018 (1998)).
- Breidbart intercept-resend: QBER f/4, Eve's error sin²(π/8) = 1/2 − √2/4,
  I_AE = f (1 − h(sin²(π/8))) (Bennett, Bessette, Brassard, Salvail & Smolin,
  J. Cryptology 5, 3 (1992)).
- the phase-covariant cloner of disturbance D (f = 1): QBER D, Eve's error
  1/2 − √(D(1 − D)), I_AE = 1 − h(1/2 + √(D(1 − D))), the optimum of individual
  attacks (Fuchs, Gisin, Griffiths, Niu & Peres, PRA 56, 1163 (1997)).

Alice and Bob share ``I_AB = 1 − h(Q)`` per sifted bit. One-way key distillation
against an individual attack is possible exactly while I_AB > I_AE (Csiszár & Körner,
IEEE Trans. Inf. Theory 24, 339 (1978)); for the cloner the two cross at
D = (1 − 1/√2)/2 ≈ 0.1464 (Fuchs et al. 1997).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.errors import ConfigError

BREIDBART_ERROR = 0.5 - math.sqrt(2) / 4
"""Eve's error on a BB84 bit measured in the Breidbart basis: sin²(π/8) ≈ 0.1464."""

CLONER_CROSSING = (1 - 1 / math.sqrt(2)) / 2
"""The disturbance at which the cloner's I_AE reaches I_AB (Fuchs et al. 1997)."""

BB84_LIKE = ("bb84", "bbm92", "e91")
"""Protocols whose key rounds are BB84's two bases, where every closed form here holds."""


def _h(p: float) -> float:
    return float(binary_entropy(p))


def shannon_information(qber: float) -> float:
    """I_AB = 1 − h(Q): Alice's and Bob's information per sifted bit at error rate Q."""
    return 1.0 - _h(qber)


def cloner_eve_error(disturbance: float) -> float:
    """Eve's error 1/2 − √(D(1 − D)) reading the cloner's probe (Fuchs et al. 1997)."""
    return 0.5 - math.sqrt(disturbance * (1 - disturbance))


def cloner_information(disturbance: float) -> float:
    """I_AE = 1 − h(1/2 + √(D(1 − D))), bits per sifted bit (Fuchs et al. 1997, Eq. 47)."""
    return 1.0 - _h(0.5 + math.sqrt(disturbance * (1 - disturbance)))


@dataclass(frozen=True, slots=True, kw_only=True)
class AttackTheory:
    """The closed forms of one attack on one protocol, as functions of its strength
    (the fraction attacked, or the cloner's D).

    Attributes:
        qber: Strength -> the QBER Eve causes.
        eve_error: Eve's error on the sifted bits she attacked (a constant for
            intercept-resend; a function of D for the cloner).
        information: Strength -> I_AE, bits per sifted bit.
        strength_range: The strengths the attack takes, ``(low, high)``.
    """

    qber: Callable[[float], float]
    eve_error: Callable[[float], float]
    information: Callable[[float], float]
    strength_range: tuple[float, float]

    def crossing(self) -> float | None:
        """The strength where I_AE reaches I_AB (bisection on [low, high]; None if they do
        not cross there)."""
        low, high = self.strength_range

        def gap(s: float) -> float:
            return shannon_information(self.qber(s)) - self.information(s)

        if gap(high) > 0:
            return None
        for _ in range(80):
            mid = (low + high) / 2
            low, high = (mid, high) if gap(mid) > 0 else (low, mid)
        return (low + high) / 2


def _cloner_six_state_y(disturbance: float) -> tuple[float, float, float]:
    """The cloner on the six-state protocol's Y basis: (QBER, Eve's error, I_AE).

    The partial swap leaves |+i> alone and takes |−i> to Bob's |+i> with probability
    s² = sin²η = 4D(1 − D) (module :mod:`~qkd_circuits.attacks.cloner`): QBER s²/2. Eve's
    probe reads |−i> only then, a Z-channel: her error (1 − s²)/2 and
    I(A; E) = h(s²/2) − h(s²)/2."""
    s2 = 4 * disturbance * (1 - disturbance)
    return s2 / 2, (1 - s2) / 2, _h(s2 / 2) - _h(s2) / 2


def attack_theory(kind: str, protocol: str, *, basis: str = "random") -> AttackTheory | None:
    """The closed forms of attack ``kind`` (``"intercept-resend"`` with ``basis``, or
    ``"cloner"``) on ``protocol``, or None where this module has none (B92, SARG04).

    In the six-state protocol each basis holds a third of the sifted bits: Z and X
    behave as in BB84; Y is unbiased to Breidbart's basis (QBER and Eve's error 1/2,
    nothing learnt) and is the cloner's fixed axis (:func:`_cloner_six_state_y`)."""
    if kind not in ("intercept-resend", "cloner"):
        raise ConfigError(f"attack must be intercept-resend or cloner, got {kind!r}")
    six = protocol == "six-state"
    if protocol not in BB84_LIKE and not six:
        return None
    if kind == "cloner":
        if not six:
            return AttackTheory(
                qber=lambda d: d,
                eve_error=cloner_eve_error,
                information=cloner_information,
                strength_range=(0.0, 0.5),
            )
        return AttackTheory(
            qber=lambda d: (2 * d + _cloner_six_state_y(d)[0]) / 3,
            eve_error=lambda d: (2 * cloner_eve_error(d) + _cloner_six_state_y(d)[1]) / 3,
            information=lambda d: (2 * cloner_information(d) + _cloner_six_state_y(d)[2]) / 3,
            strength_range=(0.0, 0.5),
        )
    if basis == "breidbart":
        info = 1.0 - _h(BREIDBART_ERROR)
        share = 2 / 3 if six else 1.0  # the Z and X bits; Y's are unbiased to Breidbart
        return AttackTheory(
            qber=lambda f: f * (share / 4 + (1 - share) / 2),
            eve_error=lambda f: share * BREIDBART_ERROR + (1 - share) / 2,
            information=lambda f: f * share * info,
            strength_range=(0.0, 1.0),
        )
    bases = 3 if six else 2
    return AttackTheory(
        qber=lambda f: f * (bases - 1) / (2 * bases),
        eve_error=lambda f: (bases - 1) / (2 * bases),
        information=lambda f: f / bases,
        strength_range=(0.0, 1.0),
    )


__all__ = [
    "BB84_LIKE",
    "BREIDBART_ERROR",
    "CLONER_CROSSING",
    "AttackTheory",
    "attack_theory",
    "cloner_eve_error",
    "cloner_information",
    "shannon_information",
]
