"""The report of one run: a frozen record whose ``to_dict()`` is the JSON report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qkd_circuits.bits import Bits
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.protocols.bb84 import ExchangeRecords


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """What happened in one run. JSON field names are stable across releases.

    Attributes:
        protocol: Protocol name, e.g. ``"bb84"``.
        qubits: Number of exchanges (qubits sent).
        seed: Seed of the run's random generator (reproduces it with the same ``versions``).
        backend: Backend spec, e.g. ``"aer"``.
        backend_info: What the executor reports about itself.
        noise: Non-zero noise parameters by spec name.
        eve: Attack kind and fraction.
        sifted_bits: Length of the sifted key.
        sample_bits: Sifted bits disclosed to estimate the QBER.
        sample_errors: Errors among the disclosed bits.
        qber: QBER estimated from the disclosed sample (nan if there is none).
        qber_upper: Finite-sample upper bound on the QBER of the undisclosed key.
        qber_actual: Actual error rate of the whole sifted key (known to the simulator).
        qber_by_basis: Actual error rate of the sifted key per basis (``"Z"``, ``"X"``).
        qber_threshold: Estimated QBER above which the run aborts.
        eve_agreement: Fraction of the sifted bits Eve attacked on which her result
            equals Alice's bit (None without Eve).
        aborted: True when no key was emitted.
        abort_reason: Machine-readable reason (None when not aborted).
        abort_message: Human-readable explanation (None when not aborted).
        timings_s: Seconds per stage; ``"quantum"`` is circuit build + execution.
        versions: Python and package versions.
        records: The raw records (not in the JSON).
        sifted: The sifted key (not in the JSON).
    """

    protocol: str
    qubits: int
    seed: int
    backend: str
    backend_info: dict[str, Any]
    noise: dict[str, float]
    eve: dict[str, Any]
    sifted_bits: int
    sample_bits: int
    sample_errors: int
    qber: float
    qber_upper: float
    qber_actual: float
    qber_by_basis: dict[str, float]
    qber_threshold: float
    eve_agreement: float | None
    aborted: bool
    abort_reason: str | None
    abort_message: str | None
    timings_s: dict[str, float]
    versions: dict[str, str]
    records: ExchangeRecords | None = field(default=None, repr=False, compare=False)
    sifted: SiftedKey | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report as plain Python values (nan becomes None)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name in _NOT_IN_JSON:
                continue
            out[name] = _plain(getattr(self, name))
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """The JSON report as a string."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


_NOT_IN_JSON = frozenset({"records", "sifted"})


def _plain(value: Any) -> Any:
    """Convert numpy scalars, nan and nested containers to JSON-safe values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    return value


def eve_agreement(records: ExchangeRecords, sifted: SiftedKey) -> float | None:
    """Fraction of sifted, attacked exchanges where Eve's bit equals Alice's (None if none).

    For intercept-resend this is 3/4: Eve's basis is right half the time
    (then she is always right) and wrong half the time (then she guesses).
    """
    attacked = records.eve_bases[sifted.positions] >= 0
    if not attacked.any():
        return None
    eve: Bits = records.eve_bits[sifted.positions][attacked]
    return float(np.mean(eve == sifted.alice[attacked]))
