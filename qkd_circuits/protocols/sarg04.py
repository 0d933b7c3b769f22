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
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit
from scipy.stats import binom

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.attacks.intercept_resend import EveSpec
from qkd_circuits.circuits.bb84 import NO_EVE, BB84Config, bb84_circuit, config_codes
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import BasisSample, check_log_eps, check_sample_qber
from qkd_circuits.postprocessing.key_length import (
    STATEMENTS,
    KeyLengthResult,
    Statement,
    max_accepted_errors,
    select_tolerance,
    tolerance_ladder,
)
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.protocols.base import ProtocolInfo
from qkd_circuits.randomness import RNGLike, ensure_secret_rng
from qkd_circuits.specs import check_int, check_open_unit

BASIS = "SARG04"
"""The one basis name of the sifted key: the proof bounds one pooled error rate."""

X, Z = 1, 0
"""Basis values of the circuits (``alice_bases``, ``bob_bases``): 0 = Z, 1 = X."""

ASYMPTOTIC_QBER_THRESHOLD = 0.0968924893874523
"""Root of :func:`sarg04_rate` (f(e) = h(e)); the 9.68 % quoted for Tamaki & Lo."""

AEP_CONSTANT = 7.0
"""The 7 of Scarani & Renner's Δ = 7 sqrt(log2(2/ε̄)/n) + (2/n) log2(1/ε_PA) for a binary
key (their smooth min-entropy AEP for i.i.d. rounds, after Renner's thesis)."""

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
        eve_bases: Eve's basis, 0 = Z, 1 = X, -1 where she does not intercept.
    """

    alice_signs: NDArray[np.uint8]
    alice_bases: NDArray[np.uint8]
    other_signs: NDArray[np.uint8]
    bob_bases: NDArray[np.uint8]
    eve_bases: NDArray[np.int8]

    def __post_init__(self) -> None:
        n = self.alice_signs.shape
        for name in ("alice_bases", "other_signs", "bob_bases", "eve_bases"):
            if getattr(self, name).shape != n:
                raise ConfigError(
                    f"{name} has shape {getattr(self, name).shape}, expected {n} like alice_signs"
                )

    @property
    def codes(self) -> NDArray[np.int64]:
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
        n = self.choices.alice_signs.shape
        for name in ("bob_signs", "eve_signs"):
            if getattr(self, name).shape != n:
                raise ConfigError(f"{name} has shape {getattr(self, name).shape}, expected {n}")

    @property
    def n(self) -> int:
        """Number of exchanges."""
        return int(self.bob_signs.size)

    def circuit(self, index: int) -> QuantumCircuit:
        """The circuit that exchange ``index`` ran (for inspection and drawing)."""
        if not -self.n <= index < self.n:
            raise ConfigError(f"exchange index {index!r} out of range for {self.n} exchanges")
        return circuit_for_code(int(self.choices.codes[index]))

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
        eve: Which exchanges Eve attacks (each with probability ``eve.fraction``), in a
            uniformly random basis; None means no Eve.
        rng: Secret generator or seed (None: the OS CSPRNG).
    """
    n = check_int(n, name="number of qubits", minimum=1)
    gen = ensure_secret_rng(rng)
    signs, bases, other, bob = (gen.integers(0, 2, size=n, dtype=np.uint8) for _ in range(4))
    eve_bases = np.full(n, NO_EVE, dtype=np.int8)
    if eve is not None and eve.active:
        attacked = gen.random(n) < eve.fraction
        eve_bases[attacked] = gen.integers(0, 2, size=int(attacked.sum()), dtype=np.int8)
    return Sarg04Choices(
        alice_signs=signs, alice_bases=bases, other_signs=other, bob_bases=bob, eve_bases=eve_bases
    )


def circuit_for_code(code: int) -> QuantumCircuit:
    """The circuit of a configuration code: BB84's exchange circuit, relabelled."""
    qc = bb84_circuit(BB84Config.from_code(code))
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
    return sifted.with_eve(attacked=c.eve_bases >= 0, eve_bits=guesses)


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


_LOG_CDF_EXACT_FLOOR = -600.0


def _binom_log_cdf_upper(errors: int, trials: int, p: float) -> float:
    """``ln Pr[Bin(trials, p) <= errors]``, or an upper bound on it deep in the tail.

    Below e^-600 scipy's log-CDF may underflow; there ``CDF <= pmf(e) / (1 - r)`` with
    ``r = e (1 - p) / ((trials - e + 1) p)`` (the ratio of consecutive terms, largest at
    x = e), computed from the exact log-pmf. An upper bound only accepts more p.
    """
    value = float(binom.logcdf(errors, trials, p))
    if math.isfinite(value) and value > _LOG_CDF_EXACT_FLOOR:
        return value
    ratio = errors * (1.0 - p) / ((trials - errors + 1) * p)
    if ratio >= 1.0:
        return 0.0
    return float(binom.logpmf(errors, trials, p)) - math.log1p(-ratio)


