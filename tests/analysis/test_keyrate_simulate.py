"""``qkd keyrate --simulate N``: simulated decoy-BB84 runs overlaid on the key-rate curves."""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np
import pytest

from qkd_circuits.analysis.finite_decoy import DecoySettings, expected_counts, lim2014_key_length
from qkd_circuits.analysis.keyrate_cli import add_parser
from qkd_circuits.analysis.link import resolve_link_parameters
from qkd_circuits.analysis.simulated_points import (
    SimulationSettings,
    expected_key_rate,
    key_rate_spread,
)
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.postprocessing.photon_analysis import DECOY_CLASS_NAMES, DecoyAnalysis
from qkd_circuits.postprocessing.verification import verification_tag_bits

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PULSES = 10**9


def _main(argv: list[str]) -> int:
    """Stand-in for qkd_circuits.cli.main: ConfigError -> one line on stderr, exit 2."""
    parser = argparse.ArgumentParser(prog="qkd")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"qkd: error: {exc}", file=sys.stderr)
        return 2


@pytest.fixture(scope="module", name="link_file")
def _link_file(tmp_path_factory):
    """Lim et al.'s link without afterpulsing (which is not simulated)."""
    path = tmp_path_factory.mktemp("link") / "lim2014_no_ap.toml"
    path.write_text('preset = "lim2014"\np_afterpulse = 0\n')
    return path


@pytest.fixture(scope="module", name="simulated")
def _simulated_fixture(link_file, tmp_path_factory):
    """One CLI run with --simulate (3 points of 1e9 pulses, ~1-2 s), and its figure."""
    from matplotlib.figure import Figure

    out = tmp_path_factory.mktemp("sim")
    png, js = out / "rate.png", out / "rate.json"
    argv = ["keyrate", "--params", str(link_file), "--distances", "50:100:10"]
    argv += ["--analysis", "vacuum-weak,plob", "--simulate", "1e9", "--simulate-points", "3"]
    argv += ["--seed", "7", "--plot", str(png), "--json", str(js)]
    figures: list[Figure] = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        figures.append(self)
        return original(self, *args, **kwargs)

    capture = pytest.MonkeyPatch()
    capture.setattr(Figure, "savefig", savefig)
    import contextlib
    import io

    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            status = _main(argv)
    finally:
        capture.undo()
    assert status == 0
    rows = json.loads(js.read_text())
    return {
        "png": png,
        "rows": rows,
        "sim": [r for r in rows if r["analysis"] == "simulated:1e9"],
        "stdout": stdout.getvalue(),
        "figure": figures[0],
        "link": resolve_link_parameters(str(link_file)),
    }


def test_simulate_writes_png_with_points_and_error_bars(simulated):
    from matplotlib.container import ErrorbarContainer

    assert simulated["png"].read_bytes()[:8] == PNG_MAGIC
    sim = simulated["sim"]
    assert [r["distance_km"] for r in sim] == [50.0, 70.0, 80.0]  # evenly up to the reach
    assert all(r["pulses"] == PULSES and r["settings"]["mu1"] == 0.5 for r in sim)
    assert sim[0]["settings"] | {} == {
        "pulses": PULSES, "q_x": 0.5, "mu1": 0.5, "mu2": 0.1, "mu3": 0.0,
        "p_mu1": 0.7, "p_mu2": 0.2, "p_mu3": pytest.approx(0.1),
        "eps_sec": 1e-10, "eps_cor": 1e-15, "seed": 7, "redraws": 30,
    }  # fmt: skip
    assert sim[0]["key_rate"] > 1e-4 and not sim[0]["aborted"]
    assert sim[0]["key_rate"] == sim[0]["final_key_bits"] / PULSES
    assert all(r["key_rate_sd"] > 0 for r in sim if r["key_rate"] > 0)
    # the analytic curves are still there, the simulated rows come after them
    assert {r["analysis"] for r in simulated["rows"]} == {"vacuum-weak", "plob", "simulated:1e9"}
    ax = simulated["figure"].axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1
    assert np.asarray(bars[0].lines[0].get_xdata()).size == sum(r["key_rate"] > 0 for r in sim)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("simulated decoy BB84, 1e9 pulses/point (±1 SD)" in t for t in legend)
    assert any("μ=0.5, ν=0.1, vacuum; p=(0.7, 0.2, 0.1); q_x=0.5" in t for t in legend)
    assert any("at the simulated settings" in t for t in legend)


