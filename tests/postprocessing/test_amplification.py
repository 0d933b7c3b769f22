"""Privacy amplification: FFT (modified) Toeplitz hashing equals the direct GF(2) product."""

from __future__ import annotations

import itertools
import multiprocessing
import threading

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from qkd_circuits.errors import ConfigError, QKDError
from qkd_circuits.postprocessing import amplification
from qkd_circuits.postprocessing.amplification import (
    amplify,
    modified_toeplitz_hash,
    modified_toeplitz_hash_direct,
    modified_toeplitz_seed_bits,
    toeplitz_hash,
    toeplitz_hash_direct,
)
from qkd_circuits.postprocessing.channel import PublicChannel


def _sent_seed(channel: PublicChannel, n_bits: int) -> np.ndarray:
    payload = channel.messages[-1].payload
    assert len(payload) == -(-n_bits // 8)
    return np.unpackbits(np.frombuffer(payload, dtype=np.uint8))[:n_bits]


def _rows_reference(key: np.ndarray, seed: np.ndarray, m: int, rows: list[int]) -> np.ndarray:
    """Rows of ``[I_m | T] key`` by their definition, ``T[i, j] = seed[i - j + n - m - 1]``."""
    k = key.size - m
    tail = key[m:].astype(np.int64)
    return np.array(
        [
            (int(key[i]) + int(np.dot(seed[i : i + k][::-1].astype(np.int64), tail))) % 2
            for i in rows
        ],
        dtype=np.uint8,
    )


@pytest.fixture
def small_grid(monkeypatch: pytest.MonkeyPatch):
    """Route short lengths through the 2-D CRT grid, so the direct product can check it."""
    monkeypatch.setattr(amplification, "_GRID_FROM", 256)
    amplification._grid_shape.cache_clear()
    amplification._grid.cache_clear()
    yield
    amplification._grid_shape.cache_clear()
    amplification._grid.cache_clear()


# ----------------------------------------------------------------- plain Toeplitz


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


@pytest.mark.parametrize(("n", "m"), [(300, 200), (257, 1), (100, 400), (1000, 999)])
def test_plain_toeplitz_on_the_grid(small_grid: None, n: int, m: int) -> None:
    rng = np.random.default_rng(n + 7 * m)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    assert amplification._grid(n + m - 1).short > 1
    assert np.array_equal(toeplitz_hash(key, s, m), toeplitz_hash_direct(key, s, m))


# -------------------------------------------------------------- modified Toeplitz


def test_modified_direct_matches_definition() -> None:
    # [I_m | T] with T[i, j] = s[i - j + n - m - 1], element by element.
    rng = np.random.default_rng(4)
    n, m = 9, 4
    key = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n - 1, dtype=np.uint8)
    k = n - m
    t = np.array([[s[i - j + k - 1] for j in range(k)] for i in range(m)], dtype=np.int64)
    expected = (key[:m] + t @ key[m:]) % 2
    assert np.array_equal(modified_toeplitz_hash_direct(key, s, m), expected)
    assert np.array_equal(modified_toeplitz_hash(key, s, m), expected)
    # It is x1 xor the plain Toeplitz hash of the tail.
    assert np.array_equal(expected, key[:m] ^ toeplitz_hash_direct(key[m:], s, m))