def error_probability_bound(sample_bits: int, sample_errors: int, *, log_eps: float) -> float:
    """Clopper–Pearson upper bound on an i.i.d. error probability, failing w.p. <= e^log_eps.

    The smallest ``p⁺`` (to 1e-12) with ``Pr_p[E <= e] <= ε`` for every ``p >= p⁺``,
    ``E ~ Bin(k, p)``; then ``Pr[p > p⁺(E)] <= ε`` (Clopper & Pearson, Biometrika 26, 404
    (1934)). This bounds the per-round probability that collective attacks fix, the
    parameter Scarani & Renner's estimate needs. The hypergeometric
    :func:`~qkd_circuits.postprocessing.estimation.phase_error_bound` bounds a realised
    fraction of the unsampled bits instead, a different statement (larger in every case
    the tests compare).

    Args:
        sample_bits: ``k`` >= 0 (0 gives 1.0: nothing is known).
        sample_errors: ``e`` in [0, k].
        log_eps: Natural log of the failure probability, < 0.
    """
    k = check_int(sample_bits, name="sample_bits", minimum=0)
    e = check_int(sample_errors, name="sample_errors", minimum=0)
    if e > k:
        raise ConfigError(f"sample_errors must be <= sample_bits = {k}, got {e!r}")
    log_eps = check_log_eps(log_eps)
    if k == 0 or e == k:
        return 1.0
    lo, hi = e / k, 1.0  # accepted at lo (Pr[E <= e] >= 1/2 > ε there), rejected at 1
    while hi - lo > 1e-12:
        mid = 0.5 * (lo + hi)
        if _binom_log_cdf_upper(e, k, mid) > log_eps:
            lo = mid
        else:
            hi = mid
    return hi


