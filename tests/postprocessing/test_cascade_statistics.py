"""Cascade statistics over seeded frames: leakage vs n·h(Q), efficiency and frame error rate.

Tolerances are standard errors of the mean over the seeded runs (``Z_SIGMA`` of
them, as in ``conftest.py``), plus, where a figure of arXiv:1407.3257 is the
reference, the precision with which the figure can be read.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.reconciliation import CASCADE_VARIANTS, reconcile_cascade
from tests.conftest import Z_SIGMA

FIGURE_READING = 0.01
"""How precisely an efficiency can be read off the paper's figures (±)."""


def frame_efficiencies(
    variant: str, n: int, q: float, runs: int, seed: int
) -> tuple[np.ndarray, int]:
    """Efficiency ``leaked / (n h(Q_frame))`` per run (Q_frame: the frame's own error rate)
    and the number of frames left with errors."""
    rng = np.random.default_rng(seed)
    eff = np.empty(runs)
    failures = 0
    for i in range(runs):
        alice = rng.integers(0, 2, n, dtype=np.uint8)
        errors = rng.random(n) < q
        res = reconcile_cascade(alice, alice ^ errors, qber=q, variant=variant, rng=rng)
        eff[i] = res.leaked_bits / (n * float(binary_entropy(errors.mean())))
        failures += not np.array_equal(res.corrected, alice)
    return eff, failures


def mean_and_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


@pytest.mark.parametrize("variant", CASCADE_VARIANTS)
def test_leakage_is_at_least_the_conditional_entropy_on_average(variant: str) -> None:
    # Slepian–Wolf: any reconciliation that succeeds must disclose n·h(Q) bits on average.
    eff, failures = frame_efficiencies(variant, n=2000, q=0.05, runs=30, seed=21)
    mean, se = mean_and_se(eff)
    assert failures <= 1
    assert mean - Z_SIGMA * se > 1.0, (mean, se)


def test_original_matches_the_paper_at_two_percent() -> None:
    # arXiv:1407.3257 Fig. 1: Cascade orig., n = 1e4, Q = 2 %: f ≈ 1.15; FER ≈ 1e-4 (Fig. 10).
    eff, failures = frame_efficiencies("original", n=10_000, q=0.02, runs=100, seed=2024)
    mean, se = mean_and_se(eff)
    assert abs(mean - 1.15) <= Z_SIGMA * se + FIGURE_READING, (mean, se)
    # FER target 1e-2: P(Binomial(100, 1e-2) >= 6) ≈ 5e-4.
    assert failures <= 5


@pytest.mark.parametrize("q", [0.01, 0.05])
def test_best_variant_is_within_ten_percent_of_the_bound(q: float) -> None:
    eff, failures = frame_efficiencies("option7", n=10_000, q=q, runs=40, seed=7)
    mean, se = mean_and_se(eff)
    assert mean + Z_SIGMA * se <= 1.10, (mean, se)
    assert failures <= 3  # P(Binomial(40, 1e-2) >= 4) ≈ 8e-4
