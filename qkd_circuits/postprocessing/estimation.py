"""Parameter estimation per basis: disclosed random samples and phase-error bounds.

Alice picks, *in each basis separately*, ``k_B = ceil(sample_fraction · N_B)``
of the ``N_B`` sifted positions of basis B uniformly at random without
replacement and announces them; both parties announce their bits there,
count the disagreements and discard the samples. What remains (``n_B =
N_B − k_B`` bits per basis, both bases together) goes on to reconciliation.

Why per basis. The secrecy of key bits measured in basis B rests on their
*phase* error: the error rate the conjugate measurement would have shown on
the same positions. That is bounded by the errors of the conjugate basis's
sample, never by a sample that mixes the bases (Lo, Chau & Ardehali,
"Efficient quantum key distribution scheme and a proof of its unconditional
security", J. Cryptol. 18, 133 (2005), arXiv:quant-ph/0011056; Tomamichel,
Lim, Gisin & Renner, Nat. Commun. 3, 634 (2012), arXiv:1103.4130, where the
key is Z and the test X). A mixed sample is only valid when both bases are
equally likely; with a biased choice and an Eve who measures in the
majority basis it hides her almost completely.

The bound. Sifting and sampling label every sifted position Z-key, Z-test,
X-key or X-test; given the counts, that labelling is uniformly random (Eve
does not know the bases when she attacks), so the X-test positions are a
uniformly random ``k_X``-subset of Z-key ∪ X-test. Imagine all of them
measured in X: among the ``N = n_Z + k_X`` positions there are ``W`` errors,
and the number ``E`` falling in the test is hypergeometric, ``E ~ Hyp(N, W,
k_X)``. For an observed ``e`` let ``w⁺(e)`` be the largest ``w`` with
``Pr_w[E ≤ e] > ε``; then ``Pr[W > w⁺(E)] ≤ ε`` (the CDF evaluated at its own
sample is stochastically no smaller than uniform), so the phase error of the
Z key obeys ``Λ_Z ≤ (w⁺(e) − e) / n_Z`` except with probability ε. This is
the exact (Clopper–Pearson-type) hypergeometric tail of which Serfling's
inequality (Ann. Statist. 2, 39 (1974); Tomamichel et al. 2012, Suppl.
Note 2 — :func:`sampling_deviation`) is a relaxation: it makes the same
statement ``Pr[Λ_key ≥ Λ_test + μ] ≤ ε`` with a smaller μ. Everything is
computed in logarithms (``log_eps``), so ε far below 1e-300 works.

Leakage accounting: the positions are independent of the key (leaked 0).
Alice's and Bob's sample bits are announced (leaked ``k`` each) and
*discarded*, so this leakage is accounted for by removing the sample (``n``
excludes it), not by subtracting it again from the key length.

Wire format of the positions (:func:`encode_sample_positions`): the set of
``k`` sampled positions among the ``N`` sifted bits is sent in whichever of
two encodings is shorter, both a function of the set alone — a bitmap over
the sifted key (``np.packbits`` of the sample mask, ``ceil(N/8)`` bytes, the
padding bits zero), or, for small samples (``k·w < ceil(N/8)``), the sorted
positions as little-endian unsigned integers of the narrowest width ``w`` ∈
{1, 2, 4, 8} bytes that holds ``N − 1``. ``N`` is public (both parties hold
the sifted key), the list form is strictly shorter than the bitmap, so the
payload's length says which form it is and :func:`decode_sample_positions`
inverts the encoding exactly: the message says the same as the int64 array
it replaces (which cost ``8k`` bytes, ``0.8 N`` at a 10 % sample, against
``N/8`` for the bitmap).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.analysis.tails import hypergeom_logcdf, hypergeom_logpmf
from qkd_circuits.bits import as_bits
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.randomness import RNGLike, ensure_rng
from qkd_circuits.specs import check_closed_unit, check_int, check_open_unit

__all__ = [
    "BASIS_NAMES",
    "BasisSample",
    "QBEREstimate",
    "check_log_eps",
    "check_qber",
    "check_sample_qber",
    "decode_sample_positions",
    "encode_sample_positions",
    "estimate_qber",
    "phase_error_bound",
    "phase_error_bounds",
    "sampling_deviation",
]

BASIS_NAMES: tuple[str, ...] = ("Z", "X")
"""BB84's bases: value 0 is Z, 1 is X (as in the sifted key's ``bases``). A protocol with
other bases passes its own names (value ``i`` is ``basis_names[i]``)."""

CONJUGATE: Mapping[str, str] = {"Z": "X", "X": "Z"}
"""BB84's map from a basis to the basis whose test errors bound the phase error of its
key bits; a protocol with other bases passes its own."""


def check_log_eps(log_eps: float, *, name: str = "log_eps") -> float:
    """Validate a natural-log failure probability: a finite number < 0."""
    try:
        value = float(log_eps)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a finite number < 0, got {log_eps!r}") from None
    if not (math.isfinite(value) and value < 0.0):
        raise ConfigError(
            f"{name} must be a finite number < 0 (ln of a probability), got {log_eps!r}"
        )
    return value


def sampling_deviation(n: int, k: int, eps: float) -> float:
    """Serfling deviation μ: ``Pr[Λ_key ≥ Λ_sample + μ] ≤ eps`` for a random sample.

    ``μ = sqrt((n + k)/(n k) · (k + 1)/k · ln(1/eps) / 2)``, from Serfling's
    inequality for sampling without replacement (Ann. Statist. 2, 39 (1974)) as
    in Tomamichel et al., arXiv:1103.4130, Supplementary Note 2 (Eqs. S10–S15).
    The paper's μ (main text Eq. (2)) is ``sampling_deviation(n, k, (ε_sec/4)²)``.
    :func:`phase_error_bound` is the exact, tighter form of the same statement.

    Args:
        n: Number of bits in the remaining (unsampled) key, >= 1.
        k: Number of sampled bits, >= 1.
        eps: Failure probability, in (0, 1).

    Returns:
        μ >= 0 (may exceed 1 for tiny samples; callers clip rates to [0, 1]).
    """
    n = check_int(n, name="n (remaining key bits)", minimum=1)
    k = check_int(k, name="k (sample size)", minimum=1)
    eps = check_open_unit(eps, name="eps")
    return math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(1.0 / eps) / 2.0)


def phase_error_bound(
    key_bits: int, sample_bits: int, sample_errors: int, *, log_eps: float
) -> float:
    """Upper bound on the error rate of ``key_bits`` unsampled bits, failing w.p. ≤ e^log_eps.

    Exact hypergeometric tail (module docstring): ``(w⁺ − e) / n`` with ``w⁺``
    the largest total error count ``w`` for which ``Pr[Hyp(n + k, w, k) ≤ e] >
    ε``, found by bisection on the log-CDF (monotone decreasing in ``w``); for
    more than 10^4 sample errors on a tight upper bound of it (see
    :func:`_log_cdf_upper`), which can only make the bound larger.

    Args:
        key_bits: ``n``, bits whose error rate is bounded (>= 0; 0 gives 0.0).
        sample_bits: ``k``, sampled bits (>= 0; 0 gives 1.0: nothing is known).
        sample_errors: ``e``, errors among them, in [0, k].
        log_eps: Natural log of the failure probability, < 0.

    Returns:
        The bound, in [0, 1].

    Raises:
        ConfigError: on out-of-range arguments.
    """
    n = check_int(key_bits, name="key_bits", minimum=0)
    k = check_int(sample_bits, name="sample_bits", minimum=0)
    e = check_int(sample_errors, name="sample_errors", minimum=0)
    if e > k:
        raise ConfigError(f"sample_errors must be <= sample_bits = {k}, got {e!r}")
    log_eps = check_log_eps(log_eps)
    if n == 0:
        return 0.0
    if k == 0:
        return 1.0
    total = n + k

    def accepted(w: int) -> bool:  # the observation e is not in w's lower ε-tail
        return _log_cdf_upper(e, total, w, k) > log_eps

    lo, hi = e, n + e  # accepted(e) holds: Pr[E <= e] = 1 when w = e
    if accepted(hi):
        return 1.0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if accepted(mid):
            lo = mid
        else:
            hi = mid
    return (lo - e) / n


_EXACT_CDF_MAX_ERRORS = 10_000


def _log_cdf_upper(e: int, total: int, w: int, k: int) -> float:
    """``ln Pr[Hyp(total, w, k) ≤ e]``, or an upper bound on it when ``e`` is large.

    Up to :data:`_EXACT_CDF_MAX_ERRORS` errors the exact log-CDF (a sum over
    ``e + 1`` terms) is used as is. Beyond, the terms below ``e`` fall at
    least geometrically, with ratio ``r = pmf(e−1)/pmf(e) = e (total − w − k + e)
    / ((w − e + 1)(k − e + 1))`` (the ratio grows with x), so ``CDF ≤ pmf(e) /
    (1 − r)`` for ``r < 1`` (else 1). An upper bound only ever *accepts more*
    total error counts, so the phase-error bound stays valid: the bisection
    returns one below a count it certified as rejected.
    """
    if e <= _EXACT_CDF_MAX_ERRORS:
        return hypergeom_logcdf(e, total, w, k)
    ratio = e * (total - w - k + e) / ((w - e + 1) * (k - e + 1))
    if ratio >= 1.0:
        return 0.0
    return float(hypergeom_logpmf(e, total, w, k)) - math.log1p(-ratio)


@dataclass(frozen=True, slots=True, kw_only=True)
class BasisSample:
    """The disclosed sample of one basis.

    Attributes:
        basis: The basis's name (``"Z"``, ``"X"``; any label a protocol uses).
        sifted_bits: ``N_B``, sifted bits of this basis.
        sample_bits: ``k_B``, of them disclosed.
        sample_errors: ``e_B``, disagreements among the disclosed bits.
    """

    basis: str
    sifted_bits: int
    sample_bits: int
    sample_errors: int

    def __post_init__(self) -> None:
        if not isinstance(self.basis, str) or not self.basis:
            raise ConfigError(f"basis must be a non-empty name such as 'Z', got {self.basis!r}")
        check_int(self.sifted_bits, name="sifted_bits", minimum=0)
        check_int(self.sample_bits, name="sample_bits", minimum=0)
        check_int(self.sample_errors, name="sample_errors", minimum=0)
        if not self.sample_errors <= self.sample_bits <= self.sifted_bits:
            raise ConfigError(
                f"basis {self.basis}: need sample_errors <= sample_bits <= sifted_bits, got "
                f"{self.sample_errors}, {self.sample_bits}, {self.sifted_bits}"
            )

    @property
    def key_bits(self) -> int:
        """``n_B = N_B − k_B``: bits of this basis left for the key."""
        return self.sifted_bits - self.sample_bits

    @property
    def qber(self) -> float:
        """Observed error rate of the sample (nan without a sample)."""
        return self.sample_errors / self.sample_bits if self.sample_bits else float("nan")

    def to_dict(self) -> dict[str, float | int]:
        """Plain-dict form for reports."""
        return {
            "sifted_bits": self.sifted_bits,
            "sample_bits": self.sample_bits,
            "sample_errors": self.sample_errors,
            "key_bits": self.key_bits,
            "qber": self.qber,
        }


def phase_error_bounds(
    samples: Mapping[str, BasisSample],
    *,
    log_eps: float,
    sample_errors: Mapping[str, int] | None = None,
    conjugate: Mapping[str, str] = CONJUGATE,
) -> dict[str, float]:
    """Bound on the phase error of each basis's key bits, from the *conjugate* basis's sample.

    ``log_eps`` is the failure probability of all the bounds together; it is
    split equally (union bound) over the bases that have key bits.
    ``sample_errors`` overrides the observed error counts (e.g. the largest
    count a fixed tolerance accepts). ``conjugate`` maps each basis of
    ``samples`` to the basis whose sample bounds its phase error (BB84: Z <-> X);
    the bound needs the two bases mutually unbiased (overlap 1/2).
    """
    log_eps = check_log_eps(log_eps)
    with_key = [b for b in conjugate if samples[b].key_bits > 0]
    share = log_eps - math.log(max(1, len(with_key)))
    out: dict[str, float] = {}
    for basis in conjugate:
        test = samples[conjugate[basis]]
        errors = test.sample_errors if sample_errors is None else sample_errors[test.basis]
        out[basis] = phase_error_bound(
            samples[basis].key_bits, test.sample_bits, errors, log_eps=share
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class QBEREstimate:
    """Result of parameter estimation on a sifted key.

    Attributes:
        samples: The disclosed sample of each basis, by name (``"Z"``, ``"X"``).
        sample_positions: Sorted indices (int64, shape (k,)) into the sifted key
            that were disclosed (both bases).
        key_alice: Alice's sifted key with the samples removed (uint8, shape (n,)).
        key_bob: Bob's sifted key with the samples removed (uint8, shape (n,)).
        key_bases: Basis of each remaining key bit (uint8 0 = Z, 1 = X, shape (n,)).
    """

    samples: dict[str, BasisSample]
    sample_positions: NDArray[np.int64]
    key_alice: NDArray[np.uint8]
    key_bob: NDArray[np.uint8]
    key_bases: NDArray[np.uint8]

    def __post_init__(self) -> None:
        if not self.samples or any(s.basis != b for b, s in self.samples.items()):
            raise ConfigError(
                f"samples must map each basis name to its BasisSample, got {self.samples!r}"
            )
        if self.sample_positions.shape != (self.sample_size,):
            raise ConfigError(
                f"sample_positions has shape {self.sample_positions.shape}, expected "
                f"({self.sample_size},) from the per-basis samples"
            )
        if not (self.key_alice.shape == self.key_bob.shape == self.key_bases.shape) or (
            self.key_alice.ndim != 1
        ):
            raise ConfigError(
                f"remaining keys and bases must be 1-D of equal length, got shapes "
                f"{self.key_alice.shape}, {self.key_bob.shape}, {self.key_bases.shape}"
            )

    @property
    def sample_size(self) -> int:
        """``k``: disclosed positions, both bases."""
        return sum(s.sample_bits for s in self.samples.values())

    @property
    def sample_errors(self) -> int:
        """Disagreements among all disclosed positions."""
        return sum(s.sample_errors for s in self.samples.values())

    @property
    def qber(self) -> float:
        """Pooled observed error rate of the samples (nan without any): what Cascade sizes
        its blocks with. Security never rests on it: the key length bounds each basis's
        phase error from the other basis's sample."""
        k = self.sample_size
        return self.sample_errors / k if k else float("nan")

    @property
    def key_length(self) -> int:
        """``n``: length of the remaining key."""
        return int(self.key_alice.size)


