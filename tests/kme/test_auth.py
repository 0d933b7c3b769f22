"""Mutual TLS: the SAE is its client certificate; strangers and wrong roles get 401 or no
TLS session at all; the client says clearly what went wrong."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from qkd_circuits.kme.certs import init_dir
from qkd_circuits.kme.client import KMECertificateError, KMEClient, KMEError, KMEUnreachable


def _http(pair, cert: Path, key: Path, site: str = "alice", ca: Path | None = None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(ca or pair.config.ca))
    ctx.load_cert_chain(str(cert), str(key))
    return httpx.Client(base_url=pair.config.site(site).url, verify=ctx)


def test_an_sae_of_the_other_site_is_not_served_here(pair) -> None:
    with KMEClient(
        pair.config.site("alice").url,
        cert=pair.config.sae_cert("sae-bob")[0],
        key=pair.config.sae_cert("sae-bob")[1],
        ca=pair.config.ca,
    ) as wrong:
        for call in (
            lambda: wrong.status("sae-bob"),
            lambda: wrong.get_key("sae-bob-2"),
            lambda: wrong.get_key_with_ids("sae-alice", ["6f1c4c7e-0d9b-4a52-9d4c-2f1f7c1b9a10"]),
        ):
            with pytest.raises(KMEError) as refused:
                call()
            assert refused.value.status == 401
            assert "not name an SAE of this KME" in refused.value.message


def test_a_kme_certificate_is_not_an_sae_and_an_sae_is_not_a_kme(pair) -> None:
    bob = pair.config.site("bob")
    with _http(pair, bob.cert, bob.key) as as_kme:
        r = as_kme.post("/api/v1/keys/sae-bob/enc_keys", json={})
        assert r.status_code == 401 and set(r.json()) >= {"message"}
    cert, key = pair.config.sae_cert("sae-bob")
    with _http(pair, cert, key) as as_sae:
        r = as_sae.post("/kme/v1/reserve", json={"keys": []})
        assert r.status_code == 401
        r = as_sae.post("/kme/v1/cancel", json={"key_IDs": []})
        assert r.status_code == 401


def test_a_certificate_from_another_ca_gets_no_tls_session(pair, tmp_path: Path) -> None:
    other = init_dir(tmp_path / "other", ports=(1, 2), days=1)
    cert, key = other.sae_cert("sae-alice")  # same SAE ID, a stranger's CA
    url = pair.config.site("alice").url
    with (
        KMEClient(url, cert=cert, key=key, ca=pair.config.ca) as c,
        pytest.raises(KMECertificateError) as refused,
    ):
        c.status("sae-bob")
    assert "refused the TLS connection" in str(refused.value)
    # and a client that trusts the other CA does not trust our KME
    with (
        KMEClient(url, cert=cert, key=key, ca=other.ca) as c,
        pytest.raises(KMECertificateError) as untrusted,
    ):
        c.status("sae-bob")
    assert "is not trusted" in str(untrusted.value)


def test_no_client_certificate_no_tls_session(pair) -> None:
    ctx = ssl.create_default_context(cafile=str(pair.config.ca))
    with (
        httpx.Client(base_url=pair.config.site("alice").url, verify=ctx) as http,
        pytest.raises(httpx.HTTPError),
    ):
        http.get("/api/v1/keys/sae-bob/status")


def test_an_unreachable_kme_is_reported_as_such(pair) -> None:
    cert, key = pair.config.sae_cert("sae-alice")
    with (
        socket_free_port() as port,
        KMEClient(
            f"https://127.0.0.1:{port}", cert=cert, key=key, ca=pair.config.ca, timeout=2
        ) as c,
        pytest.raises(KMEUnreachable) as down,
    ):
        c.status("sae-bob")
    assert "connection refused" in str(down.value) and "qkd kme serve" in str(down.value)


class socket_free_port:
    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
