"""The ``qkd`` command. ``main(argv)`` returns the exit status, so tests call it in-process.

Exit status: 0 success (an abort is a normal, reported outcome), 2 bad input
(one line ``qkd: error: ...`` on stderr, no traceback), 1 a backend failure.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

from qkd_circuits.analysis import keyrate_cli
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.channel.noise import NoiseSpec
from qkd_circuits.errors import BackendError, ConfigError
from qkd_circuits.kme import cli as kme_cli
from qkd_circuits.optics.link import DEFAULT_LINK_BLOCK_DETECTIONS
from qkd_circuits.optics.source import DEFAULT_MU, Source
from qkd_circuits.outputs import PLOT_FORMATS, check_distinct, check_output_path, write_all
from qkd_circuits.postprocessing.reconciliation.cascade_variants import CASCADE_VARIANTS
from qkd_circuits.protocols.registry import (
    CHANNEL_PROTOCOLS,
    DEFAULT_PROTOCOL,
    DEFAULT_QUBITS,
    PROTOCOLS,
    check_protocol_list,
    get_protocol,
    protocol_info,
)
from qkd_circuits.sweep import cli as sweep_cli

if TYPE_CHECKING:
    from qkd_circuits.report import RunReport
    from qkd_circuits.runner import RunConfig

# Start-up (issue 11): Qiskit, Aer, scipy.optimize, matplotlib and tqdm are imported
# inside the commands that use them (the runner, the comparison, the pipeline), so
# ``qkd --help``, ``qkd protocols``, ``--version`` and bad-input exits stay fast.

T = TypeVar("T")

DEFAULT_CURVE_QUBITS = 200_000
"""``qkd attack-curve``'s exchanges per point: ~100,000 sifted bits, so a rate's binomial
standard error is under 0.0016 and Eve's I_AE within ~0.003 of its value."""


class _UsageError(Exception):
    """Raised by the parser instead of exiting, so ``main`` can return 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


DEFAULT_DECOY = (0.1,)
"""decoy-bb84's decoy intensity when none is given: 0.1 and the vacuum."""


def _distance(text: str) -> float:
    try:
        km = float(text)
    except ValueError:
        km = float("nan")
    if not 0.0 <= km <= 1000.0:
        raise argparse.ArgumentTypeError(f"--distance must be km in [0, 1000], got {text!r}")
    return km


def _parse_decoys(text: str) -> tuple[float, ...]:
    values = []
    for item in text.split(","):
        try:
            values.append(float(item))
        except ValueError:
            raise ConfigError(f"--decoy {text!r}: {item.strip()!r} is not a number") from None
    if not 1 <= len(values) <= 2 or any(not (v >= 0 and v != float("inf")) for v in values):
        raise ConfigError(f"--decoy takes one or two intensities >= 0, got {text!r}")
    return tuple(values)


