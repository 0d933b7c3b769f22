"""Wegman–Carter authentication of the public transcript, both directions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.amplification import amplify
from qkd_circuits.postprocessing.authentication import (
    AuthenticationResult,
    PresharedKeyReader,
    WegmanCarterKey,
    _polynomial_hash_fast,
    authenticate_transcript,
    net_new_key_bits,
    wegman_carter_tag,
    wegman_carter_verify,
)
from qkd_circuits.postprocessing.channel import Message, PublicChannel
from qkd_circuits.postprocessing.estimation import estimate_qber
from qkd_circuits.postprocessing.verification import (
    PolynomialHashFamily,
    choose_hash_family,
    polynomial_hash,
    verify_keys,
)


def run_channel(seed: int = 0) -> PublicChannel:
    """A channel carrying a short but real post-processing exchange."""
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, 400, dtype=np.uint8)
    bob = alice.copy()
    bob[[3, 50, 200]] ^= 1
    channel = PublicChannel()
    bases = rng.integers(0, 2, 400, dtype=np.uint8)
    est = estimate_qber(alice, bob, bases=bases, channel=channel, rng=rng)
    channel.send("cascade", "bob", b"parities", leaked_bits=8)
    verify_keys(est.key_alice, est.key_alice, channel=channel, rng=rng)
    amplify(est.key_alice, est.key_alice, out_len=100, channel=channel, rng=rng)
    return channel


def rebuild(messages: list[Message]) -> PublicChannel:
    channel = PublicChannel()
    for m in messages:
        channel.send(m.stage, m.sender, m.payload, leaked_bits=m.leaked_bits)
    return channel


def test_honest_transcript_verifies() -> None:
    channel = run_channel()
    before = channel.message_count()
    result = authenticate_transcript(channel, eps_auth=1e-15, rng=1)
    assert isinstance(result, AuthenticationResult)
    assert result.verified and result.alice_verified and result.bob_verified
    assert result.forgery_probability <= 1e-15
    # Small transcripts: one 61-bit word per direction; hash key + pad per direction.
    assert result.tag_bits == 2 * 61
    assert result.key_bits_used == 2 * 2 * 61
    assert channel.message_count() == before + 2
    assert channel.message_count(stage="authentication") == 2
    assert channel.total_leaked_bits(stage="authentication") == 0
    assert {m.sender for m in channel.messages[-2:]} == {"alice", "bob"}


def flip_byte(index: int) -> Callable[[list[Message]], list[Message]]:
    def change(msgs: list[Message]) -> list[Message]:
        m = msgs[index]
        payload = bytearray(m.payload)
        payload[len(payload) // 2] ^= 0x01
        msgs[index] = Message(
            stage=m.stage, sender=m.sender, payload=bytes(payload), leaked_bits=m.leaked_bits
        )
        return msgs

    return change


def drop(index: int) -> Callable[[list[Message]], list[Message]]:
    return lambda msgs: msgs[:index] + msgs[index + 1 :]


def swap_alice_messages(msgs: list[Message]) -> list[Message]:
    i, j = [k for k, m in enumerate(msgs) if m.sender == "alice"][:2]
    msgs[i], msgs[j] = msgs[j], msgs[i]
    return msgs


def inject(sender: str) -> Callable[[list[Message]], list[Message]]:
    return lambda msgs: [
        *msgs,
        Message(stage="cascade", sender=sender, payload=b"\x00", leaked_bits=0),  # type: ignore[arg-type]
    ]


def rename_stage(msgs: list[Message]) -> list[Message]:
    m = msgs[0]
    msgs[0] = Message(stage="other", sender=m.sender, payload=m.payload, leaked_bits=0)
    return msgs


def reattribute(msgs: list[Message]) -> list[Message]:
    # Bob's cascade message presented as coming from Alice.
    k = next(k for k, m in enumerate(msgs) if m.sender == "bob")
    m = msgs[k]
    msgs[k] = Message(stage=m.stage, sender="alice", payload=m.payload, leaked_bits=0)
    return msgs


@pytest.mark.parametrize(
    ("tamper", "alice_ok", "bob_ok"),
    [
        (flip_byte(0), False, True),  # sample positions (Alice)
        (flip_byte(2), True, False),  # Bob's sample bits
        (flip_byte(-1), False, True),  # PA seed (Alice)
        (drop(0), False, True),
        (drop(3), True, False),  # Bob's cascade parities
        (swap_alice_messages, False, True),
        (inject("alice"), False, True),
        (inject("bob"), True, False),
        (rename_stage, False, True),
        (reattribute, False, False),
    ],
)
def test_tampered_transcript_fails(
    tamper: Callable[[list[Message]], list[Message]], alice_ok: bool, bob_ok: bool
) -> None:
    channel = run_channel()
    received = rebuild(tamper(list(channel.messages)))
    result = authenticate_transcript(channel, received=received, rng=2, raise_on_failure=False)
    assert (result.alice_verified, result.bob_verified) == (alice_ok, bob_ok)
    assert not result.verified
    channel2 = run_channel()
    received2 = rebuild(tamper(list(channel2.messages)))
    with pytest.raises(ProtocolAbort) as info:
        authenticate_transcript(channel2, received=received2, rng=2)
    assert info.value.reason == "authentication_failed"


@settings(max_examples=100, deadline=None)
@given(
    index=st.integers(0, 10**6),
    offset=st.integers(0, 10**9),
    xor=st.integers(1, 255),
    key_seed=st.integers(0, 2**32 - 1),
)
def test_any_byte_change_is_detected(index: int, offset: int, xor: int, key_seed: int) -> None:
    channel = run_channel()
    msgs = list(channel.messages)
    m = msgs[index % len(msgs)]
    payload = bytearray(m.payload)
    payload[offset % len(payload)] ^= xor
    msgs[index % len(msgs)] = Message(
        stage=m.stage, sender=m.sender, payload=bytes(payload), leaked_bits=0
    )
    result = authenticate_transcript(
        channel, received=rebuild(msgs), rng=key_seed, raise_on_failure=False
    )
    assert not result.verified


def test_preshared_key_is_read_from_the_front_and_counted() -> None:
    key = np.random.default_rng(3).integers(0, 2, 1000, dtype=np.uint8)
    r1 = authenticate_transcript(run_channel(), preshared_key=key)
    c2 = run_channel()
    r2 = authenticate_transcript(c2, preshared_key=key)
    assert r1.key_bits_used == r2.key_bits_used == 244
    # Same key, same transcript: same tags (deterministic in the key).
    assert c2.messages[-1].payload == run_and_tag(key)[-1].payload
    # A different pre-shared key gives different tags.
    other = key.copy()
    other[:244] ^= 1
    assert run_and_tag(other)[-1].payload != c2.messages[-1].payload
    # The caller discards the used prefix; the rest authenticates the next run.
    r3 = authenticate_transcript(run_channel(), preshared_key=key[r1.key_bits_used :])
    assert r3.verified
    assert net_new_key_bits(1000, r3) == 1000 - 244
    assert net_new_key_bits(100, r3) == 100 - 244


def run_and_tag(key: np.ndarray) -> tuple[Message, ...]:
    channel = run_channel()
    authenticate_transcript(channel, preshared_key=key)
    return channel.messages


def test_key_exhaustion_is_a_reported_abort() -> None:
    key = np.ones(100, dtype=np.uint8)
    with pytest.raises(ProtocolAbort, match="exhausted") as info:
        authenticate_transcript(run_channel(), preshared_key=key)
    assert info.value.reason == "preshared_key_exhausted"
    result = authenticate_transcript(run_channel(), preshared_key=key, raise_on_failure=False)
    assert not result.verified and result.failure == "preshared_key_exhausted"
    assert result.key_bits_used == 61 and "refill" in (result.failure_message or "")


def test_large_transcript_uses_a_bigger_field() -> None:
    channel = PublicChannel()
    rng = np.random.default_rng(4)
    channel.send("amplification", "alice", rng.integers(0, 2, 2_000_000, dtype=np.uint8))
    channel.send("cascade", "bob", rng.bytes(200_000))
    result = authenticate_transcript(channel, eps_auth=1e-15, rng=5)
    # 2·10^6 bits in 7-byte blocks is ~2^15 blocks: 2^15/2^61 > 5e-16, so GF(2^89 - 1).
    assert result.tag_bits == 2 * 89 and result.key_bits_used == 4 * 89
    assert result.verified


def test_low_level_mac() -> None:
    family = PolynomialHashFamily(exponent=61)
    key = WegmanCarterKey.draw(family, PresharedKeyReader(rng=6))
    tag = wegman_carter_tag(b"hello", key)
    assert wegman_carter_verify(b"hello", tag, key, max_message_bits=40)
    assert not wegman_carter_verify(b"hellp", tag, key, max_message_bits=40)
    assert not wegman_carter_verify(b"hello!", tag, key, max_message_bits=40)
    other = WegmanCarterKey(family=family, hash_keys=key.hash_keys, pads=((key.pads[0] + 1),))
    assert not wegman_carter_verify(b"hello", tag, other, max_message_bits=40)


def test_longer_received_transcript_is_rejected() -> None:
    channel = run_channel()
    size = 8 * len(channel.transcript(sender="alice"))
    received = rebuild(
        [
            *channel.messages,
            Message(stage="x", sender="alice", payload=b"\x00" * 100, leaked_bits=0),
        ]
    )
    result = authenticate_transcript(
        channel, received=received, max_transcript_bits=size, rng=0, raise_on_failure=False
    )
    assert not result.alice_verified and result.bob_verified


def test_reader_bits_are_big_endian() -> None:
    reader = PresharedKeyReader(np.array([1, 0, 1, 1, 0, 0, 0, 0, 0, 1], dtype=np.uint8))
    assert reader(3) == 0b101 and reader(7) == 0b1000001 and reader.used == 10
    with pytest.raises(ProtocolAbort, match="exhausted"):
        reader(1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eps_auth": 0.0}, "eps_auth"),
        ({"eps_auth": 1.0}, "eps_auth"),
        ({"eps_auth": "small"}, "eps_auth"),
        ({"preshared_key": np.array([0, 1, 2])}, "only 0 and 1"),
        ({"preshared_key": np.zeros((2, 300), dtype=np.uint8)}, "1-D"),
        ({"max_transcript_bits": 8}, "max_transcript_bits"),
    ],
)
def test_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        authenticate_transcript(run_channel(), rng=0, **kwargs)


def test_net_new_key_bits_rejects_bad_length() -> None:
    r = authenticate_transcript(run_channel(), rng=0)
    with pytest.raises(ConfigError):
        net_new_key_bits(-1, r)


def reference_polynomial_hash(
    data: bytes, message_bits: int, keys: tuple[int, ...], family: PolynomialHashFamily
) -> tuple[int, ...]:
    """The original block-by-block Horner loop the fast path must reproduce exactly."""
    p, bb = family.prime, family.block_bytes
    padded = data + bytes((-len(data)) % bb)
    blocks = [int.from_bytes(padded[i : i + bb], "big") for i in range(0, len(padded), bb)]
    blocks.append(int(message_bits))
    out = []
    for x in keys:
        acc = 0
        for m in blocks:
            acc = (acc + m) * x % p
        out.append(acc)
    return tuple(out)


def boundary_sizes(block_bytes: int, row_blocks: int) -> list[int]:
    """Message sizes (bytes) at and around block and row boundaries."""
    row = block_bytes * row_blocks
    sizes = {0, 1, 2, block_bytes - 1, block_bytes, block_bytes + 1}
    for k in (1, 2, 3, 5):
        sizes.update({k * row - 1, k * row, k * row + 1})
    return sorted(s for s in sizes if s >= 0)


@pytest.mark.parametrize("exponent", [61, 89, 107, 127, 521, 607, 1279])
def test_fast_hash_equals_reference_horner(exponent: int) -> None:
    rng = np.random.default_rng(exponent)
    family = PolynomialHashFamily(exponent=exponent, repetitions=3)
    p = family.prime
    for row_blocks in (1, 2, 3, 7, None):
        for n in boundary_sizes(family.block_bytes, row_blocks or 16):
            data = rng.bytes(n)
            keys = (1, p - 1, int(rng.integers(1, 2**61 - 1)))
            for bits in (8 * n, max(0, 8 * n - 3)):  # byte messages and packed bit strings
                want = reference_polynomial_hash(data, bits, keys, family)
                got = _polynomial_hash_fast(data, bits, keys, family, row_blocks=row_blocks)
                assert got == want, (exponent, row_blocks, n, bits)
                assert got == polynomial_hash(data, bits, keys, family)


@pytest.mark.parametrize("exponent", [61, 89, 127, 1279])
def test_fast_hash_extreme_bytes_and_keys(exponent: int) -> None:
    # All-0xff blocks and key p − 1 give the largest limb sums of the float64 products.
    family = PolynomialHashFamily(exponent=exponent, repetitions=2)
    p = family.prime
    for n in (1, family.block_bytes, 8191, 8192, 50_000):
        data = b"\xff" * n
        keys = (p - 1, p - 2)
        assert _polynomial_hash_fast(data, 8 * n, keys, family) == reference_polynomial_hash(
            data, 8 * n, keys, family
        )


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=3000),
    key_seed=st.integers(0, 2**32 - 1),
    exponent=st.sampled_from([61, 89, 107, 127, 521]),
    row_blocks=st.one_of(st.none(), st.integers(1, 40)),
)
def test_fast_hash_equals_reference_on_random_messages(
    data: bytes, key_seed: int, exponent: int, row_blocks: int | None
) -> None:
    family = PolynomialHashFamily(exponent=exponent, repetitions=2)
    key = WegmanCarterKey.draw(family, PresharedKeyReader(rng=key_seed))
    want = reference_polynomial_hash(data, 8 * len(data), key.hash_keys, family)
    got = _polynomial_hash_fast(data, 8 * len(data), key.hash_keys, family, row_blocks=row_blocks)
    assert got == want


def test_tags_on_random_transcripts_equal_reference() -> None:
    rng = np.random.default_rng(11)
    for messages in (0, 1, 2, 5, 40):
        channel = PublicChannel()
        for _ in range(messages):
            size = int(rng.choice([0, 1, 7, 11, 100, 8192, int(rng.integers(0, 200_000))]))
            channel.send("stage", "alice" if rng.random() < 0.5 else "bob", rng.bytes(size))
        for sender in ("alice", "bob"):
            sent = channel.transcript(sender=sender)
            family = choose_hash_family(8 * len(sent), 1e-15 / 2)
            key = WegmanCarterKey.draw(family, PresharedKeyReader(rng=int(rng.integers(2**32))))
            p = family.prime
            want = tuple(
                (h + s) % p
                for h, s in zip(
                    reference_polynomial_hash(sent, 8 * len(sent), key.hash_keys, family),
                    key.pads,
                    strict=True,
                )
            )
            assert wegman_carter_tag(sent, key) == want


def test_fast_hash_rejects_bad_row_size() -> None:
    family = PolynomialHashFamily(exponent=61)
    with pytest.raises(ConfigError, match="row_blocks"):
        _polynomial_hash_fast(b"abc", 24, (5,), family, row_blocks=0)
    with pytest.raises(ConfigError, match="row_blocks"):
        _polynomial_hash_fast(b"abc", 24, (5,), family, row_blocks=10_000)