def test_simulate_table_on_stdout(simulated):
    text = simulated["stdout"]
    assert "# simulated:1e9: decoy BB84, 1e9 pulses per point: mu=0.5, nu=0.1" in text
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("distance_km  ") and "run_f" in line)
    assert header.split()[:4] == ["distance_km", "simulated", "sd", "expected"]
    row = lines[lines.index(header) + 1].split()
    assert float(row[0]) == 50.0
    assert float(row[1]) == pytest.approx(simulated["sim"][0]["key_rate"], rel=1e-4)
    assert "plot written" in text


def _analytic_same_settings(link, distance_km: float, *, f_ec: float) -> float:
    """Lim et al. as the run applies it (DecoyAnalysis), on the expected counts of the
    simulated settings: q_x = 1/2, (0.5, 0.1, 0) at (0.7, 0.2, 0.1), 1e9 pulses, the
    whole Z basis disclosed and 10 % of each X class, error correction f h(E_X)."""
    settings = DecoySettings(q_x=0.5, mu1=0.5, mu2=0.1, mu3=0.0, p_mu1=0.7, p_mu2=0.2)
    _, pulses_per_x = expected_counts(link, distance_km, settings, n_x=1.0)
    c, pulses = expected_counts(link, distance_km, settings, n_x=PULSES / pulses_per_x)
    assert pulses == pytest.approx(PULSES)
    samples = {}
    for k in range(3):
        z = round(c.n_z[k])
        samples[f"Z@mu{k + 1}"] = BasisSample(
            basis=f"Z@mu{k + 1}", sifted_bits=z, sample_bits=z, sample_errors=round(c.m_z[k])
        )
        x = round(c.n_x[k])
        s = math.ceil(0.1 * x)
        samples[f"X@mu{k + 1}"] = BasisSample(
            basis=f"X@mu{k + 1}", sifted_bits=x, sample_bits=s,
            sample_errors=round(s * c.m_x[k] / c.n_x[k]),
        )  # fmt: skip
    key_bits = sum(samples[n].key_bits for n in DECOY_CLASS_NAMES[3:])
    e_x = sum(c.m_x) / sum(c.n_x)
    h = -e_x * math.log2(e_x) - (1 - e_x) * math.log2(1 - e_x)
    analysis = DecoyAnalysis(
        intensities=settings.intensities, probabilities=settings.probabilities, pulses=PULSES
    )
    length = analysis.key_length(
        samples, leaked_ec=f_ec * key_bits * h,
        verification_bits=verification_tag_bits(key_bits, 1e-15)[1],
        eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=0.11, statement="variable",
    ).length  # fmt: skip
    return length / PULSES


def test_simulated_rate_agrees_with_analytic_rate_of_same_settings(simulated):
    link = simulated["link"]
    for row in simulated["sim"][:2]:  # 50 and 70 km, well inside the reach
        d, rate, sd = row["distance_km"], row["key_rate"], row["key_rate_sd"]
        f_run = row["reconciliation_efficiency"]
        assert 1.0 < f_run < 1.5
        # The same analysis on the expected counts, with the run's Cascade efficiency:
        analytic = _analytic_same_settings(link, d, f_ec=f_run)
        assert row["expected_key_rate_run_ec"] == pytest.approx(analytic, rel=1e-12)
        assert abs(rate - analytic) <= 3.0 * sd, (d, rate, analytic, sd)
        # At the link's f_EC = 1.16 (what the analytic curves assume) Cascade's measured
        # leakage differs by a few percent of the rate.
        at_link_f = _analytic_same_settings(link, d, f_ec=link.f_ec)
        assert row["expected_key_rate"] == pytest.approx(at_link_f, rel=1e-12)
        assert rate == pytest.approx(at_link_f, rel=0.05)
        # Lim et al.'s Eq. (1) on the whole X block (nothing disclosed from it, eps_sec
        # not split) is the paper's rate at these settings: above what the run can emit.
        settings = DecoySettings(q_x=0.5, mu1=0.5, mu2=0.1, mu3=0.0, p_mu1=0.7, p_mu2=0.2)
        _, per_x = expected_counts(link, d, settings, n_x=1.0)
        counts, _ = expected_counts(link, d, settings, n_x=PULSES / per_x)
        paper = lim2014_key_length(
            counts, intensities=settings.intensities, probabilities=settings.probabilities,
            eps_sec=1e-10, eps_cor=1e-15, f_ec=link.f_ec,
        )  # fmt: skip
        assert 1.0 < paper.key_length / PULSES / rate < 1.3


def test_expected_key_rate_matches_independent_computation(link_file):
    link = resolve_link_parameters(str(link_file))
    settings = SimulationSettings(pulses=PULSES, mu=0.5, nu=0.1)
    for d in (0.0, 40.0, 80.0):
        assert expected_key_rate(link, d, settings) == pytest.approx(
            _analytic_same_settings(link, d, f_ec=link.f_ec), rel=1e-12
        )
    assert expected_key_rate(link, 120.0, settings) == 0.0  # past the reach of 1e9 pulses


