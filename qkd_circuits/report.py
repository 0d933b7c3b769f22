"""The report of one run: a frozen record whose ``to_dict()`` is the JSON report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.attacks.knowledge import eve_knowledge, key_agreement, pool_agreement, pool_joint
from qkd_circuits.bits import Bits
from qkd_circuits.postprocessing.pipeline import DistillationResult
from qkd_circuits.postprocessing.reconciliation.cascade import ReconciliationResult
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.versions import package_versions

if TYPE_CHECKING:
    from qkd_circuits.runner import RunConfig


SCHEMA_VERSION = 2
"""Version of the JSON report; the JSON Schema is ``qkd_circuits/schemas/run-report.schema.json``
(:func:`report_schema`). 2: per-basis ``estimation``, the finite-key ``statement``,
``reproducible``, ``seed`` null for unseeded runs."""


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :meth:`RunReport.to_dict`."""
    from importlib.resources import files

    text = files("qkd_circuits").joinpath("schemas/run-report.schema.json").read_text("utf-8")
    return dict(json.loads(text))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """What happened in one run. The JSON form carries ``schema_version``
    (:data:`SCHEMA_VERSION`) and follows :func:`report_schema`.

    Attributes:
        protocol: Registered protocol name, e.g. ``bb84``.
        qubits: Number of exchanges (qubits sent).
        seed: The run's seed, or None. A seeded run is a reproducible simulation
            (every draw, secret ones included, follows from the seed and ``versions``);
            an unseeded run took its secrets from the OS CSPRNG and records no seed.
        reproducible: True for a seeded run: anyone who has this report can
            recompute Alice's and Bob's keys. False: they cannot.
        backend: Backend spec, e.g. ``"aer"``.
        backend_info: What the executor reports about itself.
        noise: Non-zero noise parameters by spec name.
        eve: The attack (``kind``, ``fraction``, ``basis`` or ``disturbance``, and
            ``attack``, its ``--eve`` spelling) and what Eve knows, measured from her own
            outcomes: ``attacked``, ``eve_error_rate``, ``mutual_information_ae``,
            ``mutual_information_ab``, ``key_agreement_before_amplification``,
            ``final_key_agreement`` (:mod:`~qkd_circuits.attacks.knowledge`).
        postprocessing: The post-processing parameters (sample fraction, threshold,
            reconciliation, key-length method, ε's).
        sifted_bits: Length of the sifted key.
        sample_bits: Sifted bits disclosed to estimate the QBER.
        sample_errors: Errors among the disclosed bits.
        qber: Pooled error rate of the disclosed samples (None if there is none).
        estimation: Per basis (``"Z"``, ``"X"``): ``sifted_bits``, ``sample_bits``,
            ``sample_errors``, ``key_bits`` and ``qber`` (the sample's error rate);
            None when not reached.
        qber_actual: Actual error rate of the whole sifted key (known to the simulator).
        qber_by_basis: Actual error rate of the sifted key per basis (``"Z"``, ``"X"``).
        qber_threshold: Estimated QBER above which the run aborts.
        eve_agreement: Fraction of the sifted bits Eve attacked on which her result
            equals Alice's bit (None without Eve).
        reconciliation: ``method``, ``efficiency`` (leaked / (n h(e)) with e the frame's
            actual error rate), ``messages``, ``leaked_bits``, ``residual_errors``
            (None when not reached).
        verification: ``tag_bits``, ``collision_bound``, ``match`` (None when not reached).
        key_length: ``statement``, ``theorem``, ``length``, ``asymptotic_bits`` (the
            Shor–Preskill length, reported for comparison and never emitted),
            ``phase_error_bound`` per basis and every ``terms`` of the formula (None
            when not reached).
        leaked_bits: Bits disclosed on the public channel, by stage.
        final_key_bits: Length of the final secret key (0 when aborted).
        secret_key_rate: Final key bits per exchange.
        keys_match: Alice's final key equals Bob's (None when no key was emitted).
        auth_key_bits_used: Pre-shared key bits consumed by authenticating the transcript.
        net_key_bits: ``final_key_bits - auth_key_bits_used`` (negative when the run
            cost more key than it made).
        aborted: True when no key was emitted.
        abort_reason: Machine-readable reason (None when not aborted).
        abort_message: Human-readable explanation (None when not aborted).
        timings_s: Seconds per stage; ``"quantum"`` is circuit build + execution.
        versions: Python and package versions.
        chsh_s: E91: the CHSH value S measured on the test rounds (None for other
            protocols).
        chsh_s_stderr: E91: the standard error of ``chsh_s``.
        di_key_rate: E91: the asymptotic device-independent rate of Acín et al.,
            PRL 98, 230501 (2007), at the measured S and QBER (reported, never emitted).
        blocks: A run streamed in several blocks (:func:`combine_blocks`): ``count``,
            ``emitted``, the ε's of each block (``eps_sec_block``, ...: the run's
            divided by ``count``) and of the concatenated key (``eps_sec_total``, ...:
            the run's), and ``per_block``, each block's own figures; absent for one block. The
            other fields then pool the blocks (sums of counts, rates from the pooled
            counts); protocol fields (``chsh_s``) are per block only.
        distance_km: A run over a link (:mod:`qkd_circuits.optics`): its length in km.
        link: The link: its ``parameters``, ``source``, ``intensities`` and their
            probabilities, ``transmittance``, ``dark_count_per_detector``, and the run's
            ``pulses_per_intensity``, ``detections_per_intensity``, ``double_clicks``.
        pulses: Pulses sent (``qubits`` of a link run).
        detections: Pulses that clicked at Bob (the exchanges sifting starts from).
        gain: Detections per pulse, per intensity (the signal first).
        single_photon: Decoy runs: ``y1_lower``, ``e1_upper``, ``q1_lower``, the decoy
            bounds on the single-photon yield, error rate and gain (per block only).

    The JSON field names are versioned by ``schema_version``; the schema is
    published with the package (:func:`report_schema`).
        records: The raw records (not in the JSON).
        sifted: The sifted key (not in the JSON).
        key_alice: Alice's final key, uint8 (m,) (not in the JSON).
        key_bob: Bob's final key, uint8 (m,) (not in the JSON).
        distillation: The post-processing result with its transcript (not in the JSON).
        eve_key_agreement: The counts behind the ``eve`` agreements
            (:func:`~qkd_circuits.attacks.knowledge.key_agreement`; not in the JSON), for
            pooling blocks.
    """

    protocol: str
    qubits: int
    seed: int | None
    reproducible: bool
    backend: str
    backend_info: dict[str, Any]
    noise: dict[str, float]
    eve: dict[str, Any]
    postprocessing: dict[str, Any]
    sifted_bits: int
    sample_bits: int
    sample_errors: int
    qber: float
    estimation: dict[str, dict[str, Any]] | None
    qber_actual: float
    qber_by_basis: dict[str, float]
    qber_threshold: float
    eve_agreement: float | None
    reconciliation: dict[str, Any] | None
    verification: dict[str, Any] | None
    key_length: dict[str, Any] | None
    leaked_bits: dict[str, int]
    final_key_bits: int
    secret_key_rate: float
    keys_match: bool | None
    auth_key_bits_used: int
    net_key_bits: int
    aborted: bool
    abort_reason: str | None
    abort_message: str | None
    timings_s: dict[str, float]
    versions: dict[str, str]
    chsh_s: float | None = None
    chsh_s_stderr: float | None = None
    di_key_rate: float | None = None
    blocks: dict[str, Any] | None = None
    distance_km: float | None = None
    link: dict[str, Any] | None = None
    pulses: int | None = None
    detections: int | None = None
    gain: list[float] | None = None
    single_photon: dict[str, float] | None = None
    records: Any = field(default=None, repr=False, compare=False)
    sifted: SiftedKey | None = field(default=None, repr=False, compare=False)
    key_alice: Bits | None = field(default=None, repr=False, compare=False)
    key_bob: Bits | None = field(default=None, repr=False, compare=False)
    distillation: DistillationResult | None = field(default=None, repr=False, compare=False)
    eve_key_agreement: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report as plain Python values (nan becomes None)."""
        return {
            "schema_version": SCHEMA_VERSION,
            **{
                name: _plain(getattr(self, name))
                for name in self.__dataclass_fields__
                if name not in _NOT_IN_JSON
                and not (name in OPTIONAL_FIELDS and getattr(self, name) is None)
            },
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The JSON report as a string."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def build_report(
    *,
    config: RunConfig,
    seed: int | None,
    backend_info: dict[str, Any],
    records: Any,
    sifted: SiftedKey,
    result: DistillationResult,
    timings: dict[str, float],
    extras: dict[str, Any] | None = None,
    link_fields: dict[str, Any] | None = None,
) -> RunReport:
    """Assemble the report of a run from its configuration and each stage's result.

    ``extras`` are the protocol's own fields (``Protocol.report_extras``): E91's
    ``chsh_s`` and ``chsh_s_stderr``; absent ones are None. ``link_fields`` are those of
    :data:`LINK_FIELDS` of a run over a link."""
    more = dict(extras or {})
    unknown = set(more) - set(PROTOCOL_FIELDS)
    if unknown:
        raise ValueError(f"unknown report fields {sorted(unknown)}; known: {PROTOCOL_FIELDS}")
    est, rec, ver, length = (
        result.estimate,
        result.reconciliation,
        result.verification,
        result.key_length,
    )
    pp = config.postprocessing
    protocol_fields: dict[str, Any] = {name: more.get(name) for name in PROTOCOL_FIELDS}
    link = dict(link_fields or {})
    if set(link) - set(LINK_FIELDS):
        raise ValueError(f"unknown link fields {sorted(set(link) - set(LINK_FIELDS))}")
    protocol_fields.update({name: link.get(name) for name in LINK_FIELDS})
    agreement = key_agreement(sifted, result)
    return RunReport(
        **_run_fields(config, seed, backend_info),
        eve=_eve_object(
            config,
            joint=sifted.tally()["eve_joint"],
            sifted_bits=sifted.size,
            qber_actual=sifted.error_rate(),
            agreement=agreement,
        ),
        sifted_bits=sifted.size,
        sample_bits=est.sample_size if est else 0,
        sample_errors=est.sample_errors if est else 0,
        qber=est.qber if est else float("nan"),
        estimation=None
        if est is None
        else {name: sample.to_dict() for name, sample in est.samples.items()},
        qber_actual=sifted.error_rate(),
        qber_by_basis=sifted.error_rate_by_basis(),
        qber_threshold=pp.qber_threshold,
        eve_agreement=sifted.eve_agreement(),
        reconciliation=None
        if rec is None
        else {
            "method": rec.method,
            "efficiency": result.reconciliation_efficiency(),
            "messages": rec.messages,
            "leaked_bits": rec.leaked_bits,
            "residual_errors": result.residual_errors,
            **dict(zip(("frames", "frame_errors"), _frames(rec), strict=True)),
        },
        verification=None
        if ver is None
        else {"tag_bits": ver.tag_bits, "collision_bound": ver.collision_bound, "match": ver.match},
        key_length=None
        if length is None
        else {
            "statement": length.statement,
            "theorem": length.theorem,
            "length": length.length,
            "asymptotic_bits": length.asymptotic_bits,
            "phase_error_bound": dict(length.phase_error_bound),
            "terms": dict(length.terms),
        },
        leaked_bits=result.channel.leaked_bits(),
        final_key_bits=result.final_key_bits,
        secret_key_rate=result.final_key_bits / config.qubits,
        keys_match=result.keys_match,
        auth_key_bits_used=result.authentication.key_bits_used,
        net_key_bits=result.net_key_bits,
        aborted=result.aborted,
        abort_reason=result.abort_reason,
        abort_message=result.abort_message,
        timings_s=timings,
        versions=package_versions(),
        **protocol_fields,
        records=records,
        sifted=sifted,
        key_alice=result.key_alice,
        key_bob=result.key_bob,
        distillation=result,
        eve_key_agreement=agreement,
    )


def _run_fields(
    config: RunConfig, seed: int | None, backend_info: dict[str, Any]
) -> dict[str, Any]:
    """The report fields that describe the run itself (one block or many)."""
    pp = config.postprocessing
    return {
        "protocol": config.protocol,
        "qubits": config.qubits,
        "seed": seed,
        "reproducible": seed is not None,
        "backend": config.backend,
        "backend_info": backend_info,
        "noise": config.noise.to_dict(),
        "postprocessing": {
            "sample_fraction": pp.sample_fraction,
            "qber_threshold": pp.qber_threshold,
            "reconciliation": pp.reconciliation,
            "key_length": pp.key_length,
            "eps_sec": pp.eps_sec,
            "eps_cor": pp.eps_cor,
            "eps_auth": pp.eps_auth,
        },
    }


def _frames(rec: ReconciliationResult) -> tuple[int | None, int | None]:
    """``(frames, frame_errors)`` of the report's ``reconciliation``; the LDPC module (and
    its scipy.sparse) is imported only for a result that is not Cascade's."""
    if rec.cascade is not None:
        return rec.cascade.frames, None
    from qkd_circuits.postprocessing.reconciliation.ldpc import reconciliation_frames

    return reconciliation_frames(rec)


