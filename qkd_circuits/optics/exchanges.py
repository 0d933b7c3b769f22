"""The quantum phase of a run over a link: which pulses click, the circuits of the
detected ones, and Bob's (and Eve's) results.

Per run (or block) of ``pulses`` pulses:

1. :func:`~qkd_circuits.optics.detections.sample_exact` draws the detected pulses —
   their intensity and photon number, the route Eve gives them — from the secret
   generator; a pulse that does not click gives no sifted bit, so nothing else of it
   is drawn (the pulses' choices are independent of whether they click: the click
   probability is the same in every basis);
2. the protocol draws the choices of the detected pulses
   (``protocol.draw_detected_choices``);
3. each configuration's circuit — the link's misalignment is a rotation in it, on
   the channel gate — is run once on Aer for its exact outcome distribution, the
   probability p_0 that one photon reaches detector 0;
4. every detected pulse's click pattern, and from it Bob's bit, is drawn from its
   photons, p_0 and the dark counts (:func:`~qkd_circuits.optics.detections.
   draw_bob_bits`); Eve's bit, where she holds a photon, from her register's
   distribution (her photon and Bob's are a product state).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.attacks.pns import pns_routes
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.errors import ConfigError
from qkd_circuits.execution.base import Executor, offers_distributions
from qkd_circuits.optics.detections import Detections, draw_bob_bits, sample_exact
from qkd_circuits.optics.link import LinkModel


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRun:
    """The quantum phase of a run over a link.

    Attributes:
        records: The protocol's raw records of the detected pulses.
        detections: Which pulses clicked (intensity, photon number, route).
        double_clicks: Detections where both detectors clicked (given a random bit).
    """

    records: Any
    detections: Detections
    double_clicks: int


def register_probabilities(
    circuits: list[Any],
    executor: Executor,
    registers: tuple[str, ...],
    *,
    rng: np.random.Generator,
) -> dict[str, NDArray[np.float64]]:
    """Per register, P(it reads 0) of each circuit, float64 (len(circuits),), from each
    circuit's exact distribution, tabulated once (1.0 where a circuit lacks the register)."""
    if not offers_distributions(executor):
        raise ConfigError("a link run needs an executor with exact distributions (backend 'aer')")
    out = {name: np.empty(len(circuits)) for name in registers}
    for i, dist in enumerate(executor.distributions(circuits, rng=rng)):  # type: ignore[attr-defined]
        for name in registers:
            bits = dist.outcomes.get(name)
            out[name][i] = 1.0 if bits is None else float(dist.probs[bits[:, 0] == 0].sum())
    return out


def run_link_exchanges(
    protocol: Any,
    link: LinkModel,
    pulses: int,
    executor: Executor,
    *,
    eve: EveSpec,
    choices_rng: np.random.Generator,
    quantum_rng: np.random.Generator,
) -> LinkRun:
    """Send ``pulses`` pulses over ``link`` and collect the detected ones' records
    (module docstring).

    Args:
        protocol: A protocol with ``draw_detected_choices`` (BB84, decoy BB84).
        link: The link, its source and intensities.
        pulses: Pulses sent.
        executor: Aer in probabilities mode (exact distributions).
        eve: None, or photon-number splitting (``pns``).
        choices_rng: Secret generator of Alice's and Bob's choices of the detected
            pulses (bits and bases).
        quantum_rng: Secret generator of the pulses (each one's intensity, drawn with
            its photon number, loss and dark counts by the class sampler) and of the
            detector outcomes.
    """
    if eve.kind not in ("none", "pns"):
        raise ConfigError(f"on a link, --eve takes none or pns, got {str(eve)!r}")
    routes = pns_routes(link) if eve.kind == "pns" else None
    detections = sample_exact(pulses, link, routes=routes, rng=quantum_rng)
    choices = protocol.draw_detected_choices(detections, eve=eve, rng=choices_rng)
    codes = np.asarray(choices.codes)
    used = np.flatnonzero(np.bincount(codes, minlength=1))
    circuit_for_code = functools.partial(protocol.circuit_for_code, eve=eve)
    circuits = [circuit_for_code(int(c)) for c in used]
    width = int(used.max()) + 1 if used.size else 1
    p_bob, p_eve = np.ones(width), np.ones(width)
    if used.size:
        p_zero = register_probabilities(circuits, executor, ("bob", "eve"), rng=quantum_rng)
        p_bob[used], p_eve[used] = p_zero["bob"], p_zero["eve"]
    bob, double = draw_bob_bits(detections, codes, p_bob, link.dark_count, rng=quantum_rng)
    eve_bits = np.zeros(codes.size, dtype=np.uint8)
    held = np.flatnonzero(detections.tagged)
    if held.size:
        eve_bits[held] = quantum_rng.random(held.size) >= p_eve[codes[held]]
    records = protocol.records(choices, {"bob": bob, "eve": eve_bits})
    return LinkRun(records=records, detections=detections, double_clicks=int(double.sum()))


SINGLE_PHOTON_TERMS = ("y1_lower", "e1_upper", "q1_lower")
"""The decoy analysis's key-length terms the report lists as ``single_photon``."""


def link_report_fields(link: LinkModel, run: LinkRun, key_length: Any) -> dict[str, Any]:
    """The report's link fields (:data:`~qkd_circuits.report.LINK_FIELDS`) of one block:
    the link, pulses, detections, gains per intensity and, when the key length has
    them (decoy BB84), the single-photon bounds."""
    det = run.detections
    terms = getattr(key_length, "terms", None) or {}
    single = {name: float(terms[name]) for name in SINGLE_PHOTON_TERMS if name in terms}
    return {
        "distance_km": link.distance_km,
        "link": {
            **link.to_dict(),
            "pulses_per_intensity": [int(x) for x in det.pulses_per_intensity],
            "detections_per_intensity": [int(x) for x in det.detections_per_intensity()],
            "double_clicks": run.double_clicks,
        },
        "pulses": det.pulses,
        "detections": det.count,
        "gain": det.gains(),
        "single_photon": single or None,
    }


__all__ = [
    "SINGLE_PHOTON_TERMS",
    "LinkRun",
    "link_report_fields",
    "register_probabilities",
    "run_link_exchanges",
]
