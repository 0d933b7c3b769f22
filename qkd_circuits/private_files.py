"""Files that hold secrets (keys, a run's classical choices): owner-only, written atomically.

A file is written to a temporary name in the same directory with mode 0600 and
moved into place with ``os.replace``, so a crash leaves either the old file,
nothing, or the complete new file — never a partial key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qkd_circuits.bits import Bits, bits_to_hex, hex_to_bits
from qkd_circuits.errors import ConfigError
from qkd_circuits.outputs import write_all


def write_private_file(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` with permissions 0600, atomically; return the path."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{str(target)!r} is a directory, expected a file path")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise ConfigError(f"directory {str(directory)!r} does not exist")
    write_all([(target, data, 0o600)])
    return target


def write_key_file(path: str | Path, key_alice: Bits, key_bob: Bits, *, reproducible: bool) -> Path:
    """Write ``{"alice": HEX, "bob": HEX, "bits": N, "reproducible": B}`` to ``path``
    (mode 0600, atomic).

    Hex is the key packed big-endian (first bit = most significant), zero-padded
    to whole bytes; ``bits`` says how many of the bits are key; ``reproducible``
    is true for a seeded run, whose key anyone with its report can recompute.
    """
    return write_private_file(path, key_file_bytes(key_alice, key_bob, reproducible=reproducible))


def key_file_bytes(key_alice: Bits, key_bob: Bits, *, reproducible: bool) -> bytes:
    """The content of a key file (see :func:`write_key_file`)."""
    if key_alice.size != key_bob.size:
        raise ConfigError(f"keys differ in length: {key_alice.size} vs {key_bob.size}")
    record: dict[str, Any] = {
        "alice": bits_to_hex(key_alice),
        "bob": bits_to_hex(key_bob),
        "bits": int(key_alice.size),
        "reproducible": bool(reproducible),
    }
    return (json.dumps(record) + "\n").encode()


def read_key_file(path: str | Path) -> tuple[Bits, Bits]:
    """Read a key file written by :func:`write_key_file`: ``(alice, bob)`` uint8 arrays."""
    try:
        record = json.loads(Path(path).read_text())
        n = int(record["bits"])
        return hex_to_bits(record["alice"], n), hex_to_bits(record["bob"], n)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read key file {str(path)!r}: {exc}") from exc
