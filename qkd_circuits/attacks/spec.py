"""What the user asks Eve to do: the attack, its strength and the exchanges it touches.

Parsed from ``--eve`` without importing Qiskit (the CLI's start-up stays fast); the
circuits of an attack are in :mod:`qkd_circuits.attacks.intercept_resend` and
:mod:`qkd_circuits.attacks.cloner`, behind :class:`~qkd_circuits.attacks.base.Attack`.

Spellings::

    none
    intercept-resend[=FRACTION][:basis=random|z|x|breidbart]
    intercept-resend:fraction=FRACTION[:basis=...]    the same, by name
    cloner=D[:fraction=FRACTION]          D, the target disturbance, in [0, 0.5]
    pns                                   photon-number splitting (a link's WCP source)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from qkd_circuits.errors import ConfigError
from qkd_circuits.specs import check_probability

EveKind = Literal["none", "intercept-resend", "cloner", "pns"]
EveBasis = Literal["random", "z", "x", "breidbart"]

KINDS: tuple[str, ...] = ("none", "intercept-resend", "cloner", "pns")
BASES: tuple[str, ...] = ("random", "z", "x", "breidbart")
MAX_DISTURBANCE = 0.5
"""The cloner's disturbance D is in [0, 1/2]: at 1/2 it swaps the qubit into Eve's probe."""

_SYNTAX = (
    "none | intercept-resend[=FRACTION][:basis=random|z|x|breidbart] | "
    "cloner=D[:fraction=FRACTION] (D in [0, 0.5]) | pns"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EveSpec:
    """Which attack Eve runs, how strongly, and on what fraction of the exchanges.

    Attributes:
        kind: ``"none"``, ``"intercept-resend"``, ``"cloner"`` or ``"pns"`` (photon-number
            splitting: its exchanges are the link's multi-photon pulses, so ``fraction``
            stays 1).
        fraction: Probability that Eve attacks a given exchange, in [0, 1].
        basis: Intercept-resend only: Eve's measurement basis, ``"random"`` (uniform
            over the protocol's bases, the default), ``"z"``, ``"x"`` or
            ``"breidbart"`` (between Z and X, Bennett et al., J. Cryptology 5, 3 (1992)).
        disturbance: Cloner only: the error rate D in [0, 0.5] the entangling probe
            causes in the Z and X bases (Fuchs et al., PRA 56, 1163 (1997)).
    """

    kind: EveKind = "none"
    fraction: float = 1.0
    basis: EveBasis = "random"
    disturbance: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown attack {self.kind!r}; allowed: {_SYNTAX}")
        check_probability(self.fraction, name="attack fraction")
        if self.basis not in BASES:
            raise ConfigError(
                f"intercept-resend basis must be one of {', '.join(BASES)}, got {self.basis!r}"
            )
        if self.basis != "random" and self.kind != "intercept-resend":
            raise ConfigError(f"basis={self.basis} applies to intercept-resend, not {self.kind}")
        if self.kind == "pns" and self.fraction != 1.0:
            raise ConfigError(
                "pns attacks the link's multi-photon pulses: it takes no fraction, "
                f"got {self.fraction!r}"
            )
        d = self.disturbance
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= d <= MAX_DISTURBANCE:
            raise ConfigError(f"cloner disturbance D must be a number in [0, 0.5], got {d!r}")
        if d and self.kind != "cloner":
            raise ConfigError(f"a disturbance applies to the cloner, not {self.kind}")

    @classmethod
    def parse(cls, text: str) -> EveSpec:
        """Parse one of the spellings in the module docstring (``"intercept-resend=0.5"``,
        ``"intercept-resend:basis=breidbart"``, ``"cloner=0.1"``, ...)."""
        if not isinstance(text, str):
            raise ConfigError(f"eve spec must be a string or an EveSpec, got {text!r}")
        head, *options = text.strip().split(":")
        name, sep, value = head.partition("=")
        if name not in KINDS:
            raise ConfigError(f"unknown eve spec {text!r}; allowed: {_SYNTAX}")
        if name in ("none", "pns"):
            if sep or options:
                raise ConfigError(f"eve spec {text!r}: {name!r} takes no value")
            return cls(kind=name)  # type: ignore[arg-type]
        fields: dict[str, object] = {"kind": name}
        if name == "cloner":
            if not sep:
                raise ConfigError(f"eve spec {text!r}: the cloner needs its disturbance, cloner=D")
            fields["disturbance"] = _number(value, text, what="disturbance D")
        elif sep:
            fields["fraction"] = _number(value, text, what="fraction")
        allowed = ("basis", "fraction") if name == "intercept-resend" else ("fraction",)
        for option in options:
            key, eq, val = option.partition("=")
            if key not in allowed or not eq or key in fields:
                raise ConfigError(
                    f"eve spec {text!r}: unknown or repeated option {option!r}; "
                    f"{name} takes {', '.join(k + '=...' for k in allowed)}"
                )
            fields[key] = val if key == "basis" else _number(val, text, what=key)
        return cls(**fields)  # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        """True when Eve attacks at least some exchanges."""
        return self.kind != "none" and self.fraction > 0

    def fixed_choice(self) -> int | None:
        """Eve's choice (:mod:`~qkd_circuits.attacks.base`) in every exchange she attacks:
        None when she draws it, a random basis; 1 for a fixed X basis; else 0."""
        if self.kind == "intercept-resend" and self.basis == "random":
            return None
        return 1 if self.basis == "x" else 0

    def __str__(self) -> str:
        """The spelling that parses back to this spec exactly (floats by ``repr``)."""
        if self.kind in ("none", "pns"):
            return self.kind
        if self.kind == "cloner":
            text = f"cloner={self.disturbance!r}"
            return text if self.fraction == 1.0 else f"{text}:fraction={self.fraction!r}"
        text = self.kind if self.fraction == 1.0 else f"{self.kind}={self.fraction!r}"
        return text if self.basis == "random" else f"{text}:basis={self.basis}"

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for reports: ``kind``, ``fraction`` (0 without Eve) and the
        attack's own parameter (``basis`` or ``disturbance``)."""
        out: dict[str, object] = {
            "kind": self.kind,
            "fraction": self.fraction if self.kind != "none" else 0.0,
        }
        if self.kind == "intercept-resend":
            out["basis"] = self.basis
        if self.kind == "cloner":
            out["disturbance"] = self.disturbance
        return out


def _number(value: str, text: str, *, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ConfigError(f"eve spec {text!r}: {what} {value!r} is not a number")
    return number


__all__ = ["BASES", "KINDS", "MAX_DISTURBANCE", "EveBasis", "EveKind", "EveSpec"]
