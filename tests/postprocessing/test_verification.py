"""Error verification: polynomial hashing, tag sizing and abort on any difference."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.verification import (
    MERSENNE_EXPONENTS,
    PolynomialHashFamily,
    choose_hash_family,
    draw_field_element,
    polynomial_hash,
    verification_tag_bits,
    verify_keys,
)


def reference_hash(data: bytes, message_bits: int, x: int, family: PolynomialHashFamily) -> int:
    """Σ m_i x^(d - i + 1) mod p, written out with pow() (independent of Horner's rule)."""
    p, b = family.prime, family.block_bytes
    padded = data + bytes((-len(data)) % b)
    blocks = [int.from_bytes(padded[i : i + b], "big") for i in range(0, len(padded), b)]
    blocks.append(message_bits)
    d = len(blocks)
    return sum(m * pow(x, d - i, p) for i, m in enumerate(blocks)) % p


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=200),
    exponent=st.sampled_from(MERSENNE_EXPONENTS[:4]),
    x_seed=st.integers(1, 2**64),
)
def test_polynomial_hash_matches_reference(data: bytes, exponent: int, x_seed: int) -> None:
    family = PolynomialHashFamily(exponent=exponent)
    x = 1 + x_seed % (family.prime - 1)
    (h,) = polynomial_hash(data, 8 * len(data), (x,), family)
    assert h == reference_hash(data, 8 * len(data), x, family)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 4000),
    position=st.integers(0, 10**9),
    key_seed=st.integers(0, 2**32 - 1),
    hash_seed=st.integers(0, 2**32 - 1),
)
def test_single_bit_difference_is_caught(
    n: int, position: int, key_seed: int, hash_seed: int
) -> None:
    alice = np.random.default_rng(key_seed).integers(0, 2, n, dtype=np.uint8)
    bob = alice.copy()
    bob[position % n] ^= 1
    with pytest.raises(ProtocolAbort) as info:
        verify_keys(alice, bob, rng=hash_seed)
    assert info.value.reason == "verification_failed"


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(2, 3000),
    flips=st.integers(2, 50),
    key_seed=st.integers(0, 2**32 - 1),
)
def test_multi_bit_differences_are_caught(n: int, flips: int, key_seed: int) -> None:
    rng = np.random.default_rng(key_seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice.copy()
    bob[rng.choice(n, size=min(flips, n), replace=False)] ^= 1
    with pytest.raises(ProtocolAbort, match="differs"):
        verify_keys(alice, bob, rng=rng)


def test_equal_keys_pass_and_tag_is_counted_as_leaked() -> None:
    key = np.random.default_rng(1).integers(0, 2, 10**6, dtype=np.uint8)
    channel = PublicChannel()
    result = verify_keys(key, key.copy(), eps_cor=1e-15, channel=channel, rng=2)
    assert result.match
    # Polynomial stage: 10^6 bits in 11-byte blocks, d = ceil(125000 / 11) + 1 = 11365
    # blocks over GF(2^89 - 1); Toeplitz stage: t = 50 bits, 2^-50 < 1e-15 - d/(p - 1).
    assert (result.field_exponent, result.repetitions, result.tag_bits) == (89, 1, 50)
    assert result.collision_bound == pytest.approx(11365 / (2**89 - 2) + 2.0**-50)
    assert result.collision_bound <= result.eps_cor == 1e-15
    assert channel.message_count(stage="verification") == 4
    assert channel.total_leaked_bits(stage="verification") == 50 == math.ceil(math.log2(1e15))
    senders = [m.sender for m in channel.messages]
    assert senders == ["alice", "alice", "alice", "bob"]
    assert channel.messages[3].payload == b"\x01"


@pytest.mark.parametrize("eps_cor", [1e-6, 1e-10, 1e-15, 1e-30])
@pytest.mark.parametrize("n", [10, 10**4, 10**7])
def test_tag_is_as_short_as_eps_cor_allows(eps_cor: float, n: int) -> None:
    family, t = verification_tag_bits(n, eps_cor)
    first = family.collision_bound(n)
    assert first + 2.0**-t <= eps_cor < first + 2.0 ** -(t - 1)
    assert t == math.ceil(math.log2(1 / eps_cor))  # the polynomial stage costs nothing


def test_mismatch_is_announced_before_abort() -> None:
    channel = PublicChannel()
    with pytest.raises(ProtocolAbort):
        verify_keys([0, 1, 1, 0], [0, 1, 1, 1], channel=channel, rng=0)
    assert channel.messages[-1].payload == b"\x00"


def test_length_is_part_of_the_hash() -> None:
    # Same packed bytes, different bit lengths: different hashes.
    family = PolynomialHashFamily(exponent=61)
    keys = (123456789,)
    data = np.packbits(np.array([1, 0, 1], dtype=np.uint8)).tobytes()
    assert polynomial_hash(data, 3, keys, family) != polynomial_hash(data, 4, keys, family)


@pytest.mark.parametrize("message_bits", [0, 1, 1000, 10**6, 10**8])
@pytest.mark.parametrize("eps", [0.5, 1e-6, 1e-15, 1e-40, 1e-300])
def test_family_is_smallest_that_meets_eps(message_bits: int, eps: float) -> None:
    chosen = choose_hash_family(message_bits, eps)
    assert chosen.collision_bound(message_bits) <= eps
    # Exact check of the bound, and that no family with fewer tag bits meets eps.
    ratio = Fraction(chosen.num_blocks(message_bits), chosen.prime - 1)
    assert ratio**chosen.repetitions <= Fraction(eps)
    for e in MERSENNE_EXPONENTS:
        for r in range(1, 40):
            fam = PolynomialHashFamily(exponent=e, repetitions=r)
            if fam.tag_bits >= chosen.tag_bits:
                break
            bound = Fraction(fam.num_blocks(message_bits), fam.prime - 1) ** r
            assert bound > Fraction(eps), (e, r)
    # The tag can never be shorter than log2(1/eps).
    assert chosen.tag_bits >= math.log2(1 / eps)


def test_draw_field_element_rejects_zero_and_p() -> None:
    values = iter([0, 7, 3])
    assert draw_field_element(3, lambda _n: next(values)) == 3


@pytest.mark.parametrize(
    ("a", "b", "eps", "match"),
    [
        ([], [], 1e-15, "empty"),
        ([0, 1], [0, 1, 1], 1e-15, "equal length"),
        ([0, 2], [0, 1], 1e-15, "only 0 and 1"),
        ([0, 1], [0, 1], 0.0, "eps"),
        ([0, 1], [0, 1], 1.0, "eps"),
        ([0, 1], [0, 1], -1e-3, "eps"),
        ([0, 1], [0, 1], float("nan"), "eps"),
    ],
)
def test_rejects_bad_input(a: list, b: list, eps: float, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        verify_keys(a, b, eps_cor=eps, rng=0)


def test_family_validation() -> None:
    with pytest.raises(ConfigError, match="Mersenne"):
        PolynomialHashFamily(exponent=64)
    with pytest.raises(ConfigError, match="repetitions"):
        PolynomialHashFamily(exponent=61, repetitions=0)
    with pytest.raises(ConfigError, match="hash keys"):
        polynomial_hash(b"ab", 16, (1, 2), PolynomialHashFamily(exponent=61))
    with pytest.raises(ConfigError, match="1, p - 1"):
        polynomial_hash(b"ab", 16, (0,), PolynomialHashFamily(exponent=61))
