"""Decoy-state BB84 over a fibre link: BB84's states in weak coherent pulses whose
intensity Alice picks per pulse from a signal and two decoys (the weaker may be the
vacuum).

Hwang, PRL 91, 057901 (2003); Lo, Ma & Chen, PRL 94, 230504 (2005); vacuum + weak
decoy: Ma, Qi, Zhao & Lo, PRA 72, 012326 (2005); finite key: Lim, Curty, Walenta, Xu
& Zbinden, PRA 89, 022307 (2014). Eve cannot tell a decoy pulse from a signal pulse
of the same photon number, so the gains and error rates per intensity bound the
yield and error rate of single photons — an attack on the photon number (PNS,
:mod:`qkd_circuits.attacks.pns`) shows up as gains no single link explains.

The circuits are BB84's (the intensity changes the pulse's photon statistics, not
its state); the photon statistics are the link's (:mod:`qkd_circuits.optics`), so
this protocol runs only over a link (``ProtocolInfo.needs_link``). After BB84's
sifting Alice announces each detected pulse's intensity, and each sifted bit's class
is its (basis, intensity): the Z basis is disclosed whole to estimate the
single-photon phase error, the X basis is the key
(:class:`~qkd_circuits.postprocessing.photon_analysis.DecoyAnalysis`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.codes import Codes
from qkd_circuits.errors import ConfigError
from qkd_circuits.optics.detections import Detections
from qkd_circuits.optics.link import LinkModel
from qkd_circuits.optics.source import DEFAULT_INTENSITY_PROBABILITIES
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.key_length import shor_preskill_rate
from qkd_circuits.postprocessing.photon_analysis import (
    DECOY_CLASS_NAMES,
    DecoyAnalysis,
    decoy_classes,
)
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.protocols.bb84 import (
    BB84,
    BB84Choices,
    ExchangeRecords,
    detected_choices,
)
from qkd_circuits.protocols.choices import check_same_shape
from qkd_circuits.protocols.info import DECOY_BB84_INFO
from qkd_circuits.randomness import RNGLike, ensure_secret_rng


@dataclass(frozen=True, slots=True, kw_only=True)
class DecoyChoices:
    """The secret choices of the pulses: BB84's and each pulse's intensity; shape (n,).

    Attributes:
        bb84: Alice's bits and bases, Bob's bases, Eve's choices.
        intensity: Index of each pulse's intensity (0 the signal), uint8.
    """

    bb84: BB84Choices
    intensity: NDArray[np.uint8]

    def __post_init__(self) -> None:
        check_same_shape(self, ("intensity",), self.bb84.alice_bits.shape, like="the choices")

    @property
    def alice_bits(self) -> NDArray[np.uint8]:
        """Alice's bits, uint8 (n,)."""
        return self.bb84.alice_bits

    @property
    def codes(self) -> Codes:
        """BB84's configuration code of each pulse (the intensity is not in the circuit)."""
        return self.bb84.codes

    @property
    def eve(self) -> EveSpec | None:
        """The attack the choices were drawn for."""
        return self.bb84.eve


