"""Device and link parameters of a fibre QKD system, with named presets.

A :class:`LinkParameters` record holds everything the asymptotic and
finite-key rate formulas need to know about the hardware: the fibre loss,
Bob's detector, the background (dark-count) yield, the optical misalignment,
the error-correction efficiency and the sifting factor.

Presets:

* ``gys`` — the parameters of the Gobby–Yuan–Shields experiment
  (Appl. Phys. Lett. 84, 3762 (2004)) as used by Lo, Ma and Chen,
  PRL 94, 230504 (2005), arXiv:quant-ph/0411004, and Ma, Qi, Zhao and Lo,
  PRA 72, 012326 (2005), arXiv:quant-ph/0503005: α = 0.21 dB/km,
  η_Bob = 4.5 %, Y0 = 1.7e-6, e_d = 3.3 %, f = 1.22, q = 1/2.
* ``lim2014`` — Sec. IV of Lim, Curty, Walenta, Xu and Zbinden,
  PRA 89, 022307 (2014), arXiv:1311.7129: α = 0.2 dB/km, η_Bob = 10 %,
  dark-count probability p_dc = 6e-7 per detector (two detectors, so
  Y0 = 2 p_dc = 1.2e-6), after-pulse probability p_ap = 4e-2,
  e_mis = 5e-3, f_EC = 1.16. The paper uses a biased basis choice whose
  asymptotic sifting factor is q_x² → 1, so the preset has ``q = 1``
  (the paper's dashed "asymptotic" curve); the finite-key analysis
  optimises q_x itself and ignores ``q``.

Parameter files are TOML or JSON objects whose keys are the field names of
:class:`LinkParameters` (optionally inside a ``[link]`` table), plus an
optional ``preset`` key naming a preset whose values the file overrides::

    preset = "gys"
    alpha_db_per_km = 0.2
    eta_bob = 0.1
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkd_circuits.errors import ConfigError

__all__ = [
    "PRESETS",
    "LinkParameters",
    "get_preset",
    "link_from_mapping",
    "load_link_parameters",
    "resolve_link_parameters",
]


def _check_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkParameters:
    """Device and fibre-link parameters (all probabilities per pulse).

    Attributes:
        alpha_db_per_km: Fibre attenuation α in dB/km, >= 0.
        eta_bob: Bob's detection efficiency η_Bob (including his optics), in [0, 1].
        y0: Background yield Y0: probability of a detection with no photon
            (dark counts of both detectors, stray light), in [0, 1).
        e_d: Misalignment error e_d: probability that a photon hits the wrong
            detector, in [0, 0.5].
        f_ec: Error-correction efficiency f >= 1 (leakage f·h(E) per bit).
        q: Sifting factor q in (0, 1]: fraction of detections kept after basis
            reconciliation (1/2 for standard BB84).
        p_afterpulse: After-pulse probability p_ap in [0, 1) (Lim et al. 2014,
            Sec. IV); 0 for the GYS preset.
        name: Label used in tables and plots.
    """

    alpha_db_per_km: float
    eta_bob: float
    y0: float
    e_d: float
    f_ec: float
    q: float
    p_afterpulse: float = 0.0
    name: str = "custom"

    def __post_init__(self) -> None:
        for fld in dataclasses.fields(self):
            if fld.name == "name":
                continue
            object.__setattr__(self, fld.name, _check_number(fld.name, getattr(self, fld.name)))
        if not isinstance(self.name, str):
            raise ConfigError(f"name must be a string, got {self.name!r}")
        if self.alpha_db_per_km < 0:
            raise ConfigError(f"alpha_db_per_km must be >= 0 (dB/km), got {self.alpha_db_per_km!r}")
        if not 0.0 <= self.eta_bob <= 1.0:
            raise ConfigError(f"eta_bob must be in [0, 1], got {self.eta_bob!r}")
        if not 0.0 <= self.y0 < 1.0:
            raise ConfigError(f"y0 must be in [0, 1), got {self.y0!r}")
        if not 0.0 <= self.e_d <= 0.5:
            raise ConfigError(f"e_d must be in [0, 0.5], got {self.e_d!r}")
        if self.f_ec < 1.0:
            raise ConfigError(f"f_ec must be >= 1 (1 is the Shannon limit), got {self.f_ec!r}")
        if not 0.0 < self.q <= 1.0:
            raise ConfigError(f"q (sifting factor) must be in (0, 1], got {self.q!r}")
        if not 0.0 <= self.p_afterpulse < 1.0:
            raise ConfigError(f"p_afterpulse must be in [0, 1), got {self.p_afterpulse!r}")

    def channel_transmittance(self, distance_km: ArrayLike) -> NDArray[np.float64] | float:
        """Fibre transmittance η_ch = 10^(−α L / 10) for distance(s) L in km."""
        d = np.asarray(distance_km, dtype=np.float64)
        out = 10.0 ** (-self.alpha_db_per_km * d / 10.0)
        return float(out) if out.ndim == 0 else out

    def transmittance(self, distance_km: ArrayLike) -> NDArray[np.float64] | float:
        """Overall transmittance η = η_Bob · 10^(−α L / 10) (Lo–Ma–Chen 2005)."""
        d = np.asarray(distance_km, dtype=np.float64)
        out = self.eta_bob * 10.0 ** (-self.alpha_db_per_km * d / 10.0)
        return float(out) if out.ndim == 0 else out

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON/TOML-serialisable)."""
        return dataclasses.asdict(self)


