"""One call from configuration to report: ``run(...)``, the Python mirror of ``qkd run``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from qkd_circuits.attacks.intercept_resend import EveSpec
from qkd_circuits.channel.noise import NoiseSpec, build_noise_model
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.execution.base import Executor, ProgressCallback
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import check_qber, estimate_qber
from qkd_circuits.postprocessing.sifting import sift
from qkd_circuits.protocols.bb84 import draw_choices, run_quantum_phase
from qkd_circuits.report import RunReport, eve_agreement
from qkd_circuits.specs import check_int
from qkd_circuits.versions import package_versions

PROTOCOLS = ("bb84",)
AER_BACKENDS = ("aer", "aer-shots", "aer-literal")
DEFAULT_QUBITS = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Everything that defines a run.

    Attributes:
        protocol: Protocol name (``"bb84"``).
        qubits: Number of exchanges, >= 1.
        noise: Channel and detector noise (Aer backends).
        eve: Eavesdropper.
        seed: Seed of the run's generator; None draws one (and the report records it).
        backend: ``"aer"`` (grouped circuits, exact distributions), ``"aer-shots"``
            (grouped circuits, Aer samples every shot) or ``"aer-literal"`` (one
            circuit per exchange).
        sample_fraction: Fraction of the sifted key disclosed to estimate the QBER, in (0, 1).
        qber_threshold: Abort when the estimated QBER exceeds this, in [0, 0.5].
        eps_pe: Failure probability of the QBER upper bound, in (0, 1).
    """

    protocol: str = "bb84"
    qubits: int = DEFAULT_QUBITS
    noise: NoiseSpec = field(default_factory=NoiseSpec)
    eve: EveSpec = field(default_factory=EveSpec)
    seed: int | None = None
    backend: str = "aer"
    sample_fraction: float = 0.1
    qber_threshold: float = 0.11
    eps_pe: float = 1e-10

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ConfigError(
                f"unknown protocol {self.protocol!r}; allowed: {', '.join(PROTOCOLS)}"
            )
        check_int(self.qubits, name="qubits", minimum=1)
        if self.seed is not None:
            check_int(self.seed, name="seed", minimum=0)
        if self.backend not in AER_BACKENDS:
            raise ConfigError(
                f"unknown backend {self.backend!r}; allowed: {', '.join(AER_BACKENDS)}"
            )
        if not 0.0 < self.sample_fraction < 1.0:
            raise ConfigError(f"sample fraction must be in (0, 1), got {self.sample_fraction!r}")
        if not 0.0 <= self.qber_threshold <= 0.5:
            raise ConfigError(f"qber threshold must be in [0, 0.5], got {self.qber_threshold!r}")
        if not 0.0 < self.eps_pe < 1.0:
            raise ConfigError(f"eps_pe must be in (0, 1), got {self.eps_pe!r}")


def make_executor(backend: str, noise: NoiseSpec) -> tuple[Executor, bool]:
    """The executor for a backend spec, and whether it runs one circuit per exchange."""
    if backend not in AER_BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; allowed: {', '.join(AER_BACKENDS)}")
    model = None if noise.is_noiseless else build_noise_model(noise)
    if backend == "aer":
        return AerExecutor(model, mode="probabilities"), False
    return AerExecutor(model, mode="shots"), backend == "aer-literal"


def run(
    protocol: str = "bb84",
    *,
    qubits: int = DEFAULT_QUBITS,
    noise: NoiseSpec | str = "none",
    eve: EveSpec | str = "none",
    seed: int | None = None,
    backend: str = "aer",
    sample_fraction: float = 0.1,
    qber_threshold: float = 0.11,
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Run a QKD protocol end to end and return its report.

    Args:
        protocol: ``"bb84"``.
        qubits: Number of exchanges.
        noise: A :class:`NoiseSpec` or a spec string such as ``"depolarizing=0.02,readout=0.01"``.
        eve: An :class:`EveSpec` or ``"none"``, ``"intercept-resend"``,
            ``"intercept-resend=FRACTION"``.
        seed: Seed; None draws one (recorded in the report).
        backend: ``"aer"``, ``"aer-shots"`` or ``"aer-literal"``.
        sample_fraction: Fraction of the sifted key disclosed to estimate the QBER.
        qber_threshold: Abort above this estimated QBER.
        progress: ``progress(done, total)`` callback for the quantum phase.

    Raises:
        ConfigError: on any invalid argument (nothing is run).
    """
    config = RunConfig(
        protocol=protocol,
        qubits=qubits,
        noise=NoiseSpec.parse(noise) if isinstance(noise, str) else noise,
        eve=EveSpec.parse(eve) if isinstance(eve, str) else eve,
        seed=seed,
        backend=backend,
        sample_fraction=sample_fraction,
        qber_threshold=qber_threshold,
    )
    return run_config(config, progress=progress)


def run_config(config: RunConfig, *, progress: ProgressCallback | None = None) -> RunReport:
    """Run ``config`` end to end (see :func:`run`)."""
    seed = config.seed if config.seed is not None else _fresh_seed()
    rng_choices, rng_quantum, rng_post = np.random.default_rng(seed).spawn(3)
    timings: dict[str, float] = {}

    with _timed(timings, "quantum"):
        executor, literal = make_executor(config.backend, config.noise)
        choices = draw_choices(config.qubits, eve=config.eve, rng=rng_choices)
        records = run_quantum_phase(
            choices, executor, literal=literal, rng=rng_quantum, progress=progress
        )

    channel = PublicChannel()
    with _timed(timings, "sifting"):
        sifted = sift(
            records.alice_bits,
            records.alice_bases,
            records.bob_bits,
            records.bob_bases,
            channel=channel,
        )

    aborted, reason, message = False, None, None
    with _timed(timings, "estimation"):
        estimate = None
        try:
            estimate = estimate_qber(
                sifted.alice,
                sifted.bob,
                sample_fraction=config.sample_fraction,
                eps=config.eps_pe,
                channel=channel,
                rng=rng_post,
            )
            check_qber(estimate, threshold=config.qber_threshold)
        except ProtocolAbort as abort:
            aborted, reason, message = True, abort.reason, str(abort)

    return RunReport(
        protocol=config.protocol,
        qubits=config.qubits,
        seed=seed,
        backend=config.backend,
        backend_info=executor.describe(),
        noise=config.noise.to_dict(),
        eve=config.eve.to_dict(),
        sifted_bits=sifted.size,
        sample_bits=estimate.sample_size if estimate else 0,
        sample_errors=estimate.sample_errors if estimate else 0,
        qber=estimate.qber if estimate else float("nan"),
        qber_upper=estimate.qber_upper if estimate else float("nan"),
        qber_actual=sifted.error_rate(),
        qber_by_basis=sifted.error_rate_by_basis(),
        qber_threshold=config.qber_threshold,
        eve_agreement=eve_agreement(records, sifted),
        aborted=aborted,
        abort_reason=reason,
        abort_message=message,
        timings_s=timings,
        versions=package_versions(),
        records=records,
        sifted=sifted,
    )


def _fresh_seed() -> int:
    """A fresh 63-bit seed from OS entropy, so that every run is reproducible from its report."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start