def estimate_qber(
    alice_sifted: ArrayLike,
    bob_sifted: ArrayLike,
    *,
    bases: ArrayLike,
    sample_fraction: float | Mapping[str, float] = 0.1,
    channel: PublicChannel | None = None,
    rng: RNGLike = None,
    stage: str = "estimation",
    basis_names: tuple[str, ...] = BASIS_NAMES,
) -> QBEREstimate:
    """Sample each basis of the sifted key and count the errors of each sample.

    Messages on ``channel`` (stage ``stage``): the sample positions (leaked 0;
    a bitmap over the sifted key, or the position list when that is shorter:
    :func:`encode_sample_positions`), Alice's sample bits (leaked ``k``), Bob's
    sample bits (leaked ``k``); see the module docstring for why this leakage
    is not subtracted again from the key length.

    Args:
        alice_sifted: Alice's sifted key, 1-D 0/1 (any integer or bool dtype).
        bob_sifted: Bob's sifted key, same length.
        bases: Basis of each sifted bit, same length: value ``i`` is
            ``basis_names[i]`` (BB84: 0 = Z, 1 = X). Required: without it no phase
            error can be bounded.
        sample_fraction: Fraction of each basis disclosed, in (0, 1); or a mapping
            from every name of ``basis_names`` to that basis's fraction, in (0, 1]
            (1.0 discloses the whole basis, e.g. the decoy-state test basis of
            Lim et al., PRA 89, 022307 (2014): none of its bits reaches the key).
            A mapping whose fractions are all equal to a float draws the same
            positions as that float.
        channel: Public channel that records the disclosure (optional).
        rng: Public generator, seed or None; draws the sample positions.
        stage: Stage name used on the channel.
        basis_names: Name of each basis value (default BB84's ``("Z", "X")``).

    Returns:
        A :class:`QBEREstimate` holding the remaining keys and their bases.

    Raises:
        ConfigError: empty or mismatched arrays, non-binary values,
            ``sample_fraction`` outside (0, 1) (a mapping's fractions outside (0, 1],
            or a mapping that misses a basis or names an unknown one).
        ProtocolAbort: ``"key_too_short"`` if the samples would leave no key bit.
    """
    alice = as_bits(alice_sifted, name="alice_sifted")
    bob = as_bits(bob_sifted, name="bob_sifted")
    basis_of = _basis_values(bases, basis_names)
    if alice.size == 0:
        raise ConfigError("sifted keys are empty: nothing to estimate from")
    if not alice.size == bob.size == basis_of.size:
        raise ConfigError(
            f"sifted keys and bases must have equal length, got {alice.size} (Alice), "
            f"{bob.size} (Bob), {basis_of.size} (bases)"
        )
    fractions = _sample_fractions(sample_fraction, basis_names)
    generator = ensure_rng(rng)

    picked: list[NDArray[np.int64]] = []
    samples: dict[str, BasisSample] = {}
    for value, name in enumerate(basis_names):
        where = np.flatnonzero(basis_of == value)
        k = math.ceil(fractions[name] * where.size)
        chosen = where[generator.choice(where.size, size=k, replace=False, shuffle=False)]
        picked.append(chosen)
        samples[name] = BasisSample(
            basis=name,
            sifted_bits=int(where.size),
            sample_bits=k,
            sample_errors=int(np.count_nonzero(alice[chosen] != bob[chosen])),
        )
    sampled = np.zeros(alice.size, dtype=bool)
    for chosen in picked:
        sampled[chosen] = True
    positions = np.flatnonzero(sampled).astype(np.int64)  # sorted
    n = int(alice.size - positions.size)
    if n < 1:
        raise ProtocolAbort(
            "key_too_short",
            f"samples of {positions.size} bits (sample_fraction={_describe(fractions)}) leave "
            f"no key bit from {alice.size} sifted bits",
        )
    if channel is not None:
        channel.send(stage, "alice", _encode_positions(sampled, positions), leaked_bits=0)
        channel.send(stage, "alice", alice[positions], leaked_bits=int(positions.size))
        channel.send(stage, "bob", bob[positions], leaked_bits=int(positions.size))

    keep = ~sampled
    return QBEREstimate(
        samples=samples,
        sample_positions=positions,
        key_alice=alice[keep],
        key_bob=bob[keep],
        key_bases=basis_of[keep],
    )


