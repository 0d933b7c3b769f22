"""SIGKILL each KME several times while SAEs at both sites ask for keys as masters and
fetch them as slaves; restart it each time.

Each kill comes after a random pause, at the next answer the KME commits (seen in its
store, which other processes may read): the moment when an answer that is durable at
the KME is still on its way to the SAE, and at-most-once delivery loses it.

SAEs that name their requests (``qkdc_request_id``, the client's default) repeat a request
whose answer was lost, under the same ID. Afterwards every key the feed put in the stores
is accounted for: delivered to exactly one master under one key ID and fetched by its
slave once, or still available in both stores; no key material ever came back under two
key IDs; a repeated request got the original answer, also across the kills. Plain
requests (from their own master SAEs, ``*-plain``) are at most once: a key whose answer
was lost stays bound at the slave's KME and is never served, and there are at most as
many such keys as plain requests cut short.
"""

from __future__ import annotations

import base64
import queue
import sqlite3
import threading
import time
import uuid
from collections import Counter
from typing import Any

import numpy as np
import pytest

from qkd_circuits.kme.client import KMEError, KMEUnreachable, RetryPolicy
from qkd_circuits.kme.config import UNIT_BYTES
from qkd_circuits.kme.store import AVAILABLE, RESERVED, connect

pytestmark = pytest.mark.slow
SEED = 20261215
KILLS = ("alice", "bob", "alice", "bob")
FED = 3000  # units per pool
SAES = {"alice": ["sae-alice", "sae-alice-plain"], "bob": ["sae-bob", "sae-bob-plain"]}
SLAVE = {"alice": ("sae-bob", "bob"), "bob": ("sae-alice", "alice")}
"""Master's site: the slave SAE of its keys, and the slave's site."""
RETRY = RetryPolicy(seconds=20.0, first_delay=0.05, max_delay=0.5)


class Ledger:
    """What the SAEs received, shared by the worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.enc: dict[str, tuple[str, list[dict[str, str]]]] = {}  # request ID: (site, keys)
        self.plain: list[tuple[str, dict[str, str]]] = []  # (site, key)
        self.plain_cut_short = 0
        self.dec: dict[str, list[dict[str, str]]] = {}  # request ID: keys
        self.held: list[tuple[str, str, int, int]] = []  # kept back for repeats at the end
        self.repeats_equal = 0
        self.refused = 0
        self.retries = 0
        self.errors: list[str] = []
        # by the slave's site: (master SAE, keys) to fetch
        self.to_fetch: dict[str, queue.Queue[tuple[str, list[dict[str, str]]]]] = {
            site: queue.Queue() for site in SLAVE
        }


def _master(pair, site: str, idempotent: bool, ledger: Ledger, stop: threading.Event, rng):
    master = f"sae-{site}" if idempotent else f"sae-{site}-plain"
    slave = SLAVE[site][0]
    pending: tuple[str, int, int] | None = None
    with pair.client(master, timeout=5, retry=RETRY) as client:
        while not stop.is_set() or pending is not None:
            try:
                if not idempotent:
                    (key,) = client.get_key(slave, idempotent=False)
                    with ledger.lock:
                        ledger.plain.append((site, key))
                    ledger.to_fetch[SLAVE[site][1]].put((master, [key]))
                    continue
                if pending is None:
                    pending = (
                        str(uuid.uuid4()),
                        int(rng.integers(1, 3)),
                        256 * int(rng.integers(1, 3)),
                    )
                request_id, number, size = pending
                keys = client.get_key(slave, number=number, size=size, request_id=request_id)
                if rng.random() < 0.2:  # a repeat right away is the same answer
                    again = client.get_key(slave, number=number, size=size, request_id=request_id)
                    with ledger.lock:
                        ledger.repeats_equal += again == keys
                        if again != keys:
                            ledger.errors.append(f"repeat of {request_id} differs")
                with ledger.lock:
                    ledger.enc[request_id] = (site, keys)
                    if rng.random() < 0.15 and not stop.is_set():
                        ledger.held.append((site, request_id, number, size))
                    else:
                        ledger.to_fetch[SLAVE[site][1]].put((master, keys))
                pending = None
            except KMEUnreachable as exc:  # the KME is down: a named request is kept
                if not idempotent and exc.sent:
                    with ledger.lock:
                        ledger.plain_cut_short += 1
                time.sleep(0.05)
            except KMEError as exc:
                # 503 (the peer KME is down, or no key left): nothing was handed out, and no
                # other try of the request can be running, so the request is over
                if exc.status != 503:
                    with ledger.lock:
                        ledger.errors.append(f"{master} enc_keys: {exc}")
                    return
                with ledger.lock:
                    ledger.refused += 1
                pending = None
                time.sleep(0.05)
        with ledger.lock:
            ledger.retries += client.retries


def _slave(pair, site: str, ledger: Ledger, done: threading.Event) -> None:
    """Fetch, under request IDs, the keys whose slave is at ``site``."""
    slave = f"sae-{site}"
    with pair.client(slave, timeout=5, retry=RETRY) as client:
        while True:
            try:
                master, keys = ledger.to_fetch[site].get(timeout=0.05)
            except queue.Empty:
                if done.is_set():
                    break
                continue
            request_id = str(uuid.uuid4())
            ids = [k["key_ID"] for k in keys]
            while True:
                try:
                    got = client.get_key_with_ids(master, ids, request_id=request_id)
                    break
                except KMEUnreachable:
                    time.sleep(0.05)
                except KMEError as exc:
                    with ledger.lock:
                        ledger.errors.append(f"{slave} dec_keys: {exc}")
                    return
            with ledger.lock:
                ledger.dec[request_id] = got
                if got != keys:
                    ledger.errors.append(f"slave's keys differ for {ids}")
        with ledger.lock:
            ledger.retries += client.retries


def _kill_at_a_commit(pair, site: str, rng) -> None:
    """After a random pause, SIGKILL ``site``'s KME at its next committed answer."""
    time.sleep(float(rng.uniform(0.2, 0.5)))
    path = pair.config.site(site).store_path
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (last,) = conn.execute("SELECT max(rowid) FROM requests").fetchone()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            (now,) = conn.execute("SELECT max(rowid) FROM requests").fetchone()
            if now != last:
                break
            time.sleep(0.0005)
    finally:
        conn.close()
    pair.kill(site)


