"""BBM92: entanglement-based BB84. Bennett, Brassard & Mermin, PRL 68, 557 (1992).

A source prepares Bell pairs |Φ+>; Alice measures her half and Bob his half, each in
Z or X chosen at random (:mod:`qkd_circuits.circuits.entangled`: Bob's half is qubit
0, the one that crosses the channel; Alice's half stays at the source; Eve, if she
attacks, intercepts Bob's half in transit, before the channel). Sifting keeps the
rounds where the two bases match (1/2 of them); for |Φ+> the two results then agree.
Alice's result is drawn by the simulator, a secret draw like Bob's.

Security and key length (why BB84's analysis applies): BBM92 *is* BB84 with the
source in Eve's hands. Alice measuring her half of |Φ+> in a random basis prepares
Bob's half in a uniformly random BB84 state (Bennett, Brassard & Mermin 1992 show
this equivalence), and BB84's security holds with an uncharacterized source that
Eve may prepare herself: Koashi & Preskill, PRL 90, 057902 (2003),
arXiv:quant-ph/0208155. The finite-key proof used for BB84 here, Tomamichel, Lim,
Gisin & Renner, Nat. Commun. 3, 634 (2012), arXiv:1103.4130, is itself
entanglement-based: its uncertainty relation is about Alice's two measurements
(overlap c = 1/2) on her half of a state Eve may have prepared, which is exactly
BBM92's setting. So the key length is BB84's
:class:`~qkd_circuits.postprocessing.security.PhaseErrorAnalysis`, per basis, with
:data:`THEOREMS` quoting this reduction; the asymptotic rate is
:func:`~qkd_circuits.analysis.rates.bbm92_rate` (threshold 11.00 %).

The choices and records defined here (:class:`EntangledChoices`,
:class:`EntangledRecords`) are shared with E91 (:mod:`qkd_circuits.protocols.e91`),
whose Bob also uses the settings W and V.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.analysis.rates import bbm92_rate
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.codes import Codes
from qkd_circuits.circuits.entangled import (
    BOB_SETTINGS,
    N_CONFIGS,
    EntangledConfig,
    config_codes,
    entangled_circuit,
)
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.key_length import THEOREMS as BB84_THEOREMS
from qkd_circuits.postprocessing.security import PhaseErrorAnalysis
from qkd_circuits.postprocessing.sifting import SiftedKey, sift
from qkd_circuits.protocols.choices import (
    check_same_shape,
    circuit_of_exchange,
    draw_secret_choices,
    widest_circuit,
)
from qkd_circuits.protocols.info import BBM92_INFO
from qkd_circuits.randomness import RNGLike
from qkd_circuits.specs import check_int

ASYMPTOTIC_QBER_THRESHOLD = BBM92_INFO.threshold
"""BBM92 one-way threshold, the root of ``bbm92_rate`` = 1 − 2 h(e) (Shor & Preskill,
arXiv:quant-ph/0003004, with Koashi & Preskill's untrusted-source reduction)."""

REDUCTION = (
    "applied to BBM92 (Bennett, Brassard, Mermin, PRL 68, 557 (1992)), which is BB84 with "
    "the source in Eve's hands: BB84's security holds with an uncharacterized source "
    "(Koashi, Preskill, PRL 90, 057902 (2003), arXiv:quant-ph/0208155), and the Tomamichel "
    "et al. proof is itself entanglement-based (uncertainty relation for Alice's two "
    "measurements on her half of a state Eve may prepare)"
)

THEOREMS: dict[str, str] = {k: f"{v}; {REDUCTION}" for k, v in BB84_THEOREMS.items()}
"""The theorem each finite-key statement cites for BBM92 (BB84's, with the reduction)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EntangledChoices:
    """The secret random choices of one run, before any pair is sent; arrays of shape (n,).

    Attributes:
        alice_settings: uint8, 0 = Z, 1 = X.
        bob_settings: uint8, 0 = Z, 1 = X (BBM92); E91 adds 2 = W, 3 = V.
        eve_bases: int8, 0 = Z, 1 = X, -1 where Eve does not intercept.
        eve: The attack the choices were drawn for (None: no Eve); the circuits'
            default.
    """

    alice_settings: NDArray[np.uint8]
    bob_settings: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]
    eve: EveSpec | None = None

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange (see :func:`~qkd_circuits.circuits.
        entangled.config_codes`)."""
        return config_codes(self.alice_settings, self.bob_settings, self.eve_bases)


@dataclass(frozen=True, slots=True, kw_only=True)
class EntangledRecords:
    """Raw records of the quantum phase; every array has shape (n,).

    Attributes:
        alice_settings, bob_settings, eve_bases: As in :class:`EntangledChoices`.
        alice_bits: uint8 0/1, Alice's results (drawn by the simulator).
        bob_bits: uint8 0/1, Bob's results.
        eve_bits: uint8 0/1, Eve's results (0 where she did not intercept).
        protocol: The protocol name the circuits carry (``"bbm92"``, ``"e91"``).
        eve: The attack the exchanges ran under for (None: no Eve); the circuits'
            default.
    """

    alice_settings: NDArray[np.uint8]
    bob_settings: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]
    alice_bits: NDArray[np.uint8]
    bob_bits: NDArray[np.uint8]
    eve_bits: NDArray[np.uint8]
    protocol: str = field(default="bbm92")
    eve: EveSpec | None = None

    def __post_init__(self) -> None:
        names = ("bob_settings", "eve_bases", "alice_bits", "bob_bits", "eve_bits")
        check_same_shape(self, names, self.alice_settings.shape, like="alice_settings")

    @property
    def n(self) -> int:
        """Number of exchanges."""
        return int(self.alice_settings.size)

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange."""
        return config_codes(self.alice_settings, self.bob_settings, self.eve_bases)

    @classmethod
    def from_outcomes(
        cls,
        choices: EntangledChoices,
        outcomes: Mapping[str, NDArray[np.uint8]],
        *,
        protocol: str,
    ) -> EntangledRecords:
        """The records of ``choices`` run through circuits whose ``alice``, ``bob`` and
        ``eve`` registers gave ``outcomes`` (uint8 (n,) each)."""
        return cls(
            alice_settings=choices.alice_settings,
            bob_settings=choices.bob_settings,
            eve_bases=choices.eve_bases,
            alice_bits=outcomes["alice"],
            bob_bits=outcomes["bob"],
            eve_bits=outcomes["eve"],
            protocol=protocol,
            eve=choices.eve,
        )

    def circuit(self, index: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The circuit that exchange ``index`` ran (for inspection and drawing), under
        attack ``eve`` (None: the records' own, :attr:`eve`)."""
        attack = self.eve if eve is None else eve
        return circuit_of_exchange(
            self.codes,
            index,
            lambda code: entangled_circuit(
                EntangledConfig.from_code(code), protocol=self.protocol, eve=attack
            ),
        )


