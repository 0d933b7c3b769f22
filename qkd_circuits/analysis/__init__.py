"""Key-rate analytics: pure functions of numpy/scipy, no circuits.

* :mod:`~qkd_circuits.analysis.entropy` — binary entropy.
* :mod:`~qkd_circuits.analysis.rates` — one-way secret fractions (BB84
  Shor–Preskill, six-state, BBM92, CHSH device-independent) and their QBER
  thresholds.
* :mod:`~qkd_circuits.analysis.link` — device/link parameters, presets
  ``gys`` and ``lim2014``, TOML/JSON loading.
* :mod:`~qkd_circuits.analysis.decoy` — weak-coherent-pulse BB84: GLLP,
  infinite decoys, vacuum + weak decoy, μ optimisation.
* :mod:`~qkd_circuits.analysis.finite_decoy` — finite-key decoy BB84 of Lim
  et al. 2014 with its parameters optimised.
* :mod:`~qkd_circuits.analysis.bounds` — PLOB and TGW repeaterless bounds.
* :mod:`~qkd_circuits.analysis.curves` — rate vs distance and reach for any
  analysis spec (``infinite-decoy``, ``finite:1e6``, ``plob`` …).
* :mod:`~qkd_circuits.analysis.plot` — the log-scale plot (headless).
* :mod:`~qkd_circuits.analysis.keyrate_cli` — the ``qkd keyrate`` subcommand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qkd_circuits.analysis.bounds import fibre_transmittance, plob_bound, tgw_bound
    from qkd_circuits.analysis.curves import (
        AnalysisSpec,
        KeyRatePoint,
        key_rate_curve,
        max_distance,
        parse_analyses,
        parse_distances,
    )
    from qkd_circuits.analysis.decoy import (
        OptimizedRate,
        decoy_rate_curve,
        gllp_rate,
        infinite_decoy_rate,
        optimize_mu,
        photon_error_rate,
        photon_yield,
        vacuum_weak_decoy_rate,
        wcp_error_rate,
        wcp_gain,
    )
    from qkd_circuits.analysis.entropy import binary_entropy
    from qkd_circuits.analysis.finite_decoy import (
        DecoyCounts,
        DecoySettings,
        FiniteKeyBounds,
        FiniteKeyResult,
        FiniteKeySecurity,
        expected_counts,
        finite_key_curve,
        finite_key_rate,
        lim2014_key_length,
        optimize_finite_key,
    )
    from qkd_circuits.analysis.link import (
        PRESETS,
        LinkParameters,
        get_preset,
        link_from_mapping,
        load_link_parameters,
        resolve_link_parameters,
    )
    from qkd_circuits.analysis.rates import (
        bb84_rate,
        bbm92_rate,
        chsh_di_rate,
        chsh_value_depolarising,
        qber_threshold,
        six_state_rate,
    )

# The names below are imported on first use (PEP 562): ``qkd`` imports
# :mod:`~qkd_circuits.analysis.keyrate_cli` to build its parser, and that must not
# pay for scipy.optimize (issue 11).
_LAZY: dict[str, str] = {
    "fibre_transmittance": "qkd_circuits.analysis.bounds",
    "plob_bound": "qkd_circuits.analysis.bounds",
    "tgw_bound": "qkd_circuits.analysis.bounds",
    "AnalysisSpec": "qkd_circuits.analysis.curves",
    "KeyRatePoint": "qkd_circuits.analysis.curves",
    "key_rate_curve": "qkd_circuits.analysis.curves",
    "max_distance": "qkd_circuits.analysis.curves",
    "parse_analyses": "qkd_circuits.analysis.curves",
    "parse_distances": "qkd_circuits.analysis.curves",
    "OptimizedRate": "qkd_circuits.analysis.decoy",
    "decoy_rate_curve": "qkd_circuits.analysis.decoy",
    "gllp_rate": "qkd_circuits.analysis.decoy",
    "infinite_decoy_rate": "qkd_circuits.analysis.decoy",
    "optimize_mu": "qkd_circuits.analysis.decoy",
    "photon_error_rate": "qkd_circuits.analysis.decoy",
    "photon_yield": "qkd_circuits.analysis.decoy",
    "vacuum_weak_decoy_rate": "qkd_circuits.analysis.decoy",
    "wcp_error_rate": "qkd_circuits.analysis.decoy",
    "wcp_gain": "qkd_circuits.analysis.decoy",
    "binary_entropy": "qkd_circuits.analysis.entropy",
    "DecoyCounts": "qkd_circuits.analysis.finite_decoy",
    "DecoySettings": "qkd_circuits.analysis.finite_decoy",
    "FiniteKeyBounds": "qkd_circuits.analysis.finite_decoy",
    "FiniteKeyResult": "qkd_circuits.analysis.finite_decoy",
    "FiniteKeySecurity": "qkd_circuits.analysis.finite_decoy",
    "expected_counts": "qkd_circuits.analysis.finite_decoy",
    "finite_key_curve": "qkd_circuits.analysis.finite_decoy",
    "finite_key_rate": "qkd_circuits.analysis.finite_decoy",
    "lim2014_key_length": "qkd_circuits.analysis.finite_decoy",
    "optimize_finite_key": "qkd_circuits.analysis.finite_decoy",
    "PRESETS": "qkd_circuits.analysis.link",
    "LinkParameters": "qkd_circuits.analysis.link",
    "get_preset": "qkd_circuits.analysis.link",
    "link_from_mapping": "qkd_circuits.analysis.link",
    "load_link_parameters": "qkd_circuits.analysis.link",
    "resolve_link_parameters": "qkd_circuits.analysis.link",
    "bb84_rate": "qkd_circuits.analysis.rates",
    "bbm92_rate": "qkd_circuits.analysis.rates",
    "chsh_di_rate": "qkd_circuits.analysis.rates",
    "chsh_value_depolarising": "qkd_circuits.analysis.rates",
    "qber_threshold": "qkd_circuits.analysis.rates",
    "six_state_rate": "qkd_circuits.analysis.rates",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qkd_circuits.analysis' has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "AnalysisSpec",
    "DecoyCounts",
    "DecoySettings",
    "FiniteKeyBounds",
    "FiniteKeyResult",
    "FiniteKeySecurity",
    "KeyRatePoint",
    "LinkParameters",
    "OptimizedRate",
    "bb84_rate",
    "bbm92_rate",
    "binary_entropy",
    "chsh_di_rate",
    "chsh_value_depolarising",
    "decoy_rate_curve",
    "expected_counts",
    "fibre_transmittance",
    "finite_key_curve",
    "finite_key_rate",
    "get_preset",
    "gllp_rate",
    "infinite_decoy_rate",
    "key_rate_curve",
    "lim2014_key_length",
    "link_from_mapping",
    "load_link_parameters",
    "max_distance",
    "optimize_finite_key",
    "optimize_mu",
    "parse_analyses",
    "parse_distances",
    "photon_error_rate",
    "photon_yield",
    "plob_bound",
    "qber_threshold",
    "resolve_link_parameters",
    "six_state_rate",
    "tgw_bound",
    "vacuum_weak_decoy_rate",
    "wcp_error_rate",
    "wcp_gain",
]