def _sample_fractions(
    sample_fraction: float | Mapping[str, float], basis_names: tuple[str, ...]
) -> dict[str, float]:
    """Each basis's disclosed fraction: a float in (0, 1) for all, or a mapping in (0, 1]."""
    if not isinstance(sample_fraction, Mapping):
        fraction = check_open_unit(sample_fraction, name="sample_fraction")
        return dict.fromkeys(basis_names, fraction)
    missing = [b for b in basis_names if b not in sample_fraction]
    unknown = [b for b in sample_fraction if b not in basis_names]
    if missing or unknown:
        raise ConfigError(
            f"sample_fraction mapping must give a fraction for each of {basis_names} and no "
            f"other basis; missing {missing}, unknown {unknown}"
        )
    out: dict[str, float] = {}
    for name in basis_names:
        value = sample_fraction[name]
        label = f"sample_fraction of basis {name}"
        out[name] = 1.0 if _is_one(value) else check_open_unit(value, name=label + " (or 1.0)")
    return out


def _is_one(value: object) -> bool:
    """``value`` is the number 1 (not a bool or string)."""
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and float(value) == 1.0
    )


def _describe(fractions: Mapping[str, float]) -> str:
    """The fractions as the caller wrote them: one float when they are all equal."""
    values = set(fractions.values())
    return repr(values.pop()) if len(values) == 1 else repr(dict(fractions))