def _eve_object(config: RunConfig, **measured: Any) -> dict[str, Any]:
    """The report's ``eve``: the attack (``EveSpec.to_dict`` and its ``--eve`` spelling)
    and what Eve knows (:func:`~qkd_circuits.attacks.knowledge.eve_knowledge`)."""
    return {**config.eve.to_dict(), "attack": str(config.eve), **eve_knowledge(**measured)}


PROTOCOL_FIELDS = ("chsh_s", "chsh_s_stderr", "di_key_rate")
"""Report fields only some protocols fill (``Protocol.report_extras``)."""

LINK_FIELDS = ("distance_km", "link", "pulses", "detections", "gain", "single_photon")
"""Report fields of a run over a link (:func:`~qkd_circuits.optics.exchanges.
link_report_fields`)."""

OPTIONAL_FIELDS = (*PROTOCOL_FIELDS, *LINK_FIELDS, "blocks")
"""Report fields left out of the JSON when None."""

_NOT_IN_JSON = frozenset(
    {"records", "sifted", "key_alice", "key_bob", "distillation", "eve_key_agreement"}
)


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


RUN_LEVEL_FIELDS = frozenset(
    {
        "schema_version", "protocol", "seed", "reproducible", "backend", "backend_info",
        "noise", "eve", "postprocessing", "qber_threshold", "versions",
    }
)  # fmt: skip
"""Fields of a block's report that belong to the whole run, not in ``per_block``."""

