"""Output files of a command: checked before any work, written all-or-nothing.

A bad ``--json``, ``--plot`` or ``--keys`` path must cost the user a second,
not a run: :func:`check_output_path` proves, before the run starts, that the
file can be created (it creates and removes a probe file next to it).
:func:`write_all` then writes every output to a temporary file in its target
directory (flushed and fsynced, with its final mode) and only when all of them
are written moves them into place with ``os.replace`` — so a failure leaves
no output of the run behind, and never a partial key.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from qkd_circuits.errors import ConfigError

PLOT_FORMATS = ("png", "pdf", "svg")
"""Summary-plot formats, chosen by the file's extension."""


def check_output_path(text: str, *, option: str, formats: Sequence[str] = ()) -> Path:
    """Validate an output path before any work; return it as a ``Path``.

    Args:
        text: The path as the user gave it.
        option: The option's name for messages (e.g. ``"--json"``).
        formats: Allowed extensions (without the dot); empty: any.

    Raises:
        ConfigError: an empty path, a directory, a missing parent directory, an
            existing non-regular file, a directory where no file can be created,
            or an extension outside ``formats``.
    """
    if not text or not text.strip():
        raise ConfigError(f"{option}: empty path; give a file name")
    path = Path(text)
    if path.is_dir():
        raise ConfigError(f"{option} {text!r} is a directory, expected a file path")
    if formats:
        ext = path.suffix.lower().removeprefix(".")
        if ext not in formats:
            raise ConfigError(
                f"{option} {text!r}: unknown format {path.suffix or '(no extension)'!r}; "
                f"allowed extensions: {', '.join('.' + f for f in formats)}"
            )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{option} {text!r}: directory {str(parent)!r} does not exist")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{option} {text!r} exists and is not a regular file")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        raise ConfigError(
            f"{option} {text!r}: cannot create a file in {str(parent)!r}: {exc.strerror}"
        ) from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
    return path


def check_distinct(paths: dict[str, Path | None]) -> None:
    """Refuse two options naming the same file (one would overwrite the other).

    Raises:
        ConfigError: quoting both options and the path.
    """
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        key = path.resolve()
        if key in seen:
            raise ConfigError(
                f"{seen[key]} and {option} name the same file {str(path)!r}; give each its own"
            )
        seen[key] = option


def write_all(files: Sequence[tuple[Path, bytes, int]]) -> list[Path]:
    """Write every ``(path, data, mode)`` or none of them; return the paths written.

    Each file is written to a temporary name in its own directory with ``mode``,
    flushed and fsynced; only when all are written are they renamed into place.

    Raises:
        ConfigError: when a file cannot be written (no output is left behind).
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, data, mode in files:
            directory = path.parent if str(path.parent) else Path(".")
            try:
                fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
            except OSError as exc:
                raise ConfigError(f"cannot write {str(path)!r}: {exc.strerror}") from None
            staged.append((tmp, path))
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    return [path for _, path in staged]
