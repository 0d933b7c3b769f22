"""The photon-number-splitting attack: without decoys it goes unnoticed and the naive
key (every detection treated as a single photon) is insecure, while GLLP emits nothing;
with decoys the single-photon bounds expose it. And decoy runs against the analytic
decoy statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkd_circuits.analysis.decoy import wcp_error_rate, wcp_gain
from qkd_circuits.analysis.link import get_preset
from qkd_circuits.analysis.simulated_points import key_rate_spread
from qkd_circuits.attacks.pns import pns_forwarding
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.errors import ConfigError
from qkd_circuits.optics.link import LinkModel
from qkd_circuits.optics.source import Source
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.postprocessing.pipeline import distill_key
from qkd_circuits.postprocessing.security import PhaseErrorAnalysis
from qkd_circuits.runner import RunConfig, run_config
from tests.protocols.conftest import schema_valid_json

GYS = get_preset("gys")
DISTANCE = 50.0  # km: loss enough for Eve to block every single photon (f_1 = 0)
PULSES = 10**9


def _link(**kw) -> LinkModel:
    return LinkModel(distance_km=DISTANCE, parameters=GYS, source=Source(kind="wcp", mu=0.5), **kw)


def test_eve_blocks_every_single_photon_at_50_km():
    f1, fm = pns_forwarding(_link())
    assert f1 == 0.0 and 0.0 < fm < 1.0


def test_without_decoys_pns_goes_unnoticed_and_the_naive_key_is_insecure():
    link = _link()
    config = RunConfig(protocol="bb84", qubits=PULSES, link=link, seed=5, eve=EveSpec.parse("pns"))
    report = run_config(config)
    schema_valid_json(report)
    # Unnoticed: the gain and the QBER are the fibre's, within 5 standard errors.
    q = float(wcp_gain(GYS, DISTANCE, mu=0.5))
    e = float(wcp_error_rate(GYS, DISTANCE, mu=0.5))
    assert report.gain is not None
    assert abs(report.gain[0] - q) < 5 * math.sqrt(q * (1 - q) / PULSES)
    n = report.sifted_bits
    assert abs(report.qber_actual - e) < 5 * math.sqrt(e * (1 - e) / n)
    # Eve knows (nearly) every sifted bit, from her own photons, without one error.
    eve = report.eve
    assert eve["eve_error_rate"] == 0.0 and eve["mutual_information_ae"] > 0.99
    # The naive analysis (single photons assumed) emits a key longer than all Eve does not
    # know: insecure. GLLP's worst case emits nothing.
    assert report.sifted is not None
    s = report.sifted
    naive = distill_key(s.alice, s.bob, bases=s.bases, analysis=PhaseErrorAnalysis(), rng=1)
    unknown_to_eve = n * (1 - eve["mutual_information_ae"])
    assert naive.final_key_bits > 100 * unknown_to_eve
    assert report.aborted and report.final_key_bits == 0
    assert "multi-photon pulses could account for every detection" in report.abort_message


def test_with_decoys_pns_is_exposed_and_no_key_is_emitted():
    link = _link(decoys=(0.1,))
    honest = run_config(RunConfig(protocol="decoy-bb84", qubits=PULSES, link=link, seed=6))
    attacked = run_config(
        RunConfig(protocol="decoy-bb84", qubits=PULSES, link=link, seed=6, eve=EveSpec.parse("pns"))
    )
    schema_valid_json(attacked)
    assert honest.gain is not None and attacked.gain is not None
    # The signal's gain is what Eve matched; the decoy's falls far below the fibre's.
    sent = attacked.link["pulses_per_intensity"]
    for k, (mu, n_k) in enumerate(zip((0.5, 0.1), sent, strict=False)):
        q = float(wcp_gain(GYS, DISTANCE, mu=mu))
        deviation = (attacked.gain[k] - q) / math.sqrt(q / n_k)
        assert abs(deviation) < 5 if k == 0 else deviation < -20, (k, deviation)
    # The single-photon yield bound collapses (it is ~0.002 honestly) and no key is emitted.
    assert honest.single_photon is not None and attacked.single_photon is not None
    assert honest.single_photon["y1_lower"] > 0.001
    assert attacked.single_photon["y1_lower"] == 0.0
    assert attacked.final_key_bits == 0 and attacked.aborted


def test_pns_needs_a_weak_laser_over_a_link():
    with pytest.raises(ConfigError, match="pns splits the photons"):
        RunConfig(protocol="bb84", eve=EveSpec.parse("pns"))
    with pytest.raises(ConfigError, match="pns needs multi-photon pulses"):
        RunConfig(
            protocol="bb84",
            eve=EveSpec.parse("pns"),
            link=LinkModel(distance_km=10, parameters=GYS),
        )
    with pytest.raises(ConfigError, match="on a link, --eve takes none or pns"):
        RunConfig(protocol="bb84", eve=EveSpec.parse("cloner=0.1"), link=_link())


def _gain(mu: float) -> float:
    """Lo–Ma–Chen's Q_μ; the vacuum's is Y0."""
    return GYS.y0 if mu == 0 else float(wcp_gain(GYS, DISTANCE, mu=mu))


def _error(mu: float) -> float:
    """Lo–Ma–Chen's E_μ; the vacuum's is 1/2 (dark counts)."""
    return 0.5 if mu == 0 else float(wcp_error_rate(GYS, DISTANCE, mu=mu))


@pytest.mark.slow
def test_a_long_decoy_run_matches_the_decoy_analysis_on_expected_counts():
    """10^10 pulses over 50 km of the GYS link with decoys (10 s of a 1 GHz source): every
    (basis, intensity) class's detections and errors match the model's expectation within
    5 SE, and the emitted key length is the decoy analysis on the expected counts within 5
    standard deviations of its count fluctuations."""
    link = _link(decoys=(0.1,))
    pulses = 10**10
    config = RunConfig(protocol="decoy-bb84", qubits=pulses, link=link, seed=7)
    report = run_config(config)
    assert not report.aborted and report.keys_match and report.final_key_bits > 100_000
    assert report.estimation is not None and report.key_length is not None
    ints = link.intensities
    expected: dict[str, BasisSample] = {}
    for name, row in report.estimation.items():
        basis, k = name[0], int(name[-1]) - 1
        mu, p_k = ints.values[k], ints.probabilities[k]
        n_exp = pulses * p_k * 0.25 * _gain(mu)  # both parties in the basis: 1/4
        se = math.sqrt(n_exp)
        assert abs(row["sifted_bits"] - n_exp) < 5 * se + 1, (name, row["sifted_bits"], n_exp)
        e = _error(mu)
        k_bits = row["sample_bits"]
        if k_bits > 1000:
            assert abs(row["qber"] - e) < 5 * math.sqrt(e * (1 - e) / k_bits), (name, row)
        sample = round(n_exp) if basis == "Z" else round(0.1 * n_exp)
        expected[name] = BasisSample(
            basis=name, sifted_bits=round(n_exp), sample_bits=sample,
            sample_errors=round(e * sample),
        )  # fmt: skip
    analysis = config.protocol_object.link_analysis(report.sifted, link, _Pulses(pulses))
    kl = report.key_length
    leaked, verification = kl["terms"]["leak_ec"], int(kl["terms"]["verification_leak"])

    def length_of(samples: dict[str, BasisSample]) -> float:
        return analysis.key_length(
            samples, leaked_ec=leaked, verification_bits=verification,
            eps_sec=config.postprocessing.eps_sec, eps_cor=config.postprocessing.eps_cor,
            qber_tolerance=0.11, statement="variable",
        ).terms["bound"]  # fmt: skip

    at_expected = length_of(expected)
    pp = config.postprocessing
    sd = pulses * key_rate_spread(
        {name: s.to_dict() for name, s in expected.items()}, analysis=analysis,
        leaked_ec=leaked, verification_bits=verification, eps_sec=pp.eps_sec,
        eps_cor=pp.eps_cor, qber_tolerance=pp.qber_threshold, statement=pp.key_length,
        sample_fraction=pp.sample_fraction, redraws=40, rng=np.random.default_rng(8),
    )  # fmt: skip
    assert sd > 0 and abs(report.final_key_bits - at_expected) < 5 * sd + 1, (
        report.final_key_bits, at_expected, sd,
    )  # fmt: skip


class _Pulses:
    """What ``link_analysis`` reads of the detections: the pulses sent."""

    def __init__(self, pulses: int) -> None:
        self.pulses = pulses


def test_a_decoy_run_too_short_for_a_key_says_how_many_pulses_would_do():
    link = _link(decoys=(0.1,))
    report = run_config(RunConfig(protocol="decoy-bb84", qubits=10**8, link=link, seed=9))
    assert report.aborted and report.abort_reason == "key_too_short"
    assert "over 50 km about 1e10 pulses give a key" in report.abort_message


def test_the_pulses_hint_of_a_tiny_run():
    """Fewer pulses than the simulation's minimum still get a hint (not an error)."""
    from qkd_circuits.protocols.decoy_bb84 import DECOY_BB84

    hint = DECOY_BB84.pulses_hint(_link(decoys=(0.1,)), 50, eps_sec=1e-10, eps_cor=1e-15)
    assert hint == "over 50 km about 1e10 pulses give a key (expected counts; this run had 50)"
