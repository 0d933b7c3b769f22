"""E91: entanglement-based key distribution checked by a Bell test. Ekert, PRL 67, 661 (1991).

A source prepares Bell pairs |Φ+> (:mod:`qkd_circuits.circuits.entangled`; Bob's half
crosses the channel, Alice's stays at the source, Eve intercepts Bob's half in transit).
Design (the settings are directions in the XZ plane, ``E(θa, θb) = cos(θa − θb)``):

* Alice measures Z or X (1/2 each); Bob Z, X, W (π/4) or V (−π/4) (1/4 each).
* **Key rounds**: matching Z–Z and X–X, a fraction 1/4 of the exchanges. These are
  exactly BBM92 rounds: two mutually unbiased bases on each side.
* **Test rounds**: Alice ∈ {Z, X} × Bob ∈ {W, V}, a fraction 1/2. Both parties announce
  their results in every test round and compute the CHSH value (Clauser, Horne,
  Shimony & Holt, PRL 23, 880 (1969))
  ``S = E(Z,W) + E(Z,V) + E(X,W) − E(X,V)``, ``2√2`` for noiseless |Φ+> (Tsirelson's
  bound), at most 2 for any local (e.g. intercepted) correlation.
* The mismatched Z–X and X–Z rounds (1/4) are discarded unannounced.

This is the design of Acín, Brunner, Gisin, Massar, Pironio & Scarani, PRL 98, 230501
(2007), arXiv:quant-ph/0702152 (and Pironio et al., NJP 11, 045021 (2009),
arXiv:0903.4460), with the parties' roles exchanged: the party whose key the other
corrects to (Alice; reconciliation corrects Bob's bits) measures only her two CHSH
settings, and Bob has dedicated key settings. The CHSH expression is symmetric under
exchanging Alice's settings (with Bob's V outcomes relabelled), so their bound on
Eve's information applies to Alice's key bits in either basis.

Abort rule: ``ProtocolAbort("chsh_not_violated")`` unless S is significantly above 2,
i.e. ``S − 2 > z σ_S`` with z = :data:`CHSH_Z` = 5 (:func:`check_chsh`), checked before
the QBER test (:class:`E91Analysis`).

Standard error of S (:attr:`CHSHEstimate.stderr`): in a test round of setting pair i
the product ``x = (−1)^(a ⊕ b)`` is ±1 with mean ``E_i``, so its variance is
``1 − E_i²``; ``Ê_i`` is the mean of ``N_i`` independent rounds, variance
``(1 − E_i²)/N_i``; the four pairs use disjoint rounds, so ``Var Ŝ = Σ_i (1 − E_i²)/N_i``
(given the ``N_i``, which the public settings fix), estimated with ``Ê_i``. A Gaussian
test: meaningful for large ``N_i``.

Key length: BBM92's (:data:`THEOREMS`): the key rounds are BBM92 rounds, so BB84's
per-basis phase-error analysis applies to them by the BBM92 reduction (Koashi &
Preskill, PRL 90, 057902 (2003); Tomamichel et al., Nat. Commun. 3, 634 (2012)). The
test rounds are other systems; their announced results are side information about
systems outside the key, which that proof lets Eve hold (its uncertainty relation
conditions on all of Eve's systems), so they leak **0 bits about the key** and are
sent on the channel (stage ``"chsh_test"``) with ``leaked_bits=0``. The CHSH abort
is one more test on public data, so the ε-security of an accepted run still holds
(the accepted event only shrinks). The emitted length does not rest on S: the CHSH
test is what makes the protocol E91, and S also gives the asymptotic
device-independent rate of Acín et al. 2007, ``1 − h(Q) − h((1 + √((S/2)² − 1))/2)``
(:func:`~qkd_circuits.analysis.rates.chsh_di_rate`), reported as ``di_key_rate`` and
never emitted; its depolarizing-noise threshold is Q ≈ 7.1 %
(``qber_threshold("di-chsh")``), below the 11 % of the emitted length.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.analysis.rates import chsh_di_rate
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.entangled import (
    BOB_SETTINGS,
    N_CONFIGS,
    SETTING_NAMES,
    EntangledConfig,
    entangled_circuit,
)
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.postprocessing.key_length import KeyLengthResult, Statement
from qkd_circuits.postprocessing.security import PhaseErrorAnalysis
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.protocols.bbm92 import (
    BBM92,
    EntangledChoices,
    EntangledRecords,
    check_code,
    draw_entangled_choices,
)
from qkd_circuits.protocols.bbm92 import THEOREMS as BBM92_THEOREMS
from qkd_circuits.protocols.choices import widest_circuit
from qkd_circuits.protocols.info import E91_INFO
from qkd_circuits.randomness import RNGLike

CHSH_Z = 5.0
"""Significance of the CHSH test: abort unless ``S − 2 > CHSH_Z · σ_S``."""

CHSH_PAIRS: tuple[tuple[int, int], ...] = ((0, 2), (0, 3), (1, 2), (1, 3))
"""(Alice, Bob) setting values of the four CHSH correlators: ZW, ZV, XW, XV."""

CHSH_SIGNS: tuple[int, ...] = (1, 1, 1, -1)
"""Sign of each correlator in ``S``."""

TSIRELSON = 2.0 * math.sqrt(2.0)

THEOREMS: dict[str, str] = {
    k: f"{v}; applied to E91's key rounds (matching Z-Z and X-X, BBM92 rounds); its CHSH "
    "test rounds are disjoint systems whose disclosed results Eve may hold as side "
    "information, and the CHSH abort is one more public acceptance test"
    for k, v in BBM92_THEOREMS.items()
}
"""The theorem each finite-key statement cites for E91."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CHSHEstimate:
    """The CHSH value estimated from the disclosed test rounds.

    Attributes:
        rounds: ``N_i``, test rounds of each pair of :data:`CHSH_PAIRS`.
        agreements: Rounds of each pair where Alice's and Bob's results are equal.
    """

    rounds: tuple[int, ...]
    agreements: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.rounds) != len(CHSH_PAIRS) or len(self.agreements) != len(CHSH_PAIRS):
            raise ConfigError(
                f"need {len(CHSH_PAIRS)} round and agreement counts, got {self.rounds!r} "
                f"and {self.agreements!r}"
            )
        if any(not 0 <= a <= n for a, n in zip(self.agreements, self.rounds, strict=True)):
            raise ConfigError(
                f"agreements {self.agreements!r} must be in [0, rounds] for rounds {self.rounds!r}"
            )

    @classmethod
    def from_rounds(
        cls,
        alice_settings: NDArray[np.uint8],
        alice_bits: NDArray[np.uint8],
        bob_settings: NDArray[np.uint8],
        bob_bits: NDArray[np.uint8],
    ) -> CHSHEstimate:
        """Tally the test rounds; every argument is a uint8 array of shape (t,)."""
        same = alice_bits == bob_bits
        rounds, agreements = [], []
        for a, b in CHSH_PAIRS:
            pair = (alice_settings == a) & (bob_settings == b)
            rounds.append(int(np.count_nonzero(pair)))
            agreements.append(int(np.count_nonzero(pair & same)))
        return cls(rounds=tuple(rounds), agreements=tuple(agreements))

    @property
    def complete(self) -> bool:
        """Every pair has at least 2 rounds (else S or its error is undefined)."""
        return min(self.rounds) >= 2

    @property
    def correlators(self) -> tuple[float, ...]:
        """``Ê_i = (agreements − disagreements) / N_i`` per pair (nan for an empty pair)."""
        return tuple(
            (2 * a - n) / n if n else float("nan")
            for a, n in zip(self.agreements, self.rounds, strict=True)
        )

    @property
    def value(self) -> float:
        """``S = Σ_i sign_i Ê_i`` (nan unless :attr:`complete`)."""
        if not self.complete:
            return float("nan")
        return float(sum(s * e for s, e in zip(CHSH_SIGNS, self.correlators, strict=True)))

    @property
    def stderr(self) -> float:
        """``σ_S = √(Σ_i (1 − Ê_i²) / N_i)`` (module docstring; nan unless :attr:`complete`)."""
        if not self.complete:
            return float("nan")
        return math.sqrt(
            sum((1.0 - e * e) / n for e, n in zip(self.correlators, self.rounds, strict=True))
        )


