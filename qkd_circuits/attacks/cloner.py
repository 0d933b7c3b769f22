"""Entangling-probe (cloning) attack: the optimal individual attack on BB84.

Eve couples a probe qubit to the signal with a partial swap, keeps the probe, and
measures it only after Bob has announced his basis, in that basis (sifting is
public), as a terminal measurement at the end of the circuit.

The interaction is the economical phase-covariant cloner (Niu & Griffiths, PRA 60,
2764 (1999); Bruß, Cinchetti, D'Ariano & Macchiavello, PRA 62, 012302 (2000)) for
the great circle of the Z and X bases. In a frame where Y is the fixed axis
(``Rx(π/2)`` takes Y to Z) the probe starts in |0> and

    |0>|0> -> |0>|0>,        |1>|0> -> cos η |1>|0> + sin η |0>|1>

(``CX(probe→signal) · CRY(2η)(signal→probe) · CX(probe→signal)``), after which both
qubits are rotated back with ``Rx(−π/2)``. For a state at angle φ on that great
circle Bob's qubit keeps the Bloch component cos η along the state and Eve's probe
gets sin η, so in the Z and X bases

    D = (1 − cos η)/2   (Bob's error),      e_E = (1 − sin η)/2 = 1/2 − √(D(1 − D))

(Eve's error reading her probe in the announced basis, a Helstrom measurement),
hence ``I_AE = 1 − h(1/2 + √(D(1 − D)))``: the bound of Fuchs, Gisin, Griffiths,
Niu & Peres, PRA 56, 1163 (1997), reached. ``η = arccos(1 − 2D)``, so D runs over
[0, 1/2]: at 1/2 the probe and the signal are swapped (Bob gets |+i>, whatever Alice
sent; Eve gets Alice's qubit). States off that circle (the six-state protocol's Y basis)
are disturbed differently: |+i> not at all, |−i> with probability sin²η.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from qkd_circuits.attacks.directions import rotate_to_z
from qkd_circuits.attacks.spec import MAX_DISTURBANCE
from qkd_circuits.errors import ConfigError

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit, Qubit


def cloner_angle(disturbance: float) -> float:
    """The partial swap's angle η = arccos(1 − 2D) for disturbance D in [0, 1/2] (radians)."""
    if not 0 <= disturbance <= MAX_DISTURBANCE:
        raise ConfigError(f"cloner disturbance D must be in [0, 0.5], got {disturbance!r}")
    return math.acos(1 - 2 * disturbance)


def append_cloner(qc: QuantumCircuit, signal: Qubit, probe: Qubit, *, disturbance: float) -> None:
    """Append the entangling probe of disturbance D (module docstring); ``probe`` starts
    in |0> and ends in the signal's frame, to be read by :func:`append_cloner_readout`."""
    eta = cloner_angle(disturbance)
    qc.rx(math.pi / 2, signal)
    qc.cx(probe, signal)
    # CRY(2η) from the signal onto the probe, in gates every Aer method and device takes:
    # Ry(η) · CX · Ry(−η) · CX rotates the probe by 2η exactly when the signal is |1>.
    qc.ry(eta, probe)
    qc.cx(signal, probe)
    qc.ry(-eta, probe)
    qc.cx(signal, probe)
    qc.cx(probe, signal)
    qc.rx(-math.pi / 2, signal)
    qc.rx(-math.pi / 2, probe)


@dataclass(frozen=True, slots=True)
class Cloner:
    """The entangling-probe attack of disturbance D (:class:`~qkd_circuits.attacks.base.Attack`).

    Attributes:
        disturbance: D in [0, 0.5].
    """

    splits_photons: ClassVar[bool] = False
    disturbance: float

    def append(self, qc: QuantumCircuit, signal: Qubit, probe: Qubit, *, choice: int) -> None:
        """The partial swap (``choice`` is unused: Eve does the same to every qubit)."""
        append_cloner(qc, signal, probe, disturbance=self.disturbance)

    def append_readout(self, qc: QuantumCircuit, probe: Qubit, *, announced: str) -> None:
        """Eve measures her probe along Bob's announced basis ``announced`` (a direction)."""
        rotate_to_z(qc, probe, announced)

    def label(self, choice: int) -> str:
        """``C`` (cloner) in a circuit's name and metadata."""
        return "C"


__all__ = ["Cloner", "append_cloner", "cloner_angle"]