_MAX_TERMS = (
    "tolerance", "levels", "phase_error_bound", "log_eps", "phi_x", "e1_upper",
    "multi_photon_probability", "eps_lim",
)  # fmt: skip
"""Key-length terms that are rates, levels or upper bounds on a rate: pooled as the
largest over blocks (the weakest block's)."""

_MIN_TERMS = ("y1_lower", "q1_lower", "keep_fraction")
"""Key-length terms that are lower bounds on a rate or a fraction: pooled as the
smallest over blocks."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockOutcome:
    """What a streamed run keeps of one block once its arrays are freed.

    Attributes:
        figures: The block's JSON report without :data:`RUN_LEVEL_FIELDS`.
        tally: ``SiftedKey.tally()`` of the block (counts for pooling).
        agreement: Eve's guess of the block's key against it
            (:func:`~qkd_circuits.attacks.knowledge.key_agreement`).
        keys: Alice's and Bob's block keys packed with ``np.packbits`` (uint8), or
            None when the block emitted none.
    """

    figures: dict[str, Any]
    tally: dict[str, Any]
    agreement: dict[str, list[int]]
    keys: tuple[NDArray[np.uint8], NDArray[np.uint8]] | None

    @classmethod
    def of(cls, report: RunReport) -> BlockOutcome:
        """Keep the figures, the counts and the packed keys of a block's report."""
        assert report.sifted is not None
        figures = {k: v for k, v in report.to_dict().items() if k not in RUN_LEVEL_FIELDS}
        keys = None
        if not report.aborted and report.key_alice is not None and report.key_bob is not None:
            keys = np.packbits(report.key_alice), np.packbits(report.key_bob)
        return cls(
            figures=figures,
            tally=report.sifted.tally(),
            agreement=report.eve_key_agreement,
            keys=keys,
        )


