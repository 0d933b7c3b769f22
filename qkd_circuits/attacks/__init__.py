"""Eavesdropper models."""

from qkd_circuits.attacks.intercept_resend import EveSpec, append_intercept_resend

__all__ = ["EveSpec", "append_intercept_resend"]
