"""Authentication of the public channel: a Wegman–Carter MAC over each party's transcript.

QKD needs an authenticated classical channel; authentication needs a short
pre-shared key, so QKD *expands* a key rather than creating one. We use the
Wegman–Carter construction (M. N. Wegman & J. L. Carter, "New hash functions
and their use in authentication and set equality", JCSS 22, 265 (1981)):

    tag_j = (H_{x_j}(M) + s_j) mod p,    j = 1 … r,

where ``H_x`` is the polynomial hash of
:mod:`~qkd_circuits.postprocessing.verification` over ``F_p``,
``p = 2^e − 1``, the hash keys ``x_j`` are uniform on ``{1, …, p − 1}`` and the
one-time pads ``s_j`` are uniform on ``F_p``. The family
``M ↦ H_x(M) + s`` is ``(d/(p − 1))``-almost strongly universal: having seen
one (message, tag) pair, an adversary who substitutes any other message of at
most ``d`` blocks is accepted with probability at most ``d/(p − 1)`` (for each
guess of the new tag, ``x · Q(x) = c`` with ``Q ≠ 0`` of degree < d has at most
``d`` roots, and the pad makes the observed tag independent of ``x``);
``r`` independent repetitions give ``(d/(p − 1))^r``. Field and ``r`` are chosen
with :func:`~qkd_circuits.postprocessing.verification.choose_hash_family` so that
each direction's forgery probability is ≤ ``eps_auth / 2`` (union bound ≤ ``eps_auth``).

Both directions are authenticated separately: Alice tags every message she
sent (``channel.transcript(sender="alice")``, whose framing encodes stage,
sender and length of every message, so the byte string determines the
message sequence), Bob verifies it against what *he received*; and
symmetrically for Bob's messages. Tags are computed over the whole transcript
at the end of the run, and the key is accepted only if both tags verify;
the tags themselves are sent on the channel (``leaked_bits = 0``: they are
one-time-padded and carry no information about the QKD key).

Key consumption (conservative): every run consumes fresh pre-shared bits for
*both* the hash keys and the pads, ``2 · 2 · r · e`` bits for the two
directions (plus ``e`` bits for each rejected draw, which happens with
probability ``2^(1 − e)``), whether or not the tags verify (a pad must never be
reused). Portmann, "Key recycling in authentication", IEEE Trans. Inf. Theory
60, 4383 (2014), arXiv:1112.5630, shows that with one-time-padded tags the
hash key can be recycled and only the pads need be fresh; we do not rely on
that here, so ``key_bits_used`` counts everything drawn. The bits are read
from the front of ``preshared_key``; the caller discards that prefix (never
reuse it) and may refill its pool from the new key:
:func:`net_new_key_bits` is the run's net gain.

In a deployment both parties must fix the field and ``r`` from an agreed
maximum transcript length before the run. Here the sender's actual
transcript sets the size (``max_transcript_bits`` overrides it) and the
receiver rejects any received transcript longer than that size, which keeps
the forgery bound valid.

The hash is evaluated by :func:`_polynomial_hash_fast`, which gives the same values
as ``verification.polynomial_hash`` but runs the Python loop over rows of blocks
(exact float64 products with precomputed powers), not over every block: 10^7-qubit
transcripts (~20 MB) are tagged in well under 0.1 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.bits import as_bits
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.channel import Party, PublicChannel
from qkd_circuits.postprocessing.verification import (
    PolynomialHashFamily,
    choose_hash_family,
    draw_field_element,
)
from qkd_circuits.randomness import RNGLike, ensure_secret_rng
from qkd_circuits.specs import check_open_unit

__all__ = [
    "AuthenticationResult",
    "PresharedKeyReader",
    "WegmanCarterKey",
    "authenticate_transcript",
    "net_new_key_bits",
    "wegman_carter_tag",
    "wegman_carter_verify",
]


class PresharedKeyReader:
    """Reads pre-shared key bits front to back and counts how many were used.

    With ``bits=None`` it simulates a pre-shared key by drawing fresh uniform
    bits from ``rng``, a *secret* generator (None: the OS CSPRNG); both parties
    are assumed to hold the same bits.
    """

    __slots__ = ("_bits", "_pos", "_rng")

    def __init__(self, bits: ArrayLike | None = None, *, rng: RNGLike = None) -> None:
        self._bits = None if bits is None else as_bits(bits, name="preshared_key")
        self._rng = ensure_secret_rng(rng) if bits is None else None
        self._pos = 0

    @property
    def used(self) -> int:
        """Number of bits read so far."""
        return self._pos

    def __call__(self, nbits: int) -> int:
        """Return the next ``nbits`` bits as an int (first bit most significant)."""
        if nbits < 1:
            raise ConfigError(f"must read at least one bit, got {nbits!r}")
        if self._rng is not None:
            nbytes = (nbits + 7) // 8
            value = int.from_bytes(self._rng.bytes(nbytes), "big") >> (8 * nbytes - nbits)
            self._pos += nbits
            return value
        bits = self._bits if self._bits is not None else np.zeros(0, dtype=np.uint8)
        end = self._pos + nbits
        if end > bits.size:
            raise ProtocolAbort(
                "preshared_key_exhausted",
                f"pre-shared key exhausted: need at least {end} bits, have {bits.size}; "
                "no key is emitted (refill the pre-shared key pool)",
            )
        chunk = bits[self._pos : end]
        self._pos = end
        packed = np.packbits(chunk).tobytes()
        return int.from_bytes(packed, "big") >> (8 * len(packed) - nbits)


@dataclass(frozen=True, slots=True, kw_only=True)
class WegmanCarterKey:
    """Key of one Wegman–Carter tag: ``r`` hash keys and ``r`` one-time pads.

    Attributes:
        family: Field ``F_{2^e − 1}`` and number of repetitions ``r``.
        hash_keys: ``r`` elements of ``{1, …, p − 1}``.
        pads: ``r`` elements of ``{0, …, p − 1}``.
    """

    family: PolynomialHashFamily
    hash_keys: tuple[int, ...]
    pads: tuple[int, ...]

    def __post_init__(self) -> None:
        r, p = self.family.repetitions, self.family.prime
        if len(self.hash_keys) != r or len(self.pads) != r:
            raise ConfigError(
                f"need {r} hash keys and {r} pads, got {len(self.hash_keys)} and {len(self.pads)}"
            )
        if any(not 0 < x < p for x in self.hash_keys) or any(not 0 <= s < p for s in self.pads):
            raise ConfigError(
                f"key values must lie in the field F_p, p = 2^{self.family.exponent}-1"
            )

    @classmethod
    def draw(cls, family: PolynomialHashFamily, source: PresharedKeyReader) -> WegmanCarterKey:
        """Read a key from pre-shared bits (rejection sampling: exactly uniform)."""
        e, p = family.exponent, family.prime
        hash_keys = tuple(draw_field_element(e, source) for _ in range(family.repetitions))
        pads = []
        for _ in range(family.repetitions):
            value = source(e)
            while value >= p:  # only 2^e − 1 is rejected
                value = source(e)
            pads.append(value)
        return cls(family=family, hash_keys=hash_keys, pads=tuple(pads))


_LIMB_BITS = 16
"""Weights are split into limbs of this many bits for the exact float64 products."""

_MAX_ROW_BYTES = 8192
"""Longest row (bytes) of the blocked evaluation; bounds the weight table and keeps
every partial sum of :func:`_row_sums` below ``2^53`` (``8192·255·(2^16 − 1) < 2^37``)."""

_CHUNK_BYTES = 1 << 16
"""Data bytes converted to float64 at a time: a 512 KiB buffer that stays in cache.

