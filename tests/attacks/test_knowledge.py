"""Eve's knowledge from counts: the plug-in mutual information, its grouping by Eve's
choice and basis, pooling over blocks, and her guess of the final key."""

import math

import numpy as np
import pytest

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.attacks.knowledge import (
    eve_knowledge,
    information_standard_error,
    key_agreement,
    pool_agreement,
    pool_joint,
    table_information,
)
from qkd_circuits.postprocessing.pipeline import distill_key
from qkd_circuits.postprocessing.sifting import SiftedKey


def test_table_information_known_values():
    assert table_information([50, 0, 0, 50]) == pytest.approx(1.0)
    assert table_information([25, 25, 25, 25]) == 0.0
    assert table_information([0, 0, 0, 0]) == 0.0
    # A binary symmetric channel of error 0.2 with uniform input: 1 − h(0.2).
    assert table_information([40, 10, 10, 40]) == pytest.approx(1 - binary_entropy(0.2))


def test_table_information_is_never_negative():
    """Independent bits (a product table) sum to -2.9e-16 before the clamp; the report
    schema's minimum is 0."""
    assert table_information([3 * 2, 3 * 9, 11 * 2, 11 * 9]) == 0.0
    tables = [[a * c, a * d, b * c, b * d] for a in (3, 7, 31) for b in (5, 11) for c in (2, 13)
              for d in (9, 17)]  # fmt: skip
    assert all(0.0 <= table_information(t) < 1e-12 for t in tables)


def test_knowledge_is_grouped_by_what_eve_knows():
    """Random-basis intercept-resend, idealised: in the group where her basis was
    Alice's she is always right, in the other she guesses; I_AE is 1/2 per sifted bit,
    not 1 − h(1/4) (the pooled table)."""
    joint = {"0,0": [50, 0, 0, 50], "1,0": [25, 25, 25, 25]}
    k = eve_knowledge(joint=joint, sifted_bits=200, qber_actual=0.25)
    assert k["attacked"] == 200
    assert k["eve_error_rate"] == 0.25
    assert k["mutual_information_ae"] == pytest.approx(0.5)
    assert k["mutual_information_ab"] == pytest.approx(1 - binary_entropy(0.25))
    assert k["final_key_agreement"] is None
    pooled = table_information([75, 25, 25, 75])
    assert pooled == pytest.approx(1 - binary_entropy(0.25))


def test_unattacked_bits_dilute_the_information():
    k = eve_knowledge(joint={"0,0": [50, 0, 0, 50]}, sifted_bits=400, qber_actual=0.0)
    assert k["mutual_information_ae"] == pytest.approx(0.25)
    assert (
        eve_knowledge(joint={}, sifted_bits=0, qber_actual=math.nan)["mutual_information_ae"]
        is None
    )


def test_standard_error_of_a_sure_half():
    """L is 1 on the half Eve knows, 0 elsewhere: SE = 0.5 / √N."""
    joint = {"0,0": [50, 0, 0, 50], "1,0": [25, 25, 25, 25]}
    assert information_standard_error(joint, 200) == pytest.approx(0.5 / math.sqrt(200))


def test_pooling_sums_counts():
    assert pool_joint([{"0,1": [1, 2, 3, 4]}, {"0,1": [1, 1, 1, 1], "1,1": [0, 0, 0, 5]}]) == {
        "0,1": [2, 3, 4, 5], "1,1": [0, 0, 0, 5],
    }  # fmt: skip
    assert pool_agreement([{"final": [3, 6]}, {}, {"final": [1, 2], "before": [2, 2]}]) == {
        "final": [4, 8], "before": [2, 2],
    }  # fmt: skip


def test_eve_who_knows_every_key_bit_knows_the_final_key():
    """The hash is public: Eve with Alice's whole key computes the final key exactly, and
    Eve with a copy of half of it (the other half guessed) agrees on about half of it."""
    rng = np.random.default_rng(5)
    n = 20_000
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice.copy()
    flip = rng.random(n) < 0.01
    bob[flip] ^= 1
    bases = rng.integers(0, 2, n, dtype=np.uint8)
    result = distill_key(alice, bob, bases=bases, rng=6, secret_rng=7)
    assert not result.aborted
    sifted = SiftedKey(alice=alice, bob=bob, positions=np.arange(n), bases=bases)
    full = sifted.with_eve(eve_choice=np.zeros(n, dtype=np.int8), eve_bits=alice)
    agreement = key_agreement(full, result)
    assert agreement["before"] == [agreement["before"][1]] * 2
    assert agreement["final"] == [result.final_key_bits] * 2
    half_bits = np.where(rng.random(n) < 0.5, alice, 0).astype(np.uint8)
    half = sifted.with_eve(eve_choice=np.zeros(n, dtype=np.int8), eve_bits=half_bits)
    agree, bits = key_agreement(half, result)["final"]
    assert abs(agree / bits - 0.5) < 5 * 0.5 / math.sqrt(bits)


def test_a_run_without_eve_gives_her_no_guess_and_hashes_none():
    """Eve attacked nothing: the sifted key carries no guess of hers and the report has
    no agreement figures (no second Toeplitz hash of a guess she does not have)."""
    from qkd_circuits.runner import RunConfig, run_config

    report = run_config(RunConfig(qubits=20_000, seed=5))
    assert report.final_key_bits > 0
    assert report.sifted.eve_bits is None
    assert report.eve["attacked"] == 0
    assert report.eve["key_agreement_before_amplification"] is None
    assert report.eve["final_key_agreement"] is None
    assert report.eve_agreement is None
