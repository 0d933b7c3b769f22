"""SARG04: BB84's four states, a sifting by announced pairs, and its single-photon security.

Protocol (Scarani, Acín, Ribordy & Gisin, PRL 92, 057901 (2004), arXiv:quant-ph/0211131;
the coding as restated in Scarani et al., Rev. Mod. Phys. 81, 1301 (2009),
arXiv:0802.4155, Sec. II.D.2.b). Alice sends one of the four BB84 states |±z>, |±x>
(the circuits are BB84's, :mod:`qkd_circuits.circuits.bb84`, unchanged); Bob measures
in Z or X at random. The bit is coded in the *basis*: an X state carries 0, a Z state 1.
Alice never reveals her basis; she announces one of the four pairs of non-orthogonal
states A(ω, ω') = {|ω x>, |ω' z>} that contains her state, the sign of the other member
drawn uniformly. Bob's result is *conclusive* when it is orthogonal to one member of the
pair: an X result -ω excludes |ω x>, so the state was |ω' z> (bit 1); a Z result -ω'
excludes |ω' z> (bit 0). Bob announces which exchanges were conclusive; those are the
sifted key. Without noise a fraction 1/4 is conclusive (bases differ, 1/2, times a
result opposite to the pair's sign, 1/2).

Leakage of the announcements (both sent with ``leaked_bits=0``):

* the pair: given Alice's state, one sign is the state's own, the other a fresh
  uniform bit, so every pair has probability 1/4 whatever the bit (the pair is
  independent of the key bit: it discloses 0 bits about it);
* the conclusive flags: the filtering outcome of the security proof below, on which
  the entropy bound is conditioned (Eve is given every flag and pair), so charging them
  again would count them twice — as for BB84's basis-match flags.

Security (single photons; collective, i.e. i.i.d., attacks). In the entanglement
picture (Tamaki & Lo, PRA 73, 010302(R) (2006), arXiv:quant-ph/0412035) Bob's
conclusive measurement is a filter F = sin(π/8)|0'><0'| + cos(π/8)|1'><1'| followed by
a measurement of the filtered qubit; averaged over Alice's four pairs, the phase-error
rate of the conclusive pairs is exactly 3/2 of their bit-error rate e (Tamaki & Lo's
p_ph = 1.5 p_bit), and the weight of the Bell error carrying both a bit and a phase
error lies in [e/2, e] (Fung, Tamaki & Lo, PRA 73, 012337 (2006), arXiv:quant-ph/0510025,
Eq. (9)); both were checked here on random channels. Bell-diagonalising (Renner, Gisin &
Kraus, PRA 72, 012332 (2005)) and taking the worst weight e/2 gives, per conclusive bit,

    S(X|E) >= f(e) = 1 - e - (1 - e) h(e / (1 - e))    (e < 1/3; 0 beyond),

the one-way rate r(e) = f(e) - h(e), and the threshold 9.689 % (the 9.68 % quoted for
Tamaki & Lo's single-photon part; below BB84's 11.0 %). A key is emitted only from the
finite-key statement of :func:`sarg04_key_length`: Scarani & Renner's collective-attack
bound (PRL 100, 200501 (2008), arXiv:0708.0709) applied to f at a Clopper–Pearson upper
bound of e. No BB84 formula is used: the key is not a basis measured against a mutually
unbiased test basis here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.bb84 import N_CONFIGS, BB84Config, bb84_circuit, config_codes
from qkd_circuits.circuits.codes import Codes
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.collective import CollectiveAttackAnalysis
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.postprocessing.key_length import (
    STATEMENTS,
    KeyLengthResult,
    Statement,
)
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.protocols.choices import (
    check_same_shape,
    circuit_of_exchange,
    draw_secret_choices,
    widest_circuit,
)
from qkd_circuits.protocols.info import SARG04_INFO
from qkd_circuits.randomness import RNGLike
from qkd_circuits.specs import check_open_unit

BASIS = "SARG04"
"""The one basis name of the sifted key: the proof bounds one pooled error rate."""

X, Z = 1, 0
"""Basis values of the circuits (``alice_bases``, ``bob_bases``): 0 = Z, 1 = X."""

ASYMPTOTIC_QBER_THRESHOLD = SARG04_INFO.threshold
"""Root of :func:`sarg04_rate` (f(e) = h(e)); the 9.68 % quoted for Tamaki & Lo."""

THEOREMS: dict[str, str] = {
    statement: (
        "Scarani & Renner, PRL 100, 200501 (2008), arXiv:0708.0709 (collective attacks, "
        "i.e. i.i.d. attacks on single photons; smooth min-entropy AEP with 7 sqrt(n log2(2/"
        "eps_bar)), leftover hash 2 log2(1/eps_PA)) applied to the single-photon SARG04 bound "
        "S(X|E) >= 1 - e - (1-e) h(e/(1-e)) of Tamaki & Lo, PRA 73, 010302(R) (2006), "
        "arXiv:quant-ph/0412035 (phase error = 3/2 bit error), with the bit/phase correlation "
        "of Fung, Tamaki & Lo, PRA 73, 012337 (2006), Eq. (9), at the Clopper-Pearson upper "
        "bound of e; "
        + (
            "the lowest of 64 pre-agreed tolerances the sample passes, each level at "
            "eps_sec/64 (union bound), split eps_PE = eps_bar = eps_PA = eps_sec/256 "
            "(smoothing counted twice)"
            if statement == "variable"
            else "at the pre-agreed tolerance Q_tol, split eps_PE = eps_bar = eps_PA = "
            "eps_sec/4 (smoothing counted twice)"
        )
    )
    for statement in STATEMENTS
}
"""The theorem each statement's length comes from (quoted in every report)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sarg04Choices:
    """The secret random choices of one run; uint8 arrays of shape (n,) (``eve_bases`` int8).

    Attributes:
        alice_signs: Sign of Alice's state, 0 = +, 1 = - (the BB84 circuit's bit).
        alice_bases: Basis of Alice's state, 0 = Z, 1 = X; the key bit is 1 - basis.
        other_signs: Sign of the other member of the pair Alice will announce.
        bob_bases: Bob's measurement basis, 0 = Z, 1 = X.
        eve_bases: Eve's choice (:mod:`~qkd_circuits.attacks.base`): her basis, 0 = Z,
            1 = X, in an intercept-resend, 0 for the cloner; -1 where she does not attack.
        eve: The attack the choices were drawn for (None: no Eve); the circuits'
            default.
    """

    alice_signs: NDArray[np.uint8]
    alice_bases: NDArray[np.uint8]
    other_signs: NDArray[np.uint8]
    bob_bases: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]
    eve: EveSpec | None = None

    def __post_init__(self) -> None:
        names = ("alice_bases", "other_signs", "bob_bases", "eve_bases")
        check_same_shape(self, names, self.alice_signs.shape, like="alice_signs")

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange: BB84's (the pair changes no circuit)."""
        return config_codes(self.alice_signs, self.alice_bases, self.bob_bases, self.eve_bases)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sarg04Records:
    """Raw records of the quantum phase: the choices and the results, arrays of shape (n,).

    Attributes:
        choices: The run's :class:`Sarg04Choices`.
        bob_signs: Bob's result, uint8, 0 = +, 1 = - in his basis.
        eve_signs: Eve's result, uint8 (0 where she did not intercept).
    """

    choices: Sarg04Choices
    bob_signs: NDArray[np.uint8]
    eve_signs: NDArray[np.uint8]

    def __post_init__(self) -> None:
        names = ("bob_signs", "eve_signs")
        check_same_shape(self, names, self.choices.alice_signs.shape, like=None)

    @property
    def n(self) -> int:
        """Number of exchanges."""
        return int(self.bob_signs.size)

    def circuit(self, index: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The circuit that exchange ``index`` ran (for inspection and drawing), under
        attack ``eve`` (None: the choices' own, ``choices.eve``)."""
        attack = self.choices.eve if eve is None else eve
        return circuit_of_exchange(self.choices.codes, index, partial(circuit_for_code, eve=attack))

    def pairs(self) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        """Alice's announced pair A(ω, ω') of each exchange: (ω, ω'), uint8 (n,) each."""
        c = self.choices
        omega_x = np.where(c.alice_bases == X, c.alice_signs, c.other_signs).astype(np.uint8)
        omega_z = np.where(c.alice_bases == Z, c.alice_signs, c.other_signs).astype(np.uint8)
        return omega_x, omega_z

    def conclusive(self) -> NDArray[np.bool_]:
        """Bob's result is orthogonal to the pair's member in his basis, bool (n,)."""
        return _conclusive(self, *self.pairs())

    def eve_guesses(self) -> NDArray[np.uint8]:
        """Eve's best guess of the key bit once the pair is public, uint8 (n,), 0 if idle.

        A result opposite to the pair's sign in her basis excludes that member (she
        knows the bit); otherwise the member in her basis is twice as likely.
        """
        return _eve_guesses(self, *self.pairs())


def _conclusive(
    records: Sarg04Records, omega_x: NDArray[np.uint8], omega_z: NDArray[np.uint8]
) -> NDArray[np.bool_]:
    excluded = np.where(records.choices.bob_bases == X, omega_x, omega_z)
    return np.asarray(records.bob_signs != excluded)


def _eve_guesses(
    records: Sarg04Records, omega_x: NDArray[np.uint8], omega_z: NDArray[np.uint8]
) -> NDArray[np.uint8]:
    eve_bases = records.choices.eve_bases
    attacked = eve_bases >= 0
    basis = np.where(attacked, eve_bases, Z).astype(np.uint8)
    agrees = records.eve_signs == np.where(basis == X, omega_x, omega_z)
    guessed_basis = np.where(agrees, basis, 1 - basis)
    return np.where(attacked, 1 - guessed_basis, 0).astype(np.uint8)


def draw_choices(n: int, *, eve: EveSpec | None = None, rng: RNGLike = None) -> Sarg04Choices:
    """Draw Alice's states and pair signs, Bob's bases and Eve's (uniform, independent).

    Args:
        n: Number of exchanges (>= 1).
        eve: Which exchanges Eve attacks (each with probability ``eve.fraction``) and how
            (:mod:`qkd_circuits.attacks`); None means no Eve.
        rng: Secret generator or seed (None: the OS CSPRNG).
    """
    (signs, bases, other, bob), eve_bases = draw_secret_choices(
        n, (2, 2, 2, 2), eve=eve, eve_bases=2, rng=rng
    )
    return Sarg04Choices(
        alice_signs=signs,
        alice_bases=bases,
        other_signs=other,
        bob_bases=bob,
        eve_bases=eve_bases,
        eve=eve,
    )


def circuit_for_code(code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
    """The circuit of a configuration code: BB84's exchange circuit, relabelled. Bob's
    basis is his key bit and stays secret, so Eve reads her probe in Z
    (:func:`~qkd_circuits.circuits.exchange.prepare_and_measure`'s ``eve_readout``)."""
    qc = bb84_circuit(BB84Config.from_code(code), eve=eve, eve_readout="Z")
    qc.name = "sarg04_" + qc.name.split("_", 1)[1]
    qc.metadata = {**qc.metadata, "protocol": "sarg04"}
    return qc


def sift(
    records: Sarg04Records, *, channel: PublicChannel | None = None, stage: str = "sifting"
) -> SiftedKey:
    """Alice announces each exchange's pair, Bob which results were conclusive.

    Messages on ``channel``: Alice's (ω, ω') for every exchange (uint8, 2n bits) and
    Bob's conclusive flags (uint8, n bits), both leaked 0 (module docstring). The sifted
    key is Alice's basis bit (X -> 0, Z -> 1) and Bob's inferred bit (X measured -> 1).
    """
    omega_x, omega_z = records.pairs()
    conclusive = _conclusive(records, omega_x, omega_z)
    if channel is not None:
        channel.send(stage, "alice", np.stack([omega_x, omega_z], axis=1).ravel(), leaked_bits=0)
        channel.send(stage, "bob", conclusive.astype(np.uint8), leaked_bits=0)
    positions = np.flatnonzero(conclusive).astype(np.int64)
    c = records.choices
    sifted = SiftedKey(
        alice=(1 - c.alice_bases[positions]).astype(np.uint8),
        bob=c.bob_bases[positions].astype(np.uint8),
        positions=positions,
        bases=np.zeros(positions.size, dtype=np.uint8),
        basis_names=(BASIS,),
    )
    if not (c.eve_bases >= 0).any():
        return sifted
    guesses = _eve_guesses(records, omega_x, omega_z)
    return sifted.with_eve(eve_choice=c.eve_bases, eve_bits=guesses)


def sarg04_entropy_bound(error_rate: float) -> float:
    """Lower bound on S(X|E) per conclusive bit at bit-error probability ``error_rate``.

    ``1 - e - (1 - e) h(e/(1 - e))`` for ``e < 1/3``, 0 beyond: the Bell-diagonal bound
    with phase error 3e/2 and the worst weight e/2 of both errors (module docstring;
    Tamaki & Lo 2006, arXiv:quant-ph/0412035; Fung, Tamaki & Lo 2006, Eq. (9)).
    Decreasing in e, so the bound at an upper estimate of e is valid for any lower e.
    """
    e = float(error_rate)
    if not 0.0 <= e <= 1.0:
        raise ConfigError(f"error_rate must be in [0, 1], got {error_rate!r}")
    if e >= 1.0 / 3.0:
        return 0.0
    return max(0.0, 1.0 - e - (1.0 - e) * float(binary_entropy(e / (1.0 - e))))


def sarg04_rate(qber: float, *, f: float = 1.0) -> float:
    """One-way single-photon SARG04 rate per conclusive bit, ``f(Q) - f_EC h(Q)``.

    Tamaki & Lo, PRA 73, 010302(R) (2006), arXiv:quant-ph/0412035, in the correlated form
    of Fung, Tamaki & Lo, PRA 73, 012337 (2006), Eq. (9); root 9.689 % at ``f = 1``.
    May be negative (no key).
    """
    if not (isinstance(f, (int, float)) and f >= 1.0):
        raise ConfigError(f"f must be a number >= 1, got {f!r}")
    return sarg04_entropy_bound(qber) - float(f) * float(binary_entropy(float(qber)))


def sarg04_analysis() -> CollectiveAttackAnalysis:
    """SARG04's security analysis: one pooled sample and the Scarani–Renner length
    (:mod:`~qkd_circuits.postprocessing.collective`) with :func:`sarg04_entropy_bound`;
    the phase error reported is 3/2 of the bit-error bound (Tamaki & Lo)."""
    return CollectiveAttackAnalysis(
        basis_name=BASIS,
        entropy=sarg04_entropy_bound,
        phase_error=lambda e: 1.5 * e,
        threshold=ASYMPTOTIC_QBER_THRESHOLD,
        theorems=THEOREMS,
    )


def sarg04_key_length(
    samples: Mapping[str, BasisSample],
    *,
    leaked_ec: int | float,
    eps_sec: float,
    eps_cor: float,
    qber_tolerance: float,
    verification_bits: int | None = None,
    statement: Statement = "variable",
) -> KeyLengthResult:
    """Finite-key length of single-photon SARG04 against collective attacks:
    :meth:`CollectiveAttackAnalysis.key_length` of :func:`sarg04_analysis`
    (``verification_bits=None``: the paper's ``log2(2/ε_cor)``)."""
    check_open_unit(eps_cor, name="eps_cor")
    tag = math.ceil(1.0 - math.log2(eps_cor)) if verification_bits is None else verification_bits
    return sarg04_analysis().key_length(
        samples,
        leaked_ec=leaked_ec,
        verification_bits=tag,
        eps_sec=eps_sec,
        eps_cor=eps_cor,
        qber_tolerance=qber_tolerance,
        statement=statement,
    )


class Sarg04Protocol:
    """SARG04 on the :class:`~qkd_circuits.protocols.base.Protocol` interface."""

    info = SARG04_INFO
    registers: tuple[str, ...] = ("bob", "eve")

    def draw_choices(
        self, n: int, *, eve: EveSpec | None = None, rng: RNGLike = None
    ) -> Sarg04Choices:
        """See :func:`draw_choices`."""
        return draw_choices(n, eve=eve, rng=rng)

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """See :func:`circuit_for_code`."""
        return circuit_for_code(code, eve=eve)

    def records(
        self, choices: Sarg04Choices, outcomes: Mapping[str, NDArray[np.uint8]]
    ) -> Sarg04Records:
        """The choices with Bob's (``bob``) and Eve's (``eve``) results."""
        return Sarg04Records(
            choices=choices,
            bob_signs=np.asarray(outcomes["bob"], dtype=np.uint8),
            eve_signs=np.asarray(outcomes["eve"], dtype=np.uint8),
        )

    def sift(self, records: Sarg04Records, *, channel: PublicChannel | None = None) -> SiftedKey:
        """See :func:`sift`."""
        return sift(records, channel=channel)

    def analysis(self, sifted: SiftedKey) -> CollectiveAttackAnalysis:
        """One pooled error rate; the single-photon bound of :func:`sarg04_key_length`."""
        return sarg04_analysis()

    def asymptotic_rate(self, qber: float) -> float:
        """See :func:`sarg04_rate`."""
        return sarg04_rate(qber)

    def max_circuit_qubits(self, *, eve: EveSpec | None = None) -> int:
        """Qubits of the widest circuit a run with ``eve`` uses: 1 (the signal) without
        Eve, 2 (signal, probe) with her (:func:`~qkd_circuits.protocols.choices.widest_circuit`)."""
        return widest_circuit(
            circuit_for_code,
            range(N_CONFIGS),
            eve=eve,
            eve_basis_of=lambda code: BB84Config.from_code(code).eve_basis,
        )

    def report_extras(self, records: Sarg04Records, sifted: SiftedKey) -> dict[str, Any]:
        """SARG04 adds nothing to the report."""
        return {}


SARG04 = Sarg04Protocol()
"""The SARG04 protocol object."""