def _estimation(sifted: list[int], errors: list[int]) -> dict[str, dict[str, int]]:
    out = {}
    for name, n, e in zip(DECOY_CLASS_NAMES, sifted, errors, strict=True):
        k = n if name.startswith("Z") else math.ceil(0.1 * n)
        out[name] = {"sifted_bits": n, "sample_bits": k, "sample_errors": e}
    return out


def test_key_rate_spread_is_seeded_and_sized_like_the_counts():
    est = _estimation([420_000, 24_000, 40, 420_000, 24_000, 40], [2_300, 140, 20, 230, 14, 2])
    analysis = DecoyAnalysis(intensities=(0.5, 0.1, 0.0), probabilities=(0.7, 0.2, 0.1),
                             pulses=PULSES)  # fmt: skip

    def spread(estimation: dict[str, dict[str, int]], seed: int) -> float:
        return key_rate_spread(
            estimation, analysis=analysis, leaked_ec=22_000.0, verification_bits=50,
            eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=0.11, statement="variable",
            sample_fraction=0.1, rng=np.random.default_rng(seed),
        )  # fmt: skip

    a, b, c = spread(est, 3), spread(est, 3), spread(est, 4)
    assert a == b and a != c
    # Counts of ~4e5 fluctuate by ~0.2 %; the decoy bounds amplify that a few times.
    samples = {n: BasisSample(basis=n, **v) for n, v in est.items()}
    length = analysis.key_length(
        samples, leaked_ec=22_000.0, verification_bits=50, eps_sec=1e-10, eps_cor=1e-15,
        qber_tolerance=0.11, statement="variable",
    ).length  # fmt: skip
    rate = length / PULSES
    assert rate > 0
    assert 0.002 * rate < a < 0.1 * rate
    with pytest.raises(ConfigError, match="estimation must give"):
        spread({"Z@mu1": {}}, 0)


BAD = [
    (["--simulate", "1e5"], r"integer in \[1e6, 1e12\], got 100000"),
    (["--simulate", "1e13"], r"integer in \[1e6, 1e12\]"),
    (["--simulate", "lots"], "must be a number, got 'lots'"),
    (["--simulate", "2500000.5"], "whole number, got '2500000.5'"),
    (["--params", "lim2014", "--simulate", "1e9"], r"p_afterpulse = 0\.04.*p_afterpulse = 0"),
    (["--simulate", "1e9", "--simulate-points", "0"], r"1\.\.20, got '0'"),
    (["--simulate", "1e9", "--simulate-points", "25"], r"1\.\.20, got '25'"),
    (["--simulate", "1e9", "--simulate-points", "few"], "must be a number, got 'few'"),
    (["--simulate-points", "3"], "needs --simulate N"),
    (["--simulate-at", "10"], "needs --simulate N"),
    (["--simulate", "1e9", "--simulate-points", "3", "--simulate-at", "50"], "not both"),
    (["--simulate", "1e9", "--simulate-at", "-5"], "--simulate-at: distances must be >= 0"),
    (["--simulate", "1e9", "--simulate-at", "2000"], r"in \[0, 1000\] km, got 2000"),
    (["--simulate", "1e12", "--simulate-at", "50"], "more than 3e7 per point"),
    (["--simulate", "1e6"], "is 0 at every plotted distance; about 1e9 pulses give one"),
    (["--simulate", "1e9", "--mu", "0.05"], "mu must be > the decoy nu = 0.1"),
    (["--simulate", "1e9", "--seed", "-1"], "--seed must be >= 0"),
    (["--simulate", "1e9", "--max-distance"], "cannot be combined with --max-distance"),
]


@pytest.mark.parametrize(("extra", "match"), BAD)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(extra, match, tmp_path, capsys):
    import re

    png, js = tmp_path / "out.png", tmp_path / "out.json"
    outputs = ["--json", str(js)] + ([] if "--max-distance" in extra else ["--plot", str(png)])
    assert _main(["keyrate", "--distances", "0:150:10", *extra, *outputs]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qkd: error: "), lines
    assert re.search(match, lines[0]), lines[0]
    assert captured.out == ""
    assert not png.exists() and not js.exists()


def test_bad_input_through_the_main_cli(capsys):
    try:
        from qkd_circuits import cli
    except Exception as exc:  # pragma: no cover - the main CLI may be mid-rewrite
        pytest.skip(f"qkd_circuits.cli not importable: {exc}")
    assert cli.main(["keyrate", "--params", "lim2014", "--simulate", "1e9"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "afterpulsing is not simulated" in lines[0]
