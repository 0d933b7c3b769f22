"""Parsing of the ``NAME=VALUE,NAME=VALUE`` spec strings used on the command line."""

from __future__ import annotations

import math

import numpy as np

from qkd_circuits.errors import ConfigError


def parse_key_values(text: str, *, what: str, allowed: tuple[str, ...]) -> dict[str, str | None]:
    """Split ``"a=1,b,c=0.5"`` into ``{"a": "1", "b": None, "c": "0.5"}``.

    Args:
        text: The spec string. Whitespace around items is ignored.
        what: What is being parsed, for error messages (e.g. ``"noise spec"``).
        allowed: The names that may appear.

    Raises:
        ConfigError: on an empty item, an unknown or repeated name, or an empty value.
    """
    out: dict[str, str | None] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise ConfigError(f"malformed {what} {text!r}: empty item")
        name, sep, value = item.partition("=")
        name = name.strip()
        if name not in allowed:
            raise ConfigError(
                f"unknown name {name!r} in {what} {text!r}; allowed: {', '.join(allowed)}"
            )
        if name in out:
            raise ConfigError(f"{name!r} given twice in {what} {text!r}")
        if sep and not value.strip():
            raise ConfigError(f"malformed {what} {text!r}: {name!r} has an empty value")
        out[name] = value.strip() if sep else None
    return out


def parse_probability(value: str | None, *, name: str, what: str) -> float:
    """Parse ``value`` as a probability in [0, 1]; ``name`` and ``what`` are for messages."""
    if value is None:
        raise ConfigError(f"{what}: {name!r} needs a value, e.g. {name}=0.01")
    try:
        p = float(value)
    except ValueError:
        raise ConfigError(f"{what}: {name}={value!r} is not a number") from None
    check_probability(p, name=name)
    return p


def check_probability(p: float, *, name: str) -> None:
    """Raise :class:`ConfigError` unless ``0 <= p <= 1``."""
    if not 0.0 <= p <= 1.0:  # also rejects nan
        raise ConfigError(f"{name}={p!r} is outside [0, 1]")


def check_int(value: object, *, name: str, minimum: int) -> int:
    """Return ``value`` as an int, raising :class:`ConfigError` unless it is an integer >= minimum.

    Booleans are rejected (``True`` is not a number of qubits).
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_open_unit(value: object, *, name: str) -> float:
    """Return ``value`` as a float, raising :class:`ConfigError` unless ``0 < value < 1``.

    For ε parameters and fractions; strings and other non-numbers are rejected too.
    """
    if isinstance(value, (str, bytes, bool)):
        raise ConfigError(f"{name} must be a number in (0, 1), got {value!r}")
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number in (0, 1), got {value!r}") from None
    if not 0.0 < x < 1.0:  # also rejects nan
        raise ConfigError(f"{name} must be in (0, 1), got {value!r}")
    return x


def check_closed_unit(value: object, *, name: str) -> float:
    """Return ``value`` as a float, raising :class:`ConfigError` unless ``0 <= value <= 1``.

    For error rates and tolerances; anything ``float()`` accepts is read as a number.
    """
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number in [0, 1], got {value!r}") from exc
    if not 0.0 <= x <= 1.0:  # also rejects nan
        raise ConfigError(f"{name} must be in [0, 1], got {value!r}")
    return x


def check_nonnegative(value: object, *, name: str) -> float:
    """Return ``value`` as a float, raising :class:`ConfigError` unless it is finite and >= 0.

    For counts of disclosed bits (which may be fractional estimates).
    """
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number >= 0, got {value!r}") from exc
    if not (x >= 0.0 and math.isfinite(x)):
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
    return x
