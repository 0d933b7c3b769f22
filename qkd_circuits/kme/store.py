"""A KME's persistent key store: SQLite in WAL mode, one writer thread with group commit.

Tables:

* ``blocks(block, units, active, meta)``: one row per fed QKD block (the block id is
  the same in both sites' stores); ``meta`` is the run's public figures, never key.
* ``units(block, idx, pool, material, state, key_id)``: the block's key cut into units of
  :data:`~qkd_circuits.kme.config.UNIT_BITS` bits. ``pool`` names the site whose SAEs may
  be the *master* of a key made of this unit (even ``idx``: alice, odd: bob). ``state``:
  :data:`INACTIVE` (fed, the peer's copy not yet confirmed), :data:`AVAILABLE`,
  :data:`RESERVED` (part of the key ``key_id``).
* ``keys(key_id, role, master, slaves, size)``: a key handed out or awaiting retrieval.
  At the master's KME (``role = 'master'``) a row lives from the reservation until the key
  is handed to the master SAE (a row left by a crash is *pending*, see
  :func:`pending_master`); at the slave's KME (``role = 'slave'``) until every named slave
  SAE has retrieved it (``slaves`` lists the ones still to come).
* ``spent(key_id, why)``: tombstones: a key ID that was served, cancelled or discarded is
  never accepted again.

A key is erased from a store when it is handed out: its units' rows are deleted with
``secure_delete`` on (SQLite overwrites the freed cells), and the WAL is truncated after
checkpoints (``journal_size_limit``). Old WAL frames and freed disk blocks are out of
SQLite's reach: keep the store on an encrypted file system.

Durability: ``synchronous = FULL`` (a commit survives a power cut, not only a killed
process). Every operation of a KME runs on one writer thread; operations that arrive while
a transaction is being committed are run together in the next one (group commit), each in
its own savepoint, so one failing request never undoes another's.
"""

from __future__ import annotations

import asyncio
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
from qkd_circuits.kme.config import SITES, UNIT_BYTES

INACTIVE, AVAILABLE, RESERVED = 2, 0, 1
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
    size INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS spent(key_id TEXT PRIMARY KEY, at REAL NOT NULL, why TEXT NOT NULL);
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
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(0o600)
    return conn


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


def bind_slave(
    conn: sqlite3.Connection,
    items: Sequence[dict[str, Any]],
    *,
    pool: str,
) -> list[str | None]:
    """Record the peer master KME's reservations; per item None (stored) or why not."""
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
                "INSERT INTO keys(key_id, role, master, slaves, size, created) "
                "VALUES (?, 'slave', ?, ?, ?, ?)",
                (
                    key_id,
                    item["master_SAE_ID"],
                    json.dumps(item["slave_SAE_IDs"]),
                    item["size"],
                    now,
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


def retrieve_slave(
    conn: sqlite3.Connection, *, caller: str, master: str, key_ids: Sequence[str]
) -> list[bytes]:
    """Hand the keys to slave SAE ``caller``, all or none; erase each one whose every named
    slave has now retrieved it.

    Raises:
        StoreError(400): unknown, already retrieved or another master's key ID.
        StoreError(401): a key not issued to ``caller``.
    """
    found = []
    for key_id in key_ids:
        row = conn.execute(
            "SELECT master, slaves, size FROM keys WHERE key_id = ? AND role = 'slave'", (key_id,)
        ).fetchone()
        if row is None:
            spent = conn.execute("SELECT why FROM spent WHERE key_id = ?", (key_id,)).fetchone()
            if spent is not None:
                raise StoreError(
                    400, "key_ID has already been retrieved or cancelled", [{"key_ID": key_id}]
                )
            raise StoreError(400, "key_ID not found", [{"key_ID": key_id}])
        key_master, slaves_json, size = row
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
        found.append((key_id, slaves, size))
    out = []
    done = []
    for key_id, slaves, size in found:
        out.append(_material(conn, key_id, size))
        left = [s for s in slaves if s != caller]
        if left:
            conn.execute("UPDATE keys SET slaves = ? WHERE key_id = ?", (json.dumps(left), key_id))
        else:
            done.append(key_id)
    _erase(conn, done, "delivered to slave")
    return out


def counts(conn: sqlite3.Connection) -> dict[str, Any]:
    """Public bookkeeping of a store (no key material): units per pool and state, keys."""
    units = {
        f"{pool}:{state}": n
        for pool, state, n in conn.execute(
            "SELECT pool, state, count(*) FROM units GROUP BY pool, state"
        )
    }
    keys = {role: n for role, n in conn.execute("SELECT role, count(*) FROM keys GROUP BY role")}
    (spent,) = conn.execute("SELECT count(*) FROM spent").fetchone()
    (blocks,) = conn.execute("SELECT count(*) FROM blocks").fetchone()
    return {"units": units, "keys": keys, "spent": int(spent), "blocks": int(blocks)}


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