@st.composite
def modified_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    n = draw(st.integers(1, 400))
    m = draw(st.one_of(st.integers(1, n), st.just(n), st.just(1), st.just(max(1, n - 1))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([0.0, 0.01, 0.5, 0.99, 1.0]))
    key = (rng.random(n) < density).astype(np.uint8)
    seed = (rng.random(n - 1) < draw(st.sampled_from([0.0, 0.5, 1.0]))).astype(np.uint8)
    return key, seed, m


@settings(max_examples=200, deadline=None)
@given(modified_case())
def test_modified_fft_equals_direct(case: tuple[np.ndarray, np.ndarray, int]) -> None:
    key, seed, m = case
    assert np.array_equal(
        modified_toeplitz_hash(key, seed, m), modified_toeplitz_hash_direct(key, seed, m)
    )


@settings(max_examples=100, deadline=None)
@given(modified_case())
def test_modified_fft_equals_direct_on_the_grid(case: tuple[np.ndarray, np.ndarray, int]) -> None:
    # Same property with the 2-D CRT grid forced for lengths >= 256 (hypothesis
    # runs the test body many times, so the threshold is set inside it).
    key, seed, m = case
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(amplification, "_GRID_FROM", 256)
        amplification._grid_shape.cache_clear()
        amplification._grid.cache_clear()
        try:
            got = modified_toeplitz_hash(key, seed, m)
        finally:
            amplification._grid_shape.cache_clear()
            amplification._grid.cache_clear()
    assert np.array_equal(got, modified_toeplitz_hash_direct(key, seed, m))


@pytest.mark.parametrize(
    ("n", "m"),
    [
        (1, 1),
        (2, 1),
        (2, 2),
        (3, 3),
        (3, 2),
        (50, 1),
        (50, 49),
        (50, 50),
        (257, 128),
        (700, 699),
        (1025, 1),
        (1500, 1499),
        (2000, 1000),
    ],
)
def test_modified_edge_sizes_on_the_grid(small_grid: None, n: int, m: int) -> None:
    rng = np.random.default_rng(n * 31 + m)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n - 1, dtype=np.uint8)
    assert np.array_equal(
        modified_toeplitz_hash(key, seed, m), modified_toeplitz_hash_direct(key, seed, m)
    )


@pytest.mark.parametrize("seed", range(30))
def test_modified_random_sizes_on_the_grid(small_grid: None, seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(256, 3000))
    m = int(rng.choice([1, n, n - 1, int(rng.integers(1, n + 1))]))
    key = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n - 1, dtype=np.uint8)
    assert np.array_equal(
        modified_toeplitz_hash(key, s, m), modified_toeplitz_hash_direct(key, s, m)
    )


@pytest.mark.parametrize(
    ("n", "m"), [(40_000, 39_900), (70_001, 1), (70_001, 35_000), (40_001, 40_000)]
)
def test_modified_default_grid_rows(n: int, m: int) -> None:
    """Default thresholds (a real grid, e.g. 245 x 4096 near 10^6): rows against the definition."""
    rng = np.random.default_rng(n + m)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n - 1, dtype=np.uint8)
    assert amplification._grid(n - 1).short > 1
    out = modified_toeplitz_hash(key, seed, m)
    rows = sorted({0, m - 1, *rng.choice(m, size=min(m, 60), replace=False).tolist()})
    assert np.array_equal(out[rows], _rows_reference(key, seed, m, rows))