def check_chsh(chsh: CHSHEstimate | None, *, z: float = CHSH_Z) -> None:
    """Abort unless the CHSH value is significantly above the local bound 2.

    Raises:
        ProtocolAbort: ``"chsh_not_violated"`` when ``S − 2 <= z σ_S``, or when some
            setting pair has fewer than 2 test rounds.
    """
    if chsh is None or not chsh.complete:
        rounds = None if chsh is None else chsh.rounds
        raise ProtocolAbort(
            "chsh_not_violated",
            f"too few CHSH test rounds to estimate S: {rounds!r} rounds of the pairs "
            f"{_pair_names()} (need >= 2 each)",
        )
    s, sigma = chsh.value, chsh.stderr
    if not s - 2.0 > z * sigma:
        raise ProtocolAbort(
            "chsh_not_violated",
            f"CHSH value S = {s:.4f} ± {sigma:.4f} is not significantly above 2: "
            f"S - 2 = {s - 2.0:.4f} <= {z:g} sigma = {z * sigma:.4f} "
            f"(test rounds per pair {_pair_names()}: {chsh.rounds})",
        )


def _pair_names() -> str:
    return ",".join(SETTING_NAMES[a] + SETTING_NAMES[b] for a, b in CHSH_PAIRS)


@dataclass(frozen=True, slots=True, kw_only=True)
class E91SiftedKey(SiftedKey):
    """E91's sifted key (the key rounds) with the CHSH estimate of its test rounds.

    Attributes:
        chsh: The tallies of the disclosed test rounds (None: none computed).
        test_rounds: Number of test rounds (Bob in W or V).
    """

    chsh: CHSHEstimate | None = None
    test_rounds: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class E91Analysis:
    """E91's verdict and length: the CHSH test, then BBM92's per-basis analysis.

    Attributes:
        chsh: This run's CHSH estimate (from its disclosed test rounds).
        z: Significance of the CHSH test (:func:`check_chsh`).
        key: The finite-key analysis of the key rounds (BBM92's, citing :data:`THEOREMS`).
    """

    chsh: CHSHEstimate | None
    z: float = CHSH_Z
    key: PhaseErrorAnalysis = field(default_factory=lambda: PhaseErrorAnalysis(theorems=THEOREMS))

    @property
    def basis_names(self) -> tuple[str, ...]:
        """``("Z", "X")``: the key rounds' bases."""
        return self.key.basis_names

    def check(self, samples: Mapping[str, BasisSample], *, qber_threshold: float) -> None:
        """Abort on the CHSH test (first), then on a sample QBER over ``qber_threshold``."""
        check_chsh(self.chsh, z=self.z)
        self.key.check(samples, qber_threshold=qber_threshold)

    def key_length(
        self,
        samples: Mapping[str, BasisSample],
        *,
        leaked_ec: int | float,
        verification_bits: int,
        eps_sec: float,
        eps_cor: float,
        qber_tolerance: float,
        statement: Statement,
    ) -> KeyLengthResult:
        """BBM92's finite-key length of the key rounds (module docstring)."""
        return self.key.key_length(
            samples,
            leaked_ec=leaked_ec,
            verification_bits=verification_bits,
            eps_sec=eps_sec,
            eps_cor=eps_cor,
            qber_tolerance=qber_tolerance,
            statement=statement,
        )


