"""The KME: ETSI GS QKD 014 V1.1.1 endpoints (FastAPI) and the KME-to-KME link.

SAE-facing (the caller is the SAE named by its TLS client certificate's CN):

* ``GET /api/v1/keys/{slave_SAE_ID}/status``: Status (``source_KME_ID`` ... ``max_SAE_ID_count``).
* ``GET|POST /api/v1/keys/{slave_SAE_ID}/enc_keys``: Get key, called by the master SAE;
  ``number``, ``size`` (query or JSON), ``additional_slave_SAE_IDs``,
  ``extension_mandatory``, ``extension_optional`` (JSON); answers a Key container
  ``{"keys": [{"key_ID": UUID, "key": BASE64}]}``.
* ``GET|POST /api/v1/keys/{master_SAE_ID}/dec_keys``: Get key with key IDs, called by a
  slave SAE; ``key_ID`` (query) or ``{"key_IDs": [{"key_ID": UUID}]}``.

Errors are ``{"message": ..., "details": [...]}`` with 400 (bad request format or a
request outside the KME's limits), 401 (the caller is not an SAE of this KME, or asks
for a key not issued to it) and 503 (not enough key, or the peer KME unreachable).

**Idempotent requests** (this KME's extension, named by
:data:`~qkd_circuits.kme.config.REQUEST_ID_EXTENSION`, ``qkdc_request_id``). ETSI 014 has
no acknowledgement: a key whose answer is lost (the KME killed while sending it, the
connection cut, the SAE timed out) would be gone, since re-serving a key without knowing
whether the SAE got it could reuse it. So an SAE may name each request with a fresh UUID,
in a POST enc_keys body as ``{"qkdc_request_id": UUID}`` in ``extension_optional`` (a KME
without the extension ignores it, as §6.2 lets it) or in ``extension_mandatory`` (a KME
without it answers 400, "not all extension_mandatory parameters are supported"), and in a
POST dec_keys body as ``"key_IDs_extension": {"qkdc_request_id": UUID}``. Then:

* The KME commits the keys' new state (issued to that master for those slaves, or handed
  to that slave and erased) and the answer under the request ID in one SQLite
  transaction, before it answers (:mod:`qkd_circuits.kme.store`).
* The same SAE repeating the request ID with the same parameters (number, size, slaves;
  master and key IDs) gets the same answer byte for byte: same keys, same key IDs, never
  new keys. While the first try is still running in this KME, a repeat waits for it.
  Another SAE presenting the request ID gets 401; other parameters (or the other kind of
  request) under it get 400. The answer echoes the ID in ``key_container_extension``.
* A request ID is remembered ``request_window_seconds`` (default 600 s). Its answer is
  kept that long at the slave's KME (no acknowledgement), and at the master's KME until a
  slave SAE has retrieved one of its keys: the peer KME reports that
  (``/kme/v1/retrieved``), since a slave only learns key IDs from the master SAE, which
  therefore had the answer. A repeat after that gets 400. A repeat after the window is a
  new request.
* A request without an ID keeps the spec's plain behaviour: at most once. A key whose
  answer was lost is never served again (Get key: issued and erased at the master's KME,
  held at the slave's until ``key_ttl_seconds``; Get key with key IDs: erased). A crash
  costs such a client at most the keys of its requests in flight.

Why this design. Without an ID a KME cannot tell a repeat from a new request of the
same SAE, so re-serving a key could give it for two uses; the ID makes "the same
request" explicit, and binds it to the certificate's identity, so no other SAE ever gets
its answer (refusing, rather than giving each SAE its own ID space, also exposes a
leaked or colliding ID). The answer is recorded in the transaction that issues the keys,
not at the reservation: recorded means issued, so after a crash either the whole answer
is there to repeat, or nothing was issued and the reservation is cancelled as before
(the repeat then starts afresh). A repeat joins a try still running instead of starting
a second one: otherwise the SAE could take one try's 503 as final while the other later
issued keys nobody would ever ask for. Get key with key IDs keeps its answer for the
window rather than keeping the key until a second fetch acknowledges it: a plain client
keeps the spec's one fetch, and the extra holding is bounded and only for SAEs that ask.

KME-to-KME (the caller must be the peer KME's certificate): ``POST /kme/v1/reserve``
(bindings of reserved units to key IDs), ``POST /kme/v1/cancel`` and
``POST /kme/v1/retrieved`` (request IDs of which a slave SAE retrieved a key).

The KME never logs key material; uvicorn's access log is off unless asked for, and
would show methods, paths and key IDs (public), never bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from qkd_circuits.kme import store as st
from qkd_circuits.kme.config import REQUEST_ID_EXTENSION, UNIT_BITS, KMEConfig
from qkd_circuits.kme.store import StoreError

log = logging.getLogger("qkd_circuits.kme")

PEER_CN_STATE = "qkd_kme_peer_cn"
"""Key of the ASGI scope's ``state`` under which the server puts the client certificate's CN."""
_KEY_REQUEST_FIELDS = {
    "number",
    "size",
    "additional_slave_SAE_IDs",
    "extension_mandatory",
    "extension_optional",
}
_KEY_IDS_FIELDS = {"key_IDs", "key_IDs_extension"}
_KEY_ID_FIELDS = {"key_ID", "key_ID_extension"}


class PeerUnavailable(Exception):
    """The peer KME could not be reached or gave no usable answer."""


def _error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return Response(json.dumps(body).encode(), status_code=status, media_type="application/json")


def _json(obj: Any) -> Response:
    return Response(
        json.dumps(obj).encode(),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _answer(body: bytes) -> Response:
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def canonical_uuid(value: Any, name: str) -> str:
    """``value`` as a UUID in canonical form, or StoreError(400) naming field ``name``."""
    if not isinstance(value, str):
        raise StoreError(400, f"{name} must be a UUID string", [{name: repr(value)[:80]}])
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise StoreError(400, f"{name} is not a UUID", [{name: value[:80]}]) from None
    if str(parsed) != value.lower():
        raise StoreError(400, f"{name} is not a UUID in its canonical form", [{name: value[:80]}])
    return str(parsed)


def canonical_key_id(value: Any) -> str:
    """A key ID in canonical UUID form, or StoreError(400)."""
    return canonical_uuid(value, "key_ID")


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRequest:
    """A parsed Get key request: ``slaves[0]`` is the URL's slave SAE; ``request_id`` the
    SAE's idempotency ID (None: a plain request)."""

    number: int
    size: int
    slaves: list[str]
    request_id: str | None = None


