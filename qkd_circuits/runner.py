"""One call from configuration to report: ``run(...)``, the Python mirror of ``qkd run``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qkd_circuits.attacks.intercept_resend import EveSpec
from qkd_circuits.channel.noise import NoiseSpec, build_noise_model
from qkd_circuits.errors import ConfigError
from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.execution.base import Executor, ProgressCallback
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.pipeline import (
    KeyLengthMethod,
    PostprocessingConfig,
    distill_key,
)
from qkd_circuits.postprocessing.sifting import sift
from qkd_circuits.protocols.bb84 import draw_choices, run_quantum_phase
from qkd_circuits.report import RunReport, build_report
from qkd_circuits.specs import check_int
from qkd_circuits.timing import StageCallback, Stopwatch

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
        postprocessing: Parameters of the classical post-processing.
    """

    protocol: str = "bb84"
    qubits: int = DEFAULT_QUBITS
    noise: NoiseSpec = field(default_factory=NoiseSpec)
    eve: EveSpec = field(default_factory=EveSpec)
    seed: int | None = None
    backend: str = "aer"
    postprocessing: PostprocessingConfig = field(default_factory=PostprocessingConfig)

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
    reconciliation: str = "cascade:original",
    key_length_method: KeyLengthMethod = "finite",
    eps_sec: float = 1e-10,
    eps_cor: float = 1e-15,
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
        reconciliation: ``"cascade"`` or ``"cascade:VARIANT"``.
        key_length_method: ``"finite"`` (Tomamichel et al. 2012) or ``"asymptotic"``.
        eps_sec: Secrecy parameter.
        eps_cor: Correctness parameter.
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
        postprocessing=PostprocessingConfig(
            sample_fraction=sample_fraction,
            qber_threshold=qber_threshold,
            reconciliation=reconciliation,
            key_length_method=key_length_method,
            eps_sec=eps_sec,
            eps_cor=eps_cor,
        ),
    )
    return run_config(config, progress=progress)


def run_config(
    config: RunConfig,
    *,
    progress: ProgressCallback | None = None,
    on_stage: StageCallback | None = None,
) -> RunReport:
    """Run ``config`` end to end (see :func:`run`).

    Args:
        config: The run's configuration.
        progress: ``progress(done, total)`` callback for the quantum phase.
        on_stage: Called with each stage's name as it starts.
    """
    seed = config.seed if config.seed is not None else _fresh_seed()
    rng_choices, rng_quantum, rng_post = np.random.default_rng(seed).spawn(3)
    clock = Stopwatch(on_stage)

    with clock("quantum"):
        executor, literal = make_executor(config.backend, config.noise)
        choices = draw_choices(config.qubits, eve=config.eve, rng=rng_choices)
        records = run_quantum_phase(
            choices, executor, literal=literal, rng=rng_quantum, progress=progress
        )

    channel = PublicChannel()
    with clock("sifting"):
        sifted = sift(
            records.alice_bits,
            records.alice_bases,
            records.bob_bits,
            records.bob_bases,
            channel=channel,
        )
    result = distill_key(
        sifted.alice,
        sifted.bob,
        config=config.postprocessing,
        channel=channel,
        rng=rng_post,
        on_stage=on_stage,
    )
    return build_report(
        config=config,
        seed=seed,
        backend_info=executor.describe(),
        records=records,
        sifted=sifted,
        result=result,
        timings={**clock.timings, **result.timings_s},
    )


def _fresh_seed() -> int:
    """A fresh 63-bit seed from OS entropy, so that every run is reproducible from its report."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
