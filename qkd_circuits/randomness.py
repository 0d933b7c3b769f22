"""Random-number conventions: secret draws and public draws, never mixed.

Two kinds of randomness (README, "Security model"):

* **Secret** draws: Alice's bits and bases, Bob's bases, Eve's choices, the
  simulator's outcome draws that become Bob's and Eve's results, and the
  simulated pre-shared authentication key. A reader of the report must learn
  nothing of them. In a normal (unseeded) run they come from
  :func:`secret_generator`: a ``numpy.random.Generator`` over the ChaCha20
  stream cipher (D. J. Bernstein, "ChaCha, a variant of Salsa20", 2008; 20
  rounds as in RFC 8439) keyed with 256 bits from the operating system's
  CSPRNG (``os.urandom``) — the construction the Linux kernel itself uses to
  expand its entropy pool into ``/dev/urandom``. The key is never written
  anywhere; the stream cannot be recomputed from anything the run publishes.
* **Public** draws: sample positions, Cascade shuffles, hash keys, the
  Toeplitz seed. They are announced on the public channel anyway; they may
  come from a seeded generator.

A run with an explicit seed (``--seed S``) is a *reproducible simulation*:
both streams are derived from ``S`` (as independent ``SeedSequence``
children), so anyone who has the report can recompute Alice's key. The
report says so (``"reproducible": true``). An unseeded run records no seed.

Every function that draws takes a keyword-only ``rng``. Public draws
normalise it with :func:`ensure_rng` (``None``: a fresh generator seeded
from OS entropy); secret draws with :func:`ensure_secret_rng` (``None``: a
fresh :func:`secret_generator`). Simulator seeds are drawn from the relevant
generator (:func:`draw_seed`), never computed as ``seed + i`` (Aer's
streams for ``s`` and ``s + 1`` are shifted copies of each other).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import randomgen

from qkd_circuits.errors import ConfigError

RNGLike = np.random.Generator | int | None

_KEY_BYTES = 32
_CHACHA_ROUNDS = 20


def _check_seed(rng: object) -> None:
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise ConfigError(f"rng must be a numpy Generator, an int seed or None, got {rng!r}")
    if int(rng) < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {rng!r}")


def ensure_rng(rng: RNGLike) -> np.random.Generator:
    """A generator for *public* draws: ``rng`` itself, ``default_rng(seed)``, or fresh (None)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    _check_seed(rng)
    return np.random.default_rng(int(rng))


def secret_generator() -> np.random.Generator:
    """A generator for *secret* draws: ChaCha20 keyed with 256 bits from ``os.urandom``.

    Each call draws a fresh key; the key lives only in this object's memory.
    """
    key = int.from_bytes(os.urandom(_KEY_BYTES), "big")
    return np.random.Generator(randomgen.ChaCha(key=key, counter=0, rounds=_CHACHA_ROUNDS))


def ensure_secret_rng(rng: RNGLike) -> np.random.Generator:
    """A generator for *secret* draws.

    ``None`` gives a fresh :func:`secret_generator` (OS CSPRNG); an int seed gives
    ``default_rng(seed)`` — a reproducible simulation, whose "secrets" anyone
    with the seed can recompute; a Generator is used as given.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return secret_generator()
    _check_seed(rng)
    return np.random.default_rng(int(rng))


def draw_seed(rng: np.random.Generator) -> int:
    """Draw a 63-bit seed for a simulator from ``rng``."""
    return int(rng.integers(0, 2**63 - 1, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class RunRandomness:
    """The random streams of one run.

    Attributes:
        choices: Secret: Alice's bits and bases, Bob's bases, Eve's choices.
        quantum: Secret: simulator seeds and outcome draws, scatter permutations.
        preshared_key: Secret: the simulated pre-shared authentication key.
        public: Public: sample positions, shuffles, hash keys, Toeplitz seed.
        seed: The run's seed, or None for a run whose secrets come from the OS CSPRNG.
    """

    choices: np.random.Generator
    quantum: np.random.Generator
    preshared_key: np.random.Generator
    public: np.random.Generator
    seed: int | None

    @classmethod
    def for_run(cls, seed: int | None) -> RunRandomness:
        """Streams for a run: derived from ``seed`` (reproducible), or fresh and secret (None).

        Raises:
            ConfigError: a seed that is not an integer >= 0.
        """
        if seed is None:
            return cls(
                choices=secret_generator(),
                quantum=secret_generator(),
                preshared_key=secret_generator(),
                public=np.random.default_rng(),
                seed=None,
            )
        _check_seed(seed)
        choices, quantum, preshared, public = (
            np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(4)
        )
        return cls(
            choices=choices, quantum=quantum, preshared_key=preshared, public=public, seed=int(seed)
        )

    @property
    def reproducible(self) -> bool:
        """True when every draw of the run can be recomputed from its recorded seed."""
        return self.seed is not None