_FIELDS = tuple(f.name for f in dataclasses.fields(LinkParameters))

PRESETS: Mapping[str, LinkParameters] = {
    "gys": LinkParameters(
        alpha_db_per_km=0.21,
        eta_bob=0.045,
        y0=1.7e-6,
        e_d=0.033,
        f_ec=1.22,
        q=0.5,
        name="gys",
    ),
    "lim2014": LinkParameters(
        alpha_db_per_km=0.2,
        eta_bob=0.1,
        y0=2 * 6e-7,
        e_d=5e-3,
        f_ec=1.16,
        q=1.0,
        p_afterpulse=4e-2,
        name="lim2014",
    ),
}


def get_preset(name: str) -> LinkParameters:
    """Return the preset called ``name`` (``"gys"`` or ``"lim2014"``).

    Raises:
        ConfigError: for an unknown name.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown link preset {name!r}; expected one of {', '.join(sorted(PRESETS))}"
        ) from None


def link_from_mapping(data: Mapping[str, Any], *, source: str = "mapping") -> LinkParameters:
    """Build :class:`LinkParameters` from a mapping (parsed TOML/JSON).

    Keys are field names; ``preset`` names a base preset to override; a single
    ``link`` key holding a table is unwrapped first.

    Raises:
        ConfigError: for unknown keys, missing fields or invalid values.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: link parameters must be a table/object, got {data!r}")
    if set(data) == {"link"}:
        return link_from_mapping(data["link"], source=source)
    values = dict(data)
    base: dict[str, Any] = {}
    if "preset" in values:
        preset = values.pop("preset")
        if not isinstance(preset, str):
            raise ConfigError(f"{source}: preset must be a string, got {preset!r}")
        base = get_preset(preset).to_dict()
        base["name"] = f"{preset}+{Path(source).stem}" if source != "mapping" else preset
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown link parameter(s) {', '.join(map(repr, unknown))}; "
            f"allowed: preset, {', '.join(_FIELDS)}"
        )
    base.update(values)
    missing = [f for f in _FIELDS if f not in base and f not in ("p_afterpulse", "name")]
    if missing:
        raise ConfigError(f"{source}: missing link parameter(s) {', '.join(missing)}")
    if "name" not in base and source != "mapping":
        base["name"] = Path(source).stem
    return LinkParameters(**base)


def load_link_parameters(path: str | os.PathLike[str]) -> LinkParameters:
    """Load :class:`LinkParameters` from a ``.toml`` or ``.json`` file.

    Raises:
        ConfigError: if the file is missing, unparsable or invalid.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"link parameter file must end in .toml or .json, got {str(p)!r}")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read link parameter file {str(p)!r}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode()) if suffix == ".toml" else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse {str(p)!r}: {exc}") from exc
    return link_from_mapping(data, source=str(p))


def resolve_link_parameters(spec: str) -> LinkParameters:
    """Return a preset by name, or load a ``.toml``/``.json`` file by path.

    Raises:
        ConfigError: if ``spec`` is neither a preset nor a loadable file.
    """
    if spec in PRESETS:
        return PRESETS[spec]
    if spec.lower().endswith((".toml", ".json")) or os.path.sep in spec:
        return load_link_parameters(spec)
    raise ConfigError(
        f"unknown link preset {spec!r}; expected one of {', '.join(sorted(PRESETS))} "
        "or a path to a .toml/.json file"
    )