Small products also keep OpenBLAS from waking its threads, which cost more than
they gain on this skinny shape (measured: 2–5x slower with 1 MiB chunks)."""


def _row_blocks(data_blocks: int, block_bytes: int) -> int:
    """Blocks per row: about the square root of the block count, at most one 8 KiB row."""
    cap = max(1, _MAX_ROW_BYTES // block_bytes)
    return max(1, min(cap, math.isqrt(max(data_blocks, 1))))


def _row_weights(
    keys: tuple[int, ...], family: PolynomialHashFamily, row_blocks: int
) -> NDArray[np.float64]:
    """Weights of each byte of a row, as 16-bit limbs: float64 ``(row_bytes, r·limbs)``.

    Byte ``a`` of block ``j`` of a row has weight ``256^(bb − 1 − a) · x^(B − 1 − j) mod p``
    (``bb`` bytes per block, ``B`` blocks per row), so a row's bytes dotted with the
    weights give the row's polynomial ``Σ_j m_j x^(B − 1 − j)`` modulo p.
    """
    p, bb = family.prime, family.block_bytes
    limbs = -(-family.exponent // _LIMB_BITS)
    nbytes = limbs * _LIMB_BITS // 8
    byte_scale = [pow(256, bb - 1 - a, p) for a in range(bb)]
    columns = []
    for x in keys:
        words: list[bytes] = []
        power = 1  # x^(B − 1 − j), filled from the last block of the row backwards
        for _ in range(row_blocks):
            words.extend((power * c % p).to_bytes(nbytes, "little") for c in reversed(byte_scale))
            power = power * x % p
        raw = np.frombuffer(b"".join(reversed(words)), dtype="<u2")
        columns.append(raw.reshape(row_blocks * bb, limbs))
    return np.hstack(columns).astype(np.float64)


def _row_sums(rows: NDArray[np.uint8], weights: NDArray[np.float64]) -> NDArray[np.int64]:
    """Exact ``rows @ weights`` for bytes times 16-bit limbs, computed in float64 chunks.

    Every product is an integer below ``2^24`` and every partial sum of a row (at most
    ``_MAX_ROW_BYTES`` non-negative terms) stays below ``2^53``, so the float64
    matrix product is exact whatever order the BLAS adds in.
    """
    out = np.empty((rows.shape[0], weights.shape[1]), dtype=np.float64)
    step = max(1, _CHUNK_BYTES // max(rows.shape[1], 1))
    # One reused buffer: a fresh 2 MiB temporary per chunk would be mmap'ed and
    # page-faulted every time (glibc's mmap threshold is 128 KiB).
    buffer = np.empty((min(step, rows.shape[0]), rows.shape[1]), dtype=np.float64)
    for start in range(0, rows.shape[0], step):
        chunk = rows[start : start + step]
        view = buffer[: chunk.shape[0]]
        np.copyto(view, chunk, casting="safe")
        np.matmul(view, weights, out=out[start : start + chunk.shape[0]])
    return out.astype(np.int64)


def _polynomial_hash_fast(
    data: bytes,
    message_bits: int,
    keys: tuple[int, ...],
    family: PolynomialHashFamily,
    *,
    row_blocks: int | None = None,
) -> tuple[int, ...]:
    """Same values as :func:`~qkd_circuits.postprocessing.verification.polynomial_hash`, blocked.

    The ``D`` data blocks (zero-padded at the end as there) are left-padded with zero
    blocks to ``T`` rows of ``B`` blocks; leading zero coefficients do not change a
    polynomial. Each row's value ``V_t = Σ_j m_{tB+j} x^(B − 1 − j) mod p`` is one exact
    float64 matrix product of its bytes with precomputed limb weights
    (:func:`_row_weights`), so Python loops over rows, not blocks. Then
    ``G = Σ_t V_t x^(B(T − 1 − t))`` by Horner in ``x^B``, and the hash is
    ``H = Σ_i m_i x^(d − i + 1) = x² G + message_bits · x (mod p)`` (``d = D + 1``).

    Args:
        data: The message bytes.
        message_bits: Message length in bits (the last block).
        keys: ``r`` hash keys in ``{1, …, p − 1}`` (validated by the caller).
        family: The hash family.
        row_blocks: Blocks per row (tests use it to cross row boundaries); None picks
            about ``√D``, at most one 8 KiB row.

    Returns:
        ``r`` hash values in ``[0, p)``, equal to ``polynomial_hash``'s.
    """
    p, bb = family.prime, family.block_bytes
    n = len(data)
    d_blocks = -(-n // bb)
    if d_blocks == 0:
        return tuple(int(message_bits) * x % p for x in keys)
    b = _row_blocks(d_blocks, bb) if row_blocks is None else int(row_blocks)
    if not 1 <= b * bb <= _MAX_ROW_BYTES:
        raise ConfigError(
            f"row_blocks must give 1 to {_MAX_ROW_BYTES} bytes per row, got {row_blocks!r}"
        )
    t_rows = -(-d_blocks // b)
    row_bytes = b * bb
    padded = np.zeros(t_rows * row_bytes, dtype=np.uint8)
    front = (t_rows * b - d_blocks) * bb
    padded[front : front + n] = np.frombuffer(data, dtype=np.uint8)
    limbs = -(-family.exponent // _LIMB_BITS)
    sums = _row_sums(padded.reshape(t_rows, row_bytes), _row_weights(keys, family, b)).tolist()
    shifts = [_LIMB_BITS * k for k in range(limbs)]
    out = []
    for k, x in enumerate(keys):
        x_row = pow(x, b, p)
        acc = 0
        cols = slice(k * limbs, (k + 1) * limbs)
        for row in sums:
            value = sum(v << s for v, s in zip(row[cols], shifts, strict=True))
            acc = (acc * x_row + value) % p
        out.append((acc * x % p * x + int(message_bits) * x) % p)
    return tuple(out)


def wegman_carter_tag(message: bytes, key: WegmanCarterKey) -> tuple[int, ...]:
    """Tag ``(H_{x_j}(message) + s_j) mod p`` for ``j = 1 … r``."""
    p = key.family.prime
    hashes = _polynomial_hash_fast(message, 8 * len(message), key.hash_keys, key.family)
    return tuple((h + s) % p for h, s in zip(hashes, key.pads, strict=True))


def wegman_carter_verify(
    message: bytes, tag: tuple[int, ...], key: WegmanCarterKey, *, max_message_bits: int
) -> bool:
    """Check a tag; messages longer than ``max_message_bits`` are rejected outright."""
    if 8 * len(message) > max_message_bits:
        return False
    return wegman_carter_tag(message, key) == tuple(tag)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticationResult:
    """Outcome of :func:`authenticate_transcript`.

    Attributes:
        tag_bits: Total tag bits sent, both directions.
        key_bits_used: Pre-shared key bits consumed (hash keys, pads and
            rejected draws, both directions); discard them whatever the outcome.
        verified: Whether both directions' tags verified.
        forgery_probability: Upper bound on the probability that a modified
            transcript is accepted (sum over the two directions), ≤ ``eps_auth``.
        alice_verified: Whether Alice's messages verified at Bob.
        bob_verified: Whether Bob's messages verified at Alice.
        failure: None when verified, else the abort reason (``"authentication_failed"``
            or ``"preshared_key_exhausted"``).
        failure_message: Explanation of the failure (None when verified).
    """

    tag_bits: int
    key_bits_used: int
    verified: bool
    forgery_probability: float
    alice_verified: bool = True
    bob_verified: bool = True
    failure: str | None = None
    failure_message: str | None = None

    def __post_init__(self) -> None:
        if self.tag_bits < 0 or self.key_bits_used < 0:
            raise ConfigError(
                f"tag_bits and key_bits_used must be >= 0, got {self.tag_bits!r}, "
                f"{self.key_bits_used!r}"
            )
        if not 0.0 <= self.forgery_probability <= 1.0:
            raise ConfigError(
                f"forgery_probability must be in [0, 1], got {self.forgery_probability!r}"
            )


def authenticate_transcript(
    channel: PublicChannel,
    *,
    preshared_key: ArrayLike | None = None,
    eps_auth: float = 1e-15,
    rng: RNGLike = None,
    received: PublicChannel | None = None,
    max_transcript_bits: int | None = None,
    stage: str = "authentication",
    raise_on_failure: bool = True,
) -> AuthenticationResult:
    """Authenticate both directions of the public transcript with a Wegman–Carter MAC.

    For each sender (Alice, then Bob) the sender tags the bytes of every
    message it sent on ``channel``; the other party verifies the tag against
    the messages *it received*, ``received.transcript(sender=...)`` (the same
    ``channel`` when ``received`` is None, i.e. an untampered channel). The two
    tags are then sent on ``channel`` (stage ``stage``, ``leaked_bits = 0``).

    Args:
        channel: The channel as sent (what each party actually said).
        preshared_key: Pre-shared bits, 1-D 0/1, read from the front; None
            simulates a fresh pre-shared key drawn from ``rng``.
        eps_auth: Bound on the total forgery probability, in (0, 1); each
            direction gets ``eps_auth / 2``.
        rng: Secret generator, seed or None (OS CSPRNG); draws the simulated
            pre-shared key, used only when ``preshared_key`` is None.
        received: The channel as received (for tests of tampering), or None.
        max_transcript_bits: Size the hash for transcripts up to this many bits
            (default: the sender's actual transcript length).
        stage: Stage name for the tag messages.
        raise_on_failure: Raise ``ProtocolAbort`` when a tag fails (default);
            otherwise return the result with ``verified=False``.

    Returns:
        An :class:`AuthenticationResult`.

    Raises:
        ConfigError: ``eps_auth`` outside (0, 1), a non-binary pre-shared key,
            or a transcript longer than ``max_transcript_bits``.
        ProtocolAbort: ``"authentication_failed"`` if a tag does not verify, or
            ``"preshared_key_exhausted"`` if the pre-shared key runs out (and
            ``raise_on_failure``; otherwise the result says so).
    """
    eps_value = check_open_unit(eps_auth, name="eps_auth")
    if max_transcript_bits is not None and (
        isinstance(max_transcript_bits, bool)
        or not isinstance(max_transcript_bits, (int, np.integer))
        or max_transcript_bits < 0
    ):
        raise ConfigError(
            f"max_transcript_bits must be an integer >= 0 or None, got {max_transcript_bits!r}"
        )
    source = PresharedKeyReader(preshared_key, rng=rng)
    view = channel if received is None else received
    senders: tuple[Party, Party] = ("alice", "bob")

    tags: dict[str, tuple[int, ...]] = {}
    families: dict[str, PolynomialHashFamily] = {}
    ok: dict[str, bool] = {}
    forgery = 0.0
    exhausted: ProtocolAbort | None = None
    for sender in senders:
        sent = channel.transcript(sender=sender)
        size = 8 * len(sent) if max_transcript_bits is None else int(max_transcript_bits)
        if 8 * len(sent) > size:
            raise ConfigError(
                f"{sender}'s transcript has {8 * len(sent)} bits, more than "
                f"max_transcript_bits={max_transcript_bits!r}"
            )
        family = choose_hash_family(size, eps_value / 2.0)
        try:
            key = WegmanCarterKey.draw(family, source)
        except ProtocolAbort as abort:  # pre-shared key exhausted: nothing can be tagged
            exhausted = abort
            break
        tag = wegman_carter_tag(sent, key)
        got = sent if received is None else view.transcript(sender=sender)
        # The receiver recomputes the tag of what it received; on the very bytes that
        # were tagged (and within the size bound) that tag is equal by construction,
        # so only a different transcript is hashed again.
        ok[sender] = (got == sent and 8 * len(got) <= size) or wegman_carter_verify(
            got, tag, key, max_message_bits=size
        )
        tags[sender] = tag
        families[sender] = family
        forgery += family.collision_bound(size)

    if exhausted is not None:
        result = AuthenticationResult(
            tag_bits=0,
            key_bits_used=source.used,
            verified=False,
            forgery_probability=1.0,
            alice_verified=False,
            bob_verified=False,
            failure=exhausted.reason,
            failure_message=str(exhausted),
        )
        if raise_on_failure:
            raise exhausted
        return result

    for sender in senders:
        fam = families[sender]
        payload = b"".join(v.to_bytes(fam.word_bytes, "big") for v in tags[sender])
        channel.send(stage, sender, payload, leaked_bits=0)

    verified = ok["alice"] and ok["bob"]
    failed = [s for s in senders if not ok[s]]
    failure_message = (
        None
        if verified
        else f"Wegman-Carter tag of {' and '.join(failed)}'s messages did not verify: the "
        f"transcript was modified; no key is emitted ({source.used} pre-shared "
        f"key bits were consumed and must be discarded)"
    )
    result = AuthenticationResult(
        tag_bits=sum(f.tag_bits for f in families.values()),
        key_bits_used=source.used,
        verified=verified,
        forgery_probability=min(1.0, forgery),
        alice_verified=ok["alice"],
        bob_verified=ok["bob"],
        failure=None if verified else "authentication_failed",
        failure_message=failure_message,
    )
    if raise_on_failure and failure_message is not None:
        raise ProtocolAbort("authentication_failed", failure_message)
    return result


def net_new_key_bits(final_key_length: int, auth: AuthenticationResult) -> int:
    """Net key bits a run produced: final key length minus pre-shared bits consumed.

    Negative when the run consumed more key than it made.
    """
    if isinstance(final_key_length, bool) or not isinstance(final_key_length, (int, np.integer)):
        raise ConfigError(f"final_key_length must be an integer >= 0, got {final_key_length!r}")
    if final_key_length < 0:
        raise ConfigError(f"final_key_length must be >= 0, got {final_key_length!r}")
    return int(final_key_length) - auth.key_bits_used
