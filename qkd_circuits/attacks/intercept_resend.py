"""Intercept-resend attack, built as a probe qubit so every measurement is terminal.

Eve measures the signal in her basis and resends what she found. By the
deferred-measurement principle (Nielsen & Chuang, Sec. 4.4) the same
statistics come from a CNOT, in Eve's basis, from the signal onto a fresh probe
qubit that is measured at the end of the circuit: the signal's coherence in
Eve's basis is destroyed exactly as by her measurement, and the probe holds her
result, her guess of Alice's bit.

Eve's basis is random (uniform over the protocol's bases, one per exchange), a
fixed Z or X, or the Breidbart basis W between Z and X
(:mod:`~qkd_circuits.attacks.directions`). Closed forms for BB84, attacking every
exchange (Bennett & Brassard 1984; Gisin et al., Rev. Mod. Phys. 74, 145 (2002),
Sec. VI.A; Bennett et al., J. Cryptology 5, 3 (1992) for Breidbart):

- random basis: QBER 1/4, Eve's error 1/4 (1/2 where her basis was wrong), and she
  knows exactly the half of the sifted bits where her basis was Alice's: I_AE = 1/2;
- fixed basis: QBER 1/4 (1/2 in the other basis, 0 in hers), I_AE = 1/2;
- Breidbart: QBER 1/4, Eve's error sin²(π/8) = 1/2 − √2/4 ≈ 0.146 in both bases.

In the six-state protocol the random basis is one of three and the QBER 1/3 (Bruß,
PRL 81, 3018 (1998), arXiv:quant-ph/9805019).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from qkd_circuits.attacks.directions import (
    BASIS_DIRECTIONS,
    check_direction,
    rotate_from_z,
    rotate_to_z,
)
from qkd_circuits.attacks.spec import EveSpec  # its home before the attacks package grew
from qkd_circuits.errors import ConfigError

if TYPE_CHECKING:  # only annotations: parsing an EveSpec does not import qiskit
    from qiskit.circuit import QuantumCircuit, Qubit


def append_intercept_resend(
    circuit: QuantumCircuit, signal: Qubit, probe: Qubit, *, basis: int | str
) -> None:
    """Append Eve's intercept-resend in ``basis`` as a probe interaction.

    ``basis`` is 0 (Z), 1 (X), 2 (Y) or a direction name of
    :data:`~qkd_circuits.attacks.directions.DIRECTIONS` (``"W"``: Breidbart). The signal
    is rotated so that Eve's basis becomes Z (X: H; Y: Sdg then H, which takes |+i> to
    |0> and |-i> to |1>), copied onto the probe with a CNOT, and rotated back (X: H; Y:
    H then S). The probe must start in |0> and be measured at the end of the circuit; it
    reads 0 for the first eigenstate of the basis (|0>, |+>, |+i>, Ry(π/4)|0>) and 1 for
    the second.
    """
    if isinstance(basis, str):
        direction = check_direction(basis)
    elif isinstance(basis, int) and not isinstance(basis, bool) and basis in (0, 1, 2):
        direction = BASIS_DIRECTIONS[basis]
    else:
        raise ConfigError(
            f"Eve's basis must be 0 (Z), 1 (X) or 2 (Y) or a direction name, got {basis!r}"
        )
    rotate_to_z(circuit, signal, direction)
    circuit.cx(signal, probe)
    rotate_from_z(circuit, signal, direction)


@dataclass(frozen=True, slots=True)
class InterceptResend:
    """Intercept-resend in a random, fixed or Breidbart basis
    (:class:`~qkd_circuits.attacks.base.Attack`).

    Attributes:
        basis: ``"random"``, ``"z"``, ``"x"`` or ``"breidbart"``.
    """

    splits_photons: ClassVar[bool] = False
    basis: str = "random"

    def append(self, qc: QuantumCircuit, signal: Qubit, probe: Qubit, *, choice: int) -> None:
        """Eve measures along her basis: for a random or fixed basis ``choice`` is its
        value (0 Z, 1 X, 2 Y); the Breidbart basis ignores it."""
        basis: int | str = "W" if self.basis == "breidbart" else choice
        append_intercept_resend(qc, signal, probe, basis=basis)

    def append_readout(self, qc: QuantumCircuit, probe: Qubit, *, announced: str) -> None:
        """Nothing: the probe already holds Eve's result in Z."""

    def label(self, choice: int) -> str:
        """Eve's basis in a circuit's name and metadata: Z, X, Y or W (Breidbart)."""
        return "W" if self.basis == "breidbart" else BASIS_DIRECTIONS[choice]


__all__ = ["EveSpec", "InterceptResend", "append_intercept_resend"]