def _join(threads: list[threading.Thread], seconds: float = 40.0) -> None:
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))


def _stores(pair) -> dict[str, dict[str, Any]]:
    out = {}
    for site in ("alice", "bob"):
        conn = connect(pair.config.site(site).store_path)
        try:
            out[site] = {
                "units": {
                    (b, i): (pool, bytes(m), state, key_id)
                    for b, i, pool, m, state, key_id in conn.execute(
                        "SELECT block, idx, pool, material, state, key_id FROM units"
                    )
                },
                "keys": {
                    k: (role, master, request)
                    for k, role, master, request in conn.execute(
                        "SELECT key_id, role, master, request FROM keys"
                    )
                },
                "spent": dict(conn.execute("SELECT key_id, why FROM spent")),
            }
        finally:
            conn.close()
    return out


def test_sigkills_of_both_kmes_lose_no_named_request_and_serve_no_key_twice(
    pair_with_saes,
) -> None:
    pair = pair_with_saes(SAES)
    rng = np.random.default_rng(SEED)
    pair.feed(FED)
    fed = _stores(pair)
    assert fed["alice"]["units"] == fed["bob"]["units"]
    unit_of = {m: (b, i, pool) for (b, i), (pool, m, _, _) in fed["alice"]["units"].items()}
    assert len(unit_of) == 2 * FED  # every unit's material is distinct

    ledger = Ledger()
    stop, done = threading.Event(), threading.Event()
    roles = [(s, True) for s in SLAVE for _ in range(3)] + [(s, False) for s in SLAVE]
    masters = [
        threading.Thread(
            target=_master,
            args=(pair, site, named, ledger, stop, np.random.default_rng([SEED, n])),
            daemon=True,
        )
        for n, (site, named) in enumerate(roles)
    ]
    slaves = [
        threading.Thread(target=_slave, args=(pair, site, ledger, done), daemon=True)
        for site in SLAVE
    ]
    for t in masters + slaves:
        t.start()
    try:
        for site in KILLS:
            _kill_at_a_commit(pair, site, rng)
            time.sleep(float(rng.uniform(0.0, 0.2)))
            pair.start(site)
        time.sleep(0.3)
    finally:
        stop.set()
        _join(masters)
    assert not any(t.is_alive() for t in masters)
    # the requests kept back are repeated after all the kills: the original answers
    with pair.client("sae-alice") as a, pair.client("sae-bob") as b:
        for site, request_id, number, size in ledger.held:
            client, slave = (a, "sae-bob") if site == "alice" else (b, "sae-alice")
            keys = client.get_key(slave, number=number, size=size, request_id=request_id)
            assert keys == ledger.enc[request_id][1], "a repeat got other keys"
            ledger.to_fetch[SLAVE[site][1]].put((f"sae-{site}", keys))
    done.set()
    _join(slaves)
    assert not any(t.is_alive() for t in slaves)
    print(
        f"{len(ledger.enc)} named and {len(ledger.plain)} plain Get key requests served, "
        f"{len(ledger.dec)} Get key with key IDs; {ledger.retries} repeats after connection "
        "failures, "
        f"{ledger.plain_cut_short} plain requests cut short, {ledger.refused} refused (503)"
    )
    assert not ledger.errors, ledger.errors[:5]
    assert ledger.retries > 0, "the kills should have cut requests short"
    assert ledger.held and ledger.repeats_equal > 0

    # the restarted KMEs release what was reserved and never handed out
    def settled() -> bool:
        now = _stores(pair)
        return not any(k[0] == "master" for s in now.values() for k in s["keys"].values())

    deadline = time.monotonic() + 20
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.1)
    end = _stores(pair)

    # every key the SAEs received: its units, under one key ID, for one request
    issued: dict[str, tuple[str, bytes]] = {}  # key ID: (master's site, material)
    for site, keys in ledger.enc.values():
        for k in keys:
            assert k["key_ID"] not in issued, "a key ID came back for two requests"
            issued[k["key_ID"]] = (site, base64.b64decode(k["key"]))
    for site, k in ledger.plain:
        assert k["key_ID"] not in issued
        issued[k["key_ID"]] = (site, base64.b64decode(k["key"]))
    delivered_units: dict[tuple[str, int], str] = {}
    for key_id, (site, material) in issued.items():
        for at in range(0, len(material), UNIT_BYTES):
            block, idx, pool = unit_of[material[at : at + UNIT_BYTES]]
            assert pool == site, "a key made of the other site's pool"
            assert (block, idx) not in delivered_units, "key material under two key IDs"
            delivered_units[(block, idx)] = key_id
    # ... each fetched by its slave once, equal to the master's
    fetched = Counter(k["key_ID"] for keys in ledger.dec.values() for k in keys)
    assert set(fetched) == set(issued) and set(fetched.values()) == {1}

    # every fed unit: delivered (and erased in both stores), still available in both,
    # or the key of a plain request whose answer was lost (bound at the slave's KME)
    lost_plain: set[str] = set()
    for unit, (pool, material, _, _) in fed["alice"]["units"].items():
        here = {site: end[site]["units"].get(unit) for site in ("alice", "bob")}
        if unit in delivered_units:
            assert here == {"alice": None, "bob": None}, "a delivered key is still stored"
            continue
        if here["alice"] is not None and here["alice"][2] == AVAILABLE:
            assert here["bob"] is not None and here["bob"][2] == AVAILABLE
            assert here["alice"][1] == here["bob"][1] == material
            continue
        slave_site = SLAVE[pool][1]
        assert here[pool] is None, f"unit {unit} neither available nor handed out"
        bound = here[slave_site]
        assert bound is not None and bound[2] == RESERVED, f"unit {unit} lost"
        role, master, request = end[slave_site]["keys"][bound[3]]
        assert role == "slave" and master == f"sae-{pool}-plain" and request is None, (
            f"the key {bound[3]} of {master}'s named request was lost"
        )
        assert end[pool]["spent"].get(bound[3]) == "delivered to master"
        lost_plain.add(bound[3])
    assert len(lost_plain) <= ledger.plain_cut_short
