"""BB84's quantum phase: random choices, circuits, execution, raw records.

Bennett & Brassard 1984 (arXiv:2003.06557). For each exchange Alice draws a
bit and a basis, Bob draws a basis, and (with probability ``eve.fraction``)
Eve attacks, as her :class:`~qkd_circuits.attacks.spec.EveSpec` says. Exchanges
are run as real circuits (:mod:`qkd_circuits.circuits.bb84`) through an executor,
grouped by configuration (fast) or one circuit per exchange (literal).

:data:`BB84` is the protocol object the runner uses
(:class:`~qkd_circuits.protocols.base.Protocol`); the functions below are its
parts, usable on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.bb84 import N_CONFIGS, BB84Config, bb84_circuit, config_codes
from qkd_circuits.circuits.codes import Codes
from qkd_circuits.circuits.exchange import NO_EVE
from qkd_circuits.execution.base import Executor, ProgressCallback
from qkd_circuits.optics.detections import Detections
from qkd_circuits.optics.link import LinkModel
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.key_length import shor_preskill_rate
from qkd_circuits.postprocessing.photon_analysis import GLLPAnalysis
from qkd_circuits.postprocessing.security import PhaseErrorAnalysis, SecurityAnalysis
from qkd_circuits.postprocessing.sifting import SiftedKey, sift
from qkd_circuits.protocols.base import run_exchanges
from qkd_circuits.protocols.choices import (
    check_same_shape,
    circuit_of_exchange,
    draw_secret_choices,
    widest_circuit,
)
from qkd_circuits.protocols.info import BB84_INFO
from qkd_circuits.randomness import RNGLike, ensure_secret_rng

ASYMPTOTIC_QBER_THRESHOLD = BB84_INFO.threshold
"""BB84 one-way threshold: 1 - 2 h(e) = 0 (Shor & Preskill, quant-ph/0003004)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeRecords:
    """Raw records of the quantum phase; every array has shape (n,).

    Attributes:
        alice_bits: uint8 0/1.
        alice_bases: uint8, 0 = Z, 1 = X.
        bob_bases: uint8, 0 = Z, 1 = X.
        bob_bits: uint8 0/1, Bob's measurement results.
        eve_bases: int8, 0 = Z, 1 = X, -1 where Eve did not intercept.
        eve_bits: uint8 0/1, Eve's measurement results (0 where she did not intercept).
        eve: The attack the exchanges ran under for (None: no Eve); the circuits'
            default.
    """

    alice_bits: NDArray[np.uint8]
    alice_bases: NDArray[np.uint8]
    bob_bases: NDArray[np.uint8]
    bob_bits: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]
    eve_bits: NDArray[np.uint8]
    eve: EveSpec | None = None

    def __post_init__(self) -> None:
        names = ("alice_bases", "bob_bases", "bob_bits", "eve_bases", "eve_bits")
        check_same_shape(self, names, self.alice_bits.shape, like="alice_bits")

    @property
    def n(self) -> int:
        """Number of exchanges."""
        return int(self.alice_bits.size)

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange (see :func:`config_codes`)."""
        return config_codes(self.alice_bits, self.alice_bases, self.bob_bases, self.eve_bases)

    @classmethod
    def from_outcomes(
        cls, choices: BB84Choices, outcomes: dict[str, NDArray[np.uint8]]
    ) -> ExchangeRecords:
        """The records of ``choices`` run through circuits whose registers gave ``outcomes``.

        Args:
            choices: The run's random choices.
            outcomes: Per-exchange results of the ``bob`` and ``eve`` registers, uint8 (n,).
        """
        return cls(
            alice_bits=choices.alice_bits,
            alice_bases=choices.alice_bases,
            bob_bases=choices.bob_bases,
            bob_bits=outcomes["bob"],
            eve_bases=choices.eve_bases,
            eve_bits=outcomes["eve"],
            eve=choices.eve,
        )

    def circuit(self, index: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The circuit that exchange ``index`` ran (for inspection and drawing), under
        attack ``eve`` (None: the records' own, :attr:`eve`)."""
        attack = self.eve if eve is None else eve
        return circuit_of_exchange(self.codes, index, partial(circuit_for_code, eve=attack))