class E91Protocol:
    """E91 on the :class:`~qkd_circuits.protocols.base.Protocol` interface (module
    docstring). Without Eve a circuit has 2 qubits and runs on a device (``fake:NAME``,
    ``ibm:NAME``); with Eve it has 3 and runs on Aer only.

    Args:
        chsh_z: Significance of the CHSH test (default :data:`CHSH_Z`).
    """

    info = E91_INFO
    registers: tuple[str, ...] = ("alice", "bob", "eve")

    def __init__(self, *, chsh_z: float = CHSH_Z) -> None:
        if not (isinstance(chsh_z, (int, float)) and math.isfinite(chsh_z) and chsh_z >= 0):
            raise ConfigError(f"chsh_z must be a finite number >= 0, got {chsh_z!r}")
        self.chsh_z = float(chsh_z)

    def draw_choices(
        self, n: int, *, eve: EveSpec | None = None, rng: RNGLike = None
    ) -> EntangledChoices:
        """Alice Z or X, Bob Z, X, W or V, uniformly (see
        :func:`~qkd_circuits.protocols.bbm92.draw_entangled_choices`)."""
        return draw_entangled_choices(n, bob_settings=BOB_SETTINGS, eve=eve, rng=rng)

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The E91 circuit of a configuration code under Eve's attack ``eve`` (None:
        random-basis intercept-resend where the code has Eve)."""
        config = check_code(code, bob_settings=BOB_SETTINGS, protocol="e91")
        return entangled_circuit(config, protocol="e91", eve=eve)

    def records(
        self, choices: EntangledChoices, outcomes: Mapping[str, NDArray[np.uint8]]
    ) -> EntangledRecords:
        """See :meth:`~qkd_circuits.protocols.bbm92.EntangledRecords.from_outcomes`."""
        return EntangledRecords.from_outcomes(choices, outcomes, protocol="e91")

    def sift(
        self, records: EntangledRecords, *, channel: PublicChannel | None = None
    ) -> E91SiftedKey:
        """Announce the settings, keep the key rounds, disclose and tally the test rounds.

        On ``channel``: stage ``"sifting"``, Bob's settings (one byte each, 0..3) and
        Alice's (bit-packed), 0 bits leaked (they are independent of the results);
        stage ``"chsh_test"``, Alice's and then Bob's results in the test rounds, 0 bits
        leaked about the key (module docstring: those rounds are not key rounds).
        """
        alice_set, bob_set = records.alice_settings, records.bob_settings
        if channel is not None:
            channel.send("sifting", "bob", np.asarray(bob_set, dtype=np.uint8).tobytes())
            channel.send("sifting", "alice", np.asarray(alice_set, dtype=np.uint8))
        key = np.flatnonzero(alice_set == bob_set)
        test = np.flatnonzero(bob_set >= 2)
        alice_test, bob_test = records.alice_bits[test], records.bob_bits[test]
        if channel is not None:
            channel.send("chsh_test", "alice", alice_test, leaked_bits=0)
            channel.send("chsh_test", "bob", bob_test, leaked_bits=0)
        sifted = E91SiftedKey(
            alice=records.alice_bits[key],
            bob=records.bob_bits[key],
            positions=key.astype(np.int64),
            bases=alice_set[key].astype(np.uint8),
            chsh=CHSHEstimate.from_rounds(alice_set[test], alice_test, bob_set[test], bob_test),
            test_rounds=int(test.size),
        )
        # dataclasses.replace (inside with_eve) keeps the subclass and its CHSH tallies.
        return cast(
            E91SiftedKey,
            sifted.with_eve(eve_choice=records.eve_bases, eve_bits=records.eve_bits),
        )

    def analysis(self, sifted: SiftedKey) -> E91Analysis:
        """The CHSH test of this run's test rounds, then BBM92's key-round analysis."""
        chsh = sifted.chsh if isinstance(sifted, E91SiftedKey) else None
        return E91Analysis(chsh=chsh, z=self.chsh_z)

    def asymptotic_rate(self, qber: float) -> float:
        """Rate of the emitted (BBM92-style) length: ``1 − 2 h(Q)``,
        :func:`~qkd_circuits.analysis.rates.bbm92_rate` (Koashi & Preskill 2003,
        arXiv:quant-ph/0208155), at ``min(Q, 1/2)``. The device-independent rate is
        reported separately (``di_key_rate``)."""
        return BBM92.asymptotic_rate(qber)

    def max_circuit_qubits(self, *, eve: EveSpec | None = None) -> int:
        """Qubits of the widest circuit a run with ``eve`` uses: 2 (Bob's and Alice's
        halves) without Eve, 3 with her probe (:func:`~qkd_circuits.protocols.choices.
        widest_circuit`): the device path takes at most 2."""
        return widest_circuit(
            self.circuit_for_code,
            range(N_CONFIGS),
            eve=eve,
            eve_basis_of=lambda code: EntangledConfig.from_code(code).eve_basis,
        )

    def report_extras(self, records: EntangledRecords, sifted: SiftedKey) -> dict[str, Any]:
        """``chsh_s``, ``chsh_s_stderr`` and ``di_key_rate``, the asymptotic DI rate of
        Acín et al., PRL 98, 230501 (2007), Eq. (2), at S (clipped to [0, 2√2]: a
        sampled S can pass Tsirelson's bound) and at Q, the sifted key's error rate
        (what error correction tells Alice and Bob). Empty when S is undefined."""
        chsh = sifted.chsh if isinstance(sifted, E91SiftedKey) else None
        if chsh is None or not chsh.complete:
            return {}
        out: dict[str, Any] = {"chsh_s": chsh.value, "chsh_s_stderr": chsh.stderr}
        if sifted.size:
            s = min(max(chsh.value, 0.0), TSIRELSON)
            out["di_key_rate"] = float(chsh_di_rate(s, min(sifted.error_rate(), 0.5)))
        return out


E91 = E91Protocol()
"""The E91 protocol object."""

__all__ = [
    "CHSH_PAIRS",
    "CHSH_SIGNS",
    "CHSH_Z",
    "E91",
    "THEOREMS",
    "CHSHEstimate",
    "E91Analysis",
    "E91Protocol",
    "E91SiftedKey",
    "check_chsh",
]
