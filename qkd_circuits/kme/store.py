"""A KME's persistent key store: SQLite in WAL mode, one writer thread with group commit.

Tables:

* ``blocks(block, units, active, meta)``: one row per fed QKD block (the block id is
  the same in both sites' stores); ``meta`` is the run's public figures, never key.
* ``units(block, idx, pool, material, state, key_id)``: the block's key cut into units of
  :data:`~qkd_circuits.kme.config.UNIT_BITS` bits. ``pool`` names the site whose SAEs may
  be the *master* of a key made of this unit (even ``idx``: alice, odd: bob). ``state``:
  :data:`INACTIVE` (fed, the peer's copy not yet confirmed), :data:`AVAILABLE`,
  :data:`RESERVED` (part of the key ``key_id``).
* ``keys(key_id, role, master, slaves, size, request)``: a key handed out or awaiting
  retrieval. At the master's KME (``role = 'master'``) a row lives from the reservation
  until the key is handed to the master SAE (a row left by a crash is *pending*, see
  :func:`pending_master`); at the slave's KME (``role = 'slave'``) until every named slave
  SAE has retrieved it (``slaves`` lists the ones still to come). ``request`` (slave rows
  only) is the master SAE's request ID when the key was issued by an idempotent request:
  the first retrieval is then reported to the master's KME (:func:`retrieve_slave`).
* ``spent(key_id, why)``: tombstones: a key ID that was served, cancelled or discarded is
  never accepted again.
* ``requests(request_id, kind, caller, params, response, created)``: the answers of
  idempotent requests (``kind`` ``'enc'`` or ``'dec'``), by the request ID the SAE chose
  (:data:`~qkd_circuits.kme.config.REQUEST_ID_EXTENSION`). ``response`` is the exact JSON
  body that was answered, key material included, so that a retry of the same request by
  the same SAE (``caller``) with the same parameters (``params``, canonical JSON) gets the
  same bytes (:func:`replay`). It is erased (set NULL) at the master's KME as soon as the
  peer reports that a slave SAE retrieved a key of it (:func:`forget_requests`: the slave
  learnt the key ID from the master SAE, so that SAE had the answer), and every row is
  deleted ``request_window_seconds`` after it was written (:func:`expire_requests`).

A key is erased from a store when it is handed out: its units' rows are deleted with
``secure_delete`` on (SQLite overwrites the freed cells), and the WAL is truncated after
checkpoints (``journal_size_limit``). The one exception is the copy an idempotent request
keeps in ``requests.response`` for its retries, bounded as said above. Old WAL frames and
freed disk blocks are out of SQLite's reach: keep the store on an encrypted file system.

Durability: ``synchronous = FULL`` (a commit survives a power cut, not only a killed
process). Every operation of a KME runs on one writer thread; operations that arrive while
a transaction is being committed are run together in the next one (group commit), each in
its own savepoint, so one failing request never undoes another's. A caller gets an
operation's result only once its transaction is committed: a KME answers from durable
state only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from qkd_circuits.errors import ConfigError
from qkd_circuits.kme.config import REQUEST_ID_EXTENSION, SITES, UNIT_BYTES

INACTIVE, AVAILABLE, RESERVED = 2, 0, 1
ENC, DEC = "enc", "dec"
"""The two kinds of idempotent request (``requests.kind``): Get key and Get key with key IDs."""
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks(
    block TEXT PRIMARY KEY, units INTEGER NOT NULL, active INTEGER NOT NULL,
    fed_at REAL NOT NULL, meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units(
    block TEXT NOT NULL, idx INTEGER NOT NULL, pool TEXT NOT NULL, material BLOB NOT NULL,
    state INTEGER NOT NULL, key_id TEXT, PRIMARY KEY(block, idx));
CREATE INDEX IF NOT EXISTS units_available ON units(pool) WHERE state = 0;
CREATE INDEX IF NOT EXISTS units_by_key ON units(key_id) WHERE key_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS keys(
    key_id TEXT PRIMARY KEY, role TEXT NOT NULL, master TEXT NOT NULL, slaves TEXT NOT NULL,
    size INTEGER NOT NULL, created REAL NOT NULL, request TEXT);
CREATE TABLE IF NOT EXISTS spent(key_id TEXT PRIMARY KEY, at REAL NOT NULL, why TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests(
    request_id TEXT PRIMARY KEY, kind TEXT NOT NULL, caller TEXT NOT NULL, params TEXT NOT NULL,
    response BLOB, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS requests_created ON requests(created);
"""


