"""The sweep spec: a TOML file of parameter axes over ``qkd run`` or ``qkd keyrate`` options.

A spec names the command its points run, the options every point shares (``[fixed]``),
the axes whose Cartesian product makes the points (``[axes]``, in the file's order),
the repeats of each configuration and the sweep's seed::

    command = "run"          # or "keyrate"
    seed = 7                 # optional: without it every run draws from the OS CSPRNG
    repeats = 3              # runs of each configuration, each with its own seed

    [fixed]
    qubits = 20000

    [axes]
    eve = ["none", "intercept-resend=0.2"]
    noise = ["depolarizing=0.01", "depolarizing=0.03"]

Option names are the long options of the command without ``--`` (``sample-fraction``
or ``sample_fraction``; ``protocol``, an axis like any other, is ``qkd run``'s
positional argument). Values are TOML strings, integers or floats, as they would be
written after the option; ``true`` or ``false`` for a flag (``pack = true``). This
module checks the file's structure; :mod:`qkd_circuits.sweep.points` parses every value
with the command's own parser.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qkd_circuits.errors import ConfigError

Value = str | int | float | bool
"""One option value as the spec gives it."""

Command = Literal["run", "keyrate"]
COMMANDS: tuple[Command, ...] = ("run", "keyrate")

MAX_POINTS = 1_000_000
"""Most points one sweep may have (configurations times repeats)."""
MAX_REPEATS = 10_000
MAX_SPEC_BYTES = 1 << 20
"""Largest spec file read (1 MiB)."""

_TOP_LEVEL = ("command", "seed", "repeats", "fixed", "axes")


def normalise_option(name: str) -> str:
    """An option's spec name in its command-line spelling: ``sample_fraction`` ->
    ``sample-fraction`` (a leading ``--`` is dropped)."""
    return name.removeprefix("--").replace("_", "-")


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    """A checked sweep spec.

    Attributes:
        command: ``"run"`` or ``"keyrate"``: what one point runs.
        axes: ``(option, values)`` in the spec's order; their Cartesian product gives
            the configurations, the first axis varying slowest.
        fixed: ``(option, value)`` shared by every point.
        repeats: Runs of each configuration (``keyrate`` points are deterministic: 1).
        seed: The sweep's root seed (``numpy.random.SeedSequence`` entropy), or None:
            every run draws its secrets from the OS CSPRNG and records no seed.
    """

    command: Command
    axes: tuple[tuple[str, tuple[Value, ...]], ...]
    fixed: tuple[tuple[str, Value | tuple[str, ...]], ...] = ()
    repeats: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise ConfigError(
                f"command must be one of {', '.join(map(repr, COMMANDS))}, got {self.command!r}"
            )
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int):
            raise ConfigError(f"repeats must be an integer, got {self.repeats!r}")
        if not 1 <= self.repeats <= MAX_REPEATS:
            raise ConfigError(f"repeats must be in 1..{MAX_REPEATS}, got {self.repeats!r}")
        if self.command == "keyrate" and self.repeats != 1:
            raise ConfigError(
                f"keyrate points are deterministic analytics: repeats must be 1, "
                f"got {self.repeats!r}"
            )
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0
        ):
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not self.axes:
            raise ConfigError("a sweep needs at least one axis under [axes]")
        seen: set[str] = set()
        for name, values in self.axes:
            _check_name(name, where="[axes]", seen=seen)
            if not isinstance(values, tuple) or not values:
                raise ConfigError(f"axis {name!r} must be a non-empty array, got {values!r}")
            for value in values:
                _check_scalar(value, where=f"axis {name!r}")
            kinds = {_kind(v) for v in values}
            if len(kinds) > 1:
                raise ConfigError(
                    f"axis {name!r} mixes {' and '.join(sorted(kinds))} values {list(values)!r}; "
                    "give them all as one kind (e.g. all strings)"
                )
            dupes = sorted({repr(v) for v in values if values.count(v) > 1})
            if dupes:
                raise ConfigError(f"axis {name!r} repeats the value(s) {', '.join(dupes)}")
        for name, given in self.fixed:
            _check_name(name, where="[fixed]", seen=seen)
            if isinstance(given, tuple):
                for item in given:
                    if not isinstance(item, str):
                        raise ConfigError(
                            f"[fixed] {name!r}: an array gives a repeatable option several "
                            f"strings, got {item!r} in {list(given)!r}"
                        )
            else:
                _check_scalar(given, where=f"[fixed] {name!r}")
        if self.configurations * self.repeats > MAX_POINTS:
            raise ConfigError(
                f"the sweep has {self.configurations:,} configurations x {self.repeats} "
                f"repeats = {self.configurations * self.repeats:,} points; at most "
                f"{MAX_POINTS:,}"
            )

    @property
    def configurations(self) -> int:
        """Number of distinct configurations: the product of the axes' lengths."""
        return math.prod(len(values) for _, values in self.axes)

    @property
    def points(self) -> int:
        """Number of points: configurations times repeats."""
        return self.configurations * self.repeats

    @property
    def axis_names(self) -> tuple[str, ...]:
        """The axes' option names, in the spec's order."""
        return tuple(name for name, _ in self.axes)

    @property
    def reproducible(self) -> bool:
        """True when the sweep is seeded: every run is a reproducible simulation."""
        return self.seed is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (recorded in the table's metadata); inverse of :meth:`from_dict`."""
        return {
            "command": self.command,
            "seed": self.seed,
            "repeats": self.repeats,
            "fixed": {k: list(v) if isinstance(v, tuple) else v for k, v in self.fixed},
            "axes": {k: list(v) for k, v in self.axes},
        }

    @classmethod
    def from_dict(cls, data: object, *, source: str = "spec") -> SweepSpec:
        """Check a parsed spec (e.g. TOML) and build it.

        Raises:
            ConfigError: an unknown top-level key, a missing ``command`` or ``[axes]``,
                a value of the wrong type; the message names ``source``.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a table of settings, got {data!r}")
        for key in data:
            if key not in _TOP_LEVEL:
                close = difflib.get_close_matches(str(key), _TOP_LEVEL, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"{source}: unknown key {key!r}{hint} (allowed: {', '.join(_TOP_LEVEL)}; "
                    "options go under [fixed] or [axes])"
                )
        if "command" not in data:
            raise ConfigError(f'{source}: missing command = "run" or "keyrate"')
        axes = data.get("axes")
        if not isinstance(axes, dict):
            raise ConfigError(
                f'{source}: missing [axes] table (e.g. noise = ["depolarizing=0.01"]), got {axes!r}'
            )
        fixed = data.get("fixed", {})
        if not isinstance(fixed, dict):
            raise ConfigError(f"{source}: [fixed] must be a table of options, got {fixed!r}")
        for name, values in axes.items():
            if not isinstance(values, list):
                raise ConfigError(
                    f"{source}: axis {name!r} must be an array of values, got {values!r} "
                    "(a single value belongs under [fixed])"
                )
        try:
            return cls(
                command=data["command"],
                seed=data.get("seed"),
                repeats=data.get("repeats", 1),
                axes=tuple((str(k), tuple(v)) for k, v in axes.items()),
                fixed=tuple(
                    (str(k), tuple(v) if isinstance(v, list) else v) for k, v in fixed.items()
                ),
            )
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep spec file (TOML, at most 1 MiB).

    Raises:
        ConfigError: a missing or unreadable file, bad TOML (with its line), or a bad spec.
    """
    where = str(path)
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"sweep spec {where!r} is not a file")
    size = file.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise ConfigError(f"sweep spec {where!r} is {size:,} bytes; at most {MAX_SPEC_BYTES:,}")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read sweep spec {where!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"sweep spec {where!r} is not valid TOML: {exc}") from None
    return SweepSpec.from_dict(data, source=where)


def _check_name(name: str, *, where: str, seen: set[str]) -> None:
    option = normalise_option(name)
    if not option or not all(c.isalnum() or c == "-" for c in option):
        raise ConfigError(f"{where}: {name!r} is not an option name")
    if option in seen:
        raise ConfigError(f"option {option!r} is given twice (under [axes] and [fixed] or both)")
    seen.add(option)


def _check_scalar(value: object, *, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {value!r} is not a finite number")
    if not isinstance(value, (str, int, float, bool)):
        raise ConfigError(f"{where}: expected a string, number or true/false, got {value!r}")


def _kind(value: Value) -> str:
    if isinstance(value, bool):
        return "true/false"
    return "number" if isinstance(value, (int, float)) else "string"