class PeerLink:
    """The mutual-TLS link to the peer KME, one keep-alive HTTP/1.1 connection.

    Reservations are batched: one request carries every reservation queued while the
    previous one was in flight. The peer's certificate must name the peer KME (its CN).
    """

    MAX_BATCH = 512

    def __init__(self, config: KMEConfig, site: str, *, timeout: float = 5.0) -> None:
        me, peer = config.site(site), config.peer(site)
        self.peer_id = peer.kme_id
        context = ssl.create_default_context(cafile=str(config.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(me.cert), str(me.key))
        self._context = context
        self._host, self._port, self._url = peer.host, peer.port, peer.url
        self._timeout = timeout
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()
        self._queue: list[tuple[list[dict[str, Any]], asyncio.Future[list[str | None]]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._sender())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, future in self._queue:
            if not future.done():
                future.set_exception(PeerUnavailable("the KME is shutting down"))
        self._drop()

    def _drop(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None

    async def _exchange(self, path: str, body: dict[str, Any]) -> Any:
        if self._streams is None:
            reader, writer = await asyncio.open_connection(
                self._host, self._port, ssl=self._context
            )
            ssl_object = writer.get_extra_info("ssl_object")
            if ssl_object is None or _cn(ssl_object.getpeercert()) != self.peer_id:
                writer.close()
                raise PeerUnavailable(f"the server at {self._url} is not {self.peer_id}")
            self._streams = (reader, writer)
        reader, writer = self._streams
        data = json.dumps(body).encode()
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), self._host.encode(), len(data), data)
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                self._streams = None
        if length is None:
            raise PeerUnavailable("the peer KME's answer has no Content-Length")
        payload = await reader.readexactly(length)
        status = int(head[9:12])
        if status != 200:
            raise PeerUnavailable(f"the peer KME answered {status}: {payload[:200]!r}")
        return json.loads(payload)

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        async with self._lock:
            try:
                return await asyncio.wait_for(self._exchange(path, body), self._timeout)
            except PeerUnavailable:
                self._drop()
                raise
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self._drop()
                raise PeerUnavailable(f"{type(exc).__name__}: {exc}") from None

    async def reserve(self, items: list[dict[str, Any]]) -> list[str | None]:
        """Store ``items`` (one request's bindings) at the peer: per item None or why not."""
        future: asyncio.Future[list[str | None]] = asyncio.get_running_loop().create_future()
        self._queue.append((items, future))
        self._wake.set()
        return await future

    async def cancel(self, key_ids: list[str]) -> None:
        await self._post("/kme/v1/cancel", {"key_IDs": key_ids})

    async def unused(self, request_id: str, key_ids: list[str]) -> bool:
        """Ask the peer (the slave SAEs' KME) whether these keys of Get key request
        ``request_id`` are all still bound there and untouched by any slave SAE."""
        answer = await self._post("/kme/v1/unused", {"request_ID": request_id, "key_IDs": key_ids})
        return isinstance(answer, dict) and answer.get("unused") is True

    async def retrieved(self, request_ids: list[str]) -> None:
        """Tell the peer (the master SAEs' KME) that slave SAEs retrieved keys of these
        requests."""
        await self._post("/kme/v1/retrieved", {"request_IDs": request_ids})

    async def _sender(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = []
                items: list[dict[str, Any]] = []
                while self._queue and len(items) + len(self._queue[0][0]) <= self.MAX_BATCH:
                    batch.append(self._queue.pop(0))
                    items += batch[-1][0]
                if not batch:  # one request larger than a batch (never: max_key_per_request)
                    batch.append(self._queue.pop(0))
                    items = batch[0][0]
                try:
                    answer = await self._post("/kme/v1/reserve", {"keys": items})
                    results = answer["results"]
                    if len(results) != len(items):
                        raise PeerUnavailable("the peer KME's answer does not match the request")
                    self.batches += 1
                    at = 0
                    for entry, future in batch:
                        part = [
                            None if r is None else str(r) for r in results[at : at + len(entry)]
                        ]
                        at += len(entry)
                        if not future.done():
                            future.set_result(part)
                except Exception as exc:
                    error = exc if isinstance(exc, PeerUnavailable) else PeerUnavailable(repr(exc))
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)


def _cn(cert: Any) -> str | None:
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None


class KME:
    """One site's KME: the store, the peer link and the ETSI operations."""

    MAX_REPORTS = 100_000
    """Request IDs awaiting their report to the peer at most (beyond, the oldest are
    dropped: their answers are then erased at the end of the request window instead)."""

    def __init__(self, config: KMEConfig, site: str) -> None:
        self.config = config
        self.site = config.site(site)
        self.peer = config.peer(site)
        self.limits = config.limits
        self.store = st.GroupCommitStore(self.site.store_path)
        self.link = PeerLink(config, site)
        self._to_cancel: set[str] = set()
        self._kick = asyncio.Event()
        self._reconciler: asyncio.Task[None] | None = None
        self._running: dict[str, tuple[st.RequestKey, asyncio.Task[bytes]]] = {}
        self._to_report: dict[str, None] = {}  # insertion-ordered set
        self._report_kick = asyncio.Event()
        self._reporter: asyncio.Task[None] | None = None
        self.replays = 0

    async def start(self) -> None:
        self.store.start()
        self._to_cancel.update(await self.store.run(st.pending_master))
        await self.link.start()
        self._reconciler = asyncio.create_task(self._reconcile())
        self._reporter = asyncio.create_task(self._report())
        if self._to_cancel:
            self._kick.set()

    async def stop(self) -> None:
        log.info(
            "%s stopping: %d store operations in %d transactions, %d reservation batches "
            "sent, %d Get key answers replayed",
            self.site.kme_id,
            self.store.ops,
            self.store.batches,
            self.link.batches,
            self.replays,
        )
        for task in (self._reconciler, self._reporter):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.link.close()
        self.store.close()

    # -- who is calling ------------------------------------------------------------------

    def caller_sae(self, request: Request) -> str:
        cn = request.scope.get("state", {}).get(PEER_CN_STATE)
        if cn is None or cn not in self.site.saes:
            raise StoreError(
                401,
                "the client certificate does not name an SAE of this KME",
                [{"certificate_CN": str(cn), "KME_ID": self.site.kme_id}],
            )
        return str(cn)

    def check_peer_sae(self, sae_id: str, what: str) -> None:
        if sae_id not in self.peer.saes:
            raise StoreError(
                400,
                f"{what} is not an SAE of the peer KME {self.peer.kme_id}",
                [{what: sae_id[:80]}],
            )

    # -- ETSI operations -----------------------------------------------------------------

    async def status(self, caller: str, slave: str) -> dict[str, Any]:
        self.check_peer_sae(slave, "slave_SAE_ID")
        units = await self.store.run(st.available_units, self.site.name)
        return {
            "source_KME_ID": self.site.kme_id,
            "target_KME_ID": self.peer.kme_id,
            "master_SAE_ID": caller,
            "slave_SAE_ID": slave,
            "key_size": self.limits.key_size,
            "stored_key_count": units // math.ceil(self.limits.key_size / UNIT_BITS),
            "max_key_count": self.limits.max_key_count,
            "max_key_per_request": self.limits.max_key_per_request,
            "max_key_size": self.limits.max_key_size,
            "min_key_size": self.limits.min_key_size,
            "max_SAE_ID_count": self.limits.max_SAE_ID_count,
        }

    def parse_key_request(self, body: Any, slave: str) -> KeyRequest:
        """A Key request's fields, or StoreError(400)."""
        lim = self.limits
        if not isinstance(body, dict):
            raise StoreError(400, "the request body must be a JSON object (Key request)")
        unknown = sorted(set(body) - _KEY_REQUEST_FIELDS)
        if unknown:
            raise StoreError(
                400, "unknown field in Key request", [{"field": f[:80]} for f in unknown]
            )
        number = body.get("number", 1)
        size = body.get("size", lim.key_size)
        if not _is_int(number) or not 1 <= number <= lim.max_key_per_request:
            raise StoreError(
                400,
                "number must be an integer from 1 to max_key_per_request "
                f"({lim.max_key_per_request})",
                [{"number": repr(number)[:80]}],
            )
        if not _is_int(size) or size % 8 or not lim.min_key_size <= size <= lim.max_key_size:
            raise StoreError(
                400,
                f"size must be a multiple of 8 from min_key_size ({lim.min_key_size}) to "
                f"max_key_size ({lim.max_key_size})",
                [{"size": repr(size)[:80]}],
            )
        extra = body.get("additional_slave_SAE_IDs", [])
        if not isinstance(extra, list) or not all(isinstance(s, str) for s in extra):
            raise StoreError(400, "additional_slave_SAE_IDs must be an array of strings")
        if len(extra) > lim.max_SAE_ID_count:
            raise StoreError(
                400,
                f"more additional_slave_SAE_IDs than max_SAE_ID_count ({lim.max_SAE_ID_count})",
            )
        slaves = [slave, *extra]
        if len(set(slaves)) != len(slaves):
            raise StoreError(400, "a slave SAE ID is given twice")
        for s in extra:
            self.check_peer_sae(s, "additional_slave_SAE_IDs")
        for name in ("extension_mandatory", "extension_optional"):
            value = body.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise StoreError(400, f"{name} must be an array of objects")
        mandatory = [k for ext in body.get("extension_mandatory", []) for k in ext]
        unsupported = [k for k in mandatory if k != REQUEST_ID_EXTENSION]
        if unsupported:
            raise StoreError(
                400,
                "not all extension_mandatory parameters are supported",
                [{"extension_mandatory_unsupported": k[:80]} for k in unsupported],
            )
        given = [
            ext[REQUEST_ID_EXTENSION]
            for name in ("extension_mandatory", "extension_optional")
            for ext in body.get(name, [])
            if REQUEST_ID_EXTENSION in ext
        ]
        if len(given) > 1:
            raise StoreError(400, f"{REQUEST_ID_EXTENSION} is given more than once")
        request_id = canonical_uuid(given[0], REQUEST_ID_EXTENSION) if given else None
        return KeyRequest(number=number, size=size, slaves=slaves, request_id=request_id)

    async def enc_keys(self, caller: str, request: KeyRequest) -> bytes:
        """Get key: the Key container's JSON bytes."""
        self.check_peer_sae(request.slaves[0], "slave_SAE_ID")
        if request.request_id is None:
            return await self._issue(caller, request, None)
        key = st.RequestKey(
            request_id=request.request_id,
            kind=st.ENC,
            caller=caller,
            params=st.request_params(
                number=request.number, size=request.size, slave_SAE_IDs=request.slaves
            ),
            window_seconds=self.limits.request_window_seconds,
        )
        running = self._running.get(key.request_id)
        if running is not None:  # a repeat while the first try is still at work here
            first, task = running
            if first.caller != caller:
                raise StoreError(
                    401,
                    f"{REQUEST_ID_EXTENSION} belongs to another SAE's request",
                    [{REQUEST_ID_EXTENSION: key.request_id}],
                )
            if first != key:
                raise StoreError(
                    400,
                    f"{REQUEST_ID_EXTENSION} was already used for a request with other parameters",
                    [{REQUEST_ID_EXTENSION: key.request_id}],
                )
            self.replays += 1
            return await asyncio.shield(task)
        task = asyncio.ensure_future(self._issue(caller, request, key))
        self._running[key.request_id] = (key, task)
        task.add_done_callback(lambda t: self._finished(key.request_id, t))
        return await asyncio.shield(task)  # a dropped connection does not stop the try

    def _finished(self, request_id: str, task: asyncio.Task[bytes]) -> None:
        self._running.pop(request_id, None)
        if not task.cancelled():
            task.exception()  # retrieved: its callers have it, or have gone

    async def _issue(self, caller: str, request: KeyRequest, key: st.RequestKey | None) -> bytes:
        key_ids = [str(uuid.uuid4()) for _ in range(request.number)]
        reserved: list[bool] = []
        try:
            return await self._issue_keys(key_ids, reserved, caller, request, key)
        except BaseException:
            if not reserved:  # nothing was reserved (e.g. not enough key): nothing to undo
                raise
            # Whatever stopped this request (the peer, a refusal, a cancelled task), its
            # key IDs still pending here are cancelled at the peer and here: no binding
            # outlives it. Keys whose delivery committed are no longer pending, and keep
            # their binding (the reconciler checks): an idempotent request's retry gets them.
            self._cancel_later(key_ids)
            raise

    async def _issue_keys(
        self,
        key_ids: list[str],
        reserved: list[bool],
        caller: str,
        request: KeyRequest,
        key: st.RequestKey | None,
    ) -> bytes:
        # A cancellation while the reservation is queued still lets it commit: the
        # reconciler finds it among the pending rows at the next start at the latest.
        reserved.append(True)  # from here on units may be reserved
        reserve = {
            "pool": self.site.name,
            "key_ids": key_ids,
            "units_per_key": math.ceil(request.size / UNIT_BITS),
            "size": request.size,
            "master": caller,
            "slaves": request.slaves,
        }
        try:
            if key is None:
                reservations = await self.store.run(st.reserve_master, **reserve)
            else:
                body, reservations = await self.store.run(st.reserve_master_once, key, **reserve)
                if body is not None:  # answered before (before a crash, say): the same keys
                    reserved.clear()
                    await self._confirm_unused(key, body)
                    self.replays += 1
                    return body
        except StoreError:
            reserved.clear()  # the reservation rolled back: nothing to undo
            raise
        items = [
            {
                "key_ID": r.key_id,
                "units": r.units,
                "size": r.size,
                "master_SAE_ID": caller,
                "slave_SAE_IDs": request.slaves,
            }
            for r in reservations
        ]
        if key is not None:
            for item in items:
                item["master_request_ID"] = key.request_id
        try:
            refusals = await self.link.reserve(items)
        except PeerUnavailable as exc:
            log.warning("peer KME %s unreachable: %s", self.peer.kme_id, exc)
            raise StoreError(
                503,
                "the peer KME cannot be reached; no key was handed out",
                [{"target_KME_ID": self.peer.kme_id}],
            ) from None
        refused = [k for k, why in zip(key_ids, refusals, strict=True) if why is not None]
        if refused:
            log.error(
                "peer KME refused %d reservation(s): %s", len(refused), set(refusals) - {None}
            )
            await self.store.run(st.discard_master, refused)
            raise StoreError(503, "the peer KME's key store disagrees; no key was handed out")
        if key is None:
            material = await self.store.run(st.deliver_master, reservations)
            return st.key_container(key_ids, material)
        answer, replayed = await self.store.run(st.deliver_master_once, key, reservations)
        if replayed:  # answered meanwhile by another try: ours go back to the pool
            self._cancel_later(key_ids)
            await self._confirm_unused(key, answer)
            self.replays += 1
        return answer

    async def _confirm_unused(self, key: st.RequestKey, answer: bytes) -> None:
        """Before a kept Get key answer is repeated, ask the peer (the slave SAEs' KME)
        whether a slave SAE has touched its keys: the report of a retrieval is best effort
        and may have been lost (a crash, a long outage), so it is not relied on alone.
        Keys used or gone there: 400, and the answer is forgotten here. An unreachable
        peer cannot tell; the answer is then repeated (a 503 would lose the keys of a
        request whose answer was lost, which the repeat exists to recover): the one case
        in which a key a slave has used can reach its master SAE a second time is a lost
        retrieval report while the peer is down, and it is the same master SAE, which had
        the key."""
        key_ids = [k["key_ID"] for k in json.loads(answer)["keys"]]
        try:
            unused = await self.link.unused(key.request_id, key_ids)
        except PeerUnavailable as exc:
            log.info("peer KME %s unreachable, repeating an answer unconfirmed: %s",
                     self.peer.kme_id, exc)  # fmt: skip
            return
        if not unused:
            await self.store.run(st.forget_requests, [key.request_id])
            raise StoreError(
                400,
                f"the keys of this {REQUEST_ID_EXTENSION} have been retrieved by a slave SAE "
                "(or erased at its KME); they are not served again",
                [{REQUEST_ID_EXTENSION: key.request_id}],
            )

    def parse_key_ids(self, body: Any) -> tuple[list[str], str | None]:
        """A Key IDs request's key IDs and request ID (None: none given), or StoreError(400)."""
        if not isinstance(body, dict):
            raise StoreError(400, "the request body must be a JSON object (Key IDs)")
        unknown = sorted(set(body) - _KEY_IDS_FIELDS)
        if unknown:
            raise StoreError(400, "unknown field in Key IDs", [{"field": f[:80]} for f in unknown])
        entries = body.get("key_IDs")
        if not isinstance(entries, list) or not entries:
            raise StoreError(400, "key_IDs must be a non-empty array")
        if len(entries) > self.limits.max_key_per_request:
            raise StoreError(
                400, f"more key_IDs than max_key_per_request ({self.limits.max_key_per_request})"
            )
        ids = []
        for entry in entries:
            if not isinstance(entry, dict) or "key_ID" not in entry or set(entry) - _KEY_ID_FIELDS:
                raise StoreError(400, 'each element of key_IDs must be {"key_ID": UUID}')
            ids.append(canonical_key_id(entry["key_ID"]))
        if len(set(ids)) != len(ids):
            raise StoreError(400, "a key_ID is given twice")
        extension = body.get("key_IDs_extension", {})
        if not isinstance(extension, dict):
            raise StoreError(400, "key_IDs_extension must be an object")
        request_id = extension.get(REQUEST_ID_EXTENSION)
        if request_id is not None:
            request_id = canonical_uuid(request_id, REQUEST_ID_EXTENSION)
        return ids, request_id

    async def dec_keys(
        self, caller: str, master: str, key_ids: list[str], request_id: str | None = None
    ) -> bytes:
        """Get key with key IDs: the Key container's JSON bytes."""
        self.check_peer_sae(master, "master_SAE_ID")
        if request_id is None:
            got = await self.store.run(
                st.retrieve_slave, caller=caller, master=master, key_ids=key_ids
            )
            self._report_later(got.notify)
            return st.key_container(key_ids, got.material)
        key = st.RequestKey(
            request_id=request_id,
            kind=st.DEC,
            caller=caller,
            params=st.request_params(master_SAE_ID=master, key_IDs=key_ids),
            window_seconds=self.limits.request_window_seconds,
        )
        body, notify = await self.store.run(
            st.retrieve_slave_once, key, master=master, key_ids=key_ids
        )
        self._report_later(notify)
        return body

    # -- KME-to-KME ----------------------------------------------------------------------

    def caller_is_peer(self, request: Request) -> None:
        if request.scope.get("state", {}).get(PEER_CN_STATE) != self.peer.kme_id:
            raise StoreError(401, "only the peer KME may call this endpoint")

    async def peer_reserve(self, body: Any) -> dict[str, Any]:
        items = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) > PeerLink.MAX_BATCH:
            raise StoreError(400, "keys must be an array")
        checked: list[dict[str, Any]] = []
        results: list[str | None] = []
        for item in items:
            why = self._check_binding(item)
            results.append(why)
            if why is None:
                checked.append(item)
        stored = iter(await self.store.run(st.bind_slave, checked, pool=self.peer.name))
        return {"results": [next(stored) if why is None else why for why in results]}

    def _check_binding(self, item: Any) -> str | None:
        try:
            canonical_key_id(item["key_ID"])
            size, units = item["size"], item["units"]
            if not _is_int(size) or size <= 0 or size % 8 or len(units) * UNIT_BITS < size:
                return "bad size"
            if item["master_SAE_ID"] not in self.peer.saes:
                return "master SAE not at the peer site"
            slaves = item["slave_SAE_IDs"]
            if not isinstance(slaves, list) or not slaves or not set(slaves) <= set(self.site.saes):
                return "slave SAE not at this site"
            if not all(
                isinstance(u, list) and len(u) == 2 and isinstance(u[0], str) and _is_int(u[1])
                for u in units
            ):
                return "bad units"
            if "master_request_ID" in item:
                canonical_uuid(item["master_request_ID"], "master_request_ID")
        except (KeyError, TypeError, StoreError):
            return "malformed binding"
        return None

    async def peer_cancel(self, body: Any) -> dict[str, Any]:
        ids = body.get("key_IDs") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            raise StoreError(400, "key_IDs must be an array")
        await self.store.run(st.cancel_slave, [canonical_key_id(k) for k in ids])
        return {"cancelled": len(ids)}

    async def peer_unused(self, body: Any) -> dict[str, Any]:
        request_id = body.get("request_ID") if isinstance(body, dict) else None
        ids = body.get("key_IDs") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or len(ids) > 10_000:
            raise StoreError(400, "key_IDs must be an array of 1 to 10,000")
        checked = canonical_uuid(request_id, "request_ID")
        keys = [canonical_key_id(k) for k in ids]
        return {"unused": await self.store.run(st.unused_at_slave, checked, keys)}

    async def peer_retrieved(self, body: Any) -> dict[str, Any]:
        ids = body.get("request_IDs") if isinstance(body, dict) else None
        if not isinstance(ids, list) or len(ids) > 10_000:
            raise StoreError(400, "request_IDs must be an array of at most 10,000")
        checked = [canonical_uuid(r, "request_ID") for r in ids]
        return {"forgotten": await self.store.run(st.forget_requests, checked)}

    def _cancel_later(self, key_ids: list[str]) -> None:
        self._to_cancel.update(key_ids)
        self._kick.set()

    def _report_later(self, request_ids: list[str]) -> None:
        if not request_ids:
            return
        for request_id in request_ids:
            self._to_report[request_id] = None
        while len(self._to_report) > self.MAX_REPORTS:
            del self._to_report[next(iter(self._to_report))]
        self._report_kick.set()

    async def _report(self) -> None:
        """Report to the peer, in batches, the requests of which a slave SAE retrieved a
        key, so the master's KME erases their kept answers (best effort: an answer not
        reported, e.g. lost in a crash, is erased at the end of the request window)."""
        while True:
            await self._report_kick.wait()
            self._report_kick.clear()
            await asyncio.sleep(0.02)  # let a batch gather
            while self._to_report:
                batch = list(self._to_report)[:5000]
                try:
                    await self.link.retrieved(batch)
                except PeerUnavailable as exc:
                    log.info("cannot report %d retrieval(s) to the peer yet: %s", len(batch), exc)
                    await asyncio.sleep(1.0)
                    continue
                for request_id in batch:
                    self._to_report.pop(request_id, None)

    async def _reconcile(self) -> None:
        """Cancel, at the peer and then here, reservations never handed out (left by a
        crash, an unreachable peer or a refusal), so their units become available again;
        erase expired slave keys and request rows."""
        period = min(60.0, self.limits.key_ttl_seconds / 2, self.limits.request_window_seconds / 2)
        next_expiry = 0.0
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=min(5.0, period))
            self._kick.clear()
            if time.monotonic() >= next_expiry:
                next_expiry = time.monotonic() + period
                now = time.time()
                expired = await self.store.run(st.expire_slave, now - self.limits.key_ttl_seconds)
                if expired:
                    log.info(
                        "erased %d key(s) not retrieved within %d s",
                        expired,
                        self.limits.key_ttl_seconds,
                    )
                await self.store.run(st.expire_requests, now - self.limits.request_window_seconds)
            if not self._to_cancel:
                continue
            batch = sorted(self._to_cancel)[:1000]
            # only reservations still pending: a key whose delivery committed keeps its
            # binding (FIFO writer: this runs after any delivery queued by the request)
            pending = await self.store.run(st.pending_among, batch)
            self._to_cancel.difference_update(set(batch) - set(pending))
            if not pending:
                if self._to_cancel:
                    self._kick.set()
                continue
            try:
                await self.link.cancel(pending)
            except PeerUnavailable as exc:
                log.info("cannot cancel %d reservation(s) at the peer yet: %s", len(pending), exc)
                await asyncio.sleep(1.0)
                self._kick.set()
                continue
            await self.store.run(st.release_master, pending)
            self._to_cancel.difference_update(pending)
            log.info("released %d reservation(s) never handed out", len(pending))
            if self._to_cancel:
                self._kick.set()


