"""BB84 on Aer against known values, with tolerances of 5 binomial standard errors.

Oracles: intercept-resend on every exchange gives QBER 1/4, on a fraction f gives
f/4; depolarizing p flips a bit with probability p/2; readout p gives p;
bit flip p gives p in Z and 0 in X (p/2 overall); phase flip the reverse;
amplitude damping gamma gives gamma/2 in Z and (1 - sqrt(1 - gamma))/2 in X.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.channel.noise import NoiseSpec, build_noise_model
from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.postprocessing.sifting import sift
from qkd_circuits.protocols.bb84 import ExchangeRecords, draw_choices, run_quantum_phase
from tests.conftest import assert_rate

N = 200_000


def _records(noise: NoiseSpec, eve: EveSpec, *, n: int = N, seed: int = 7, mode="probabilities"):
    model = None if noise.is_noiseless else build_noise_model(noise)
    choices = draw_choices(n, eve=eve, rng=seed)
    return run_quantum_phase(choices, AerExecutor(model, mode=mode), rng=seed + 1)


def _sifted(records: ExchangeRecords):
    return sift(records.alice_bits, records.alice_bases, records.bob_bits, records.bob_bases)


def test_noiseless_without_eve_is_error_free_and_sifts_half():
    records = _records(NoiseSpec(), EveSpec())
    sifted = _sifted(records)
    assert sifted.error_rate() == 0.0
    assert_rate(sifted.size / N, 0.5, N)


@pytest.mark.parametrize("fraction", [1.0, 0.5, 0.2])
def test_intercept_resend_gives_a_quarter_of_the_attacked_fraction(fraction):
    records = _records(NoiseSpec(), EveSpec(kind="intercept-resend", fraction=fraction))
    sifted = _sifted(records)
    assert_rate(sifted.error_rate(), fraction / 4, sifted.size)
    attacked = records.eve_bases >= 0
    assert_rate(attacked.mean(), fraction, N)


def test_eve_learns_three_quarters_of_the_sifted_bits_she_attacked():
    records = _records(NoiseSpec(), EveSpec(kind="intercept-resend"))
    sifted = _sifted(records)
    eve = records.eve_bits[sifted.positions]
    assert_rate(float(np.mean(eve == sifted.alice)), 0.75, sifted.size)
    right_basis = records.eve_bases[sifted.positions] == sifted.bases
    assert np.array_equal(eve[right_basis], sifted.alice[right_basis])


@pytest.mark.parametrize(
    ("spec", "expected_z", "expected_x"),
    [
        (NoiseSpec(depolarizing=0.1), 0.05, 0.05),
        (NoiseSpec(depolarizing=0.3), 0.15, 0.15),
        (NoiseSpec(readout=0.03), 0.03, 0.03),
        (NoiseSpec(bitflip=0.08), 0.08, 0.0),
        (NoiseSpec(phaseflip=0.08), 0.0, 0.08),
        (NoiseSpec(amplitude_damping=0.2), 0.1, (1 - math.sqrt(0.8)) / 2),
    ],
    ids=["depol-0.1", "depol-0.3", "readout", "bitflip", "phaseflip", "amp-damping"],
)
@pytest.mark.parametrize("mode", ["probabilities", "shots"])
def test_channel_noise_matches_the_formula(spec, expected_z, expected_x, mode):
    sifted = _sifted(_records(spec, EveSpec(), mode=mode))
    by_basis = sifted.error_rate_by_basis()
    n_z, n_x = int((sifted.bases == 0).sum()), int((sifted.bases == 1).sum())
    assert_rate(by_basis["Z"], expected_z, n_z)
    assert_rate(by_basis["X"], expected_x, n_x)
    assert_rate(sifted.error_rate(), (expected_z + expected_x) / 2, sifted.size)


def test_noise_and_eve_compose():
    """QBER = e_E (1 - e_c) + (1 - e_E) e_c with e_E = 1/4 and e_c the channel's flip rate."""
    e_c = 0.02 / 2 * (1 - 0.01) + (1 - 0.02 / 2) * 0.01
    expected = 0.25 * (1 - e_c) + 0.75 * e_c
    sifted = _sifted(
        _records(NoiseSpec(depolarizing=0.02, readout=0.01), EveSpec.parse("intercept-resend"))
    )
    assert_rate(sifted.error_rate(), expected, sifted.size)