def _position_width(sifted_bits: int) -> int:
    """Bytes per position in the list form: the narrowest of 1, 2, 4, 8 holding ``N − 1``."""
    top = max(sifted_bits - 1, 0)
    return next(w for w in (1, 2, 4, 8) if top < 256**w)


def _encode_positions(sampled: NDArray[np.bool_], positions: NDArray[np.int64]) -> bytes:
    """:func:`encode_sample_positions` for a mask and its sorted positions (trusted)."""
    n = int(sampled.size)
    width = _position_width(n)
    if positions.size * width < (n + 7) // 8:
        return positions.astype(f"<u{width}").tobytes()
    return np.packbits(sampled).tobytes()


def encode_sample_positions(positions: ArrayLike, *, sifted_bits: int) -> bytes:
    """The public message announcing the sample positions (module docstring, wire format).

    Args:
        positions: Distinct sampled indices into the sifted key, integers in
            ``[0, sifted_bits)``, any order, shape (k,).
        sifted_bits: ``N``, the length of the sifted key (public).

    Returns:
        ``np.packbits`` of the sample mask (``ceil(N/8)`` bytes, padding bits 0),
        or, when strictly shorter, the sorted positions as little-endian
        unsigned integers of the narrowest width in {1, 2, 4, 8} bytes that
        holds ``N − 1``.

    Raises:
        ConfigError: ``sifted_bits`` < 0, positions not 1-D integers, out of
            range or repeated.
    """
    n = check_int(sifted_bits, name="sifted_bits", minimum=0)
    pos = np.asarray(positions)
    if pos.ndim == 1 and pos.size == 0:
        pos = pos.astype(np.int64)
    if pos.ndim != 1 or not np.issubdtype(pos.dtype, np.integer):
        raise ConfigError(
            f"positions must be a 1-D integer array, got dtype {pos.dtype} shape {pos.shape}"
        )
    if pos.size and (pos.min() < 0 or pos.max() >= n):
        raise ConfigError(
            f"positions must lie in [0, {n}), got values from {pos.min()} to {pos.max()}"
        )
    sampled = np.zeros(n, dtype=bool)
    sampled[pos] = True
    if int(np.count_nonzero(sampled)) != pos.size:
        raise ConfigError(f"positions must be distinct, got {pos.size} with repeats")
    return _encode_positions(sampled, np.flatnonzero(sampled).astype(np.int64))


