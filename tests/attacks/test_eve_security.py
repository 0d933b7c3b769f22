"""An attack is a test: over 200+ seeded attacked runs, no emitted key is longer than
what is left once Eve's knowledge, measured from her own outcomes, and everything
disclosed are taken away:

    final key bits <= n − n·I(A;E on the key bits) − (reconciliation + verification bits)

with n the bits that entered privacy amplification (the sifted key minus the disclosed
sample). The plug-in I(A;E) errs upward (:mod:`qkd_circuits.attacks.knowledge`), which
only makes the test stricter.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from qkd_circuits.attacks.knowledge import table_information
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.report import RunReport
from qkd_circuits.runner import run

RUNS = 208
PROTOCOLS = ("bb84", "bb84", "six-state", "bbm92")


def _attacks(rng: np.random.Generator) -> list[tuple[str, str, int]]:
    """(protocol, --eve, qubits) of every run: strengths spread from harmless to well past
    what a key survives, drawn from a seeded public generator."""
    runs = []
    for i in range(RUNS):
        kind = i % 4
        if kind == 0:
            eve = f"intercept-resend={rng.uniform(0.0, 0.45):.4f}"
        elif kind == 1:
            eve = f"intercept-resend={rng.uniform(0.0, 0.45):.4f}:basis=breidbart"
        elif kind == 2:
            basis = "z" if rng.random() < 0.5 else "x"
            eve = f"intercept-resend={rng.uniform(0.0, 0.45):.4f}:basis={basis}"
        else:
            eve = f"cloner={rng.uniform(0.0, 0.12):.4f}"
        runs.append((PROTOCOLS[(i // 4) % len(PROTOCOLS)], eve, int(rng.choice([1, 2])) * 100_000))
    return runs


def _key_bits_knowledge(report: RunReport) -> float:
    """n · I(A; E | Eve's choice, basis) over the bits that entered amplification."""
    sifted, result = report.sifted, report.distillation
    assert sifted is not None and result is not None and result.estimate is not None
    keep = np.ones(sifted.size, dtype=bool)
    keep[result.estimate.sample_positions] = False
    arrays = {
        name: getattr(sifted, name)[keep]
        for name in ("alice", "bob", "positions", "bases", "eve_bits", "eve_attacked", "eve_choice")
    }
    key: SiftedKey = dataclasses.replace(sifted, **arrays)
    return sum(sum(c) * table_information(c) for c in key.tally()["eve_joint"].values())


@pytest.mark.slow
def test_no_key_exceeds_what_eve_leaves():
    emitted = 0
    for i, (protocol, eve, qubits) in enumerate(_attacks(np.random.default_rng(2026))):
        report = run(protocol=protocol, qubits=qubits, eve=eve, seed=5000 + i)
        assert report.eve["attacked"] > 0 or "=0.0000" in eve
        if report.aborted:
            assert report.final_key_bits == 0
            continue
        emitted += 1
        result = report.distillation
        assert result is not None and result.estimate is not None
        n = result.estimate.key_alice.size
        disclosed = result.channel.total_leaked_bits(
            stage="reconciliation"
        ) + result.channel.total_leaked_bits(stage="verification")
        eve_knows = _key_bits_knowledge(report)
        bound = n - math.ceil(eve_knows) - disclosed
        assert report.final_key_bits <= bound, (protocol, eve, report.final_key_bits, bound)
        assert report.keys_match
    # The bound was tested on real keys, not only on aborts.
    assert emitted >= RUNS // 4, emitted
