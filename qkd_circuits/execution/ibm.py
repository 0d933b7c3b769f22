"""Executors for IBM Quantum devices: their fake snapshots, the runtime's local mode, and hardware.

One :class:`BackendExecutor` serves three routes behind the
:class:`~qkd_circuits.execution.base.Executor` interface:

* ``fake:NAME`` (route ``"aer"``, the default for fakes): a fake backend of
  ``qiskit_ibm_runtime.fake_provider`` simulated by ``AerSimulator.from_backend``
  (the device snapshot's noise: readout assignment errors, gate errors,
  thermal relaxation) through Aer's ``SamplerV2``. Quick and noise-faithful.
* ``fake:NAME`` with ``local_runtime=True`` (route ``"local"``): the runtime's
  *local testing mode*: the same :class:`~qiskit_ibm_runtime.Batch` and
  client-side ``qiskit_ibm_runtime.executor_sampler.Sampler`` as hardware,
  with the fake backend as the device. This is the hardware submission path,
  run without network or account. Slow on large devices (the runtime rebuilds
  the device's noise model for every job).
* ``ibm:NAME`` / ``ibm:least-busy`` (route ``"ibm"``): IBM Quantum hardware
  through :class:`~qiskit_ibm_runtime.QiskitRuntimeService`, in a ``Batch``
  (sessions are refused on the open plan). Credentials come only from the
  user's saved account or ``QISKIT_IBM_TOKEN`` / ``QISKIT_IBM_INSTANCE``; this
  module never writes, prints or logs a token, and fails at once, without
  touching the network, when there is none.

The sampler class: qiskit-ibm-runtime 0.50 deprecated its server-side
``SamplerV2`` ("The SamplerV2 class is deprecated as of qiskit-ibm-runtime
0.50.0 ... `qiskit_ibm_runtime.executor_sampler.Sampler` provides a new
Sampler implementation that runs all the pre- and post-processing in the
client side"); we use ``executor_sampler.Sampler``, with twirling and
dynamical decoupling off (no error suppression or mitigation: every error the
device makes reaches the QBER and counts as Eve's).

How exchanges become jobs (hardware economy):

* every input circuit (one per configuration, :func:`~qkd_circuits.execution.base.run_grouped`)
  is transpiled to the device's ISA with ``generate_preset_pass_manager(
  optimization_level=1, backend=..., initial_layout=[chosen qubits])``, the
  qubits chosen from the device's calibration
  (:mod:`qkd_circuits.execution.calibration`), never left on qubit 0;
* the client-side sampler needs one shot count per job, so all circuits
  (PUBs) run with the same number of shots ``S``; a circuit that needs ``d``
  shots gets ``ceil(d / S)`` *slots* and its surplus shots are discarded
  unread (which shots are kept never depends on their outcome);
* ``pack=True`` places many exchanges side by side in one circuit, one per
  slot (a qubit, or a coupled signal + probe pair when Eve is present), so a
  shot yields many exchanges. Slots are the best-calibrated disjoint qubits;
  different configurations share a circuit; results are unpacked back to
  each input circuit with exactly the requested number of shots;
* :class:`ShotBudget` (shots and an estimated QPU time) is computed, handed to
  ``on_budget`` and checked against ``max_total_shots`` *before* anything is
  submitted.

Jobs survive the client: :meth:`BackendExecutor.submit` returns a
JSON-serialisable :class:`SubmittedJob` (job ids, device, layout, the ISA
circuits as QPY, the calibration of the chosen qubits, the shot plan), and
:func:`fetch_job` turns it into per-circuit outcomes later, in another
process (see :mod:`qkd_circuits.execution.run_store`). Simulated jobs
(routes ``aer``/``local``) are kept in memory while the process lives and
otherwise re-run from their recorded seeds, which reproduces them exactly
with the same package versions.

Simulator seeds: every simulated job gets its own seed from a
``numpy.random.SeedSequence`` seeded by one draw from the run's Generator.
Aer gives the circuits of one ``run`` call independent streams (measured:
8 BB84 configurations x 20,000 shots in one call on FakeManilaV2, the 28
pairwise correlations of their error indicators give chi^2 = 35 on 28 degrees
of freedom), so the ``aer`` route submits one job. Local mode, however, runs
every PUB of a job as its own Aer call with the *same* seed: two identical
PUBs in one seeded local-mode job return identical shots (measured, 4000
shots), and different configurations get correlated errors. The ``local``
route therefore submits one job per PUB, each with its own seed.
"""

from __future__ import annotations

import base64
import functools
import inspect
import io
import math
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from qiskit import qpy
from qiskit.circuit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.providers import BackendV2
from qiskit.transpiler import generate_preset_pass_manager

from qkd_circuits.errors import BackendError, ConfigError
from qkd_circuits.execution.base import GroupPlan, Outcomes
from qkd_circuits.execution.calibration import (
    QubitCalibration,
    choose_slots,
    device_properties,
    qber_model_allowance,
    qubit_calibration,
    rank_slots,
)
from qkd_circuits.randomness import RNGLike, draw_seed, ensure_secret_rng

Route = Literal["aer", "local", "ibm"]
ExecutionMode = Literal["job", "batch"]

MAX_CIRCUIT_QUBITS = 2
"""Widest exchange circuit the device path runs in one slot: the signal and Eve's probe."""

OPTIMIZATION_LEVEL = 1
"""Preset pass-manager level: layout as given, 1-qubit gate merging, no approximation."""

DEFAULT_PACK_SLOTS = 16
"""Slots per packed circuit when ``pack=True`` and ``slots`` is not given."""

DEFAULT_REP_DELAY_S = 250e-6
"""Delay between shots assumed when the device does not report ``default_rep_delay``."""

JOB_OVERHEAD_S = 2.0
"""Assumed fixed QPU time per hardware job (loading, compilation), in seconds."""

EXECUTION_TIME_MARGIN = 3.0
"""A job's server-side cap is this many times its estimated QPU time."""

MIN_EXECUTION_TIME_S = 60
"""Smallest server-side cap (s): covers job start-up whatever the estimate."""

MAX_EXECUTION_TIME_S = 10_800
"""Largest server-side cap (s): IBM Quantum's longest allowed job (3 hours)."""

PUB_OVERHEAD_SHOTS = 100
"""Cost of one more circuit in a job, in shot-equivalents, when choosing the shot plan."""

DEFAULT_MAX_SHOTS = 100_000
"""Shots per circuit allowed when the device does not report ``max_shots``."""

SAMPLER_CLASS = "qiskit_ibm_runtime.executor_sampler.Sampler"

NO_ACCOUNT_MESSAGE = (
    "no IBM Quantum account found. Save one once (it is stored in ~/.qiskit/qiskit-ibm.json):\n"
    '  python -c "from qiskit_ibm_runtime import QiskitRuntimeService; '
    "QiskitRuntimeService.save_account(token='YOUR_API_KEY', instance='YOUR_CRN', "
    'set_as_default=True)"\n'
    "or set the environment variables QISKIT_IBM_TOKEN (and QISKIT_IBM_INSTANCE). "
    "qkd-circuits never stores, prints or logs your token. To try the hardware path "
    "without an account, use --backend fake:NAME (e.g. fake:torino)."
)


