"""The store's idempotent-request rules, on a store file without a server: a repeat gets
the recorded answer, only for its own SAE and parameters; issue and record are one
operation; the master's kept answer goes once a slave retrieved a key; rows expire."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from qkd_circuits.errors import ConfigError
from qkd_circuits.kme import store as st
from qkd_circuits.kme.config import REQUEST_ID_EXTENSION, UNIT_BYTES
from qkd_circuits.kme.store import StoreError

KEY = bytes(range(256)) * 2  # 16 units: 8 for alice's masters, 8 for bob's


def _store(tmp_path: Path) -> sqlite3.Connection:
    conn = st.connect(tmp_path / "store.db")
    st.add_block(conn, "block-1", KEY, meta={})
    st.activate_block(conn, "block-1")
    return conn


def _enc(request_id: str, *, caller: str = "sae-alice", number: int = 1) -> st.RequestKey:
    return st.RequestKey(
        request_id=request_id,
        kind=st.ENC,
        caller=caller,
        params=st.request_params(number=number, size=256, slave_SAE_IDs=["sae-bob"]),
    )


def _reserve(conn: sqlite3.Connection, request: st.RequestKey, n: int = 1):
    return st.reserve_master_once(
        conn,
        request,
        pool="alice",
        key_ids=[str(uuid.uuid4()) for _ in range(n)],
        units_per_key=1,
        size=256,
        master=request.caller,
        slaves=["sae-bob"],
    )


def test_a_repeat_gets_the_recorded_answer_and_nothing_new(tmp_path) -> None:
    conn = _store(tmp_path)
    request = _enc(str(uuid.uuid4()), number=2)
    body, reservations = _reserve(conn, request, 2)
    assert body is None and len(reservations) == 2
    answer, replayed = st.deliver_master_once(conn, request, reservations)
    assert not replayed
    doc = json.loads(answer)
    assert [k["key_ID"] for k in doc["keys"]] == [r.key_id for r in reservations]
    assert doc["key_container_extension"] == {REQUEST_ID_EXTENSION: request.request_id}
    units = {(r.units[0][1]) for r in reservations}
    assert [base64.b64decode(k["key"]) for k in doc["keys"]] == [
        KEY[i * UNIT_BYTES : (i + 1) * UNIT_BYTES] for i in sorted(units)
    ]
    available = st.available_units(conn, "alice")
    again, more = _reserve(conn, request, 2)
    assert again == answer and more == []  # the same bytes, and no reservation
    assert st.available_units(conn, "alice") == available


def test_another_sae_other_parameters_or_another_kind_are_refused(tmp_path) -> None:
    conn = _store(tmp_path)
    request = _enc(str(uuid.uuid4()))
    _, reservations = _reserve(conn, request)
    st.deliver_master_once(conn, request, reservations)
    available = st.available_units(conn, "alice")
    with pytest.raises(StoreError) as other_sae:
        _reserve(conn, _enc(request.request_id, caller="sae-alice-2"))
    assert other_sae.value.status == 401 and "another SAE" in other_sae.value.message
    with pytest.raises(StoreError) as other_number:
        _reserve(conn, _enc(request.request_id, number=2), 2)
    assert other_number.value.status == 400 and "other parameters" in other_number.value.message
    as_dec = st.RequestKey(
        request_id=request.request_id, kind=st.DEC, caller="sae-alice", params=request.params
    )
    with pytest.raises(StoreError) as other_kind:
        st.replay(conn, as_dec)
    assert other_kind.value.status == 400
    assert st.available_units(conn, "alice") == available  # the refusals reserved nothing
    with pytest.raises(ConfigError, match="request kind"):
        st.RequestKey(request_id="x", kind="get", caller="a", params="{}")


def test_a_second_try_reaching_delivery_gets_the_first_answer_and_keeps_its_units(
    tmp_path,
) -> None:
    conn = _store(tmp_path)
    request = _enc(str(uuid.uuid4()))
    _, first = _reserve(conn, request)
    _, second = _reserve(conn, request)  # reserved before the first answer was recorded
    answer, replayed = st.deliver_master_once(conn, request, first)
    assert not replayed
    again, replayed = st.deliver_master_once(conn, request, second)
    assert again == answer and replayed
    # the second try's units are untouched: still pending, for the KME to cancel
    assert st.pending_among(conn, [first[0].key_id, second[0].key_id]) == [second[0].key_id]
    (state,) = conn.execute(
        "SELECT state FROM units WHERE key_id = ?", (second[0].key_id,)
    ).fetchone()
    assert state == st.RESERVED


def test_a_kept_master_answer_goes_when_a_slave_retrieved_and_rows_expire(tmp_path) -> None:
    conn = _store(tmp_path)
    enc = _enc(str(uuid.uuid4()))
    _, reservations = _reserve(conn, enc)
    answer, _ = st.deliver_master_once(conn, enc, reservations)
    dec = st.RequestKey(request_id=str(uuid.uuid4()), kind=st.DEC, caller="sae-bob", params="{}")
    conn.execute(
        "INSERT INTO requests VALUES (?, 'dec', 'sae-bob', '{}', x'00', ?)",
        (dec.request_id, time.time()),
    )
    assert st.counts(conn)["kept_answers"] == 2
    # only Get key answers are forgotten on a retrieval report; unknown IDs are ignored
    assert st.forget_requests(conn, [enc.request_id, dec.request_id, str(uuid.uuid4())]) == 1
    assert st.forget_requests(conn, [enc.request_id]) == 0
    with pytest.raises(StoreError) as late:
        st.replay(conn, enc)
    assert late.value.status == 400 and "retrieved by a slave SAE" in late.value.message
    (response,) = conn.execute(
        "SELECT response FROM requests WHERE request_id = ?", (enc.request_id,)
    ).fetchone()
    assert response is None and answer
    assert st.replay(conn, dec) == b"\x00"
    assert st.expire_requests(conn, time.time() - 60) == 0
    assert st.expire_requests(conn, time.time() + 1) == 2
    assert st.replay(conn, enc) is None  # after the window a request ID is new again


def _bind(conn: sqlite3.Connection, idx: int, request_id: str | None, slaves: list[str]) -> str:
    key_id = str(uuid.uuid4())
    item = {
        "key_ID": key_id,
        "units": [["block-1", idx]],
        "size": 256,
        "master_SAE_ID": "sae-alice",
        "slave_SAE_IDs": slaves,
    }
    if request_id is not None:
        item["master_request_ID"] = request_id
    assert st.bind_slave(conn, [item], pool="alice") == [None]
    return key_id


def test_the_first_retrieval_of_a_key_of_an_idempotent_request_is_reported(tmp_path) -> None:
    conn = _store(tmp_path)
    request_id = str(uuid.uuid4())
    multicast = _bind(conn, 0, request_id, ["sae-bob", "sae-bob-2"])
    plain = _bind(conn, 2, None, ["sae-bob"])
    got = st.retrieve_slave(conn, caller="sae-bob", master="sae-alice", key_ids=[multicast, plain])
    assert got.notify == [request_id] and got.material == [KEY[0:32], KEY[64:96]]
    again = st.retrieve_slave(conn, caller="sae-bob-2", master="sae-alice", key_ids=[multicast])
    assert again.notify == [] and again.material == [KEY[0:32]]


def test_a_retrieval_under_a_request_id_erases_and_records_in_one_operation(tmp_path) -> None:
    conn = _store(tmp_path)
    key_id = _bind(conn, 4, str(uuid.uuid4()), ["sae-bob"])
    request = st.RequestKey(
        request_id=str(uuid.uuid4()),
        kind=st.DEC,
        caller="sae-bob",
        params=st.request_params(master_SAE_ID="sae-alice", key_IDs=[key_id]),
    )
    body, notify = st.retrieve_slave_once(conn, request, master="sae-alice", key_ids=[key_id])
    assert len(notify) == 1
    assert json.loads(body)["keys"] == [
        {"key_ID": key_id, "key": base64.b64encode(KEY[128:160]).decode()}
    ]
    assert conn.execute("SELECT count(*) FROM units WHERE key_id = ?", (key_id,)).fetchone() == (0,)
    again, notify = st.retrieve_slave_once(conn, request, master="sae-alice", key_ids=[key_id])
    assert again == body and notify == []
    with pytest.raises(StoreError) as plain:  # without the request ID it is gone
        st.retrieve_slave(conn, caller="sae-bob", master="sae-alice", key_ids=[key_id])
    assert plain.value.status == 400
    # a refused retrieval records nothing
    unknown = str(uuid.uuid4())
    failed = st.RequestKey(
        request_id=str(uuid.uuid4()),
        kind=st.DEC,
        caller="sae-bob",
        params=st.request_params(master_SAE_ID="sae-alice", key_IDs=[unknown]),
    )
    with pytest.raises(StoreError):
        st.retrieve_slave_once(conn, failed, master="sae-alice", key_ids=[unknown])
    assert st.replay(conn, failed) is None


def test_a_store_made_before_request_ids_gains_the_column(tmp_path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE keys(key_id TEXT PRIMARY KEY, role TEXT NOT NULL, master TEXT NOT NULL, "
        "slaves TEXT NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL)"
    )
    old.commit()
    old.close()
    conn = st.connect(path)
    assert "request" in {row[1] for row in conn.execute("PRAGMA table_info(keys)")}
    st.connect(path).close()  # and a second open leaves it as it is
