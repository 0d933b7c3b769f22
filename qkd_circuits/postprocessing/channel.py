"""The public classical channel: one object that records every message.

Alice and Bob talk over an authenticated public channel. Every stage of the
post-processing sends its messages through a :class:`PublicChannel`, which
keeps

* the transcript (what was said, by whom, in which stage) — authenticated
  as a whole by :mod:`qkd_circuits.postprocessing.authentication`;
* ``leaked_bits`` per stage: how many bits of information *about the key*
  the stage disclosed (Cascade parities, sampled key bits, verification
  tags). Basis announcements, sample positions and hash seeds are public but
  independent of the key, so they are sent with ``leaked_bits=0``.

The final key length is computed from this record, never guessed
(cascade-python's ClassicalChannel counts parities the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.errors import ConfigError

Party = Literal["alice", "bob"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message on the public channel.

    Attributes:
        stage: Name of the post-processing stage that sent it (e.g. ``"cascade"``).
        sender: ``"alice"`` or ``"bob"``.
        payload: The message bytes as sent.
        leaked_bits: Bits of information about the key this message discloses.
    """

    stage: str
    sender: Party
    payload: bytes
    leaked_bits: int


class PublicChannel:
    """Records every public message and counts leaked bits per stage."""

    def __init__(self) -> None:
        self._messages: list[Message] = []

    def send(
        self,
        stage: str,
        sender: Party,
        payload: bytes | NDArray[np.generic],
        *,
        leaked_bits: int = 0,
    ) -> None:
        """Record one message.

        Args:
            stage: Stage name; leakage is reported per stage.
            sender: ``"alice"`` or ``"bob"``.
            payload: Bytes, or a numpy array (a 1-D uint8 array of 0s and 1s is
                bit-packed; any other array, a uint8 array with other values
                included, is stored as its raw bytes, so the transcript that is
                authenticated is always the message itself).
            leaked_bits: Bits this message discloses about the key (>= 0).
        """
        if sender not in ("alice", "bob"):
            raise ConfigError(f"sender must be 'alice' or 'bob', got {sender!r}")
        if leaked_bits < 0:
            raise ConfigError(f"leaked_bits must be >= 0, got {leaked_bits!r}")
        if isinstance(payload, np.ndarray):
            as_uint8 = np.asarray(payload, dtype=np.uint8) if payload.dtype == np.uint8 else None
            if as_uint8 is not None and as_uint8.ndim == 1 and not np.any(as_uint8 > 1):
                data = np.packbits(as_uint8).tobytes()
            else:
                data = np.ascontiguousarray(payload).tobytes()
        else:
            data = bytes(payload)
        self._messages.append(
            Message(stage=stage, sender=sender, payload=data, leaked_bits=int(leaked_bits))
        )

    def extend(self, other: PublicChannel) -> None:
        """Record every message of ``other`` after this channel's, in their order."""
        self._messages.extend(other._messages)

    @property
    def messages(self) -> tuple[Message, ...]:
        """All messages in the order sent."""
        return tuple(self._messages)

    def leaked_bits(self) -> dict[str, int]:
        """Leaked bits per stage, in the order stages first spoke."""
        out: dict[str, int] = {}
        for m in self._messages:
            out[m.stage] = out.get(m.stage, 0) + m.leaked_bits
        return out

    def total_leaked_bits(self, *, stage: str | None = None) -> int:
        """Leaked bits of one stage, or of all stages when ``stage`` is None."""
        return sum(m.leaked_bits for m in self._messages if stage is None or m.stage == stage)

    def message_count(self, *, stage: str | None = None) -> int:
        """Number of messages of one stage, or of all stages."""
        return sum(1 for m in self._messages if stage is None or m.stage == stage)

    def transcript(self, *, sender: Party | None = None) -> bytes:
        """The transcript as bytes, each message framed as stage, sender, length, payload.

        The framing is unambiguous, so two different transcripts never give the
        same bytes (needed for authentication).
        """
        parts: list[bytes] = []
        for m in self._messages:
            if sender is not None and m.sender != sender:
                continue
            head = f"{m.stage}\x00{m.sender}\x00".encode()
            parts.append(len(head).to_bytes(4, "big") + head)
            parts.append(len(m.payload).to_bytes(8, "big") + m.payload)
        return b"".join(parts)