def combine_blocks(
    *,
    config: RunConfig,
    seed: int | None,
    backend_info: dict[str, Any],
    blocks: list[BlockOutcome],
    timings: dict[str, float],
) -> RunReport:
    """The report of a run streamed in blocks: the blocks pooled, each one listed.

    Each block is distilled to its own key under its own finite-key statement at
    ``ε / count`` for each of the run's ε's (``PostprocessingConfig.for_one_of``); the emitted
    key is their concatenation, ``(Σ ε_sec)``-secret and ``(Σ ε_cor)``-correct by the
    composability of ε-security (Portmann & Renner, arXiv:1409.3525, Sec. 4; Ben-Or,
    Horodecki, Leung, Mayers, Oppenheim, TCC 2005), i.e. at the ε's the run asked for
    (``postprocessing``), aborted blocks included (they emit nothing). Counts are
    summed; rates are recomputed from the summed counts; the key-length terms pool
    the blocks that emitted a key; ``abort_reason`` (all blocks aborted) is the most
    common one.
    """
    figs = [b.figures for b in blocks]
    pp = config.postprocessing
    emitted = [b for b in blocks if b.keys is not None]
    key_alice, key_bob = _concatenated_keys(emitted)
    sample_bits = sum(f["sample_bits"] for f in figs)
    sample_errors = sum(f["sample_errors"] for f in figs)
    by_basis: dict[str, list[int]] = {}
    for b in blocks:
        for name, (bits, errors) in b.tally["by_basis"].items():
            pooled = by_basis.setdefault(name, [0, 0])
            pooled[0] += bits
            pooled[1] += errors
    sifted = sum(f["sifted_bits"] for f in figs)
    attacked = sum(b.tally["eve"][0] for b in blocks)
    agree = sum(b.tally["eve"][1] for b in blocks)
    final = sum(f["final_key_bits"] for f in figs)
    aborted = not emitted
    per_block = pp.for_one_of(len(figs))
    reason = _most_common([f["abort_reason"] for f in figs]) if aborted else None
    message = None
    if aborted:
        first = next(f for f in figs if f["abort_reason"] == reason)
        message = (
            f"every one of the {len(figs)} blocks of ~{config.qubits // len(figs):,} "
            f"{'qubits' if config.link is None else 'pulses'} "
            f"aborted, most for {reason}; the first of those: {first['abort_message']}"
        )
    return RunReport(
        **_run_fields(config, seed, backend_info),
        eve=_eve_object(
            config,
            joint=pool_joint(b.tally["eve_joint"] for b in blocks),
            sifted_bits=sifted,
            qber_actual=_ratio(sum(e for _, e in by_basis.values()), sifted),
            agreement=pool_agreement(b.agreement for b in blocks),
        ),
        sifted_bits=sifted,
        sample_bits=sample_bits,
        sample_errors=sample_errors,
        qber=_ratio(sample_errors, sample_bits),
        estimation=_pool_estimation(figs),
        qber_actual=_ratio(sum(e for _, e in by_basis.values()), sifted),
        qber_by_basis={name: _ratio(e, n) for name, (n, e) in by_basis.items()},
        qber_threshold=pp.qber_threshold,
        eve_agreement=agree / attacked if attacked else None,
        reconciliation=_pool_reconciliation(figs),
        verification=_pool_verification(figs),
        key_length=_pool_key_length([f for f in figs if not f["aborted"]] or figs),
        leaked_bits=_sum_dicts(f["leaked_bits"] for f in figs),
        final_key_bits=final,
        secret_key_rate=final / config.qubits,
        keys_match=all(f["keys_match"] for f in figs if f["keys_match"] is not None)
        if emitted
        else None,
        auth_key_bits_used=sum(f["auth_key_bits_used"] for f in figs),
        net_key_bits=sum(f["net_key_bits"] for f in figs),
        aborted=aborted,
        abort_reason=reason,
        abort_message=message,
        timings_s=timings,
        versions=package_versions(),
        blocks={
            "count": len(figs),
            "emitted": len(emitted),
            "eps_sec_block": per_block.eps_sec,
            "eps_cor_block": per_block.eps_cor,
            "eps_auth_block": per_block.eps_auth,
            "eps_sec_total": pp.eps_sec,
            "eps_cor_total": pp.eps_cor,
            "eps_auth_total": pp.eps_auth,
            "per_block": figs,
        },
        key_alice=key_alice,
        key_bob=key_bob,
        **_pool_link(figs),
    )


