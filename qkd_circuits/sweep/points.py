"""A sweep's points: each one ``qkd run`` (or ``qkd keyrate``) command line, its identity
and its seed, checked with the command's own parser before anything runs.

A point's identity is a hash of its command, its options and its repeat (and the
sweep's seed), so a resumed sweep skips the points it finished even when the spec's
order changed or axes gained values. Its seed comes from the sweep's seed through a
``numpy.random.SeedSequence`` child whose spawn key is that same hash (the construction
``SeedSequence.spawn`` uses, with a key that names the point rather than its position):
a point's run, and so its row, does not depend on where it sits in the sweep, and
``qkd run ... --seed S`` with the row's ``command_line`` reproduces it alone.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qkd_circuits.errors import ConfigError
from qkd_circuits.sweep.spec import SweepSpec, Value, normalise_option

if TYPE_CHECKING:
    from qkd_circuits.analysis.curves import AnalysisSpec
    from qkd_circuits.analysis.finite_decoy import FiniteKeySecurity
    from qkd_circuits.analysis.link import LinkParameters
    from qkd_circuits.runner import RunConfig

NOT_SWEPT: dict[str, dict[str, str]] = {
    "run": {
        "seed": "the sweep gives every point its own seed (set seed = S at the top)",
        "keys": "a sweep never writes keys: its table holds key lengths only",
        "json": "the sweep writes its table",
        "plot": "qkd sweep-plot draws the sweep's figures",
        "quiet": "the sweep has its own --quiet",
        "run-dir": "device jobs saved for 'qkd resume' are not swept",
        "submit-only": "device jobs saved for 'qkd resume' are not swept",
        "dry-run": "use qkd sweep --dry-run",
        "help": "not an option of a run",
    },
    "keyrate": {
        "seed": "keyrate points are analytic (no draws)",
        "simulate": 'sweep simulated runs with command = "run" and protocol decoy-bb84',
        "simulate-points": 'sweep simulated runs with command = "run"',
        "simulate-at": 'sweep simulated runs with command = "run"',
        "plot": "qkd sweep-plot draws the sweep's figures",
        "json": "the sweep writes its table",
        "max-distance": "a keyrate point is one key rate at one distance",
        "help": "not an option of keyrate",
    },
}
"""Options of each command a spec may not set, and why."""

SEED_BITS = 63
"""A point's seed is a 63-bit integer (it fits the table's int64 column)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One point of a sweep.

    Attributes:
        index: Position in the sweep (axes in the spec's order, first slowest; repeats
            innermost). The table is sorted by it.
        point_id: 20 hex digits naming the point (command, options, repeat, sweep seed).
        command: ``"run"`` or ``"keyrate"``.
        options: ``(option, value)`` of every option the spec sets for the point, in
            the spec's order (axes first).
        axes: ``(option, value)`` of the axes only.
        repeat: 0-based repeat of the configuration.
        seed: The run's ``--seed`` (None: unseeded sweep, or keyrate).
    """

    index: int
    point_id: str
    command: str
    options: tuple[tuple[str, Value | tuple[str, ...]], ...]
    axes: tuple[tuple[str, Value], ...]
    repeat: int
    seed: int | None

    @property
    def argv(self) -> tuple[str, ...]:
        """The point's arguments to ``qkd`` (``--option=value`` form; run's protocol
        positional), the seed last."""
        out = [self.command]
        for name, value in self.options:
            if name == "protocol" and self.command == "run":
                out.insert(1, str(value))
                continue
            for text in _option_args(name, value):
                out.append(text)
        if self.seed is not None:
            out.append(f"--seed={self.seed}")
        return tuple(out)

    @property
    def command_line(self) -> str:
        """The ``qkd`` command that reproduces this point alone."""
        return shlex.join(("qkd", *self.argv))


def _option_args(name: str, value: Value | tuple[str, ...]) -> list[str]:
    if isinstance(value, bool):
        return [f"--{name}"] if value else []
    if isinstance(value, tuple):
        return [f"--{name}={item}" for item in value]
    return [f"--{name}={_text(value)}"]


def _text(value: Value) -> str:
    """The command-line text of a value: floats by ``repr`` (``1e-10``, ``0.02``)."""
    return repr(value) if isinstance(value, float) else str(value)


def _identity(value: Value | tuple[str, ...]) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, tuple):
        return list(value)
    return _text(value)


def point_key(
    command: str, options: Sequence[tuple[str, Value | tuple[str, ...]]], repeat: int
) -> str:
    """The canonical text a point's identity and seed are hashed from: its command, its
    options as command-line text sorted by name (a flag set to false is absent, as on
    the command line) and its repeat."""
    given = {n: _identity(v) for n, v in options if v is not False}
    return json.dumps(
        {"command": command, "options": dict(sorted(given.items())), "repeat": repeat},
        sort_keys=True,
        separators=(",", ":"),
    )


def point_seed(sweep_seed: int, key: str) -> int:
    """The seed of the point whose :func:`point_key` is ``key``: 63 bits of the state of
    ``SeedSequence(sweep_seed, spawn_key=K)``, K the first 128 bits of SHA-256(key) as
    four 32-bit words."""
    digest = hashlib.sha256(key.encode()).digest()
    words = tuple(int(w) for w in np.frombuffer(digest[:16], dtype="<u4"))
    state = np.random.SeedSequence(sweep_seed, spawn_key=words).generate_state(1, np.uint64)
    return int(state[0]) >> (64 - SEED_BITS)


def point_id(sweep_seed: int | None, key: str) -> str:
    """20 hex digits of SHA-256 over the sweep's seed and the point's key."""
    prefix = "unseeded" if sweep_seed is None else f"seed={sweep_seed}"
    return hashlib.sha256(f"{prefix}|{key}".encode()).hexdigest()[:20]


def expand_points(spec: SweepSpec) -> list[Point]:
    """Every point of ``spec``, in order (first axis slowest, repeats innermost).

    Option names are normalised (``sample_fraction`` -> ``sample-fraction``); nothing is
    parsed here (:func:`check_points` does that).
    """
    axis_names = [normalise_option(n) for n, _ in spec.axes]
    fixed = tuple((normalise_option(n), v) for n, v in spec.fixed)
    points: list[Point] = []
    for combo in itertools.product(*(values for _, values in spec.axes)):
        axes = tuple(zip(axis_names, combo, strict=True))
        options = (*axes, *fixed)
        for repeat in range(spec.repeats):
            key = point_key(spec.command, options, repeat)
            seed = None
            if spec.command == "run" and spec.seed is not None:
                seed = point_seed(spec.seed, key)
            points.append(
                Point(
                    index=len(points),
                    point_id=point_id(spec.seed, key),
                    command=spec.command,
                    options=options,
                    axes=axes,
                    repeat=repeat,
                    seed=seed,
                )
            )
    ids = {p.point_id for p in points}
    if len(ids) != len(points):  # distinct options give distinct keys; a hash collision
        raise ConfigError("two points of the sweep have the same identity")  # pragma: no cover
    return points


# --- parsing with the commands' own parsers ------------------------------------------


@functools.cache
def _qkd_parser() -> argparse.ArgumentParser:
    """``qkd``'s own parser (``qkd_circuits.cli.build_parser``), built once per process."""
    from qkd_circuits.cli import build_parser

    return build_parser()