def _spec_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type that parses a spec and reports a ConfigError as a usage error."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _int_at_least(minimum: int, rule: str) -> Callable[[str], int]:
    """An argparse type for integers >= ``minimum``; ``rule`` names the rule in messages."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not {rule}")
        return value

    return convert


_positive_int = _int_at_least(1, "a positive integer (>= 1)")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is outside (0, 1)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (0.0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds >= 0")
    return value


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"{text!r} is outside [0, 0.5]")
    return value


def _key_length(text: str) -> str:
    if text in ("finite", "variable"):  # "finite": the name before there were two statements
        return "variable"  # the default, checked without importing the pipeline
    from qkd_circuits.postprocessing.pipeline import PostprocessingConfig

    try:
        return PostprocessingConfig(key_length=text).key_length  # type: ignore[arg-type]
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``qkd`` argument parser with its subcommands."""
    parser = _Parser(prog="qkd", description="Quantum key distribution on Qiskit circuits.")
    parser.add_argument("--version", action="version", version=f"qkd-circuits {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="run a QKD protocol end to end and report")
    p.add_argument("protocol", nargs="?", default=DEFAULT_PROTOCOL, choices=PROTOCOLS)
    _add_channel_options(
        p,
        qubits=f"number of exchanges (default {DEFAULT_QUBITS})",
        noise="e.g. depolarizing=0.02,readout=0.01; names: depolarizing, bitflip, "
        "phaseflip, amplitude-damping, readout (default: none)",
        seed="make the run a reproducible simulation: every draw, the secret ones "
        "included, follows from S, so anyone with the report can recompute the key "
        "(default: secrets from the OS CSPRNG, no seed recorded)",
        backend="aer: grouped circuits, exact distributions (default); aer-shots: "
        "grouped, Aer samples every shot; aer-literal: one circuit per exchange; "
        "fake:NAME: a snapshot of an IBM device with its noise (e.g. fake:torino); "
        "ibm:NAME or ibm:least-busy: IBM Quantum hardware",
    )
    p.add_argument(
        "--distance",
        type=_distance,
        default=None,
        metavar="KM",
        help="run over a fibre link of KM km: --qubits counts the pulses sent, only the "
        "detected ones are exchanges (bb84, decoy-bb84; default: no link, every qubit "
        "arrives)",
    )
    p.add_argument(
        "--link",
        default=None,
        metavar="PRESET|FILE",
        help="the link's loss, detectors and misalignment: gys (default) or a .toml/.json "
        "file as for qkd keyrate --params",
    )
    p.add_argument(
        "--source",
        type=_spec_type(Source.parse),
        default=None,
        metavar="SPEC",
        help="single-photon (bb84's default) or wcp:mu=M, weak laser pulses of mean photon "
        f"number M (decoy-bb84's default: wcp:mu={DEFAULT_MU})",
    )
    p.add_argument(
        "--decoy",
        type=_spec_type(_parse_decoys),
        default=None,
        metavar="NU1[,NU2]",
        help=f"decoy-bb84's decoy intensities (default {DEFAULT_DECOY}; one value adds the "
        "vacuum as the weaker decoy)",
    )
    p.add_argument(
        "--pack",
        action="store_true",
        help="on a device, run many exchanges per shot, one per well-calibrated qubit",
    )
    p.add_argument(
        "--run-dir",
        metavar="DIR",
        help="on a device, save the job and the run's secrets here (mode 0600) "
        "before waiting, so 'qkd resume DIR' can finish an interrupted run",
    )
    p.add_argument(
        "--submit-only",
        action="store_true",
        help="on a device, submit, save to --run-dir and exit; finish later with 'qkd resume DIR'",
    )
    p.add_argument(
        "--block",
        type=_int_at_least(10_000, "an integer >= 10000"),
        default=None,
        metavar="N",
        help="on Aer, stream the run in blocks of about N exchanges (>= 10,000), each "
        "distilled at eps / blocks to its own finite-key secure key and appended, so the "
        "whole key keeps --eps-sec (memory: one block's); default 10,000,000, so shorter "
        "runs are one block; over a link (--distance), N pulses per block, by default as "
        f"many blocks as keep each within {DEFAULT_LINK_BLOCK_DETECTIONS:,} expected detections",
    )
    p.add_argument(
        "--max-shots",
        type=_positive_int,
        default=None,
        metavar="N",
        help="on a device, refuse before submitting a run needing more than N device shots",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check everything and print the plan (on a device: the chosen qubits, "
        "shots, estimated QPU time and its server-side cap) without running or submitting",
    )
    p.add_argument(
        "--sample-fraction",
        type=_fraction,
        default=0.1,
        metavar="F",
        help="fraction of the sifted key disclosed to estimate the QBER (default 0.1)",
    )
    p.add_argument(
        "--qber-threshold",
        type=_threshold,
        default=0.11,
        metavar="Q",
        help="abort when the sample QBER exceeds Q, in [0, 0.5] (default 0.11)",
    )
    p.add_argument(
        "--reconciliation",
        default="cascade:original",
        metavar="METHOD",
        help="cascade[:VARIANT] with VARIANT one of "
        f"{', '.join(CASCADE_VARIANTS)}, ldpc (one-way syndrome decoding, rate-adaptive) "
        "or ldpc:blind (reveals punctured bits on a failure) (default cascade:original)",
    )
    p.add_argument(
        "--key-length",
        default="variable",
        type=_key_length,
        metavar="STATEMENT",
        help="finite-key statement: variable (default: the lowest of 64 tolerances up to "
        "--qber-threshold that the samples pass) or fixed (--qber-threshold itself, "
        "Tomamichel et al. 2012 Theorem 2); the asymptotic length is reported, never emitted",
    )
    p.add_argument(
        "--eps-sec",
        type=_fraction,
        default=1e-10,
        metavar="E",
        help="secrecy parameter, in (0, 1) (default 1e-10)",
    )
    p.add_argument(
        "--eps-cor",
        type=_fraction,
        default=1e-15,
        metavar="E",
        help="correctness parameter, in (0, 1) (default 1e-15)",
    )
    p.add_argument(
        "--keys",
        metavar="PATH",
        help='write {"alice": HEX, "bob": HEX, "bits": N, "reproducible": B} (mode 0600); '
        "nothing is written when the run aborts",
    )
    _add_output_options(p)
    p.set_defaults(handler=_cmd_run)

    r = sub.add_parser("resume", help="finish a device run saved with --submit-only or --run-dir")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        metavar="S",
        help="seconds to wait for a job still running (default: wait)",
    )
    r.add_argument(
        "--keys",
        metavar="PATH",
        help='write {"alice": HEX, "bob": HEX, "bits": N, "reproducible": B} (mode 0600); '
        "nothing is written when the run aborts",
    )
    _add_output_options(r)
    r.set_defaults(handler=_cmd_resume)

    keyrate_cli.add_parser(sub)
    kme_cli.add_parser(sub)
    sweep_cli.add_parser(sub)

    c = sub.add_parser("compare", help="run several protocols on the same channel and compare them")
    c.add_argument(
        "--protocols",
        type=_spec_type(check_protocol_list),
        default=CHANNEL_PROTOCOLS,
        metavar="LIST",
        help=f"comma-separated protocols (default: all that run without a link, "
        f"{','.join(CHANNEL_PROTOCOLS)})",
    )
    _add_channel_options(
        c,
        qubits=f"exchanges per protocol (default {DEFAULT_QUBITS})",
        noise="the shared channel, as for qkd run (default: none)",
        seed="make every run a reproducible simulation from S (default: OS CSPRNG)",
        backend="aer (default), aer-shots, aer-literal, or a device as for qkd run",
    )
    c.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-' for stdout)")
    c.add_argument(
        "--plot", metavar="PATH", help="write a bar chart (.png, .pdf or .svg, by extension)"
    )
    c.add_argument("--quiet", action="store_true", help="no table or progress bar")
    c.set_defaults(handler=_cmd_compare)

    a = sub.add_parser(
        "attack-curve",
        help="sweep an attack's strength: I(A;B) and Eve's I(A;E) against the QBER",
    )
    a.add_argument(
        "--attack",
        default="cloner",
        metavar="ATTACK",
        help="cloner (sweeps D over [0, 0.5]; default) or intercept-resend[:basis=B] "
        "(sweeps the fraction attacked over [0, 1]; B: random, z, x, breidbart)",
    )
    a.add_argument("--protocol", default=DEFAULT_PROTOCOL, choices=PROTOCOLS)
    a.add_argument(
        "--qubits",
        type=_positive_int,
        default=DEFAULT_CURVE_QUBITS,
        metavar="N",
        help=f"exchanges per point (default {DEFAULT_CURVE_QUBITS:,})",
    )
    a.add_argument(
        "--points",
        type=_int_at_least(2, "at least 2"),
        default=11,
        metavar="K",
        help="strengths swept, evenly spaced (default 11)",
    )
    a.add_argument(
        "--noise", type=_spec_type(NoiseSpec.parse), default=NoiseSpec(), metavar="SPEC",
        help="the channel besides Eve, as for qkd run (default: none); the theory curves "
        "stay those of a noiseless channel",
    )  # fmt: skip
    a.add_argument(
        "--seed", type=_non_negative_int, default=None, metavar="S",
        help="make every run a reproducible simulation from S (default: OS CSPRNG)",
    )  # fmt: skip
    a.add_argument("--json", metavar="PATH", help="write the points as JSON ('-' for stdout)")
    a.add_argument(
        "--plot", metavar="PATH", help="write the plot (.png, .pdf or .svg, by extension)"
    )
    a.add_argument("--quiet", action="store_true", help="no table or progress bar")
    a.set_defaults(handler=_cmd_attack_curve)

    pr = sub.add_parser(
        "protocols", help="list the protocols with their sifting rule and threshold"
    )
    pr.set_defaults(handler=_cmd_protocols)

    d = sub.add_parser("devices", help="list the fake devices usable as --backend fake:NAME")
    d.set_defaults(handler=_cmd_devices)

    lc = sub.add_parser(
        "ldpc-codes",
        help="build (or load) the LDPC code family --reconciliation ldpc uses, and list it",
        description="Builds every code of the family (rates 0.5-0.9, frames of 10^4 and "
        "10^5 bits) deterministically from a fixed seed into the cache "
        "(QKD_CIRCUITS_LDPC_CACHE, else ~/.cache/qkd-circuits/ldpc), never downloading, "
        "then lists it. The first build takes about a minute and a half.",
    )
    lc.add_argument("--list", action="store_true", help="list the cache without building")
    lc.add_argument("--json", metavar="PATH", help="write the list as JSON ('-' for stdout)")
    lc.set_defaults(handler=_cmd_ldpc_codes, plot=None)
    return parser


def _add_channel_options(
    p: argparse.ArgumentParser, *, qubits: str, noise: str, seed: str, backend: str
) -> None:
    """``--qubits``, ``--noise``, ``--eve``, ``--seed`` and ``--backend``, shared by
    ``run`` and ``compare`` (each with its own help text)."""
    p.add_argument("--qubits", type=_positive_int, default=DEFAULT_QUBITS, metavar="N", help=qubits)
    p.add_argument(
        "--noise", type=_spec_type(NoiseSpec.parse), default=NoiseSpec(), metavar="SPEC",
        help=noise,
    )  # fmt: skip
    p.add_argument(
        "--eve",
        type=_spec_type(EveSpec.parse),
        default=EveSpec(),
        metavar="SPEC",
        help="none (default) | intercept-resend[=FRACTION][:basis=random|z|x|breidbart] | "
        "cloner=D[:fraction=FRACTION] (D in [0, 0.5], the error rate the probe causes)",
    )
    p.add_argument("--seed", type=_non_negative_int, default=None, metavar="S", help=seed)
    p.add_argument("--backend", default="aer", metavar="BACKEND", help=backend)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qkd-circuits")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


_NEGATIVE_NUMBER = re.compile(r"^-(\d|\.\d)")


def _normalise_argv(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Make argparse's two blind spots into clear messages before it parses.

    * A negative number after an option that takes a value (``--eps-sec -1e-10``)
      is glued to it (``--eps-sec=-1e-10``), so the option's own check says what is
      wrong instead of argparse's "expected one argument".
    * An unknown option (``--nosie``) is reported as such, with the closest known
      one, instead of its value being blamed on a positional argument.
    """
    if not argv or argv[0].startswith("-"):
        return argv
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = subparsers.choices.get(argv[0])
    if command is None:
        return argv
    depth = 1  # nested subcommands (qkd kme serve ...): check the innermost one's options
    while depth < len(argv):
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        if not nested or argv[depth] not in nested[0].choices:
            break
        command = nested[0].choices[argv[depth]]
        depth += 1
    known = command._option_string_actions
    out = argv[:depth]
    i = depth
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out.extend(argv[i:])
            break
        if token.startswith("-") and token != "-" and not _NEGATIVE_NUMBER.match(token):
            name = token.split("=", 1)[0]
            if name not in known:
                close = difflib.get_close_matches(name, list(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise _UsageError(
                    f"qkd {argv[0]}: error: unknown option {name!r}{hint} "
                    f"(see 'qkd {argv[0]} --help')"
                )
            action = known[name]
            takes_value = action.nargs != 0 and "=" not in token
            if takes_value and i + 1 < len(argv) and _NEGATIVE_NUMBER.match(argv[i + 1]):
                out.append(f"{token}={argv[i + 1]}")
                i += 2
                continue
        out.append(token)
        i += 1
    return out


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="PATH", help="write the JSON report ('-' for stdout)")
    p.add_argument(
        "--plot", metavar="PATH", help="write a summary plot (.png, .pdf or .svg, by extension)"
    )
    p.add_argument("--quiet", action="store_true", help="no summary or progress bar")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``qkd``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(
            _normalise_argv(parser, list(sys.argv[1:] if argv is None else argv))
        )
        return int(args.handler(args))
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"qkd: error: {exc}", file=sys.stderr)
        return 2
    except BackendError as exc:
        print(f"qkd: backend error: {exc}", file=sys.stderr)
        return 1
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("qkd: interrupted", file=sys.stderr)
        return 130


def _cmd_devices(args: argparse.Namespace) -> int:
    try:
        from qkd_circuits.execution.ibm import fake_backend_names
    except ImportError:
        raise ConfigError(
            "device backends need qiskit-ibm-runtime; install it with "
            "pip install 'qkd-circuits[ibm]'"
        ) from None
    names = fake_backend_names()
    print(f"{len(names)} fake devices (use as --backend fake:NAME):")
    for start in range(0, len(names), 8):
        print("  " + "  ".join(names[start : start + 8]))
    print("IBM Quantum hardware: --backend ibm:NAME or ibm:least-busy (needs a saved account)")
    return 0


def _cmd_ldpc_codes(args: argparse.Namespace) -> int:
    _check_outputs(args)
    import dataclasses
    import json

    from qkd_circuits.postprocessing.reconciliation.ldpc_codes import (
        build_code_cache,
        cache_dir,
        list_code_cache,
    )

    codes = list_code_cache() if args.list else build_code_cache()
    document = json.dumps([dataclasses.asdict(c) for c in codes], indent=2)
    header = f"{'code':<24} {'rate':>5} {'n':>8} {'m':>8} {'4-cycles':>9} {'bytes':>11}"
    rows = [header, "-" * len(header)] + [
        f"{c.name:<24} {c.rate:>5.2f} {c.n:>8,} {c.m:>8,} {c.four_cycles:>9,} {c.bytes:>11,}"
        for c in codes
    ]
    args.quiet = False
    _write_outputs(
        args,
        title=f"{len(codes)} LDPC codes in {cache_dir()}",
        table="\n".join(rows),
        document=document,
        render=lambda fmt: b"",
    )
    return 0


def _cmd_protocols(args: argparse.Namespace) -> int:
    for name in PROTOCOLS:
        print(protocol_info(name).line())
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qkd_circuits.compare import (
        ComparisonRow,
        compare_protocols,
        comparison_json,
        comparison_table,
        render_comparison,
    )
    from qkd_circuits.runner import RunConfig, check_fits_in_memory

    _check_outputs(args)
    base = RunConfig(
        protocol=args.protocols[0],
        qubits=args.qubits,
        noise=args.noise,
        eve=args.eve,
        seed=args.seed,
        backend=args.backend,
    )
    check_fits_in_memory(base.qubits, max(base.block_sizes))
    bar = tqdm(
        total=len(args.protocols),
        unit="protocol",
        disable=True if args.quiet else None,
        leave=False,
        file=sys.stderr,
    )

    def on_protocol(name: str) -> None:
        bar.n = args.protocols.index(name)
        bar.set_description_str(name, refresh=True)

    try:  # every protocol's configuration is checked before the first run starts
        reports = compare_protocols(base, args.protocols, on_protocol=on_protocol)
        bar.n = bar.total
    finally:
        bar.close()
    rows = [ComparisonRow.from_report(r) for r in reports]
    noise = str(base.noise)
    title = (
        f"{base.qubits:,} qubits per protocol on {base.backend} · noise {noise} · eve {base.eve}"
        + (f" · seed {base.seed} (reproducible)" if base.seed is not None else "")
    )
    _write_outputs(
        args,
        title=title,
        table=comparison_table(rows),
        document=comparison_json(rows, base),
        render=lambda fmt: render_comparison(rows, title=title, fmt=fmt),
    )
    return 0


def _cmd_attack_curve(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qkd_circuits.attack_curve import (
        attack_spec,
        curve_json,
        curve_table,
        render_curve,
        sweep_attack,
    )
    from qkd_circuits.runner import RunConfig, check_fits_in_memory

    _check_outputs(args)
    attack_spec(args.attack, 0.5)  # a bad --attack costs nothing
    base = RunConfig(protocol=args.protocol, qubits=args.qubits, noise=args.noise, seed=args.seed)
    check_fits_in_memory(base.qubits, max(base.block_sizes))
    bar = tqdm(
        total=args.points,
        unit="point",
        disable=True if args.quiet else None,
        leave=False,
        file=sys.stderr,
    )

    def on_point(index: int, _count: int) -> None:
        bar.n = index
        bar.refresh()

    try:
        points = sweep_attack(base, args.attack, points=args.points, on_point=on_point)
        bar.n = bar.total
    finally:
        bar.close()
    title = (
        f"{args.attack} on {args.protocol}: {args.qubits:,} qubits per point"
        + (f" · noise {base.noise}" if not base.noise.is_noiseless else "")
        + (f" · seed {base.seed} (reproducible)" if base.seed is not None else "")
    )
    _write_outputs(
        args,
        title=title,
        table=curve_table(points),
        document=curve_json(points, base, args.attack),
        render=lambda fmt: render_curve(
            points, attack=args.attack, protocol=args.protocol, title=title, fmt=fmt
        ),
    )
    return 0


def _write_outputs(
    args: argparse.Namespace,
    *,
    title: str,
    table: str,
    document: str,
    render: Callable[[str], bytes],
) -> None:
    """The outputs of a sweep (``compare``, ``attack-curve``): ``--json`` (``-``: stdout)
    and ``--plot`` (``render(fmt)``, its bytes) written all-or-nothing, then the title
    and the table unless ``--quiet`` (on stderr when the JSON goes to stdout)."""
    files: list[tuple[Path, bytes, int]] = []
    if args.json and args.json != "-":
        files.append((Path(args.json), (document + "\n").encode(), 0o644))
    if args.plot:
        fmt = Path(args.plot).suffix.lower().removeprefix(".")
        files.append((Path(args.plot), render(fmt), 0o644))
    written = write_all(files)
    if args.json == "-":
        print(document)
    if not args.quiet:
        out = sys.stderr if args.json == "-" else sys.stdout
        print(title, file=out)
        print(table, file=out)
        if written:
            print(f"wrote {', '.join(str(p) for p in written)}", file=out)


def _check_outputs(args: argparse.Namespace) -> None:
    """Check every output path before any work (exit 2 on a bad one); ``compare`` has
    no ``--keys``."""
    paths: dict[str, Path | None] = {"--keys": None, "--plot": None}
    if getattr(args, "keys", None) is not None:
        paths["--keys"] = check_output_path(args.keys, option="--keys")
    if args.plot is not None:
        paths["--plot"] = check_output_path(args.plot, option="--plot", formats=PLOT_FORMATS)
    if args.json is not None and args.json != "-":
        paths["--json"] = check_output_path(args.json, option="--json")
    check_distinct(paths)


def _link_of(args: argparse.Namespace) -> Any:
    """The run's :class:`~qkd_circuits.optics.link.LinkModel` from ``--distance``,
    ``--link``, ``--source`` and ``--decoy`` (None without ``--distance``)."""
    from qkd_circuits.analysis.link import resolve_link_parameters
    from qkd_circuits.optics.link import LinkModel

    given = [f"--{n}" for n in ("link", "source", "decoy") if getattr(args, n) is not None]
    if args.distance is None:
        if given:
            raise ConfigError(f"{', '.join(given)} describe a link: give its --distance KM")
        return None
    needs_link = protocol_info(args.protocol).needs_link
    source = args.source or (Source(kind="wcp", mu=DEFAULT_MU) if needs_link else Source())
    decoys = args.decoy if args.decoy is not None else (DEFAULT_DECOY if needs_link else ())
    if decoys and not needs_link:
        raise ConfigError(f"--decoy applies to decoy-state protocols, not {args.protocol}")
    return LinkModel(
        distance_km=args.distance,
        parameters=resolve_link_parameters(args.link or "gys"),
        source=source,
        decoys=decoys,
    )


def run_config_of(args: argparse.Namespace) -> RunConfig:
    """The :class:`~qkd_circuits.runner.RunConfig` of parsed ``qkd run`` arguments (also
    each point of ``qkd sweep``).

    Raises:
        ConfigError: an invalid combination (nothing is run).
    """
    from qkd_circuits.postprocessing.pipeline import PostprocessingConfig
    from qkd_circuits.runner import RunConfig

    return RunConfig(
        protocol=args.protocol,
        qubits=args.qubits,
        noise=args.noise,
        eve=args.eve,
        seed=args.seed,
        backend=args.backend,
        pack=args.pack,
        max_shots=args.max_shots,
        block_qubits=args.block,
        postprocessing=PostprocessingConfig(
            sample_fraction=args.sample_fraction,
            qber_threshold=args.qber_threshold,
            reconciliation=args.reconciliation,
            key_length=args.key_length,
            eps_sec=args.eps_sec,
            eps_cor=args.eps_cor,
        ),
        link=_link_of(args),
    )


def _cmd_run(args: argparse.Namespace) -> int:
    _check_outputs(args)
    from qkd_circuits.runner import plan_run, run_config, submit_run

    config = run_config_of(args)
    status = sys.stderr if args.json == "-" or args.quiet else sys.stdout

    def on_budget(budget: Any) -> None:
        print(f"shot budget: {budget.summary()}", file=sys.stderr)

    if args.dry_run:
        if args.submit_only or args.run_dir:
            raise ConfigError("--dry-run submits nothing: drop --submit-only and --run-dir")
        print(plan_run(config).summary(), file=status)
        return 0

    if args.submit_only:
        if not args.run_dir:
            raise ConfigError("--submit-only needs --run-dir DIR to save the run in")
        run_dir = submit_run(config, args.run_dir, on_budget=on_budget)
        print(f"submitted; finish with: qkd resume {run_dir}", file=status)
        return 0
    if args.run_dir and not config.on_device:
        raise ConfigError(f"--run-dir applies to device backends only, not {config.backend!r}")
    if config.backend.startswith("ibm:") and not args.run_dir:
        # A hardware job outlives the terminal: always keep what is needed to resume it.
        args.run_dir = f"runs/{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}"
        print(
            f"saving the run in {args.run_dir} (if interrupted: qkd resume {args.run_dir})",
            file=sys.stderr,
        )
    with _progress(quiet=args.quiet) as (progress, on_stage, on_block):
        report = run_config(
            config,
            progress=progress,
            on_stage=on_stage,
            on_block=on_block,
            run_dir=args.run_dir,
            on_budget=on_budget if config.on_device else None,
        )
    _emit(report, args)
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    _check_outputs(args)
    from qkd_circuits.runner import resume_run

    if args.timeout is not None and not (args.timeout >= 0 and args.timeout != float("inf")):
        raise ConfigError(
            f"--timeout must be a finite number of seconds >= 0, got {args.timeout!r}"
        )
    with _progress(quiet=args.quiet) as (_, on_stage, _block):
        report = resume_run(args.run_dir, on_stage=on_stage, timeout=args.timeout)
    _emit(report, args)
    return 0


def _run_stages() -> tuple[str, ...]:
    """Every stage of a run in order, as the progress display counts them."""
    from qkd_circuits.postprocessing.pipeline import STAGES

    return ("quantum", "sifting", *STAGES, "authentication")


@contextmanager
def _progress(
    *, quiet: bool
) -> Iterator[tuple[Callable[[int, int], None], Callable[[str], None], Callable[[int, int], None]]]:
    """One bar for a whole run, counting its stages (quantum phase, sifting, estimation,
    reconciliation, verification, key length, amplification, authentication) in every
    block of a streamed run: the block and the stage in progress are named, with the
    exchanges done while circuits run (hidden when stderr is not a terminal).

    Yields ``(progress, on_stage, on_block)`` for :func:`~qkd_circuits.runner.run_config`.
    """
    from tqdm import tqdm

    run_stages = _run_stages()
    bar = tqdm(
        total=len(run_stages),
        unit="stage",
        desc="quantum",
        bar_format="{desc:<15} {n_fmt}/{total_fmt} stages |{bar}| {elapsed}{postfix}",
        disable=True if quiet else None,
        leave=False,
        file=sys.stderr,
    )
    block = {"index": 0, "count": 1}

    def progress(done: int, total: int) -> None:
        bar.set_postfix_str(f"{done:,}/{total:,} exchanges", refresh=True)

    def on_block(index: int, count: int) -> None:
        block.update(index=index, count=count)
        bar.total = count * len(run_stages)

    def on_stage(stage: str) -> None:
        if stage in run_stages:
            bar.n = block["index"] * len(run_stages) + run_stages.index(stage)
        bar.set_postfix_str("", refresh=False)
        name = stage.replace("_", " ")
        if block["count"] > 1:
            name = f"block {block['index'] + 1}/{block['count']} {name}"
        bar.set_description_str(name, refresh=True)

    stop = threading.Event()

    def tick() -> None:  # keep the elapsed time moving through long stages
        while not stop.wait(0.5):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    if not bar.disable:
        ticker.start()
    try:
        yield progress, on_stage, on_block
    finally:
        stop.set()
        if ticker.is_alive():
            ticker.join()
        bar.n = bar.total
        bar.close()


def _emit(report: RunReport, args: argparse.Namespace) -> None:
    """Write the key file, the JSON report, the plot and the summary a command asked for.

    The files are written all-or-nothing (:func:`~qkd_circuits.outputs.write_all`);
    the key file only when a key was emitted.
    """
    summary_out = sys.stderr if args.json == "-" else sys.stdout
    files: list[tuple[Path, bytes, int]] = []
    if args.keys and not report.aborted:
        from qkd_circuits.private_files import key_file_bytes

        assert report.key_alice is not None and report.key_bob is not None
        key = key_file_bytes(report.key_alice, report.key_bob, reproducible=report.reproducible)
        files.append((Path(args.keys), key, 0o600))
    if args.json and args.json != "-":
        files.append((Path(args.json), (report.to_json() + "\n").encode(), 0o644))
    if args.plot:
        from qkd_circuits.plotting import render_run_summary

        fmt = Path(args.plot).suffix.lower().removeprefix(".")
        files.append((Path(args.plot), render_run_summary(report, fmt), 0o644))
    written = write_all(files)
    if args.json == "-":
        print(report.to_json())
    if not args.quiet:
        print_summary(report, file=summary_out)
        if args.keys and report.aborted:
            print(f"  {'key file':<16}{args.keys} not written (aborted)", file=summary_out)
        if written:
            names = ", ".join(str(p) for p in written)
            print(f"  {'wrote':<16}{names}", file=summary_out)


def print_summary(report: RunReport, *, file: TextIO) -> None:
    """The human summary of a run, a few aligned lines."""

    def line(label: str, text: str) -> None:
        print(f"  {label:<16}{text}", file=file)

    quantum_s = report.timings_s.get("quantum", float("nan"))
    randomness = (
        f"seed {report.seed}: a reproducible simulation"
        if report.reproducible
        else "secrets from the OS CSPRNG"
    )
    protocol = get_protocol(report.protocol)
    print(
        f"{protocol.info.title} on {report.backend} · {report.qubits:,} "
        f"{'pulses' if report.link is not None else 'qubits'} · {randomness}",
        file=file,
    )
    noise = ",".join(f"{k}={v:g}" for k, v in report.noise.items()) or "none"
    line("noise", noise)
    line("eve", report.eve["attack"])
    _print_link(report, line)
    unit = "pulses" if report.link is not None else "exchanges"
    line("quantum phase", f"{quantum_s:.3f} s ({report.qubits / quantum_s:,.0f} {unit}/s)")
    sifted_of = report.detections if report.detections is not None else report.qubits
    share = f"{report.sifted_bits / sifted_of:.1%}" if sifted_of else "no detection"
    line("sifted bits", f"{report.sifted_bits:,} ({share})")
    if report.estimation is not None:
        per_basis = ", ".join(
            f"{b} {_fmt(e['qber'], '.3%')} of {e['sample_bits']:,}"
            for b, e in report.estimation.items()
        )
        line("QBER estimate", f"{_fmt(report.qber, '.3%')} from disclosed samples ({per_basis})")
    by_basis = ", ".join(f"{b} {_fmt(q, '.3%')}" for b, q in report.qber_by_basis.items())
    line("QBER actual", f"{_fmt(report.qber_actual, '.3%')} ({by_basis})")
    if report.chsh_s is not None:
        di = report.di_key_rate
        line(
            "CHSH test",
            f"S = {report.chsh_s:.4f} ± {_fmt(report.chsh_s_stderr, '.4f')} (classical <= 2, "
            f"Tsirelson 2.8284); device-independent rate "
            f"{_fmt(di, '.4f')} per key bit (Acín et al. 2007, asymptotic, not emitted)",
        )
    calibration = report.backend_info.get("calibration")
    if (
        protocol.info.calibration_predicts_qber
        and isinstance(calibration, dict)
        and "predicted_qber" in calibration
    ):
        line(
            "device predicts",
            f"QBER {calibration['predicted_qber']:.3%} ± "
            f"{calibration.get('qber_model_allowance', float('nan')):.3%} from the calibration "
            f"of qubits {calibration.get('qubits')}",
        )
    _print_eve(report, line)
    rec = report.reconciliation
    if rec is not None:
        ldpc = str(rec["method"]).startswith("ldpc")
        frames = (
            f", {rec['frames']:,} frames, {rec['frame_errors']:,} frame errors"
            if ldpc and rec.get("frames") is not None and rec.get("frame_errors") is not None
            else ""
        )
        line(
            "reconciliation",
            f"{rec['method']}: {rec['leaked_bits']:,} {'syndrome' if ldpc else 'parity'} bits in "
            f"{rec['messages']:,} messages, efficiency f = {_fmt(rec['efficiency'], '.3f')}, "
            f"{rec['residual_errors']} errors left{frames}",
        )
    if report.verification is not None:
        line(
            "verification",
            f"{report.verification['tag_bits']}-bit tag, "
            f"collision bound {report.verification['collision_bound']:.1e}",
        )
    if report.key_length is not None:
        kl = report.key_length
        bounds = ", ".join(f"{b} {v:.3%}" for b, v in kl["phase_error_bound"].items())
        statement = (
            "decoy bounds from the counts per intensity"  # Lim et al.: no tolerance ladder
            if "phi_x" in kl["terms"]
            else f"{kl['statement']} statement at tolerance {kl['terms']['tolerance']:.3%}"
        )
        line(
            "key length",
            f"{kl['length']:,} bits (finite key, {statement}; phase-error bounds {bounds}; "
            f"asymptotic {kl['asymptotic_bits']:,}, not emitted)",
        )
    if report.blocks is not None:
        blocks = report.blocks
        line(
            "blocks",
            f"{blocks['count']} blocks of ~{report.qubits // blocks['count']:,} "
            f"{'pulses' if report.link is not None else 'qubits'}, "
            f"{blocks['emitted']} emitted a key, each with its own finite-key length at "
            f"eps_sec {blocks['eps_sec_block']:.1e}; the key is their concatenation, "
            f"eps_sec {blocks['eps_sec_total']:.1e} and eps_cor "
            f"{blocks['eps_cor_total']:.1e} in all",
        )
    leaked = ", ".join(f"{k} {v:,}" for k, v in report.leaked_bits.items() if v)
    line("leaked bits", leaked or "none")
    line("authentication", f"{report.auth_key_bits_used} pre-shared key bits used")
    if report.aborted:
        line("result", f"ABORTED ({report.abort_reason}): {report.abort_message}")
    else:
        match = "keys match" if report.keys_match else "KEYS DIFFER"
        line(
            "result",
            f"{report.final_key_bits:,} secret key bits ({report.secret_key_rate:.4g} per "
            f"{'pulse' if report.link is not None else 'qubit'}, "
            f"net {report.net_key_bits:,} after authentication), {match}",
        )
        if report.reproducible:
            line(
                "WARNING",
                f"seeded run: anyone who has the report (seed {report.seed}) can recompute "
                "this key; it is a simulation, not a secret",
            )
    total = sum(report.timings_s.values())
    line(
        "time",
        f"{total:.2f} s (" + ", ".join(f"{k} {v:.2f}" for k, v in report.timings_s.items()) + ")",
    )


def _print_link(report: RunReport, line: Callable[[str, str], None]) -> None:
    """The summary's lines on a link run: the link, the detections, the gains and, with
    decoys, the single-photon bounds."""
    link = report.link
    if link is None or report.pulses is None or report.detections is None:
        return
    source = link["source"]
    light = "single photons" if source["kind"] == "single-photon" else f"WCP mu {source['mu']:g}"
    if len(link["intensities"]) > 1:
        light += ", decoys " + ", ".join(f"{mu:g}" for mu in link["intensities"][1:])
    line(
        "link",
        f"{report.distance_km:g} km of {link['parameters']['name']} (transmittance "
        f"{link['transmittance']:.3e}), {light}",
    )
    gains = ", ".join(f"{g:.3e}" for g in (report.gain or []))
    line(
        "detections",
        f"{report.detections:,} of {report.pulses:,} pulses (gain {gains}; "
        f"{link['double_clicks']:,} double clicks, given random bits)",
    )
    single = report.single_photon
    if single:
        line(
            "single photons",
            f"yield >= {single['y1_lower']:.3e}, error <= {single['e1_upper']:.3%}, gain >= "
            f"{single['q1_lower']:.3e} (decoy bounds, Lim et al. 2014)",
        )


def _print_eve(report: RunReport, line: Callable[[str, str], None]) -> None:
    """The summary's lines on Eve: her attack and what she knows, from her outcomes."""
    eve = report.eve
    if not eve.get("attacked"):
        return
    line(
        "Eve knows",
        f"I(A;E) {_fmt(eve['mutual_information_ae'], '.4f')} vs I(A;B) "
        f"{_fmt(eve['mutual_information_ab'], '.4f')} bit per sifted bit; her error "
        f"{_fmt(eve['eve_error_rate'], '.2%')} on the {eve['attacked']:,} sifted bits she attacked",
    )
    if eve["final_key_agreement"] is not None:
        line(
            "Eve's guess",
            f"right on {_fmt(eve['key_agreement_before_amplification'], '.2%')} of the key "
            f"before amplification, {_fmt(eve['final_key_agreement'], '.2%')} of the final "
            "key (1/2: she knows nothing of it)",
        )


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None or value != value else format(value, spec)
