"""The two-site set-up proposed for the README, command by command, as written there.

``README_SETUP`` is the README's bash block; the ``serve ... &`` lines start subprocesses
(on free ports written into the configuration), every other line runs ``qkd kme``'s
``main`` in this process, in a temporary working directory.
"""

from __future__ import annotations

import json
import shlex
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qkd_circuits.kme.cli import main

README_SETUP = [
    "qkd kme init --dir kme",
    "qkd kme serve --dir kme --site alice &",
    "qkd kme serve --dir kme --site bob &",
    "qkd kme feed --dir kme --qubits 1000000 --runs 1",
    "qkd kme get-key --dir kme --sae sae-alice --slave sae-bob --out a.json --ids-out ids.json",
    "qkd kme get-key-with-id --dir kme --sae sae-bob --master sae-alice --key-ids-from ids.json"
    " --out b.json",
    "python -m qkd_circuits.kme.hybrid --dir kme",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_two_site_setup_runs_as_written(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for line in README_SETUP:
            argv = shlex.split(line.removesuffix("&").strip())
            if argv[:3] == ["qkd", "kme", "serve"]:
                procs.append(
                    subprocess.Popen([sys.executable, "-m", "qkd_circuits.kme", *argv[2:]])
                )
                site = argv[argv.index("--site") + 1]
                port = json.loads(Path("kme/kme.json").read_text())["sites"][site]["port"]
                _wait_port(port)
            elif argv[0] == "qkd":
                assert main(argv[2:]) == 0, line
                if argv[2] == "init":  # the default ports may be taken on a test machine
                    _use_free_ports(Path("kme/kme.json"))
            else:
                done = subprocess.run(
                    [sys.executable, *argv[1:]], capture_output=True, text=True, check=True
                )
                assert done.stdout.count("B reads") == 2
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
    a, b = json.loads(Path("a.json").read_text()), json.loads(Path("b.json").read_text())
    assert a == b and len(a["keys"]) == 1
    assert stat.S_IMODE(Path("a.json").stat().st_mode) == 0o600
    assert "fed to both stores" in capsys.readouterr().out


def _use_free_ports(path: Path) -> None:
    config = json.loads(path.read_text())
    for site in config["sites"].values():
        site["port"] = _free_port()
    path.write_text(json.dumps(config))


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"no KME on port {port}")