def draw_entangled_choices(
    n: int, *, bob_settings: int, eve: EveSpec | None = None, rng: RNGLike = None
) -> EntangledChoices:
    """Draw Alice's settings (Z or X), Bob's (uniform over ``bob_settings``) and Eve's.

    Args:
        n: Number of exchanges (>= 1).
        bob_settings: 2 (Z, X: BBM92) or 4 (Z, X, W, V: E91).
        eve: Which exchanges Eve attacks (each independently with probability
            ``eve.fraction``) with her attack (a random-basis
            intercept-resend picks Z or X uniformly); None means no Eve.
        rng: Secret generator or seed (None: the OS CSPRNG, see
            :mod:`qkd_circuits.randomness`).
    """
    n = check_int(n, name="number of qubits", minimum=1)
    if bob_settings not in (2, BOB_SETTINGS):
        raise ConfigError(f"bob_settings must be 2 or {BOB_SETTINGS}, got {bob_settings!r}")
    (alice, bob), eve_bases = draw_secret_choices(
        n, (2, bob_settings), eve=eve, eve_bases=2, rng=rng
    )
    return EntangledChoices(alice_settings=alice, bob_settings=bob, eve_bases=eve_bases, eve=eve)


def check_code(code: int, *, bob_settings: int, protocol: str) -> EntangledConfig:
    """The configuration of ``code``, refusing a Bob setting the protocol does not use."""
    config = EntangledConfig.from_code(code)
    if config.bob_setting >= bob_settings:
        raise ConfigError(
            f"{protocol} configuration code {code!r} has Bob setting {config.bob_setting}; "
            f"{protocol} uses settings 0..{bob_settings - 1}"
        )
    return config


