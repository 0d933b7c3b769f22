"""A small ETSI GS QKD 014 client (httpx, mutual TLS): ``qkd kme get-key`` and friends.

Connection-level failures become :class:`KMEUnreachable` (nothing listening, timeout) or
:class:`KMECertificateError` (the KME's certificate is not trusted, or the KME refused
ours), each with a message that says what to do; an ETSI error answer becomes
:class:`KMEError` with its status, ``message`` and ``details``.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import httpx

from qkd_circuits.errors import BackendError, ConfigError
from qkd_circuits.kme.config import KMEConfig


class KMEError(BackendError):
    """The KME answered with an ETSI error (400, 401, 503, ...)."""

    def __init__(self, status: int, message: str, details: Any = None) -> None:
        text = f"the KME answered {status}: {message}"
        if details:
            text += f" {details}"
        super().__init__(text)
        self.status = status
        self.message = message
        self.details = details


class KMEUnreachable(BackendError):
    """Nothing answered at the KME's address."""


class KMECertificateError(BackendError):
    """TLS failed: the KME's certificate is not trusted, or the KME refused ours."""


def _context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    for path, what in ((cert, "client certificate"), (key, "client key"), (ca, "CA certificate")):
        if not Path(path).is_file():
            raise ConfigError(f"{what} {str(path)!r} not found")
    try:
        context = ssl.create_default_context(cafile=str(ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS files ({cert}, {key}, {ca}): {exc}") from None
    return context


def _explain(url: str, exc: BaseException) -> BackendError:
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " ".join(str(e) for e in chain)
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return KMECertificateError(
                f"the certificate of the KME at {url} is not trusted: {e.verify_message}; check "
                "--ca (the CA that signed the KMEs' certificates) and the address"
            )
    if "alert" in text.lower() or any(isinstance(e, ssl.SSLError) for e in chain):
        return KMECertificateError(
            f"the KME at {url} refused the TLS connection ({text.strip()[:160]}): it accepts only "
            "client certificates signed by its CA; check --cert and --key"
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text.lower():
        return KMEUnreachable(
            f"cannot reach the KME at {url}: connection refused; is 'qkd kme serve' running "
            "for that site?"
        )
    if isinstance(exc, httpx.TimeoutException):
        return KMEUnreachable(f"the KME at {url} did not answer in time")
    return KMEUnreachable(f"cannot reach the KME at {url}: {text.strip()[:200]}")


class KMEClient:
    """An SAE's client of one KME."""

    def __init__(
        self, url: str, *, cert: str | Path, key: str | Path, ca: str | Path, timeout: float = 10.0
    ) -> None:
        self.url = url.rstrip("/")
        self._cert, self._key, self._ca = Path(cert), Path(key), Path(ca)
        self._client = httpx.Client(
            base_url=self.url, verify=_context(Path(cert), Path(key), Path(ca)), timeout=timeout
        )

    @classmethod
    def for_sae(cls, config: KMEConfig, sae_id: str, **kwargs: Any) -> KMEClient:
        """The client of ``sae_id`` (from ``qkd kme init``'s files) to its own site's KME."""
        site = config.site_of_sae(sae_id)
        cert, key = config.sae_cert(sae_id)
        return cls(site.url, cert=cert, key=key, ca=config.ca, **kwargs)

    def __enter__(self) -> KMEClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            # Under TLS 1.3 the server checks our certificate after the handshake: a refusal
            # reads as a closed connection. A TLS 1.2 handshake tells the two apart.
            raise self._diagnose(exc) from None
        except httpx.HTTPError as exc:
            raise _explain(self.url, exc) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            if isinstance(body, dict) and "message" in body:
                raise KMEError(response.status_code, str(body["message"]), body.get("details"))
            raise KMEError(response.status_code, response.text[:200])
        return body

    def _diagnose(self, exc: BaseException) -> BackendError:
        url = httpx.URL(self.url)
        context = ssl.create_default_context(cafile=str(self._ca))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self._cert), str(self._key))
        try:
            with (
                socket.create_connection((url.host, url.port or 443), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=url.host) as tls,
            ):
                tls.recv(1)  # a refused certificate ends the handshake with an alert
        except (ssl.SSLError, OSError) as probe:
            if isinstance(probe, ssl.SSLError) or "alert" in str(probe).lower():
                return _explain(self.url, probe)
        return KMEUnreachable(
            f"the KME at {self.url} closed the connection without answering ({exc}); "
            "is it shutting down?"
        )

    def status(self, slave_sae_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/v1/keys/{slave_sae_id}/status")
        return result

    def get_key(
        self,
        slave_sae_id: str,
        *,
        number: int | None = None,
        size: int | None = None,
        additional_slave_sae_ids: list[str] | None = None,
        extension_mandatory: list[dict[str, Any]] | None = None,
        extension_optional: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, str]]:
        """Get key (``POST enc_keys``): ``[{"key_ID": ..., "key": BASE64}, ...]``."""
        body: dict[str, Any] = {}
        for name, value in (
            ("number", number),
            ("size", size),
            ("additional_slave_SAE_IDs", additional_slave_sae_ids),
            ("extension_mandatory", extension_mandatory),
            ("extension_optional", extension_optional),
        ):
            if value is not None:
                body[name] = value
        result = self._call("POST", f"/api/v1/keys/{slave_sae_id}/enc_keys", json=body)
        keys: list[dict[str, str]] = result["keys"]
        return keys

    def get_key_with_ids(self, master_sae_id: str, key_ids: list[str]) -> list[dict[str, str]]:
        """Get key with key IDs (``POST dec_keys``)."""
        body = {"key_IDs": [{"key_ID": k} for k in key_ids]}
        result = self._call("POST", f"/api/v1/keys/{master_sae_id}/dec_keys", json=body)
        keys: list[dict[str, str]] = result["keys"]
        return keys
