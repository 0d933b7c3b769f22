"""What every exchange circuit shares: the qubit's transit, and the prepare-and-measure exchange.

The transit (every protocol): the qubit that travels to Bob first meets Eve, when she
attacks, at the sender's output (the attack of her :class:`~qkd_circuits.attacks.spec.
EveSpec` as a probe interaction, :mod:`qkd_circuits.attacks.base`; without a spec the
random-basis intercept-resend), then the channel, ``IGate(label="channel")``, where the
noise model acts. Eve reads her probe at the end of the circuit, after Bob's basis is
announced (:func:`append_eve_readout`).

The prepare-and-measure exchange (BB84, six-state, B92 and SARG04 circuits): qubit 0
(register ``signal``) is the photon; qubit 1 (register ``probe``, present only when Eve
attacks) is Eve's probe. Alice prepares bit b in a basis: Z as |b> (X^b), X as H|b>
(X^b, then H), Y as S H|b> (X^b, then H, then S). The transit follows; Bob rotates his
basis to Z (X: H; Y: Sdg then H, which takes |+i> to |0> and |-i> to |1>) and measures.
Classical registers: ``bob`` (1 bit) and, with Eve, ``eve`` (1 bit). All measurements
are terminal. Each protocol's module names the circuit and writes its metadata.
"""

from __future__ import annotations

from qiskit.circuit import ClassicalRegister, QuantumCircuit, QuantumRegister, Qubit
from qiskit.circuit.library import IGate

from qkd_circuits.attacks.base import attack_for
from qkd_circuits.attacks.directions import BASIS_DIRECTIONS
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.channel.noise import CHANNEL_LABEL

NO_EVE = -1
"""Value of ``eve_basis`` for an exchange Eve leaves alone."""


def append_transit(
    qc: QuantumCircuit,
    qubit: Qubit,
    probe: Qubit | None,
    *,
    eve_basis: int,
    eve: EveSpec | None = None,
) -> None:
    """Append the travelling ``qubit``'s transit (module docstring).

    Args:
        qc: The exchange circuit.
        qubit: The qubit that travels to Bob.
        probe: Eve's probe qubit (fresh, in |0>), or None when she leaves the exchange alone.
        eve_basis: Eve's choice in this exchange (:mod:`~qkd_circuits.attacks.base`; for
            an intercept-resend in a random or fixed basis, 0 Z, 1 X or 2 Y), used when
            ``probe`` is given.
        eve: Eve's attack (None: random-basis intercept-resend).
    """
    if probe is not None:
        attack_for(eve).append(qc, qubit, probe, choice=eve_basis)
        qc.barrier(label="eve")
    qc.append(IGate(label=CHANNEL_LABEL), [qubit])


def append_eve_readout(
    qc: QuantumCircuit, probe: Qubit, *, announced: str, eve: EveSpec | None = None
) -> None:
    """Append what Eve does to her probe once Bob's basis ``announced`` (a direction name)
    is public, before the probe's terminal measurement (the cloner turns it to that basis;
    intercept-resend does nothing)."""
    attack_for(eve).append_readout(qc, probe, announced=announced)


def eve_label(eve_basis: int, eve: EveSpec | None = None) -> str:
    """Eve's part of a circuit's name and metadata: ``"-"`` without her, else her basis
    (Z, X, Y; W for Breidbart) or ``"C"`` for the cloner."""
    return "-" if eve_basis == NO_EVE else attack_for(eve).label(eve_basis)


def eve_attack(eve_basis: int, eve: EveSpec | None = None) -> str:
    """The attack an exchange ran, for its metadata: ``"none"`` without Eve, else its
    ``--eve`` spelling with every parameter (a cloner's D; None: ``"intercept-resend"``)."""
    if eve_basis == NO_EVE:
        return "none"
    return "intercept-resend" if eve is None or not eve.active else str(eve)


def _prepare(qc: QuantumCircuit, qubit: Qubit, *, bit: int, basis: int) -> None:
    """Alice's state: ``bit`` in ``basis`` (0 Z, 1 X, 2 Y) on ``qubit`` (from |0>)."""
    if bit:
        qc.x(qubit)
    if basis in (1, 2):
        qc.h(qubit)
    if basis == 2:
        qc.s(qubit)


def prepare_and_measure(
    *,
    bit: int,
    basis: int,
    bob_basis: int,
    eve_basis: int,
    eve: EveSpec | None = None,
    eve_readout: str | None = None,
) -> QuantumCircuit:
    """The gates and registers of one prepare-and-measure exchange (module docstring).

    Args:
        bit: Alice's bit, 0 or 1.
        basis: Alice's basis, 0 (Z), 1 (X) or 2 (Y).
        bob_basis: Bob's basis, 0 (Z), 1 (X) or 2 (Y).
        eve_basis: Eve's choice (:func:`append_transit`), or :data:`NO_EVE`.
        eve: Eve's attack (None: random-basis intercept-resend).
        eve_readout: The direction Eve reads her probe along once the bases are public
            (:func:`append_eve_readout`): None, Bob's basis, announced in BB84 and the
            six-state protocol; a protocol whose Bob keeps his basis secret (B92,
            SARG04: it is his key bit) passes a fixed one.

    Returns:
        The circuit, not yet named and without metadata.
    """
    signal = QuantumRegister(1, "signal")
    bob = ClassicalRegister(1, "bob")
    eve_acts = eve_basis != NO_EVE
    if eve_acts:
        probe = QuantumRegister(1, "probe")
        eve_register = ClassicalRegister(1, "eve")
        qc = QuantumCircuit(signal, probe, bob, eve_register)
    else:
        qc = QuantumCircuit(signal, bob)
    _prepare(qc, signal[0], bit=bit, basis=basis)
    if eve_acts and attack_for(eve).splits_photons:  # the pulse's second photon
        _prepare(qc, probe[0], bit=bit, basis=basis)
    qc.barrier(label="alice")
    append_transit(qc, signal[0], probe[0] if eve_acts else None, eve_basis=eve_basis, eve=eve)
    qc.barrier(label="bob")
    if bob_basis == 2:
        qc.sdg(signal[0])
    if bob_basis in (1, 2):
        qc.h(signal[0])
    qc.measure(signal[0], bob[0])
    if eve_acts:
        announced = eve_readout or BASIS_DIRECTIONS[bob_basis]
        append_eve_readout(qc, probe[0], announced=announced, eve=eve)
        qc.measure(probe[0], eve_register[0])
    return qc


__all__ = [
    "NO_EVE",
    "append_eve_readout",
    "append_transit",
    "eve_attack",
    "eve_label",
    "prepare_and_measure",
]
