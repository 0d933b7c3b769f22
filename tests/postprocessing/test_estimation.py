"""Parameter estimation per basis: random samples, error counts, abort above threshold."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import (
    QBEREstimate,
    check_qber,
    decode_sample_positions,
    encode_sample_positions,
    estimate_qber,
    sampling_deviation,
)


def noisy_pair(n: int, errors: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice.copy()
    bob[rng.choice(n, size=errors, replace=False)] ^= 1
    return alice, bob


def alternating(n: int) -> np.ndarray:
    """Bases Z, X, Z, X, ... (uint8)."""
    return (np.arange(n) % 2).astype(np.uint8)


def test_sampling_deviation_worked_example() -> None:
    # n = 900, k = 100, eps = 0.05:
    # (n + k)/(n k) = 1000/90000 = 0.0111111..., (k + 1)/k = 1.01, ln(1/0.05) = 2.9957323,
    # product / 2 = 0.0111111 * 1.01 * 2.9957323 / 2 = 0.0168094, sqrt = 0.1296510.
    assert sampling_deviation(900, 100, 0.05) == pytest.approx(0.1296510, abs=1e-6)
    # Equals the paper's mu = sqrt(... ln(4/eps_sec)) for eps = (eps_sec / 4)^2.
    eps_sec = 1e-10
    paper_mu = math.sqrt(1000 / 90000 * 1.01 * math.log(4 / eps_sec))
    assert sampling_deviation(900, 100, (eps_sec / 4) ** 2) == pytest.approx(paper_mu, rel=1e-12)


def test_sampling_deviation_shrinks_with_sample() -> None:
    mus = [sampling_deviation(10 * k, k, 1e-10) for k in (10, 100, 1000, 10_000)]
    assert all(a > b for a, b in itertools.pairwise(mus))
    # Roughly 1/sqrt(k) scaling.
    assert mus[2] / mus[3] == pytest.approx(math.sqrt(10), rel=0.01)


def test_estimate_samples_each_basis_and_counts_errors() -> None:
    alice, bob = noisy_pair(1000, 50, seed=1)
    bases = alternating(1000)
    channel = PublicChannel()
    est = estimate_qber(alice, bob, bases=bases, sample_fraction=0.1, channel=channel, rng=7)
    assert isinstance(est, QBEREstimate)
    assert est.sample_size == 100 and est.key_length == 900
    pos = est.sample_positions
    assert pos.dtype == np.int64 and np.all(np.diff(pos) > 0)
    for value, name in enumerate("ZX"):
        in_basis = pos[bases[pos] == value]
        s = est.samples[name]
        assert s.sifted_bits == 500 and s.sample_bits == in_basis.size == 50
        assert s.sample_errors == int(np.count_nonzero(alice[in_basis] != bob[in_basis]))
        assert s.key_bits == 450 and s.qber == s.sample_errors / 50
    assert est.sample_errors == int(np.count_nonzero(alice[pos] != bob[pos]))
    assert est.qber == est.sample_errors / 100
    keep = np.setdiff1d(np.arange(1000), pos)
    assert np.array_equal(est.key_alice, alice[keep]) and np.array_equal(est.key_bob, bob[keep])
    assert np.array_equal(est.key_bases, bases[keep])
    assert est.key_alice.dtype == np.uint8
    # Positions leak nothing; both parties' sample bits are counted (k each).
    assert channel.message_count(stage="estimation") == 3
    assert [m.leaked_bits for m in channel.messages] == [0, 100, 100]
    assert decoded_positions(channel, 1000).tolist() == pos.tolist()


def decoded_positions(channel: PublicChannel, sifted_bits: int) -> np.ndarray:
    return decode_sample_positions(channel.messages[0].payload, sifted_bits=sifted_bits)


def test_positions_go_on_the_channel_as_a_bitmap_over_the_sifted_key() -> None:
    """At a 10 % sample the positions message is ``packbits(mask)``: N/8 bytes, not 8k."""
    n = 10_001  # not a multiple of 8: the padding bits are zero
    alice, bob = noisy_pair(n, 300, seed=11)
    bases = np.random.default_rng(12).integers(0, 2, n, dtype=np.uint8)
    channel = PublicChannel()
    est = estimate_qber(alice, bob, bases=bases, sample_fraction=0.1, channel=channel, rng=13)
    mask = np.zeros(n, dtype=bool)
    mask[est.sample_positions] = True
    message = channel.messages[0]
    assert message.stage == "estimation" and message.sender == "alice"
    assert message.payload == np.packbits(mask).tobytes()
    assert len(message.payload) == math.ceil(n / 8) < 8 * est.sample_size
    assert np.array_equal(decoded_positions(channel, n), est.sample_positions)
    # Leakage is the same as with the int64 list: positions 0, each party's sample bits k.
    k = est.sample_size
    assert [m.leaked_bits for m in channel.messages] == [0, k, k]
    assert channel.total_leaked_bits(stage="estimation") == 2 * k
    # The sample bits that follow are the bits at the decoded positions.
    decoded = decoded_positions(channel, n)
    assert channel.messages[1].payload == np.packbits(alice[decoded]).tobytes()
    assert channel.messages[2].payload == np.packbits(bob[decoded]).tobytes()


def test_a_small_sample_keeps_the_shorter_position_list() -> None:
    """Below ~1/(8w) of the key the list of w-byte positions beats the bitmap; same set."""
    n = 100_000  # positions need w = 4 bytes
    alice, bob = noisy_pair(n, 0, seed=14)
    bases = alternating(n)
    channel = PublicChannel()
    est = estimate_qber(alice, bob, bases=bases, sample_fraction=0.001, channel=channel, rng=15)
    payload = channel.messages[0].payload
    assert est.sample_size == 100 and len(payload) == 4 * 100 < math.ceil(n / 8)
    assert np.array_equal(np.frombuffer(payload, dtype="<u4"), est.sample_positions)
    assert np.array_equal(decoded_positions(channel, n), est.sample_positions)
    assert [m.leaked_bits for m in channel.messages] == [0, 100, 100]


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 5000), density=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_position_encoding_round_trips_and_is_the_shorter_form(
    n: int, density: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    positions = np.flatnonzero(rng.random(n) < density)
    payload = encode_sample_positions(rng.permutation(positions), sifted_bits=n)
    width = next(w for w in (1, 2, 4, 8) if max(n - 1, 0) < 256**w)
    assert len(payload) == min(math.ceil(n / 8), positions.size * width)
    decoded = decode_sample_positions(payload, sifted_bits=n)
    assert decoded.dtype == np.int64 and np.array_equal(decoded, positions)


@pytest.mark.parametrize(
    ("positions", "n", "match"),
    [
        ([0, 8], 8, r"\[0, 8\)"),
        ([-1], 8, r"\[0, 8\)"),
        ([1, 1], 8, "distinct"),
        ([0.5], 8, "integer"),
        ([[1]], 8, "1-D"),
        ([1], -1, "sifted_bits"),
    ],
)
def test_encode_positions_rejects_bad_input(positions: list, n: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        encode_sample_positions(positions, sifted_bits=n)


@pytest.mark.parametrize(
    ("payload", "n", "match"),
    [
        (b"\x00\x01", 10, "padding"),  # bit 15 of a 10-bit bitmap
        (b"\x00\x00\x00", 10, "neither"),  # longer than the bitmap
        (b"\x05\x00\x00" + b"\x00" * 100, 1000, "neither"),  # not whole 2-byte positions
        (b"\x05\x00\x03\x00", 1000, "increasing"),  # 5, 3: unsorted
        (b"\x05\x00\x05\x00", 1000, "increasing"),  # repeated
        (b"\xe8\x03", 1000, "below 1000"),  # position 1000
    ],
)
def test_decode_positions_rejects_what_no_encoder_sends(payload: bytes, n: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        decode_sample_positions(payload, sifted_bits=n)


def test_a_biased_basis_is_sampled_in_proportion_and_never_mixed() -> None:
    """99 % Z: the X sample is its own (k_X = ceil(0.1 · N_X)), not a share of a mixed one."""
    n = 20_000
    bases = (np.random.default_rng(3).random(n) < 0.01).astype(np.uint8)
    alice, bob = noisy_pair(n, 0, seed=4)
    bob[bases == 1] ^= 1  # every X bit wrong, every Z bit right
    est = estimate_qber(alice, bob, bases=bases, rng=5)
    n_x = int(bases.sum())
    assert est.samples["X"].sample_bits == math.ceil(0.1 * n_x)
    assert est.samples["X"].qber == 1.0 and est.samples["Z"].qber == 0.0
    with pytest.raises(ProtocolAbort, match="basis X"):
        check_qber(est, threshold=0.11)


def test_same_seed_same_sample() -> None:
    alice, bob = noisy_pair(500, 20, seed=2)
    bases = alternating(500)
    a = estimate_qber(alice, bob, bases=bases, rng=3)
    b = estimate_qber(alice, bob, bases=bases, rng=3)
    c = estimate_qber(alice, bob, bases=bases, rng=4)
    assert np.array_equal(a.sample_positions, b.sample_positions)
    assert not np.array_equal(a.sample_positions, c.sample_positions)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(2, 3000),
    fraction=st.floats(0.001, 0.9),
    seed=st.integers(0, 2**32 - 1),
)
def test_sizes_and_partition(n: int, fraction: float, seed: int) -> None:
    alice, bob = noisy_pair(n, n // 10, seed=seed)
    bases = np.random.default_rng(seed).integers(0, 2, n, dtype=np.uint8)
    counts = [int(np.count_nonzero(bases == v)) for v in (0, 1)]
    k = sum(math.ceil(fraction * c) for c in counts)
    if k >= n:
        with pytest.raises(ProtocolAbort):
            estimate_qber(alice, bob, bases=bases, sample_fraction=fraction, rng=seed)
        return
    est = estimate_qber(alice, bob, bases=bases, sample_fraction=fraction, rng=seed)
    assert est.sample_size == k and est.key_length == n - k
    assert 0.0 <= est.qber <= 1.0
    assert len(set(est.sample_positions.tolist())) == k


def test_check_qber_aborts_above_threshold() -> None:
    alice, bob = noisy_pair(1000, 300, seed=8)
    est = estimate_qber(alice, bob, bases=alternating(1000), rng=0)
    with pytest.raises(ProtocolAbort) as info:
        check_qber(est, threshold=0.11)
    assert info.value.reason == "qber_above_threshold"
    assert f"{est.samples['Z'].qber:.6f}" in str(info.value) and "0.110000" in str(info.value)
    check_qber(est, threshold=0.5)


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "match"),
    [
        ([], [], {}, "empty"),
        ([0, 1, 0], [0, 1], {}, "equal length"),
        ([0, 1, 5], [0, 1, 1], {}, "only 0 and 1"),
        ([0.5, 1, 0], [0, 1, 1], {}, "integers"),
        ([0, 1, 0], [0, 1, 1], {"sample_fraction": 0.0}, "sample_fraction"),
        ([0, 1, 0], [0, 1, 1], {"sample_fraction": 1.0}, "sample_fraction"),
        ([0, 1, 0], [0, 1, 1], {"sample_fraction": -0.2}, "sample_fraction"),
        ([0, 1, 0], [0, 1, 1], {"bases": [0, 1]}, "equal length"),
        ([0, 1, 0], [0, 1, 1], {"bases": [0, 2, 1]}, "only 0 and 1"),
    ],
)
def test_rejects_bad_input(a: list, b: list, kwargs: dict, match: str) -> None:
    args = {"bases": [0, 1, 0][: len(a)] if a else [], **kwargs}
    with pytest.raises(ConfigError, match=match):
        estimate_qber(a, b, rng=0, **args)


@pytest.mark.parametrize(("n", "fraction"), [(1, 0.1), (10, 0.95), (2, 0.6)])
def test_sample_that_leaves_nothing_aborts(n: int, fraction: float) -> None:
    zeros = np.zeros(n, np.uint8)
    with pytest.raises(ProtocolAbort) as info:
        estimate_qber(zeros, zeros, bases=zeros, sample_fraction=fraction)
    assert info.value.reason == "key_too_short"


@pytest.mark.parametrize(
    ("n", "k", "eps"), [(0, 5, 0.1), (5, 0, 0.1), (5, 5, 0.0), (5, 5, 1.0), (5.0, 5, 0.1)]
)
def test_sampling_deviation_rejects_bad_input(n: int, k: int, eps: float) -> None:
    with pytest.raises(ConfigError):
        sampling_deviation(n, k, eps)


def test_check_qber_rejects_bad_threshold() -> None:
    est = estimate_qber([0, 1, 0, 1], [0, 1, 0, 1], bases=[0, 0, 1, 1], rng=0)
    with pytest.raises(ConfigError, match="threshold"):
        check_qber(est, threshold=1.5)
