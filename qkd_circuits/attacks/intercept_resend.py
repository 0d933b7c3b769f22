"""Intercept-resend attack, built as a probe qubit so every measurement is terminal.

Eve measures the signal in her basis and resends what she found. By the
deferred-measurement principle (Nielsen & Chuang, Sec. 4.4) the same
statistics come from a CNOT, in Eve's basis, from the signal onto a fresh probe
qubit that is measured at the end of the circuit: the signal's coherence in
Eve's basis is destroyed exactly as by her measurement, and the probe holds her
result. In BB84 this gives Bob an error rate of 1/4 on the sifted exchanges
Eve attacked (Bennett & Brassard 1984; Gisin et al., Rev. Mod. Phys. 74, 145
(2002), Sec. VI.A); in the six-state protocol, where Eve picks one of three
bases (Z, X, Y), 1/3 (Bruß, PRL 81, 3018 (1998), arXiv:quant-ph/9805019).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from qkd_circuits.errors import ConfigError
from qkd_circuits.specs import check_probability

if TYPE_CHECKING:  # only annotations: parsing an EveSpec does not import qiskit
    from qiskit.circuit import QuantumCircuit, Qubit

EveKind = Literal["none", "intercept-resend"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EveSpec:
    """Which attack Eve runs and on what fraction of the exchanges.

    Attributes:
        kind: ``"none"`` or ``"intercept-resend"``.
        fraction: Probability that Eve attacks a given exchange, in [0, 1].
    """

    kind: EveKind = "none"
    fraction: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "intercept-resend"):
            raise ConfigError(
                f"unknown attack {self.kind!r}; allowed: none, intercept-resend[=FRACTION]"
            )
        check_probability(self.fraction, name="attack fraction")

    @classmethod
    def parse(cls, text: str) -> EveSpec:
        """Parse ``"none"``, ``"intercept-resend"`` or ``"intercept-resend=FRACTION"``."""
        if not isinstance(text, str):
            raise ConfigError(f"eve spec must be a string or an EveSpec, got {text!r}")
        name, sep, value = text.strip().partition("=")
        if name == "none" and not sep:
            return cls()
        if name == "intercept-resend":
            if not sep:
                return cls(kind="intercept-resend")
            try:
                fraction = float(value)
            except ValueError:
                raise ConfigError(
                    f"eve spec {text!r}: fraction {value!r} is not a number in [0, 1]"
                ) from None
            return cls(kind="intercept-resend", fraction=fraction)
        raise ConfigError(
            f"unknown eve spec {text!r}; allowed: none, intercept-resend, intercept-resend=FRACTION"
        )

    @property
    def active(self) -> bool:
        """True when Eve attacks at least some exchanges."""
        return self.kind != "none" and self.fraction > 0

    def __str__(self) -> str:
        if self.kind == "none":
            return "none"
        return self.kind if self.fraction == 1.0 else f"{self.kind}={self.fraction:g}"

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for reports."""
        return {"kind": self.kind, "fraction": self.fraction if self.kind != "none" else 0.0}


def append_intercept_resend(
    circuit: QuantumCircuit, signal: Qubit, probe: Qubit, *, basis: int
) -> None:
    """Append Eve's intercept-resend in ``basis`` (0 = Z, 1 = X, 2 = Y) as a probe interaction.

    The signal is rotated so that Eve's basis becomes Z (X: H; Y: Sdg then H, which
    takes |+i> to |0> and |-i> to |1>), copied onto the probe with a CNOT, and rotated
    back (X: H; Y: H then S). The probe must start in |0> and be measured at the end of
    the circuit; it reads 0 for the first eigenstate of the basis (|0>, |+>, |+i>) and 1
    for the second.
    """
    if basis not in (0, 1, 2):
        raise ConfigError(f"Eve's basis must be 0 (Z), 1 (X) or 2 (Y), got {basis!r}")
    if basis == 2:
        circuit.sdg(signal)
    if basis in (1, 2):
        circuit.h(signal)
    circuit.cx(signal, probe)
    if basis in (1, 2):
        circuit.h(signal)
    if basis == 2:
        circuit.s(signal)
