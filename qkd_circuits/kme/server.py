"""``qkd kme serve``: one site's KME on uvicorn, mutual TLS required.

The TLS context requires a client certificate signed by the configuration's CA
(TLS 1.2 at least). uvicorn's HTTP protocol is subclassed by one method: when a
connection is made (after the handshake) it reads the client certificate's common name
and puts it in the ASGI scope's ``state`` of every request on that connection, where
:meth:`qkd_circuits.kme.app.KME.caller_sae` finds it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

import uvicorn

from qkd_circuits.errors import ConfigError
from qkd_circuits.kme.app import KME, PEER_CN_STATE, _cn, create_app
from qkd_circuits.kme.config import KMEConfig, is_loopback


def _protocol_base() -> type[asyncio.Protocol]:
    try:
        import httptools  # noqa: F401  (faster parser when installed)
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def certificate_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol, recording the client certificate's CN per connection."""
    base: Any = _protocol_base()

    class CertificateProtocol(base):
        app_state: dict[str, Any]

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            cn = _cn(ssl_object.getpeercert()) if ssl_object is not None else None
            self.app_state = {**self.app_state, PEER_CN_STATE: cn}

    return CertificateProtocol


def server_context(config: KMEConfig, site: str) -> ssl.SSLContext:
    me = config.site(site)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(me.cert), str(me.key))
        context.load_verify_locations(cafile=str(config.ca))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS files of site {site!r}: {exc}") from None
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def build_server(
    config: KMEConfig,
    site: str,
    *,
    host: str | None = None,
    port: int | None = None,
    allow_remote: bool = False,
    access_log: bool = False,
    log_level: str = "warning",
) -> uvicorn.Server:
    me = config.site(site)
    host = me.host if host is None else host
    port = me.port if port is None else port
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(
            f"{host!r} is not a loopback address; pass --allow-remote to listen on it"
        )
    context = server_context(config, site)
    app = create_app(KME(config, site))
    uv_config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=certificate_protocol(),
        lifespan="on",
        access_log=access_log,
        log_level=log_level,
        timeout_keep_alive=30,
        server_header=False,
        proxy_headers=False,  # no proxy in front: the TLS peer is the caller
    )
    uv_config.load()
    uv_config.ssl = context  # our context: client certificates required, TLS >= 1.2
    return uvicorn.Server(uv_config)


def serve(config: KMEConfig, site: str, **options: Any) -> None:
    """Run ``site``'s KME until interrupted (SIGINT/SIGTERM: graceful shutdown)."""
    server = build_server(config, site, **options)
    logger = logging.getLogger("qkd_circuits.kme")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    server.run()