@dataclass(frozen=True, slots=True, kw_only=True)
class DecoyRecords:
    """Raw records of the detected pulses: BB84's records and each pulse's intensity.

    Attributes:
        exchanges: BB84's records (bits, bases, Bob's and Eve's results), shape (n,).
        intensity: Intensity index of each, uint8 (n,).
    """

    exchanges: ExchangeRecords
    intensity: NDArray[np.uint8]

    def __post_init__(self) -> None:
        check_same_shape(
            self, ("intensity",), self.exchanges.alice_bits.shape, like="the exchanges"
        )

    @property
    def n(self) -> int:
        """Number of exchanges (detected pulses)."""
        return self.exchanges.n

    @property
    def codes(self) -> Codes:
        """Configuration code of each exchange."""
        return self.exchanges.codes

    def circuit(self, index: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The circuit exchange ``index`` ran (BB84's)."""
        return self.exchanges.circuit(index, eve=eve)


class DecoyBB84Protocol:
    """Decoy-state BB84 (module docstring) on the
    :class:`~qkd_circuits.protocols.base.Protocol` interface, over a link."""

    info = DECOY_BB84_INFO
    registers: tuple[str, ...] = BB84.registers

    def draw_choices(
        self, n: int, *, eve: EveSpec | None = None, rng: RNGLike = None
    ) -> DecoyChoices:
        """BB84's choices of ``n`` pulses and their intensities, drawn at
        :data:`~qkd_circuits.optics.source.DEFAULT_INTENSITY_PROBABILITIES` (a link run
        draws the intensities with the detections: :meth:`draw_detected_choices`)."""
        gen = ensure_secret_rng(rng)
        bb84 = BB84.draw_choices(n, eve=eve, rng=gen)
        intensity = gen.choice(3, size=n, p=DEFAULT_INTENSITY_PROBABILITIES).astype(np.uint8)
        return DecoyChoices(bb84=bb84, intensity=intensity)

    def draw_detected_choices(
        self, detections: Detections, *, eve: EveSpec, rng: RNGLike = None
    ) -> DecoyChoices:
        """The detected pulses' BB84 choices (:func:`~qkd_circuits.protocols.bb84.
        detected_choices`) with the intensities they were sent at."""
        bb84 = detected_choices(detections, eve=eve, rng=rng)
        return DecoyChoices(bb84=bb84, intensity=detections.intensity.astype(np.uint8))

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """BB84's circuit of the code."""
        return BB84.circuit_for_code(code, eve=eve)

    def max_circuit_qubits(self, *, eve: EveSpec | None = None) -> int:
        """As BB84."""
        return BB84.max_circuit_qubits(eve=eve)

    def records(
        self, choices: DecoyChoices, outcomes: Mapping[str, NDArray[np.uint8]]
    ) -> DecoyRecords:
        """BB84's records of the detected pulses, with their intensities."""
        return DecoyRecords(
            exchanges=BB84.records(choices.bb84, outcomes), intensity=choices.intensity
        )

    def sift(self, records: DecoyRecords, *, channel: PublicChannel | None = None) -> SiftedKey:
        """BB84's sifting; then Alice announces each detected pulse's intensity (one byte
        each, 0 bits leaked: the intensity is independent of the bit) and each sifted
        bit's class becomes (basis, intensity), :data:`~qkd_circuits.postprocessing.
        photon_analysis.DECOY_CLASS_NAMES`."""
        sifted = BB84.sift(records.exchanges, channel=channel)
        if channel is not None:
            channel.send("sifting", "alice", records.intensity.astype(np.uint8).tobytes())
        classes = decoy_classes(sifted.bases, records.intensity[sifted.positions])
        return dataclasses.replace(sifted, bases=classes, basis_names=DECOY_CLASS_NAMES)

    def analysis(self, sifted: SiftedKey) -> DecoyAnalysis:
        """Needs the link's intensities and pulses: :meth:`link_analysis`."""
        raise ConfigError("decoy-bb84 runs over a link: its analysis needs the link")

    def link_analysis(
        self, sifted: SiftedKey, link: LinkModel, detections: Detections
    ) -> DecoyAnalysis:
        """Lim et al. (2014) on the link's three intensities and the pulses sent."""
        ints = link.intensities
        if ints.count != 3:
            raise ConfigError(
                f"decoy-bb84 needs a signal and two decoy intensities, got {ints.values!r}"
            )
        return DecoyAnalysis(
            intensities=(ints.values[0], ints.values[1], ints.values[2]),
            probabilities=(ints.probabilities[0], ints.probabilities[1], ints.probabilities[2]),
            pulses=detections.pulses,
        )

    def pulses_hint(
        self, link: LinkModel, pulses: int, *, eps_sec: float, eps_cor: float
    ) -> str | None:
        """For a run too short for a key: about how many pulses give one over ``link``
        (the decoy analysis on the link model's expected counts, :func:`~qkd_circuits.
        analysis.simulated_points.expected_key_rate`), for the default intensity
        probabilities with a vacuum decoy; None for other settings."""
        from qkd_circuits.analysis.simulated_points import (
            MAX_PULSES,
            MIN_PULSES,
            SimulationSettings,
            pulses_for_a_key,
        )

        ints = link.intensities
        if ints.values[2] != 0 or ints.probabilities != DEFAULT_INTENSITY_PROBABILITIES:
            return None
        km = link.distance_km
        settings = SimulationSettings(
            pulses=MIN_PULSES, mu=ints.values[0], nu=ints.values[1], eps_sec=eps_sec,
            eps_cor=eps_cor,
        )  # fmt: skip
        enough = pulses_for_a_key(link.parameters, km, settings, above=pulses)
        if enough is None:
            return f"no number of pulses up to {MAX_PULSES:.0e} gives a key over {km:g} km"
        return (
            f"over {km:g} km about 1e{round(math.log10(enough))} pulses give a key (expected "
            f"counts; this run had {pulses:,})"
        )

    def asymptotic_rate(self, qber: float) -> float:
        """Per single-photon sifted bit, BB84's ``1 − 2 h(Q)`` (Shor & Preskill 2000):
        the decoy bounds make single photons the key (Lo, Ma & Chen 2005)."""
        return shor_preskill_rate(qber)

    def report_extras(self, records: DecoyRecords, sifted: SiftedKey) -> dict[str, Any]:
        """The single-photon bounds are link fields (``single_photon``)."""
        return {}


DECOY_BB84 = DecoyBB84Protocol()
"""The decoy-state BB84 protocol object."""

__all__ = ["DECOY_BB84", "DecoyBB84Protocol", "DecoyChoices", "DecoyRecords"]
