"""What every protocol's choices and records share: the secret draw, arrays of one shape,
the circuit of one exchange. Each protocol module keeps its own frozen dataclasses (saved
runs name the choices class by its module path) and builds them with these helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.attacks.intercept_resend import EveSpec
from qkd_circuits.circuits.exchange import NO_EVE
from qkd_circuits.errors import ConfigError
from qkd_circuits.randomness import RNGLike, ensure_secret_rng
from qkd_circuits.specs import check_int


def draw_secret_choices(
    n: int,
    values: tuple[int, ...],
    *,
    eve: EveSpec | None,
    eve_bases: int,
    rng: RNGLike,
) -> tuple[list[NDArray[np.uint8]], NDArray[np.int8]]:
    """Draw ``n`` exchanges' choices, uniform and independent, from the secret generator.

    Args:
        n: Number of exchanges (>= 1).
        values: How many values each choice takes, in the order drawn (BB84's bit,
            Alice's basis and Bob's: ``(2, 2, 2)``).
        eve: Which exchanges Eve attacks (each with probability ``eve.fraction``); None: none.
        eve_bases: How many bases Eve picks from, uniformly, where she attacks.
        rng: Secret generator or seed (None: the OS CSPRNG, :mod:`qkd_circuits.randomness`).

    Returns:
        One uint8 (n,) array per entry of ``values``, then Eve's bases, int8 (n,),
        ``NO_EVE`` (-1) where she does not attack (drawn last).
    """
    n = check_int(n, name="number of qubits", minimum=1)
    gen = ensure_secret_rng(rng)
    drawn = [gen.integers(0, k, size=n, dtype=np.uint8) for k in values]
    eve_basis = np.full(n, NO_EVE, dtype=np.int8)
    if eve is not None and eve.active:
        attacked = gen.random(n) < eve.fraction
        eve_basis[attacked] = gen.integers(0, eve_bases, size=int(attacked.sum()), dtype=np.int8)
    return drawn, eve_basis


def check_same_shape(
    record: object, names: Iterable[str], shape: tuple[int, ...], *, like: str | None
) -> None:
    """Raise :class:`ConfigError` unless every array attribute ``names`` of ``record`` has
    ``shape`` (the message names the reference, ``like``, when given)."""
    for name in names:
        got = getattr(record, name).shape
        if got != shape:
            reference = f" like {like}" if like else ""
            raise ConfigError(f"{name} has shape {got}, expected {shape}{reference}")


def circuit_of_exchange(
    codes: NDArray[np.int64], index: int, circuit_for_code: Callable[[int], QuantumCircuit]
) -> QuantumCircuit:
    """The circuit that exchange ``index`` of a run with configuration ``codes`` ran.

    Raises:
        ConfigError: ``index`` is outside ``[-n, n)``.
    """
    n = int(codes.size)
    if not -n <= index < n:
        raise ConfigError(f"exchange index {index!r} out of range for {n} exchanges")
    return circuit_for_code(int(codes[index]))


__all__ = ["check_same_shape", "circuit_of_exchange", "draw_secret_choices"]
