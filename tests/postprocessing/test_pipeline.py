"""The whole post-processing chain on synthetic sifted keys (no circuits)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.key_length import finite_key_length
from qkd_circuits.postprocessing.pipeline import (
    PostprocessingConfig,
    distill_key,
    parse_reconciliation,
)
from qkd_circuits.postprocessing.reconciliation.cascade import reconcile_cascade


def _keys(n: int, qber: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alice's and Bob's sifted keys with i.i.d. errors, and uniform bases."""
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice ^ (rng.random(n) < qber).astype(np.uint8)
    return alice, bob, rng.integers(0, 2, n, dtype=np.uint8)


def test_keys_match_and_length_follows_the_finite_key_formula():
    alice, bob, bases = _keys(200_000, 0.03, seed=1)
    result = distill_key(alice, bob, bases=bases, rng=2)
    assert not result.aborted and result.keys_match
    est, rec = result.estimate, result.reconciliation
    assert est is not None and rec is not None and result.residual_errors == 0
    # The length is exactly the formula applied to what was disclosed.
    expected = finite_key_length(
        est.samples,
        leaked_ec=rec.leaked_bits,
        eps_sec=1e-10,
        eps_cor=1e-15,
        qber_tolerance=0.11,
        verification_bits=result.channel.total_leaked_bits(stage="verification"),
    )
    assert result.final_key_bits == expected.length > 0
    # Leakage accounting: the channel saw every parity, and Cascade leaks more than n h(Q).
    assert result.channel.total_leaked_bits(stage="reconciliation") == rec.leaked_bits
    e = float(np.mean(est.key_alice != est.key_bob))
    assert rec.leaked_bits >= est.key_alice.size * binary_entropy(e)
    assert 1.0 < result.reconciliation_efficiency() < 1.3
    assert result.net_key_bits == result.final_key_bits - result.authentication.key_bits_used
    assert result.authentication.verified and result.authentication.key_bits_used > 0


def test_final_key_is_uniform_looking_and_not_the_raw_key():
    alice, bob, bases = _keys(50_000, 0.01, seed=3)
    result = distill_key(alice, bob, bases=bases, rng=4)
    key = result.key_alice
    assert abs(key.mean() - 0.5) < 5 * 0.5 / np.sqrt(key.size)
    assert not np.array_equal(key, alice[: key.size])


def test_asymptotic_length_is_reported_never_emitted():
    alice, bob, bases = _keys(100_000, 0.03, seed=5)
    result = distill_key(alice, bob, bases=bases, rng=6)
    assert result.key_length is not None
    assert result.key_length.asymptotic_bits > result.final_key_bits == result.key_length.length
    with pytest.raises(ConfigError, match="never emitted"):
        PostprocessingConfig(key_length="asymptotic")  # type: ignore[arg-type]


def test_fixed_statement_emits_less_than_variable_below_the_tolerance():
    alice, bob, bases = _keys(100_000, 0.02, seed=5)
    variable = distill_key(alice, bob, bases=bases, rng=6)
    fixed = distill_key(
        alice, bob, bases=bases, rng=6, config=PostprocessingConfig(key_length="fixed")
    )
    assert fixed.key_length is not None and fixed.key_length.statement == "fixed"
    assert 0 < fixed.final_key_bits < variable.final_key_bits


def test_qber_above_threshold_aborts_before_reconciliation():
    alice, bob, bases = _keys(20_000, 0.25, seed=7)
    result = distill_key(alice, bob, bases=bases, rng=8)
    assert result.aborted and result.abort_reason == "qber_above_threshold"
    assert result.final_key_bits == 0 and result.keys_match is None
    assert result.reconciliation is None and result.key_length is None
    # The aborted run still authenticated its transcript, and that cost key.
    assert result.authentication.key_bits_used > 0 and result.net_key_bits < 0


