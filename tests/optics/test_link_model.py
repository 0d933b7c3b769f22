"""The link model and its samplers: the source's spellings, the misalignment rotation,
the exact class-by-class sampler against the pulse-by-pulse one, and the simulated
gains and error rates against Lo–Ma–Chen's formulas at several distances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from qkd_circuits.analysis.decoy import wcp_error_rate, wcp_gain
from qkd_circuits.analysis.link import LinkParameters, get_preset
from qkd_circuits.attacks.pns import pns_forwarding, pns_routes
from qkd_circuits.channel.noise import NoiseSpec, build_noise_model
from qkd_circuits.errors import ConfigError
from qkd_circuits.optics.detections import draw_bob_bits, sample_exact, sample_per_pulse
from qkd_circuits.optics.link import LinkModel
from qkd_circuits.optics.source import Intensities, Source
from qkd_circuits.runner import RunConfig, run_config

GYS = get_preset("gys")


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("single-photon", Source()),
        ("wcp", Source(kind="wcp", mu=0.5)),
        ("wcp:mu=0.25", Source(kind="wcp", mu=0.25)),
    ],
)
def test_source_spellings(text, source):
    assert Source.parse(text) == source
    assert Source.parse(str(source)) == source


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("laser", "unknown source 'laser'"),
        ("wcp:mu=0", "mu must be a number > 0, got '0'"),
        ("wcp:mu=abc", "got 'abc'"),
        ("wcp:nu=0.5", "the option is mu=M"),
        ("single-photon:mu=1", "takes no options"),
    ],
)
def test_bad_sources_say_why(text, message):
    with pytest.raises(ConfigError, match=message):
        Source.parse(text)


def test_decoy_intensities_are_checked():
    wcp = Source(kind="wcp", mu=0.5)
    assert Intensities.of(wcp, (0.1,)).values == (0.5, 0.1, 0.0)
    with pytest.raises(ConfigError, match="mu1 > mu2 \\+ mu3"):
        Intensities.of(wcp, (0.45, 0.1))
    with pytest.raises(ConfigError, match="weak coherent source"):
        Intensities.of(Source(), (0.1,))
    with pytest.raises(ConfigError, match="afterpulsing is not simulated"):
        LinkModel(distance_km=10, parameters=get_preset("lim2014"))
    with pytest.raises(ConfigError, match="distance must be in"):
        LinkModel(distance_km=-1, parameters=GYS)


def test_the_poisson_tail_is_complete():
    ints = Intensities.of(Source(kind="wcp", mu=0.5))
    pmf = ints.photon_number_pmf(0, 30)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-15)
    assert pmf[2:].sum() == pytest.approx(ints.multi_photon_probability(0), rel=1e-12)


@pytest.mark.parametrize("e_d", [0.033, 0.2])
def test_misalignment_is_a_rotation_in_the_circuit(e_d):
    """Z and X states reach the wrong detector with probability e_d; Y states lie on the
    rotation axis and are untouched (a flip after the fact would hit them too)."""
    from qkd_circuits.circuits.six_state import SixStateConfig, six_state_circuit
    from qkd_circuits.execution.aer import AerExecutor

    executor = AerExecutor(build_noise_model(NoiseSpec(misalignment=e_d)))
    gen = np.random.default_rng(1)
    for basis in (0, 1, 2):
        config = SixStateConfig(alice_bit=0, alice_basis=basis, bob_basis=basis, eve_basis=-1)
        dist = executor.distributions([six_state_circuit(config)], rng=gen)[0]
        wrong = float(dist.probs[dist.outcomes["bob"][:, 0] == 1].sum())
        assert wrong == pytest.approx(e_d if basis < 2 else 0.0, abs=1e-12), basis
    assert NoiseSpec.parse("misalignment=0.05").misalignment == 0.05


def _summary(det, bits, double, codes) -> np.ndarray:
    """Counts per (intensity, photons 0/1/2/3+, tagged, error, double click)."""
    n = np.minimum(det.photons.astype(np.int64), 3)
    error = bits != (codes & 1)
    cell = (((det.intensity.astype(np.int64) * 4 + n) * 2 + det.tagged) * 2 + error) * 2 + double
    return np.bincount(cell, minlength=3 * 4 * 2 * 2 * 2)


@pytest.mark.parametrize("attack", ["none", "pns"])
def test_exact_and_per_pulse_sampling_agree(attack):
    """Same link, same pulses: the class-by-class sampler and the pulse-by-pulse one give
    statistically the same detections (a chi-square two-sample test over intensity,
    photon number, Eve's tag, error and double click), and the same gains within 5 SE
    (without Eve). A long, bright, noisy link so that multi-photon pulses, dark counts and
    double clicks all occur often, and PNS must block (f_1 < 1: its routes split)."""
    params = LinkParameters(
        alpha_db_per_km=0.2, eta_bob=0.6, y0=2e-2, e_d=0.05, f_ec=1.1, q=0.5, name="bright"
    )
    link = LinkModel(
        distance_km=25, parameters=params, source=Source(kind="wcp", mu=0.8), decoys=(0.2,)
    )
    routes = None if attack == "none" else pns_routes(link)
    if routes is not None:
        f1, fm = pns_forwarding(link)
        assert f1 < 1.0 and fm > 0.0
    pulses = 600_000
    tables, gains = [], []
    p0 = np.array([1 - params.e_d, params.e_d])  # code 0: bit 0, code 1: bit 1
    for sampler, seed in ((sample_exact, 11), (sample_per_pulse, 12)):
        gen = np.random.default_rng(seed)
        det = sampler(pulses, link, routes=routes, rng=gen)
        codes = gen.integers(0, 2, det.count)
        bits, double = draw_bob_bits(det, codes, p0, link.dark_count, rng=gen)
        tables.append(_summary(det, bits, double, codes))
        gains.append(det.gains())
    table = np.array(tables)
    assert table[0].sum() > 50_000 and table[:, 1::2].sum() > 500  # double clicks occur
    if routes is not None:
        assert table[:, 4::8].sum() + table[:, 5::8].sum() > 1000  # tagged, no error
    table = table[:, table.sum(axis=0) > 0]
    _, p_value, _, _ = chi2_contingency(table)
    assert p_value > 1e-4, p_value
    ints = link.intensities
    for k, p_k in enumerate(ints.probabilities):
        if routes is not None:
            break  # Eve sets the gains: the test above compares them
        q = link.expected_gain(k)
        se = math.sqrt(q * (1 - q) / (0.99 * pulses * p_k))  # ≥ 0.99 p_k N pulses at k
        for g in gains:
            assert abs(g[k] - q) < 5 * se, (k, g[k], q)


@pytest.mark.parametrize("distance", [0.0, 40.0, 100.0])
def test_simulated_gain_and_qber_match_lo_ma_chen(distance):
    """A BB84 run over the GYS link with weak coherent pulses (μ = 0.5): the gain and the
    sifted key's error rate match Q_μ = Y0 + 1 − e^(−ημ) and E_μ (Lo, Ma & Chen 2005)
    within 5 binomial standard errors."""
    link = LinkModel(distance_km=distance, parameters=GYS, source=Source(kind="wcp", mu=0.5))
    pulses = 10**9
    report = run_config(RunConfig(protocol="bb84", qubits=pulses, link=link, seed=21))
    q = float(wcp_gain(GYS, distance, mu=0.5))
    e = float(wcp_error_rate(GYS, distance, mu=0.5))
    assert report.gain is not None and report.pulses == pulses
    assert abs(report.gain[0] - q) < 5 * math.sqrt(q * (1 - q) / pulses)
    n = report.sifted_bits
    assert n > 50_000
    assert abs(report.qber_actual - e) < 5 * math.sqrt(e * (1 - e) / n), (report.qber_actual, e)
    assert report.detections == report.link["detections_per_intensity"][0]


def test_single_photons_over_a_link_give_a_key():
    """Single photons: the gain is 1 − (1 − Y0)(1 − η), the key BB84's (no multi-photon
    pulse to tag), and the report carries the link."""
    link = LinkModel(distance_km=20, parameters=GYS)
    report = run_config(RunConfig(protocol="bb84", qubits=2 * 10**7, link=link, seed=4))
    assert not report.aborted and report.keys_match and report.final_key_bits > 0
    q = link.expected_gain()
    assert abs(report.gain[0] - q) < 5 * math.sqrt(q / 2e7)
    assert report.link["source"] == {"kind": "single-photon"}
    assert report.distance_km == 20


def test_a_run_over_a_link_round_trips_its_config():
    link = LinkModel(
        distance_km=12.5, parameters=GYS, source=Source(kind="wcp", mu=0.4), decoys=(0.1, 0.01)
    )
    config = RunConfig(protocol="decoy-bb84", qubits=10**6, link=link)
    assert RunConfig.from_dict(config.to_dict()) == config


def test_a_run_without_a_detection_reports_an_abort(capsys):
    from qkd_circuits.cli import main

    assert main(["run", "bb84", "--distance", "1000", "--qubits", "1000", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "0 of 1,000 pulses" in out and "no detection" in out
    assert "ABORTED (key_too_short)" in out


def test_decoys_need_a_decoy_protocol_and_it_needs_them():
    wcp = Source(kind="wcp", mu=0.5)
    with pytest.raises(ConfigError, match="need a decoy-state protocol, not 'bb84'"):
        RunConfig(
            protocol="bb84",
            link=LinkModel(distance_km=5, parameters=GYS, source=wcp, decoys=(0.1,)),
        )
    with pytest.raises(ConfigError, match="decoy-bb84 needs decoy intensities"):
        RunConfig(protocol="decoy-bb84", link=LinkModel(distance_km=5, parameters=GYS, source=wcp))


def test_run_takes_a_link_like_run_config():
    """``run(link=...)``: the Python API's spelling of ``qkd run --distance``."""
    from qkd_circuits.runner import run

    link = LinkModel(distance_km=5, parameters=GYS, source=Source.parse("wcp:mu=0.5"))
    by_run = run(qubits=400_000, link=link, seed=8)
    by_config = run_config(RunConfig(qubits=400_000, link=link, seed=8))
    assert by_run.distance_km == 5 and by_run.pulses == 400_000
    assert by_run.detections == by_config.detections > 0
    assert by_run.final_key_bits == by_config.final_key_bits