def _leak(value: int | float, *, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number >= 0, got {value!r}") from exc
    if not (x >= 0.0 and math.isfinite(x)):
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


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
    """Finite-key length of single-photon SARG04 against collective attacks.

    Scarani & Renner (PRL 100, 200501 (2008), arXiv:0708.0709) for i.i.d. rounds:
    ``ℓ <= n [S(X|E) - Δ] - leak_EC - v`` with ``nΔ = 7 sqrt(n log2(2/ε̄)) + 2 log2(1/ε_PA)``
    and S(X|E) minimised over the states the estimate allows; here
    S(X|E) >= :func:`sarg04_entropy_bound` (decreasing) at ``p⁺`` =
    :func:`error_probability_bound` of the sample, so::

        ℓ = floor( n f(p⁺) - 7 sqrt(n log2(2/ε̄)) - leak_EC - v - 2 log2(1/ε_PA) ).

    ε split, per pre-agreed tolerance level of secrecy ε_l (ε_sec, or ε_sec/64 for each of
    the ``"variable"`` ladder's 64 levels, as
    :func:`~qkd_circuits.postprocessing.key_length.finite_key_length` does):
    ε_PE = ε̄ = ε_PA = ε_l/4, with ε_PE + 2ε̄ + ε_PA = ε_l (the smoothing counted twice,
    never less than Scarani & Renner's ε_PE + ε̄ + ε_PA). The count used is the largest a
    level accepts (:func:`~qkd_circuits.postprocessing.key_length.max_accepted_errors`).
    Correctness (ε_cor) is the verification tag's, outside ε_sec.

    Args:
        samples: ``{"SARG04": BasisSample}`` from parameter estimation.
        leaked_ec: Bits disclosed by error correction, >= 0.
        eps_sec: Secrecy parameter, in (0, 1).
        eps_cor: Correctness parameter, in (0, 1) (sets the tag when no length is given).
        qber_tolerance: ``Q_tol`` fixed before the run, in [0, 1].
        verification_bits: Tag bits disclosed, or None for ``log2(2/ε_cor)``.
        statement: ``"variable"`` or ``"fixed"``.

    Raises:
        ConfigError: on out-of-range arguments or samples that leave no key bit.
        ProtocolAbort: ``"qber_above_threshold"`` when the sample exceeds ``Q_tol``.
    """
    if set(samples) != {BASIS} or not isinstance(samples[BASIS], BasisSample):
        raise ConfigError(f"samples must map {BASIS!r} to its BasisSample, got {dict(samples)!r}")
    sample = samples[BASIS]
    n = sample.key_bits
    if n < 1:
        raise ConfigError("samples leave no key bit: nothing to compute a length for")
    leak = _leak(leaked_ec, name="leaked_ec")
    eps_sec = check_open_unit(eps_sec, name="eps_sec")
    eps_cor = check_open_unit(eps_cor, name="eps_cor")
    if statement not in STATEMENTS:
        raise ConfigError(f"statement must be one of {STATEMENTS}, got {statement!r}")
    if verification_bits is None:
        ver = 1.0 - math.log2(eps_cor)
    else:
        ver = float(check_int(verification_bits, name="verification_bits", minimum=0))
    ladder = tolerance_ladder(qber_tolerance, statement)
    tolerance = ladder[select_tolerance({BASIS: sample}, ladder)]
    errors = max_accepted_errors(sample.sample_bits, tolerance)
    log_part = math.log(eps_sec) - math.log(len(ladder)) - math.log(4.0)  # ε_l / 4
    p_plus = error_probability_bound(sample.sample_bits, errors, log_eps=log_part)
    entropy = sarg04_entropy_bound(p_plus)
    privacy = n * entropy
    aep = AEP_CONSTANT * math.sqrt(n * (1.0 - log_part / math.log(2.0)))  # log2(2/ε̄)
    pa_penalty = -2.0 * log_part / math.log(2.0)
    bound = privacy - aep - leak - ver - pa_penalty
    observed = sample.qber if sample.sample_bits else 1.0
    terms = {
        "tolerance": tolerance,
        "levels": float(len(ladder)),
        f"key_bits_{BASIS}": float(n),
        f"test_bits_{BASIS}": float(sample.sample_bits),
        f"test_errors_{BASIS}": float(errors),
        "error_rate_bound": p_plus,
        f"phase_error_bound_{BASIS}": min(0.5, 1.5 * p_plus),
        "entropy_per_bit": entropy,
        "privacy_term": privacy,
        "aep_penalty": aep,
        "leak_ec": leak,
        "verification_leak": ver,
        "pa_penalty": pa_penalty,
        "log_eps_pe": log_part,
        "bound": bound,
    }
    return KeyLengthResult(
        length=max(0, math.floor(bound)),
        statement=statement,
        theorem=THEOREMS[statement],
        phase_error_bound={BASIS: min(0.5, 1.5 * p_plus)},
        asymptotic_bits=max(0, math.floor(n * sarg04_entropy_bound(observed) - leak - ver)),
        terms=terms,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Sarg04Analysis:
    """The security analysis the pipeline asks: one pooled error rate (module docstring).

    Attributes:
        basis_names: ``("SARG04",)``: every sifted bit has basis value 0.
    """

    basis_names: tuple[str, ...] = (BASIS,)

    def check(self, samples: Mapping[str, BasisSample], *, qber_threshold: float) -> None:
        """Abort when the sample's error rate exceeds ``qber_threshold``."""
        check_sample_qber(samples, threshold=qber_threshold)

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
        """See :func:`sarg04_key_length`."""
        return sarg04_key_length(
            samples,
            leaked_ec=leaked_ec,
            verification_bits=verification_bits,
            eps_sec=eps_sec,
            eps_cor=eps_cor,
            qber_tolerance=qber_tolerance,
            statement=statement,
        )


class Sarg04Protocol:
    """SARG04 on the :class:`~qkd_circuits.protocols.base.Protocol` interface."""

    info = ProtocolInfo(
        name="sarg04",
        title="SARG04",
        states="4 states, Z and X eigenstates; the bit is the basis",
        sifting="Bob's result excludes a member of Alice's announced pair (1/4)",
        threshold=ASYMPTOTIC_QBER_THRESHOLD,
        reference="Scarani, Acin, Ribordy & Gisin, PRL 92, 057901 (2004); rate Tamaki & Lo, "
        "PRA 73, 010302(R) (2006); finite key Scarani & Renner, PRL 100, 200501 (2008)",
    )
    registers: tuple[str, ...] = ("bob", "eve")

    def draw_choices(
        self, n: int, *, eve: EveSpec | None = None, rng: RNGLike = None
    ) -> Sarg04Choices:
        """See :func:`draw_choices`."""
        return draw_choices(n, eve=eve, rng=rng)

    def circuit_for_code(self, code: int) -> QuantumCircuit:
        """See :func:`circuit_for_code`."""
        return circuit_for_code(code)

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

    def analysis(self, sifted: SiftedKey) -> Sarg04Analysis:
        """One pooled error rate; the single-photon bound of :func:`sarg04_key_length`."""
        return Sarg04Analysis()

    def asymptotic_rate(self, qber: float) -> float:
        """See :func:`sarg04_rate`."""
        return sarg04_rate(qber)

    def report_extras(self, records: Sarg04Records, sifted: SiftedKey) -> dict[str, Any]:
        """SARG04 adds nothing to the report."""
        return {}


SARG04 = Sarg04Protocol()
"""The SARG04 protocol object."""
