"""Real KMEs on loopback with real mutual TLS, each in its own subprocess."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("cryptography")

from qkd_circuits.kme.certs import init_dir
from qkd_circuits.kme.client import KMEClient
from qkd_circuits.kme.config import REQUEST_ID_EXTENSION, KMEConfig
from qkd_circuits.kme.feed import feed_block
from qkd_circuits.kme.store import connect, counts

SAES = {"alice": ["sae-alice"], "bob": ["sae-bob", "sae-bob-2"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Pair:
    """Both sites' KME processes of one configuration."""

    def __init__(self, config: KMEConfig, logs: Path) -> None:
        self.config = config
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, *sites: str) -> None:
        """Start these sites' KMEs (all at once) and wait until each one listens."""
        for site in sites:
            log = (self.logs / f"{site}.log").open("ab")
            self.procs[site] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "qkd_circuits.kme",
                    "serve",
                    "--dir",
                    str(self.config.root),
                    "--site",
                    site,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for site in sites:
            self.wait(site)

    def wait(self, site: str) -> None:
        port = self.config.site(site).port
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.procs[site].poll() is not None:
                raise RuntimeError(f"KME {site} exited: {self.log(site)}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError(f"KME {site} did not start: {self.log(site)}")

    def log(self, site: str) -> str:
        return (self.logs / f"{site}.log").read_text(errors="replace")

    def kill(self, site: str) -> None:
        proc = self.procs.pop(site)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, site: str) -> None:
        proc = self.procs.pop(site)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for site in list(self.procs):
            self.stop(site)

    def client(self, sae: str, **kwargs: object) -> KMEClient:
        return KMEClient.for_sae(self.config, sae, **kwargs)

    def feed(self, keys: int, pools: tuple[str, ...] = ("alice", "bob")) -> int:
        """``keys`` units of random key per pool, as the QKD device pair would."""
        key = os.urandom(32 * keys * 2)
        return feed_block(self.config, key, key, pools=pools)

    def counts(self, site: str) -> dict[str, object]:
        conn = connect(self.config.site(site).store_path)
        try:
            return counts(conn)
        finally:
            conn.close()


def make_config(tmp_path: Path, saes: dict[str, list[str]] | None = None) -> KMEConfig:
    return init_dir(tmp_path / "kme", saes=saes or SAES, ports=(free_port(), free_port()), days=2)


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """A running pair shared by the KME tests (each feeds what it uses, and counts only
    what it changes itself)."""
    tmp = tmp_path_factory.mktemp("kme")
    p = Pair(make_config(tmp), tmp)
    p.start("alice", "bob")
    p.feed(200)
    yield p
    p.stop_all()


@pytest.fixture
def fresh_pair(tmp_path: Path) -> Iterator[Pair]:
    """A running pair with empty stores, for one test."""
    p = Pair(make_config(tmp_path), tmp_path)
    p.start("alice", "bob")
    yield p
    p.stop_all()


@pytest.fixture
def pair_with_saes(tmp_path: Path) -> Iterator[Callable[[dict[str, list[str]]], Pair]]:
    """``pair_with_saes(saes)``: a running pair with empty stores and these SAEs per site."""
    started: list[Pair] = []

    def start(saes: dict[str, list[str]]) -> Pair:
        p = Pair(make_config(tmp_path, saes), tmp_path)
        started.append(p)
        p.start("alice", "bob")
        return p

    yield start
    for p in started:
        p.stop_all()


#: The two key paths, and the raw HTTP helpers of the request-ID tests.
ENC = "/api/v1/keys/{}/enc_keys"
DEC = "/api/v1/keys/{}/dec_keys"


def sae_http(pair, sae: str, site: str) -> httpx.Client:
    cert, key = pair.config.sae_cert(sae)
    ctx = ssl.create_default_context(cafile=str(pair.config.ca))
    ctx.load_cert_chain(str(cert), str(key))
    return httpx.Client(base_url=pair.config.site(site).url, verify=ctx, timeout=10)


def enc_body(request_id: str, **fields: object) -> dict[str, object]:
    return {**fields, "extension_optional": [{REQUEST_ID_EXTENSION: request_id}]}


def dec_body(request_id: str, key_ids: list[str]) -> dict[str, object]:
    return {
        "key_IDs": [{"key_ID": k} for k in key_ids],
        "key_IDs_extension": {REQUEST_ID_EXTENSION: request_id},
    }