# -- backend specs -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendSpec:
    """A parsed ``--backend`` value for a device: ``fake:NAME``, ``ibm:NAME`` or ``ibm:least-busy``.

    Attributes:
        provider: ``"fake"`` (a snapshot from ``qiskit_ibm_runtime.fake_provider``)
            or ``"ibm"`` (IBM Quantum hardware).
        name: Fake device short name (``"torino"``), IBM backend name
            (``"ibm_torino"``) or ``"least-busy"``.
    """

    provider: Literal["fake", "ibm"]
    name: str

    def __post_init__(self) -> None:
        if self.provider not in ("fake", "ibm"):
            raise ConfigError(f"backend provider must be 'fake' or 'ibm', got {self.provider!r}")
        if not self.name or not all(c.isalnum() or c in "_-" for c in self.name):
            raise ConfigError(
                f"backend name {self.name!r} must be non-empty letters, digits, '_' or '-'"
            )

    @classmethod
    def parse(cls, text: str) -> BackendSpec:
        """Parse ``fake:NAME``, ``ibm:NAME`` or ``ibm:least-busy``.

        Raises:
            ConfigError: for any other form, or an unknown fake device name
                (the message lists the available ones).
        """
        provider, sep, name = str(text).strip().partition(":")
        provider, name = provider.lower(), name.strip()
        if not sep or provider not in ("fake", "ibm") or not name:
            raise ConfigError(
                f"backend {text!r} is not a device spec; allowed: fake:NAME (e.g. fake:torino), "
                "ibm:NAME (e.g. ibm:ibm_torino), ibm:least-busy"
            )
        if provider == "fake":
            name = name.lower().removeprefix("fake_")
            if name not in _fake_classes():
                raise ConfigError(
                    f"unknown fake backend {text!r}; available: {', '.join(fake_backend_names())}"
                )
        return cls(provider="fake" if provider == "fake" else "ibm", name=name)

    def __str__(self) -> str:
        return f"{self.provider}:{self.name}"


@functools.cache
def _fake_classes() -> dict[str, type]:
    try:
        from qiskit_ibm_runtime import fake_provider
        from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2
    except ImportError:
        raise ConfigError(
            "device backends (fake:NAME, ibm:...) need qiskit-ibm-runtime; install it with "
            "pip install 'qkd-circuits[ibm]'"
        ) from None

    out: dict[str, type] = {}
    for obj in vars(fake_provider).values():
        if inspect.isclass(obj) and issubclass(obj, FakeBackendV2) and obj is not FakeBackendV2:
            backend_name = getattr(obj, "backend_name", None)
            if isinstance(backend_name, str) and backend_name.startswith("fake_"):
                out[backend_name.removeprefix("fake_")] = obj
    return out


def fake_backend_names() -> tuple[str, ...]:
    """Short names accepted by ``fake:NAME`` (``torino``, ``manila``, ...), sorted."""
    return tuple(sorted(_fake_classes()))


def load_fake_backend(name: str) -> BackendV2:
    """A fresh fake backend (``FakeTorino()`` for ``"torino"`` or ``"fake_torino"``)."""
    spec = BackendSpec.parse(f"fake:{name}")
    backend: BackendV2 = _fake_classes()[spec.name]()
    return backend


@functools.cache
def _aer_simulator(name: str, method: str) -> Any:
    """``AerSimulator.from_backend`` of a fake device (cached: 3 s for a 133-qubit device)."""
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(load_fake_backend(name), method=method)


# -- the shot plan -------------------------------------------------------------


