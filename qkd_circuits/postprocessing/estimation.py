"""Parameter estimation: the QBER of a disclosed random sample and its finite-sample bound.

Alice picks ``k`` positions of the sifted key uniformly at random without
replacement and announces them; both parties announce their bits at those
positions, count the disagreements and discard the sample. What remains
(``n = N - k`` bits) is the key that goes on to reconciliation.

The observed error rate ``Λ = errors / k`` says little by itself: the
security analysis needs an upper bound on the error rate ``Λ_key`` of the
*remaining* ``n`` bits, which Eve's attack fixed before the sample was drawn.
Because the sample is a uniformly random subset, Serfling's inequality for
sampling without replacement (R. J. Serfling, "Probability inequalities for
the sum in sampling without replacement", Ann. Statist. 2, 39–48 (1974)),
used exactly this way in Tomamichel, Lim, Gisin & Renner, Nat. Commun. 3, 634
(2012), arXiv:1103.4130, Supplementary Note 2, gives for any fixed pair of
strings

    Pr[Λ_key ≥ Λ + μ] ≤ exp(−2 n k² μ² / ((n + k)(k + 1))),

so with ``μ = sampling_deviation(n, k, eps)`` the bound ``Λ + μ`` fails with
probability at most ``eps``. The derivation: the key is a sample of size
``n`` without replacement from the ``N = n + k`` positions, Serfling gives
``Pr[Λ_key ≥ Λ_tot + δ] ≤ exp(−2 n δ² N / (k + 1))`` and
``Λ_key − Λ = (N / k)(Λ_key − Λ_tot)``, so ``δ = k μ / N``.

Leakage accounting: the positions are independent of the key (leaked 0).
Alice's ``k`` sample bits and Bob's ``k`` sample bits are both announced; each
message is recorded with ``leaked_bits = k`` (``2k`` for the stage). These
bits are *discarded* from the key, so this leakage is accounted for by
removing the sample (``n`` excludes it), not by subtracting it again from the
secret key length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.bits import as_bits
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.randomness import RNGLike, ensure_rng
from qkd_circuits.specs import check_int, check_open_unit

__all__ = [
    "QBEREstimate",
    "check_qber",
    "estimate_qber",
    "sampling_deviation",
]


def sampling_deviation(n: int, k: int, eps: float) -> float:
    """Serfling deviation μ: ``Pr[Λ_key ≥ Λ_sample + μ] ≤ eps`` for a random sample.

    ``μ = sqrt((n + k)/(n k) · (k + 1)/k · ln(1/eps) / 2)``, from Serfling's
    inequality for sampling without replacement (Ann. Statist. 2, 39 (1974)) as
    in Tomamichel et al., arXiv:1103.4130, Supplementary Note 2 (Eqs. S10–S15).

    Note on conventions: ``eps`` here is the *failure probability* of the
    bound. The paper's μ (main text Eq. (2)),
    ``sqrt((n + k)/(n k) · (k + 1)/k · ln(4/ε_sec))``, is the bound that fails
    with probability ``(ε_sec/4)²``, i.e. ``sampling_deviation(n, k,
    (eps_sec / 4) ** 2)``; :mod:`~qkd_circuits.postprocessing.key_length` uses
    exactly that.

    Args:
        n: Number of bits in the remaining (unsampled) key, >= 1.
        k: Number of sampled bits, >= 1.
        eps: Failure probability, in (0, 1).

    Returns:
        μ >= 0 (may exceed 1 for tiny samples; callers clip rates to [0, 1]).

    Raises:
        ConfigError: if ``n`` or ``k`` < 1 or ``eps`` is outside (0, 1).
    """
    n = check_int(n, name="n (remaining key bits)", minimum=1)
    k = check_int(k, name="k (sample size)", minimum=1)
    eps = check_open_unit(eps, name="eps")
    return math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(1.0 / eps) / 2.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class QBEREstimate:
    """Result of parameter estimation on a sifted key.

    Attributes:
        sample_positions: Sorted indices (int64, shape (k,)) into the sifted key
            that were disclosed.
        sample_size: ``k``, the number of disclosed positions (>= 1).
        sample_errors: Number of disagreements in the sample.
        qber: ``sample_errors / sample_size``.
        qber_upper: ``min(1, qber + μ)`` with ``μ = sampling_deviation(n, k, eps)``:
            an upper bound on the error rate of the *remaining* key that fails
            with probability at most ``eps``.
        eps: Failure probability of ``qber_upper``.
        key_alice: Alice's sifted key with the sample removed (uint8, shape (n,)).
        key_bob: Bob's sifted key with the sample removed (uint8, shape (n,)).
    """

    sample_positions: NDArray[np.int64]
    sample_size: int
    sample_errors: int
    qber: float
    qber_upper: float
    eps: float
    key_alice: NDArray[np.uint8]
    key_bob: NDArray[np.uint8]

    def __post_init__(self) -> None:
        if self.sample_size < 1 or self.sample_positions.shape != (self.sample_size,):
            raise ConfigError(
                f"sample_size must be >= 1 and match sample_positions, got "
                f"{self.sample_size!r} and shape {self.sample_positions.shape}"
            )
        if not 0 <= self.sample_errors <= self.sample_size:
            raise ConfigError(
                f"sample_errors must be in [0, {self.sample_size}], got {self.sample_errors!r}"
            )
        if not (0.0 <= self.qber <= self.qber_upper <= 1.0):
            raise ConfigError(
                f"need 0 <= qber <= qber_upper <= 1, got {self.qber!r}, {self.qber_upper!r}"
            )
        check_open_unit(self.eps, name="eps")
        if self.key_alice.shape != self.key_bob.shape or self.key_alice.ndim != 1:
            raise ConfigError(
                f"remaining keys must be 1-D of equal length, got shapes "
                f"{self.key_alice.shape} and {self.key_bob.shape}"
            )

    @property
    def key_length(self) -> int:
        """``n``: length of the remaining key."""
        return int(self.key_alice.size)


def estimate_qber(
    alice_sifted: ArrayLike,
    bob_sifted: ArrayLike,
    *,
    sample_fraction: float = 0.1,
    eps: float = 1e-10,
    channel: PublicChannel | None = None,
    rng: RNGLike = None,
    stage: str = "estimation",
) -> QBEREstimate:
    """Estimate the QBER from a random sample of the sifted keys and remove the sample.

    The sample size is ``k = ceil(sample_fraction · N)`` for ``N`` sifted bits.
    Messages on ``channel`` (stage ``stage``): Alice's sample positions
    (int64 bytes, leaked 0), Alice's sample bits (leaked ``k``), Bob's sample
    bits (leaked ``k``); see the module docstring for why this leakage is not
    subtracted again from the key length.

    Args:
        alice_sifted: Alice's sifted key, 1-D 0/1 (any integer or bool dtype).
        bob_sifted: Bob's sifted key, same length.
        sample_fraction: Fraction of the sifted key disclosed, in (0, 1).
        eps: Failure probability of the upper bound ``qber_upper``, in (0, 1).
        channel: Public channel that records the disclosure (optional).
        rng: Generator, seed or None; draws the sample positions.
        stage: Stage name used on the channel.

    Returns:
        A :class:`QBEREstimate` holding the remaining keys.

    Raises:
        ConfigError: empty or mismatched keys, non-binary values,
            ``sample_fraction`` or ``eps`` outside (0, 1).
        ProtocolAbort: ``"key_too_short"`` if the sample would leave no key bit.
    """
    alice = as_bits(alice_sifted, name="alice_sifted")
    bob = as_bits(bob_sifted, name="bob_sifted")
    if alice.size == 0:
        raise ConfigError("sifted keys are empty: nothing to estimate from")
    if alice.size != bob.size:
        raise ConfigError(
            f"sifted keys must have equal length, got {alice.size} (Alice) and {bob.size} (Bob)"
        )
    fraction = check_open_unit(sample_fraction, name="sample_fraction")
    eps = check_open_unit(eps, name="eps")
    generator = ensure_rng(rng)

    total = int(alice.size)
    k = max(1, math.ceil(fraction * total))
    n = total - k
    if n < 1:
        raise ProtocolAbort(
            "key_too_short",
            f"a sample of {k} bits (sample_fraction={fraction!r}) leaves no key bit "
            f"from {total} sifted bits",
        )

    positions = np.sort(generator.choice(total, size=k, replace=False, shuffle=False)).astype(
        np.int64
    )
    sample_a = alice[positions]
    sample_b = bob[positions]
    errors = int(np.count_nonzero(sample_a != sample_b))

    if channel is not None:
        channel.send(stage, "alice", positions, leaked_bits=0)
        channel.send(stage, "alice", sample_a, leaked_bits=k)
        channel.send(stage, "bob", sample_b, leaked_bits=k)

    keep = np.ones(total, dtype=bool)
    keep[positions] = False
    qber = errors / k
    mu = sampling_deviation(n, k, eps)
    return QBEREstimate(
        sample_positions=positions,
        sample_size=k,
        sample_errors=errors,
        qber=qber,
        qber_upper=min(1.0, qber + mu),
        eps=eps,
        key_alice=alice[keep],
        key_bob=bob[keep],
    )


def check_qber(estimate: QBEREstimate, *, threshold: float, use_upper: bool = False) -> None:
    """Abort if the estimated QBER exceeds ``threshold``.

    By default the *observed* sample QBER is compared with the threshold (the
    tolerated error rate ``Q_tol`` of Tomamichel et al., arXiv:1103.4130,
    Table I: "The protocol aborts if λ > Q_tol"); the finite-sample penalty then
    enters through the key length. ``use_upper=True`` compares the upper bound
    ``qber_upper`` instead (more conservative).

    Args:
        estimate: Result of :func:`estimate_qber`.
        threshold: Tolerated error rate, in [0, 1].
        use_upper: Compare ``qber_upper`` instead of ``qber``.

    Raises:
        ConfigError: if ``threshold`` is outside [0, 1].
        ProtocolAbort: ``"qber_above_threshold"`` when the compared value exceeds it.
    """
    try:
        thr = float(threshold)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"threshold must be a number in [0, 1], got {threshold!r}") from exc
    if not (0.0 <= thr <= 1.0):
        raise ConfigError(f"threshold must be in [0, 1], got {threshold!r}")
    value = estimate.qber_upper if use_upper else estimate.qber
    if value > thr:
        which = "upper bound on the QBER" if use_upper else "sample QBER"
        raise ProtocolAbort(
            "qber_above_threshold",
            f"{which} {value:.6f} exceeds the threshold {thr:.6f} "
            f"(sample: {estimate.sample_errors} errors in {estimate.sample_size} bits, "
            f"qber={estimate.qber:.6f}, qber_upper={estimate.qber_upper:.6f} at "
            f"eps={estimate.eps:g})",
        )
