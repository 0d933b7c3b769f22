"""The ``qkd keyrate`` subcommand, in-process."""

from __future__ import annotations

import argparse
import json
import re
import sys

import pytest

from qkd_circuits.analysis.keyrate_cli import add_parser, run_keyrate
from qkd_circuits.errors import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qkd")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def _main(argv: list[str]) -> int:
    """Stand-in for qkd_circuits.cli.main: ConfigError -> one line on stderr, exit 2."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"qkd: error: {exc}", file=sys.stderr)
        return 2


@pytest.fixture(name="cli_main")
def _cli_main_fixture(monkeypatch):
    """qkd_circuits.cli.main with ``keyrate`` registered (added here until cli.py does it)."""
    try:
        from qkd_circuits import cli
    except Exception as exc:  # pragma: no cover - the main CLI may be mid-rewrite
        pytest.skip(f"qkd_circuits.cli not importable: {exc}")
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "keyrate" not in sub.choices:
        original = cli.build_parser

        def build() -> argparse.ArgumentParser:
            parser = original()
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            add_parser(sub)
            return parser

        monkeypatch.setattr(cli, "build_parser", build)
    return cli.main


def test_add_parser_sets_handler():
    args = _parser().parse_args(["keyrate"])
    assert args.handler is run_keyrate
    assert args.params == "gys" and args.distances == "0:200:5"


def test_table_on_stdout(capsys):
    assert _main(["keyrate", "--distances", "0:100:50", "--analysis", "infinite-decoy,plob"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("distance_km"))
    assert header.split() == ["distance_km", "infinite-decoy", "plob"]
    rows = [line.split() for line in out if line and not line.startswith(("#", "distance"))]
    assert [r[0] for r in rows] == ["0", "50", "100"]
    assert rows[0][2] == "inf"  # PLOB of a lossless channel
    assert float(rows[2][2]) == pytest.approx(-__import__("math").log2(1 - 10**-2.1), rel=1e-4)


def test_json_rows_on_stdout(capsys):
    argv = ["keyrate", "--distances", "0,50,100", "--mu", "0.5"]
    argv += ["--analysis", "infinite-decoy,gllp,plob", "--json", "-"]
    assert _main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {tuple(sorted(r)) for r in rows} == {("analysis", "distance_km", "key_rate", "mu")}
    inf = [r for r in rows if r["analysis"] == "infinite-decoy"]
    assert [r["key_rate"] for r in inf] == pytest.approx(
        [2.553403e-3, 2.2228e-4, 1.714576e-5], rel=1e-6
    )
    assert all(r["mu"] == 0.5 for r in inf)
    assert all(r["mu"] is None for r in rows if r["analysis"] == "plob")
    gllp_100 = next(r for r in rows if r["analysis"] == "gllp" and r["distance_km"] == 100)
    assert gllp_100["key_rate"] == 0.0 and gllp_100["mu"] is None  # beyond GLLP's reach


def test_plot_and_json_files_headless(tmp_path, capsys):
    png, js = tmp_path / "rate.png", tmp_path / "rate.json"
    argv = ["keyrate", "--params", "lim2014", "--distances", "0:200:10"]
    argv += ["--analysis", "infinite-decoy,finite:1e6,finite:inf", "--plot", str(png)]
    argv += ["--json", str(js)]
    assert _main(argv) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = json.loads(js.read_text())
    assert len(rows) == 3 * 21
    finite = [r for r in rows if r["analysis"] == "finite:1e6"]
    assert finite[0]["settings"]["q_x"] > 0.5 and finite[0]["mu"] == finite[0]["settings"]["mu1"]
    assert "plot written" in capsys.readouterr().out


def test_max_distance(capsys):
    argv = ["keyrate", "--max-distance", "--analysis", "infinite-decoy,vacuum-weak,plob"]
    assert _main([*argv, "--json", "-"]) == 0
    reach = {r["analysis"]: r["max_distance_km"] for r in json.loads(capsys.readouterr().out)}
    assert reach["infinite-decoy"] == pytest.approx(142.0, abs=1.0)
    assert reach["vacuum-weak"] == pytest.approx(140.0, abs=1.0)
    assert reach["plob"] is None
    assert _main(argv) == 0
    text = capsys.readouterr().out
    assert "max_distance_km" in text and "inf" in text


def test_params_file_and_overrides(tmp_path, capsys):
    path = tmp_path / "link.toml"
    path.write_text('preset = "gys"\nalpha_db_per_km = 0.2\n')
    argv = ["keyrate", "--params", str(path), "--set", "eta_bob=0.1", "--distances", "0"]
    assert _main([*argv, "--analysis", "infinite-decoy", "--mu", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "eta_bob=0.1" in out and "alpha_db_per_km=0.2" in out


BAD = [
    (["--distances=-5:100:5"], "distances must be >= 0"),
    (["--distances", "-10"], "distances must be >= 0"),
    (["--distances", "0:200"], "malformed"),
    (["--distances", "a:b:c"], "not a number"),
    (["--distances", "0:100:0"], "STEP > 0"),
    (["--distances", "100:0:5"], "STOP < START"),
    (["--distances", "0,,5"], "malformed"),
    (["--set", "eta_bob=1.5"], r"eta_bob must be in \[0, 1\]"),
    (["--set", "eta_bob=-0.1"], r"eta_bob must be in \[0, 1\]"),
    (["--set", "colour=red"], "FIELD=VALUE"),
    (["--mu", "0"], "mu"),
    (["--mu", "-0.3"], "mu"),
    (["--mu", "abc"], "must be a number"),
    (["--nu", "0"], "nu"),
    (["--params", "nosuchpreset"], "unknown link preset 'nosuchpreset'"),
    (["--analysis", "magic"], "unknown analysis 'magic'"),
    (["--analysis", "finite"], "block size"),
    (["--analysis", "finite:0"], "block size"),
    (["--analysis", "finite:lots"], "not a number"),
    (["--analysis", ","], "no analysis"),
    (["--protocol", "e91"], "unknown protocol 'e91'"),
    (["--max-distance", "--plot", "x.png"], "cannot be combined"),
    (["--eps-sec", "2"], "eps_sec"),
]


@pytest.mark.parametrize(("extra", "match"), BAD)
def test_bad_input_raises_config_error(extra, match):
    args = _parser().parse_args(["keyrate", *extra])
    with pytest.raises(ConfigError, match=match):
        run_keyrate(args)


@pytest.mark.parametrize(("extra", "match"), BAD[:6])
def test_bad_input_exits_2_with_one_line(extra, match, capsys):
    assert _main(["keyrate", *extra]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qkd: error: ")
    assert captured.out == ""


@pytest.mark.parametrize(("extra", "match"), BAD)
def test_through_the_main_cli(extra, match, cli_main, capsys):
    assert cli_main(["keyrate", *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qkd: error: ")
    assert re.search(match, lines[0])


def test_main_cli_happy_path(cli_main, capsys):
    argv = ["keyrate", "--distances", "0:100:50", "--mu", "0.5", "--analysis", "infinite-decoy"]
    assert cli_main([*argv, "--json", "-"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["key_rate"] == pytest.approx(2.553403e-3, rel=1e-6)


def test_main_cli_usage_error_is_one_line(cli_main, capsys):
    # argparse-level mistakes (a value that looks like an option) also give exit 2.
    assert cli_main(["keyrate", "--distances", "-5:100:5"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0]


def test_key_rate_figure_is_returned_for_notebooks():
    """The figure behind --plot, for a caller that shows it instead of saving it."""
    from matplotlib.figure import Figure

    from qkd_circuits.analysis.curves import key_rate_curve
    from qkd_circuits.analysis.link import get_preset
    from qkd_circuits.analysis.plot import key_rate_figure

    link = get_preset("gys")
    points = key_rate_curve(link, [0.0, 50.0, 100.0], "infinite-decoy")
    fig = key_rate_figure(points, link=link, title="t")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["infinite-decoy", "PLOB bound"]
    with pytest.raises(ConfigError, match="no key-rate points"):
        key_rate_figure([], link=link)