def execution_time_cap(estimated_qpu_seconds: float) -> int:
    """The server-side QPU-time cap of a job (s): :data:`EXECUTION_TIME_MARGIN` times
    the estimate, at least :data:`MIN_EXECUTION_TIME_S`, at most :data:`MAX_EXECUTION_TIME_S`.

    The estimate (repetition delay + readout per shot) is an order of magnitude, so
    the margin is wide; a job that still runs into the cap is cancelled by the
    service and reported as final (``RuntimeJobMaxTimeoutError``), never retried.
    """
    cap = math.ceil(EXECUTION_TIME_MARGIN * max(0.0, float(estimated_qpu_seconds)))
    return int(min(MAX_EXECUTION_TIME_S, max(MIN_EXECUTION_TIME_S, cap)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ShotBudget:
    """What a submission costs, known before anything is submitted.

    The QPU-time estimate is ``JOB_OVERHEAD_S + total_shots * seconds_per_shot``
    with ``seconds_per_shot`` = the device's default repetition delay plus the
    circuit's duration (readout dominates). It is an order of magnitude for
    planning, not IBM's billing.

    Attributes:
        circuits: Input circuits with at least one shot (configurations).
        exchanges: Shots requested over all input circuits (one exchange each).
        pubs: Circuits actually submitted (packed or not).
        slots_per_pub: Exchanges per shot of the widest submitted circuit.
        shots_per_pub: Shots of every submitted circuit (one count per job).
        total_shots: ``pubs * shots_per_pub``: device shots.
        executed_exchanges: Exchanges the device performs (>= ``exchanges``;
            the surplus is discarded unread).
        jobs: Jobs submitted (1; one per circuit in the runtime's local mode).
        seconds_per_shot: Assumed device time per shot (s).
        estimated_qpu_seconds: Estimated QPU time for the run on hardware (s).
        max_execution_time: Server-side cap on each hardware job's QPU time (s),
            sent as the sampler's ``max_execution_time``: the service cancels a job
            that runs longer, so a wrong estimate cannot spend a user's allocation
            (see :func:`execution_time_cap`).
    """

    circuits: int
    exchanges: int
    pubs: int
    slots_per_pub: int
    shots_per_pub: int
    total_shots: int
    executed_exchanges: int
    jobs: int
    seconds_per_shot: float
    estimated_qpu_seconds: float
    max_execution_time: int

    def summary(self) -> str:
        """One line for the terminal, printed before submitting."""
        return (
            f"{self.exchanges} exchanges in {self.circuits} configurations -> {self.pubs} "
            f"circuit(s) x {self.shots_per_pub} shots = {self.total_shots} shots "
            f"({self.slots_per_pub} exchange(s) per shot, "
            f"{self.executed_exchanges - self.exchanges} surplus); "
            f"estimated QPU time {self.estimated_qpu_seconds:.1f} s "
            f"({self.seconds_per_shot * 1e6:.0f} us/shot + {JOB_OVERHEAD_S:.0f} s/job), "
            f"capped at {self.max_execution_time} s per job on the server"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShotBudget:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                circuits=int(data["circuits"]),
                exchanges=int(data["exchanges"]),
                pubs=int(data["pubs"]),
                slots_per_pub=int(data["slots_per_pub"]),
                shots_per_pub=int(data["shots_per_pub"]),
                total_shots=int(data["total_shots"]),
                executed_exchanges=int(data["executed_exchanges"]),
                jobs=int(data["jobs"]),
                seconds_per_shot=float(data["seconds_per_shot"]),
                estimated_qpu_seconds=float(data["estimated_qpu_seconds"]),
                # Records written before the cap existed: the cap that would have applied.
                max_execution_time=int(
                    data.get("max_execution_time")
                    or execution_time_cap(float(data["estimated_qpu_seconds"]))
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed shot budget record: {exc!r}") from None


def plan_pubs(
    demands: Sequence[int],
    *,
    slots_per_pub: int,
    max_shots: int = DEFAULT_MAX_SHOTS,
    pub_overhead_shots: int = PUB_OVERHEAD_SHOTS,
) -> tuple[int, list[list[int]]]:
    """Spread the shots each input circuit needs over circuits that all run ``S`` shots.

    Input circuit ``g`` needing ``d_g`` shots gets ``ceil(d_g / S)`` slots; the
    slots are packed ``slots_per_pub`` to a circuit. ``S`` minimises
    ``pubs * (S + pub_overhead_shots)`` (device shots plus a per-circuit cost),
    ties broken by fewer circuits; ``S <= max_shots``.

    Args:
        demands: Shots needed by each input circuit (>= 0).
        slots_per_pub: Exchanges one submitted circuit can hold (1 = no packing).
        max_shots: The device's limit of shots per circuit.
        pub_overhead_shots: Cost of one more submitted circuit, in shots.

    Returns:
        ``(S, pubs)`` where ``pubs[p]`` lists the input-circuit index of each
        slot of submitted circuit ``p`` (input circuits with 0 shots get none).
        ``(0, [])`` when nothing is needed.
    """
    if slots_per_pub < 1 or max_shots < 1:
        raise ConfigError(
            f"slots_per_pub and max_shots must be >= 1, got {slots_per_pub!r}, {max_shots!r}"
        )
    if any(d < 0 for d in demands):
        raise ConfigError(f"shot counts must be >= 0, got {min(demands)}")
    live = [(g, int(d)) for g, d in enumerate(demands) if d > 0]
    if not live:
        return 0, []
    candidates = {min(max_shots, max(d for _, d in live))}
    for _, d in live:
        for k in range(1, min(d, 8 * slots_per_pub) + 1):
            candidates.add(min(max_shots, -(-d // k)))
    best: tuple[tuple[int, int], int] | None = None
    for s in sorted(candidates):
        needed = sum(-(-d // s) for _, d in live)
        pubs = -(-needed // slots_per_pub)
        key = (pubs * (s + pub_overhead_shots), pubs)
        if best is None or key < best[0]:
            best = (key, s)
    assert best is not None  # candidates is never empty
    shots = best[1]
    flat = [g for g, d in live for _ in range(-(-d // shots))]
    return shots, [flat[i : i + slots_per_pub] for i in range(0, len(flat), slots_per_pub)]


# -- the submitted-job record --------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitPlacement:
    """Where the shots of one input circuit come from.

    Attributes:
        circuit: Index of the input circuit.
        name: Its name (for the record).
        shots: Shots requested for it.
        registers: ``(name, size)`` of its classical registers.
        sources: ``(pub, slot, prefix)``: submitted circuit, slot index (into
            :attr:`SubmittedJob.slots`) and the prefix of its registers' names in
            that circuit (``""`` unpacked, ``"s3_"`` in slot 3 of a packed one).
            Shots are taken shot-major across sources (shot 0 of every source,
            then shot 1, ...) until ``shots`` are collected.
    """

    circuit: int
    name: str
    shots: int
    registers: tuple[tuple[str, int], ...]
    sources: tuple[tuple[int, int, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "circuit": self.circuit,
            "name": self.name,
            "shots": self.shots,
            "registers": [list(r) for r in self.registers],
            "sources": [list(s) for s in self.sources],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CircuitPlacement:
        """Inverse of :meth:`to_dict`."""
        return cls(
            circuit=int(data["circuit"]),
            name=str(data["name"]),
            shots=int(data["shots"]),
            registers=tuple((str(n), int(s)) for n, s in data["registers"]),
            sources=tuple((int(p), int(j), str(x)) for p, j, x in data["sources"]),
        )

    def slot_counts(self) -> dict[int, int]:
        """Exchanges each slot carries for this circuit (shot-major split)."""
        k = len(self.sources)
        counts: dict[int, int] = {}
        for i, (_, slot, _) in enumerate(self.sources):
            counts[slot] = counts.get(slot, 0) + self.shots // k + (1 if i < self.shots % k else 0)
        return counts


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmittedJob:
    """Everything needed to fetch a submission's results later and read them.

    JSON-serialisable through :meth:`to_dict` / :meth:`from_dict`. Holds no
    credential and no secret of the run (Alice's bits live in the run store).

    Attributes:
        spec: The backend spec as requested (``"ibm:least-busy"``, ``"fake:torino"``).
        route: ``"aer"``, ``"local"`` (runtime local mode) or ``"ibm"`` (hardware).
        backend_name: The device that ran it (``"ibm_torino"``, ``"fake_torino"``).
        job_ids: Runtime job ids (simulated routes: ids of in-process jobs).
        job_pubs: Submitted-circuit indices of each job.
        job_seeds: Simulator seed of each job (None on hardware).
        shots: Shots of every submitted circuit.
        slots: Calibration of the slots (physical qubits) used, slot 0 first.
        placements: One per input circuit, in input order.
        budget: The shot budget computed before submitting.
        pack: Whether exchanges were packed side by side.
        optimization_level: Preset pass-manager level used.
        isa_qpy: The submitted ISA circuits, QPY, zlib-compressed, base64.
        submitted_at: UTC time of submission, ISO 8601.
        execution_mode: ``"job"`` (one job, submitted on its own) or ``"batch"``
            (several jobs in one ``Batch``).
        calibrated_at: Time of the device calibration the qubits were chosen
            from (``properties().last_update_date``, ISO 8601), if reported.
        instance: The IBM Cloud instance (CRN) the job ran under (hardware only).
    """

    spec: str
    route: Route
    backend_name: str
    job_ids: tuple[str, ...]
    job_pubs: tuple[tuple[int, ...], ...]
    job_seeds: tuple[int | None, ...]
    shots: int
    slots: tuple[QubitCalibration, ...]
    placements: tuple[CircuitPlacement, ...]
    budget: ShotBudget
    pack: bool
    optimization_level: int
    isa_qpy: str
    submitted_at: str
    execution_mode: ExecutionMode = "job"
    calibrated_at: str | None = None
    instance: str | None = None

    def __post_init__(self) -> None:
        if self.route not in ("aer", "local", "ibm"):
            raise ConfigError(f"route must be 'aer', 'local' or 'ibm', got {self.route!r}")
        if self.execution_mode not in ("job", "batch"):
            raise ConfigError(
                f"execution_mode must be 'job' or 'batch', got {self.execution_mode!r}"
            )
        if not (len(self.job_ids) == len(self.job_pubs) == len(self.job_seeds)):
            raise ConfigError(
                f"{len(self.job_ids)} job ids, {len(self.job_pubs)} pub lists and "
                f"{len(self.job_seeds)} seeds do not match"
            )

    @property
    def num_pubs(self) -> int:
        """Number of submitted circuits."""
        return sum(len(p) for p in self.job_pubs)

    @property
    def qubits(self) -> tuple[int, ...]:
        """Every physical qubit used, slot by slot (signal, then probe)."""
        return tuple(q for s in self.slots for q in s.qubits)

    def slot_weights(self) -> list[int]:
        """Exchanges carried by each slot, over all input circuits."""
        weights = [0] * len(self.slots)
        for placement in self.placements:
            for slot, count in placement.slot_counts().items():
                weights[slot] += count
        return weights

    @property
    def predicted_qber(self) -> float:
        """Calibration-predicted no-Eve QBER, averaged over slots by the exchanges they carry."""
        weights = self.slot_weights()
        total = sum(weights)
        if total == 0:
            return float("nan")
        return sum(s.predicted_qber * w for s, w in zip(self.slots, weights, strict=True)) / total

    @property
    def qber_allowance(self) -> float:
        """Model allowance of :attr:`predicted_qber` (same weights)."""
        weights = self.slot_weights()
        total = sum(weights)
        if total == 0:
            return float("nan")
        return (
            sum(qber_model_allowance(s) * w for s, w in zip(self.slots, weights, strict=True))
            / total
        )

    def isa_circuits(self) -> list[QuantumCircuit]:
        """The submitted ISA circuits, decoded from :attr:`isa_qpy`."""
        raw = zlib.decompress(base64.b64decode(self.isa_qpy.encode("ascii")))
        return list(qpy.load(io.BytesIO(raw)))

    def calibration_report(self) -> dict[str, Any]:
        """What the report shows beside the measured QBER."""
        return {
            "backend": self.backend_name,
            "qubits": list(self.qubits),
            "slots": [s.to_dict() for s in self.slots],
            "exchanges_per_slot": self.slot_weights(),
            "predicted_qber": self.predicted_qber,
            "qber_model_allowance": self.qber_allowance,
        }

    def describe(self) -> dict[str, object]:
        """What the report says about the backend of this job (same keys as
        :meth:`BackendExecutor.describe` after a submission); usable on resume."""
        short = self.backend_name.removeprefix("fake_")
        provider = "fake" if short != self.backend_name and self.route != "ibm" else "ibm"
        return {
            "name": f"{provider}:{short}",
            "spec": self.spec,
            "backend": self.backend_name,
            "route": self.route,
            "sampler": _SAMPLER_DESCRIPTION[self.route],
            "transpiler": {
                "function": "generate_preset_pass_manager",
                "optimization_level": self.optimization_level,
                "initial_layout": list(self.qubits),
            },
            "pack": self.pack,
            "error_mitigation": "none (every error counts as Eve's)",
            "job_ids": list(self.job_ids),
            "execution_mode": self.execution_mode,
            "instance": self.instance,
            "submitted_at": self.submitted_at,
            "calibrated_at": self.calibrated_at,
            "shot_budget": self.budget.to_dict(),
            "calibration": self.calibration_report(),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "spec": self.spec,
            "route": self.route,
            "backend_name": self.backend_name,
            "job_ids": list(self.job_ids),
            "job_pubs": [list(p) for p in self.job_pubs],
            "job_seeds": list(self.job_seeds),
            "shots": self.shots,
            "slots": [s.to_dict() for s in self.slots],
            "placements": [p.to_dict() for p in self.placements],
            "budget": self.budget.to_dict(),
            "pack": self.pack,
            "optimization_level": self.optimization_level,
            "isa_qpy": self.isa_qpy,
            "submitted_at": self.submitted_at,
            "execution_mode": self.execution_mode,
            "calibrated_at": self.calibrated_at,
            "instance": self.instance,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubmittedJob:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: if a field is missing or malformed.
        """
        try:
            return cls(
                spec=str(data["spec"]),
                route=data["route"],
                backend_name=str(data["backend_name"]),
                job_ids=tuple(str(j) for j in data["job_ids"]),
                job_pubs=tuple(tuple(int(p) for p in ps) for ps in data["job_pubs"]),
                job_seeds=tuple(None if s is None else int(s) for s in data["job_seeds"]),
                shots=int(data["shots"]),
                slots=tuple(QubitCalibration.from_dict(s) for s in data["slots"]),
                placements=tuple(CircuitPlacement.from_dict(p) for p in data["placements"]),
                budget=ShotBudget.from_dict(data["budget"]),
                pack=bool(data["pack"]),
                optimization_level=int(data["optimization_level"]),
                isa_qpy=str(data["isa_qpy"]),
                submitted_at=str(data["submitted_at"]),
                # Absent from records written before they were recorded.
                execution_mode=data.get("execution_mode", "batch"),
                calibrated_at=_opt_str(data.get("calibrated_at")),
                instance=_opt_str(data.get("instance")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed submitted-job record: {exc!r}") from None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _calibration_time(backend: BackendV2) -> str | None:
    """When the device's reported calibration was taken (ISO 8601), if it says."""
    stamp = getattr(device_properties(backend), "last_update_date", None)
    if stamp is None:
        return None
    return stamp.isoformat() if isinstance(stamp, datetime) else str(stamp)


def _instance(backend: BackendV2, service: Any) -> str | None:
    """The IBM Cloud instance (CRN) a hardware job runs under, if known."""
    instance = getattr(backend, "_instance", None)  # what RuntimeJobV2.instance reports
    if instance is None and service is not None:
        try:
            instance = service.active_account().get("instance")
        except Exception:  # best effort: recorded for the report only
            instance = None
    return _opt_str(instance)


# -- credentials and the service -----------------------------------------------


def _scrub(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "***")
    return text


def connect_service() -> Any:
    """A :class:`~qiskit_ibm_runtime.QiskitRuntimeService` from the user's saved account or env.

    The account is looked up first (``QISKIT_IBM_TOKEN`` / ``QISKIT_IBM_INSTANCE``,
    then ``~/.qiskit/qiskit-ibm.json``) without any network access, so a missing
    account fails at once.

    Raises:
        BackendError: no account (the message says how to save one), or the
            service cannot be reached (the token is never part of the message).
    """
    try:
        from qiskit_ibm_runtime import QiskitRuntimeService
        from qiskit_ibm_runtime.accounts import AccountManager
    except ImportError:
        raise BackendError(
            "IBM backends need qiskit-ibm-runtime: pip install 'qkd-circuits[ibm]'"
        ) from None
    try:
        account = AccountManager.get()
    except Exception:  # AccountNotFoundError, InvalidAccountError, unreadable config file
        raise BackendError(NO_ACCOUNT_MESSAGE) from None
    if account is None:
        raise BackendError(NO_ACCOUNT_MESSAGE)
    secret = getattr(account, "token", None)
    try:
        return QiskitRuntimeService()
    except Exception as exc:
        raise BackendError(
            "could not connect to IBM Quantum with the saved account / QISKIT_IBM_TOKEN "
            f"({type(exc).__name__}: {_scrub(str(exc), secret)}). Check the network and that "
            "the API key and instance are valid; re-save the account with "
            "QiskitRuntimeService.save_account(..., overwrite=True) if needed."
        ) from None


def _is_local(service: Any) -> bool:
    return bool(getattr(service, "is_local", False))


# -- the executor --------------------------------------------------------------

BudgetHook = Callable[[ShotBudget], None]
SubmitHook = Callable[[SubmittedJob], None]

# Simulated jobs kept while the process lives: job id -> job with .result().
_SIMULATED_JOBS: dict[str, Any] = {}


class BackendExecutor:
    """Runs exchange circuits on an IBM device, its fake snapshot, or the runtime's local mode.

    Implements :class:`~qkd_circuits.execution.base.Executor`; build it with
    :func:`make_backend_executor`. Besides :meth:`run` it offers the two halves
    :meth:`submit` (returns a :class:`SubmittedJob` at once) and :meth:`fetch`.

    Args:
        backend: The device (a fake backend or an ``IBMBackend``).
        spec: The spec as requested (recorded in the job).
        route: ``"aer"``, ``"local"`` or ``"ibm"``.
        service: The runtime service for route ``"ibm"``.
        pack: Place many exchanges side by side in one circuit.
        slots: Slots per packed circuit (default :data:`DEFAULT_PACK_SLOTS`,
            capped by the device and by the number of exchanges).
        qubits: Physical qubits to use instead of choosing them (one per slot,
            or signal/probe pairs when circuits carry Eve's probe).
        max_total_shots: Refuse (ConfigError) a submission needing more device shots.
        on_budget: Called with the :class:`ShotBudget` before submitting.
        on_submit: Called with the :class:`SubmittedJob` right after submitting,
            before waiting (save it there so an interrupted run loses nothing).
    """

    def __init__(
        self,
        backend: BackendV2,
        *,
        spec: str,
        route: Route,
        service: Any = None,
        pack: bool = False,
        slots: int | None = None,
        qubits: Sequence[int] | None = None,
        max_total_shots: int | None = None,
        on_budget: BudgetHook | None = None,
        on_submit: SubmitHook | None = None,
    ) -> None:
        if route not in ("aer", "local", "ibm"):
            raise ConfigError(f"route must be 'aer', 'local' or 'ibm', got {route!r}")
        if route == "ibm" and service is None:
            raise ConfigError("route 'ibm' needs a runtime service")
        if slots is not None and (
            isinstance(slots, bool) or not isinstance(slots, int) or slots < 1
        ):
            raise ConfigError(f"slots must be a positive integer, got {slots!r}")
        if max_total_shots is not None and max_total_shots < 1:
            raise ConfigError(f"max_total_shots must be >= 1, got {max_total_shots!r}")
        self.backend = backend
        self.spec = spec
        self.route: Route = route
        self.service = service
        self.pack = bool(pack)
        self.slots = slots
        self.qubits = None if qubits is None else tuple(int(q) for q in qubits)
        self.max_total_shots = max_total_shots
        self.on_budget = on_budget
        self.on_submit = on_submit
        self.backend_name = str(backend.name)
        provider = "fake" if self.backend_name.startswith("fake_") and route != "ibm" else "ibm"
        short = self.backend_name.removeprefix("fake_") if provider == "fake" else self.backend_name
        self.name = f"{provider}:{short}"
        self.last_job: SubmittedJob | None = None
        self._pass_managers: dict[tuple[tuple[int, ...], int], Any] = {}

    # -- Executor interface --------------------------------------------------
    def run(
        self,
        circuits: Sequence[QuantumCircuit],
        shots: Sequence[int],
        *,
        rng: np.random.Generator,
    ) -> list[Outcomes]:
        """Submit, wait and fetch; see :class:`~qkd_circuits.execution.base.Executor`."""
        _check_request(circuits, shots)
        if not any(shots):
            return [_empty(c) for c in circuits]
        job = self.submit(circuits, shots, rng=rng)
        return self.fetch(job)

    def describe(self) -> dict[str, object]:
        """Device, route, sampler, transpiler settings and, after a submission, the
        chosen qubits with their calibration, the shot budget and the job ids."""
        out: dict[str, object] = {
            "name": self.name,
            "spec": self.spec,
            "backend": self.backend_name,
            "route": self.route,
            "sampler": _SAMPLER_DESCRIPTION[self.route],
            "transpiler": {
                "function": "generate_preset_pass_manager",
                "optimization_level": OPTIMIZATION_LEVEL,
                "initial_layout": "chosen from the device calibration"
                if self.qubits is None
                else list(self.qubits),
            },
            "pack": self.pack,
            "error_mitigation": "none (every error counts as Eve's)",
        }
        if self.last_job is not None:
            out.update(self.last_job.describe())
        return out

    # -- planning --------------------------------------------------------------
    def _slot_width(self, circuits: Sequence[QuantumCircuit], shots: Sequence[int]) -> int:
        return max(c.num_qubits for c, s in zip(circuits, shots, strict=True) if s > 0)

    def choose_slots(self, *, width: int, count: int) -> tuple[QubitCalibration, ...]:
        """The slots a submission uses: given ``qubits``, or the best-calibrated ones."""
        if self.qubits is None:
            return choose_slots(self.backend, count=count, width=width)
        if len(self.qubits) % width:
            raise ConfigError(
                f"qubits {list(self.qubits)!r} cannot be split into slots of {width} "
                "(signal, probe) qubits"
            )
        groups = [self.qubits[i : i + width] for i in range(0, len(self.qubits), width)]
        if len({q for g in groups for q in g}) != len(self.qubits):
            raise ConfigError(f"qubits {list(self.qubits)!r} must be distinct")
        return tuple(qubit_calibration(self.backend, g) for g in groups[:count])

    def _slot_count(self, width: int, exchanges: int) -> int:
        if not self.pack:
            return 1
        if self.qubits is not None:
            wanted = len(self.qubits) // width
        else:
            wanted = self.slots if self.slots is not None else DEFAULT_PACK_SLOTS
        wanted = min(wanted, exchanges)
        if self.qubits is None and self.slots is None:
            # Default: as many good slots as the device offers, up to DEFAULT_PACK_SLOTS.
            used: set[int] = set()
            available = 0
            for slot in rank_slots(self.backend, width=width):
                if not used.intersection(slot.qubits):
                    used.update(slot.qubits)
                    available += 1
            wanted = min(wanted, available)
        return max(1, wanted)

    def _seconds_per_shot(self, slots: Sequence[QubitCalibration]) -> float:
        config = getattr(self.backend, "configuration", None)
        rep_delay = None
        if config is not None:
            try:
                rep_delay = getattr(config(), "default_rep_delay", None)
            except Exception:  # a backend without a configuration
                rep_delay = None
        rep = float(rep_delay) if rep_delay else DEFAULT_REP_DELAY_S
        durations = [
            d
            for s in slots
            for q in s.qubits
            if (d := getattr(self.backend.target["measure"].get((q,)), "duration", None))
        ]
        return rep + (max(durations) if durations else 2e-6) + 1e-6

    def _max_shots(self) -> int:
        config = getattr(self.backend, "configuration", None)
        try:
            value = getattr(config(), "max_shots", None) if config is not None else None
        except Exception:  # a backend without a configuration
            value = None
        return int(value) if value else DEFAULT_MAX_SHOTS

    def plan(
        self, circuits: Sequence[QuantumCircuit], shots: Sequence[int]
    ) -> tuple[ShotBudget, tuple[QubitCalibration, ...], int, list[list[int]]]:
        """Choose slots and the shot plan without submitting anything.

        Returns:
            ``(budget, slots, shots_per_pub, pubs)`` with ``pubs`` as in :func:`plan_pubs`.
        """
        _check_request(circuits, shots)
        if not any(shots):
            raise ConfigError("nothing to submit: every circuit has 0 shots")
        width = self._slot_width(circuits, shots)
        if width > MAX_CIRCUIT_QUBITS:
            raise ConfigError(
                f"device executors run exchange circuits of 1 or 2 qubits (signal, probe); "
                f"got a circuit of {width} qubits"
            )
        exchanges = int(sum(shots))
        count = self._slot_count(width, exchanges)
        slots = self.choose_slots(width=width, count=count)
        per_pub, pubs = plan_pubs(
            [int(s) for s in shots], slots_per_pub=len(slots), max_shots=self._max_shots()
        )
        seconds = self._seconds_per_shot(slots)
        total = len(pubs) * per_pub
        budget = ShotBudget(
            circuits=sum(1 for s in shots if s > 0),
            exchanges=exchanges,
            pubs=len(pubs),
            slots_per_pub=max(len(p) for p in pubs),
            shots_per_pub=per_pub,
            total_shots=total,
            executed_exchanges=sum(len(p) for p in pubs) * per_pub,
            jobs=len(pubs) if self.route == "local" else 1,
            seconds_per_shot=seconds,
            estimated_qpu_seconds=JOB_OVERHEAD_S + total * seconds,
            max_execution_time=execution_time_cap(JOB_OVERHEAD_S + total * seconds),
        )
        return budget, slots, per_pub, pubs

    def check_budget(self, budget: ShotBudget) -> None:
        """Refuse a budget over ``max_total_shots`` (ConfigError, before any submission)."""
        if self.max_total_shots is not None and budget.total_shots > self.max_total_shots:
            raise ConfigError(
                f"this run needs {budget.total_shots:,} device shots, more than the limit of "
                f"{self.max_total_shots:,} (--max-shots); {budget.summary()}"
            )

    def budget(self, circuits: Sequence[QuantumCircuit], shots: Sequence[int]) -> ShotBudget:
        """The :class:`ShotBudget` a submission of these circuits would need."""
        return self.plan(circuits, shots)[0]

    # -- building and transpiling ---------------------------------------------
    def _pass_manager(self, layout: tuple[int, ...], seed: int) -> Any:
        key = (layout, seed)
        if key not in self._pass_managers:
            self._pass_managers[key] = generate_preset_pass_manager(
                optimization_level=OPTIMIZATION_LEVEL,
                backend=self.backend,
                initial_layout=list(layout),
                seed_transpiler=seed,
            )
        return self._pass_managers[key]

    def _build(
        self,
        circuits: Sequence[QuantumCircuit],
        shots: Sequence[int],
        slots: Sequence[QubitCalibration],
        pubs: list[list[int]],
        seed: int,
    ) -> tuple[list[QuantumCircuit], tuple[CircuitPlacement, ...]]:
        sources: dict[int, list[tuple[int, int, str]]] = {i: [] for i in range(len(circuits))}
        isa: list[QuantumCircuit] = []
        width = len(slots[0].qubits)
        transpile_seed = seed % (2**31)
        for p, members in enumerate(pubs):
            layout: Sequence[int]
            if not self.pack:
                (g,) = members
                logical = circuits[g]
                layout = slots[0].qubits[: logical.num_qubits]
                sources[g].append((p, 0, ""))
            else:
                logical, layout = _packed_circuit(circuits, members, slots, width, name=f"pack{p}")
                for j, g in enumerate(members):
                    sources[g].append((p, j, f"s{j}_"))
            compiled = self._pass_manager(tuple(layout), transpile_seed).run(logical)
            _check_measured_qubits(compiled, set(layout), self.backend_name)
            isa.append(compiled)
        placements = tuple(
            CircuitPlacement(
                circuit=i,
                name=c.name,
                shots=int(shots[i]),
                registers=tuple((r.name, r.size) for r in c.cregs),
                sources=tuple(sources[i]),
            )
            for i, c in enumerate(circuits)
        )
        return isa, placements

    # -- submit / fetch --------------------------------------------------------
    def submit(
        self,
        circuits: Sequence[QuantumCircuit],
        shots: Sequence[int],
        *,
        rng: np.random.Generator,
    ) -> SubmittedJob:
        """Transpile, plan and submit; return the job record without waiting for results.

        (Route ``"aer"`` simulates during the call; the other routes return as
        soon as the runtime has accepted the job.)

        ``on_budget`` is called (and ``max_total_shots`` checked) before anything
        is submitted; ``on_submit`` right after.

        Raises:
            ConfigError: bad request, too many shots, too few usable qubits.
            BackendError: the device refused the submission.
        """
        budget, slots, per_pub, pubs = self.plan(circuits, shots)
        self.check_budget(budget)
        if self.on_budget is not None:
            self.on_budget(budget)
        seed = draw_seed(rng)
        isa, placements = self._build(circuits, shots, slots, pubs, seed)
        job_pubs: list[tuple[int, ...]]
        seeds: list[int | None]
        if self.route == "local":
            # Local mode seeds every PUB of a job alike: one job per PUB, own seed each.
            job_pubs = [(p,) for p in range(len(isa))]
            seeds = [int(s) for s in _job_seeds(seed, len(isa))]
        else:
            job_pubs = [tuple(range(len(isa)))]
            seeds = [None] if self.route == "ibm" else [_job_seeds(seed, 1)[0]]
        job_ids = _submit_jobs(
            self.route,
            self.backend,
            isa,
            job_pubs,
            seeds,
            per_pub,
            max_execution_time=budget.max_execution_time,
            service=self.service,
        )
        job = SubmittedJob(
            spec=self.spec,
            route=self.route,
            backend_name=self.backend_name,
            job_ids=tuple(job_ids),
            job_pubs=tuple(job_pubs),
            job_seeds=tuple(seeds),
            shots=per_pub,
            slots=tuple(slots),
            placements=placements,
            budget=budget,
            pack=self.pack,
            optimization_level=OPTIMIZATION_LEVEL,
            isa_qpy=_encode_qpy(isa),
            submitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
            execution_mode="job" if len(job_pubs) == 1 else "batch",
            calibrated_at=_calibration_time(self.backend),
            instance=_instance(self.backend, self.service) if self.route == "ibm" else None,
        )
        self.last_job = job
        if self.on_submit is not None:
            try:
                self.on_submit(job)
            except Exception as exc:
                raise BackendError(
                    f"job(s) {', '.join(job.job_ids)} were submitted to {job.backend_name} but "
                    f"saving them failed ({type(exc).__name__}: {exc}); keep these ids"
                ) from exc
        return job

    def fetch(self, job: SubmittedJob, *, timeout: float | None = None) -> list[Outcomes]:
        """Wait for a submitted job and return one :data:`Outcomes` per input circuit."""
        return fetch_job(job, service=self.service, timeout=timeout, backend=self.backend)


_SAMPLER_DESCRIPTION: dict[str, str] = {
    "aer": "qiskit_aer.primitives.SamplerV2 on AerSimulator.from_backend(fake device)",
    "local": f"{SAMPLER_CLASS} (job mode; a Batch for several jobs), runtime local testing mode",
    "ibm": f"{SAMPLER_CLASS} in job mode on IBM Quantum hardware",
}


def _check_request(circuits: Sequence[QuantumCircuit], shots: Sequence[int]) -> None:
    if len(circuits) != len(shots):
        raise ConfigError(f"got {len(circuits)} circuits but {len(shots)} shot counts")
    for s in shots:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ConfigError(f"shot counts must be integers >= 0, got {s!r}")


def _empty(circuit: QuantumCircuit) -> Outcomes:
    return {c.name: np.zeros((0, c.size), dtype=np.uint8) for c in circuit.cregs}


def _job_seeds(seed: int, count: int) -> list[int]:
    words = np.random.SeedSequence(seed).generate_state(max(count, 1), dtype=np.uint64)
    # Never 0: local mode treats a seed of 0 as "no seed".
    return [int(w & np.uint64(2**63 - 1)) or 1 for w in words[:count]]


def _packed_circuit(
    circuits: Sequence[QuantumCircuit],
    members: Sequence[int],
    slots: Sequence[QubitCalibration],
    width: int,
    *,
    name: str,
) -> tuple[QuantumCircuit, list[int]]:
    """Place ``circuits[members[j]]`` on slot ``j``; registers renamed ``s{j}_<name>``."""
    qreg = QuantumRegister(width * len(members), "q")
    packed = QuantumCircuit(qreg, name=name)
    layout: list[int] = []
    for j, g in enumerate(members):
        circuit = circuits[g]
        cregs = [ClassicalRegister(r.size, f"s{j}_{r.name}") for r in circuit.cregs]
        for r in cregs:
            packed.add_register(r)
        clbits = [bit for r in cregs for bit in r]
        packed.compose(
            circuit,
            qubits=[qreg[j * width + k] for k in range(circuit.num_qubits)],
            clbits=clbits,
            inplace=True,
        )
        layout.extend(slots[j].qubits)
    return packed, layout


def _check_measured_qubits(compiled: QuantumCircuit, allowed: set[int], backend: str) -> None:
    measured = {
        compiled.find_bit(inst.qubits[0]).index
        for inst in compiled.data
        if inst.operation.name == "measure"
    }
    if not measured <= allowed:
        raise BackendError(
            f"the transpiler moved measurements on {backend} to qubits "
            f"{sorted(measured - allowed)}, outside the chosen {sorted(allowed)}"
        )


def _encode_qpy(circuits: Sequence[QuantumCircuit]) -> str:
    buf = io.BytesIO()
    qpy.dump(list(circuits), buf)
    return base64.b64encode(zlib.compress(buf.getvalue(), 9)).decode("ascii")


def _configure_sampler(
    sampler: Any, *, seed: int | None, max_execution_time: int | None = None
) -> None:
    """No error suppression or mitigation; tag the jobs; the server-side QPU-time cap;
    simulator seed in local mode."""
    sampler.options.twirling.enable_gates = False
    sampler.options.twirling.enable_measure = False
    sampler.options.dynamical_decoupling.enable = False
    sampler.options.environment.job_tags = ["qkd-circuits"]
    if max_execution_time is not None:
        sampler.options.max_execution_time = int(max_execution_time)
    if seed is not None:
        sampler.options.simulator.seed_simulator = seed


def _submit_jobs(
    route: Route,
    backend: BackendV2,
    isa: Sequence[QuantumCircuit],
    job_pubs: Sequence[tuple[int, ...]],
    seeds: Sequence[int | None],
    shots: int,
    *,
    max_execution_time: int,
    service: Any = None,
) -> list[str]:
    """Submit each job's PUBs; return the job ids (simulated jobs are kept in memory).

    One job is submitted in job mode (``Sampler(mode=backend)``): a ``Batch`` would
    only add a session to open and close. Several jobs share one ``Batch``, so
    the service schedules them together. Every job carries the server-side cap
    ``max_execution_time`` (s of QPU time).
    """
    ids: list[str] = []
    if route == "aer":
        for pubs, seed in zip(job_pubs, seeds, strict=True):
            job_id = f"aer-{uuid.uuid4()}"
            _SIMULATED_JOBS[job_id] = _aer_job(
                str(backend.name), [isa[p] for p in pubs], shots, seed
            )
            ids.append(job_id)
        return ids
    from qiskit_ibm_runtime import Batch
    from qiskit_ibm_runtime.executor_sampler import Sampler

    def submit_all(mode: Any) -> None:
        for pubs, seed in zip(job_pubs, seeds, strict=True):
            sampler = Sampler(mode=mode)
            _configure_sampler(sampler, seed=seed, max_execution_time=max_execution_time)
            job = sampler.run([isa[p] for p in pubs], shots=shots)
            job_id = str(job.job_id())
            if route == "local" or _is_local(service):
                _SIMULATED_JOBS[job_id] = job
            ids.append(job_id)

    try:
        if len(job_pubs) == 1:
            submit_all(backend)
        else:
            with Batch(backend=backend) as batch:
                submit_all(batch)
    except (ConfigError, BackendError):
        raise
    except Exception as exc:
        raise BackendError(
            f"submitting to {backend.name} failed ({type(exc).__name__}: {exc}); "
            f"{len(ids)} of {len(job_pubs)} job(s) were submitted: {ids}"
        ) from None
    return ids


def _aer_job(name: str, pubs: Sequence[QuantumCircuit], shots: int, seed: int | None) -> Any:
    """Run PUBs on ``AerSimulator.from_backend(fake)`` now; return the finished Aer job.

    All PUBs have the same ``shots``, so Aer's SamplerV2 runs them in one simulator
    call, where each circuit gets its own seed: their outcomes are independent.
    (PUBs with *different* shot counts would run in separate calls sharing one
    seed, with correlated outcomes; see
    :func:`~qkd_circuits.execution.aer.independent_batches`.)
    """
    from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

    active = max(_active_qubits(c) for c in pubs)
    # Slots are independent product states: wide packed circuits are cheap as MPS.
    method = "density_matrix" if active <= 8 else "matrix_product_state"
    sampler = AerSamplerV2.from_backend(_aer_simulator(name, method), seed=seed)
    job = sampler.run([(c, None, shots) for c in pubs])
    job.result()  # finish now: the shared simulator is not used from two threads
    return job


def _active_qubits(circuit: QuantumCircuit) -> int:
    used = {
        circuit.find_bit(q).index
        for inst in circuit.data
        if inst.operation.name != "barrier"
        for q in inst.qubits
    }
    return len(used)


# -- fetching ------------------------------------------------------------------


def fetch_job(
    job: SubmittedJob,
    *,
    service: Any = None,
    timeout: float | None = None,
    backend: BackendV2 | None = None,
) -> list[Outcomes]:
    """Wait for a submitted job's results and return one :data:`Outcomes` per input circuit.

    Works in a fresh process from a :class:`SubmittedJob` read back from disk:
    hardware jobs are retrieved by id (credentials as in :func:`connect_service`);
    simulated jobs not in this process are re-run from their recorded seeds.

    Args:
        job: The record :meth:`BackendExecutor.submit` returned.
        service: Runtime service to use (default: connect with the saved account).
        timeout: Seconds to wait for a hardware job (None: as long as it takes).
        backend: The device object, if at hand (saves re-loading a fake backend).

    Returns:
        Input circuit ``i`` -> register name -> uint8 array (shots_i, register size).

    Raises:
        BackendError: the job failed, was cancelled, cannot be found, or is still
            running after ``timeout``.
    """
    results: list[dict[str, NDArray[np.uint8]] | None] = [None] * job.num_pubs
    registers = _pub_registers(job)
    for job_id, pubs, seed in zip(job.job_ids, job.job_pubs, job.job_seeds, strict=True):
        result = _job_result(
            job, job_id, pubs, seed, service=service, timeout=timeout, backend=backend
        )
        if len(result) != len(pubs):
            raise BackendError(
                f"job {job_id} returned {len(result)} results for {len(pubs)} circuits"
            )
        for p, pub_result in zip(pubs, result, strict=True):
            results[p] = _read_pub(pub_result, registers[p], job.shots, job_id)
    return _unpack(job, [r for r in results if r is not None])


def job_usage(job: SubmittedJob, *, service: Any = None) -> dict[str, Any]:
    """The QPU time a finished submission was charged, as IBM reports it.

    Hardware jobs: ``RuntimeJobV2.usage()`` of each job (seconds; ``None`` for a job
    whose usage the service could not give). Simulated routes use no QPU time.

    Returns:
        ``{"qpu_seconds": float | None, "per_job": {job_id: float | None}, "source": str}``;
        ``qpu_seconds`` is the sum, or None if any job's usage is unknown.
    """
    if job.route != "ibm" or _is_local(service):
        return {"qpu_seconds": None, "per_job": {}, "source": "simulated: no QPU time used"}
    if service is None:
        try:
            service = connect_service()
        except BackendError as exc:
            return {"qpu_seconds": None, "per_job": {}, "source": f"unavailable: {exc}"}
    per_job: dict[str, float | None] = {}
    for job_id in job.job_ids:
        try:
            value = service.job(job_id).usage()
            per_job[job_id] = None if value is None else float(value)
        except Exception:  # the report says it is unknown; the key does not depend on it
            per_job[job_id] = None
    values = list(per_job.values())
    total = None if any(v is None for v in values) else float(sum(v for v in values if v))
    return {"qpu_seconds": total, "per_job": per_job, "source": "RuntimeJobV2.usage()"}


def _pub_registers(job: SubmittedJob) -> list[list[tuple[str, int]]]:
    registers: list[list[tuple[str, int]]] = [[] for _ in range(job.num_pubs)]
    for placement in job.placements:
        for pub, _, prefix in placement.sources:
            registers[pub].extend((prefix + name, size) for name, size in placement.registers)
    return registers


def _job_result(
    job: SubmittedJob,
    job_id: str,
    pubs: tuple[int, ...],
    seed: int | None,
    *,
    service: Any,
    timeout: float | None,
    backend: BackendV2 | None,
) -> Any:
    kept = _SIMULATED_JOBS.pop(job_id, None)
    if kept is not None:
        try:
            return kept.result()
        except Exception as exc:
            raise BackendError(
                f"simulated job {job_id} failed: {type(exc).__name__}: {exc}"
            ) from None
    if job.route in ("aer", "local") or _is_local(service):
        return _rerun(job, pubs, seed, backend=backend)
    if service is None:
        service = connect_service()
    try:
        runtime_job = service.job(job_id)
    except Exception as exc:
        raise BackendError(
            f"cannot retrieve job {job_id} from IBM Quantum ({type(exc).__name__}: {exc})"
        ) from None
    try:
        return runtime_job.result(timeout=timeout)
    except Exception as exc:
        status = _safe_call(runtime_job, "status")
        message = _safe_call(runtime_job, "error_message")
        kind = type(exc).__name__
        if kind == "RuntimeJobMaxTimeoutError":  # the service stopped the job: final
            raise BackendError(
                f"job {job_id} on {job.backend_name} was stopped by IBM Quantum after reaching "
                f"its maximum execution time (status {status}); it will not finish: submit a "
                "new run with fewer qubits, or with --pack"
            ) from None
        if "Timeout" in kind:  # our own wait ran out (RuntimeJobTimeoutError)
            raise BackendError(
                f"job {job_id} on {job.backend_name} is not finished after {timeout} s "
                f"(status {status}); nothing is lost, fetch it again later"
            ) from None
        raise BackendError(
            f"job {job_id} on {job.backend_name} did not complete (status {status}): "
            f"{message or type(exc).__name__ + ': ' + str(exc)}"
        ) from None


def _safe_call(obj: Any, method: str) -> str:
    try:
        return str(getattr(obj, method)())
    except Exception:  # best effort, for the error message only
        return "unknown"


def _rerun(
    job: SubmittedJob, pubs: tuple[int, ...], seed: int | None, *, backend: BackendV2 | None
) -> Any:
    """Re-run a simulated job from its ISA circuits and seed (same versions: same shots)."""
    isa = job.isa_circuits()
    circuits = [isa[p] for p in pubs]
    name = job.backend_name.removeprefix("fake_")
    if job.route == "aer":
        return _aer_job(name, circuits, job.shots, seed).result()
    device = backend if backend is not None else load_fake_backend(name)
    from qiskit_ibm_runtime.executor_sampler import Sampler

    sampler = Sampler(mode=device)  # one job: job mode, as when it was submitted
    _configure_sampler(sampler, seed=seed)
    return sampler.run(circuits, shots=job.shots).result()


def _read_pub(
    pub_result: Any, registers: Sequence[tuple[str, int]], shots: int, job_id: str
) -> dict[str, NDArray[np.uint8]]:
    data = getattr(pub_result, "data", None)
    out: dict[str, NDArray[np.uint8]] = {}
    for name, size in registers:
        bits = getattr(data, name, None)
        if bits is None:
            raise BackendError(f"job {job_id}: result has no classical register {name!r}")
        array = np.asarray(bits.to_bool_array(order="little"), dtype=np.uint8).reshape(-1, size)
        if array.shape[0] != shots:
            raise BackendError(
                f"job {job_id}: register {name!r} has {array.shape[0]} shots, expected {shots}"
            )
        out[name] = array
    return out


def _unpack(
    job: SubmittedJob, pub_results: Sequence[Mapping[str, NDArray[np.uint8]]]
) -> list[Outcomes]:
    """Collect each input circuit's shots from its slots, shot-major, first ``shots`` of them."""
    outcomes: list[Outcomes] = []
    for placement in job.placements:
        outcome: Outcomes = {}
        for name, size in placement.registers:
            if not placement.sources:
                outcome[name] = np.zeros((0, size), dtype=np.uint8)
                continue
            stacked = np.stack(
                [pub_results[p][prefix + name] for p, _, prefix in placement.sources], axis=1
            )  # (S, k, size)
            flat = stacked.reshape(-1, size)
            outcome[name] = np.ascontiguousarray(flat[: placement.shots])
        outcomes.append(outcome)
    return outcomes


# -- construction --------------------------------------------------------------


def make_backend_executor(
    spec: str,
    *,
    pack: bool = False,
    slots: int | None = None,
    qubits: Sequence[int] | None = None,
    local_runtime: bool = False,
    service: Any = None,
    max_total_shots: int | None = None,
    on_budget: BudgetHook | None = None,
    on_submit: SubmitHook | None = None,
) -> BackendExecutor:
    """Build the executor for ``fake:NAME``, ``ibm:NAME`` or ``ibm:least-busy``.

    Args:
        spec: The device spec.
        pack: Place many exchanges side by side per shot (one per slot).
        slots: Slots per packed circuit (default up to :data:`DEFAULT_PACK_SLOTS`).
        qubits: Physical qubits to use instead of the calibration's choice.
        local_runtime: For ``fake:NAME``: run through the runtime's local mode
            (Batch + executor-based Sampler) instead of Aer directly.
        service: A runtime service to use for ``ibm:...`` (default: connect with
            the saved account or environment; a ``QiskitRuntimeLocalService`` runs
            ``ibm:fake_NAME`` in local mode).
        max_total_shots: Refuse submissions needing more device shots.
        on_budget: Called with the :class:`ShotBudget` before each submission.
        on_submit: Called with each :class:`SubmittedJob` right after submission.

    Raises:
        ConfigError: malformed spec or unknown device name.
        BackendError: ``ibm:...`` without credentials (at once, no network), or
            IBM Quantum unreachable.
    """
    parsed = BackendSpec.parse(spec)
    options = {
        "pack": pack,
        "slots": slots,
        "qubits": qubits,
        "max_total_shots": max_total_shots,
        "on_budget": on_budget,
        "on_submit": on_submit,
    }
    if parsed.provider == "fake":
        return BackendExecutor(
            load_fake_backend(parsed.name),
            spec=str(parsed),
            route="local" if local_runtime else "aer",
            **options,  # type: ignore[arg-type]
        )
    if service is None:
        service = connect_service()
    backend = _ibm_backend(service, parsed, min_qubits=2 * (slots or 1) if pack else 2)
    return BackendExecutor(
        backend,
        spec=str(parsed),
        route="local" if _is_local(service) else "ibm",
        service=service,
        **options,  # type: ignore[arg-type]
    )


def _ibm_backend(service: Any, spec: BackendSpec, *, min_qubits: int) -> BackendV2:
    if spec.name == "least-busy":
        try:
            if _is_local(service):
                backend: BackendV2 = service.least_busy(min_num_qubits=min_qubits)
            else:
                backend = service.least_busy(
                    min_num_qubits=min_qubits, operational=True, simulator=False
                )
        except Exception as exc:
            raise BackendError(
                f"no operational IBM Quantum device with >= {min_qubits} qubits is available "
                f"to this account ({type(exc).__name__}: {exc})"
            ) from None
        return backend
    try:
        return service.backend(spec.name)
    except Exception as exc:
        if "NotFound" in type(exc).__name__:  # QiskitBackendNotFoundError: a bad name
            raise ConfigError(
                f"unknown IBM backend {spec.name!r} for this account ({type(exc).__name__}); "
                "list yours with QiskitRuntimeService().backends(), or use ibm:least-busy"
            ) from None
        raise BackendError(  # the service did not answer: not the user's input
            f"could not look up IBM backend {spec.name!r} ({type(exc).__name__}: {exc}); "
            "check the network and try again"
        ) from None


# -- grouped exchanges, split in two halves (submit-only / resume) ------------


def submit_grouped(
    codes: NDArray[np.integer],
    circuit_for_code: Callable[[int], QuantumCircuit],
    executor: BackendExecutor,
    *,
    rng: RNGLike,
) -> SubmittedJob:
    """First half of :func:`~qkd_circuits.execution.base.run_grouped`: submit, don't wait.

    One circuit per distinct configuration code, shots = exchanges with that code.
    """
    plan = GroupPlan.from_codes(np.asarray(codes))
    circuits = [circuit_for_code(int(c)) for c in plan.codes]
    return executor.submit(circuits, [int(s) for s in plan.shots], rng=ensure_secret_rng(rng))


def collect_grouped(
    job: SubmittedJob,
    codes: NDArray[np.integer],
    registers: Sequence[str],
    *,
    rng: RNGLike,
    service: Any = None,
    timeout: float | None = None,
) -> dict[str, NDArray[np.uint8]]:
    """Second half: fetch the job and scatter each group's shots back to its exchanges.

    Args:
        job: What :func:`submit_grouped` returned (possibly read back from disk).
        codes: The same configuration codes, shape (n,).
        registers: 1-bit registers to return (absent ones read 0).
        rng: Secret generator or seed; draws the scatter permutations (None: OS CSPRNG).
        service: Runtime service (default: connect with the saved account).
        timeout: Seconds to wait for a hardware job.

    Returns:
        Register name -> uint8 array of shape (n,).

    Raises:
        ConfigError: the job does not belong to these codes (group sizes differ).
        BackendError: as :func:`fetch_job`.
    """
    plan = GroupPlan.from_codes(np.asarray(codes))
    expected = [int(s) for s in plan.shots]
    recorded = [p.shots for p in job.placements]
    if expected != recorded:
        raise ConfigError(
            f"the job's circuits ({len(recorded)} groups, {sum(recorded)} exchanges) do not "
            f"match these exchanges ({len(expected)} groups, {sum(expected)} exchanges)"
        )
    results = fetch_job(job, service=service, timeout=timeout)
    return plan.scatter(results, registers, rng=ensure_secret_rng(rng))


__all__ = [
    "DEFAULT_PACK_SLOTS",
    "NO_ACCOUNT_MESSAGE",
    "BackendExecutor",
    "BackendSpec",
    "CircuitPlacement",
    "ShotBudget",
    "SubmittedJob",
    "collect_grouped",
    "connect_service",
    "execution_time_cap",
    "fake_backend_names",
    "fetch_job",
    "job_usage",
    "load_fake_backend",
    "make_backend_executor",
    "plan_pubs",
    "submit_grouped",
]
