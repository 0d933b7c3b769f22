"""A small ETSI GS QKD 014 client (httpx, mutual TLS): ``qkd kme get-key`` and friends.

Connection-level failures become :class:`KMEUnreachable` (nothing listening, timeout,
connection cut) or :class:`KMECertificateError` (the KME's certificate is not trusted, or
the KME refused ours), each with a message that says what to do; an ETSI error answer
becomes :class:`KMEError` with its status, ``message`` and ``details``.

Exactly-once delivery: :meth:`KMEClient.get_key` and :meth:`KMEClient.get_key_with_ids`
name each request with a fresh request ID (a UUID, this package's ``qkdc_request_id``
extension, see :mod:`qkd_circuits.kme.app`), and when the request may have reached the
KME but no answer came back (connection cut, KME killed and restarted, timeout) they send
it again under the same ID, with exponential back-off, for up to
:attr:`RetryPolicy.seconds`. The KME answers a repeat with the answer it committed for the
first try (the same keys under the same key IDs), or, if the first try never committed,
serves the request now: the SAE gets its keys once, and no key is lost with the answer.
A refused connection on the first try is not retried (nothing was sent, and no KME is
listening: the error says so at once). ``idempotent=False`` sends a plain ETSI request,
once.
"""

from __future__ import annotations

import math
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from qkd_circuits.errors import BackendError, ConfigError
from qkd_circuits.kme.config import REQUEST_ID_EXTENSION, KMEConfig


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
    """No answer from the KME. ``sent`` is False when the request cannot have reached it
    (the connection was refused)."""

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How an idempotent request is repeated after a connection-level failure: first after
    ``first_delay`` seconds, each wait doubling up to ``max_delay``, for at most
    ``seconds`` from the first try. Keep ``seconds`` well below the KME's
    ``request_window_seconds`` (600 by default), for which it keeps an answer."""

    seconds: float = 30.0
    first_delay: float = 0.1
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        for name in ("seconds", "first_delay", "max_delay"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"RetryPolicy.{name} must be a finite number >= 0, got {value!r}")
        if self.first_delay > self.max_delay:
            raise ConfigError(
                f"RetryPolicy.first_delay ({self.first_delay}) must not exceed max_delay "
                f"({self.max_delay})"
            )


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
            "for that site?",
            sent=not isinstance(exc, httpx.ConnectError),
        )
    if isinstance(exc, httpx.TimeoutException):
        return KMEUnreachable(f"the KME at {url} did not answer in time")
    return KMEUnreachable(f"cannot reach the KME at {url}: {text.strip()[:200]}")


class KMEClient:
    """An SAE's client of one KME. ``retries`` counts the repeats sent so far."""

    def __init__(
        self,
        url: str,
        *,
        cert: str | Path,
        key: str | Path,
        ca: str | Path,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._cert, self._key, self._ca = Path(cert), Path(key), Path(ca)
        self.retry = RetryPolicy() if retry is None else retry
        self.retries = 0
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

    def _call_once_or_again(self, path: str, body: dict[str, Any], request_id: str) -> Any:
        """POST ``body`` and, after a connection-level failure that may have reached the
        KME, again (same body, same request ID) until :attr:`retry` gives up.

        Raises:
            KMEError: a repeated request answered by a KME that did not echo the request
                ID (it ignores the extension, as ETSI 014 lets a KME ignore optional
                ones): its keys are new ones, and those of the lost first answer may be
                lost; the keys returned are refused rather than passed off as the first
                answer's.
        """
        deadline = time.monotonic() + self.retry.seconds
        delay = self.retry.first_delay
        first = True
        while True:
            try:
                result = self._call("POST", path, json=body)
                echo = (result.get("key_container_extension") or {}).get(REQUEST_ID_EXTENSION)
                if not first and echo != request_id:
                    raise KMEError(
                        200,
                        f"the KME did not honour {REQUEST_ID_EXTENSION} {request_id} on a "
                        "repeat: its keys are not the lost first answer's (which may be lost)",
                    )
                return result
            except KMEUnreachable as exc:
                if first and not exc.sent:
                    raise
                if time.monotonic() + delay > deadline:
                    raise KMEUnreachable(
                        f"{exc} (gave up after {self.retry.seconds:g} s; the KME may have "
                        f"answered: sending {REQUEST_ID_EXTENSION} {request_id} again within "
                        "its request window gets the same keys)"
                    ) from None
            first = False
            time.sleep(delay)
            delay = min(2 * delay, self.retry.max_delay)
            self.retries += 1

    def get_key(
        self,
        slave_sae_id: str,
        *,
        number: int | None = None,
        size: int | None = None,
        additional_slave_sae_ids: list[str] | None = None,
        extension_mandatory: list[dict[str, Any]] | None = None,
        extension_optional: list[dict[str, Any]] | None = None,
        idempotent: bool = True,
        request_id: str | None = None,
    ) -> list[dict[str, str]]:
        """Get key (``POST enc_keys``): ``[{"key_ID": ..., "key": BASE64}, ...]``.

        Idempotent (the default): the request carries ``request_id`` (default: a fresh
        UUID) in ``extension_optional`` and is repeated after a lost answer (see the
        module). ``idempotent=False``: a plain request, sent once.
        """
        if request_id is not None and not idempotent:
            raise ConfigError("request_id is given but idempotent=False")
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
        path = f"/api/v1/keys/{slave_sae_id}/enc_keys"
        if idempotent:
            request_id = _request_id(request_id)
            body["extension_optional"] = [
                *body.get("extension_optional", []),
                {REQUEST_ID_EXTENSION: request_id},
            ]
            result = self._call_once_or_again(path, body, request_id)
        else:
            result = self._call("POST", path, json=body)
        keys: list[dict[str, str]] = result["keys"]
        return keys

    def get_key_with_ids(
        self,
        master_sae_id: str,
        key_ids: list[str],
        *,
        idempotent: bool = True,
        request_id: str | None = None,
    ) -> list[dict[str, str]]:
        """Get key with key IDs (``POST dec_keys``); idempotent as :meth:`get_key`, the
        request ID in ``key_IDs_extension``."""
        if request_id is not None and not idempotent:
            raise ConfigError("request_id is given but idempotent=False")
        body: dict[str, Any] = {"key_IDs": [{"key_ID": k} for k in key_ids]}
        path = f"/api/v1/keys/{master_sae_id}/dec_keys"
        if idempotent:
            request_id = _request_id(request_id)
            body["key_IDs_extension"] = {REQUEST_ID_EXTENSION: request_id}
            result = self._call_once_or_again(path, body, request_id)
        else:
            result = self._call("POST", path, json=body)
        keys: list[dict[str, str]] = result["keys"]
        return keys


def _request_id(given: str | None) -> str:
    if given is None:
        return str(uuid.uuid4())
    try:
        parsed = uuid.UUID(given)
    except (ValueError, AttributeError, TypeError):
        raise ConfigError(f"request_id must be a UUID, got {given!r}") from None
    return str(parsed)