def _pool_link(figs: list[dict[str, Any]]) -> dict[str, Any]:
    """The link fields of a streamed link run: counts summed over the blocks, gains
    from the sums (``single_photon`` stays per block); ``{}`` without a link."""
    if figs[0].get("link") is None:
        return {}
    link = dict(figs[0]["link"])
    for name in ("pulses_per_intensity", "detections_per_intensity"):
        link[name] = [sum(column) for column in zip(*(f["link"][name] for f in figs), strict=True)]
    link["double_clicks"] = sum(f["link"]["double_clicks"] for f in figs)
    sent, seen = link["pulses_per_intensity"], link["detections_per_intensity"]
    return {
        "distance_km": figs[0]["distance_km"],
        "link": link,
        "pulses": sum(f["pulses"] for f in figs),
        "detections": sum(f["detections"] for f in figs),
        "gain": [d / s if s else 0.0 for d, s in zip(seen, sent, strict=True)],
    }


def _concatenated_keys(emitted: list[BlockOutcome]) -> tuple[Bits | None, Bits | None]:
    """Alice's and Bob's keys, the emitted blocks' keys end to end, uint8 (m,) each.

    Unpacked straight into the result, block by block; when the parties' keys are
    equal (verification passed in every block) one read-only array serves both.
    """
    if not emitted:
        return None, None
    lengths = [int(b.figures["final_key_bits"]) for b in emitted]
    same = all(b.keys is not None and np.array_equal(*b.keys) for b in emitted)
    out = [np.empty(sum(lengths), dtype=np.uint8) for _ in range(1 if same else 2)]
    start = 0
    for block, n in zip(emitted, lengths, strict=True):
        assert block.keys is not None
        for key, packed in zip(out, block.keys, strict=False):
            key[start : start + n] = np.unpackbits(packed, count=n)
        start += n
    if same:
        out[0].flags.writeable = False
        return out[0], out[0]
    return out[0], out[1]


