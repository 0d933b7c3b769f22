"""Alice's light source: ideal single photons, or weak coherent pulses at one or more
intensities (decoy states), and the photon-number distribution of each.

A weak coherent pulse of mean photon number μ with a uniformly random phase is a
Poisson mixture of Fock states, ``P(n) = e^(−μ) μ^n / n!`` (Lo, Ma & Chen, PRL 94,
230504 (2005), Sec. II): each pulse's photon number is drawn independently, and its
photons are identically prepared in Alice's state. Spelling (``--source``)::

    single-photon          every pulse holds exactly one photon (the ideal source)
    wcp:mu=M               weak coherent pulses of mean photon number M > 0

Decoy-state runs add intensities (:class:`Intensities`): the signal μ1 and decoys
μ2 > μ3 >= 0 (μ3 = 0 is the vacuum), each pulse's intensity chosen by Alice at random
(Ma, Qi, Zhao & Lo, PRA 72, 012326 (2005); Lim et al., PRA 89, 022307 (2014)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.errors import ConfigError

SourceKind = Literal["single-photon", "wcp"]

DEFAULT_MU = 0.5
"""Signal mean photon number when ``--source`` is ``wcp`` without ``mu`` or a decoy run
names none (near the optimum of the GYS link, Ma et al. 2005, Fig. 2)."""

DEFAULT_INTENSITY_PROBABILITIES = (0.7, 0.2, 0.1)
"""Probabilities of the signal, the decoy and the weaker decoy (or vacuum) per pulse."""

_SYNTAX = "single-photon | wcp:mu=M (M > 0)"


def _positive(value: object, *, name: str, text: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ConfigError(f"source {text!r}: {name} must be a number > 0, got {value!r}")
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Alice's source.

    Attributes:
        kind: ``"single-photon"`` or ``"wcp"`` (weak coherent pulses).
        mu: Mean photon number of a WCP signal pulse (ignored for single photons).
    """

    kind: SourceKind = "single-photon"
    mu: float = DEFAULT_MU

    def __post_init__(self) -> None:
        if self.kind not in ("single-photon", "wcp"):
            raise ConfigError(f"unknown source {self.kind!r}; allowed: {_SYNTAX}")
        _positive(self.mu, name="mu", text=str(self.kind))

    @classmethod
    def parse(cls, text: str) -> Source:
        """Parse ``"single-photon"`` or ``"wcp:mu=0.5"`` (``"wcp"``: μ = 0.5)."""
        if not isinstance(text, str):
            raise ConfigError(f"source must be a string such as 'wcp:mu=0.5', got {text!r}")
        head, _, options = text.strip().partition(":")
        if head == "single-photon":
            if options:
                raise ConfigError(f"source {text!r}: single-photon takes no options")
            return cls()
        if head != "wcp":
            raise ConfigError(f"unknown source {text!r}; allowed: {_SYNTAX}")
        if not options:
            return cls(kind="wcp")
        key, eq, value = options.partition("=")
        if key != "mu" or not eq:
            raise ConfigError(f"source {text!r}: the option is mu=M, got {options!r}")
        return cls(kind="wcp", mu=_positive(value, name="mu", text=text))

    def __str__(self) -> str:
        return "single-photon" if self.kind == "single-photon" else f"wcp:mu={self.mu!r}"

    def to_dict(self) -> dict[str, object]:
        """The report's form: ``kind`` and, for WCP, ``mu``."""
        return (
            {"kind": self.kind} if self.kind == "single-photon" else {"kind": "wcp", "mu": self.mu}
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Intensities:
    """The intensities Alice chooses from per pulse, and their probabilities.

    Attributes:
        values: Mean photon numbers, the signal first (one value: no decoys; three:
            μ1 > μ2 + μ3, μ2 > μ3 >= 0 as Lim et al. 2014 require).
        probabilities: Probability of each, > 0, summing to 1.
        single_photon: True for the ideal single-photon source (``values`` is then
            ``(1.0,)`` and every pulse holds one photon).
    """

    values: tuple[float, ...]
    probabilities: tuple[float, ...]
    single_photon: bool = False

    def __post_init__(self) -> None:
        v, p = self.values, self.probabilities
        if len(v) not in (1, 3) or len(p) != len(v):
            raise ConfigError(
                f"intensities need one value (no decoys) or three (signal and two decoys) "
                f"with a probability each, got {v!r} and {p!r}"
            )
        if any(not (math.isfinite(x) and x >= 0) for x in v) or v[0] <= 0:
            raise ConfigError(f"intensities must be >= 0 with a signal > 0, got {v!r}")
        if any(not (math.isfinite(x) and x > 0) for x in p) or abs(sum(p) - 1.0) > 1e-9:
            raise ConfigError(f"intensity probabilities must be > 0 and sum to 1, got {p!r}")
        if len(v) == 3 and not (v[0] > v[1] + v[2] and v[1] > v[2] >= 0):
            raise ConfigError(
                f"decoy intensities must satisfy mu1 > mu2 + mu3 and mu2 > mu3 >= 0 "
                f"(Lim et al. 2014), got {v!r}"
            )
        if self.single_photon and v != (1.0,):
            raise ConfigError("a single-photon source has no intensities to choose")

    @classmethod
    def of(cls, source: Source, decoys: tuple[float, ...] = ()) -> Intensities:
        """The intensities of ``source`` with ``decoys`` (``(ν1,)`` adds the vacuum as
        the weakest; ``(ν1, ν2)`` two decoys), at :data:`DEFAULT_INTENSITY_PROBABILITIES`."""
        if source.kind == "single-photon":
            if decoys:
                raise ConfigError("decoy states need a weak coherent source (--source wcp:mu=M)")
            return cls(values=(1.0,), probabilities=(1.0,), single_photon=True)
        if not decoys:
            return cls(values=(source.mu,), probabilities=(1.0,))
        if len(decoys) > 2:
            raise ConfigError(f"at most two decoy intensities, got {decoys!r}")
        weak = (*decoys, 0.0) if len(decoys) == 1 else decoys
        return cls(values=(source.mu, *weak), probabilities=DEFAULT_INTENSITY_PROBABILITIES)

    @property
    def count(self) -> int:
        """Number of intensities."""
        return len(self.values)

    def photon_number_pmf(self, index: int, n_max: int) -> NDArray[np.float64]:
        """P(n photons) of intensity ``index`` for n = 0..n_max, float64 (n_max + 1,);
        the tail P(n > n_max) is ``1 − sum``."""
        pmf = np.zeros(n_max + 1)
        if self.single_photon:
            pmf[1] = 1.0
            return pmf
        mu = self.values[index]
        n = np.arange(n_max + 1)
        log_p = (
            -mu + n * (math.log(mu) if mu > 0 else 0.0) - np.array([math.lgamma(k + 1) for k in n])
        )
        pmf[:] = np.exp(log_p) if mu > 0 else (n == 0)
        return pmf

    def multi_photon_probability(self, index: int) -> float:
        """P(n >= 2) of intensity ``index``: ``1 − e^(−μ)(1 + μ)`` (0 for single photons)."""
        if self.single_photon:
            return 0.0
        mu = self.values[index]
        return float(-math.expm1(-mu) - mu * math.exp(-mu))


__all__ = [
    "DEFAULT_INTENSITY_PROBABILITIES",
    "DEFAULT_MU",
    "Intensities",
    "Source",
    "SourceKind",
]