def _command_parser(command: str) -> argparse.ArgumentParser:
    """The ``qkd`` subcommand's own parser."""
    parser = _qkd_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def parse_point_argv(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a point's arguments (``(command, ...)``) with ``qkd``'s parser.

    Raises:
        ConfigError: the parser's message (a bad value, an unknown option).
    """
    from qkd_circuits import cli

    try:
        return _qkd_parser().parse_args(list(argv))
    except cli._UsageError as exc:
        raise ConfigError(str(exc).removeprefix(f"qkd {argv[0]}: error: ")) from None
    except SystemExit:  # pragma: no cover - _Parser raises instead of exiting
        raise ConfigError(f"cannot parse {shlex.join(argv)!r}") from None


def check_option_names(spec: SweepSpec) -> None:
    """Every option of ``spec`` is one of its command's, and sweepable.

    Raises:
        ConfigError: an unknown option (with the closest known one) or one a sweep sets.
    """
    import difflib

    parser = _command_parser(spec.command)
    known = {s.removeprefix("--"): a for s, a in parser._option_string_actions.items()}
    if spec.command == "run":
        known["protocol"] = next(a for a in parser._actions if a.dest == "protocol")
    long_names = sorted(n for n in known if len(n) > 1 and n not in NOT_SWEPT[spec.command])
    given: list[tuple[str, tuple[Value | tuple[str, ...], ...]]] = [
        *spec.axes,
        *((raw, (value,)) for raw, value in spec.fixed),
    ]
    for raw, values in given:
        name = normalise_option(raw)
        if name in NOT_SWEPT[spec.command]:
            raise ConfigError(f"{raw!r} cannot be swept: {NOT_SWEPT[spec.command][name]}")
        action = known.get(name)
        if action is None or len(name) == 1:
            close = difflib.get_close_matches(name, long_names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{raw!r} is not an option of qkd {spec.command}{hint} "
                f"(options: {', '.join(long_names)})"
            )
        flag = action.nargs == 0
        for value in values:
            if flag and not isinstance(value, bool):
                raise ConfigError(f"{raw!r} is a flag: give true or false, got {value!r}")
            if not flag and isinstance(value, bool):
                raise ConfigError(f"{raw!r} takes a value, got {value!r}")
            if isinstance(value, tuple) and not isinstance(action, argparse._AppendAction):
                raise ConfigError(f"{raw!r} takes one value, got the array {list(value)!r}")


def check_points(spec: SweepSpec, points: Sequence[Point]) -> None:
    """Parse and check every point before any runs: first each axis value on its own
    with the fixed options (so a bad value is named at once), then every configuration
    as its run would build it (:func:`run_config_of`, :func:`keyrate_inputs_of`),
    including whether one run fits in this machine's memory.

    Raises:
        ConfigError: naming the axis value or the point and what is wrong.
    """
    check_option_names(spec)
    fixed = tuple((normalise_option(n), v) for n, v in spec.fixed)
    for raw, values in spec.axes:
        name = normalise_option(raw)
        for value in values:
            probe = Point(
                index=0, point_id="", command=spec.command, options=((name, value), *fixed),
                axes=(), repeat=0, seed=None,
            )  # fmt: skip
            try:
                parse_point_argv(probe.argv)
            except ConfigError as exc:
                raise ConfigError(f"axis {raw!r} value {value!r}: {exc}") from None
    checked: set[tuple[Any, ...]] = set()
    for point in points:
        if point.axes in checked:
            continue  # the repeats of a configuration differ only in their seeds
        checked.add(point.axes)
        try:
            args = parse_point_argv(point.argv)
            if point.command == "run":
                run_config_of(args).check_memory()  # as run_config will, on this machine
            else:
                keyrate_inputs_of(args)
        except ConfigError as exc:
            where = ", ".join(f"{n}={v!r}" for n, v in point.axes)
            raise ConfigError(f"point {point.index} ({where}): {exc}") from None


def run_config_of(args: argparse.Namespace) -> RunConfig:
    """The :class:`~qkd_circuits.runner.RunConfig` ``qkd run`` builds from ``args``
    (:func:`qkd_circuits.cli.run_config_of`), refusing what a sweep cannot run.

    Raises:
        ConfigError: an invalid combination, or an ``ibm:`` backend (a hardware job
            outlives a sweep's worker: run those one by one with ``qkd run``).
    """
    from qkd_circuits.cli import run_config_of as cli_run_config_of

    if str(args.backend).startswith("ibm:"):
        raise ConfigError(
            f"backend {args.backend!r}: a sweep runs its points unattended and a hardware "
            "job outlives its worker; sweep on aer, aer-shots, aer-literal or fake:NAME"
        )
    return cli_run_config_of(args)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyrateInputs:
    """What one ``qkd keyrate`` point evaluates: one analysis at one distance.

    Attributes:
        link: The link's parameters (``--params`` with every ``--set``).
        analysis: The one analysis (``--analysis``).
        distance_km: The one distance (``--distances``).
        mu: Fixed signal intensity, or None (optimised).
        nu: Weak decoy of vacuum-weak.
        security: The finite-key epsilons.
    """

    link: LinkParameters
    analysis: AnalysisSpec
    distance_km: float
    mu: float | None
    nu: float
    security: FiniteKeySecurity


def keyrate_inputs_of(args: argparse.Namespace) -> KeyrateInputs:
    """The inputs ``qkd keyrate`` computes from ``args`` (as ``run_keyrate`` does), for a
    point of one analysis at one distance.

    Raises:
        ConfigError: a bad option (``run_keyrate``'s messages), or several analyses or
            distances in one point (make them axes).
    """
    from qkd_circuits.analysis import keyrate_cli
    from qkd_circuits.analysis.curves import parse_analyses, parse_distances

    protocol = str(args.protocol).strip().lower()
    if protocol not in keyrate_cli.PROTOCOLS:
        raise ConfigError(
            f"unknown protocol {args.protocol!r}; expected one of "
            f"{', '.join(keyrate_cli.PROTOCOLS)}"
        )
    link = keyrate_cli._link(args)
    analyses = parse_analyses(str(args.analysis))
    if len(analyses) != 1:
        raise ConfigError(
            f"a keyrate point is one analysis, got --analysis {args.analysis!r}: make "
            'analysis an axis, e.g. analysis = ["gllp", "finite:1e6"]'
        )
    distances = parse_distances(str(args.distances))
    if len(distances) != 1:
        raise ConfigError(
            f"a keyrate point is one distance, got --distances {args.distances!r}: make "
            "distances an axis, e.g. distances = [0, 50, 100]"
        )
    mu = keyrate_cli._number(args.mu, "--mu")
    if mu is not None and mu <= 0:
        raise ConfigError(f"--mu (mean photon number) must be > 0, got {args.mu!r}")
    nu = keyrate_cli._number(args.nu, "--nu")
    assert nu is not None
    if nu <= 0:
        raise ConfigError(f"--nu (decoy mean photon number) must be > 0, got {args.nu!r}")
    return KeyrateInputs(
        link=link,
        analysis=analyses[0],
        distance_km=float(distances[0]),
        mu=mu,
        nu=nu,
        security=keyrate_cli._security(args),
    )