@dataclass(frozen=True, slots=True, kw_only=True)
class BB84Choices:
    """The random choices of one run, before any qubit is sent; arrays of shape (n,).

    Attributes:
        alice_bits, alice_bases, bob_bases, eve_bases: As in :class:`ExchangeRecords`.
        eve: The attack the choices were drawn for (None: no Eve); the circuits'
            default.
    """

    alice_bits: NDArray[np.uint8]
    alice_bases: NDArray[np.uint8]
    bob_bases: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]
    eve: EveSpec | None = None

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange (see :func:`config_codes`)."""
        return config_codes(self.alice_bits, self.alice_bases, self.bob_bases, self.eve_bases)


def draw_choices(n: int, *, eve: EveSpec | None = None, rng: RNGLike = None) -> BB84Choices:
    """Draw Alice's bits and bases, Bob's bases and Eve's (uniform, independent).

    Args:
        n: Number of exchanges (>= 1).
        eve: Which exchanges Eve attacks (each independently with probability
            ``eve.fraction``) with her attack (a random-basis
            intercept-resend picks uniformly); None means no Eve.
        rng: Secret generator or seed (None: a fresh generator keyed from the OS CSPRNG,
            see :mod:`qkd_circuits.randomness`).
    """
    (alice_bits, alice_bases, bob_bases), eve_bases = draw_secret_choices(
        n, (2, 2, 2), eve=eve, eve_bases=2, rng=rng
    )
    return BB84Choices(
        alice_bits=alice_bits,
        alice_bases=alice_bases,
        bob_bases=bob_bases,
        eve_bases=eve_bases,
        eve=eve,
    )


def detected_choices(detections: Detections, *, eve: EveSpec, rng: RNGLike = None) -> BB84Choices:
    """BB84 choices of a link run's detected pulses, shape (D,): Alice's bits and bases
    and Bob's bases uniform (:func:`draw_choices`); Eve's choice 0 on the pulses she holds
    a photon of (``eve.kind == "pns"``), ``NO_EVE`` elsewhere."""
    gen = ensure_secret_rng(rng)
    n = detections.count
    if n:
        base = draw_choices(n, rng=gen)
        bits, bases, bob = base.alice_bits, base.alice_bases, base.bob_bases
    else:
        bits = bases = bob = np.zeros(0, dtype=np.uint8)
    pns = eve.kind == "pns"
    eve_bases = np.where(detections.tagged & pns, 0, NO_EVE).astype(np.int8)
    return BB84Choices(
        alice_bits=bits,
        alice_bases=bases,
        bob_bases=bob,
        eve_bases=eve_bases,
        eve=eve if pns else None,
    )


def circuit_for_code(code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
    """The BB84 circuit of a configuration code (see :func:`config_codes`) under Eve's
    attack ``eve`` (None: random-basis intercept-resend where the code has Eve)."""
    return bb84_circuit(BB84Config.from_code(code), eve=eve)


def run_quantum_phase(
    choices: BB84Choices,
    executor: Executor,
    *,
    eve: EveSpec | None = None,
    literal: bool = False,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> ExchangeRecords:
    """Send every exchange through its circuit on ``executor`` and collect the raw records.

    Args:
        choices: The run's random choices (:func:`draw_choices`).
        executor: Where the circuits run (e.g. :class:`~qkd_circuits.execution.AerExecutor`).
        eve: The attack ``choices`` were drawn for (None: ``choices.eve``).
        literal: One circuit per exchange instead of one per configuration.
        rng: Secret generator or seed for the outcome draws, scatter permutations and
            simulator seeds (None: OS CSPRNG).
        progress: ``progress(done, total)`` callback (literal path reports per chunk).
    """
    records: ExchangeRecords = run_exchanges(
        BB84, choices, executor, eve=eve, literal=literal, rng=rng, progress=progress
    )
    return records


class BB84Protocol:
    """BB84 on the :class:`~qkd_circuits.protocols.base.Protocol` interface.

    Four states (Z and X eigenstates); sifting keeps the exchanges where Bob's
    basis equals Alice's (1/2 of them); the key is drawn from both bases, each
    basis's phase error bounded from the other's sample (Tomamichel et al. 2012).
    """

    info = BB84_INFO
    registers: tuple[str, ...] = ("bob", "eve")

    def draw_choices(
        self, n: int, *, eve: EveSpec | None = None, rng: RNGLike = None
    ) -> BB84Choices:
        """See :func:`draw_choices`."""
        return draw_choices(n, eve=eve, rng=rng)

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """See :func:`circuit_for_code`."""
        return circuit_for_code(code, eve=eve)

    def records(
        self, choices: BB84Choices, outcomes: Mapping[str, NDArray[np.uint8]]
    ) -> ExchangeRecords:
        """See :meth:`ExchangeRecords.from_outcomes`."""
        return ExchangeRecords.from_outcomes(choices, dict(outcomes))

    def sift(self, records: ExchangeRecords, *, channel: PublicChannel | None = None) -> SiftedKey:
        """Bob announces his bases, Alice which ones match (:func:`~qkd_circuits.
        postprocessing.sifting.sift`); Eve's results at the kept positions ride along
        for the report."""
        sifted = sift(
            records.alice_bits,
            records.alice_bases,
            records.bob_bits,
            records.bob_bases,
            channel=channel,
        )
        return sifted.with_eve(eve_choice=records.eve_bases, eve_bits=records.eve_bits)

    def analysis(self, sifted: SiftedKey) -> PhaseErrorAnalysis:
        """Both bases carry key; Z's phase error from X's sample and vice versa."""
        return PhaseErrorAnalysis()

    def draw_detected_choices(
        self, detections: Detections, *, eve: EveSpec, rng: RNGLike = None
    ) -> BB84Choices:
        """The choices of a link run's detected pulses (:mod:`qkd_circuits.optics`):
        drawn as :func:`draw_choices` (a pulse's bit and bases do not change whether it
        clicks), with Eve on the pulses she holds a photon of (``pns``)."""
        return detected_choices(detections, eve=eve, rng=rng)

    def link_analysis(
        self, sifted: SiftedKey, link: LinkModel, detections: Detections
    ) -> SecurityAnalysis:
        """Over a link: single photons as :meth:`analysis`; weak coherent pulses without
        decoys, GLLP's worst case, every multi-photon pulse tagged
        (:class:`~qkd_circuits.postprocessing.photon_analysis.GLLPAnalysis`)."""
        if link.source.kind == "single-photon":
            return PhaseErrorAnalysis()
        return GLLPAnalysis(mu=link.source.mu, pulses=detections.pulses)

    def asymptotic_rate(self, qber: float) -> float:
        """``1 − 2 h(Q)`` (Shor & Preskill, PRL 85, 441 (2000), arXiv:quant-ph/0003004)."""
        return shor_preskill_rate(qber)

    def max_circuit_qubits(self, *, eve: EveSpec | None = None) -> int:
        """Qubits of the widest circuit a run with ``eve`` uses: 1 (the signal) without
        Eve, 2 (signal, probe) with her (:func:`~qkd_circuits.protocols.choices.widest_circuit`)."""
        return widest_circuit(
            circuit_for_code,
            range(N_CONFIGS),
            eve=eve,
            eve_basis_of=lambda code: BB84Config.from_code(code).eve_basis,
        )

    def report_extras(self, records: ExchangeRecords, sifted: SiftedKey) -> dict[str, Any]:
        """BB84 adds nothing to the report."""
        return {}


BB84 = BB84Protocol()
"""The BB84 protocol object."""