def decode_sample_positions(payload: bytes, *, sifted_bits: int) -> NDArray[np.int64]:
    """Invert :func:`encode_sample_positions`: the sorted positions (int64, shape (k,)).

    The form is told by the payload's length: ``ceil(N/8)`` bytes is the
    bitmap, anything shorter is the position list (the encoder only picks it
    when strictly shorter).

    Raises:
        ConfigError: a payload no encoder output can be (wrong length, non-zero
            bitmap padding, positions unsorted, repeated or out of range, or a
            list the bitmap would have beaten).
    """
    n = check_int(sifted_bits, name="sifted_bits", minimum=0)
    data = bytes(payload)
    size = (n + 7) // 8
    if len(data) == size:
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        if np.any(bits[n:]):
            raise ConfigError(
                f"sample bitmap of {n} positions has non-zero padding bits: {bits[n:].tolist()}"
            )
        return np.flatnonzero(bits[:n]).astype(np.int64)
    width = _position_width(n)
    if len(data) > size or len(data) % width:
        raise ConfigError(
            f"sample positions of {len(data)} bytes fit neither a {size}-byte bitmap nor a "
            f"shorter list of {width}-byte positions for {n} sifted bits"
        )
    pos = np.frombuffer(data, dtype=f"<u{width}").astype(np.int64)
    if pos.size and (np.any(np.diff(pos) <= 0) or pos[-1] >= n):
        raise ConfigError(
            f"sample position list must be strictly increasing and below {n}, got "
            f"{pos[:5].tolist()}..."
        )
    return pos