@pytest.mark.parametrize("n", range(1, 7))
def test_modified_family_is_universal2_exhaustively(n: int) -> None:
    """Every m <= n, every pair x != x', all 2^(n-1) seeds: collision fraction <= 2^-m.

    Exactly as the proof says: 0 when the tails agree (or m = n), else 2^-m.
    The hashes are the FFT implementation's, checked against the matrix.
    """
    keys = np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.uint8)
    seeds = np.array(list(itertools.product([0, 1], repeat=n - 1)), dtype=np.uint8).reshape(
        2 ** (n - 1), n - 1
    )
    for m in range(1, n + 1):
        hashes = np.array(
            [[modified_toeplitz_hash(x, s, m) for x in keys] for s in seeds], dtype=np.uint8
        )  # (seeds, keys, m)
        sample = [(0, 0), (len(seeds) - 1, len(keys) - 1), (len(seeds) // 2, len(keys) // 3)]
        for si, xi in sample:
            assert np.array_equal(
                hashes[si, xi], modified_toeplitz_hash_direct(keys[xi], seeds[si], m)
            )
        codes = hashes @ (1 << np.arange(m, dtype=np.int64))  # (seeds, keys)
        equal = codes[:, :, None] == codes[:, None, :]  # (seeds, keys, keys)
        collisions = equal.sum(axis=0)
        same_tail = (keys[:, None, m:] == keys[None, :, m:]).all(axis=2)
        off_diagonal = ~np.eye(len(keys), dtype=bool)
        assert np.all(collisions[off_diagonal] * 2**m <= len(seeds))
        assert np.all(collisions[off_diagonal & same_tail] == 0)
        assert np.all(collisions[off_diagonal & ~same_tail] * 2**m == len(seeds))


def test_seed_length_is_n_minus_one() -> None:
    assert [modified_toeplitz_seed_bits(n) for n in (1, 2, 10, 10**6)] == [0, 1, 9, 10**6 - 1]


def test_exact_at_one_million_bits() -> None:
    """n = 10^6, m = n/2: rounding is exact (worst case all ones) and rows match the definition."""
    n, m = 10**6, 500_000
    k = n - m
    grid = amplification._grid(n - 1)
    ones = np.ones(n, dtype=np.uint8)
    seed_ones = np.ones(n - 1, dtype=np.uint8)
    with amplification._workspace(2, grid) as work:
        values = amplification._grid_products(grid, seed_ones, ones[np.newaxis, m:], work)
        # Every value is an integer in [0, k]; the valid ones equal k.
        assert np.max(np.abs(values - np.rint(values))) < 1e-3
        assert np.max(values) < k + 1e-3
    # Worst case for the float error: every valid convolution value equals k.
    assert np.all(modified_toeplitz_hash(ones, seed_ones, m) == (1 ^ (k % 2)))

    rng = np.random.default_rng(2024)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n - 1, dtype=np.uint8)
    out = modified_toeplitz_hash(key, seed, m)
    rows = [*rng.choice(m, size=40, replace=False).tolist(), 0, m - 1]
    assert np.array_equal(out[rows], _rows_reference(key, seed, m, rows))


def test_standard_toeplitz_at_one_million_bits() -> None:
    n, m = 10**6, 500_000
    rng = np.random.default_rng(2025)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    out = toeplitz_hash(key, seed, m)
    for i in [*rng.choice(m, size=20, replace=False).tolist(), 0, m - 1]:
        assert out[i] == int(np.dot(seed[i : i + n][::-1].astype(np.int64), key)) % 2


# ------------------------------------------------------------------------ amplify


def test_amplify_records_seed_and_agrees() -> None:
    rng = np.random.default_rng(5)
    n, m = 2000, 700
    key = rng.integers(0, 2, n, dtype=np.uint8)
    channel = PublicChannel()
    fa, fb = amplify(key, key.copy(), out_len=m, channel=channel, rng=9)
    assert fa.dtype == np.uint8 and fa.shape == (m,)
    assert np.array_equal(fa, fb)
    assert channel.message_count(stage="amplification") == 1
    assert channel.total_leaked_bits(stage="amplification") == 0
    # The seed on the channel is n - 1 bits, and it is the one used.
    seed = _sent_seed(channel, n - 1)
    assert np.array_equal(fa, modified_toeplitz_hash_direct(key, seed, m))
    # Same rng seed gives the same output; another seed another one.
    assert np.array_equal(amplify(key, key, out_len=m, rng=9)[0], fa)
    assert not np.array_equal(amplify(key, key, out_len=m, rng=10)[0], fa)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 1), (2, 2), (9, 9), (9, 8), (100_001, 50_000)])
