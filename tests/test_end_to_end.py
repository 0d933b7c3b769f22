"""End-to-end runs at the sizes the issues name (marked slow; CI runs them)."""

from __future__ import annotations

import pytest

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.key_length import finite_key_length
from qkd_circuits.runner import run


@pytest.mark.slow
def test_million_qubits_depolarizing_gives_the_predicted_finite_key():
    """depolarizing=0.04 -> QBER 2%; the key length matches the formula's prediction.

    Prediction: Tomamichel et al. 2012 Eq. (2) with the expected values n = 0.45 N
    (half sifted, 10% sampled), k = 0.05 N, Q = 0.02 and Cascade leaking
    f n h(Q) with f = 1.16, the original variant's efficiency at 2% (arXiv:1407.3257).
    """
    qubits = 1_000_000
    report = run(qubits=qubits, noise="depolarizing=0.04", seed=2026)
    assert not report.aborted and report.keys_match is True
    n, k, q = int(0.45 * qubits), int(0.05 * qubits), 0.02
    predicted = finite_key_length(
        n=n,
        k=k,
        qber_sample=q,
        leaked_ec=1.16 * n * binary_entropy(q),
        eps_sec=1e-10,
        eps_cor=1e-15,
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
