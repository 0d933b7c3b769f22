"""What every protocol's choices and records share: the secret draw, arrays of one shape,
the circuit of one exchange. Each protocol module keeps its own frozen choices dataclass
(saved runs name the choices class by its module path) and builds it with these helpers.

Records of the shape "the choices plus Bob's and Eve's 1-bit results" (six-state, B92)
are :class:`ChoiceRecords`, generic in the choices class; a protocol subclasses it to say
which circuits its codes stand for (and, like B92, to add its own readings of the bits).
Records of another shape keep their own class: BB84's flat
:class:`~qkd_circuits.protocols.bb84.ExchangeRecords`, the entangled protocols' records
with Alice's measured bits, SARG04's signs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Generic, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.codes import Codes
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
        eve: Which exchanges Eve attacks (each with probability ``eve.fraction``) and how;
            None: none.
        eve_bases: How many bases Eve picks from, uniformly, where she attacks in a random
            basis (any other attack makes the same choice, ``eve.fixed_choice()``, in
            every exchange it attacks).
        rng: Secret generator or seed (None: the OS CSPRNG, :mod:`qkd_circuits.randomness`).

    Returns:
        One uint8 (n,) array per entry of ``values``, then Eve's choices (her bases for
        a random or fixed-basis intercept-resend), int8 (n,), ``NO_EVE`` (-1) where she
        does not attack (drawn last).
    """
    n = check_int(n, name="number of qubits", minimum=1)
    gen = ensure_secret_rng(rng)
    drawn = [_uniform_choices(gen, k, n) for k in values]
    eve_basis = np.full(n, NO_EVE, dtype=np.int8)
    if eve is not None and eve.active:
        fixed = eve.fixed_choice()
        if eve.fraction >= 1.0:  # every exchange: nothing to draw
            if fixed is None:
                eve_basis = _uniform_choices(gen, eve_bases, n).view(np.int8)
            else:
                eve_basis.fill(fixed)
        else:
            attacked = gen.random(n) < eve.fraction
            count = int(np.count_nonzero(attacked))
            eve_basis[attacked] = (
                _uniform_choices(gen, eve_bases, count).view(np.int8) if fixed is None else fixed
            )
    return drawn, eve_basis


def _uniform_choices(gen: np.random.Generator, k: int, n: int) -> NDArray[np.uint8]:
    """``n`` independent uniform values in ``[0, k)``, uint8 (n,).

    Two values (a bit, a basis of two): the bits of ``ceil(n/8)`` uniform bytes, an
    eighth of a byte of the generator's stream per value where ``Generator.integers``
    spends four; otherwise ``Generator.integers``.
    """
    if k == 2:
        return np.unpackbits(np.frombuffer(gen.bytes((n + 7) // 8), dtype=np.uint8), count=n)
    return gen.integers(0, k, size=n, dtype=np.uint8)


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
    codes: Codes, index: int, circuit_for_code: Callable[[int], QuantumCircuit]
) -> QuantumCircuit:
    """The circuit that exchange ``index`` of a run with configuration ``codes`` ran.

    Raises:
        ConfigError: ``index`` is outside ``[-n, n)``.
    """
    n = int(codes.size)
    if not -n <= index < n:
        raise ConfigError(f"exchange index {index!r} out of range for {n} exchanges")
    return circuit_for_code(int(codes[index]))


def widest_circuit(
    circuit_for_code: Callable[..., QuantumCircuit],
    codes: Iterable[int],
    *,
    eve: EveSpec | None,
    eve_basis_of: Callable[[int], int],
) -> int:
    """Qubits of the widest circuit a run with eavesdropper ``eve`` can draw.

    Args:
        circuit_for_code: The protocol's circuit of a configuration code, called as
            ``circuit_for_code(code, eve=eve)`` (a protocol refuses an attack it cannot
            run there, before anything runs).
        codes: Every configuration code the protocol uses.
        eve: The run's eavesdropper; inactive (or None): only the codes without
            Eve (``eve_basis_of(code) == NO_EVE``) can be drawn.
        eve_basis_of: Eve's basis in a code's configuration (``NO_EVE``: none).

    Raises:
        ConfigError: no code is left to build.
    """
    attacks = eve is not None and eve.active
    widths = [
        circuit_for_code(c, eve=eve).num_qubits
        for c in codes
        if attacks or eve_basis_of(c) == NO_EVE
    ]
    if not widths:
        raise ConfigError(f"no configuration code to build a circuit from (eve {eve!s})")
    return max(widths)


class PreparedChoices(Protocol):
    """What :class:`ChoiceRecords` needs of a protocol's choices: Alice's bits, uint8 (n,),
    and the configuration code of each exchange (:data:`~qkd_circuits.circuits.codes.Codes`)."""

    @property
    def alice_bits(self) -> NDArray[np.uint8]:
        """Alice's bits, uint8 0/1 (n,)."""
        ...

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange (:data:`~qkd_circuits.circuits.codes.Codes`)."""
        ...

    @property
    def eve(self) -> EveSpec | None:
        """The attack the choices were drawn for (None: no Eve)."""
        ...


ChoicesT = TypeVar("ChoicesT", bound=PreparedChoices)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceRecords(ABC, Generic[ChoicesT]):
    """Raw records of the quantum phase: the choices and Bob's and Eve's results, shape (n,).

    A protocol subclasses it with its choices class and :meth:`circuit_for_code`
    (e.g. :class:`~qkd_circuits.protocols.six_state.SixStateRecords`).

    Attributes:
        choices: The run's random choices.
        bob_bits: uint8 0/1, Bob's measurement results (his ``bob`` register).
        eve_bits: uint8 0/1, Eve's results (0 where she did not intercept).
    """

    choices: ChoicesT
    bob_bits: NDArray[np.uint8]
    eve_bits: NDArray[np.uint8]

    def __post_init__(self) -> None:
        names = ("bob_bits", "eve_bits")
        check_same_shape(self, names, self.choices.alice_bits.shape, like="the choices")

    @property
    def n(self) -> int:
        """Number of exchanges."""
        return int(self.bob_bits.size)

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange (:data:`~qkd_circuits.circuits.codes.Codes`)."""
        return self.choices.codes

    @abstractmethod
    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The protocol's circuit of one configuration code under Eve's attack ``eve``."""

    def circuit(self, index: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The circuit that exchange ``index`` ran (for inspection and drawing), under
        attack ``eve`` (None: the choices' own, ``choices.eve``).

        Raises:
            ConfigError: ``index`` is outside ``[-n, n)``.
        """
        attack = self.choices.eve if eve is None else eve
        return circuit_of_exchange(self.codes, index, partial(self.circuit_for_code, eve=attack))


__all__ = [
    "ChoiceRecords",
    "PreparedChoices",
    "check_same_shape",
    "circuit_of_exchange",
    "draw_secret_choices",
    "widest_circuit",
]
