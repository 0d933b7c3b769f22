"""Choosing physical qubits from a device's calibration, and what that calibration predicts.

A circuit transpiled for a device without a layout lands on physical qubit 0,
which on some devices is one of the worst (FakeTorino's qubit 0 misreads 16.7%
of its shots; DESIGN.md, "Pitfalls measured"). Here the qubits are chosen from
the backend's :class:`~qiskit.transpiler.Target`: the error of ``measure``
(readout assignment error), of the single-qubit pulses ``sx``/``x`` and, for a
two-qubit slot (the signal plus Eve's probe), of the native two-qubit gate
(``cz``, ``ecr`` or ``cx``) on a connected pair.

The no-Eve BB84 QBER model
--------------------------
On a sifted exchange Bob measures in Alice's basis, so just before readout the
signal qubit ideally holds Alice's bit ``b`` in the computational basis. Two
independent things flip it:

* readout assignment error: ``P(read 1-b | b)``. Alice's bits are uniform, so
  the average ``r = (P(1|0) + P(0|1)) / 2`` counts, which is exactly the
  ``measure`` error IBM reports (``readout_error`` in the device properties);
* gate error: each physical single-qubit pulse (``sx`` or ``x``, ``rz`` is
  virtual and error-free) with error per gate ``e`` flips the bit with
  probability about ``e`` (for a depolarising error of average gate infidelity
  ``e``, ``rho -> (1-l) rho + l I/2`` with ``e = l/2``, the bit flips with
  probability ``l/2 = e``). The preset pass manager at optimisation level 1
  compiles the four sifted configurations to 0 (Z, bit 0), 1 (Z, bit 1: one
  ``x``), 2 (X, bit 0: ``H`` then ``H``, one ``sx`` each) and 2 (X, bit 1: ``X H``
  merged, then ``H``) pulses: :data:`PULSES_PER_SIFTED_EXCHANGE` = 1.25 on average.

So ``g = 1.25 e`` and ``QBER = r (1 - g) + g (1 - r)``. Readout dominates on
current devices (``r`` ~ 0.5-3 %, ``e`` ~ 0.03 %). The model leaves out decay
between gates (the circuits are a few tens of ns long against T1 ~ 100 us)
and leakage; :func:`qber_model_allowance` is the documented size of its
uncertainty: the whole gate term (the Pauli content of a real gate error
decides how much of it flips the bit, between none and all of it) plus 10 %
of the readout term (calibrations drift between the snapshot and the run; on
a fake backend the readout term is exact, Aer applies the same numbers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qiskit.providers import BackendV2

from qkd_circuits.errors import ConfigError

PULSES_PER_SIFTED_EXCHANGE = 1.25
"""Mean number of physical single-qubit pulses on the signal qubit per sifted BB84 exchange."""

SINGLE_QUBIT_PULSES = ("sx", "x")
"""The physical single-qubit gates of IBM devices (``rz`` is a virtual frame change)."""

TWO_QUBIT_GATES = ("cz", "ecr", "cx")
"""Native two-qubit gates looked for, in this order, for a signal + probe pair."""

READOUT_DRIFT_ALLOWANCE = 0.10
"""Relative uncertainty granted to the readout term of the QBER model (calibration drift)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QubitCalibration:
    """The calibration of the physical qubits one exchange runs on (a *slot*).

    Index 0 is the signal qubit (Alice -> Bob); index 1, when present, is Eve's
    probe. Values are the device's own numbers, as reported in its ``Target``
    (errors are probabilities, times in seconds); None where the device does
    not report a value.

    Attributes:
        backend: Name of the backend the numbers come from.
        qubits: Physical qubit indices, signal first.
        readout_errors: Readout assignment error of each qubit (``measure`` error).
        prob_meas1_prep0: ``P(read 1 | prepared 0)`` of each qubit, if reported.
        prob_meas0_prep1: ``P(read 0 | prepared 1)`` of each qubit, if reported.
        gate_errors: Per qubit, single-qubit gate name -> error per gate.
        two_qubit_gate: Native two-qubit gate of the pair (None for one qubit).
        two_qubit_error: Its error on this pair (None for one qubit).
        t1: Relaxation time of each qubit (s).
        t2: Dephasing time of each qubit (s).
    """

    backend: str
    qubits: tuple[int, ...]
    readout_errors: tuple[float, ...]
    prob_meas1_prep0: tuple[float | None, ...] = ()
    prob_meas0_prep1: tuple[float | None, ...] = ()
    gate_errors: tuple[dict[str, float], ...] = field(default=())
    two_qubit_gate: str | None = None
    two_qubit_error: float | None = None
    t1: tuple[float | None, ...] = ()
    t2: tuple[float | None, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.qubits)
        if n not in (1, 2):
            raise ConfigError(f"a slot has 1 or 2 qubits (signal, probe), got {self.qubits!r}")
        if len(set(self.qubits)) != n or any(q < 0 for q in self.qubits):
            raise ConfigError(
                f"slot qubits must be distinct non-negative ints, got {self.qubits!r}"
            )
        for name in ("readout_errors", "prob_meas1_prep0", "prob_meas0_prep1", "t1", "t2"):
            value = getattr(self, name)
            if (name == "readout_errors" or value) and len(value) != n:
                raise ConfigError(f"{name} has {len(value)} entries for {n} qubits")
        if self.gate_errors and len(self.gate_errors) != n:
            raise ConfigError(f"gate_errors has {len(self.gate_errors)} entries for {n} qubits")
        for err in self.readout_errors:
            if not 0.0 <= err <= 1.0:
                raise ConfigError(f"readout error must be in [0, 1], got {err!r}")
        if n == 2 and self.two_qubit_error is None:
            raise ConfigError(f"a two-qubit slot {self.qubits!r} needs its two-qubit gate error")

    @property
    def signal_qubit(self) -> int:
        """The physical qubit Alice's signal is prepared, sent and measured on."""
        return self.qubits[0]

    @property
    def pulse_error(self) -> float:
        """Error per physical single-qubit pulse of the signal qubit (max of sx, x; 0 if absent)."""
        errors = self.gate_errors[0] if self.gate_errors else {}
        values = [errors[g] for g in SINGLE_QUBIT_PULSES if g in errors]
        return max(values, default=0.0)

    @property
    def predicted_qber(self) -> float:
        """Expected no-Eve BB84 QBER on this slot; see :func:`predicted_bb84_qber`."""
        return predicted_bb84_qber(self)

    @property
    def score(self) -> float:
        """What qubit selection minimises: predicted QBER, plus the pair's 2-qubit gate
        error and the probe's readout error for a two-qubit slot."""
        score = self.predicted_qber
        if len(self.qubits) == 2:
            score += (self.two_qubit_error or 0.0) + self.readout_errors[1]
        return score

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (also what the report shows)."""
        return {
            "backend": self.backend,
            "qubits": list(self.qubits),
            "readout_errors": list(self.readout_errors),
            "prob_meas1_prep0": list(self.prob_meas1_prep0),
            "prob_meas0_prep1": list(self.prob_meas0_prep1),
            "gate_errors": [dict(g) for g in self.gate_errors],
            "two_qubit_gate": self.two_qubit_gate,
            "two_qubit_error": self.two_qubit_error,
            "t1": list(self.t1),
            "t2": list(self.t2),
            "predicted_qber": self.predicted_qber,
            "qber_model_allowance": qber_model_allowance(self),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QubitCalibration:
        """Inverse of :meth:`to_dict` (derived fields are recomputed, not read)."""
        try:
            return cls(
                backend=str(data["backend"]),
                qubits=tuple(int(q) for q in data["qubits"]),
                readout_errors=tuple(float(e) for e in data["readout_errors"]),
                prob_meas1_prep0=tuple(_opt_float(v) for v in data.get("prob_meas1_prep0", ())),
                prob_meas0_prep1=tuple(_opt_float(v) for v in data.get("prob_meas0_prep1", ())),
                gate_errors=tuple(
                    {str(k): float(v) for k, v in g.items()} for g in data.get("gate_errors", ())
                ),
                two_qubit_gate=data.get("two_qubit_gate"),
                two_qubit_error=_opt_float(data.get("two_qubit_error")),
                t1=tuple(_opt_float(v) for v in data.get("t1", ())),
                t2=tuple(_opt_float(v) for v in data.get("t2", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed qubit calibration record: {exc!r}") from None


def predicted_bb84_qber(
    calibration: QubitCalibration, *, pulses: float = PULSES_PER_SIFTED_EXCHANGE
) -> float:
    """Expected QBER of no-Eve BB84 on a slot's signal qubit, from its calibration.

    ``QBER = r (1 - g) + g (1 - r)`` with ``r`` the readout assignment error and
    ``g = pulses * e`` the flip probability from ``pulses`` single-qubit pulses
    of error ``e`` each (module docstring). Readout dominates.

    Args:
        calibration: The slot's calibration (signal qubit = ``qubits[0]``).
        pulses: Mean physical pulses per sifted exchange (1.25 for IBM's sx/x/rz basis).

    Returns:
        Probability in [0, 1].
    """
    if pulses < 0:
        raise ConfigError(f"pulses must be >= 0, got {pulses!r}")
    r = calibration.readout_errors[0]
    g = min(1.0, pulses * calibration.pulse_error)
    return r * (1.0 - g) + g * (1.0 - r)


def qber_model_allowance(
    calibration: QubitCalibration, *, pulses: float = PULSES_PER_SIFTED_EXCHANGE
) -> float:
    """Documented uncertainty of :func:`predicted_bb84_qber`: gate term + 10 % of readout.

    A measured QBER is *consistent* with the calibration when it lies within
    a few binomial standard errors plus this allowance of the prediction.
    """
    g = min(1.0, pulses * calibration.pulse_error)
    return g + READOUT_DRIFT_ALLOWANCE * calibration.readout_errors[0]


def mean_predicted_qber(
    calibrations: Sequence[QubitCalibration], weights: Sequence[float] | None = None
) -> float:
    """Predicted QBER of exchanges spread over several slots (weights: exchanges per slot)."""
    if not calibrations:
        raise ConfigError("need at least one slot calibration")
    w = [1.0] * len(calibrations) if weights is None else [float(x) for x in weights]
    if len(w) != len(calibrations) or sum(w) <= 0 or min(w) < 0:
        raise ConfigError(f"weights {list(w)!r} do not match {len(calibrations)} slots")
    return sum(c.predicted_qber * x for c, x in zip(calibrations, w, strict=True)) / sum(w)


# -- reading the Target --------------------------------------------------------


def _opt_float(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def _error(backend: BackendV2, gate: str, qubits: tuple[int, ...]) -> float | None:
    target = backend.target
    if gate not in target.operation_names:
        return None
    props = target[gate].get(qubits)
    if props is None:
        return None
    return _opt_float(props.error)


def device_properties(backend: BackendV2) -> Any:
    """The device's BackendProperties when it has them (fake and IBM devices), else None."""
    properties = getattr(backend, "properties", None)
    if properties is None:
        return None
    try:
        return properties()
    except Exception:  # a BackendV2 without properties
        return None


def _readout_asymmetry(props: Any, qubit: int) -> tuple[float | None, float | None]:
    """``(P(1|0), P(0|1))`` from the device properties, if reported."""
    if props is None:
        return None, None
    try:
        values = props.qubit_property(qubit)
    except Exception:  # qubit or fields not reported
        return None, None
    p10 = values.get("prob_meas1_prep0")
    p01 = values.get("prob_meas0_prep1")
    return (
        _opt_float(p10[0]) if p10 else None,
        _opt_float(p01[0]) if p01 else None,
    )


@dataclass(frozen=True, slots=True)
class _QubitInfo:
    readout: float
    p10: float | None
    p01: float | None
    gates: dict[str, float]
    t1: float | None
    t2: float | None


class _Reader:
    """Reads each qubit's calibration once (``properties()`` is slow on large devices)."""

    def __init__(self, backend: BackendV2) -> None:
        self.backend = backend
        self.name = str(backend.name)
        self._props: Any = None
        self._props_read = False
        self._cache: dict[int, _QubitInfo | None] = {}

    def qubit(self, q: int) -> _QubitInfo | None:
        if q in self._cache:
            return self._cache[q]
        info: _QubitInfo | None = None
        readout = _error(self.backend, "measure", (q,))
        if readout is not None:
            if not self._props_read:
                self._props = device_properties(self.backend)
                self._props_read = True
            p10, p01 = _readout_asymmetry(self._props, q)
            gates = {
                g: e
                for g in SINGLE_QUBIT_PULSES
                if (e := _error(self.backend, g, (q,))) is not None
            }
            qprops = self.backend.target.qubit_properties
            props = qprops[q] if qprops is not None and q < len(qprops) else None
            info = _QubitInfo(
                readout=readout,
                p10=p10,
                p01=p01,
                gates=gates,
                t1=_opt_float(getattr(props, "t1", None)),
                t2=_opt_float(getattr(props, "t2", None)),
            )
        self._cache[q] = info
        return info

    def usable(self, q: int) -> bool:
        info = self.qubit(q)
        return info is not None and info.readout < 0.5 and bool(info.gates)

    def slot(self, qubits: tuple[int, ...]) -> QubitCalibration:
        infos = []
        for q in qubits:
            if not 0 <= q < self.backend.num_qubits:
                raise ConfigError(
                    f"qubit {q} does not exist on {self.name} "
                    f"(qubits 0..{self.backend.num_qubits - 1})"
                )
            info = self.qubit(q)
            if info is None:
                raise ConfigError(f"qubit {q} of {self.name} has no calibrated 'measure'")
            infos.append(info)
        link: tuple[str, float] | None = None
        if len(qubits) == 2:
            link = two_qubit_link(self.backend, qubits[0], qubits[1])
            if link is None:
                raise ConfigError(
                    f"qubits {qubits[0]} and {qubits[1]} of {self.name} are not coupled by a "
                    f"calibrated {' / '.join(TWO_QUBIT_GATES)}; a signal + probe slot needs a "
                    "connected pair"
                )
        return QubitCalibration(
            backend=self.name,
            qubits=qubits,
            readout_errors=tuple(i.readout for i in infos),
            prob_meas1_prep0=tuple(i.p10 for i in infos),
            prob_meas0_prep1=tuple(i.p01 for i in infos),
            gate_errors=tuple(dict(i.gates) for i in infos),
            two_qubit_gate=None if link is None else link[0],
            two_qubit_error=None if link is None else link[1],
            t1=tuple(i.t1 for i in infos),
            t2=tuple(i.t2 for i in infos),
        )


def usable_qubits(backend: BackendV2) -> list[int]:
    """Qubits with a calibrated ``measure`` (error < 0.5) and calibrated single-qubit pulses."""
    reader = _Reader(backend)
    return [q for q in range(backend.num_qubits) if reader.usable(q)]


def two_qubit_link(backend: BackendV2, a: int, b: int) -> tuple[str, float] | None:
    """The native two-qubit gate between ``a`` and ``b`` and its lowest calibrated error.

    Either direction counts (the transpiler orients the gate); a direction without
    a reported error is not used.
    """
    for gate in TWO_QUBIT_GATES:
        errors = [
            e
            for e in (_error(backend, gate, (a, b)), _error(backend, gate, (b, a)))
            if e is not None
        ]
        if errors:
            return gate, min(errors)
    return None


def qubit_calibration(backend: BackendV2, qubits: Sequence[int]) -> QubitCalibration:
    """Read a slot's calibration from ``backend.target`` (and ``properties()`` if present).

    Args:
        backend: A BackendV2 with a calibrated Target (fake or real IBM device).
        qubits: The slot's physical qubits, signal first (1 or 2 of them; a pair
            must be coupled by a native two-qubit gate).

    Raises:
        ConfigError: if a qubit does not exist, has no calibrated ``measure``,
            or a pair is not coupled.
    """
    return _Reader(backend).slot(tuple(int(q) for q in qubits))


def rank_slots(backend: BackendV2, *, width: int = 1) -> list[QubitCalibration]:
    """Every candidate slot of ``width`` qubits, lowest :attr:`~QubitCalibration.score` first.

    Width 1: each usable qubit. Width 2: each coupled pair of usable qubits, in
    both orientations (signal, probe).
    """
    if width not in (1, 2):
        raise ConfigError(f"slot width must be 1 (signal) or 2 (signal + probe), got {width!r}")
    reader = _Reader(backend)
    usable = {q for q in range(backend.num_qubits) if reader.usable(q)}
    if width == 1:
        slots = [reader.slot((q,)) for q in sorted(usable)]
    else:
        pairs: set[tuple[int, int]] = set()
        for gate in TWO_QUBIT_GATES:
            if gate not in backend.target.operation_names:
                continue
            for qargs in backend.target[gate]:
                if qargs is not None and len(qargs) == 2 and set(qargs) <= usable:
                    a, b = qargs
                    pairs.update({(a, b), (b, a)})
        slots = []
        for pair in sorted(pairs):
            if two_qubit_link(backend, *pair) is not None:
                slots.append(reader.slot(pair))
    slots.sort(key=lambda c: (c.score, c.qubits))
    return slots


def choose_slots(
    backend: BackendV2,
    *,
    count: int = 1,
    width: int = 1,
    exclude: Iterable[int] = (),
) -> tuple[QubitCalibration, ...]:
    """Choose ``count`` disjoint slots with the lowest calibrated error (greedy, best first).

    Args:
        backend: The device.
        count: Number of slots (one exchange runs on each slot per shot).
        width: 1 (signal only) or 2 (signal + Eve's probe, a coupled pair).
        exclude: Physical qubits not to use.

    Returns:
        ``count`` calibrations, best first.

    Raises:
        ConfigError: if the device has fewer than ``count`` usable disjoint slots.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"slot count must be a positive integer, got {count!r}")
    used = set(exclude)
    chosen: list[QubitCalibration] = []
    for slot in rank_slots(backend, width=width):
        if used.intersection(slot.qubits):
            continue
        chosen.append(slot)
        used.update(slot.qubits)
        if len(chosen) == count:
            return tuple(chosen)
    raise ConfigError(
        f"{backend.name} has only {len(chosen)} usable disjoint slot(s) of width {width}, "
        f"{count} requested"
    )
