"""One call from configuration to report: ``run(...)``, the Python mirror of ``qkd run``."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.channel.noise import NoiseSpec, build_noise_model
from qkd_circuits.errors import ConfigError
from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.execution.base import Executor, ProgressCallback
from qkd_circuits.optics.exchanges import LinkRun, link_report_fields, run_link_exchanges
from qkd_circuits.optics.link import (
    DEFAULT_LINK_BLOCK_DETECTIONS,
    LinkModel,
    link_from_dict,
    link_to_dict,
)
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.key_length import Statement
from qkd_circuits.postprocessing.pipeline import (
    DistillationResult,
    PostprocessingConfig,
    distill_key,
)
from qkd_circuits.postprocessing.security import SecurityAnalysis, sifted_bits_needed
from qkd_circuits.protocols.base import LinkProtocol, Protocol, run_exchanges
from qkd_circuits.protocols.registry import (
    DEFAULT_PROTOCOL,
    DEFAULT_QUBITS,
    get_protocol,
)
from qkd_circuits.protocols.registry import protocol_info as get_protocol_info
from qkd_circuits.randomness import RunRandomness
from qkd_circuits.report import BlockOutcome, RunReport, build_report, combine_blocks
from qkd_circuits.specs import check_int
from qkd_circuits.timing import StageCallback, Stopwatch

AER_BACKENDS = ("aer", "aer-shots", "aer-literal")
DEFAULT_BLOCK_QUBITS = 10**7
"""Exchanges per block of a streamed run on Aer (``RunConfig.block_qubits``): a run of
at most this many is one block, so every figure of such runs is that of one distillation."""
MIN_BLOCK_QUBITS = 10_000
"""Smallest block: a BB84 block of 5,000 noiseless exchanges still cannot pay for its own
finite-key and authentication terms (measured); 10,000 is the smallest that emits."""
BYTES_PER_QUBIT = 64
"""Peak memory of a run per exchange: 56 bytes measured at 10^7 (``qkd run``'s maximum
resident set size less the interpreter's), rounded up."""
STREAM_KEY_BYTES_PER_QUBIT = 1.25
"""What a streamed run keeps per exchange, at most: the blocks' keys (at most one bit per
exchange), packed for both parties (2/8 byte), then the key unpacked once (1 byte)."""
STREAM_BYTES_PER_BLOCK = 16_384
"""What a streamed run keeps per block besides its key: its figures (~9 KB measured) and
their JSON (~4 KB), rounded up."""


BlockCallback = Callable[[int, int], None]
"""Called with ``(index, count)`` as each block of a streamed run starts."""


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def memory_needed(qubits: int, block: int) -> int:
    """Bytes a run of ``qubits`` exchanges in blocks of at most ``block`` needs at most:
    one block's working memory, plus, when streamed, the key kept from every block."""
    if qubits <= block:
        return qubits * BYTES_PER_QUBIT
    blocks = -(-qubits // block)
    key = math.ceil(qubits * STREAM_KEY_BYTES_PER_QUBIT) + blocks * STREAM_BYTES_PER_BLOCK
    return block * BYTES_PER_QUBIT + key


def check_fits_in_memory(
    qubits: int, block: int | None = None, *, pulses_per_exchange: float | None = None
) -> None:
    """Refuse, before any work, a run that cannot fit in this machine's memory.

    Args:
        qubits: Exchanges of the run (over a link: its expected detections).
        block: Largest block of a streamed run, in exchanges (None: one block of
            ``qubits``).
        pulses_per_exchange: Over a link, pulses sent per detection: the advice is then
            given in pulses, the unit of ``--qubits`` and ``--block`` there. None: the
            exchanges are qubits.

    Raises:
        ConfigError: with the estimate and the largest run (and block) that fits.
    """
    available = _available_memory()
    if available is None:
        return
    block = qubits if block is None else block
    need = memory_needed(qubits, block)
    usable = int(0.9 * available)
    if need <= usable:
        return
    unit = "qubit" if pulses_per_exchange is None else "detection"
    ratio = 1.0 if pulses_per_exchange is None else pulses_per_exchange

    def as_option(exchanges: int) -> str:
        """``exchanges`` as a ``--qubits``/``--block`` value (pulses over a link)."""
        if pulses_per_exchange is None:
            return f"{exchanges:,} qubits"
        return f"{exchanges:,} detections, about {int(exchanges * ratio):,} pulses"

    if qubits > block and block * BYTES_PER_QUBIT > usable:
        most_block = max(int(usable // (2 * BYTES_PER_QUBIT) * ratio), MIN_BLOCK_QUBITS)
        raise ConfigError(
            f"a block of {block:,} {unit}s needs about {block * BYTES_PER_QUBIT / 2**30:.1f} "
            f"GiB (~{BYTES_PER_QUBIT} bytes per {unit}) but {available / 2**30:.1f} GiB is "
            f"available: use --block {most_block:,} or less"
        )
    if qubits <= block:
        most, rule = usable // BYTES_PER_QUBIT, f"~{BYTES_PER_QUBIT} bytes per {unit}"
    else:
        spare = usable - block * BYTES_PER_QUBIT
        most = int(spare / (STREAM_KEY_BYTES_PER_QUBIT + STREAM_BYTES_PER_BLOCK / block))
        rule = (
            f"~{BYTES_PER_QUBIT} bytes per {unit} of a {block:,}-{unit} block, and up to "
            f"{STREAM_KEY_BYTES_PER_QUBIT} bytes per {unit} for the key it keeps"
        )
    raise ConfigError(
        f"{qubits:,} {unit}s need about {need / 2**30:.1f} GiB of memory ({rule}) but "
        f"{available / 2**30:.1f} GiB is available: at most {as_option(most)} fit on this "
        "machine"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Everything that defines a run.

    Attributes:
        protocol: A registered protocol name (``qkd protocols`` lists them).
        qubits: Number of exchanges, >= 1.
        noise: Channel and detector noise (Aer backends).
        eve: Eavesdropper.
        seed: None (default): every secret draw comes from the OS CSPRNG and no seed
            is recorded. An int makes the run a reproducible simulation: every draw,
            secret ones included, is derived from it, so anyone with the report can
            recompute the key (the report says ``"reproducible": true``).
        backend: ``"aer"`` (grouped circuits, exact distributions), ``"aer-shots"``
            (grouped circuits, Aer samples every shot), ``"aer-literal"`` (one
            circuit per exchange), or a device: ``"fake:NAME"`` (a snapshot of an
            IBM device, simulated with its noise), ``"ibm:NAME"``, ``"ibm:least-busy"``.
        pack: On a device, place many exchanges side by side per shot.
        max_shots: On a device, refuse (before submitting) a run that needs more
            device shots than this (None: no limit).
        postprocessing: Parameters of the classical post-processing.
        block_qubits: Aer backends: exchanges per block of a streamed run (None:
            :data:`DEFAULT_BLOCK_QUBITS`). A run of more exchanges is cut into
            blocks of equal size (:attr:`block_sizes`), each run and distilled to
            its own finite-key secure key in turn, so memory depends on the block,
            not on ``qubits``. Device runs are one block. Over a link: pulses per block
            (None: as many blocks as keep each one's expected detections within
            :data:`DEFAULT_LINK_BLOCK_DETECTIONS`).
        link: A fibre link with its source (:class:`~qkd_circuits.optics.link.LinkModel`;
            None: every qubit arrives, no source statistics). Then ``qubits`` counts
            the pulses Alice sends, and only the detected ones are exchanges
            (:mod:`qkd_circuits.optics.exchanges`); Aer backend, protocols with
            ``draw_detected_choices`` (``bb84``, ``decoy-bb84``), Eve none or ``pns``.
    """

    protocol: str = DEFAULT_PROTOCOL
    qubits: int = DEFAULT_QUBITS
    noise: NoiseSpec = field(default_factory=NoiseSpec)
    eve: EveSpec = field(default_factory=EveSpec)
    seed: int | None = None
    backend: str = "aer"
    pack: bool = False
    max_shots: int | None = None
    postprocessing: PostprocessingConfig = field(default_factory=PostprocessingConfig)
    block_qubits: int | None = None
    link: LinkModel | None = None

    def __post_init__(self) -> None:
        for name, kind in (
            ("noise", NoiseSpec),
            ("eve", EveSpec),
            ("postprocessing", PostprocessingConfig),
        ):
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(
                    f"{name} must be of type {kind.__name__} (or, in run(), its spec string), "
                    f"got {getattr(self, name)!r}"
                )
        if not isinstance(self.backend, str):
            raise ConfigError(f"backend must be a string such as 'aer', got {self.backend!r}")
        if not isinstance(self.pack, bool):
            raise ConfigError(f"pack must be True or False, got {self.pack!r}")
        get_protocol(self.protocol)  # an unknown name lists the known ones
        check_int(self.qubits, name="qubits", minimum=1)
        if self.seed is not None:
            check_int(self.seed, name="seed", minimum=0)
        if self.max_shots is not None:
            check_int(self.max_shots, name="max_shots", minimum=1)
        if self.block_qubits is not None:
            check_int(self.block_qubits, name="block_qubits", minimum=MIN_BLOCK_QUBITS)
        if self.backend not in AER_BACKENDS:
            if ":" not in self.backend:
                raise ConfigError(
                    f"unknown backend {self.backend!r}; allowed: {', '.join(AER_BACKENDS)}, "
                    "fake:NAME, ibm:NAME, ibm:least-busy"
                )
            spec = _device_module().BackendSpec.parse(self.backend)
            if not self.noise.is_noiseless:
                raise ConfigError(
                    f"noise {str(self.noise)!r} applies to Aer backends only; on "
                    f"{self.backend!r} the channel is the device itself"
                )
            self._check_fits_device(spec)
            if self.block_qubits is not None:
                raise ConfigError(
                    f"block_qubits applies to Aer backends ({', '.join(AER_BACKENDS)}) only; "
                    f"a run on {self.backend!r} is one block"
                )
        else:
            for name in ("pack", "max_shots"):
                if getattr(self, name) not in (False, None):
                    raise ConfigError(
                        f"{name} applies to device backends (fake:NAME, ibm:...) only, "
                        f"not {self.backend!r}"
                    )
        self._check_link()
        if self.eve.active:  # builds each attacked circuit once (ms): a protocol refuses an
            self.protocol_object.max_circuit_qubits(eve=self.eve)  # attack it cannot run

    def _check_link(self) -> None:
        """Refuse, before anything runs, a link run that cannot be one (and PNS or a
        link-only protocol without a link)."""
        link = self.link
        needs_link = get_protocol_info(self.protocol).needs_link
        if link is None:
            if needs_link:
                raise ConfigError(
                    f"{self.protocol} runs over a link: give its distance (--distance KM)"
                )
            if self.eve.kind == "pns":
                raise ConfigError(
                    "pns splits the photons of a weak laser's pulses: it needs a link "
                    "(--distance KM) with --source wcp:mu=M"
                )
            return
        if not isinstance(link, LinkModel):
            raise ConfigError(f"link must be a LinkModel, got {link!r}")
        if link.decoys and not needs_link:
            raise ConfigError(
                f"decoy intensities {link.decoys!r} need a decoy-state protocol, not "
                f"{self.protocol!r}"
            )
        if needs_link and not link.decoys:
            raise ConfigError(f"{self.protocol} needs decoy intensities (--decoy NU1[,NU2])")
        if not isinstance(self.protocol_object, LinkProtocol):
            raise ConfigError(
                f"--distance applies to protocols run over a link (bb84, decoy-bb84), "
                f"not {self.protocol!r}"
            )
        if self.backend != "aer":
            raise ConfigError(
                f"a link run needs each circuit's exact distribution: backend 'aer', not "
                f"{self.backend!r}"
            )
        if self.eve.kind not in ("none", "pns"):
            raise ConfigError(f"on a link, --eve takes none or pns, got {str(self.eve)!r}")
        if self.eve.kind == "pns" and link.source.kind != "wcp":
            raise ConfigError("pns needs multi-photon pulses: --source wcp:mu=M")
        if self.noise.misalignment:
            raise ConfigError(
                "the link sets the misalignment (its e_d): drop misalignment from --noise"
            )

    def _check_fits_device(self, spec: Any) -> None:
        """Refuse, before anything runs, a device run whose widest circuit (the protocol's
        :meth:`~qkd_circuits.protocols.base.Protocol.max_circuit_qubits` with this Eve)
        the device path cannot take or a ``fake:`` device cannot hold. An ``ibm:``
        device's size is not known without connecting; its executor checks it."""
        widest = _device_module().MAX_CIRCUIT_QUBITS
        width = self.protocol_object.max_circuit_qubits(eve=self.eve)
        what = f"{self.protocol} with Eve ({self.eve})" if self.eve.active else self.protocol
        if width > widest:
            fits_without_eve = self.eve.active and (
                self.protocol_object.max_circuit_qubits(eve=None) <= widest
            )
            raise ConfigError(
                f"{what} has exchange circuits of {width} qubits, but device backends run "
                f"circuits of 1 or 2 qubits (signal, probe): run it on "
                f"{', '.join(AER_BACKENDS)}, not {self.backend!r}"
                + (", or without Eve" if fits_without_eve else "")
            )
        if width > 1 and spec.provider == "fake":
            size = int(_device_module().load_fake_backend(spec.name).num_qubits)
            if size < width:
                raise ConfigError(
                    f"{what} has exchange circuits of {width} qubits, more than the {size} "
                    f"of {self.backend!r}: choose a larger device (e.g. fake:manila)"
                )

    @property
    def protocol_object(self) -> Protocol:
        """The registered protocol this run uses."""
        return get_protocol(self.protocol)

    @property
    def on_device(self) -> bool:
        """True for ``fake:``/``ibm:`` backends."""
        return self.backend not in AER_BACKENDS

    def check_memory(self) -> None:
        """Refuse, before any work, a run this machine's memory cannot hold
        (:func:`check_fits_in_memory`; over a link, sized by the expected detections)."""
        if self.link is None:
            check_fits_in_memory(self.qubits, max(self.block_sizes))
            return
        total, block = self.memory_exchanges()
        try:
            check_fits_in_memory(total, block, pulses_per_exchange=self.qubits / total)
        except ConfigError as exc:
            raise ConfigError(
                f"{self.qubits:,} pulses over {self.link.distance_km:g} km give about "
                f"{total:,} detections ({max(self.block_sizes):,} pulses per block), and {exc}"
                "; send fewer pulses (--qubits) or fewer per block (--block)"
            ) from None

    def memory_exchanges(self) -> tuple[int, int]:
        """(exchanges of the run, of its largest block) that memory is sized for: the
        qubits, or over a link the expected detections with a 6σ margin."""
        largest = max(self.block_sizes)
        if self.link is None:
            return self.qubits, largest

        def detections(pulses: int) -> int:
            mean = self.link.expected_detections(pulses)  # type: ignore[union-attr]
            return max(1, math.ceil(mean + 6.0 * math.sqrt(mean) + 10.0))

        return detections(self.qubits), detections(largest)

    @property
    def block_sizes(self) -> tuple[int, ...]:
        """Exchanges of each block, in order: ``ceil(qubits / block_qubits)`` blocks whose
        sizes differ by at most one (one block on devices and for short runs)."""
        block = DEFAULT_BLOCK_QUBITS if self.block_qubits is None else self.block_qubits
        count = 1 if self.on_device else -(-self.qubits // block)
        if self.link is not None and self.block_qubits is None:
            expected = self.link.expected_detections(self.qubits)
            count = max(1, math.ceil(expected / DEFAULT_LINK_BLOCK_DETECTIONS))
        return tuple(
            (self.qubits * (i + 1)) // count - (self.qubits * i) // count for i in range(count)
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (specs as strings), inverse of :meth:`from_dict`."""
        pp = self.postprocessing
        return {
            "protocol": self.protocol,
            "qubits": self.qubits,
            "noise": str(self.noise),
            "eve": str(self.eve),
            "seed": self.seed,
            "backend": self.backend,
            "pack": self.pack,
            "max_shots": self.max_shots,
            "postprocessing": {f.name: getattr(pp, f.name) for f in fields(pp)},
            "block_qubits": self.block_qubits,
            "link": None if self.link is None else link_to_dict(self.link),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Rebuild a config saved with :meth:`to_dict` (also by earlier releases, whose
        ``key_length_method`` — ``finite`` or ``asymptotic`` — becomes the ``variable``
        finite-key statement: the asymptotic length is never emitted)."""
        try:
            post = dict(data["postprocessing"])
            if "key_length_method" in post:
                post.pop("key_length_method")
                post.setdefault("key_length", "variable")
            return cls(
                protocol=data["protocol"],
                qubits=data["qubits"],
                noise=NoiseSpec.parse(data["noise"]),
                eve=EveSpec.parse(data["eve"]),
                seed=data["seed"],
                backend=data["backend"],
                pack=data["pack"],
                max_shots=data.get("max_shots"),  # absent from earlier releases' records
                postprocessing=PostprocessingConfig(**post),
                block_qubits=data.get("block_qubits"),  # absent from earlier releases' records
                link=None if data.get("link") is None else link_from_dict(data["link"]),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(
                f"saved run configuration is incomplete or malformed: {exc}"
            ) from None


def _device_module() -> Any:
    """The IBM/fake-device layer, imported on first use (it needs qiskit-ibm-runtime)."""
    try:
        from qkd_circuits.execution import ibm
    except ImportError as exc:
        raise ConfigError(
            f"device backends need qiskit-ibm-runtime ({exc}); install it with "
            "pip install 'qkd-circuits[ibm]'"
        ) from None
    return ibm


def make_executor(
    config: RunConfig,
    *,
    on_budget: Callable[[Any], None] | None = None,
    on_submit: Callable[[Any], None] | None = None,
) -> tuple[Executor, bool]:
    """The executor for a run, and whether it runs one circuit per exchange.

    Args:
        config: The run (its backend, noise and packing).
        on_budget: Device backends: called with the shot budget before submitting.
        on_submit: Device backends: called with each submitted job before waiting.
    """
    if config.on_device:
        executor = _device_module().make_backend_executor(
            config.backend,
            pack=config.pack,
            max_total_shots=config.max_shots,
            on_budget=on_budget,
            on_submit=on_submit,
        )
        return executor, False
    noise = config.noise
    if config.link is not None:  # the link's misalignment: a rotation in every circuit
        noise = dataclasses.replace(noise, misalignment=config.link.misalignment)
    model = None if noise.is_noiseless else build_noise_model(noise)
    if config.backend == "aer":
        return AerExecutor(model, mode="probabilities"), False
    return AerExecutor(model, mode="shots"), config.backend == "aer-literal"


def run(
    protocol: str = DEFAULT_PROTOCOL,
    *,
    qubits: int = DEFAULT_QUBITS,
    noise: NoiseSpec | str = "none",
    eve: EveSpec | str = "none",
    seed: int | None = None,
    backend: str = "aer",
    pack: bool = False,
    sample_fraction: float = 0.1,
    qber_threshold: float = 0.11,
    reconciliation: str = "cascade:original",
    key_length: Statement = "variable",
    eps_sec: float = 1e-10,
    eps_cor: float = 1e-15,
    block_qubits: int | None = None,
    link: LinkModel | None = None,
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Run a QKD protocol end to end and return its report.

    Args:
        protocol: A registered protocol name (``qkd protocols`` lists them).
        qubits: Number of exchanges.
        noise: A :class:`NoiseSpec` or a spec string such as ``"depolarizing=0.02,readout=0.01"``.
        eve: An :class:`EveSpec` or its spelling (:mod:`qkd_circuits.attacks.spec`):
            ``"none"``, ``"intercept-resend[=FRACTION][:basis=random|z|x|breidbart]"``,
            ``"cloner=D[:fraction=FRACTION]"``.
        seed: None (default): secrets from the OS CSPRNG, nothing recorded; an int: a
            reproducible simulation whose key anyone with the report can recompute.
        backend: ``"aer"``, ``"aer-shots"``, ``"aer-literal"``, ``"fake:NAME"``,
            ``"ibm:NAME"`` or ``"ibm:least-busy"``.
        pack: On a device, place many exchanges side by side per shot.
        sample_fraction: Fraction of the sifted key disclosed to estimate the QBER.
        qber_threshold: Abort above this estimated QBER.
        reconciliation: ``"cascade"``, ``"cascade:VARIANT"``, ``"ldpc"`` or ``"ldpc:blind"``.
        key_length: Finite-key statement: ``"variable"`` (observed errors) or ``"fixed"``
            (``qber_threshold`` as the pre-agreed tolerance); see
            :mod:`~qkd_circuits.postprocessing.key_length`.
        eps_sec: Secrecy parameter.
        eps_cor: Correctness parameter.
        block_qubits: Aer: stream the run in blocks of about this many exchanges,
            each distilled to its own key (None: :data:`DEFAULT_BLOCK_QUBITS`, so
            shorter runs are one block); see :attr:`RunConfig.block_sizes`.
        link: Over a fibre link: its :class:`~qkd_circuits.optics.link.LinkModel`
            (distance, parameters, source and decoy intensities; ``qkd run
            --distance``). ``qubits`` then counts pulses. None: qubits straight into
            the noise model.
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
        pack=pack,
        block_qubits=block_qubits,
        link=link,
        postprocessing=PostprocessingConfig(
            sample_fraction=sample_fraction,
            qber_threshold=qber_threshold,
            reconciliation=reconciliation,
            key_length=key_length,
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
    run_dir: str | Path | None = None,
    on_budget: Callable[[Any], None] | None = None,
    on_block: BlockCallback | None = None,
) -> RunReport:
    """Run ``config`` end to end (see :func:`run`), block after block when it has
    several (:attr:`RunConfig.block_sizes`, :func:`_run_streamed`).

    Args:
        config: The run's configuration.
        progress: ``progress(done, total)`` callback for the quantum phase, counting
            the exchanges of the whole run.
        on_stage: Called with each stage's name as it starts (in every block).
        on_block: Called with ``(index, count)`` as each block starts (streamed runs).
        run_dir: Device backends: save the submitted job and the run's secrets
            here (mode 0600) before waiting for results, so that an interrupted
            run can be finished with :func:`resume_run`. Must not exist yet.
        on_budget: Device backends: called with the shot budget before submitting.
    """
    config.check_memory()
    if run_dir is not None and not config.on_device:
        raise ConfigError("run_dir applies to device backends (fake:NAME, ibm:...) only")
    if len(config.block_sizes) > 1 or config.link is not None:
        return _run_streamed(config, progress=progress, on_stage=on_stage, on_block=on_block)
    streams = RunRandomness.for_run(config.seed)
    clock = Stopwatch(on_stage)
    with clock("quantum"):
        protocol = config.protocol_object
        choices = protocol.draw_choices(config.qubits, eve=config.eve, rng=streams.choices)
        on_submit = None
        if run_dir is not None:
            store = _run_store()
            store.check_new_run_dir(run_dir)
            saved = config.to_dict()
            on_budget = _creating_run_dir(run_dir, on_budget)

            def on_submit(job: Any) -> None:
                store.save_pending_run(run_dir, choices=choices, job=job, config=saved)

        executor, literal = make_executor(config, on_budget=on_budget, on_submit=on_submit)
        records = run_exchanges(
            protocol, choices, executor, eve=config.eve, literal=literal, rng=streams.quantum,
            progress=progress,
        )  # fmt: skip
    backend_info = executor.describe()
    if config.on_device:
        job = getattr(executor, "last_job", None)
        service = getattr(executor, "service", None)
        if job is not None:
            backend_info["usage"] = _device_module().job_usage(job, service=service)
    return _finish(config, streams, records, backend_info, clock, on_stage, run_dir=run_dir)


def _run_streamed(
    config: RunConfig,
    *,
    progress: ProgressCallback | None,
    on_stage: StageCallback | None,
    on_block: BlockCallback | None,
) -> RunReport:
    """Run ``config`` block after block: each block's exchanges are drawn, run, sifted
    and distilled to its own key before the next block starts, and only the block's
    figures and packed key are kept (:class:`~qkd_circuits.report.BlockOutcome`), so
    memory is that of one block plus the key. The randomness streams run on from one
    block to the next (a seeded run reproduces every block); the executor, and with it
    every circuit's tabulated distribution, is built once.

    Each block is distilled at ``ε / blocks`` for each of the run's ε's (secrecy,
    correctness, authentication), so the concatenated key meets the ε's asked for
    (composability: :func:`~qkd_circuits.report.combine_blocks`)."""
    streams = RunRandomness.for_run(config.seed)
    protocol = config.protocol_object
    executor, literal = make_executor(config)
    sizes = config.block_sizes
    per_block = config.postprocessing.for_one_of(len(sizes))
    outcomes: list[BlockOutcome] = []
    timings: dict[str, float] = {}
    done = 0
    for index, size in enumerate(sizes):
        if on_block is not None:
            on_block(index, len(sizes))
        clock = Stopwatch(on_stage)
        block_progress = progress and _offset_progress(progress, done, config.qubits)

        link_run = None
        with clock("quantum"):
            if config.link is not None:
                link_run = run_link_exchanges(
                    protocol, config.link, size, executor, eve=config.eve,
                    choices_rng=streams.choices, quantum_rng=streams.quantum,
                )  # fmt: skip
                records = link_run.records
                if block_progress is not None:
                    block_progress(size, size)
            else:
                choices = protocol.draw_choices(size, eve=config.eve, rng=streams.choices)
                records = run_exchanges(
                    protocol, choices, executor, eve=config.eve, literal=literal,
                    rng=streams.quantum, progress=block_progress,
                )  # fmt: skip
                del choices
        block = dataclasses.replace(config, qubits=size, postprocessing=per_block)
        report = _finish(
            block, streams, records, executor.describe(), clock, on_stage,
            run_qubits=config.qubits if len(sizes) > 1 else None, link_run=link_run,
        )  # fmt: skip
        del records, link_run
        if len(sizes) == 1:  # a link run of one block: its report is the run's
            return report
        outcomes.append(BlockOutcome.of(report))
        for stage, seconds in report.timings_s.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
        del report
        done += size
    return combine_blocks(
        config=config,
        seed=streams.seed,
        backend_info=executor.describe(),
        blocks=outcomes,
        timings=timings,
    )


def _offset_progress(progress: ProgressCallback, base: int, total: int) -> ProgressCallback:
    """A block's progress callback reporting exchanges of the whole run."""

    def report(done: int, _block_total: int) -> None:
        progress(base + done, total)

    return report


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    """What a run would do and cost, computed without running or submitting it.

    Attributes:
        config: The run.
        memory_bytes: Estimated peak memory (:func:`memory_needed`).
        backend_info: The executor's description (device, sampler, route).
        budget: Device runs: the :class:`~qkd_circuits.execution.ibm.ShotBudget`
            (shots, QPU-time estimate, server-side cap); None on Aer.
        device_qubits: Device runs: the physical qubits the calibration chose.
    """

    config: RunConfig
    memory_bytes: int
    backend_info: dict[str, Any]
    budget: Any = None
    device_qubits: tuple[int, ...] = ()

    def summary(self) -> str:
        """A few lines for the terminal."""
        config = self.config
        unit = "qubits" if config.link is None else "pulses"
        lines = [
            f"dry run: nothing was {'submitted' if config.on_device else 'simulated'}",
            f"run: {config.protocol} with {config.qubits:,} {unit} on "
            f"{self.backend_info.get('name', config.backend)}",
        ]
        if config.link is not None:
            link = config.link
            lines.append(
                f"link: {link.distance_km:g} km of {link.parameters.name}, {link.source}"
                + (f", decoys {', '.join(f'{v:g}' for v in link.intensities.values[1:])}"
                   if link.decoys else "")
                + f"; about {link.expected_detections(config.qubits):,.0f} detections expected"
            )  # fmt: skip
        lines.append(f"memory: about {self.memory_bytes / 2**20:,.0f} MiB")
        blocks = config.block_sizes
        if len(blocks) > 1:
            what = "exchanges" if config.link is None else "pulses"
            lines.append(
                f"blocks: {len(blocks)} of ~{max(blocks):,} {what}, each distilled to its "
                "own key (memory: one block's, plus the key)"
            )
        if self.budget is not None:
            lines.append(f"qubits used: {list(self.device_qubits)}")
            lines.append(f"shot budget: {self.budget.summary()}")
            if self.config.max_shots is not None:
                lines.append(f"within --max-shots {self.config.max_shots:,}")
        return "\n".join(lines)


def plan_run(config: RunConfig) -> RunPlan:
    """Everything a run is checked against before it starts, and its cost, without
    running it: memory, the device (looked up, read-only), the qubits the
    calibration chooses and the shot budget.

    Raises:
        ConfigError: the run would be refused (memory, ``max_shots``, device).
        BackendError: the device cannot be reached.
    """
    config.check_memory()
    memory = memory_needed(*config.memory_exchanges())
    executor, _ = make_executor(config)
    if not config.on_device:
        return RunPlan(config=config, memory_bytes=memory, backend_info=executor.describe())
    from qkd_circuits.execution.base import GroupPlan

    streams = RunRandomness.for_run(config.seed)
    protocol = config.protocol_object
    choices = protocol.draw_choices(config.qubits, eve=config.eve, rng=streams.choices)
    groups = GroupPlan.from_codes(choices.codes)
    circuits = [protocol.circuit_for_code(int(c), eve=config.eve) for c in groups.codes]
    device: Any = executor
    budget, slots, _, _ = device.plan(circuits, [int(s) for s in groups.shots])
    device.check_budget(budget)
    return RunPlan(
        config=config,
        memory_bytes=memory,
        backend_info=executor.describe(),
        budget=budget,
        device_qubits=tuple(q for s in slots for q in s.qubits),
    )


def submit_run(
    config: RunConfig,
    run_dir: str | Path,
    *,
    on_budget: Callable[[Any], None] | None = None,
) -> Path:
    """Submit a device run and return its directory at once; :func:`resume_run` finishes it.

    Alice's bits and bases, Bob's and Eve's bases (the run's secrets), the job
    and the configuration are saved in ``run_dir`` (mode 0700, files 0600).

    Raises:
        ConfigError: an Aer backend (nothing to submit), or ``run_dir`` exists.
        BackendError: the device cannot be reached (e.g. no saved account).
    """
    if not config.on_device:
        raise ConfigError(
            f"submit-only needs a device backend (fake:NAME, ibm:NAME, ibm:least-busy), "
            f"not {config.backend!r}"
        )
    check_fits_in_memory(config.qubits)
    store, device = _run_store(), _device_module()
    directory = store.check_new_run_dir(run_dir)
    streams = RunRandomness.for_run(config.seed)
    protocol = config.protocol_object
    choices = protocol.draw_choices(config.qubits, eve=config.eve, rng=streams.choices)
    executor, _ = make_executor(config, on_budget=_creating_run_dir(directory, on_budget))
    job = device.submit_grouped(
        choices.codes,
        functools.partial(protocol.circuit_for_code, eve=config.eve),
        executor,
        rng=streams.quantum,
    )
    store.save_pending_run(directory, choices=choices, job=job, config=config.to_dict())
    return Path(directory)


def _creating_run_dir(
    run_dir: str | Path, on_budget: Callable[[Any], None] | None
) -> Callable[[Any], None]:
    """A budget hook that creates ``run_dir`` (checked up front) once the budget has
    passed its limits, just before submitting: a refused or failed connection or
    budget leaves no directory behind, and a bad directory costs no shots."""

    def hook(budget: Any) -> None:
        _run_store().ensure_new_run_dir(run_dir)
        if on_budget is not None:
            on_budget(budget)

    return hook


def resume_run(
    run_dir: str | Path,
    *,
    on_stage: StageCallback | None = None,
    timeout: float | None = None,
) -> RunReport:
    """Fetch the results of a run saved by :func:`submit_run` (or an interrupted
    :func:`run_config`) and finish it: sifting, post-processing, report.

    Args:
        run_dir: The run's directory.
        on_stage: Called with each stage's name as it starts.
        timeout: Seconds to wait for a device job still running (None: wait).
    """
    store, device = _run_store(), _device_module()
    pending = store.load_pending_run(run_dir)
    config = RunConfig.from_dict(pending.config)
    # A seeded run re-derives the same streams (its choices come from the saved
    # secrets file; the scatter and post-processing draws are recomputed). An
    # unseeded run draws fresh ones: nothing about them was promised or recorded.
    streams = RunRandomness.for_run(config.seed)
    clock = Stopwatch(on_stage)
    choices = pending.choices
    with clock("quantum"):
        out = device.collect_grouped(
            pending.job,
            choices.codes,
            config.protocol_object.registers,
            rng=streams.quantum,
            timeout=timeout,
        )
    records = config.protocol_object.records(choices, out)
    backend_info = {**pending.job.describe(), "usage": device.job_usage(pending.job)}
    return _finish(config, streams, records, backend_info, clock, on_stage, run_dir=run_dir)


def _finish(
    config: RunConfig,
    streams: RunRandomness,
    records: Any,
    backend_info: dict[str, Any],
    clock: Stopwatch,
    on_stage: StageCallback | None,
    *,
    run_dir: str | Path | None = None,
    run_qubits: int | None = None,
    link_run: LinkRun | None = None,
) -> RunReport:
    """Sifting, post-processing and the report: the classical half of every run (or of
    one block of a streamed run of ``run_qubits`` exchanges).

    A saved run (``run_dir``) is marked distilled before its key is returned, so
    it can never be distilled a second time (see
    :mod:`~qkd_circuits.execution.run_store`). Over a link (``link_run``) the protocol's
    ``link_analysis`` bounds what the source's multi-photon pulses may have told Eve."""
    protocol = config.protocol_object
    channel = PublicChannel()
    with clock("sifting"):
        sifted = protocol.sift(records, channel=channel)
    if link_run is not None and config.link is not None and isinstance(protocol, LinkProtocol):
        analysis = protocol.link_analysis(sifted, config.link, link_run.detections)
    else:
        analysis = protocol.analysis(sifted)
    result = distill_key(
        sifted.alice,
        sifted.bob,
        bases=sifted.bases,
        config=config.postprocessing,
        channel=channel,
        rng=streams.public,
        secret_rng=streams.preshared_key,
        on_stage=on_stage,
        analysis=analysis,
    )
    if run_dir is not None:
        _run_store().mark_finished(
            run_dir, final_key_bits=result.final_key_bits, abort_reason=result.abort_reason
        )
    hint_of = getattr(protocol, "pulses_hint", None)
    if result.abort_reason == "key_too_short" and link_run is not None and hint_of is not None:
        pp = config.postprocessing
        hint = hint_of(
            config.link, link_run.detections.pulses, eps_sec=pp.eps_sec, eps_cor=pp.eps_cor
        )
        if hint is not None:
            result = dataclasses.replace(result, abort_message=f"{result.abort_message}; {hint}")
    if (
        result.abort_reason == "key_too_short"
        and result.estimate is not None
        and sifted.size
        and link_run is None  # over a link the length depends on the pulses, not the bits
    ):
        result = dataclasses.replace(
            result,
            abort_message=f"{result.abort_message}; "
            f"{_length_hint(config, analysis, result, sifted.size, run_qubits=run_qubits)}",
        )
    return build_report(
        config=config,
        seed=streams.seed,
        backend_info=backend_info,
        records=records,
        sifted=sifted,
        result=result,
        timings={**clock.timings, **result.timings_s},
        extras=protocol.report_extras(records, sifted),
        link_fields=None
        if link_run is None or config.link is None
        else link_report_fields(config.link, link_run, result.key_length),
    )


def _length_hint(
    config: RunConfig,
    analysis: SecurityAnalysis,
    result: DistillationResult,
    sifted_bits: int,
    *,
    run_qubits: int | None = None,
) -> str:
    """How many qubits a key would need at this run's QBER (for a ``key_too_short`` abort)."""
    assert result.estimate is not None
    pp = config.postprocessing
    qber = result.estimate.qber
    efficiency = result.reconciliation_efficiency()
    needed = sifted_bits_needed(
        analysis,
        qber,
        sample_fraction=pp.sample_fraction,
        eps_sec=pp.eps_sec,
        eps_cor=pp.eps_cor,
        qber_tolerance=pp.qber_threshold,
        statement=pp.key_length,
        efficiency=efficiency if 1.0 <= efficiency < 3.0 else 1.2,
    )
    if needed is None:
        return f"at the observed QBER of {qber:.2%} no number of qubits gives a key"
    qubits = math.ceil(needed * config.qubits / sifted_bits)
    if run_qubits is not None:
        return (
            f"at the observed QBER of {qber:.2%} a block's key needs about {qubits:,} "
            f"qubits (this block had {config.qubits:,} of the run's {run_qubits:,}: "
            f"a larger --block)"
        )
    return (
        f"at the observed QBER of {qber:.2%} a key needs about {qubits:,} qubits "
        f"(this run had {config.qubits:,})"
    )


def _run_store() -> Any:
    from qkd_circuits.execution import run_store

    return run_store
