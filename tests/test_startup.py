"""Start-up (issue 11): the quick commands and every bad-input exit import no Qiskit.

A behaviour test, not a timing test: each command runs ``main(argv)`` in a fresh
interpreter and reports which heavy modules ended up in ``sys.modules``. Speed is
measured in ``benchmarks/bench_startup.py``, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "qiskit", "qiskit_aer", "scipy.optimize", "scipy.sparse", "ldpc", "fastapi", "uvicorn",
    "httpx", "cryptography", "dask", "distributed", "pyarrow", "numba",
)  # fmt: skip

_PROBE = """
import contextlib, io, json, sys
from qkd_circuits.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    status = main(json.loads(sys.argv[1]))
heavy = [m for m in json.loads(sys.argv[2]) if m in sys.modules]
print(json.dumps({"status": status, "heavy": heavy, "stdout": out.getvalue(),
                  "stderr": err.getvalue()}))
"""


def probe(argv: list[str], modules: tuple[str, ...] = HEAVY) -> dict[str, object]:
    """Run ``qkd ARGV`` in a fresh interpreter; its status, output and loaded ``modules``."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv), json.dumps(list(modules))],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["run", "--help"],
        ["compare", "--help"],
        ["keyrate", "--help"],
        ["kme", "--help"],
        ["ldpc-codes", "--help"],
        ["sweep", "--help"],
        ["sweep-plot", "--help"],
    ],
)
def test_help_and_version_import_no_qiskit(argv: list[str]) -> None:
    result = probe(argv)
    assert result["status"] == 0
    assert result["heavy"] == []


def test_protocols_lists_every_protocol_without_importing_it() -> None:
    from qkd_circuits.protocols.registry import PROTOCOLS

    result = probe(["protocols"], (*HEAVY, *(f"qkd_circuits.protocols.{p}" for p in ("bb84",))))
    assert result["status"] == 0
    assert result["heavy"] == []
    names = [line.split()[0] for line in str(result["stdout"]).splitlines()]
    assert names == list(PROTOCOLS)


def test_protocol_infos_are_the_protocols_own() -> None:
    from qkd_circuits.protocols.registry import PROTOCOLS, get_protocol, protocol_info

    for name in PROTOCOLS:
        assert protocol_info(name) is get_protocol(name).info


def test_keyrate_imports_no_qiskit() -> None:
    # Finding the reach needs scipy.optimize (brentq, and minimize_scalar for mu);
    # Qiskit and Aer it never needs.
    result = probe(["keyrate", "--max-distance"])
    assert result["status"] == 0
    assert "qiskit" not in result["heavy"] and "qiskit_aer" not in result["heavy"]


def test_bad_key_length_imports_no_qiskit() -> None:
    # The statements are checked by the pipeline's config, whose module needs scipy.stats.
    result = probe(["run", "--key-length", "asymptotic"])
    assert result["status"] == 2
    assert "qiskit" not in result["heavy"] and "qiskit_aer" not in result["heavy"]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--qubits", "0"],
        ["run", "--noise", "magic=0.1"],
        ["run", "--eve", "magic"],
        ["run", "nosuch"],
        ["run", "--nosie", "depolarizing=0.1"],
        ["run", "--plot", "out.txt"],
        ["compare", "--protocols", "bb84,nosuch"],
        ["keyrate", "--params", "nosuch"],
        ["keyrate", "--analysis", "nosuch"],
        ["sweep", "nosuch.toml"],
        ["sweep-plot", "nosuch.parquet"],
        ["--bogus"],
    ],
)
def test_bad_input_exits_import_no_qiskit(argv: list[str]) -> None:
    result = probe(argv)
    assert result["status"] == 2
    assert str(result["stderr"]).startswith("qkd")
    assert result["heavy"] == []
