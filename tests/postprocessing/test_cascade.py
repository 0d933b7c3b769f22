"""Cascade reconciliation: invariants, channel accounting, variants and bad input."""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.reconciliation import (
    CASCADE_VARIANTS,
    MAX_PASSES,
    QBER_FLOOR,
    CascadeVariant,
    ReconciliationResult,
    get_cascade_variant,
    reconcile_cascade,
)
from qkd_circuits.postprocessing.reconciliation.cascade import (
    _AliceParityOracle,
    _BobCascade,
    _PublicShuffles,
)


def noisy_pair(
    n: int, q: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # (alice, bob, error pattern)
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    errors = (rng.random(n) < q).astype(np.uint8)
    return alice, alice ^ errors, errors


def top_level_parities(n: int, block_sizes: tuple[int, ...], biconf_passes: int) -> int:
    """Parities Alice discloses when a pass opens: one per top-level block, one per BICONF pass."""
    return sum(-(-n // k) for k in block_sizes) + biconf_passes


def singleton_blocks(n: int, block_sizes: tuple[int, ...], biconf_passes: int) -> int:
    """Top-level blocks of one bit (their parity alone locates the error, no bisection)."""
    regular = sum(n if k == 1 else int(n % k == 1) for k in block_sizes)
    return regular + (biconf_passes if max(n // 2, 1) == 1 else 0)


# --------------------------------------------------------------------------- invariants
@settings(max_examples=120, deadline=None)
@given(
    n=st.integers(1, 400),
    q_true=st.floats(0.0, 0.3),
    q_est=st.floats(0.0, 0.49),
    variant=st.sampled_from(CASCADE_VARIANTS),
    seed=st.integers(0, 2**32),
)
def test_deterministic_invariants(
    n: int, q_true: float, q_est: float, variant: str, seed: int
) -> None:
    alice, bob, errors = noisy_pair(n, q_true, seed)
    channel = PublicChannel()
    res = reconcile_cascade(alice, bob, qber=q_est, variant=variant, channel=channel, rng=seed)
    stats = res.cascade
    assert stats is not None
    assert res.corrected.dtype == np.uint8 and res.corrected.shape == (n,)
    assert res.method == f"cascade:{variant}"

    # Bob only ever flips erroneous bits: every bisection ends on an error.
    flipped = res.corrected ^ bob
    assert not np.any(flipped & (1 - errors))
    assert stats.flipped_bits == int(flipped.sum())
    residual = int((res.corrected ^ alice).sum())
    assert residual == int(errors.sum()) - stats.flipped_bits
    if errors.sum() <= 1:  # a lone error always sits in an odd first-pass block
        assert residual == 0

    # The channel saw exactly what the result reports, in request/answer pairs.
    assert res.leaked_bits == channel.total_leaked_bits(stage="reconciliation")
    assert res.messages == channel.message_count(stage="reconciliation")
    assert res.messages == 2 * (stats.passes + stats.rounds)
    assert res.round_trips == stats.passes + stats.rounds
    senders = [m.sender for m in channel.messages]
    assert senders == ["bob", "alice"] * (len(senders) // 2)
    assert all(m.leaked_bits == 0 for m in channel.messages if m.sender == "bob")

    # Leakage: every top-level block parity, then at least one parity per bisection.
    tops = top_level_parities(n, stats.block_sizes, stats.biconf_passes)
    assert res.leaked_bits >= tops
    singles = singleton_blocks(n, stats.block_sizes, stats.biconf_passes)
    assert res.leaked_bits - tops >= stats.flipped_bits - singles
    if errors.sum() == 0:
        assert res.leaked_bits == tops and stats.rounds == 0

    h = -q_est * math.log2(q_est) - (1 - q_est) * math.log2(1 - q_est) if q_est > 0 else 0.0
    if h > 0:
        assert res.efficiency == pytest.approx(res.leaked_bits / (n * h))
    else:
        assert math.isnan(res.efficiency)


@pytest.mark.parametrize("variant", CASCADE_VARIANTS)
def test_corrects_moderate_frames(variant: str) -> None:
    # FER is below 1e-2 for every variant (arXiv:1407.3257 Fig. 10); these seeded frames pass.
    for seed in range(3):
        alice, bob, errors = noisy_pair(3000, 0.04, seed)
        res = reconcile_cascade(alice, bob, qber=0.04, variant=variant, rng=seed)
        assert errors.sum() > 60
        np.testing.assert_array_equal(res.corrected, alice)


def test_same_seed_same_transcript_and_result() -> None:
    alice, bob, _ = noisy_pair(2000, 0.05, 3)
    runs = []
    for _ in range(2):
        ch = PublicChannel()
        runs.append((reconcile_cascade(alice, bob, qber=0.05, channel=ch, rng=11), ch.transcript()))
    (r1, t1), (r2, t2) = runs
    assert t1 == t2
    assert r1.leaked_bits == r2.leaked_bits and r1.messages == r2.messages
    np.testing.assert_array_equal(r1.corrected, r2.corrected)
    ch3 = PublicChannel()
    reconcile_cascade(alice, bob, qber=0.05, channel=ch3, rng=12)
    assert ch3.transcript() != t1


def test_accepts_generator_lists_and_bools() -> None:
    alice, bob, _ = noisy_pair(500, 0.05, 4)
    res = reconcile_cascade(
        alice.astype(bool), bob.tolist(), qber=0.05, rng=np.random.default_rng(1)
    )
    np.testing.assert_array_equal(res.corrected, alice)


def test_inputs_are_not_modified() -> None:
    alice, bob, _ = noisy_pair(500, 0.05, 5)
    a0, b0 = alice.copy(), bob.copy()
    reconcile_cascade(alice, bob, qber=0.05, rng=1)
    np.testing.assert_array_equal(alice, a0)
    np.testing.assert_array_equal(bob, b0)


# --------------------------------------------------------------------------- channel
def test_messages_and_leakage_are_recorded_per_stage() -> None:
    alice, bob, _ = noisy_pair(1000, 0.03, 6)
    channel = PublicChannel()
    channel.send("sifting", "bob", b"bases", leaked_bits=0)
    channel.send("estimation", "alice", b"sample", leaked_bits=40)
    res = reconcile_cascade(alice, bob, qber=0.03, channel=channel, rng=2, stage="cascade")
    assert channel.leaked_bits() == {"sifting": 0, "estimation": 40, "cascade": res.leaked_bits}
    assert channel.message_count(stage="cascade") == res.messages
    # A second run on the same channel and stage reports only its own messages.
    res2 = reconcile_cascade(alice, bob, qber=0.03, channel=channel, rng=3, stage="cascade")
    assert channel.message_count(stage="cascade") == res.messages + res2.messages
    assert channel.total_leaked_bits(stage="cascade") == res.leaked_bits + res2.leaked_bits


def test_shuffles_are_sent_as_seeds() -> None:
    alice, bob, _ = noisy_pair(1000, 0.02, 7)
    channel = PublicChannel()
    res = reconcile_cascade(alice, bob, qber=0.02, channel=channel, rng=4)
    assert res.cascade is not None
    opening = np.frombuffer(channel.messages[0].payload, dtype=np.int64)
    kind, pass_index, seed, block = opening.tolist()
    assert (kind, pass_index, block) == (0, 0, res.cascade.block_sizes[0])
    assert 0 <= seed < 2**63
    # Alice's answer to the opening is one parity per top-level block, bit-packed.
    answer = channel.messages[1]
    assert answer.sender == "alice" and answer.leaked_bits == -(-1000 // block)
    assert len(answer.payload) == -(-answer.leaked_bits // 8)


def test_bob_learns_alice_only_through_the_oracle() -> None:
    # Bob's side is built from Bob's key and the oracle only; it converges to whatever
    # key the oracle answers for, here a key that differs from Alice's argument.
    assert "alice" not in inspect.signature(_BobCascade).parameters
    other, bob, _ = noisy_pair(2000, 0.03, 8)
    channel = PublicChannel()
    shuffles = _PublicShuffles(2000)
    oracle = _AliceParityOracle(other, shuffles=shuffles, channel=channel, stage="s")
    bob_side = _BobCascade(
        bob,
        oracle=oracle,
        shuffles=shuffles,
        variant=get_cascade_variant("option7"),
        qber_used=0.03,
        passes=14,
        rng=np.random.default_rng(5),
        channel=channel,
        stage="s",
    )
    np.testing.assert_array_equal(bob_side.run(), other)
    assert oracle.disclosed == channel.total_leaked_bits(stage="s")


# --------------------------------------------------------------------------- variants
@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("original", (37, 74, 148, 296)),
        ("biconf", (46, 138)),
        ("yanetal", (40, 200) + (5000,) * 8),
        ("option3", (50, 100) + (5000,) * 14),
        ("option4", (50, 100) + (5000,) * 14),
        ("option7", (64, 256) + (5000,) * 12),
        ("option8", (64, 512, 4096) + (5000,) * 11),
    ],
)
def test_block_sizes_follow_the_paper(variant: str, expected: tuple[int, ...]) -> None:
    key = np.zeros(10_000, dtype=np.uint8)
    res = reconcile_cascade(key, key, qber=0.02, variant=variant, rng=0)
    assert res.cascade is not None
    assert res.cascade.block_sizes == expected
    assert res.leaked_bits == top_level_parities(10_000, expected, res.cascade.biconf_passes)
    np.testing.assert_array_equal(res.corrected, key)


def test_biconf_stops_after_ten_clean_biconf_passes() -> None:
    key = np.zeros(1000, dtype=np.uint8)
    res = reconcile_cascade(key, key, qber=0.05, variant="biconf", rng=0)
    assert res.cascade is not None and res.cascade.biconf_passes == 10
    alice, bob, _ = noisy_pair(1000, 0.08, 9)
    res = reconcile_cascade(alice, bob, qber=0.08, variant="biconf", rng=0)
    assert res.cascade is not None and res.cascade.biconf_passes >= 10


def test_many_biconf_passes_grow_the_per_pass_storage() -> None:
    # One pass with a single block, then BICONF until 3 clean passes: more passes than
    # the storage first allocated (1 + 2·3 rows at Bob's side, 4 at Alice's).
    tiny = CascadeVariant(
        name="tiny", label="test", passes=1, sub_block_reuse=True, biconf_streak=3,
        rule=lambda q, n, i: n,
    )  # fmt: skip
    alice, bob, errors = noisy_pair(300, 0.05, 1)
    channel = PublicChannel()
    shuffles = _PublicShuffles(300)
    oracle = _AliceParityOracle(alice, shuffles=shuffles, channel=channel, stage="s")
    bob_side = _BobCascade(
        bob, oracle=oracle, shuffles=shuffles, variant=tiny, qber_used=0.05, passes=1,
        rng=np.random.default_rng(1), channel=channel, stage="s",
    )  # fmt: skip
    np.testing.assert_array_equal(bob_side.run(), alice)
    assert bob_side.biconf_passes > 6 and bob_side.flipped == errors.sum()


def test_block_sizes_are_clamped_to_the_key() -> None:
    variant = get_cascade_variant("original")
    assert variant.block_size(0.001, 100, 1) == 100
    assert variant.block_size(0.49, 100, 1) == 2
    assert get_cascade_variant("option8").block_size(0.02, 3000, 3) == 3000


def test_zero_qber_estimate_uses_the_floor() -> None:
    alice, bob, errors = noisy_pair(5000, 0.001, 10)
    assert 0 < errors.sum() < 15
    res = reconcile_cascade(alice, bob, qber=0.0, rng=6)
    assert res.cascade is not None
    assert res.cascade.qber_used == QBER_FLOOR
    assert res.cascade.block_sizes[0] == math.ceil(0.73 / QBER_FLOOR)
    assert math.isnan(res.efficiency)
    np.testing.assert_array_equal(res.corrected, alice)


# --------------------------------------------------------------------------- passes override
def test_fewer_passes_leave_residual_errors() -> None:
    alice, bob, errors = noisy_pair(4000, 0.05, 11)
    one = reconcile_cascade(alice, bob, qber=0.05, passes=1, rng=7)
    full = reconcile_cascade(alice, bob, qber=0.05, rng=7)
    assert one.cascade is not None and one.cascade.block_sizes == (15,)
    residual = int((one.corrected ^ alice).sum())
    # One pass misses every error sharing its block with an odd number of others.
    assert 0 < residual < errors.sum()
    assert one.leaked_bits < full.leaked_bits
    np.testing.assert_array_equal(full.corrected, alice)


def test_more_passes_than_the_variant_continue_its_rule() -> None:
    key = np.zeros(1000, dtype=np.uint8)
    res = reconcile_cascade(key, key, qber=0.05, passes=7, rng=0)
    assert res.cascade is not None
    assert res.cascade.block_sizes == (15, 30, 60, 120, 240, 480, 960)


# --------------------------------------------------------------------------- bad input
_KEY = np.array([0, 1, 1, 0], dtype=np.uint8)


@pytest.mark.parametrize(
    ("alice", "bob", "kwargs", "match"),
    [
        (_KEY, _KEY, {"qber": 0.1, "variant": "cascade9"}, "cascade9"),
        (_KEY, _KEY, {"qber": 0.1, "variant": "Original"}, "Original"),
        (_KEY, _KEY, {"qber": -0.01}, "-0.01"),
        (_KEY, _KEY, {"qber": 0.5}, "0.5"),
        (_KEY, _KEY, {"qber": 0.7}, "0.7"),
        (_KEY, _KEY, {"qber": float("nan")}, "nan"),
        (_KEY, _KEY, {"qber": float("inf")}, "inf"),
        (_KEY, _KEY, {"qber": "0.1"}, "'0.1'"),
        (_KEY, _KEY, {"qber": True}, "True"),
        (_KEY, _KEY, {"qber": None}, "None"),
        (_KEY, _KEY[:3], {"qber": 0.1}, "4 != 3"),
        (np.array([], dtype=np.uint8), np.array([], dtype=np.uint8), {"qber": 0.1}, "empty"),
        (np.array([0, 2, 1]), np.array([0, 1, 1]), {"qber": 0.1}, "2"),
        (np.array([0, 1, 1]), np.array([0, -1, 1]), {"qber": 0.1}, "-1"),
        (np.array([0.0, 1.0]), np.array([0, 1]), {"qber": 0.1}, "float64"),
        (np.zeros((2, 2), dtype=np.uint8), np.zeros(4, dtype=np.uint8), {"qber": 0.1}, r"\(2, 2\)"),
        (_KEY, _KEY, {"qber": 0.1, "passes": 0}, "0"),
        (_KEY, _KEY, {"qber": 0.1, "passes": MAX_PASSES + 1}, str(MAX_PASSES + 1)),
        (_KEY, _KEY, {"qber": 0.1, "passes": 1.5}, "1.5"),
        (_KEY, _KEY, {"qber": 0.1, "passes": True}, "True"),
        (_KEY, _KEY, {"qber": 0.1, "rng": -3}, "-3"),
        (_KEY, _KEY, {"qber": 0.1, "stage": ""}, "''"),
    ],
)
def test_bad_input_raises_config_error(
    alice: np.ndarray, bob: np.ndarray, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        reconcile_cascade(alice, bob, **kwargs)


def test_unknown_variant_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="original, biconf"):
        get_cascade_variant("nope")


@pytest.mark.parametrize(("qber", "pass_number"), [(0.0, 1), (0.5, 1), (0.1, 0)])
def test_variant_block_size_rejects_bad_arguments(qber: float, pass_number: int) -> None:
    with pytest.raises(ConfigError):
        get_cascade_variant("original").block_size(qber, 100, pass_number)


def test_result_validates_and_reports_round_trips() -> None:
    res = ReconciliationResult(
        corrected=np.zeros(3, dtype=np.uint8),
        method="cascade:original",
        leaked_bits=5,
        messages=8,
        efficiency=1.1,
    )
    assert res.round_trips == 4 and res.cascade is None
    with pytest.raises(ConfigError, match="int64"):
        ReconciliationResult(
            corrected=np.zeros(3, dtype=np.int64),
            method="x",
            leaked_bits=0,
            messages=0,
            efficiency=1.0,
        )
    with pytest.raises(ConfigError, match="-1"):
        ReconciliationResult(
            corrected=np.zeros(3, dtype=np.uint8),
            method="x",
            leaked_bits=-1,
            messages=0,
            efficiency=1.0,
        )
