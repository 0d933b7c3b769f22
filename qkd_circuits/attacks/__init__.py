"""Eavesdropper models: one module per attack behind :class:`~qkd_circuits.attacks.base.Attack`,
the user's :class:`~qkd_circuits.attacks.spec.EveSpec`, and what Eve knows
(:mod:`~qkd_circuits.attacks.knowledge`)."""

from qkd_circuits.attacks.spec import EveSpec

__all__ = ["EveSpec"]
