"""The photon-number-splitting (PNS) attack on weak coherent pulses.

Brassard, Lütkenhaus, Mor & Sanders, PRL 85, 1330 (2000); Lütkenhaus, PRA 61,
052304 (2000). Eve measures each pulse's photon number without disturbing its
polarisation (a QND measurement), keeps one photon of every pulse that holds two or
more, and sends the rest to Bob over a lossless line; she measures her photon in the
right basis once the bases are announced, so she knows the bit of every multi-photon
pulse Bob detects, without causing a single error. She blocks single-photon pulses,
as many as the loss she replaces hides: her forwarding fractions f_1 (single
photons) and f_m (multi-photon pulses) are set so that the signal intensity's gain
at Bob is what the fibre would give (:func:`pns_forwarding`); the QBER is unchanged too.
What does change is the double-click rate (she forwards the n − 1 photons she does
not keep, losslessly: ~7× at 50 km of the GYS link), which the protocols here do not
monitor, as in the standard analyses. She cannot tell a decoy
pulse from a signal pulse of the same photon number, so with decoys the gains per
intensity no longer fit one link, and the decoy bounds on the single-photon yield
expose her (Hwang, PRL 91, 057901 (2003); Lo, Ma & Chen, PRL 94, 230504 (2005)).

In the circuits the pulse's second photon is the probe: Alice prepares it exactly as
the signal (a multi-photon pulse holds identically prepared photons), Eve does
nothing to the signal, and she reads her photon along Bob's announced basis. The
photon-number statistics are the link's (:mod:`qkd_circuits.optics`), through
:func:`pns_routes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from qkd_circuits.attacks.directions import rotate_to_z
from qkd_circuits.optics.link import LinkModel, Route

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit, Qubit

    from qkd_circuits.optics.detections import RouteTable


@dataclass(frozen=True, slots=True)
class PhotonNumberSplitting:
    """PNS (:class:`~qkd_circuits.attacks.base.Attack`): the probe is the pulse's second
    photon, prepared by Alice (``splits_photons``), read in the announced basis."""

    splits_photons: ClassVar[bool] = True

    def append(self, qc: QuantumCircuit, signal: Qubit, probe: Qubit, *, choice: int) -> None:
        """Nothing: Eve keeps her photon and leaves the signal alone (a lossless line)."""

    def append_readout(self, qc: QuantumCircuit, probe: Qubit, *, announced: str) -> None:
        """Eve measures her photon along Bob's announced basis ``announced``."""
        rotate_to_z(qc, probe, announced)

    def label(self, choice: int) -> str:
        """``P`` (photon-number splitting) in a circuit's name and metadata."""
        return "P"


def pns_forwarding(link: LinkModel) -> tuple[float, float]:
    """Eve's forwarding fractions ``(f_1, f_m)`` of single- and multi-photon pulses.

    Forwarded photons reach Bob's detector (efficiency η_Bob) losslessly. Eve chooses
    the fractions so that the gain of the signal intensity μ (which she knows) equals
    the fibre's, ``1 − (1 − Y0) e^(−η μ)``: she forwards multi-photon pulses first
    (f_1 = 0, f_m < 1 when they alone over-fill the gain), then single photons. Where
    even forwarding everything falls short (no loss to hide in), f_1 = f_m = 1.
    """
    ints = link.intensities
    target = link.expected_gain(0)
    y0, eta_bob = link.parameters.y0, link.parameters.eta_bob
    n_max = 1 if ints.single_photon else 40
    pmf = ints.photon_number_pmf(0, n_max)
    gain_single = pmf[1] * (1.0 - (1.0 - eta_bob) * (1.0 - y0) - y0)
    gain_multi = sum(
        pmf[n] * (1.0 - (1.0 - eta_bob) ** (n - 1) * (1.0 - y0) - y0) for n in range(2, n_max + 1)
    )
    room = target - y0
    if gain_multi >= room:
        return 0.0, max(0.0, room / gain_multi) if gain_multi > 0 else 0.0
    if gain_single <= 0:
        return 1.0, 1.0
    return min(1.0, (room - gain_multi) / gain_single), 1.0


def pns_routes(link: LinkModel) -> RouteTable:
    """Photon number -> routes under PNS: a multi-photon pulse (tagged: Eve keeps one
    of its photons) is forwarded with probability f_m carrying n − 1 photons, a single
    photon with f_1; a blocked pulse reaches Bob with no photon (only dark counts)."""
    f1, fm = pns_forwarding(link)
    eta_bob = link.parameters.eta_bob

    def routes(photons: int) -> tuple[Route, ...]:
        if photons == 0:
            return (Route(1.0, 0, 0.0),)
        split = photons >= 2  # Eve keeps a photon, forwarded or not
        kept, forwarded = (fm, photons - 1) if split else (f1, 1)
        return (
            Route(kept, forwarded, eta_bob, tagged=split),
            Route(1.0 - kept, 0, 0.0, tagged=split),
        )

    return routes


__all__ = ["PhotonNumberSplitting", "pns_forwarding", "pns_routes"]
