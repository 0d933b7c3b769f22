"""End-to-end runs at the sizes the issues name (marked slow; CI runs them)."""

from __future__ import annotations

import pytest

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.postprocessing.key_length import finite_key_length
from qkd_circuits.runner import run


@pytest.mark.slow
def test_million_qubits_depolarizing_gives_the_predicted_finite_key():
    """depolarizing=0.04 -> QBER 2%; the key length matches the formula's prediction.

    Prediction: the finite-key statement at the expected counts: per basis a quarter of
    the qubits sifted, 10% of them sampled with 2% errors, and Cascade leaking
    f n h(Q) with f = 1.16, the original variant's efficiency at 2% (arXiv:1407.3257).
    """
    qubits = 1_000_000
    report = run(qubits=qubits, noise="depolarizing=0.04", seed=2026)
    assert not report.aborted and report.keys_match is True
    sifted, q = qubits // 4, 0.02
    k = sifted // 10
    expected = {
        b: BasisSample(basis=b, sifted_bits=sifted, sample_bits=k, sample_errors=round(q * k))
        for b in "ZX"
    }
    n = 2 * (sifted - k)
    predicted = finite_key_length(
        expected,
        leaked_ec=1.16 * n * binary_entropy(q),
        eps_sec=1e-10,
        eps_cor=1e-15,
        qber_tolerance=0.11,
    ).length
    assert abs(report.final_key_bits / predicted - 1) < 0.03, (report.final_key_bits, predicted)


@pytest.mark.slow
def test_full_intercept_resend_aborts_with_no_key():
    report = run(
        qubits=1_000_000, noise="depolarizing=0.02,readout=0.01", eve="intercept-resend", seed=7
    )
    assert report.aborted and report.abort_reason == "qber_above_threshold"
    assert (
        report.final_key_bits == 0 and report.key_alice is not None and report.key_alice.size == 0
    )
