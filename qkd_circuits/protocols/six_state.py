"""The six-state protocol: random choices, circuits, raw records, sifting, security analysis.

Bruß, "Optimal eavesdropping in quantum cryptography with six states", PRL 81,
3018 (1998), arXiv:quant-ph/9805019. Alice sends a random bit in a random one
of the three bases Z, X, Y (the six eigenstates of the Pauli operators), Bob
measures in a random one of the three, and sifting keeps the exchanges where
the bases match (1/3 of them). Circuits: :mod:`qkd_circuits.circuits.six_state`.

Security, asymptotic. The one-way rate is Lo's, Quantum Inf. Comput. 1, 81
(2001), arXiv:quant-ph/0102138 (:func:`~qkd_circuits.analysis.rates.six_state_rate`):
testing all three bases bounds the correlation between bit and phase errors,
and the rate reaches 0 at a QBER of 12.62 %.

Security, finite key (what an emitted key's length comes from). Tomamichel,
Lim, Gisin & Renner, Nat. Commun. 3, 634 (2012), arXiv:1103.4130, per basis as
in Lo, Chau & Ardehali, J. Cryptol. 18, 133 (2005): key bits come from all
three bases, and the phase error of each basis's key bits is bounded from the
sample of another basis: Z from X, X from Y, Y from Z
(:class:`~qkd_circuits.postprocessing.security.PhaseErrorAnalysis`). Why the
proof applies: its entropic uncertainty relation needs only that, at every key
position, the key measurement and the measurement whose errors are estimated
have overlap ``c = max |<z|x>|^2 = 1/2``, i.e. are mutually unbiased, and Z, X
and Y are pairwise mutually unbiased; its sampling argument needs only that
the basis labels of the sifted positions are random and unknown to Eve when
she acts (Alice's state averaged over the bit is I/2 in every basis), so the
test positions of the conjugate basis are a uniformly random subset of its
test positions and the key positions it bounds. This is **conservative**: it
does not use the six-state tomographic advantage (the bit/phase error
correlation Lo's rate exploits), so each basis costs ``h(bit error) +
h(phase error)`` as in BB84 and the emitted key's QBER threshold is about 11 %,
not 12.6 %. No key length comes from Lo's asymptotic rate.

:data:`SIX_STATE` is the protocol object the runner uses
(:class:`~qkd_circuits.protocols.base.Protocol`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.analysis.rates import six_state_rate
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.codes import Codes
from qkd_circuits.circuits.six_state import (
    BASIS_NAMES,
    N_CONFIGS,
    SixStateConfig,
    config_codes,
    six_state_circuit,
)
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.security import PhaseErrorAnalysis
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.protocols.choices import (
    ChoiceRecords,
    check_same_shape,
    draw_secret_choices,
    widest_circuit,
)
from qkd_circuits.protocols.info import SIX_STATE_INFO
from qkd_circuits.randomness import RNGLike

ASYMPTOTIC_QBER_THRESHOLD = SIX_STATE_INFO.threshold
"""Six-state one-way threshold, root of Lo's rate (Lo, QIC 1, 81 (2001), quant-ph/0102138).
The finite-key analysis used here is conservative and stops at about 11 % (module docstring)."""

CONJUGATE: dict[str, str] = {"Z": "X", "X": "Y", "Y": "Z"}
"""Basis of the key bits -> basis whose sample bounds their phase error (all pairs unbiased)."""

_PROOF = (
    "Tomamichel, Lim, Gisin, Renner, Nat. Commun. 3, 634 (2012), arXiv:1103.4130, Suppl. "
    "Theorem 2 (Eq. S3) for the six-state protocol (Bruss, PRL 81, 3018 (1998)), per basis "
    "(Lo, Chau, Ardehali, J. Cryptol. 18, 133 (2005)) with key bits in Z, X and Y and the "
    "phase error of each bounded from the sample of a mutually unbiased basis (Z from X, X "
    "from Y, Y from Z; overlap c = 1/2, all the uncertainty relation needs), {tolerance}, "
    "exact hypergeometric sampling bound; conservative: the six-state tomographic advantage "
    "(Lo, QIC 1, 81 (2001)) is not used, so the key's QBER threshold is about 11%, not 12.6%"
)
THEOREMS: dict[str, str] = {
    "variable": _PROOF.format(
        tolerance="at the lowest of 64 pre-agreed tolerances the samples pass, each at "
        "eps_sec/64 (union bound; variable length as in Tupkary, Tan, Lutkenhaus, "
        "arXiv:2311.01600)"
    ),
    "fixed": _PROOF.format(tolerance="at the pre-agreed tolerance Q_tol"),
}
"""The theorem each finite-key statement's length comes from (quoted in every report)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SixStateChoices:
    """The random choices of one run, before any qubit is sent; arrays of shape (n,).

    Attributes:
        alice_bits: uint8 0/1.
        alice_bases: uint8, 0 = Z, 1 = X, 2 = Y.
        bob_bases: uint8, 0 = Z, 1 = X, 2 = Y.
        eve_bases: int8, 0 = Z, 1 = X, 2 = Y, -1 where Eve does not intercept.
        eve: The attack the choices were drawn for (None: no Eve); the circuits'
            default.
    """

    alice_bits: NDArray[np.uint8]
    alice_bases: NDArray[np.uint8]
    bob_bases: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]
    eve: EveSpec | None = None

    def __post_init__(self) -> None:
        names = ("alice_bases", "bob_bases", "eve_bases")
        check_same_shape(self, names, self.alice_bits.shape, like="alice_bits")

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange (:func:`~qkd_circuits.circuits.six_state.
        config_codes`), uint8 (n,) in [0, 72)."""
        return config_codes(self.alice_bits, self.alice_bases, self.bob_bases, self.eve_bases)


@dataclass(frozen=True, slots=True, kw_only=True)
class SixStateRecords(ChoiceRecords[SixStateChoices]):
    """Raw records of the quantum phase; every array has shape (n,)
    (:class:`~qkd_circuits.protocols.choices.ChoiceRecords`).

    Attributes:
        choices: The run's random choices.
        bob_bits: uint8 0/1, Bob's measurement results.
        eve_bits: uint8 0/1, Eve's results (0 where she did not intercept).
    """

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The six-state circuit of a configuration code (:class:`SixStateConfig`)."""
        return SIX_STATE.circuit_for_code(code, eve=eve)