async def _read_body(request: Request, limit: int) -> Any:
    """The request's JSON body (None when empty), at most ``limit`` bytes, or StoreError(400)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise StoreError(400, f"the request body is larger than {limit} bytes")
    if declared is not None:
        raw = await request.body()  # the server stops at the declared length
    else:  # chunked: counted as it comes
        chunks = []
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise StoreError(400, f"the request body is larger than {limit} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreError(
            400, "the request body is not valid JSON", [{"error": str(exc)[:200]}]
        ) from None


def _query(request: Request, allowed: set[str]) -> dict[str, str]:
    if not request.scope.get("query_string"):
        return {}
    items = list(request.query_params.multi_items())
    names = [k for k, _ in items]
    bad = sorted({k for k in names if k not in allowed or names.count(k) > 1})
    if bad:
        raise StoreError(
            400, "unknown or repeated query parameter", [{"parameter": b[:80]} for b in bad]
        )
    return dict(items)


def _query_int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise StoreError(400, f"{name} must be a positive integer", [{name: value[:80]}])
    return int(value)


def create_app(kme: KME) -> FastAPI:
    """The FastAPI app of ``kme`` (started and stopped with the app's lifespan)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await kme.start()
        try:
            yield
        finally:
            await kme.stop()

    options: dict[str, Any] = {}
    if "telemetry" in inspect.signature(FastAPI).parameters:
        # FastAPI's OpenTelemetry bridge (0.16x) exports request spans once a provider is
        # configured in the environment: paths carry key IDs, so a KME exports nothing.
        options["telemetry"] = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(
        title=f"qkd-circuits KME {kme.site.kme_id}",
        version="ETSI GS QKD 014 V1.1.1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        **options,
    )
    limit = kme.limits.max_body_bytes

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        return _error(exc.status, exc.message, exc.details)

    # Plain Starlette routes of the FastAPI app: the endpoints read the request
    # themselves (the spec's 400 answers, not FastAPI's 422), and skipping FastAPI's
    # dependency resolution saves ~0.2 ms of CPU per request (measured).
    async def status(request: Request) -> Response:
        caller = kme.caller_sae(request)
        _query(request, set())
        return _json(await kme.status(caller, request.path_params["slave_SAE_ID"]))

    async def enc_keys(request: Request) -> Response:
        if request.method == "HEAD":  # Starlette adds HEAD to GET routes: it must take no key
            return Response(status_code=405, headers={"Allow": "GET, POST"})
        slave_SAE_ID = request.path_params["slave_SAE_ID"]
        caller = kme.caller_sae(request)
        if request.method == "GET":
            query = _query(request, {"number", "size"})
            body: dict[str, Any] = {}
            for name in ("number", "size"):
                value = _query_int(query.get(name), name)
                if value is not None:
                    body[name] = value
        else:
            _query(request, set())
            raw = await _read_body(request, limit)
            body = {} if raw is None else raw
        return _answer(await kme.enc_keys(caller, kme.parse_key_request(body, slave_SAE_ID)))

    async def dec_keys(request: Request) -> Response:
        if request.method == "HEAD":
            return Response(status_code=405, headers={"Allow": "GET, POST"})
        master_SAE_ID = request.path_params["master_SAE_ID"]
        caller = kme.caller_sae(request)
        if request.method == "GET":
            query = _query(request, {"key_ID"})
            if "key_ID" not in query:
                raise StoreError(400, "key_ID query parameter missing")
            ids, request_id = [canonical_key_id(query["key_ID"])], None
        else:
            _query(request, set())
            ids, request_id = kme.parse_key_ids(await _read_body(request, limit))
        return _answer(await kme.dec_keys(caller, master_SAE_ID, ids, request_id))

    async def reserve(request: Request) -> Response:
        kme.caller_is_peer(request)
        return _json(await kme.peer_reserve(await _read_body(request, 16 * 1024 * 1024)))

    async def cancel(request: Request) -> Response:
        kme.caller_is_peer(request)
        return _json(await kme.peer_cancel(await _read_body(request, 1024 * 1024)))

    async def retrieved(request: Request) -> Response:
        kme.caller_is_peer(request)
        return _json(await kme.peer_retrieved(await _read_body(request, 1024 * 1024)))

    async def unused(request: Request) -> Response:
        kme.caller_is_peer(request)
        return _json(await kme.peer_unused(await _read_body(request, 1024 * 1024)))

    app.add_route("/api/v1/keys/{slave_SAE_ID}/status", status, methods=["GET"])
    app.add_route("/api/v1/keys/{slave_SAE_ID}/enc_keys", enc_keys, methods=["GET", "POST"])
    app.add_route("/api/v1/keys/{master_SAE_ID}/dec_keys", dec_keys, methods=["GET", "POST"])
    app.add_route("/kme/v1/reserve", reserve, methods=["POST"])
    app.add_route("/kme/v1/cancel", cancel, methods=["POST"])
    app.add_route("/kme/v1/retrieved", retrieved, methods=["POST"])
    app.add_route("/kme/v1/unused", unused, methods=["POST"])

    return app