def _outcome_table(records: ExchangeRecords) -> np.ndarray:
    """Counts of (configuration code, Bob's bit, Eve's bit): shape (96,)."""
    cell = records.codes * 4 + records.bob_bits.astype(np.int64) * 2 + records.eve_bits
    return np.bincount(cell, minlength=96)


def _same_distribution(a: ExchangeRecords, b: ExchangeRecords) -> float:
    """Chi-square homogeneity p-value of the outcome tables, per configuration."""
    table = np.vstack([_outcome_table(a), _outcome_table(b)])
    table = table[:, table.sum(axis=0) > 0]  # drop outcomes that cannot happen
    return float(chi2_contingency(table).pvalue)


NOISY = NoiseSpec(depolarizing=0.1, readout=0.05, amplitude_damping=0.1)
HALF_EVE = EveSpec(kind="intercept-resend", fraction=0.5)


def test_fast_paths_agree_with_each_other():
    """Exact distributions sampled with numpy vs Aer sampling every shot itself."""
    fast = _records(NOISY, HALF_EVE, n=100_000, seed=11)
    shots = _records(NOISY, HALF_EVE, n=100_000, seed=21, mode="shots")
    assert _same_distribution(fast, shots) > 1e-3


@pytest.mark.slow
def test_literal_path_agrees_with_fast_path():
    """One circuit per exchange gives the same outcome statistics as grouped circuits."""
    n = 6_000
    executor = AerExecutor(build_noise_model(NOISY), mode="shots")
    literal = run_quantum_phase(draw_choices(n, eve=HALF_EVE, rng=3), executor, literal=True, rng=4)
    fast = _records(NOISY, HALF_EVE, n=60_000, seed=5)
    assert _same_distribution(literal, fast) > 1e-3
    # Noiseless and without Eve, the literal path is error-free too.
    clean = run_quantum_phase(draw_choices(500, rng=6), AerExecutor(), literal=True, rng=7)
    assert _sifted(clean).error_rate() == 0.0


def test_chi_square_detects_a_real_difference():
    """The agreement test has power: a run with Eve on all exchanges is told apart."""
    a = _records(NOISY, HALF_EVE, n=20_000, seed=31)
    b = _records(NOISY, EveSpec(kind="intercept-resend", fraction=0.6), n=20_000, seed=41)
    assert _same_distribution(a, b) < 1e-3


def test_same_seed_same_records_different_seed_different_records():
    a = _records(NOISY, HALF_EVE, n=5_000, seed=1)
    b = _records(NOISY, HALF_EVE, n=5_000, seed=1)
    c = _records(NOISY, HALF_EVE, n=5_000, seed=2)
    assert np.array_equal(a.bob_bits, b.bob_bits) and np.array_equal(a.eve_bits, b.eve_bits)
    assert not np.array_equal(a.bob_bits, c.bob_bits)


def test_records_give_the_circuit_of_each_exchange():
    records = _records(NoiseSpec(), HALF_EVE, n=50, seed=3)
    for i in (0, 17, -1):
        meta = records.circuit(i).metadata
        assert meta["alice_bit"] == records.alice_bits[i]
        assert meta["alice_basis"] == "ZX"[records.alice_bases[i]]
        assert meta["bob_basis"] == "ZX"[records.bob_bases[i]]
        assert meta["eve_basis"] == (
            "-" if records.eve_bases[i] < 0 else "ZX"[records.eve_bases[i]]
        )
