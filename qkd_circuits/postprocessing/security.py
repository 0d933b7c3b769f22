"""A protocol's security analysis: the verdict on its samples and its finite-key length.

The pipeline (:func:`~qkd_circuits.postprocessing.pipeline.distill_key`) asks a
:class:`SecurityAnalysis` three things, and nothing else about the protocol:

* ``basis_names``: the name of each value of the sifted key's ``bases``
  (parameter estimation samples each basis separately);
* ``check(samples, qber_threshold=...)``: abort (:class:`ProtocolAbort`) when
  the samples (or the protocol's own test, e.g. E91's CHSH value) rule a key out;
* ``key_length(samples, ...)``: the finite-key ε-secure length, citing its theorem.

and optionally, when it has one (looked up with ``getattr``, so it is not a
member of the runtime-checkable protocol and analyses without it still satisfy
it):

* ``sample_fractions(default) -> Mapping[str, float]``: the fraction of each
  basis parameter estimation discloses, in (0, 1], ``default`` being the
  configured ``sample_fraction``; 1.0 discloses the whole basis, none of whose
  bits then reaches the key (decoy BB84 after Lim et al., PRA 89, 022307
  (2014), estimates from the whole Z basis and takes the key from X:
  :mod:`~qkd_circuits.postprocessing.photon_analysis`). Without it every basis
  is sampled at ``default``.

:class:`PhaseErrorAnalysis` is the analysis of every protocol whose key bits
are measured in one of several mutually unbiased bases and whose phase error
is bounded from another basis's sample: BB84, and with a cited reduction
BBM92 and six-state (:mod:`~qkd_circuits.postprocessing.key_length`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from qkd_circuits.analysis.entropy import clipped_binary_entropy
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.estimation import (
    BASIS_NAMES,
    CONJUGATE,
    BasisSample,
    check_sample_qber,
)
from qkd_circuits.postprocessing.key_length import (
    THEOREMS,
    KeyLengthResult,
    Statement,
    finite_key_length,
    max_accepted_errors,
)
from qkd_circuits.specs import check_open_unit


@runtime_checkable
class SecurityAnalysis(Protocol):
    """What the pipeline asks of a protocol's security analysis (module docstring).

    Optional method (not a protocol member, see the module docstring):
    ``sample_fractions(default: float) -> Mapping[str, float]``, each basis's
    disclosed fraction in (0, 1] (1.0: the whole basis is disclosed, none of it
    reaches the key).
    """

    @property
    def basis_names(self) -> tuple[str, ...]:
        """Name of each basis value of the sifted key's ``bases``."""
        ...

    def check(self, samples: Mapping[str, BasisSample], *, qber_threshold: float) -> None:
        """Raise :class:`ProtocolAbort` when the samples rule out a key."""
        ...

    def key_length(
        self,
        samples: Mapping[str, BasisSample],
        *,
        leaked_ec: int | float,
        verification_bits: int,
        eps_sec: float,
        eps_cor: float,
        qber_tolerance: float,
        statement: Statement,
    ) -> KeyLengthResult:
        """The finite-key length (may be 0; the pipeline aborts on it)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseErrorAnalysis:
    """Key bits in mutually unbiased bases, phase error bounded from a conjugate sample.

    Tomamichel, Lim, Gisin & Renner, Nat. Commun. 3, 634 (2012), arXiv:1103.4130,
    per basis (Lo, Chau & Ardehali, J. Cryptol. 18, 133 (2005)); the details are in
    :mod:`~qkd_circuits.postprocessing.key_length`. The uncertainty relation behind
    it needs only that each basis and its ``conjugate`` are mutually unbiased
    (overlap ``c = 1/2``).

    Attributes:
        basis_names: Name of each basis value of the sifted key (BB84: ``("Z", "X")``).
        conjugate: Basis -> the basis whose sample bounds its phase error.
        theorems: Citation per statement (default: BB84's :data:`THEOREMS`); a
            protocol that reuses this analysis cites the reduction that lets it.
    """

    basis_names: tuple[str, ...] = BASIS_NAMES
    conjugate: Mapping[str, str] = field(default_factory=lambda: dict(CONJUGATE))
    theorems: Mapping[str, str] = field(default_factory=lambda: dict(THEOREMS))

    def __post_init__(self) -> None:
        if set(self.conjugate) != set(self.basis_names) or any(
            c not in self.basis_names or c == b for b, c in self.conjugate.items()
        ):
            raise ConfigError(
                f"conjugate {dict(self.conjugate)!r} must map each of {self.basis_names} to "
                "another of them"
            )

    def check(self, samples: Mapping[str, BasisSample], *, qber_threshold: float) -> None:
        """Abort when a basis's sample error rate exceeds ``qber_threshold``."""
        check_sample_qber(samples, threshold=qber_threshold)

    def key_length(
        self,
        samples: Mapping[str, BasisSample],
        *,
        leaked_ec: int | float,
        verification_bits: int,
        eps_sec: float,
        eps_cor: float,
        qber_tolerance: float,
        statement: Statement,
    ) -> KeyLengthResult:
        """:func:`~qkd_circuits.postprocessing.key_length.finite_key_length` on these bases."""
        return finite_key_length(
            samples,
            leaked_ec=leaked_ec,
            eps_sec=eps_sec,
            eps_cor=eps_cor,
            qber_tolerance=qber_tolerance,
            verification_bits=verification_bits,
            statement=statement,
            conjugate=self.conjugate,
            theorem=self.theorems.get(statement),
        )


def sifted_bits_needed(
    analysis: SecurityAnalysis,
    qber: float,
    *,
    sample_fraction: float,
    eps_sec: float,
    eps_cor: float,
    qber_tolerance: float,
    statement: Statement = "variable",
    efficiency: float = 1.2,
    tag_bits: int = 50,
    max_bits: int = 10**13,
) -> int | None:
    """About how many sifted bits give ``analysis`` a positive key at this QBER (None:
    none up to ``max_bits``).

    Expected counts: the sifted bits split evenly over ``analysis.basis_names``, a
    sample of ``sample_fraction`` of each (or of the analysis's
    ``sample_fractions(sample_fraction)``) with ``qber`` errors, reconciliation
    leaking ``efficiency · n · h(qber)``. The even split suits analyses whose bases
    are basis choices; it says nothing useful for decoy classes, whose counts
    depend on the intensities and the loss. For telling a user how long a run must
    be; an emitted length is always computed from the run's own counts.
    """
    if not 0.0 <= qber <= 1.0:
        raise ConfigError(f"qber must be in [0, 1], got {qber!r}")
    fraction = check_open_unit(sample_fraction, name="sample_fraction")
    names = analysis.basis_names
    h = clipped_binary_entropy(qber)
    method = getattr(analysis, "sample_fractions", None)
    fractions = dict(method(fraction)) if callable(method) else dict.fromkeys(names, fraction)

    def length(sifted: int) -> int:
        per_basis = sifted // len(names)
        ks = {b: math.ceil(fractions[b] * per_basis) for b in names}
        key_bits = sum(per_basis - k for k in ks.values())
        if key_bits < 1:
            return 0
        samples = {
            b: BasisSample(
                basis=b, sifted_bits=per_basis, sample_bits=k,
                sample_errors=min(max_accepted_errors(k, qber_tolerance), round(qber * k)),
            )
            for b, k in ks.items()
        }  # fmt: skip
        try:
            analysis.check(samples, qber_threshold=qber_tolerance)
            return analysis.key_length(
                samples, leaked_ec=efficiency * key_bits * h,
                verification_bits=tag_bits, eps_sec=eps_sec, eps_cor=eps_cor,
                qber_tolerance=qber_tolerance, statement=statement,
            ).length  # fmt: skip
        except ProtocolAbort:
            return 0

    lo, hi = 100, 200
    while length(hi) <= 0:
        lo, hi = hi, 2 * hi
        if hi > max_bits:
            return None
    while hi - lo > max(1, lo // 100):  # to 1 %
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if length(mid) > 0 else (mid, hi)
    return hi


__all__ = ["PhaseErrorAnalysis", "SecurityAnalysis", "sifted_bits_needed"]
