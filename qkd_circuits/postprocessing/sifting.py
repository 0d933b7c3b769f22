"""Sifting: keep the exchanges where Alice's and Bob's bases agree.

Bob announces his bases on the public channel, Alice answers which ones
match (Bennett & Brassard 1984). Neither message says anything about the bit
values, so both are sent with ``leaked_bits=0``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.bits import Bits, as_bits
from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel


@dataclass(frozen=True, slots=True, kw_only=True)
class SiftedKey:
    """The sifted key of both parties.

    Attributes:
        alice: Alice's sifted bits, uint8 (m,).
        bob: Bob's sifted bits, uint8 (m,).
        positions: Index of each sifted bit among the exchanges, int64 (m,).
        bases: Basis of each sifted bit, uint8 (m,): value ``i`` is ``basis_names[i]``
            (BB84: 0 = Z, 1 = X).
        basis_names: Name of each basis value.
        eve_bits: Eve's guess of each sifted bit (simulator only, for the report), uint8
            (m,), or None without Eve.
        eve_attacked: Which sifted exchanges Eve attacked, bool (m,), or None without Eve.
        eve_choice: Eve's choice in each sifted exchange (her basis for a random-basis
            intercept-resend, :mod:`~qkd_circuits.attacks.base`), int8 (m,), -1 where
            she did not attack, or None without Eve.
    """

    alice: Bits
    bob: Bits
    positions: NDArray[np.int64]
    bases: NDArray[np.uint8]
    basis_names: tuple[str, ...] = ("Z", "X")
    eve_bits: NDArray[np.uint8] | None = None
    eve_attacked: NDArray[np.bool_] | None = None
    eve_choice: NDArray[np.int8] | None = None

    @property
    def size(self) -> int:
        """Number of sifted bits."""
        return int(self.alice.size)

    def error_rate(self) -> float:
        """Actual fraction of positions where Alice's and Bob's bits differ (nan when empty).

        Only a simulator knows this; the protocol itself estimates it from a sample.
        """
        return _error_rate(self.alice, self.bob)

    def error_rate_by_basis(self) -> dict[str, float]:
        """Actual error rate among the sifted bits of each basis (nan for an empty basis)."""
        return {
            name: errors / bits if bits else float("nan")
            for name, (bits, errors) in self.tally()["by_basis"].items()
        }

    def with_eve(
        self, *, eve_choice: NDArray[np.integer], eve_bits: NDArray[np.uint8]
    ) -> SiftedKey:
        """This key with Eve's results at its positions, for the report (simulator only).

        Args:
            eve_choice: Eve's choice in each exchange, int (n,) over all exchanges, -1
                where she did not attack (the protocols' ``eve_bases``).
            eve_bits: Eve's guess of Alice's bit in each exchange, uint8 (n,).

        Returns this key unchanged when Eve attacked none of its bits: she has no
        guess, so the report gives her none (and no hash of one).
        """
        choice = np.asarray(eve_choice)[self.positions].astype(np.int8)
        if not np.any(choice >= 0):
            return self
        return replace(
            self,
            eve_bits=np.asarray(eve_bits, dtype=np.uint8)[self.positions],
            eve_attacked=choice >= 0,
            eve_choice=choice,
        )

    def eve_agreement(self) -> float | None:
        """Fraction of sifted, attacked exchanges where Eve's guess equals Alice's bit
        (None if Eve attacked none). Intercept-resend in BB84 gives 3/4."""
        attacked, agree = self.tally()["eve"]
        return agree / attacked if attacked else None

    def tally(self) -> dict[str, Any]:
        """The counts behind :meth:`error_rate_by_basis`, :meth:`eve_agreement` and Eve's
        knowledge (:mod:`~qkd_circuits.attacks.knowledge`), for pooling several blocks of
        one run: ``{"by_basis": {name: [bits, errors]}, "eve": [attacked sifted bits, of
        them where Eve's guess equals Alice's bit], "eve_joint": {"CHOICE,BASIS": [n00,
        n01, n10, n11]}}``, the last the sifted bits Eve attacked counted by her choice,
        their basis value and (Alice's bit, Eve's guess)."""
        k = len(self.basis_names)
        bits = np.bincount(self.bases, minlength=k)
        errors = np.bincount(self.bases[self.alice != self.bob], minlength=k)
        by_basis = {
            name: [int(bits[value]), int(errors[value])]
            for value, name in enumerate(self.basis_names)
        }
        eve = [0, 0]
        if self.eve_bits is not None and self.eve_attacked is not None:
            hit = self.eve_attacked
            agree = self.eve_bits[hit] == self.alice[hit]
            eve = [int(np.count_nonzero(hit)), int(np.count_nonzero(agree))]
        return {"by_basis": by_basis, "eve": eve, "eve_joint": self._eve_joint()}

    def _eve_joint(self) -> dict[str, list[int]]:
        if self.eve_bits is None or self.eve_choice is None:
            return {}
        hit = self.eve_choice >= 0
        k = len(self.basis_names)
        choice = self.eve_choice[hit].astype(np.int64)
        cell = (choice * k + self.bases[hit]) * 4 + 2 * self.alice[hit] + self.eve_bits[hit]
        counts = np.bincount(cell, minlength=4 * k * (int(choice.max(initial=0)) + 1))
        return {
            f"{group // k},{group % k}": [int(c) for c in counts[4 * group : 4 * group + 4]]
            for group in range(counts.size // 4)
            if counts[4 * group : 4 * group + 4].any()
        }


def _error_rate(a: Bits, b: Bits) -> float:
    """Fraction of positions where ``a`` and ``b`` differ; nan for empty arrays."""
    return float(np.mean(a != b)) if a.size else float("nan")


def sift(
    alice_bits: ArrayLike,
    alice_bases: ArrayLike,
    bob_bits: ArrayLike,
    bob_bases: ArrayLike,
    *,
    channel: PublicChannel | None = None,
    stage: str = "sifting",
) -> SiftedKey:
    """Keep the exchanges measured in the basis they were prepared in.

    Args:
        alice_bits, alice_bases, bob_bits, bob_bases: uint8 0/1 arrays of shape (n,).
        channel: Public channel on which the basis announcements are recorded.
        stage: Stage name on the channel.

    Raises:
        ConfigError: on non-binary input or arrays of different lengths.
    """
    arrays = {
        "alice_bits": as_bits(alice_bits, name="alice_bits"),
        "alice_bases": as_bits(alice_bases, name="alice_bases"),
        "bob_bits": as_bits(bob_bits, name="bob_bits"),
        "bob_bases": as_bits(bob_bases, name="bob_bases"),
    }
    sizes = {k: v.size for k, v in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise ConfigError(f"sifting needs arrays of one length, got {sizes}")
    match = arrays["alice_bases"] == arrays["bob_bases"]
    if channel is not None:
        channel.send(stage, "bob", arrays["bob_bases"])
        channel.send(stage, "alice", match.astype(np.uint8))
    positions = np.flatnonzero(match)
    return SiftedKey(
        alice=arrays["alice_bits"][positions],
        bob=arrays["bob_bits"][positions],
        positions=positions.astype(np.int64),
        bases=arrays["alice_bases"][positions],
    )
