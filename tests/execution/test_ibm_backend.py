"""The device backend layer against the runtime's fake backends: no network, real classes.

Routes tested: ``fake:NAME`` through ``AerSimulator.from_backend``; the runtime's
local mode (``Batch`` + ``executor_sampler.Sampler``), both as ``fake:NAME``
with ``local_runtime=True`` and as ``ibm:fake_NAME`` with a
``QiskitRuntimeLocalService`` (the hardware code path: transpile, submit,
save, wait, fetch, post-process). Statistical checks use binomial standard
errors plus the calibration model's documented allowance.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.circuit import ClassicalRegister, QuantumCircuit

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.bb84 import BB84Config, bb84_circuit
from qkd_circuits.errors import BackendError, ConfigError
from qkd_circuits.execution import ibm
from qkd_circuits.execution.ibm import (
    BackendSpec,
    ShotBudget,
    SubmittedJob,
    collect_grouped,
    fake_backend_names,
    fetch_job,
    make_backend_executor,
    plan_pubs,
    submit_grouped,
)
from qkd_circuits.execution.run_store import load_pending_run, save_pending_run
from qkd_circuits.protocols.bb84 import BB84Choices, draw_choices, run_quantum_phase

pytest.importorskip("qiskit_ibm_runtime")

SIGMAS = 4.0


def _sifted_qber(records) -> tuple[float, int]:
    sifted = records.alice_bases == records.bob_bases
    errors = records.alice_bits[sifted] != records.bob_bits[sifted]
    return float(errors.mean()), int(sifted.sum())


def _assert_consistent(observed: float, job: SubmittedJob, trials: int) -> None:
    """Within SIGMAS binomial standard errors plus the model allowance of the prediction."""
    p = job.predicted_qber
    tol = SIGMAS * math.sqrt(p * (1 - p) / trials) + job.qber_allowance
    assert abs(observed - p) <= tol, f"QBER {observed:.5f} vs predicted {p:.5f} ± {tol:.5f}"


def _circuit(code: int) -> QuantumCircuit:
    return bb84_circuit(BB84Config.from_code(code))


def _local_service():
    from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService

    return QiskitRuntimeLocalService()


# -- specs -------------------------------------------------------------------------


def test_spec_parsing():
    assert BackendSpec.parse("fake:torino") == BackendSpec(provider="fake", name="torino")
    assert BackendSpec.parse(" FAKE:fake_Manila ") == BackendSpec(provider="fake", name="manila")
    assert str(BackendSpec.parse("ibm:least-busy")) == "ibm:least-busy"
    assert BackendSpec.parse("ibm:ibm_torino").name == "ibm_torino"
    assert {"torino", "manila", "lima"} <= set(fake_backend_names())


@pytest.mark.parametrize("text", ["torino", "fake:", "ibm:", "aws:sv1", "fake torino", ":x"])
def test_malformed_spec_is_a_config_error(text):
    with pytest.raises(ConfigError, match="allowed: fake:NAME"):
        BackendSpec.parse(text)


def test_unknown_fake_name_lists_the_available_ones():
    with pytest.raises(ConfigError, match=r"unknown fake backend 'fake:nowhere'.*torino"):
        make_backend_executor("fake:nowhere")
    with pytest.raises(ConfigError, match="must be non-empty"):
        BackendSpec.parse("ibm:bad/name")


# -- the shot plan -------------------------------------------------------------------


def test_plan_without_packing_is_one_circuit_per_group():
    shots, pubs = plan_pubs([250, 240, 0, 260], slots_per_pub=1)
    assert shots == 260 and pubs == [[0], [1], [3]]
    assert plan_pubs([0, 0], slots_per_pub=4) == (0, [])


def test_plan_packs_groups_into_slots():
    shots, pubs = plan_pubs([100] * 8, slots_per_pub=16)
    assert shots == 50 and len(pubs) == 1 and sorted(pubs[0]) == sorted(list(range(8)) * 2)


def test_plan_respects_the_device_shot_limit():
    shots, pubs = plan_pubs([250_000], slots_per_pub=1, max_shots=100_000)
    assert shots <= 100_000 and len(pubs) * shots >= 250_000


@settings(max_examples=60, deadline=None)
@given(
    demands=st.lists(st.integers(0, 3000), min_size=1, max_size=24),
    slots=st.integers(1, 40),
    max_shots=st.integers(1, 5000),
)
def test_plan_covers_every_demand(demands, slots, max_shots):
    shots, pubs = plan_pubs(demands, slots_per_pub=slots, max_shots=max_shots)
    assert shots <= max_shots
    assert all(1 <= len(p) <= slots for p in pubs)
    for g, d in enumerate(demands):
        assert sum(p.count(g) for p in pubs) * shots >= d
        assert sum(p.count(g) for p in pubs) == (-(-d // shots) if d else 0)


# -- fake:torino through AerSimulator.from_backend -------------------------------------


def test_torino_qber_matches_the_chosen_qubits_calibration_and_beats_qubit_0():
    choices = draw_choices(4000, rng=11)
    chosen = make_backend_executor("fake:torino")
    records = run_quantum_phase(choices, chosen, rng=12)
    qber, n = _sifted_qber(records)
    job = chosen.last_job
    assert job is not None and job.route == "aer" and 0 not in job.qubits
    assert job.predicted_qber < 0.01
    _assert_consistent(qber, job, n)

    forced = make_backend_executor("fake:torino", qubits=[0])
    records0 = run_quantum_phase(choices, forced, rng=12)
    qber0, n0 = _sifted_qber(records0)
    assert forced.last_job is not None and forced.last_job.qubits == (0,)
    _assert_consistent(qber0, forced.last_job, n0)  # ~16.7 %: DESIGN's measured pitfall
    se = math.sqrt(qber * (1 - qber) / n + qber0 * (1 - qber0) / n0)
    assert qber0 - qber > 10 * se

    described = chosen.describe()
    assert described["route"] == "aer" and described["backend"] == "fake_torino"
    calibration = described["calibration"]
    assert isinstance(calibration, dict) and calibration["qubits"] == list(job.qubits)
    assert calibration["slots"][0]["readout_errors"] == list(job.slots[0].readout_errors)
    assert calibration["predicted_qber"] == pytest.approx(job.predicted_qber)
    assert job.describe() == {k: v for k, v in described.items() if k in job.describe()}
    assert described["name"] == "fake:torino" and described["job_ids"] == list(job.job_ids)


def test_packing_returns_each_circuit_its_shots_and_a_consistent_qber():
    budgets: list[ShotBudget] = []
    executor = make_backend_executor("fake:manila", pack=True, on_budget=budgets.append)
    choices = draw_choices(3000, rng=21)
    records = run_quantum_phase(choices, executor, rng=22)
    job = executor.last_job
    assert job is not None and len(job.slots) == 5  # every qubit of the device is a slot
    (budget,) = budgets
    assert budget == job.budget and budget.slots_per_pub == 5
    assert budget.total_shots < budget.exchanges / 3  # ~5 exchanges per shot
    assert budget.executed_exchanges >= budget.exchanges == 3000
    assert sum(job.slot_weights()) == 3000
    qber, n = _sifted_qber(records)
    _assert_consistent(qber, job, n)


def test_packing_with_eve_uses_coupled_pairs_and_eve_learns_her_basis():
    executor = make_backend_executor("fake:manila", pack=True)
    choices = draw_choices(2000, eve=EveSpec(kind="intercept-resend"), rng=31)
    records = run_quantum_phase(choices, executor, rng=32)
    job = executor.last_job
    assert job is not None and all(len(s.qubits) == 2 for s in job.slots)
    same = records.eve_bases == records.alice_bases
    eve_err = float(np.mean(records.eve_bits[same] != records.alice_bits[same]))
    assert eve_err < 0.12  # device noise only
    qber, n = _sifted_qber(records)
    assert abs(qber - 0.25) < SIGMAS * math.sqrt(0.25 * 0.75 / n) + 0.06  # 1/4 + device noise


def test_run_returns_the_requested_shapes_and_skips_empty_circuits():
    executor = make_backend_executor("fake:manila")
    circuits = [_circuit(0), _circuit(1), _circuit(9)]
    out = executor.run(circuits, [5, 0, 7], rng=np.random.default_rng(1))
    assert out[0]["bob"].shape == (5, 1) and out[0]["bob"].dtype == np.uint8
    assert out[1]["bob"].shape == (0, 1)
    assert out[2]["bob"].shape == (7, 1) and out[2]["eve"].shape == (7, 1)
    empty = executor.run(circuits, [0, 0, 0], rng=np.random.default_rng(1))
    assert all(o["bob"].shape == (0, 1) for o in empty)


def test_invalid_requests_are_refused():
    executor = make_backend_executor("fake:manila")
    wide = QuantumCircuit(3)
    wide.add_register(ClassicalRegister(1, "bob"))
    wide.measure(0, 0)
    with pytest.raises(ConfigError, match="1 or 2 qubits"):
        executor.run([wide], [3], rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="2 shot counts"):
        executor.run([_circuit(0)], [1, 2], rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="not coupled"):
        make_backend_executor("fake:manila", qubits=[0, 2]).run(
            [_circuit(9)], [4], rng=np.random.default_rng(0)
        )
    with pytest.raises(ConfigError, match="slots"):
        make_backend_executor("fake:manila", slots=0)


def test_shot_budget_is_checked_before_anything_is_submitted():
    events: list[str] = []
    executor = make_backend_executor(
        "fake:manila",
        max_total_shots=100,
        on_budget=lambda b: events.append("budget"),
        on_submit=lambda j: events.append("submit"),
    )
    before = dict(ibm._SIMULATED_JOBS)
    with pytest.raises(
        ConfigError, match=r"needs .* device shots, more than the limit of 100 \(--max-shots\)"
    ):
        executor.run([_circuit(0), _circuit(1)], [80, 90], rng=np.random.default_rng(0))
    assert events == []
    assert set(ibm._SIMULATED_JOBS) == set(before)
    executor.max_total_shots = None
    executor.run([_circuit(0)], [10], rng=np.random.default_rng(0))
    assert events == ["budget", "submit"]


def test_simulated_jobs_survive_the_process_by_rerunning_from_their_seed():
    executor = make_backend_executor("fake:manila")
    job = executor.submit([_circuit(0), _circuit(7)], [50, 60], rng=np.random.default_rng(5))
    first = fetch_job(job)  # kept in memory while the process lives
    restored = SubmittedJob.from_dict(json.loads(json.dumps(job.to_dict())))
    assert restored == job
    second = fetch_job(restored)  # not in memory any more: re-run from the recorded seed
    for a, b in zip(first, second, strict=True):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert len(restored.isa_circuits()) == job.num_pubs == 2


# -- the runtime's local mode: Batch + executor_sampler.Sampler ----------------------------


def test_local_runtime_path_uses_the_current_sampler_in_a_batch():
    executor = make_backend_executor("fake:manila", local_runtime=True)
    circuits = [_circuit(c) for c in range(8)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = executor.run(circuits, [40] * 8, rng=np.random.default_rng(3))
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert all(o["bob"].shape == (40, 1) for o in out)
    job = executor.last_job
    assert job is not None and job.route == "local" and len(job.job_ids) == 8
    assert "executor_sampler.Sampler" in str(executor.describe()["sampler"])
    # Z basis, no Eve: Bob reads Alice's bit up to the device's readout error.
    for code in (0, 1):
        assert abs(out[code]["bob"].mean() - code) < 0.2


def test_local_runtime_qber_is_plausible():
    executor = make_backend_executor("fake:manila", local_runtime=True)
    records = run_quantum_phase(draw_choices(2000, rng=41), executor, rng=42)
    qber, n = _sifted_qber(records)
    assert executor.last_job is not None
    _assert_consistent(qber, executor.last_job, n)


def test_hardware_code_path_submit_save_resume_in_local_mode(tmp_path):
    """ibm:NAME with a local service: transpile, Batch submit, save, 'crash', load, fetch."""
    run_dir = tmp_path / "runs" / "x"
    seed = 2024
    rng_choices, rng_quantum = np.random.default_rng(seed).spawn(2)
    choices = draw_choices(2000, rng=rng_choices)
    saved: list[str] = []

    def persist(job: SubmittedJob) -> None:
        save_pending_run(run_dir, choices=choices, job=job, config={"seed": seed})
        saved.append(job.job_ids[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the local service loads every fake device
        executor = make_backend_executor(
            "ibm:fake_manila", service=_local_service(), pack=True, on_submit=persist
        )
    assert executor.route == "local"
    job = submit_grouped(choices.codes, _circuit, executor, rng=rng_quantum)
    assert saved == [job.job_ids[0]]
    ibm._SIMULATED_JOBS.clear()  # the client dies between submit and resume

    pending = load_pending_run(run_dir)
    assert isinstance(pending.choices, BB84Choices) and pending.job == job
    for name in ("alice_bits", "alice_bases", "bob_bases", "eve_bases"):
        assert np.array_equal(getattr(pending.choices, name), getattr(choices, name))
    out = collect_grouped(
        pending.job,
        pending.choices.codes,
        ("bob", "eve"),
        rng=np.random.default_rng(pending.config["seed"]),
        service=_local_service(),
    )
    sifted = pending.choices.alice_bases == pending.choices.bob_bases
    qber = float(np.mean(out["bob"][sifted] != pending.choices.alice_bits[sifted]))
    _assert_consistent(qber, pending.job, int(sifted.sum()))

    other = draw_choices(100, rng=1)
    with pytest.raises(ConfigError, match="do not match"):
        collect_grouped(pending.job, other.codes, ("bob",), rng=np.random.default_rng(0))


def test_least_busy_resolves_a_device_in_local_mode():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        executor = make_backend_executor("ibm:least-busy", service=_local_service())
    assert executor.backend.num_qubits >= 2 and executor.route == "local"
    assert executor.spec == "ibm:least-busy"


# -- credentials -----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["ibm:least-busy", "ibm:ibm_torino"])
def test_without_credentials_ibm_fails_at_once_with_how_to_save_an_account(
    spec, no_ibm_account, capsys
):
    start = time.perf_counter()
    with pytest.raises(BackendError) as excinfo:
        make_backend_executor(spec)
    assert time.perf_counter() - start < 2.0  # no network attempted
    message = str(excinfo.value)
    assert "QiskitRuntimeService.save_account(" in message
    assert "QISKIT_IBM_TOKEN" in message and "QISKIT_IBM_INSTANCE" in message
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_resume_of_a_hardware_job_without_credentials_is_a_clear_error(no_ibm_account):
    executor = make_backend_executor("fake:manila")
    job = executor.submit([_circuit(0)], [5], rng=np.random.default_rng(0))
    data = job.to_dict() | {"route": "ibm", "job_ids": ["d4hq0abc"], "job_seeds": [None]}
    with pytest.raises(BackendError, match="save_account"):
        fetch_job(SubmittedJob.from_dict(data))


def test_the_token_never_appears_in_errors_or_output(no_ibm_account, monkeypatch, capsys):
    import qiskit_ibm_runtime

    token = "sentinel-token-3f9a2c71"
    monkeypatch.setenv("QISKIT_IBM_TOKEN", token)

    def refuse(self, *args, **kwargs):  # the library echoing the token in its error
        raise RuntimeError(f"401 Unauthorized for apikey {token}")

    monkeypatch.setattr(qiskit_ibm_runtime.QiskitRuntimeService, "__init__", refuse)
    with pytest.raises(BackendError) as excinfo:
        make_backend_executor("ibm:least-busy")
    assert "could not connect" in str(excinfo.value)
    assert token not in str(excinfo.value) and "***" in str(excinfo.value)
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err


def test_aer_route_gives_every_pub_its_own_seed():
    """Two identical PUBs in one simulated job must not return the same shots.

    Sampler runs that share one seed draw the same random stream, so PUBs of one
    job must be run where each gets its own seed (one simulator call, equal shots).
    """
    from qkd_circuits.execution.ibm import _aer_job

    circuit = QuantumCircuit(1, 1)
    circuit.sx(0)  # a native gate of the device: outcomes 0/1 with probability 1/2
    circuit.measure(0, 0)
    first, second = _aer_job("manila", [circuit, circuit], 256, seed=12345).result()
    a = first.data.c.to_bool_array()
    b = second.data.c.to_bool_array()
    assert not np.array_equal(a, b)
    again = _aer_job("manila", [circuit, circuit], 256, seed=12345).result()
    assert np.array_equal(again[0].data.c.to_bool_array(), a)  # reproducible from the seed


def _service_whose_job_raises(error: type[Exception]):
    class Job:
        def result(self, timeout=None):
            raise error("boom")

        def status(self):
            return "ERROR"

        def error_message(self):
            return None

    class Service:
        is_local = False

        def job(self, job_id):
            return Job()

    return Service()


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("RuntimeJobMaxTimeoutError", "will not finish"),
        ("RuntimeJobTimeoutError", "fetch it again later"),
        ("RuntimeJobFailureError", "did not complete"),
    ],
)
def test_a_job_the_service_stopped_is_not_reported_as_still_running(name, fragment):
    executor = make_backend_executor("fake:manila")
    job = executor.submit([_circuit(0)], [5], rng=np.random.default_rng(0))
    data = job.to_dict() | {"route": "ibm", "job_ids": ["d4hq0abc"], "job_seeds": [None]}
    error = type(name, (Exception,), {})
    with pytest.raises(BackendError, match=fragment):
        fetch_job(SubmittedJob.from_dict(data), service=_service_whose_job_raises(error))


def test_an_unreachable_service_is_a_backend_error_and_a_bad_name_a_config_error():
    from qkd_circuits.execution.ibm import BackendSpec, _ibm_backend

    def service_raising(error: type[Exception]):
        class Service:
            is_local = False

            def backend(self, name):
                raise error("no")

        return Service()

    not_found = type("QiskitBackendNotFoundError", (Exception,), {})
    with pytest.raises(ConfigError, match="unknown IBM backend 'ibm_nowhere'"):
        _ibm_backend(service_raising(not_found), BackendSpec.parse("ibm:ibm_nowhere"), min_qubits=1)
    with pytest.raises(BackendError, match="check the network"):
        _ibm_backend(
            service_raising(ConnectionError), BackendSpec.parse("ibm:ibm_torino"), min_qubits=1
        )


# -- job mode, the server-side cap, usage, calibration time --------------------------------


class _RecordingSampler:
    """Stands in for ``executor_sampler.Sampler`` on the hardware route: records its mode."""

    made: ClassVar[list[_RecordingSampler]] = []

    def __init__(self, mode=None, options=None):
        from qiskit_ibm_runtime.options_models.sampler import SamplerOptions

        self.mode = mode
        self.options = SamplerOptions()
        self.submitted: list[tuple[int, int]] = []
        _RecordingSampler.made.append(self)

    def run(self, pubs, shots):
        self.submitted.append((len(pubs), shots))

        class Job:
            def job_id(self):
                return f"d5job{len(_RecordingSampler.made)}"

        return Job()


class _RecordingBatch:
    opened = 0

    def __init__(self, backend):
        self.backend = backend

    def __enter__(self):
        _RecordingBatch.opened += 1
        return self

    def __exit__(self, *exc):
        return False


class _Service:
    is_local = False

    def __init__(self, usage=12.5):
        self._usage = usage

    def active_account(self):
        return {"instance": "crn:v1:bluemix:public:quantum-computing:us-east:a/x::"}

    def job(self, job_id):
        usage = self._usage

        class Job:
            def usage(self):
                if isinstance(usage, Exception):
                    raise usage
                return usage

        return Job()


@pytest.fixture
def recording_runtime(monkeypatch):
    import qiskit_ibm_runtime
    import qiskit_ibm_runtime.executor_sampler as executor_sampler

    _RecordingSampler.made = []
    _RecordingBatch.opened = 0
    monkeypatch.setattr(executor_sampler, "Sampler", _RecordingSampler)
    monkeypatch.setattr(qiskit_ibm_runtime, "Batch", _RecordingBatch)
    return _RecordingSampler


def test_a_single_hardware_job_is_submitted_in_job_mode_with_a_server_side_cap(
    recording_runtime,
):
    backend = ibm.load_fake_backend("manila")
    executor = ibm.BackendExecutor(backend, spec="ibm:manila", route="ibm", service=_Service())
    job = executor.submit([_circuit(c) for c in range(4)], [30] * 4, rng=np.random.default_rng(0))
    (sampler,) = recording_runtime.made
    assert sampler.mode is backend and _RecordingBatch.opened == 0  # job mode, no Batch
    assert sampler.submitted == [(4, job.shots)]
    assert sampler.options.max_execution_time == job.budget.max_execution_time
    assert job.budget.max_execution_time == ibm.execution_time_cap(job.budget.estimated_qpu_seconds)
    assert sampler.options.twirling.enable_gates is False
    assert job.execution_mode == "job" and job.instance.startswith("crn:v1:")
    assert job.calibrated_at == backend.properties().last_update_date.isoformat()
    described = job.describe()
    assert described["execution_mode"] == "job" and described["calibrated_at"] == job.calibrated_at
    assert SubmittedJob.from_dict(job.to_dict()) == job


def test_several_jobs_share_one_batch(recording_runtime):
    backend = ibm.load_fake_backend("manila")
    ids = ibm._submit_jobs(
        "ibm",
        backend,
        [_circuit(0), _circuit(1)],
        [(0,), (1,)],
        [None, None],
        10,
        max_execution_time=90,
        service=_Service(),
    )
    assert len(ids) == 2 and _RecordingBatch.opened == 1
    assert all(isinstance(s.mode, _RecordingBatch) for s in recording_runtime.made)
    assert all(s.options.max_execution_time == 90 for s in recording_runtime.made)


def test_records_from_before_job_mode_and_the_cap_still_load():
    executor = make_backend_executor("fake:manila")
    job = executor.submit([_circuit(0)], [5], rng=np.random.default_rng(0))
    data = job.to_dict()
    for key in ("execution_mode", "calibrated_at", "instance"):
        data.pop(key)
    data["budget"].pop("max_execution_time")
    old = SubmittedJob.from_dict(data)
    assert old.execution_mode == "batch" and old.calibrated_at is None
    assert old.budget.max_execution_time == job.budget.max_execution_time


@pytest.mark.parametrize(
    ("estimate", "cap"),
    [(0.0, 60), (7.2, 60), (20.0, 60), (21.0, 63), (1000.0, 3000), (1e6, 10_800)],
)
def test_the_server_side_cap_is_three_times_the_estimate_within_ibm_limits(estimate, cap):
    assert ibm.execution_time_cap(estimate) == cap


def test_usage_is_read_from_the_service_for_hardware_jobs_only():
    executor = make_backend_executor("fake:manila")
    job = executor.submit([_circuit(0)], [5], rng=np.random.default_rng(0))
    assert ibm.job_usage(job)["qpu_seconds"] is None  # simulated: no QPU time
    hardware = SubmittedJob.from_dict(job.to_dict() | {"route": "ibm", "job_ids": ["d5a"]})
    usage = ibm.job_usage(hardware, service=_Service(usage=12.5))
    assert usage == {
        "qpu_seconds": 12.5,
        "per_job": {"d5a": 12.5},
        "source": "RuntimeJobV2.usage()",
    }
    unknown = ibm.job_usage(hardware, service=_Service(usage=RuntimeError("down")))
    assert unknown["qpu_seconds"] is None and unknown["per_job"] == {"d5a": None}