def check_qber(estimate: QBEREstimate, *, threshold: float) -> None:
    """Abort if the observed error rate of any basis's sample exceeds ``threshold``.

    The tolerated error rate ``Q_tol`` of Tomamichel et al., arXiv:1103.4130,
    Table I ("The protocol aborts if λ > Q_tol"), applied to each basis.

    Args:
        estimate: Result of :func:`estimate_qber`.
        threshold: Tolerated error rate, in [0, 1].

    Raises:
        ConfigError: if ``threshold`` is outside [0, 1].
        ProtocolAbort: ``"qber_above_threshold"`` when a basis's sample QBER exceeds it.
    """
    check_sample_qber(estimate.samples, threshold=threshold)


def check_sample_qber(samples: Mapping[str, BasisSample], *, threshold: float) -> None:
    """:func:`check_qber` on the per-basis samples themselves."""
    thr = check_closed_unit(threshold, name="threshold")
    for name, s in samples.items():
        if s.sample_bits and s.qber > thr:
            raise ProtocolAbort(
                "qber_above_threshold",
                f"sample QBER of basis {name} {s.qber:.6f} exceeds the threshold {thr:.6f} "
                f"({s.sample_errors} errors in {s.sample_bits} disclosed bits)",
            )


def _basis_values(bases: ArrayLike, basis_names: tuple[str, ...]) -> NDArray[np.uint8]:
    """``bases`` as uint8 values in ``[0, len(basis_names))``."""
    if (
        not isinstance(basis_names, tuple)
        or not basis_names
        or len(set(basis_names)) != len(basis_names)
        or not all(isinstance(b, str) and b for b in basis_names)
    ):
        raise ConfigError(f"basis_names must be a tuple of distinct names, got {basis_names!r}")
    if len(basis_names) == 2:
        return as_bits(bases, name="bases")
    values = np.asarray(bases)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise ConfigError(f"bases must be a 1-D integer array, got dtype {values.dtype}")
    if values.size and (values.min() < 0 or values.max() >= len(basis_names)):
        raise ConfigError(
            f"bases must be in [0, {len(basis_names)}) for bases {basis_names}, "
            f"got values {sorted(set(values.tolist()))[:5]}"
        )
    return values.astype(np.uint8)
