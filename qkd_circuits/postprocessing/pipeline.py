"""From sifted key to secret key: estimation, reconciliation, verification, amplification,
authentication, in one call.

Every stage speaks through one :class:`PublicChannel`, so the final length is
computed from what was actually disclosed. A :class:`ProtocolAbort` in any stage
is a normal outcome: no key is emitted and the result says why. The transcript
is authenticated at the end whether or not the run aborted (the pre-shared key
bits the tags consume are spent either way, and are reported).

Every emitted key carries a finite-key ε-security statement
(:mod:`~qkd_circuits.postprocessing.key_length`): its length is computed from
the per-basis samples and from every bit actually disclosed. The asymptotic
length is reported beside it, never emitted.

Randomness: ``rng`` draws only *public* values (sample positions, shuffles,
hash keys, the Toeplitz seed); the simulated pre-shared authentication key is
secret and comes from ``secret_rng`` (the OS CSPRNG by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
from numpy.typing import ArrayLike

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.bits import Bits, as_bits
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.amplification import amplify
from qkd_circuits.postprocessing.authentication import (
    AuthenticationResult,
    authenticate_transcript,
)
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import QBEREstimate, estimate_qber
from qkd_circuits.postprocessing.key_length import (
    STATEMENTS,
    KeyLengthResult,
    Statement,
    check_key_length,
)
from qkd_circuits.postprocessing.reconciliation.cascade import (
    ReconciliationResult,
    reconcile_cascade,
)
from qkd_circuits.postprocessing.reconciliation.cascade_variants import CASCADE_VARIANTS
from qkd_circuits.postprocessing.security import PhaseErrorAnalysis, SecurityAnalysis
from qkd_circuits.postprocessing.verification import VerificationResult, verify_keys
from qkd_circuits.randomness import RNGLike, ensure_rng, ensure_secret_rng
from qkd_circuits.specs import check_open_unit
from qkd_circuits.timing import StageCallback, Stopwatch

MIN_HASH_EPS = 1e-300
"""Smallest ε_cor and ε_auth: their hash families are sized in floating point."""

STAGES = ("estimation", "reconciliation", "verification", "key_length", "amplification")
"""Post-processing stages in order (authentication follows them, always)."""


LDPC_VARIANTS = ("blind",)
"""Variants of ``ldpc`` (``"ldpc"`` alone: rate-adaptive, one message and one ack per frame)."""


def _allowed_reconciliations() -> str:
    return (
        f"cascade[:VARIANT] with VARIANT in {', '.join(CASCADE_VARIANTS)}, "
        f"ldpc or ldpc:{'|'.join(LDPC_VARIANTS)}"
    )


def parse_reconciliation(spec: str) -> tuple[str, str]:
    """Split ``"cascade"`` / ``"cascade:VARIANT"`` / ``"ldpc"`` / ``"ldpc:blind"`` into
    ``(method, variant)``; ``"ldpc"`` gives ``("ldpc", "")``."""
    if not isinstance(spec, str):
        raise ConfigError(f"reconciliation must be a string such as 'cascade:biconf', got {spec!r}")
    method, colon, variant = spec.partition(":")
    if method == "ldpc":
        if colon and variant not in LDPC_VARIANTS:
            raise ConfigError(
                f"unknown ldpc variant {variant!r} in {spec!r}; allowed: "
                f"{_allowed_reconciliations()}"
            )
        return method, variant
    if colon and not variant:
        raise ConfigError(
            f"empty cascade variant in {spec!r}; allowed: {', '.join(CASCADE_VARIANTS)}"
        )
    if method != "cascade":
        raise ConfigError(f"unknown reconciliation {spec!r}; allowed: {_allowed_reconciliations()}")
    variant = variant or "original"
    if variant not in CASCADE_VARIANTS:
        raise ConfigError(
            f"unknown cascade variant {variant!r} in {spec!r}; "
            f"allowed: {', '.join(CASCADE_VARIANTS)}"
        )
    return method, variant


def _padding_rng(secret_rng: RNGLike) -> RNGLike:
    """Secret stream of LDPC's punctured padding bits, independent of the pre-shared key's:
    None stays None (a fresh OS-CSPRNG generator), a Generator is shared (its later draws
    differ), an int seed gives a spawned child of that seed."""
    if secret_rng is None or isinstance(secret_rng, np.random.Generator):
        return secret_rng
    if isinstance(secret_rng, bool) or not isinstance(secret_rng, (int, np.integer)):
        return secret_rng  # ensure_secret_rng reports the bad value
    return np.random.default_rng(np.random.SeedSequence(int(secret_rng), spawn_key=(0x1D9C,)))


@dataclass(frozen=True, slots=True, kw_only=True)
class PostprocessingConfig:
    """Parameters of the classical post-processing.

    Attributes:
        sample_fraction: Fraction of the sifted key disclosed to estimate the QBER, in (0, 1).
        qber_threshold: Abort when the sample QBER exceeds this (``Q_tol``), in [0, 0.5].
        reconciliation: ``"cascade"``, ``"cascade:VARIANT"``, ``"ldpc"`` or ``"ldpc:blind"``.
        key_length: The finite-key statement: ``"variable"`` (the length from the
            observed sample errors, Tupkary et al. arXiv:2311.01600) or ``"fixed"``
            (from ``qber_threshold`` as ``Q_tol``, Tomamichel et al. 2012 Theorem 2).
        eps_sec: Secrecy parameter, in (0, 1).
        eps_cor: Correctness parameter (collision probability of verification), in (0, 1).
        eps_auth: Forgery probability of the authentication, in (0, 1).
    """

    sample_fraction: float = 0.1
    qber_threshold: float = 0.11
    reconciliation: str = "cascade:original"
    key_length: Statement = "variable"
    eps_sec: float = 1e-10
    eps_cor: float = 1e-15
    eps_auth: float = 1e-15

    def __post_init__(self) -> None:
        check_open_unit(self.sample_fraction, name="sample fraction")
        if not 0.0 <= self.qber_threshold <= 0.5:
            raise ConfigError(f"qber threshold must be in [0, 0.5], got {self.qber_threshold!r}")
        parse_reconciliation(self.reconciliation)
        if self.key_length == "asymptotic":
            raise ConfigError(
                "key length 'asymptotic' is not an ε-secure statement and is never emitted "
                "(it is reported beside the finite-key length as key_length.asymptotic_bits); "
                f"allowed: {', '.join(STATEMENTS)}"
            )
        if self.key_length not in STATEMENTS:
            raise ConfigError(
                f"unknown key length statement {self.key_length!r}; allowed: "
                f"{', '.join(STATEMENTS)}"
            )
        for name in ("eps_sec", "eps_cor", "eps_auth"):
            check_open_unit(getattr(self, name), name=name)
        for name in ("eps_cor", "eps_auth"):
            if getattr(self, name) < MIN_HASH_EPS:
                raise ConfigError(
                    f"{name} must be >= {MIN_HASH_EPS:g} (a hash tag that long is never "
                    f"needed), got {getattr(self, name)!r}"
                )

    def for_one_of(self, blocks: int) -> PostprocessingConfig:
        """The parameters of each of ``blocks`` keys distilled one after the other and
        concatenated: every ε divided by ``blocks``, so that by composability the
        concatenation is ε_sec-secret, ε_cor-correct and ε_auth-authenticated
        (Portmann & Renner, arXiv:1409.3525, Sec. 4)."""
        return replace(
            self,
            eps_sec=self.eps_sec / blocks,
            eps_cor=self.eps_cor / blocks,
            eps_auth=self.eps_auth / blocks,
        )


Reconciler = Callable[..., ReconciliationResult]


def public_streams(rng: RNGLike) -> dict[str, np.random.Generator]:
    """One child of the public generator per stage of :data:`STAGES`, so a stage's draws
    do not depend on how much an earlier stage drew. With a seeded ``rng`` every public
    value of the run can be recomputed."""
    gen = ensure_rng(rng)
    return dict(zip(STAGES, gen.spawn(len(STAGES)), strict=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class DistillationResult:
    """Outcome of the post-processing.

    Attributes:
        key_alice: Alice's final key, uint8 (m,); empty when aborted.
        key_bob: Bob's final key, uint8 (m,); empty when aborted.
        aborted: True when no key was emitted.
        abort_reason: Machine-readable reason, or None.
        abort_message: Explanation, or None.
        estimate, reconciliation, verification, key_length, authentication:
            Each stage's result (None for stages not reached).
        residual_errors: Errors left in Bob's reconciled key (known to the simulator),
            or None when reconciliation was not reached.
        channel: The public channel with the whole transcript.
        timings_s: Seconds per stage.
    """

    key_alice: Bits
    key_bob: Bits
    aborted: bool
    abort_reason: str | None
    abort_message: str | None
    estimate: QBEREstimate | None
    reconciliation: ReconciliationResult | None
    verification: VerificationResult | None
    key_length: KeyLengthResult | None
    authentication: AuthenticationResult
    residual_errors: int | None
    channel: PublicChannel = field(repr=False)
    timings_s: dict[str, float]

    @property
    def final_key_bits(self) -> int:
        """Length of the final key (0 when aborted)."""
        return int(self.key_alice.size)

    @property
    def keys_match(self) -> bool | None:
        """Alice's final key equals Bob's (None when no key was emitted)."""
        return None if self.aborted else bool(np.array_equal(self.key_alice, self.key_bob))

    @property
    def net_key_bits(self) -> int:
        """Final key bits minus the pre-shared bits authentication consumed (may be negative)."""
        return self.final_key_bits - self.authentication.key_bits_used

    def reconciliation_efficiency(self) -> float:
        """``leaked / (n · h(e))`` with ``e`` the actual error rate of the reconciled frame.

        The definition of arXiv:1407.3257 (nan when reconciliation was not run or e = 0).
        """
        rec, est = self.reconciliation, self.estimate
        if rec is None or est is None or est.key_alice.size == 0:
            return float("nan")
        e = float(np.mean(est.key_alice != est.key_bob))
        h = float(binary_entropy(e))
        return rec.leaked_bits / (est.key_alice.size * h) if h > 0 else float("nan")


def sample_fractions(security: SecurityAnalysis, default: float) -> float | Mapping[str, float]:
    """The fraction of each basis that parameter estimation discloses.

    An analysis that needs a basis-dependent sample (decoy BB84 discloses its whole
    test basis) has the optional method ``sample_fractions(default) -> {basis:
    fraction}`` (:class:`~qkd_circuits.postprocessing.security.SecurityAnalysis`);
    every other analysis gets ``default`` (``PostprocessingConfig.sample_fraction``)
    for each basis.
    """
    method = getattr(security, "sample_fractions", None)
    if method is None:
        return default
    if not callable(method):
        raise ConfigError(
            f"{type(security).__name__}.sample_fractions must be a method "
            f"(default: float) -> Mapping[str, float], got {method!r}"
        )
    fractions = method(default)
    if not isinstance(fractions, Mapping):
        raise ConfigError(
            f"{type(security).__name__}.sample_fractions({default!r}) must return a mapping "
            f"from basis name to fraction, got {fractions!r}"
        )
    return dict(fractions)


def distill_key(
    alice_sifted: ArrayLike,
    bob_sifted: ArrayLike,
    *,
    bases: ArrayLike,
    config: PostprocessingConfig | None = None,
    channel: PublicChannel | None = None,
    preshared_key: ArrayLike | None = None,
    rng: RNGLike = None,
    secret_rng: RNGLike = None,
    reconciler: Reconciler | None = None,
    on_stage: StageCallback | None = None,
    analysis: SecurityAnalysis | None = None,
) -> DistillationResult:
    """Run the whole post-processing on a sifted key.

    Args:
        alice_sifted: Alice's sifted key, uint8 0/1 (n,).
        bob_sifted: Bob's sifted key, uint8 0/1 (n,).
        bases: Basis of each sifted bit, uint8 (n,): value ``i`` is
            ``analysis.basis_names[i]`` (BB84: 0 = Z, 1 = X). Required: each basis's
            phase error is bounded from another basis's sample.
        config: Parameters (defaults: :class:`PostprocessingConfig`).
        channel: Public channel to record on (a fresh one when None); a channel
            that already carries the sifting messages gets them authenticated too.
        preshared_key: Pre-shared bits for authentication; None simulates a fresh
            pre-shared key drawn from ``secret_rng``.
        rng: Public generator or seed (sample positions, shuffles, hash keys,
            Toeplitz seed); one child stream per stage.
        secret_rng: Secret generator or seed for the simulated pre-shared key;
            None: the OS CSPRNG (:func:`~qkd_circuits.randomness.secret_generator`).
        reconciler: Replaces the configured reconciler (:func:`reconcile_cascade`, or
            :func:`~.reconciliation.ldpc.reconcile_ldpc` for ``ldpc[:blind]``; same
            signature); for tests of what verification catches.
        on_stage: Called with each stage's name as it starts (progress display).
        analysis: The protocol's security analysis: its bases, its abort test and
            its finite-key length (default: BB84's
            :class:`~qkd_circuits.postprocessing.security.PhaseErrorAnalysis`); with
            a ``sample_fractions`` method it sets each basis's disclosed fraction
            (:func:`sample_fractions`), a basis disclosed whole (1.0) leaving no
            bit in the key.

    Raises:
        ConfigError: on invalid input (non-binary or mismatched keys). An empty
            sifted key is a reported abort (``"key_too_short"``), not an error.
    """
    cfg = config or PostprocessingConfig()
    alice = as_bits(alice_sifted, name="alice_sifted")
    bob = as_bits(bob_sifted, name="bob_sifted")
    security = analysis if analysis is not None else PhaseErrorAnalysis()
    basis_of = np.asarray(bases)
    if not alice.size == bob.size == basis_of.size:
        raise ConfigError(
            f"sifted keys and bases differ in length: {alice.size} (Alice), {bob.size} (Bob), "
            f"{basis_of.size} (bases)"
        )
    rngs = public_streams(rng)
    chan = channel if channel is not None else PublicChannel()
    method, variant = parse_reconciliation(cfg.reconciliation)
    reconcile: Reconciler
    if reconciler is not None:
        reconcile = reconciler
    elif method == "ldpc":
        # One-way syndrome decoding; a frame that fails is left uncorrected and the
        # verification below rejects the key (reconciliation/ldpc.py, "Frame errors").
        # Imported here: its codes need scipy.sparse, 0.14 s that Cascade runs skip.
        from qkd_circuits.postprocessing.reconciliation.ldpc import reconcile_ldpc

        reconcile = partial(
            reconcile_ldpc, blind=variant == "blind", secret_rng=_padding_rng(secret_rng)
        )
    else:
        reconcile = reconcile_cascade
    clock = Stopwatch(on_stage)
    est: QBEREstimate | None = None
    rec: ReconciliationResult | None = None
    ver: VerificationResult | None = None
    length: KeyLengthResult | None = None
    residual: int | None = None
    key_a = key_b = np.zeros(0, dtype=np.uint8)
    aborted, reason, message = False, None, None
    try:
        if alice.size == 0:
            raise ProtocolAbort("key_too_short", "no exchange was sifted: nothing to distil")
        with clock("estimation"):
            est = estimate_qber(
                alice,
                bob,
                bases=basis_of,
                sample_fraction=sample_fractions(security, cfg.sample_fraction),
                channel=chan,
                rng=rngs["estimation"],
                basis_names=security.basis_names,
            )
        security.check(est.samples, qber_threshold=cfg.qber_threshold)
        with clock("reconciliation"):
            rec = reconcile(
                est.key_alice,
                est.key_bob,
                qber=est.qber,
                variant=variant,
                channel=chan,
                rng=rngs["reconciliation"],
            )
        residual = int(np.count_nonzero(rec.corrected != est.key_alice))
        with clock("verification"):
            ver = verify_keys(
                est.key_alice,
                rec.corrected,
                eps_cor=cfg.eps_cor,
                channel=chan,
                rng=rngs["verification"],
            )
        with clock("key_length"):
            length = security.key_length(
                est.samples,
                leaked_ec=chan.total_leaked_bits(stage="reconciliation"),
                eps_sec=cfg.eps_sec,
                eps_cor=cfg.eps_cor,
                verification_bits=chan.total_leaked_bits(stage="verification"),
                statement=cfg.key_length,
                qber_tolerance=cfg.qber_threshold,
            )
            check_key_length(length)
        with clock("amplification"):
            key_a, key_b = amplify(
                est.key_alice,
                rec.corrected,
                out_len=length.length,
                channel=chan,
                rng=rngs["amplification"],
            )
    except ProtocolAbort as abort:
        aborted, reason, message = True, abort.reason, str(abort)
        key_a = key_b = np.zeros(0, dtype=np.uint8)

    with clock("authentication"):
        auth = authenticate_transcript(
            chan,
            preshared_key=preshared_key,
            eps_auth=cfg.eps_auth,
            rng=ensure_secret_rng(secret_rng) if preshared_key is None else None,
            raise_on_failure=False,
        )
    if not auth.verified and not aborted:
        aborted, reason = True, auth.failure or "authentication_failed"
        message = auth.failure_message
        key_a = key_b = np.zeros(0, dtype=np.uint8)

    return DistillationResult(
        key_alice=key_a,
        key_bob=key_b,
        aborted=aborted,
        abort_reason=reason,
        abort_message=message,
        estimate=est,
        reconciliation=rec,
        verification=ver,
        key_length=length,
        authentication=auth,
        residual_errors=residual,
        channel=chan,
        timings_s=clock.timings,
    )
