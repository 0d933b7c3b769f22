"""Error verification: compare a polynomial hash of both keys after reconciliation.

The hash (also used by :mod:`~qkd_circuits.postprocessing.authentication`) is
polynomial evaluation over a Mersenne prime field ``F_p``, ``p = 2^e − 1``
with ``e ∈ {61, 89, 107, 127, 521, 607, 1279}``. A message is split into
``d − 1`` blocks of ``(e − 1) // 8`` bytes (so every block is < p), followed
by one block holding the message length in bits; with ``m_1 … m_d`` those
blocks and a key ``x ∈ {1, …, p − 1}``

    H_x(m) = Σ_i m_i · x^(d − i + 1)  (mod p)      (Horner: acc = (acc + m_i)·x).

Two different messages give different coefficient vectors (the length block
makes the encoding injective), so ``H_x(m) − H_x(m') = x · Q(x)`` with ``Q``
a non-zero polynomial of degree < d: it vanishes for at most ``d − 1`` of the
``p − 1`` keys, so the collision probability is at most ``d / (p − 1)``
(Carter & Wegman, JCSS 18, 143 (1979); Wegman & Carter, JCSS 22, 265 (1981);
the polynomial construction is analysed e.g. by Bierbrauer et al., CRYPTO '93).
With ``r`` independent keys the tag is the ``r`` hashes (``r·e`` bits) and the
bound is ``(d / (p − 1))^r``. :func:`choose_hash_family` picks the ``(e, r)``
with the fewest tag bits such that the bound is ≤ ε.

A difference in a single bit changes one block by ``±2^j``, so ``Q`` is a
non-zero constant and the polynomial hash detects it for *every* key ``x ≠ 0``.

The verification tag (:func:`verify_keys`) is the polynomial hash over a
large field, compressed by a random Toeplitz matrix to ``t`` bits
(``toeplitz_hash``; random Toeplitz matrices are universal₂, Krawczyk, CRYPTO
'94): for two different keys the tags collide with probability at most
``d/(p − 1) + 2^−t`` (the first stage collides, or it does not and the
second does). So the tag needs only ``t = ⌈log₂ 1/(ε_cor − d/(p − 1))⌉``
bits — 50 for ε_cor = 1e-15 — where the polynomial hash alone needed 61–89:
every tag bit is disclosed and subtracted from the key, so the shorter tag
gives those bits back.

Verification protocol (Tomamichel et al., arXiv:1103.4130, Table I, "Error
Correction"): Alice draws the hash keys and the Toeplitz seed, sends them
(leaked 0: independent of the key), then her tag (leaked = tag bits); Bob
compares with the tag of his key and announces the one-byte verdict (leaked
0: the protocol aborts on mismatch, and on a match the verdict is implied by
the tag already counted). A mismatch raises
``ProtocolAbort("verification_failed")``: no key is emitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.bits import as_bits, random_bits
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.amplification import toeplitz_hash_direct
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.randomness import RNGLike, ensure_rng
from qkd_circuits.specs import check_open_unit

__all__ = [
    "MERSENNE_EXPONENTS",
    "PolynomialHashFamily",
    "VerificationResult",
    "choose_hash_family",
    "draw_field_element",
    "polynomial_hash",
    "verification_tag_bits",
    "verify_keys",
]

#: Exponents ``e`` of the Mersenne primes ``2^e − 1`` used as hash fields.
MERSENNE_EXPONENTS: tuple[int, ...] = (61, 89, 107, 127, 521, 607, 1279)

_MAX_REPETITIONS = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class PolynomialHashFamily:
    """Polynomial hashing over ``F_p``, ``p = 2^exponent − 1``, repeated ``repetitions`` times.

    Attributes:
        exponent: ``e``, one of :data:`MERSENNE_EXPONENTS`.
        repetitions: Number ``r`` of independent keys (and tag words), >= 1.
    """

    exponent: int
    repetitions: int = 1

    def __post_init__(self) -> None:
        if self.exponent not in MERSENNE_EXPONENTS:
            raise ConfigError(
                f"exponent must be one of {MERSENNE_EXPONENTS} (Mersenne primes), "
                f"got {self.exponent!r}"
            )
        if not (isinstance(self.repetitions, int) and 1 <= self.repetitions <= _MAX_REPETITIONS):
            raise ConfigError(
                f"repetitions must be an integer in [1, {_MAX_REPETITIONS}], "
                f"got {self.repetitions!r}"
            )

    @property
    def prime(self) -> int:
        """The field size ``p = 2^e − 1``."""
        return (1 << self.exponent) - 1

    @property
    def block_bytes(self) -> int:
        """Bytes per message block, ``(e − 1) // 8`` (every block is < p)."""
        return (self.exponent - 1) // 8

    @property
    def word_bytes(self) -> int:
        """Bytes used to send one field element (``ceil(e / 8)``)."""
        return (self.exponent + 7) // 8

    @property
    def tag_bits(self) -> int:
        """Tag length in bits, ``e · r``."""
        return self.exponent * self.repetitions

    def num_blocks(self, message_bits: int) -> int:
        """Number ``d`` of blocks (the length block included) of a message of that many bits."""
        message_bytes = (message_bits + 7) // 8
        return -(-message_bytes // self.block_bytes) + 1

    def collision_bound(self, message_bits: int) -> float:
        """Upper bound ``(d / (p − 1))^r`` on the collision probability of two distinct messages.

        Holds for any two distinct messages of at most ``message_bits`` bits
        (the longer one sets ``d``).
        """
        ratio = Fraction(self.num_blocks(message_bits), self.prime - 1)
        return float(min(Fraction(1), ratio**self.repetitions))


def choose_hash_family(message_bits: int, eps: float) -> PolynomialHashFamily:
    """Smallest-tag polynomial hash family whose collision bound is ≤ ``eps``.

    Args:
        message_bits: Length of the longest message to be hashed, in bits (>= 0).
        eps: Target collision probability, in (0, 1).

    Returns:
        The family ``(e, r)`` with the fewest tag bits ``e·r`` such that
        ``collision_bound(message_bits) <= eps`` (ties go to the smaller field).

    Raises:
        ConfigError: if ``eps`` is outside (0, 1), ``message_bits`` < 0, or no
            supported family reaches ``eps``.
    """
    if not isinstance(message_bits, (int, np.integer)) or message_bits < 0:
        raise ConfigError(f"message_bits must be an integer >= 0, got {message_bits!r}")
    eps_value = check_open_unit(eps, name="eps")
    target = Fraction(eps_value)
    best: PolynomialHashFamily | None = None
    for exponent in MERSENNE_EXPONENTS:
        family = PolynomialHashFamily(exponent=exponent)
        blocks, size = family.num_blocks(int(message_bits)), family.prime - 1
        if blocks >= size:
            continue
        # Logarithms give the candidate; exact rational arithmetic confirms it.
        log_ratio = math.log(blocks) - math.log(size)
        reps = max(1, math.ceil(math.log(target) / log_ratio) - 1)
        while reps <= _MAX_REPETITIONS and Fraction(blocks, size) ** reps > target:
            reps += 1
        if reps > _MAX_REPETITIONS:
            continue
        if best is None or exponent * reps < best.tag_bits:
            best = PolynomialHashFamily(exponent=exponent, repetitions=reps)
    if best is None:
        raise ConfigError(
            f"no supported polynomial hash reaches collision probability {eps!r} for "
            f"{message_bits} message bits"
        )
    return best


def draw_field_element(exponent: int, draw: Callable[[int], int]) -> int:
    """Draw a uniform element of ``{1, …, p − 1}``, ``p = 2^exponent − 1``, by rejection.

    Each attempt takes ``exponent`` bits from ``draw``; the values 0 and
    ``2^exponent − 1`` are rejected (probability ``2^(1 − exponent)`` per attempt),
    so the result is exactly uniform.

    Args:
        exponent: ``e`` of the Mersenne prime.
        draw: Callable returning ``n`` fresh uniform bits as a Python int.

    Returns:
        An integer uniform on ``{1, …, p − 1}``.
    """
    top = (1 << exponent) - 1
    while True:
        value = draw(exponent)
        if 0 < value < top:
            return value


class _BitDraw:
    """Callable that returns ``e`` uniform bits as an int from a numpy Generator."""

    __slots__ = ("_rng",)

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def __call__(self, nbits: int) -> int:
        nbytes = (nbits + 7) // 8
        value = int.from_bytes(self._rng.bytes(nbytes), "big")
        return value >> (8 * nbytes - nbits)


def _blocks(data: bytes, block_bytes: int) -> list[int]:
    """Split ``data`` into big-endian integer blocks of ``block_bytes`` (last one zero-padded)."""
    pad = (-len(data)) % block_bytes
    if pad:
        data = data + bytes(pad)
    return [
        int.from_bytes(data[i : i + block_bytes], "big") for i in range(0, len(data), block_bytes)
    ]


def polynomial_hash(
    data: bytes, message_bits: int, keys: tuple[int, ...], family: PolynomialHashFamily
) -> tuple[int, ...]:
    """Polynomial hash of a message, one field element per key.

    Args:
        data: The message bytes (for a bit string: ``numpy.packbits`` of it).
        message_bits: Message length in bits (``8·len(data)`` for byte messages;
            the bit length for a packed bit string). Hashed as the last block.
        keys: ``r`` keys in ``{1, …, p − 1}``, one per repetition.
        family: The hash family (field and repetitions).

    Returns:
        ``r`` hash values in ``[0, p)``.

    Raises:
        ConfigError: if the number of keys does not match the family, or a key
            is outside ``[1, p − 1]``.
    """
    if len(keys) != family.repetitions:
        raise ConfigError(f"need {family.repetitions} hash keys, got {len(keys)}")
    p = family.prime
    for x in keys:
        if not 0 < x < p:
            raise ConfigError(f"hash keys must be in [1, p - 1] for p = 2^{family.exponent} - 1")
    blocks = _blocks(data, family.block_bytes)
    blocks.append(int(message_bits))
    out = []
    for x in keys:
        acc = 0
        for m in blocks:
            acc = (acc + m) * x % p
        out.append(acc)
    return tuple(out)


def _encode_words(values: tuple[int, ...], family: PolynomialHashFamily) -> bytes:
    """Concatenate field elements as fixed-width big-endian words."""
    return b"".join(v.to_bytes(family.word_bytes, "big") for v in values)


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationResult:
    """Outcome of :func:`verify_keys` (returned only when the tags match).

    Attributes:
        tag_bits: Bits of Alice's tag disclosed (counted as leaked), ``t``.
        match: True (a mismatch raises ``ProtocolAbort`` instead).
        eps_cor: The requested bound on the collision probability.
        collision_bound: The computed bound ``(d/(p − 1))^r + 2^−t`` for this
            key length, always ≤ ``eps_cor``.
        field_exponent: ``e`` of the polynomial stage's field ``F_{2^e − 1}``.
        repetitions: ``r``, the number of independent polynomial hash keys.
    """

    tag_bits: int
    match: bool
    eps_cor: float
    collision_bound: float = 0.0
    field_exponent: int = 0
    repetitions: int = 1

    def __post_init__(self) -> None:
        if self.tag_bits < 1:
            raise ConfigError(f"tag_bits must be >= 1, got {self.tag_bits!r}")
        if not 0.0 < self.eps_cor < 1.0:
            raise ConfigError(f"eps_cor must be in (0, 1), got {self.eps_cor!r}")
        if self.collision_bound > self.eps_cor:
            raise ConfigError(
                f"collision_bound {self.collision_bound!r} exceeds eps_cor {self.eps_cor!r}"
            )


_POLY_SHARE = 2.0**-10
"""Share of ε_cor given to the polynomial stage (the Toeplitz stage gets the rest)."""


def verification_tag_bits(key_bits: int, eps_cor: float) -> tuple[PolynomialHashFamily, int]:
    """The polynomial stage and the tag length ``t`` that :func:`verify_keys` uses.

    The polynomial stage gets at most ``2^−10 ε_cor``; ``t`` is the smallest tag
    with ``(d/(p − 1))^r + 2^−t ≤ ε_cor``.
    """
    eps = check_open_unit(eps_cor, name="eps_cor")
    family = choose_hash_family(int(key_bits), eps * _POLY_SHARE)
    first = family.collision_bound(int(key_bits))
    tag = math.ceil(-math.log2(eps - first))
    while first + 2.0**-tag > eps:
        tag += 1
    return family, tag


def _compressed_tag(
    bits: NDArray[np.uint8],
    keys: tuple[int, ...],
    family: PolynomialHashFamily,
    seed: NDArray[np.uint8],
    t: int,
) -> NDArray[np.uint8]:
    """Toeplitz compression to ``t`` bits of the polynomial hash of ``bits``."""
    words = polynomial_hash(np.packbits(bits).tobytes(), int(bits.size), keys, family)
    word_bits = np.unpackbits(np.frombuffer(_encode_words(words, family), dtype=np.uint8))
    return toeplitz_hash_direct(word_bits, seed, t)


def verify_keys(
    alice: ArrayLike,
    bob: ArrayLike,
    *,
    eps_cor: float = 1e-15,
    channel: PublicChannel | None = None,
    rng: RNGLike = None,
    stage: str = "verification",
) -> VerificationResult:
    """Check that Alice's and Bob's reconciled keys agree, except with probability ≤ ``eps_cor``.

    Alice draws ``r`` polynomial-hash keys uniformly from ``{1, …, p − 1}`` and a
    Toeplitz seed, publishes them with her ``t``-bit tag (module docstring); Bob
    computes the tag of his key with the same keys and compares. Field, ``r``
    and ``t`` come from :func:`verification_tag_bits`: for ``eps_cor = 1e-15``
    a 50-bit tag at any key length up to 10^9 bits.

    Args:
        alice: Alice's key, 1-D 0/1 array.
        bob: Bob's key (his estimate of Alice's), same length.
        eps_cor: Target collision probability, in (0, 1).
        channel: Public channel that records the exchange (optional).
        rng: Generator, seed or None; draws the hash keys.
        stage: Stage name used on the channel.

    Returns:
        A :class:`VerificationResult` (only when the tags match).

    Raises:
        ConfigError: empty or mismatched keys, non-binary values, ``eps_cor``
            outside (0, 1).
        ProtocolAbort: ``"verification_failed"`` if the tags differ.
    """
    a = as_bits(alice, name="alice")
    b = as_bits(bob, name="bob")
    if a.size == 0:
        raise ConfigError("keys to verify are empty")
    if a.size != b.size:
        raise ConfigError(f"keys must have equal length, got {a.size} (Alice) and {b.size} (Bob)")
    family, t = verification_tag_bits(int(a.size), eps_cor)
    generator = ensure_rng(rng)
    draw = _BitDraw(generator)
    keys = tuple(draw_field_element(family.exponent, draw) for _ in range(family.repetitions))
    hashed_bits = 8 * family.word_bytes * family.repetitions  # the words as sent
    seed = random_bits(hashed_bits + t - 1, rng=generator)

    tag_a = _compressed_tag(a, keys, family, seed, t)
    tag_b = _compressed_tag(b, keys, family, seed, t)
    match = bool(np.array_equal(tag_a, tag_b))
    if channel is not None:
        channel.send(stage, "alice", _encode_words(keys, family), leaked_bits=0)
        channel.send(stage, "alice", seed, leaked_bits=0)
        channel.send(stage, "alice", tag_a, leaked_bits=t)
        channel.send(stage, "bob", b"\x01" if match else b"\x00", leaked_bits=0)
    if not match:
        raise ProtocolAbort(
            "verification_failed",
            f"tag of Bob's key differs from Alice's ({t}-bit Toeplitz compression of a "
            f"polynomial hash over GF(2^{family.exponent} - 1)); no key is emitted",
        )
    return VerificationResult(
        tag_bits=t,
        match=True,
        eps_cor=float(eps_cor),
        collision_bound=family.collision_bound(int(a.size)) + 2.0**-t,
        field_exponent=family.exponent,
        repetitions=family.repetitions,
    )