def draw_choices(n: int, *, eve: EveSpec | None = None, rng: RNGLike = None) -> SixStateChoices:
    """Draw Alice's bits and bases, Bob's bases and Eve's (uniform, independent).

    Args:
        n: Number of exchanges (>= 1).
        eve: Which exchanges Eve attacks (each independently with probability
            ``eve.fraction``), in a uniformly random one of the three bases; None: no Eve.
        rng: Secret generator or seed (None: a fresh generator keyed from the OS CSPRNG,
            see :mod:`qkd_circuits.randomness`).
    """
    (alice_bits, alice_bases, bob_bases), eve_bases = draw_secret_choices(
        n, (2, 3, 3), eve=eve, eve_bases=3, rng=rng
    )
    return SixStateChoices(
        alice_bits=alice_bits,
        alice_bases=alice_bases,
        bob_bases=bob_bases,
        eve_bases=eve_bases,
        eve=eve,
    )


def sift_records(records: SixStateRecords, *, channel: PublicChannel | None = None) -> SiftedKey:
    """Keep the exchanges Bob measured in Alice's basis (1/3 of them on average).

    Bob announces his bases (one byte each, values 0/1/2), Alice which ones match
    (one bit each); neither says anything about the bits (``leaked_bits=0``). The
    sifted ``bases`` are uint8 0/1/2 (Z/X/Y); Eve's results at the kept positions
    ride along for the report.
    """
    c = records.choices
    match = c.alice_bases == c.bob_bases
    if channel is not None:
        channel.send("sifting", "bob", c.bob_bases.astype(np.uint8).tobytes())
        channel.send("sifting", "alice", match.astype(np.uint8))
    positions = np.flatnonzero(match).astype(np.int64)
    sifted = SiftedKey(
        alice=c.alice_bits[positions],
        bob=records.bob_bits[positions],
        positions=positions,
        bases=c.alice_bases[positions].astype(np.uint8),
        basis_names=BASIS_NAMES,
    )
    return sifted.with_eve(eve_choice=c.eve_bases, eve_bits=records.eve_bits)


