"""The ``qkd keyrate`` subcommand: key rate vs distance tables, plots and JSON.

Examples::

    qkd keyrate --params gys --distances 0:200:5
    qkd keyrate --params lim2014 --analysis finite:1e4,finite:1e6,finite:inf,plob --plot out.png
    qkd keyrate --params gys --max-distance
    qkd keyrate --params my_link.toml --set eta_bob=0.1 --json -
    qkd keyrate --params gys --distances 0:150:5 --simulate 1e9 --plot out.png

Bad input raises :class:`~qkd_circuits.errors.ConfigError`; the main CLI turns
it into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
from typing import TYPE_CHECKING, Any, TypeVar

from qkd_circuits.analysis.finite_decoy import FiniteKeySecurity
from qkd_circuits.analysis.link import PRESETS, LinkParameters, resolve_link_parameters
from qkd_circuits.errors import ConfigError
from qkd_circuits.outputs import PLOT_FORMATS, check_output_path

if TYPE_CHECKING:  # the curves (scipy.optimize) and tqdm are imported when a command runs
    from collections.abc import Sequence

    import numpy as np
    from numpy.typing import NDArray

    from qkd_circuits.analysis.curves import AnalysisSpec, KeyRatePoint
    from qkd_circuits.analysis.simulated_points import SimulatedSeries, SimulationSettings
    from qkd_circuits.runner import RunConfig

__all__ = ["DEFAULT_ANALYSES", "PROTOCOLS", "add_parser", "run_keyrate"]

PROTOCOLS = ("decoy-bb84",)
DEFAULT_ANALYSES = "infinite-decoy,vacuum-weak,gllp,plob"
_LINK_FIELDS = tuple(f.name for f in dataclasses.fields(LinkParameters) if f.name != "name")

_EPILOG = f"""\
analyses (comma-separated):
  infinite-decoy   Lo-Ma-Chen 2005, infinitely many decoys (mu optimised)
  vacuum-weak      Ma-Qi-Zhao-Lo 2005, vacuum + weak decoy nu (mu optimised)
  gllp             GLLP 2004 without decoys (mu optimised)
  finite:N         Lim et al. 2014 finite-key, block size n_X = N, e.g. finite:1e6
                   (q_x, intensities and probabilities optimised; key from all
                   intensities incl. vacuum events); finite:inf = its n_X -> inf limit
  plob, tgw        repeaterless bounds of the fibre (Pirandola 2017; Takeoka 2014)
presets: {", ".join(sorted(PRESETS))}; or a .toml/.json file with the fields
  {", ".join(_LINK_FIELDS)} (and optionally preset = "gys" to override one).

--simulate N runs decoy BB84 (signal --mu, default 0.5; decoy --nu; vacuum; intensity
  probabilities 0.7/0.2/0.1; both bases 1/2; eps_sec --eps-sec, default 1e-10) with N
  pulses at --simulate-points distances evenly spaced up to the reach of its expected
  key, or at --simulate-at, and overlays the key rates with +-1 SD error bars (the run's
  analysis on redrawn counts) and the expected curve of those settings. Afterpulsing is
  not simulated: for lim2014 use --set p_afterpulse=0.