def _most_common(values: list[Any]) -> Any:
    """The most frequent value (the first to reach that count on ties)."""
    counts = {v: values.count(v) for v in values}
    return max(counts, key=lambda v: counts[v])


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def _sum_dicts(dicts: Any) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for d in dicts:
        for key, value in d.items():
            total[key] = total.get(key, 0) + value
    return total


def _pool_estimation(figs: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    reached = [f["estimation"] for f in figs if f["estimation"] is not None]
    if not reached:
        return None
    pooled: dict[str, dict[str, Any]] = {}
    for est in reached:
        for name, sample in est.items():
            into = pooled.setdefault(name, {})
            for key in ("sifted_bits", "sample_bits", "sample_errors", "key_bits"):
                into[key] = into.get(key, 0) + sample[key]
    for sample in pooled.values():
        sample["qber"] = _ratio(sample["sample_errors"], sample["sample_bits"])
    return pooled


def _pool_reconciliation(figs: list[dict[str, Any]]) -> dict[str, Any] | None:
    reached = [f["reconciliation"] for f in figs if f["reconciliation"] is not None]
    if not reached:
        return None
    # efficiency = leaked / (n h(e)) per block: pooled over the blocks where it is defined.
    defined = [r for r in reached if r["efficiency"]]
    denominator = sum(r["leaked_bits"] / r["efficiency"] for r in defined)
    return {
        "method": reached[0]["method"],
        "efficiency": sum(r["leaked_bits"] for r in defined) / denominator if denominator else None,
        "messages": sum(r["messages"] for r in reached),
        "leaked_bits": sum(r["leaked_bits"] for r in reached),
        "residual_errors": sum(r["residual_errors"] for r in reached),
        **{name: _sum_or_none(r.get(name) for r in reached) for name in ("frames", "frame_errors")},
    }


def _sum_or_none(values: Any) -> int | None:
    """The sum of per-block counts, or None when a block has none."""
    counts = list(values)
    return None if any(v is None for v in counts) else int(sum(counts))


def _pool_verification(figs: list[dict[str, Any]]) -> dict[str, Any] | None:
    reached = [f["verification"] for f in figs if f["verification"] is not None]
    if not reached:
        return None
    return {
        "tag_bits": sum(v["tag_bits"] for v in reached),
        "collision_bound": min(1.0, sum(v["collision_bound"] for v in reached)),
        "match": all(v["match"] for v in reached),
    }


def _pool_key_length(figs: list[dict[str, Any]]) -> dict[str, Any] | None:
    reached = [f["key_length"] for f in figs if f["key_length"] is not None]
    if not reached:
        return None
    terms: dict[str, float] = {}
    bounds: dict[str, float] = {}
    for kl in reached:
        for name, value in kl["terms"].items():
            if value is None:
                continue
            if name.startswith(_MAX_TERMS):
                terms[name] = max(terms.get(name, value), value)
            elif name.startswith(_MIN_TERMS):
                terms[name] = min(terms.get(name, value), value)
            else:
                terms[name] = terms.get(name, 0.0) + value
        for basis, value in kl["phase_error_bound"].items():
            if value is not None:
                bounds[basis] = max(bounds.get(basis, value), value)
    return {
        "statement": reached[0]["statement"],
        "theorem": f"{reached[0]['theorem']}; per block, the blocks' keys concatenated",
        "length": sum(kl["length"] for kl in reached),
        "asymptotic_bits": sum(kl["asymptotic_bits"] for kl in reached),
        "phase_error_bound": bounds,
        "terms": terms,
    }
