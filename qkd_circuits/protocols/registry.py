"""The protocols ``qkd`` knows, by name: the one place a protocol is registered.

Each entry names the module and the attribute holding the protocol object
(:class:`~qkd_circuits.protocols.base.Protocol`); modules are imported on
first use. Adding a protocol is adding its module, one line here and its
:class:`~qkd_circuits.protocols.info.ProtocolInfo` in :mod:`qkd_circuits.protocols.info`,
so names and infos are known without importing Qiskit (``qkd --help``, ``qkd protocols``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from qkd_circuits.errors import ConfigError
from qkd_circuits.protocols.info import INFOS, ProtocolInfo

if TYPE_CHECKING:
    from qkd_circuits.protocols.base import Protocol

_REGISTRY: dict[str, tuple[str, str]] = {
    "bb84": ("qkd_circuits.protocols.bb84", "BB84"),
    "six-state": ("qkd_circuits.protocols.six_state", "SIX_STATE"),
    "b92": ("qkd_circuits.protocols.b92", "B92"),
    "sarg04": ("qkd_circuits.protocols.sarg04", "SARG04"),
    "bbm92": ("qkd_circuits.protocols.bbm92", "BBM92"),
    "e91": ("qkd_circuits.protocols.e91", "E91"),
    "decoy-bb84": ("qkd_circuits.protocols.decoy_bb84", "DECOY_BB84"),
}

PROTOCOLS: tuple[str, ...] = tuple(_REGISTRY)
"""Every registered protocol name, in the order ``qkd protocols`` lists them."""

CHANNEL_PROTOCOLS: tuple[str, ...] = tuple(n for n in PROTOCOLS if not INFOS[n].needs_link)
"""The protocols that run without a link (every qubit arrives): what ``qkd compare``
runs by default; the others need ``--distance`` (``ProtocolInfo.needs_link``)."""

DEFAULT_PROTOCOL = PROTOCOLS[0]
"""The protocol ``qkd run`` and :func:`qkd_circuits.run` use when none is named."""

DEFAULT_QUBITS = 100_000
"""The exchanges ``qkd run`` and :func:`qkd_circuits.run` make when none are given
(here, not in the runner, so the CLI's help needs no Qiskit)."""


def get_protocol(name: str) -> Protocol:
    """The protocol object registered as ``name``.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(f"unknown protocol {name!r}; allowed: {', '.join(PROTOCOLS)}")
    from qkd_circuits.protocols.base import Protocol

    module, attribute = _REGISTRY[name]
    protocol = getattr(import_module(module), attribute)
    if not isinstance(protocol, Protocol) or protocol.info.name != name:
        raise ConfigError(f"{module}.{attribute} is not the protocol {name!r}")
    return protocol


def protocol_info(name: str) -> ProtocolInfo:
    """The :class:`ProtocolInfo` of the protocol ``name``, without importing its module.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(f"unknown protocol {name!r}; allowed: {', '.join(PROTOCOLS)}")
    return INFOS[name]


def check_protocol_list(text: str) -> tuple[str, ...]:
    """Parse ``--protocols``: comma-separated registered names, no repeats.

    Raises:
        ConfigError: an empty list, an empty item, an unknown name or a repeat.
    """
    names = tuple(part.strip() for part in text.split(","))
    if not text.strip() or any(not n for n in names):
        raise ConfigError(
            f"--protocols {text!r} has an empty name; give a comma-separated list from "
            f"{', '.join(PROTOCOLS)}"
        )
    for name in names:
        protocol_info(name)  # the same error as get_protocol, without importing it
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"--protocols {text!r} names {', '.join(repeated)} more than once")
    return names


def all_protocols() -> list[Protocol]:
    """Every registered protocol, in :data:`PROTOCOLS` order."""
    return [get_protocol(name) for name in PROTOCOLS]


if set(INFOS) != set(_REGISTRY):  # pragma: no cover - a protocol registered half-way
    raise ImportError(f"protocol infos {sorted(INFOS)} != registry {sorted(_REGISTRY)}")

__all__ = [
    "CHANNEL_PROTOCOLS",
    "DEFAULT_PROTOCOL",
    "DEFAULT_QUBITS",
    "PROTOCOLS",
    "all_protocols",
    "check_protocol_list",
    "get_protocol",
    "protocol_info",
]
