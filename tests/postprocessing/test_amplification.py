"""Privacy amplification: FFT Toeplitz hashing equals the direct GF(2) product."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from qkd_circuits.errors import ConfigError, QKDError
from qkd_circuits.postprocessing import amplification
from qkd_circuits.postprocessing.amplification import (
    amplify,
    toeplitz_hash,
    toeplitz_hash_direct,
)
from qkd_circuits.postprocessing.channel import PublicChannel


@st.composite
def key_seed_out(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    n = draw(st.integers(1, 300))
    m = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.0, 0.01, 0.5, 0.99, 1.0]))
    key = (rng.random(n) < density).astype(np.uint8)
    seed_bits = (rng.random(n + m - 1) < draw(st.sampled_from([0.0, 0.5, 1.0]))).astype(np.uint8)
    return key, seed_bits, m


@settings(max_examples=150, deadline=None)
@given(key_seed_out())
def test_fft_equals_direct_product(case: tuple[np.ndarray, np.ndarray, int]) -> None:
    key, seed_bits, m = case
    assert np.array_equal(toeplitz_hash(key, seed_bits, m), toeplitz_hash_direct(key, seed_bits, m))


def test_direct_product_matches_definition() -> None:
    # T[i, j] = s[i - j + n - 1], checked element by element on a small case.
    rng = np.random.default_rng(3)
    n, m = 7, 4
    key = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    t = np.array([[s[i - j + n - 1] for j in range(n)] for i in range(m)], dtype=np.int64)
    assert np.array_equal(t, scipy.linalg.toeplitz(s[n - 1 :], s[n - 1 :: -1]))
    assert np.array_equal(toeplitz_hash_direct(key, s, m), (t @ key) % 2)
    assert np.array_equal(toeplitz_hash(key, s, m), (t @ key) % 2)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 5), (5, 1), (2, 2), (64, 63), (1000, 1)])
def test_edge_sizes(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 1000 + m)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    assert np.array_equal(toeplitz_hash(key, s, m), toeplitz_hash_direct(key, s, m))


def test_exact_at_one_million_bits() -> None:
    """n = 10^6: rounding is exact (worst case all ones) and rows match the direct product."""
    n, m = 10**6, 500_000
    # Worst case for the float error: every convolution value equals n.
    ones = np.ones(n, dtype=np.uint8)
    seed_ones = np.ones(n + m - 1, dtype=np.uint8)
    values = amplification._toeplitz_float(ones[np.newaxis, :], seed_ones, m)
    assert np.max(np.abs(values - n)) < 1e-3
    assert np.all(toeplitz_hash(ones, seed_ones, m) == n % 2)

    rng = np.random.default_rng(2024)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed_bits = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    values = amplification._toeplitz_float(key[np.newaxis, :], seed_bits, m)[0]
    assert np.max(np.abs(values - np.rint(values))) < 1e-3
    out = toeplitz_hash(key, seed_bits, m)
    # Direct check of random rows: out[i] = sum_j s[i - j + n - 1] key[j] mod 2.
    for i in [*rng.choice(m, size=40, replace=False).tolist(), 0, m - 1]:
        row = seed_bits[i : i + n][::-1]
        assert out[i] == int(np.dot(row.astype(np.int64), key)) % 2


def test_amplify_records_seed_and_agrees() -> None:
    rng = np.random.default_rng(5)
    key = rng.integers(0, 2, 2000, dtype=np.uint8)
    channel = PublicChannel()
    fa, fb = amplify(key, key.copy(), out_len=700, channel=channel, rng=9)
    assert fa.dtype == np.uint8 and fa.shape == (700,)
    assert np.array_equal(fa, fb)
    assert channel.message_count(stage="amplification") == 1
    assert channel.total_leaked_bits(stage="amplification") == 0
    seed_bytes = channel.messages[0].payload
    seed = np.unpackbits(np.frombuffer(seed_bytes, dtype=np.uint8))[: 2000 + 700 - 1]
    assert np.array_equal(fa, toeplitz_hash_direct(key, seed, 700))
    # Same rng seed gives the same output; another seed another one.
    assert np.array_equal(amplify(key, key, out_len=700, rng=9)[0], fa)
    assert not np.array_equal(amplify(key, key, out_len=700, rng=10)[0], fa)


def test_output_is_balanced() -> None:
    # A fixed nonzero key hashed with many random seeds: output bits are fair coins.
    key = np.zeros(500, dtype=np.uint8)
    key[::7] = 1
    rng = np.random.default_rng(11)
    ones = sum(int(amplify(key, key, out_len=100, rng=rng)[0].sum()) for _ in range(200))
    trials = 200 * 100
    assert abs(ones / trials - 0.5) <= 5 * np.sqrt(0.25 / trials)


@pytest.mark.parametrize(
    ("key", "seed", "m", "match"),
    [
        ([], [], 1, "empty"),
        ([0, 1, 2], [0, 1, 0], 1, "only 0 and 1"),
        ([0, 1], [0, 1], 2, "length n \\+ out_len - 1"),
        ([0, 1], [0], 0, "out_len"),
        ([[0, 1]], [0, 1], 1, "1-D"),
        ([0.0, 1.0], [0, 1], 1, "integers"),
    ],
)
def test_toeplitz_rejects_bad_input(key: list, seed: list, m: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        toeplitz_hash(key, seed, m)
    with pytest.raises(ConfigError, match=match):
        toeplitz_hash_direct(key, seed, m)


@pytest.mark.parametrize(
    ("a", "b", "m", "match"),
    [
        ([], [], 1, "empty"),
        ([0, 1, 1], [0, 1], 1, "equal length"),
        ([0, 1, 1], [0, 1, 1], 0, "out_len"),
        ([0, 1, 1], [0, 1, 1], 4, "out_len"),
        ([0, 1, 1], [0, 1, 1], 1.5, "integer"),
        ([0, 1, 3], [0, 1, 1], 1, "only 0 and 1"),
    ],
)
def test_amplify_rejects_bad_input(a: list, b: list, m: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        amplify(a, b, out_len=m, rng=0)


def test_amplify_hashes_each_partys_own_key() -> None:
    # Unequal keys (no verification in between): each party hashes its own key.
    rng = np.random.default_rng(6)
    a = rng.integers(0, 2, 300, dtype=np.uint8)
    b = a.copy()
    b[17] ^= 1
    channel = PublicChannel()
    fa, fb = amplify(a, b, out_len=120, channel=channel, rng=1)
    seed = np.unpackbits(np.frombuffer(channel.messages[0].payload, dtype=np.uint8))[: 300 + 119]
    assert np.array_equal(fa, toeplitz_hash_direct(a, seed, 120))
    assert np.array_equal(fb, toeplitz_hash_direct(b, seed, 120))
    assert not np.array_equal(fa, fb)


def test_rounding_guard_refuses_to_emit(monkeypatch: pytest.MonkeyPatch) -> None:
    def noisy(keys: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
        return np.full((keys.shape[0], m), 3.4)

    monkeypatch.setattr(amplification, "_toeplitz_float", noisy)
    with pytest.raises(QKDError, match="rounding error"):
        toeplitz_hash([1, 0, 1], [0, 1, 1, 0], 2)
