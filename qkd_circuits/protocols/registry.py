"""The protocols ``qkd`` knows, by name: the one place a protocol is registered.

Each entry names the module and the attribute holding the protocol object
(:class:`~qkd_circuits.protocols.base.Protocol`); modules are imported on
first use. Adding a protocol is adding its module and one line here.
"""

from __future__ import annotations

from importlib import import_module

from qkd_circuits.errors import ConfigError
from qkd_circuits.protocols.base import Protocol

_REGISTRY: dict[str, tuple[str, str]] = {
    "bb84": ("qkd_circuits.protocols.bb84", "BB84"),
    "six-state": ("qkd_circuits.protocols.six_state", "SIX_STATE"),
    "b92": ("qkd_circuits.protocols.b92", "B92"),
    "sarg04": ("qkd_circuits.protocols.sarg04", "SARG04"),
    "bbm92": ("qkd_circuits.protocols.bbm92", "BBM92"),
    "e91": ("qkd_circuits.protocols.e91", "E91"),
}

PROTOCOLS: tuple[str, ...] = tuple(_REGISTRY)
"""Every registered protocol name, in the order ``qkd protocols`` lists them."""

DEFAULT_PROTOCOL = PROTOCOLS[0]
"""The protocol ``qkd run`` and :func:`qkd_circuits.run` use when none is named."""


def get_protocol(name: str) -> Protocol:
    """The protocol object registered as ``name``.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(f"unknown protocol {name!r}; allowed: {', '.join(PROTOCOLS)}")
    module, attribute = _REGISTRY[name]
    protocol = getattr(import_module(module), attribute)
    if not isinstance(protocol, Protocol) or protocol.info.name != name:
        raise ConfigError(f"{module}.{attribute} is not the protocol {name!r}")
    return protocol


def all_protocols() -> list[Protocol]:
    """Every registered protocol, in :data:`PROTOCOLS` order."""
    return [get_protocol(name) for name in PROTOCOLS]


__all__ = ["DEFAULT_PROTOCOL", "PROTOCOLS", "all_protocols", "get_protocol"]