def test_broken_reconciliation_is_caught_by_verification():
    """One Cascade pass leaves errors; verification must abort and emit no key."""
    alice, bob, bases = _keys(20_000, 0.05, seed=9)

    def one_pass(*args, **kwargs):
        return reconcile_cascade(*args, **kwargs, passes=1)

    result = distill_key(alice, bob, bases=bases, rng=10, reconciler=one_pass)
    assert result.residual_errors and result.residual_errors > 0
    assert result.aborted and result.abort_reason == "verification_failed"
    assert result.key_alice.size == 0 and result.key_bob.size == 0
    assert result.verification is None  # verify_keys raised instead of returning


def test_key_too_short_when_the_qber_leaves_no_secrecy():
    alice, bob, bases = _keys(5_000, 0.09, seed=11)
    result = distill_key(alice, bob, bases=bases, rng=12)
    assert result.aborted and result.abort_reason == "key_too_short"
    # The statement is still reported, so a user sees which term ate the key.
    assert result.key_length is not None and result.key_length.length == 0
    assert result.final_key_bits == 0


def test_empty_sifted_key_is_a_reported_abort():
    empty = np.zeros(0, np.uint8)
    result = distill_key(empty, empty, bases=empty, rng=1)
    assert result.aborted and result.abort_reason == "key_too_short"


def test_tampered_channel_fails_authentication():
    """A man in the middle who alters a message on the channel is caught."""
    from qkd_circuits.postprocessing.authentication import authenticate_transcript
    from qkd_circuits.postprocessing.channel import PublicChannel

    alice, bob, bases = _keys(10_000, 0.02, seed=13)
    result = distill_key(alice, bob, bases=bases, rng=14)
    sent = result.channel
    received = PublicChannel()
    for i, m in enumerate(sent.messages):
        payload = m.payload if i != 3 else bytes([m.payload[0] ^ 1]) + m.payload[1:]
        received.send(m.stage, m.sender, payload, leaked_bits=m.leaked_bits)
    auth = authenticate_transcript(sent, received=received, rng=1, raise_on_failure=False)
    assert not auth.verified


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"sample_fraction": 1.0}, "sample fraction must be in (0, 1), got 1.0"),
        ({"qber_threshold": -0.1}, "got -0.1"),
        ({"reconciliation": "polar"}, "unknown reconciliation 'polar'"),
        ({"reconciliation": "cascade:fast"}, "unknown cascade variant 'fast'"),
        ({"key_length": "magic"}, "'magic'"),
        ({"eps_sec": 0.0}, "eps_sec must be in (0, 1), got 0.0"),
        ({"eps_cor": 1.0}, "eps_cor must be in (0, 1), got 1.0"),
        ({"eps_auth": 2.0}, "eps_auth must be in (0, 1), got 2.0"),
    ],
)
def test_bad_config(kwargs, fragment):
    with pytest.raises(ConfigError) as info:
        PostprocessingConfig(**kwargs)
    assert fragment in str(info.value)


def test_exhausted_preshared_key_is_a_reported_abort():
    alice, bob, bases = _keys(20_000, 0.02, seed=15)
    result = distill_key(alice, bob, bases=bases, rng=16, preshared_key=np.ones(50, np.uint8))
    assert result.aborted and result.abort_reason == "preshared_key_exhausted"
    assert result.final_key_bits == 0 and result.key_alice.size == 0


def test_bad_keys():
    with pytest.raises(ConfigError, match="differ in length"):
        distill_key([0, 1, 1], [0, 1], bases=[0, 1, 0], rng=1)
    with pytest.raises(ConfigError, match="differ in length"):
        distill_key([0, 1], [0, 1], bases=[0], rng=1)
    with pytest.raises(ConfigError, match="found 3"):
        distill_key([0, 3], [0, 1], bases=[0, 1], rng=1)
    with pytest.raises(TypeError, match="bases"):
        distill_key([0, 1], [0, 1], rng=1)  # type: ignore[call-arg]


def test_parse_reconciliation_and_config_is_frozen():
    assert parse_reconciliation("cascade") == ("cascade", "original")
    assert parse_reconciliation("cascade:biconf") == ("cascade", "biconf")
    with pytest.raises(dataclasses.FrozenInstanceError):
        PostprocessingConfig().eps_sec = 0.5  # type: ignore[misc]
