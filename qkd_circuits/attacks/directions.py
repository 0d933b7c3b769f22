"""Measurement directions on the Bloch sphere, and the gates that turn one into Z.

Every measurement in these circuits is a Z measurement, so measuring along a
direction is rotating it onto Z first (and, for Eve's probe interaction, back):

=====  ==========================  ====================  =====================
name   direction (outcome 0 state)  to Z                  back from Z
=====  ==========================  ====================  =====================
Z      +z  |0>                      (nothing)             (nothing)
X      +x  |+>                      H                     H
Y      +y  |+i>                     Sdg, H                H, S
W      (x + z)/√2, Ry(π/4)|0>       Ry(−π/4)              Ry(π/4)
V      (z − x)/√2, Ry(−π/4)|0>      Ry(π/4)               Ry(−π/4)
=====  ==========================  ====================  =====================

W is also the Breidbart basis of BB84, halfway between Z and X (Bennett, Bessette,
Brassard, Salvail, Smolin, J. Cryptology 5, 3 (1992)): its outcome-0 state is the
closest to both |0> and |+>. The E91 settings W and V are these directions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from qkd_circuits.errors import ConfigError

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit, Qubit

DIRECTIONS = ("Z", "X", "Y", "W", "V")
"""The directions a measurement or an intercept-resend in these circuits can take."""

BASIS_DIRECTIONS = ("Z", "X", "Y")
"""The protocols' basis values (0 Z, 1 X, 2 Y) -> their directions."""

_XZ_ANGLE = {"W": math.pi / 4, "V": -math.pi / 4}


def check_direction(direction: object) -> str:
    """``direction`` if it is one of :data:`DIRECTIONS`; else :class:`ConfigError`."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    return str(direction)


def rotate_to_z(qc: QuantumCircuit, qubit: Qubit, direction: str) -> None:
    """Append the gates taking ``direction``'s outcome-0 state to |0> (module table)."""
    check_direction(direction)
    if direction == "Y":
        qc.sdg(qubit)
    if direction in ("X", "Y"):
        qc.h(qubit)
    if direction in _XZ_ANGLE:
        qc.ry(-_XZ_ANGLE[direction], qubit)


def rotate_from_z(qc: QuantumCircuit, qubit: Qubit, direction: str) -> None:
    """Append the inverse of :func:`rotate_to_z`."""
    check_direction(direction)
    if direction in ("X", "Y"):
        qc.h(qubit)
    if direction == "Y":
        qc.s(qubit)
    if direction in _XZ_ANGLE:
        qc.ry(_XZ_ANGLE[direction], qubit)


__all__ = ["BASIS_DIRECTIONS", "DIRECTIONS", "check_direction", "rotate_from_z", "rotate_to_z"]
