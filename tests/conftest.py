"""Shared test helpers: binomial tolerances; every property test derandomized."""

from __future__ import annotations

import math

import pytest
from hypothesis import settings

# Tests are deterministic: hypothesis draws its examples from a fixed seed (per test),
# so a run fails or passes the same way on every machine.
settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.load_profile("deterministic")

Z_SIGMA = 5.0
"""Tolerance of statistical checks, in binomial standard errors (two-sided p ~ 6e-7)."""


def assert_rate(observed: float, expected: float, trials: int, *, sigmas: float = Z_SIGMA) -> None:
    """Assert ``observed`` is within ``sigmas`` binomial standard errors of ``expected``."""
    se = math.sqrt(max(expected * (1 - expected), 1e-12) / trials)
    assert abs(observed - expected) <= sigmas * se, (
        f"observed {observed:.6f}, expected {expected:.6f} ± {sigmas} × {se:.6f} ({trials} trials)"
    )


@pytest.fixture(name="assert_rate")
def _assert_rate_fixture():  # type: ignore[no-untyped-def]
    return assert_rate


@pytest.fixture
def no_ibm_account(tmp_path, monkeypatch):
    """No env credentials and an empty config dir (the account file path is read at import)."""
    from qiskit_ibm_runtime.accounts import management

    for var in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL", "QISKIT_IBM_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(
        management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE", str(tmp_path / ".qiskit" / "x.json")
    )
    return tmp_path
