"""Configuration codes: a configuration's choices (Alice's bit and basis, Bob's basis, Eve's
basis + 1, ...) as the digits of one mixed-radix integer, least significant first: digits
``(d0, d1, d2)`` with radices ``(r0, r1, r2)`` give ``d0 + r0 d1 + r0 r1 d2``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.errors import ConfigError


def check_choice(value: object, allowed: Collection[int], *, name: str, expected: str) -> None:
    """Raise :class:`ConfigError` (``"{name} must be {expected}, got {value!r}"``) unless
    ``value`` is in ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{name} must be {expected}, got {value!r}")


def encode(digits: Sequence[int], radices: Sequence[int]) -> int:
    """The code of ``digits`` (module docstring); each digit in ``[0, radix)``."""
    code, weight = 0, 1
    for digit, radix in zip(digits, radices, strict=True):
        code += weight * digit
        weight *= radix
    return code


Codes = NDArray[np.unsignedinteger[Any]]
"""Configuration codes of exchanges, shape (n,), in the narrowest unsigned dtype that holds
every code of the protocol (uint8 for all protocols here): at 10^7 exchanges an int64
array is 80 MB of fresh memory, a uint8 one 10 MB."""


def code_dtype(radices: Sequence[int]) -> type[np.unsignedinteger[Any]]:
    """The narrowest unsigned dtype holding every code of ``radices``."""
    total = math.prod(radices)
    return next(
        t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if total - 1 <= np.iinfo(t).max
    )


def encode_arrays(digits: Sequence[NDArray[np.integer]], radices: Sequence[int]) -> Codes:
    """Elementwise :func:`encode` over arrays of shape (n,); returns :data:`Codes` (n,)."""
    small = code_dtype(radices)
    code: NDArray[np.unsignedinteger[Any]] = digits[0].astype(small)
    weight = radices[0]
    for digit, radix in zip(digits[1:], radices[1:], strict=True):
        term: NDArray[np.unsignedinteger[Any]] = digit.astype(small)
        np.multiply(term, small(weight), out=term)
        np.add(code, term, out=code)
        weight *= radix
    return code


def decode(code: int, radices: Sequence[int], *, what: str) -> tuple[int, ...]:
    """The digits of ``code``, the inverse of :func:`encode`.

    Raises:
        ConfigError: ``code`` is outside ``[0, prod(radices))`` (the message names the
            ``what``, e.g. ``"BB84"``, configuration code).
        TypeError: ``code`` is not an integer.
    """
    total = math.prod(radices)
    if not 0 <= code < total:
        raise ConfigError(f"{what} configuration code must be in [0, {total}), got {code!r}")
    rest = operator.index(code)
    digits = []
    for radix in radices:
        rest, digit = divmod(rest, radix)
        digits.append(digit)
    return tuple(digits)


__all__ = ["Codes", "check_choice", "code_dtype", "decode", "encode", "encode_arrays"]