class StoreError(Exception):
    """A request the store refuses; ``status`` is the HTTP status the KME answers with."""

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) a store with the KME's pragmas; the file gets mode 0600."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"directory {str(path.parent)!r} of the key store does not exist")
    if not path.exists():
        path.touch(mode=0o600)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA journal_size_limit=1048576")
    conn.executescript(SCHEMA)
    _add_column(conn, "keys", "request", "TEXT")  # stores made before idempotent requests
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(0o600)
    return conn


def _add_column(conn: sqlite3.Connection, table: str, column: str, decl: str) -> None:
    if column in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
        return
    try:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
    except sqlite3.OperationalError:  # another process added it first
        if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            raise


def pool_of(idx: int) -> str:
    """The site whose SAEs may be the master of a key made of unit ``idx`` of a block."""
    return SITES[idx % 2]


# -- feeding (the QKD device side) ------------------------------------------------------


def add_block(
    conn: sqlite3.Connection,
    block: str,
    key: bytes,
    *,
    meta: dict[str, Any],
    pools: Sequence[str] = SITES,
    max_units: int | None = None,
) -> int:
    """Store ``key`` (whole units only; the tail is dropped) as block ``block``, inactive.

    Units whose :func:`pool_of` is not in ``pools`` are dropped too (a one-way link).
    Returns the number of units stored. Call :func:`activate_block` once the peer's store
    holds the same block.
    """
    n = len(key) // UNIT_BYTES
    rows = [
        (block, i, pool_of(i), key[i * UNIT_BYTES : (i + 1) * UNIT_BYTES], INACTIVE)
        for i in range(n)
        if pool_of(i) in pools
    ]
    conn.execute("BEGIN IMMEDIATE")
    try:
        if max_units is not None:
            (stored,) = conn.execute("SELECT count(*) FROM units").fetchone()
            if stored + len(rows) > max_units:
                raise ConfigError(
                    f"the store holds {stored:,} units; {len(rows):,} more would pass "
                    f"max_key_count ({max_units:,})"
                )
        conn.execute(
            "INSERT INTO blocks(block, units, active, fed_at, meta) VALUES (?, ?, 0, ?, ?)",
            (block, len(rows), time.time(), json.dumps(meta)),
        )
        conn.executemany(
            "INSERT INTO units(block, idx, pool, material, state) VALUES (?, ?, ?, ?, ?)", rows
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(rows)


def activate_block(conn: sqlite3.Connection, block: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "UPDATE units SET state = ? WHERE block = ? AND state = ?", (AVAILABLE, block, INACTIVE)
    )
    conn.execute("UPDATE blocks SET active = 1 WHERE block = ?", (block,))
    conn.execute("COMMIT")


# -- operations (run inside the writer's transaction) ----------------------------------


@dataclass(frozen=True, slots=True)
class Reservation:
    key_id: str
    units: list[tuple[str, int]]
    size: int


def available_units(conn: sqlite3.Connection, pool: str) -> int:
    (n,) = conn.execute(
        "SELECT count(*) FROM units WHERE pool = ? AND state = 0", (pool,)
    ).fetchone()
    return int(n)


def reserve_master(
    conn: sqlite3.Connection,
    *,
    pool: str,
    key_ids: Sequence[str],
    units_per_key: int,
    size: int,
    master: str,
    slaves: Sequence[str],
) -> list[Reservation]:
    """Reserve ``units_per_key`` available units of ``pool`` for each key ID (oldest first).

    Raises:
        StoreError(503): not enough keys; nothing is reserved.
    """
    need = len(key_ids) * units_per_key
    # state = 0 literally, not a parameter: only then does SQLite use the partial index
    # as is (4x faster, measured)
    rows = conn.execute(
        "SELECT rowid, block, idx FROM units WHERE pool = ? AND state = 0 ORDER BY rowid LIMIT ?",
        (pool, need),
    ).fetchall()
    if len(rows) < need:
        raise StoreError(
            503,
            "not enough key material: the KME holds fewer keys than requested",
            [
                {
                    "requested_bits": need * UNIT_BYTES * 8,
                    "available_bits": len(rows) * UNIT_BYTES * 8,
                }
            ],
        )
    now = time.time()
    out = []
    for k, key_id in enumerate(key_ids):
        mine = rows[k * units_per_key : (k + 1) * units_per_key]
        conn.executemany(
            "UPDATE units SET state = ?, key_id = ? WHERE rowid = ?",
            [(RESERVED, key_id, r[0]) for r in mine],
        )
        out.append(Reservation(key_id, [(r[1], r[2]) for r in mine], size))
    conn.executemany(
        "INSERT INTO keys(key_id, role, master, slaves, size, created) "
        "VALUES (?, 'master', ?, ?, ?, ?)",
        [(key_id, master, json.dumps(list(slaves)), size, now) for key_id in key_ids],
    )
    return out


def _material(conn: sqlite3.Connection, key_id: str, size: int) -> bytes:
    rows = conn.execute(
        "SELECT material FROM units WHERE key_id = ? ORDER BY block, idx", (key_id,)
    ).fetchall()
    data = b"".join(r[0] for r in rows)
    if len(data) * 8 < size:
        raise StoreError(503, f"key {key_id} is incomplete in this store")
    return data[: size // 8]


def _erase(conn: sqlite3.Connection, key_ids: Sequence[str], why: str) -> None:
    now = time.time()
    conn.executemany("DELETE FROM units WHERE key_id = ?", [(k,) for k in key_ids])
    conn.executemany("DELETE FROM keys WHERE key_id = ?", [(k,) for k in key_ids])
    conn.executemany(
        "INSERT OR IGNORE INTO spent(key_id, at, why) VALUES (?, ?, ?)",
        [(k, now, why) for k in key_ids],
    )


def deliver_master(conn: sqlite3.Connection, reservations: Sequence[Reservation]) -> list[bytes]:
    """The keys' material, erased from this store in the same transaction."""
    out = [_material(conn, r.key_id, r.size) for r in reservations]
    _erase(conn, [r.key_id for r in reservations], "delivered to master")
    return out


def release_master(conn: sqlite3.Connection, key_ids: Sequence[str]) -> None:
    """Put a pending reservation's units back (the peer confirmed it holds no binding)."""
    conn.executemany(
        "UPDATE units SET state = ?, key_id = NULL WHERE key_id = ?",
        [(AVAILABLE, k) for k in key_ids],
    )
    conn.executemany("DELETE FROM keys WHERE key_id = ?", [(k,) for k in key_ids])
    now = time.time()
    conn.executemany(
        "INSERT OR IGNORE INTO spent(key_id, at, why) VALUES (?, ?, 'cancelled')",
        [(k, now) for k in key_ids],
    )


def discard_master(conn: sqlite3.Connection, key_ids: Sequence[str]) -> None:
    """Erase a reservation the peer refused: its units are never used again."""
    _erase(conn, key_ids, "discarded")


def pending_master(conn: sqlite3.Connection) -> list[str]:
    """Master reservations not handed out: left by a crash or an unreachable peer."""
    return [r[0] for r in conn.execute("SELECT key_id FROM keys WHERE role = 'master'")]


def pending_among(conn: sqlite3.Connection, key_ids: Sequence[str]) -> list[str]:
    """Those of ``key_ids`` that are master reservations not handed out."""
    if not key_ids:
        return []
    marks = ",".join("?" * len(key_ids))
    return [
        r[0]
        for r in conn.execute(
            f"SELECT key_id FROM keys WHERE role = 'master' AND key_id IN ({marks})",
            list(key_ids),
        )
    ]


def bind_slave(
    conn: sqlite3.Connection,
    items: Sequence[dict[str, Any]],
    *,
    pool: str,
) -> list[str | None]:
    """Record the peer master KME's reservations; per item None (stored) or why not.

    An item's optional ``master_request_ID`` (the master SAE's request ID) is kept so that
    the first retrieval of the key can be reported to the master's KME.
    """
    out: list[str | None] = []
    now = time.time()
    for item in items:
        key_id = item["key_ID"]
        units = [(str(b), int(i)) for b, i in item["units"]]
        conn.execute("SAVEPOINT bind")
        try:
            if conn.execute("SELECT 1 FROM spent WHERE key_id = ?", (key_id,)).fetchone() or (
                conn.execute("SELECT 1 FROM keys WHERE key_id = ?", (key_id,)).fetchone()
            ):
                raise StoreError(400, "key ID already used")
            for block, idx in units:
                row = conn.execute(
                    "SELECT pool, state FROM units WHERE block = ? AND idx = ?", (block, idx)
                ).fetchone()
                if row is None:
                    raise StoreError(400, f"unit {block}/{idx} is not in this store")
                if row[0] != pool or row[1] == RESERVED:
                    raise StoreError(400, f"unit {block}/{idx} is not free in pool {pool}")
                conn.execute(
                    "UPDATE units SET state = ?, key_id = ? WHERE block = ? AND idx = ?",
                    (RESERVED, key_id, block, idx),
                )
            conn.execute(
                "INSERT INTO keys(key_id, role, master, slaves, size, created, request) "
                "VALUES (?, 'slave', ?, ?, ?, ?, ?)",
                (
                    key_id,
                    item["master_SAE_ID"],
                    json.dumps(item["slave_SAE_IDs"]),
                    item["size"],
                    now,
                    item.get("master_request_ID"),
                ),
            )
            conn.execute("RELEASE bind")
            out.append(None)
        except StoreError as exc:
            conn.execute("ROLLBACK TO bind")
            conn.execute("RELEASE bind")
            out.append(exc.message)
    return out


def cancel_slave(conn: sqlite3.Connection, key_ids: Sequence[str]) -> None:
    """Drop bindings the master KME cancelled (their keys never reached the master SAE):
    the units become available again, the key IDs are tombstoned."""
    for key_id in key_ids:
        row = conn.execute("SELECT role FROM keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is not None and row[0] == "slave":
            conn.execute(
                "UPDATE units SET state = ?, key_id = NULL WHERE key_id = ?", (AVAILABLE, key_id)
            )
            conn.execute("DELETE FROM keys WHERE key_id = ?", (key_id,))
    now = time.time()
    conn.executemany(
        "INSERT OR IGNORE INTO spent(key_id, at, why) VALUES (?, ?, 'cancelled')",
        [(k, now) for k in key_ids],
    )


def expire_slave(conn: sqlite3.Connection, older_than: float) -> int:
    """Erase slave bindings created before ``older_than`` (Unix time) and never fully
    retrieved (e.g. a key whose answer to its master SAE was cut by a crash); their IDs
    are tombstoned. Returns how many."""
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT key_id FROM keys WHERE role = 'slave' AND created < ?", (older_than,)
        )
    ]
    _erase(conn, ids, "expired")
    return len(ids)


@dataclass(frozen=True, slots=True)
class Retrieved:
    """Keys handed to a slave SAE: their material (in the order asked), and the master
    SAEs' request IDs of which a key was retrieved for the first time (to report to the
    master's KME, :func:`forget_requests`)."""

    material: list[bytes]
    notify: list[str]


def retrieve_slave(
    conn: sqlite3.Connection, *, caller: str, master: str, key_ids: Sequence[str]
) -> Retrieved:
    """Hand the keys to slave SAE ``caller``, all or none; erase each one whose every named
    slave has now retrieved it.

    Raises:
        StoreError(400): unknown, already retrieved or another master's key ID.
        StoreError(401): a key not issued to ``caller``.
    """
    found = []
    for key_id in key_ids:
        row = conn.execute(
            "SELECT master, slaves, size, request FROM keys WHERE key_id = ? AND role = 'slave'",
            (key_id,),
        ).fetchone()
        if row is None:
            spent = conn.execute("SELECT why FROM spent WHERE key_id = ?", (key_id,)).fetchone()
            if spent is not None:
                raise StoreError(
                    400, "key_ID has already been retrieved or cancelled", [{"key_ID": key_id}]
                )
            raise StoreError(400, "key_ID not found", [{"key_ID": key_id}])
        key_master, slaves_json, size, request = row
        slaves = json.loads(slaves_json)
        if caller not in slaves:
            raise StoreError(
                401,
                "key_ID was not issued to this SAE, or it has already retrieved it",
                [{"key_ID": key_id}],
            )
        if key_master != master:
            raise StoreError(
                400, "key_ID was not issued by this master_SAE_ID", [{"key_ID": key_id}]
            )
        found.append((key_id, slaves, size, request))
    out = []
    done = []
    notify: dict[str, None] = {}
    for key_id, slaves, size, request in found:
        out.append(_material(conn, key_id, size))
        if request is not None:
            notify[request] = None
        left = [s for s in slaves if s != caller]
        if left:
            conn.execute(
                "UPDATE keys SET slaves = ?, request = NULL WHERE key_id = ?",
                (json.dumps(left), key_id),
            )
        else:
            done.append(key_id)
    _erase(conn, done, "delivered to slave")
    return Retrieved(out, list(notify))


# -- idempotent requests (the ``requests`` table) ----------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestKey:
    """What an idempotent request is: the SAE's request ID, its kind (:data:`ENC` or
    :data:`DEC`), the calling SAE (its certificate's CN) and its effective parameters as
    canonical JSON (:func:`request_params`). A retry matches only if all four do.
    ``window_seconds``: how long a recorded answer may be repeated (None: until
    :func:`expire_requests` deletes it)."""

    request_id: str
    kind: str
    caller: str
    params: str
    window_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in (ENC, DEC):
            raise ConfigError(f"request kind must be {ENC!r} or {DEC!r}, got {self.kind!r}")


def request_params(**params: Any) -> str:
    """Canonical JSON of a request's effective parameters (defaults filled in)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def key_container(
    key_ids: Sequence[str], material: Sequence[bytes], request_id: str | None = None
) -> bytes:
    """The ETSI Key container answered (JSON bytes); an idempotent request's ID is echoed
    in ``key_container_extension`` so the SAE can tell that this KME honoured it."""
    body: dict[str, Any] = {
        "keys": [
            {"key_ID": k, "key": base64.b64encode(m).decode()}
            for k, m in zip(key_ids, material, strict=True)
        ]
    }
    if request_id is not None:
        body["key_container_extension"] = {REQUEST_ID_EXTENSION: request_id}
    return json.dumps(body).encode()


def replay(conn: sqlite3.Connection, request: RequestKey) -> bytes | None:
    """The recorded answer of ``request`` (None: no such request ID yet). An answer
    recorded longer ago than ``request.window_seconds`` is not repeated (400), even if
    :func:`expire_requests` has not deleted it yet.

    Raises:
        StoreError(401): the request ID is another SAE's.
        StoreError(400): the same SAE used it for another kind of request or other
            parameters, or its keys have already been retrieved by the slave SAE (the
            master SAE had the answer then) and are no longer held here.
    """
    row = conn.execute(
        "SELECT kind, caller, params, response, created FROM requests WHERE request_id = ?",
        (request.request_id,),
    ).fetchone()
    if row is None:
        return None
    detail = [{REQUEST_ID_EXTENSION: request.request_id}]
    kind, caller, params, response, created = row
    if caller != request.caller:
        raise StoreError(401, f"{REQUEST_ID_EXTENSION} belongs to another SAE's request", detail)
    if kind != request.kind or params != request.params:
        raise StoreError(
            400,
            f"{REQUEST_ID_EXTENSION} was already used for a request with other parameters",
            detail,
        )
    window = request.window_seconds
    if window is not None and time.time() - created > window:
        raise StoreError(
            400, f"this {REQUEST_ID_EXTENSION} is older than the request window", detail
        )
    if response is None:
        raise StoreError(
            400,
            f"the keys of this {REQUEST_ID_EXTENSION} have been retrieved by a slave SAE, so "
            "its answer was received; they are not served again",
            detail,
        )
    return bytes(response)


def _record(conn: sqlite3.Connection, request: RequestKey, body: bytes) -> None:
    conn.execute(
        "INSERT INTO requests(request_id, kind, caller, params, response, created) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (request.request_id, request.kind, request.caller, request.params, body, time.time()),
    )


def reserve_master_once(
    conn: sqlite3.Connection, request: RequestKey, **reserve: Any
) -> tuple[bytes | None, list[Reservation]]:
    """``(answer, [])`` if ``request`` was answered before, else ``(None, reservations)``
    (:func:`reserve_master` with ``reserve``'s arguments)."""
    body = replay(conn, request)
    if body is not None:
        return body, []
    return None, reserve_master(conn, **reserve)


def deliver_master_once(
    conn: sqlite3.Connection, request: RequestKey, reservations: Sequence[Reservation]
) -> tuple[bytes, bool]:
    """Issue the reserved keys to the master SAE under ``request``, in one transaction:
    their units erased, the answer recorded. Returns ``(answer, replayed)``: ``replayed``
    when ``request`` had been answered meanwhile (the reservations are then untouched, and
    the caller cancels them)."""
    body = replay(conn, request)
    if body is not None:
        return body, True
    material = deliver_master(conn, reservations)
    body = key_container([r.key_id for r in reservations], material, request.request_id)
    _record(conn, request, body)
    return body, False


def retrieve_slave_once(
    conn: sqlite3.Connection, request: RequestKey, *, master: str, key_ids: Sequence[str]
) -> tuple[bytes, list[str]]:
    """:func:`retrieve_slave` under ``request``: the keys erased and the answer recorded in
    one transaction, or the recorded answer of an earlier try. Returns the answer and the
    master request IDs to report (none for a replay)."""
    body = replay(conn, request)
    if body is not None:
        return body, []
    got = retrieve_slave(conn, caller=request.caller, master=master, key_ids=key_ids)
    body = key_container(key_ids, got.material, request.request_id)
    _record(conn, request, body)
    return body, got.notify


def unused_at_slave(conn: sqlite3.Connection, request_id: str, key_ids: Sequence[str]) -> bool:
    """Whether every one of ``key_ids`` is still bound here, at the slave SAEs' KME, to
    the Get key request ``request_id`` and untouched by any slave SAE (a retrieval erases
    the key, or clears its request once one of several slaves has it). The master's KME
    asks this before it repeats a kept answer: a key a slave has used is never re-served,
    even when the report of its retrieval was lost."""
    for key_id in key_ids:
        row = conn.execute(
            "SELECT 1 FROM keys WHERE key_id = ? AND role = 'slave' AND request = ?",
            (key_id, request_id),
        ).fetchone()
        if row is None:
            return False
    return True


def forget_requests(conn: sqlite3.Connection, request_ids: Sequence[str]) -> int:
    """Erase the kept answers of these Get key requests (a slave SAE retrieved one of their
    keys); their rows stay, so a late retry is refused, until :func:`expire_requests`."""
    n = 0
    for request_id in request_ids:
        n += conn.execute(
            "UPDATE requests SET response = NULL "
            "WHERE request_id = ? AND kind = 'enc' AND response IS NOT NULL",
            (request_id,),
        ).rowcount
    return n


def expire_requests(conn: sqlite3.Connection, older_than: float) -> int:
    """Delete the request rows written before ``older_than`` (Unix time), kept answers
    included; returns how many."""
    return conn.execute("DELETE FROM requests WHERE created < ?", (older_than,)).rowcount


def counts(conn: sqlite3.Connection) -> dict[str, Any]:
    """Public bookkeeping of a store (no key material): units per pool and state, keys,
    tombstones, blocks, idempotent-request rows and how many of them still keep an answer."""
    units = {
        f"{pool}:{state}": n
        for pool, state, n in conn.execute(
            "SELECT pool, state, count(*) FROM units GROUP BY pool, state"
        )
    }
    keys = {role: n for role, n in conn.execute("SELECT role, count(*) FROM keys GROUP BY role")}
    (spent,) = conn.execute("SELECT count(*) FROM spent").fetchone()
    (blocks,) = conn.execute("SELECT count(*) FROM blocks").fetchone()
    requests, kept = conn.execute("SELECT count(*), count(response) FROM requests").fetchone()
    return {
        "units": units,
        "keys": keys,
        "spent": int(spent),
        "blocks": int(blocks),
        "requests": int(requests),
        "kept_answers": int(kept),
    }


# -- the writer thread --------------------------------------------------------------------


class GroupCommitStore:
    """Runs store operations on one thread, many per transaction (group commit).

    ``await store.run(fn, *args)`` runs ``fn(conn, *args)`` in a savepoint of the next
    transaction and returns its result once that transaction is committed (so a caller
    only ever acts on durable state).
    """

    MAX_BATCH = 256

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.conn: sqlite3.Connection | None = None
        self.batches = 0
        self.ops = 0

    def start(self) -> None:
        self.conn = connect(self.path)
        self._thread = threading.Thread(target=self._loop, name="kme-store", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, args, kwargs, future, loop))
        return await future

    def _loop(self) -> None:
        conn = self.conn
        assert conn is not None
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            results: list[tuple[Any, Any, BaseException | None]] = []
            try:
                conn.execute("BEGIN IMMEDIATE")
                alone = len(batch) == 1  # no savepoint needed: the transaction is the op's
                for fn, args, kwargs, future, _ in batch:
                    if not alone:
                        conn.execute("SAVEPOINT op")
                    try:
                        value = fn(conn, *args, **kwargs)
                        if not alone:
                            conn.execute("RELEASE op")
                        results.append((future, value, None))
                    except Exception as exc:
                        conn.execute("ROLLBACK" if alone else "ROLLBACK TO op")
                        if alone:
                            conn.execute("BEGIN IMMEDIATE")
                        else:
                            conn.execute("RELEASE op")
                        results.append((future, None, exc))
                conn.execute("COMMIT")
            except Exception as exc:  # the commit itself failed: nothing of the batch holds
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                results = [(item[3], None, exc) for item in batch]
            self.batches += 1
            self.ops += len(batch)
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, Any]]] = {}
            for result, item in zip(results, batch, strict=True):
                by_loop.setdefault(item[4], []).append(result)
            for loop, settled in by_loop.items():  # one wake-up per loop and transaction
                loop.call_soon_threadsafe(_settle, settled)


def _settle(results: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in results:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
