"""Package versions recorded with every run (a seed reproduces a result only with them)."""

from __future__ import annotations

import platform
from importlib import metadata

_PACKAGES = (
    "qkd-circuits",
    "qiskit",
    "qiskit-aer",
    "qiskit-ibm-runtime",
    "numpy",
    "scipy",
    "matplotlib",
)


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages a run depends on (installed ones only)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
