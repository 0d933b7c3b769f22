"""What every exchange circuit shares: the qubit's transit, and the prepare-and-measure exchange.

The transit (every protocol): the qubit that travels to Bob first meets Eve, when she
attacks, at the sender's output (her intercept-resend as a probe interaction,
:func:`~qkd_circuits.attacks.intercept_resend.append_intercept_resend`), then the
channel, ``IGate(label="channel")``, where the noise model acts.

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

from qkd_circuits.attacks.intercept_resend import append_intercept_resend
from qkd_circuits.channel.noise import CHANNEL_LABEL

NO_EVE = -1
"""Value of ``eve_basis`` for an exchange Eve leaves alone."""


def append_transit(
    qc: QuantumCircuit, qubit: Qubit, probe: Qubit | None, *, eve_basis: int
) -> None:
    """Append the travelling ``qubit``'s transit (module docstring).

    Args:
        qc: The exchange circuit.
        qubit: The qubit that travels to Bob.
        probe: Eve's probe qubit (fresh, in |0>), or None when she leaves the exchange alone.
        eve_basis: Eve's basis, 0 (Z), 1 (X) or 2 (Y), used when ``probe`` is given.
    """
    if probe is not None:
        append_intercept_resend(qc, qubit, probe, basis=eve_basis)
        qc.barrier(label="eve")
    qc.append(IGate(label=CHANNEL_LABEL), [qubit])


def prepare_and_measure(*, bit: int, basis: int, bob_basis: int, eve_basis: int) -> QuantumCircuit:
    """The gates and registers of one prepare-and-measure exchange (module docstring).

    Args:
        bit: Alice's bit, 0 or 1.
        basis: Alice's basis, 0 (Z), 1 (X) or 2 (Y).
        bob_basis: Bob's basis, 0 (Z), 1 (X) or 2 (Y).
        eve_basis: Eve's basis, 0 (Z), 1 (X) or 2 (Y), or :data:`NO_EVE`.

    Returns:
        The circuit, not yet named and without metadata.
    """
    signal = QuantumRegister(1, "signal")
    bob = ClassicalRegister(1, "bob")
    eve_acts = eve_basis != NO_EVE
    if eve_acts:
        probe = QuantumRegister(1, "probe")
        eve = ClassicalRegister(1, "eve")
        qc = QuantumCircuit(signal, probe, bob, eve)
    else:
        qc = QuantumCircuit(signal, bob)
    if bit:
        qc.x(signal[0])
    if basis in (1, 2):
        qc.h(signal[0])
    if basis == 2:
        qc.s(signal[0])
    qc.barrier(label="alice")
    append_transit(qc, signal[0], probe[0] if eve_acts else None, eve_basis=eve_basis)
    qc.barrier(label="bob")
    if bob_basis == 2:
        qc.sdg(signal[0])
    if bob_basis in (1, 2):
        qc.h(signal[0])
    qc.measure(signal[0], bob[0])
    if eve_acts:
        qc.measure(probe[0], eve[0])
    return qc


__all__ = ["NO_EVE", "append_transit", "prepare_and_measure"]