class BBM92Protocol:
    """BBM92 on the :class:`~qkd_circuits.protocols.base.Protocol` interface.

    Bell pairs |Φ+>, each half measured in Z or X; sifting keeps the matching bases
    (1/2); the key length is BB84's per-basis phase-error analysis (module docstring
    for why it applies). Without Eve a circuit has 2 qubits and runs on a device
    (``fake:NAME``, ``ibm:NAME``); with Eve it has 3 and runs on Aer only.
    """

    info = BBM92_INFO
    registers: tuple[str, ...] = ("alice", "bob", "eve")

    def draw_choices(
        self, n: int, *, eve: EveSpec | None = None, rng: RNGLike = None
    ) -> EntangledChoices:
        """See :func:`draw_entangled_choices` (Bob in Z or X)."""
        return draw_entangled_choices(n, bob_settings=2, eve=eve, rng=rng)

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The BBM92 circuit of a configuration code (Bob's setting Z or X) under Eve's
        attack ``eve`` (None: random-basis intercept-resend where the code has Eve)."""
        return entangled_circuit(
            check_code(code, bob_settings=2, protocol="bbm92"), protocol="bbm92", eve=eve
        )

    def records(
        self, choices: EntangledChoices, outcomes: Mapping[str, NDArray[np.uint8]]
    ) -> EntangledRecords:
        """See :meth:`EntangledRecords.from_outcomes`."""
        return EntangledRecords.from_outcomes(choices, outcomes, protocol="bbm92")

    def sift(self, records: EntangledRecords, *, channel: PublicChannel | None = None) -> SiftedKey:
        """Bob announces his bases, Alice which ones match (the announcements of
        :func:`~qkd_circuits.postprocessing.sifting.sift`, 0 bits leaked); Eve's results
        at the kept positions ride along for the report."""
        sifted = sift(
            records.alice_bits,
            records.alice_settings,
            records.bob_bits,
            records.bob_settings,
            channel=channel,
        )
        return sifted.with_eve(eve_choice=records.eve_bases, eve_bits=records.eve_bits)

    def analysis(self, sifted: SiftedKey) -> PhaseErrorAnalysis:
        """BB84's analysis, both bases carrying key, citing the BBM92 reduction."""
        return PhaseErrorAnalysis(theorems=THEOREMS)

    def asymptotic_rate(self, qber: float) -> float:
        """``1 − 2 h(Q)``: :func:`~qkd_circuits.analysis.rates.bbm92_rate` (Koashi &
        Preskill 2003, arXiv:quant-ph/0208155; Shor & Preskill, arXiv:quant-ph/0003004),
        evaluated at ``min(Q, 1/2)``."""
        if not 0.0 <= qber <= 1.0:
            raise ConfigError(f"qber must be in [0, 1], got {qber!r}")
        return float(bbm92_rate(min(qber, 0.5)))

    def max_circuit_qubits(self, *, eve: EveSpec | None = None) -> int:
        """Qubits of the widest circuit a run with ``eve`` uses: 2 (Bob's and Alice's
        halves) without Eve, 3 with her probe (:func:`~qkd_circuits.protocols.choices.
        widest_circuit`): the device path takes at most 2."""
        return widest_circuit(
            self.circuit_for_code,
            (c for c in range(N_CONFIGS) if EntangledConfig.from_code(c).bob_setting < 2),
            eve=eve,
            eve_basis_of=lambda code: EntangledConfig.from_code(code).eve_basis,
        )

    def report_extras(self, records: EntangledRecords, sifted: SiftedKey) -> dict[str, Any]:
        """BBM92 adds nothing to the report."""
        return {}


BBM92 = BBM92Protocol()
"""The BBM92 protocol object."""

__all__ = [
    "BBM92",
    "THEOREMS",
    "BBM92Protocol",
    "EntangledChoices",
    "EntangledRecords",
    "draw_entangled_choices",
]
