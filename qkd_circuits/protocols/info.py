"""What ``qkd protocols`` says about each protocol, importable without Qiskit.

:class:`ProtocolInfo` and one instance per protocol live here, so the CLI can list
the protocols (and the registry check a name) without importing the protocol
modules, which build circuits. Each protocol module's ``info`` (and its
``ASYMPTOTIC_QBER_THRESHOLD``) is the instance defined here: the one source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass

from qkd_circuits.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolInfo:
    """What ``qkd protocols`` says about a protocol.

    Attributes:
        name: The name used on the command line (``bb84``, ``six-state``).
        title: Display name (``"BB84"``).
        states: The states sent, in a few words.
        sifting: The sifting rule, in a few words, with the expected sifted fraction.
        threshold: Asymptotic QBER threshold of the one-way key rate.
        reference: The protocol's paper, then the security analysis used.
        calibration_predicts_qber: The device calibration's QBER prediction
            (:func:`~qkd_circuits.execution.calibration.predicted_bb84_qber`: one qubit
            prepared and measured in Z or X) applies to this protocol's sifted key.
        needs_link: The protocol runs only over a link (a weak laser's intensities):
            ``qkd run`` needs ``--distance``, and ``qkd compare`` leaves it out.
    """

    name: str
    title: str
    states: str
    sifting: str
    threshold: float
    reference: str
    calibration_predicts_qber: bool = False
    needs_link: bool = False

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.lower() or " " in self.name:
            raise ConfigError(f"protocol name must be lower-case without spaces, got {self.name!r}")
        if not 0.0 < self.threshold < 0.5:
            raise ConfigError(f"threshold must be in (0, 0.5), got {self.threshold!r}")

    def line(self) -> str:
        """One line for ``qkd protocols``."""
        return (
            f"{self.name:<10} {self.states}; {self.sifting}; threshold "
            f"{self.threshold:.2%}; {self.reference}"
        )


BB84_INFO = ProtocolInfo(
    name="bb84",
    title="BB84",
    states="4 states, Z and X eigenstates",
    sifting="Bob's basis equals Alice's (1/2)",
    threshold=0.110028,
    reference="Bennett & Brassard 1984 (arXiv:2003.06557); rate Shor & Preskill, "
    "PRL 85, 441 (2000); finite key Tomamichel et al., Nat. Commun. 3, 634 (2012)",
    calibration_predicts_qber=True,
)

SIX_STATE_INFO = ProtocolInfo(
    name="six-state",
    title="Six-state",
    states="6 states, Z, X and Y eigenstates",
    sifting="Bob's basis equals Alice's (1/3)",
    threshold=0.126193,
    reference="Bruss, PRL 81, 3018 (1998) (arXiv:quant-ph/9805019); rate Lo, QIC 1, 81 "
    "(2001); finite key Tomamichel et al., Nat. Commun. 3, 634 (2012), per basis "
    "(conservative: key up to ~11% QBER)",
)

B92_INFO = ProtocolInfo(
    name="b92",
    title="B92",
    states="2 states, |0> and |+>",
    sifting="Bob's result is conclusive (1/4)",
    threshold=0.038871,
    reference="Bennett, PRL 68, 3121 (1992); rate Tamaki, Koashi, Imoto, PRL 90, 167904 "
    "(2003); finite key Scarani, Renner, PRL 100, 200501 (2008) (collective attacks)",
)

SARG04_INFO = ProtocolInfo(
    name="sarg04",
    title="SARG04",
    states="4 states, Z and X eigenstates; the bit is the basis",
    sifting="Bob's result excludes a member of Alice's announced pair (1/4)",
    threshold=0.0968924893874523,
    reference="Scarani, Acin, Ribordy & Gisin, PRL 92, 057901 (2004); rate Tamaki & Lo, "
    "PRA 73, 010302(R) (2006); finite key Scarani & Renner, PRL 100, 200501 (2008)",
)

BBM92_INFO = ProtocolInfo(
    name="bbm92",
    title="BBM92",
    states="Bell pairs |Phi+>, each half measured in Z or X",
    sifting="Alice's basis equals Bob's (1/2)",
    threshold=0.110028,
    reference="Bennett, Brassard & Mermin, PRL 68, 557 (1992); untrusted source Koashi & "
    "Preskill, PRL 90, 057902 (2003); finite key Tomamichel et al., Nat. Commun. 3, 634 "
    "(2012)",
)

E91_INFO = ProtocolInfo(
    name="e91",
    title="E91",
    states="Bell pairs |Phi+>; Alice measures Z or X, Bob Z, X, W (pi/4) or V (-pi/4)",
    sifting="key: matching Z-Z and X-X rounds (1/4); CHSH test: Bob in W or V (1/2), "
    "disclosed, abort unless S - 2 > 5 sigma",
    threshold=BBM92_INFO.threshold,
    reference="Ekert, PRL 67, 661 (1991); CHSH test and DI rate Acin et al., PRL 98, "
    "230501 (2007) (DI threshold 7.1% with depolarizing noise, reported only); key length "
    "as BBM92: Koashi & Preskill, PRL 90, 057902 (2003), Tomamichel et al., Nat. Commun. "
    "3, 634 (2012)",
)

DECOY_BB84_INFO = ProtocolInfo(
    name="decoy-bb84",
    title="Decoy BB84",
    states="BB84's 4 states in weak laser pulses at a signal and two decoy intensities",
    sifting="Bob's basis equals Alice's (1/2); Z disclosed to estimate, X is the key",
    threshold=BB84_INFO.threshold,
    reference="Hwang, PRL 91, 057901 (2003); Lo, Ma & Chen, PRL 94, 230504 (2005); "
    "finite key Lim, Curty, Walenta, Xu & Zbinden, PRA 89, 022307 (2014); over a link only",
    needs_link=True,
)

INFOS: dict[str, ProtocolInfo] = {
    i.name: i
    for i in (
        BB84_INFO,
        SIX_STATE_INFO,
        B92_INFO,
        SARG04_INFO,
        BBM92_INFO,
        E91_INFO,
        DECOY_BB84_INFO,
    )
}
"""Every protocol's info by name."""

__all__ = [
    "B92_INFO",
    "BB84_INFO",
    "BBM92_INFO",
    "DECOY_BB84_INFO",
    "E91_INFO",
    "INFOS",
    "SARG04_INFO",
    "SIX_STATE_INFO",
    "ProtocolInfo",
]
