"""Shared helpers of the protocol tests: entropy, the two execution paths, per-basis error
rates, exact correlations of entangled circuits, and the report's schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from qiskit.quantum_info import DensityMatrix

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.channel.noise import CHANNEL_LABEL, NoiseSpec
from tests.conftest import assert_rate


def h(x: float) -> float:
    """Binary entropy of ``min(x, 1/2)``."""
    return float(binary_entropy(min(x, 0.5)))


def on_both_paths(fast: int, literal: int, *, names: tuple[str, str]) -> pytest.MarkDecorator:
    """Parametrize a test (arguments ``names``: backend, qubits) over the fast path
    (``aer``, ``fast`` qubits) and the literal path (``aer-literal``, one circuit per
    exchange, ``literal`` qubits); test ids ``fast`` and ``literal``."""
    return pytest.mark.parametrize(
        names, [("aer", fast), ("aer-literal", literal)], ids=["fast", "literal"]
    )


def check_per_basis(report, expected: Mapping[str, float]) -> None:  # type: ignore[no-untyped-def]
    """Each basis's actual error rate, and the pooled one, within 5 binomial s.e.

    ``expected`` maps each basis name, in the order of the sifted key's basis values
    (``("Z", "X")``, ``("Z", "X", "Y")``), to its closed-form error rate.
    """
    names = tuple(expected)
    bases = report.sifted.bases
    counts = {name: int(np.count_nonzero(bases == i)) for i, name in enumerate(names)}
    assert tuple(report.qber_by_basis) == names
    for name, count in counts.items():
        assert_rate(report.qber_by_basis[name], expected[name], count)
    pooled = sum(expected[b] * counts[b] for b in names) / report.sifted_bits
    assert_rate(report.qber_actual, pooled, report.sifted_bits)


def exact_correlation(circuit, noise: NoiseSpec) -> float:  # type: ignore[no-untyped-def]
    """``<A ⊗ B>`` of an entangled circuit's two measured halves (qubits 0 and 1), exactly
    (quantum_info density matrix): the circuit's own gates, the noise spec's channel on
    the labelled gate, and Eve's probe traced out."""
    rho = DensityMatrix.from_label("0" * circuit.num_qubits)
    channel = noise.channel_error()
    for inst in circuit.data:
        qargs = [circuit.find_bit(q).index for q in inst.qubits]
        if inst.operation.name in ("barrier", "measure"):
            continue
        if inst.operation.label == CHANNEL_LABEL:
            if channel is not None:
                rho = rho.evolve(channel.to_quantumchannel(), qargs)
            continue
        rho = rho.evolve(inst.operation, qargs)
    p = rho.probabilities([0, 1])  # index = bob + 2 alice
    return float(p[0] + p[3] - p[1] - p[2])


def schema_valid_json(report) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The report's JSON, parsed, after validating it against the published schema
    (skips the test without ``jsonschema``)."""
    jsonschema = pytest.importorskip("jsonschema")
    from qkd_circuits.report import report_schema

    data = json.loads(report.to_json())
    jsonschema.Draft202012Validator(report_schema()).validate(data)
    return data
