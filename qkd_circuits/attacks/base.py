"""The one interface every attack implements, and the registry from an
:class:`~qkd_circuits.attacks.spec.EveSpec` to its attack.

An attack acts on the travelling qubit at the sender's output, through one probe
qubit that starts in |0> and is measured at the end of the circuit (the circuit
conventions of :mod:`qkd_circuits.protocols.base`). Per exchange Eve makes one
*choice*, an integer drawn with the protocol's other secret choices and stored in
the configuration code (``eve_basis``: her basis value for a random or fixed-basis
intercept-resend, 0 for an attack that treats every qubit alike, ``NO_EVE`` where
she leaves the exchange alone). Her probe reads her guess of Alice's bit.

Adding an attack is one module with a class of these members and one entry in
:data:`ATTACKS` (and its spelling in :mod:`~qkd_circuits.attacks.spec`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol

from qkd_circuits.attacks.cloner import Cloner
from qkd_circuits.attacks.intercept_resend import InterceptResend
from qkd_circuits.attacks.pns import PhotonNumberSplitting
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.errors import ConfigError

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit, Qubit


class Attack(Protocol):
    """What the circuits ask of an attack.

    Attributes:
        splits_photons: Alice prepares the probe as she prepares the signal (it is the
            pulse's second photon, :mod:`~qkd_circuits.attacks.pns`); else it starts
            in |0>.
    """

    splits_photons: ClassVar[bool]

    def append(self, qc: QuantumCircuit, signal: Qubit, probe: Qubit, *, choice: int) -> None:
        """Append Eve's interaction of one exchange (her ``choice``) on ``signal``."""
        ...

    def append_readout(self, qc: QuantumCircuit, probe: Qubit, *, announced: str) -> None:
        """Append what Eve does to her probe before its terminal measurement, once Bob's
        basis is announced (``announced``, a direction name of
        :data:`~qkd_circuits.attacks.directions.DIRECTIONS`)."""
        ...

    def label(self, choice: int) -> str:
        """Eve's part of a circuit's name and metadata (``"Z"``, ``"W"``, ``"C"``, ...)."""
        ...


DEFAULT_ATTACK = InterceptResend()
"""The attack of a code with Eve when no spec is given: random-basis intercept-resend."""


ATTACKS: dict[str, Callable[[EveSpec], Attack]] = {
    "intercept-resend": lambda spec: InterceptResend(spec.basis),
    "cloner": lambda spec: Cloner(spec.disturbance),
    "pns": lambda spec: PhotonNumberSplitting(),
}
"""Attack kind -> the attack of a spec of that kind."""


def attack_for(spec: EveSpec | None) -> Attack:
    """The attack ``spec`` names (None or ``"none"``: :data:`DEFAULT_ATTACK`, the meaning
    of a configuration code with Eve built without a spec)."""
    if spec is None or spec.kind == "none":
        return DEFAULT_ATTACK
    if spec.kind not in ATTACKS:  # pragma: no cover - EveSpec checks its kind
        raise ConfigError(f"no attack is registered for {spec.kind!r}")
    return ATTACKS[spec.kind](spec)


__all__ = ["ATTACKS", "DEFAULT_ATTACK", "Attack", "attack_for"]
