"""Exception hierarchy of qkd-circuits.

Every error the package raises on purpose derives from :class:`QKDError`.
Messages quote the offending value and say what was expected.
"""

from __future__ import annotations


class QKDError(Exception):
    """Base class of every error raised by qkd-circuits."""


class ConfigError(QKDError, ValueError):
    """A configuration, argument or spec is invalid (bad value, bad type, bad syntax)."""


class ProtocolAbort(QKDError):
    """The protocol aborted: a normal outcome in which no key is emitted.

    Attributes:
        reason: Short machine-readable reason, e.g. ``"qber_above_threshold"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BackendError(QKDError):
    """A quantum backend could not be reached or did not return usable results."""