def test_amplify_sends_n_minus_one_seed_bits(n: int, m: int) -> None:
    rng = np.random.default_rng(n)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    channel = PublicChannel()
    fa, fb = amplify(key, key.copy(), out_len=m, channel=channel, rng=rng)
    seed = _sent_seed(channel, n - 1)
    assert np.array_equal(fa, fb)
    if m == n:
        assert np.array_equal(fa, key)  # T is empty: the identity
    if n < 5000:
        assert np.array_equal(fa, modified_toeplitz_hash_direct(key, seed, m))
    else:
        rows = [0, m - 1, *rng.choice(m, size=20, replace=False).tolist()]
        assert np.array_equal(fa[rows], _rows_reference(key, seed, m, rows))


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
    ("key", "seed", "m", "match"),
    [
        ([], [], 1, "empty"),
        ([0, 1, 2], [0, 1], 1, "only 0 and 1"),
        ([0, 1, 1], [0, 1, 1], 1, "length n - 1 = 2"),
        ([0, 1, 1], [0], 2, "length n - 1 = 2"),
        ([0, 1, 1], [0, 1], 0, "out_len"),
        ([0, 1, 1], [0, 1], 4, "out_len must be in \\[1, n=3\\]"),
        ([0, 1, 1], [0, 1], True, "out_len"),
        ([[0, 1]], [0], 1, "1-D"),
    ],
)
def test_modified_rejects_bad_input(key: list, seed: list, m: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        modified_toeplitz_hash(key, seed, m)
    with pytest.raises(ConfigError, match=match):
        modified_toeplitz_hash_direct(key, seed, m)


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


@pytest.mark.parametrize("n", [300, 70_000])
def test_amplify_hashes_each_partys_own_key(n: int) -> None:
    # Unequal keys (no verification in between): each party hashes its own key.
    rng = np.random.default_rng(6)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a.copy()
    b[17] ^= 1
    b[-1] ^= 1
    m = 2 * n // 5
    channel = PublicChannel()
    fa, fb = amplify(a, b, out_len=m, channel=channel, rng=1)
    seed = _sent_seed(channel, n - 1)
    assert not np.array_equal(fa, fb)
    assert np.array_equal(fa, modified_toeplitz_hash(a, seed, m))
    assert np.array_equal(fb, modified_toeplitz_hash(b, seed, m))
    if n < 5000:
        assert np.array_equal(fa, modified_toeplitz_hash_direct(a, seed, m))
        assert np.array_equal(fb, modified_toeplitz_hash_direct(b, seed, m))
    else:
        rows = [0, 17, m - 1, *rng.choice(m, size=20, replace=False).tolist()]
        assert np.array_equal(fa[rows], _rows_reference(a, seed, m, rows))
        assert np.array_equal(fb[rows], _rows_reference(b, seed, m, rows))


# ----------------------------------------------------------- backends and buffers


def test_fast_lengths_are_scipys() -> None:
    """The 1-D transform lengths are scipy's real fast lengths (5-smooth), without scipy.fft."""
    import scipy.fft

    lengths = [*range(1, 3000), *range(32_000, 33_000), 999_983, 10**7 + 19]
    assert [amplification._next_fast_len(n) for n in lengths] == [
        scipy.fft.next_fast_len(n, real=True) for n in lengths
    ]


def test_hashing_imports_no_scipy() -> None:
    """scipy.fft and scipy.linalg cost a run ~0.2 s of start-up: the hash uses numpy.fft."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from qkd_circuits.postprocessing.amplification import modified_toeplitz_hash\n"
        "x = np.random.default_rng(1).integers(0, 2, 300_000, dtype=np.uint8)\n"
        "modified_toeplitz_hash(x, x[1:], 100_000)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fresh_buffers_give_the_same_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    key = rng.integers(0, 2, 70_000, dtype=np.uint8)
    seed = rng.integers(0, 2, 69_999, dtype=np.uint8)
    kept = modified_toeplitz_hash(key, seed, 30_000)
    monkeypatch.setattr(amplification, "_WORKSPACE_MAX_BYTES", 0)
    assert np.array_equal(modified_toeplitz_hash(key, seed, 30_000), kept)


def test_concurrent_calls_do_not_share_buffers() -> None:
    rng = np.random.default_rng(12)
    cases = [
        (rng.integers(0, 2, 80_000, dtype=np.uint8), rng.integers(0, 2, 79_999, dtype=np.uint8))
        for _ in range(4)
    ]
    expected = [modified_toeplitz_hash(key, seed, 40_000) for key, seed in cases]
    results: dict[int, list[np.ndarray]] = {}

    def work(i: int) -> None:
        key, seed = cases[i]
        results[i] = [modified_toeplitz_hash(key, seed, 40_000) for _ in range(3)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, want in enumerate(expected):
        assert all(np.array_equal(got, want) for got in results[i])


def _hash_in_child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(15)
    key = rng.integers(0, 2, 300_001, dtype=np.uint8)
    queue.put(amplify(key, key, out_len=1000, rng=1)[0].tobytes())


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_a_forked_child_gets_its_own_helper_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amplification, "_WORKERS", 2)
    rng = np.random.default_rng(15)
    key = rng.integers(0, 2, 300_001, dtype=np.uint8)
    expected = amplify(key, key, out_len=1000, rng=1)[0]  # the parent's helper now exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_hash_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the child hung or failed"
    assert queue.get(timeout=5) == expected.tobytes()


@pytest.mark.parametrize(
    ("short", "long"), [(16, 17), (17, 33), (16, 1001), (125, 128), (245, 4096)]
)
def test_grid_map_is_the_crt_isomorphism(short: int, long: int) -> None:
    grid = amplification._Grid(short, long)
    rng = np.random.default_rng(short * long)
    seq = rng.integers(0, 2, grid.size, dtype=np.uint8)
    cells = np.empty((short, long))
    grid.to_grid(seq, cells, grid.stacked(), np.empty((short, long), dtype=np.uint8))
    p = np.arange(grid.size)
    expected = np.zeros((short, long))
    expected[p % short, p % long] = seq
    assert np.array_equal(cells, expected)
    stacked = grid.stacked()
    stacked[:short, :long] = expected
    stacked[short:, :long] = expected
    for start, count in [(0, grid.size), (5, grid.size - 5), (long - 1, 3), (grid.size - 1, 1)]:
        assert np.array_equal(grid.from_grid(stacked, start, count), seq[start : start + count])


def test_grid_shapes_are_coprime_and_long_enough() -> None:
    for min_len in [1, 2, 100, 2**15 - 1, 2**15, 70_000, 999_999, 1_499_999, 9_999_999]:
        short, long = amplification._grid_shape(min_len)
        assert short * long >= min_len
        assert np.gcd(short, long) == 1 and short <= long
        assert short * long <= 1.05 * min_len or min_len < 100


# ------------------------------------------------------------------ rounding guard


@pytest.mark.parametrize("bad", [3.4, np.nan, np.inf, -1.0, 1e6])
def test_rounding_guard_refuses_to_emit(monkeypatch: pytest.MonkeyPatch, bad: float) -> None:
    def broken(grid, seed, vectors, work):  # type: ignore[no-untyped-def]
        return np.full((vectors.shape[0], grid.short, grid.long), bad)

    monkeypatch.setattr(amplification, "_grid_products", broken)
    with pytest.raises(QKDError, match="rounding error"):
        toeplitz_hash([1, 0, 1], [0, 1, 1, 0], 2)
    with pytest.raises(QKDError, match="refusing to emit"):
        modified_toeplitz_hash([1, 0, 1, 1], [0, 1, 1], 2)
    with pytest.raises(QKDError, match="refusing to emit"):
        amplify([1, 0, 1, 1], [1, 0, 1, 1], out_len=2, rng=0)


@pytest.mark.parametrize("workers", [1, 2])
def test_rounding_guard_in_the_helpers_half(monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    # A bad value in the last grid row: with two threads the helper finds it.
    real = amplification._grid_products

    def spoiled(grid, seed, vectors, work):  # type: ignore[no-untyped-def]
        values = real(grid, seed, vectors, work)
        values[0, -1, -1] += 0.4
        return values

    monkeypatch.setattr(amplification, "_WORKERS", workers)
    monkeypatch.setattr(amplification, "_grid_products", spoiled)
    rng = np.random.default_rng(14)
    n = 300_001
    key = rng.integers(0, 2, n, dtype=np.uint8)
    with pytest.raises(QKDError, match=r"rounding error 0\.(4|39)"):
        amplify(key, key, out_len=n // 2, rng=rng)
    # The workspace is fine afterwards.
    monkeypatch.setattr(amplification, "_grid_products", real)
    seed = rng.integers(0, 2, n - 1, dtype=np.uint8)
    out = modified_toeplitz_hash(key, seed, 1000)
    assert np.array_equal(out[:50], _rows_reference(key, seed, 1000, list(range(50))))