"""

_DEFAULT_SIM_POINTS = 5
_DEFAULT_SIM_EPS_SEC = 1e-10


_P = TypeVar("_P", bound=argparse.ArgumentParser)


def add_parser(subparsers: argparse._SubParsersAction[_P]) -> None:
    """Register the ``keyrate`` subcommand on ``subparsers`` (handler: :func:`run_keyrate`)."""
    p = subparsers.add_parser(
        "keyrate",
        help="secret key rate vs distance (asymptotic, finite-key, PLOB bound)",
        description="Secret key rate per pulse vs fibre length for weak-coherent-pulse "
        "BB84: a table on stdout, optionally a log-scale plot and JSON rows.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--protocol", default="decoy-bb84", help="protocol (default: decoy-bb84)")
    p.add_argument(
        "--params",
        default="gys",
        metavar="PRESET|FILE",
        help="link parameters: preset name or .toml/.json file (default: gys)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override one link parameter, e.g. --set eta_bob=0.1 (repeatable)",
    )
    p.add_argument(
        "--distances",
        default="0:200:5",
        metavar="START:STOP:STEP",
        help="fibre lengths in km, STOP included, or a list 0,50,100 (default: 0:200:5)",
    )
    p.add_argument(
        "--analysis",
        default=DEFAULT_ANALYSES,
        metavar="LIST",
        help=f"comma-separated analyses (default: {DEFAULT_ANALYSES})",
    )
    p.add_argument(
        "--mu",
        default=None,
        metavar="MU",
        help="fix the signal intensity of the asymptotic decoy analyses (default: optimised)",
    )
    p.add_argument("--nu", default="0.1", metavar="NU", help="weak decoy of vacuum-weak (0.1)")
    p.add_argument(
        "--eps-sec",
        default=None,
        metavar="EPS",
        help="finite-key secrecy epsilon (default: 1e-15 x key length, as Lim et al. Sec. IV)",
    )
    p.add_argument(
        "--eps-cor", default="1e-15", metavar="EPS", help="finite-key correctness (1e-15)"
    )
    p.add_argument("--plot", default=None, metavar="PATH", help="save a log-scale plot")
    p.add_argument(
        "--json", default=None, metavar="PATH", help="write JSON rows ('-' for stdout only)"
    )
    p.add_argument(
        "--simulate",
        default=None,
        metavar="N",
        help="overlay simulated decoy-BB84 runs of N pulses each, e.g. 1e9 (see below)",
    )
    p.add_argument(
        "--simulate-points",
        default=None,
        metavar="K",
        help=f"number of simulated distances, up to the expected reach "
        f"(default: {_DEFAULT_SIM_POINTS})",
    )
    p.add_argument(
        "--simulate-at",
        default=None,
        metavar="LIST",
        help="simulate at these distances instead, e.g. 0,25,50 (km)",
    )
    p.add_argument(
        "--seed", default="0", metavar="S", help="root seed of the simulated runs (default: 0)"
    )
    p.add_argument(
        "--max-distance",
        action="store_true",
        help="print the distance at which each analysis reaches zero key",
    )
    p.set_defaults(handler=run_keyrate)


def _number(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise ConfigError(f"{what} must be finite, got {text!r}")
    return v


def _link(args: argparse.Namespace) -> LinkParameters:
    link = resolve_link_parameters(str(args.params))
    changes: dict[str, float] = {}
    for item in args.overrides or []:
        key, sep, value = str(item).partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in _LINK_FIELDS:
            raise ConfigError(
                f"--set expects FIELD=VALUE with FIELD one of {', '.join(_LINK_FIELDS)}, "
                f"got {item!r}"
            )
        v = _number(value.strip(), f"--set {key}")
        assert v is not None
        changes[key] = v
    if not changes:
        return link
    values = {**link.to_dict(), **changes, "name": f"{link.name}+set"}
    return LinkParameters(**values)


def _security(args: argparse.Namespace) -> FiniteKeySecurity:
    eps_sec = _number(args.eps_sec, "--eps-sec")
    eps_cor = _number(args.eps_cor, "--eps-cor")
    assert eps_cor is not None
    return FiniteKeySecurity(eps_sec=eps_sec, eps_cor=eps_cor)


def _fmt_rate(v: float) -> str:
    if math.isinf(v):
        return "inf"
    return f"{v:.4e}" if v > 0 else "0"


def _header(protocol: str, link: LinkParameters) -> str:
    fields = ", ".join(f"{k}={getattr(link, k):g}" for k in _LINK_FIELDS)
    return f"# {protocol}, link {link.name!r}: {fields}"


def _write_json(rows: list[dict[str, Any]], target: str) -> None:
    text = json.dumps(rows, indent=2, allow_nan=False)
    if target == "-":
        sys.stdout.write(text + "\n")
        return
    try:
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write JSON to {target!r}: {exc.strerror}") from exc


def run_keyrate(args: argparse.Namespace) -> int:
    """Run ``qkd keyrate``: print a table (or JSON) to stdout; return the exit status.

    Raises:
        ConfigError: for any invalid option (unknown protocol, preset or
            analysis; malformed or negative distances; μ <= 0; link parameters
            out of range; unwritable output).
    """
    protocol = str(args.protocol).strip().lower()
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"unknown protocol {args.protocol!r}; expected one of {', '.join(PROTOCOLS)}"
        )
    link = _link(args)
    from qkd_circuits.analysis.curves import (
        key_rate_curve,
        max_distance,
        parse_analyses,
        parse_distances,
    )

    analyses = parse_analyses(str(args.analysis))
    mu = _number(args.mu, "--mu")
    if mu is not None and mu <= 0:
        raise ConfigError(f"--mu (mean photon number) must be > 0, got {args.mu!r}")
    nu = _number(args.nu, "--nu")
    assert nu is not None
    if nu <= 0:
        raise ConfigError(f"--nu (decoy mean photon number) must be > 0, got {args.nu!r}")
    security = _security(args)
    simulation = _simulation_settings(args, link, mu=mu, nu=nu, security=security)
    json_target = args.json
    # Every output is checked before any curve is computed: a bad path costs a second.
    if json_target is not None and json_target != "-":
        check_output_path(json_target, option="--json")
    if args.plot:
        check_output_path(args.plot, option="--plot", formats=PLOT_FORMATS)
    to_stdout = json_target != "-"

    if args.max_distance:
        if args.plot:
            raise ConfigError(
                "--plot draws a distance curve; it cannot be combined with --max-distance"
            )
        if simulation is not None:
            raise ConfigError(
                "--simulate overlays a distance curve; it cannot be combined with --max-distance"
            )
        reach = [(a, max_distance(link, a, mu=mu, nu=nu, security=security)) for a in analyses]
        if to_stdout:
            print(_header(protocol, link))
            width = max(len("analysis"), *(len(a.label) for a, _ in reach))
            print(f"{'analysis':<{width}}  max_distance_km")
            for a, km in reach:
                print(f"{a.label:<{width}}  {'inf' if math.isinf(km) else f'{km:.2f}'}")
        if json_target:
            _write_json(
                [
                    {"analysis": a.label, "max_distance_km": None if math.isinf(km) else km}
                    for a, km in reach
                ],
                json_target,
            )
        return 0

    distances = parse_distances(str(args.distances))
    # The simulated runs are built and checked (link, distances, memory) before any work.
    planned = None if simulation is None else _plan_simulation(args, link, distances, simulation)
    curves: dict[str, list[KeyRatePoint]] = {}
    # One step per curve: the finite-key ones take seconds each (hidden off a terminal).
    from tqdm import tqdm

    bar = tqdm(analyses, desc="keyrate", unit="curve", leave=False, file=sys.stderr, disable=None)
    for a in bar:
        curves[a.label] = key_rate_curve(link, distances, a, mu=mu, nu=nu, security=security)
    series = None if planned is None else _run_simulation(link, *planned)
    if to_stdout:
        _print_table(protocol, link, analyses, curves)
        if series is not None:
            _print_simulated(series)
    if args.plot:
        from qkd_circuits.analysis.plot import plot_key_rates

        plot_key_rates(
            [p for pts in curves.values() for p in pts], args.plot, link=link, simulated=series
        )
        if to_stdout:
            print(f"# plot written to {args.plot}")
    if json_target:
        rows = [p.to_dict() for a in analyses for p in curves[a.label]]
        if series is not None:
            rows += [p.to_dict(series.label, series.settings) for p in series.points]
        _write_json(rows, json_target)
    return 0


def _whole(text: str, what: str) -> int:
    """A whole number, also written as 1e9."""
    v = _number(text, what)
    assert v is not None
    if v != math.floor(v):
        raise ConfigError(f"{what} must be a whole number, got {text!r}")
    return int(v)


def _simulation_settings(
    args: argparse.Namespace,
    link: LinkParameters,
    *,
    mu: float | None,
    nu: float,
    security: FiniteKeySecurity,
) -> SimulationSettings | None:
    """The --simulate options, checked (None without --simulate)."""
    if args.simulate is None:
        for option, value in (("--simulate-points", args.simulate_points),
                              ("--simulate-at", args.simulate_at)):  # fmt: skip
            if value is not None:
                raise ConfigError(f"{option} needs --simulate N (the pulses per point)")
        return None
    from qkd_circuits.analysis.simulated_points import MAX_POINTS, SimulationSettings, check_link
    from qkd_circuits.optics.source import DEFAULT_MU

    check_link(link)
    pulses = _whole(args.simulate, "--simulate (pulses per point)")
    if args.simulate_points is not None:
        if args.simulate_at is not None:
            raise ConfigError("give --simulate-points or --simulate-at, not both")
        k = _whole(args.simulate_points, "--simulate-points")
        if not 1 <= k <= MAX_POINTS:
            raise ConfigError(
                f"--simulate-points must be in 1..{MAX_POINTS}, got {args.simulate_points!r}"
            )
    seed = _whole(args.seed, "--seed")
    if seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {args.seed!r}")
    return SimulationSettings(
        pulses=pulses,
        mu=DEFAULT_MU if mu is None else mu,
        nu=nu,
        eps_sec=_DEFAULT_SIM_EPS_SEC if security.eps_sec is None else security.eps_sec,
        eps_cor=security.eps_cor,
        seed=seed,
    )


def _plan_simulation(
    args: argparse.Namespace,
    link: LinkParameters,
    distances: Sequence[float] | NDArray[np.float64],
    settings: SimulationSettings,
) -> tuple[SimulationSettings, list[RunConfig], list[tuple[float, float]]]:
    """The checked runs of the points and the expected curve of their settings."""
    from qkd_circuits.analysis.curves import parse_distances
    from qkd_circuits.analysis.simulated_points import (
        check_simulation,
        choose_distances,
        expected_curve,
    )

    curve = expected_curve(link, distances, settings)
    if args.simulate_at is not None:
        try:
            at = [float(d) for d in parse_distances(str(args.simulate_at))]
        except ConfigError as exc:
            raise ConfigError(f"--simulate-at: {exc}") from None
    else:
        count = (
            _DEFAULT_SIM_POINTS
            if args.simulate_points is None
            else int(float(args.simulate_points))
        )
        at = choose_distances(link, curve, settings, count)
    return settings, check_simulation(link, at, settings), curve


def _run_simulation(
    link: LinkParameters,
    settings: SimulationSettings,
    configs: list[RunConfig],
    curve: list[tuple[float, float]],
) -> SimulatedSeries:
    """Run the planned points (a progress bar on a terminal's stderr)."""
    from tqdm import tqdm

    from qkd_circuits.analysis.simulated_points import (
        SimulatedSeries,
        expected_curve,
        simulate_point,
    )

    bar = tqdm(configs, desc="simulate", unit="run", leave=False, file=sys.stderr, disable=None)
    points = tuple(simulate_point(c, settings) for c in bar)
    measured = [
        f
        for f in (p.reconciliation_efficiency for p in points)
        if f is not None and math.isfinite(f) and f >= 1.0
    ]
    f_ec = statistics.median(measured) if measured else link.f_ec
    if measured:  # the points' expectation: the same counts, their own error correction
        curve = expected_curve(link, [d for d, _ in curve], settings, f_ec=f_ec)
    return SimulatedSeries(settings=settings, points=points, expected=tuple(curve), f_ec=f_ec)


def _print_simulated(series: SimulatedSeries) -> None:
    print(f"# {series.label}: {series.settings.describe()}")
    print(
        "# expected = the same analysis on the link model's expected counts, error "
        "correction at the link's f_EC; run_f = the run's Cascade efficiency, "
        f"expected@run_f = expected at that f_EC (the plot's dotted curve: the runs' "
        f"median, f_EC={series.f_ec:.3g})"
    )
    cols = ("simulated", "sd", "expected", "run_f", "expected@run_f")
    print("distance_km" + "".join(f"  {c:>14}" for c in cols) + "  final_key_bits")
    for p in series.points:
        cells = (
            _fmt_rate(p.key_rate),
            "-" if p.key_rate_sd is None else f"{p.key_rate_sd:.2e}",
            _fmt_rate(p.expected_key_rate),
            "-" if p.reconciliation_efficiency is None else f"{p.reconciliation_efficiency:.4f}",
            "-" if p.expected_key_rate_run_ec is None else _fmt_rate(p.expected_key_rate_run_ec),
        )
        note = "" if not p.aborted else f"  ({p.abort_reason})"
        print(f"{p.distance_km:>11g}" + "".join(f"  {c:>14}" for c in cells)
              + f"  {p.final_key_bits}{note}")  # fmt: skip


def _print_table(
    protocol: str,
    link: LinkParameters,
    analyses: list[AnalysisSpec],
    curves: dict[str, list[KeyRatePoint]],
) -> None:
    print(_header(protocol, link))
    print("# secret key rate in bits per pulse; 0 = no key")
    widths = [max(11, len(a.label)) for a in analyses]
    print(
        "distance_km" + "".join(f"  {a.label:>{w}}" for a, w in zip(analyses, widths, strict=True))
    )
    n = len(next(iter(curves.values())))
    for i in range(n):
        d = curves[analyses[0].label][i].distance_km
        cells = "".join(
            f"  {_fmt_rate(curves[a.label][i].key_rate):>{w}}"
            for a, w in zip(analyses, widths, strict=True)
        )
        print(f"{d:>11g}{cells}")