class SixStateProtocol:
    """The six-state protocol on the :class:`~qkd_circuits.protocols.base.Protocol` interface.

    Six states (Z, X and Y eigenstates); sifting keeps the exchanges where Bob's
    basis equals Alice's (1/3 of them); the key is drawn from all three bases, each
    basis's phase error bounded from the next basis's sample (module docstring).
    """

    info = SIX_STATE_INFO
    registers: tuple[str, ...] = ("bob", "eve")

    def draw_choices(
        self, n: int, *, eve: EveSpec | None = None, rng: RNGLike = None
    ) -> SixStateChoices:
        """See :func:`draw_choices`."""
        return draw_choices(n, eve=eve, rng=rng)

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The circuit of a configuration code (:class:`SixStateConfig`) under Eve's
        attack ``eve`` (None: random-basis intercept-resend where the code has Eve)."""
        return six_state_circuit(SixStateConfig.from_code(code), eve=eve)

    def records(
        self, choices: SixStateChoices, outcomes: Mapping[str, NDArray[np.uint8]]
    ) -> SixStateRecords:
        """``choices`` with the ``bob`` and ``eve`` registers' results, uint8 (n,)."""
        return SixStateRecords(choices=choices, bob_bits=outcomes["bob"], eve_bits=outcomes["eve"])

    def sift(self, records: SixStateRecords, *, channel: PublicChannel | None = None) -> SiftedKey:
        """See :func:`sift_records`."""
        return sift_records(records, channel=channel)

    def analysis(self, sifted: SiftedKey) -> PhaseErrorAnalysis:
        """Key from Z, X and Y; phase errors of Z from X's sample, X from Y's, Y from Z's
        (Tomamichel et al. 2012 with mutually unbiased pairs; conservative, module docstring)."""
        return PhaseErrorAnalysis(basis_names=BASIS_NAMES, conjugate=CONJUGATE, theorems=THEOREMS)

    def asymptotic_rate(self, qber: float) -> float:
        """Lo's one-way rate ``1 − h(e) − e − (1 − e) h((1 − 3e/2)/(1 − e))`` (Lo, QIC 1, 81
        (2001), arXiv:quant-ph/0102138; :func:`~qkd_circuits.analysis.rates.six_state_rate`),
        for ``qber`` in [0, 0.5]."""
        return float(six_state_rate(qber))

    def max_circuit_qubits(self, *, eve: EveSpec | None = None) -> int:
        """Qubits of the widest circuit a run with ``eve`` uses: 1 (the signal) without
        Eve, 2 (signal, probe) with her (:func:`~qkd_circuits.protocols.choices.widest_circuit`)."""
        return widest_circuit(
            self.circuit_for_code,
            range(N_CONFIGS),
            eve=eve,
            eve_basis_of=lambda code: SixStateConfig.from_code(code).eve_basis,
        )

    def report_extras(self, records: SixStateRecords, sifted: SiftedKey) -> dict[str, Any]:
        """The six-state protocol adds nothing to the report."""
        return {}


SIX_STATE = SixStateProtocol()
"""The six-state protocol object."""


__all__ = [
    "ASYMPTOTIC_QBER_THRESHOLD",
    "CONJUGATE",
    "SIX_STATE",
    "THEOREMS",
    "SixStateChoices",
    "SixStateProtocol",
    "SixStateRecords",
    "draw_choices",
    "sift_records",
]
