"""Idempotent requests over real KMEs (the ``qkdc_request_id`` extension): a repeat by the
same SAE with the same parameters gets the same answer byte for byte, another SAE gets
401, other parameters 400; a lost answer is fetched again; a plain request keeps the
spec's at-most-once behaviour."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import uuid

import httpx
import pytest

from qkd_circuits.errors import ConfigError
from qkd_circuits.kme.client import KMEError, KMEUnreachable, RetryPolicy
from qkd_circuits.kme.config import REQUEST_ID_EXTENSION
from qkd_circuits.kme.store import connect
from tests.kme.conftest import DEC, ENC, dec_body, enc_body, sae_http


def _row(pair, site: str, request_id: str) -> tuple[str, bytes | None] | None:
    conn = connect(pair.config.site(site).store_path)
    try:
        return conn.execute(
            "SELECT kind, response FROM requests WHERE request_id = ?", (request_id,)
        ).fetchone()
    finally:
        conn.close()


def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_a_repeated_get_key_gets_the_same_answer_byte_for_byte(pair) -> None:
    pair.feed(20)
    request_id = str(uuid.uuid4())
    with sae_http(pair, "sae-alice", "alice") as a, pair.client("sae-alice") as client:
        before = client.status("sae-bob")["stored_key_count"]
        first = a.post(ENC.format("sae-bob"), json=enc_body(request_id, number=2, size=512))
        second = a.post(ENC.format("sae-bob"), json=enc_body(request_id, number=2, size=512))
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        doc = first.json()
        assert doc["key_container_extension"] == {REQUEST_ID_EXTENSION: request_id}
        assert len(doc["keys"]) == 2
        # in extension_mandatory it is supported too, and means the same request
        mandatory = a.post(
            ENC.format("sae-bob"),
            json={
                "number": 2,
                "size": 512,
                "extension_mandatory": [{REQUEST_ID_EXTENSION: request_id}],
            },
        )
        assert mandatory.content == first.content
        # the client's own retry path gives the same keys too
        assert client.get_key("sae-bob", number=2, size=512, request_id=request_id) == doc["keys"]
        assert client.status("sae-bob")["stored_key_count"] == before - 4  # issued once
    with pair.client("sae-bob") as b:
        assert b.get_key_with_ids("sae-alice", [k["key_ID"] for k in doc["keys"]]) == doc["keys"]
    # the slave's retrieval is reported: the master's KME drops its kept answer
    _wait(lambda: _row(pair, "alice", request_id) == ("enc", None))
    with sae_http(pair, "sae-alice", "alice") as a:
        late = a.post(ENC.format("sae-bob"), json=enc_body(request_id, number=2, size=512))
    assert late.status_code == 400 and "retrieved by a slave SAE" in late.json()["message"]


def test_another_sae_or_other_parameters_under_a_request_id_are_refused(pair) -> None:
    pair.feed(20)
    request_id = str(uuid.uuid4())
    with sae_http(pair, "sae-bob", "bob") as b, sae_http(pair, "sae-bob-2", "bob") as b2:
        first = b.post(ENC.format("sae-alice"), json=enc_body(request_id))
        assert first.status_code == 200
        (key,) = first.json()["keys"]
        stolen = b2.post(ENC.format("sae-alice"), json=enc_body(request_id))
        assert stolen.status_code == 401 and "another SAE" in stolen.json()["message"]
        assert key["key"] not in stolen.text
        for changed in ({"number": 2}, {"size": 512}):
            r = b.post(ENC.format("sae-alice"), json=enc_body(request_id, **changed))
            assert r.status_code == 400 and "other parameters" in r.json()["message"], changed
        # the defaults written out are the same request
        same = enc_body(request_id, number=1, size=256, additional_slave_SAE_IDs=[])
        assert b.post(ENC.format("sae-alice"), json=same).content == first.content
        # the same ID for the other kind of request is refused too
        r = b.post(DEC.format("sae-alice"), json=dec_body(request_id, [key["key_ID"]]))
        assert r.status_code == 400
    with sae_http(pair, "sae-alice", "alice") as a:
        dec_id = str(uuid.uuid4())
        got = a.post(DEC.format("sae-bob"), json=dec_body(dec_id, [key["key_ID"]]))
        assert got.status_code == 200 and got.json()["keys"] == [key]
        again = a.post(DEC.format("sae-bob"), json=dec_body(dec_id, [key["key_ID"]]))
        assert again.content == got.content
        other_ids = a.post(DEC.format("sae-bob"), json=dec_body(dec_id, [str(uuid.uuid4())]))
        assert other_ids.status_code == 400 and "other parameters" in other_ids.json()["message"]
        plain = a.post(DEC.format("sae-bob"), json={"key_IDs": [{"key_ID": key["key_ID"]}]})
        assert plain.status_code == 400 and "already been retrieved" in plain.json()["message"]


def test_without_a_request_id_each_request_is_new_and_served_at_most_once(pair) -> None:
    pair.feed(10)
    with pair.client("sae-alice") as a, pair.client("sae-bob") as b:
        (one,) = a.get_key("sae-bob", idempotent=False)
        (two,) = a.get_key("sae-bob", idempotent=False)
        assert one["key_ID"] != two["key_ID"] and one["key"] != two["key"]
        assert b.get_key_with_ids("sae-alice", [one["key_ID"]], idempotent=False) == [one]
        with pytest.raises(KMEError) as again:
            b.get_key_with_ids("sae-alice", [one["key_ID"]], idempotent=False)
        assert again.value.status == 400
        with pytest.raises(ConfigError):
            a.get_key("sae-bob", idempotent=False, request_id=str(uuid.uuid4()))
    with sae_http(pair, "sae-alice", "alice") as http:
        r = http.post(ENC.format("sae-bob"), json={})
        assert "key_container_extension" not in r.json()


def _send_and_drop(pair, sae: str, site: str, path: str, body: dict[str, object]) -> ssl.SSLSocket:
    """Send a POST over a raw TLS connection and close it without reading the answer."""
    cert, key = pair.config.sae_cert(sae)
    ctx = ssl.create_default_context(cafile=str(pair.config.ca))
    ctx.load_cert_chain(str(cert), str(key))
    data = json.dumps(body).encode()
    raw = socket.create_connection(("127.0.0.1", pair.config.site(site).port), timeout=10)
    tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall(
        b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(data), data)
    )
    return tls


def test_an_answer_lost_after_the_commit_is_served_by_the_repeat(pair) -> None:
    pair.feed(10)
    request_id = str(uuid.uuid4())
    with pair.client("sae-alice") as a:
        before = a.status("sae-bob")["stored_key_count"]
        tls = _send_and_drop(
            pair, "sae-alice", "alice", ENC.format("sae-bob"), enc_body(request_id, number=3)
        )
        _wait(lambda: _row(pair, "alice", request_id) is not None)  # committed
        tls.close()  # the answer is never read
        row = _row(pair, "alice", request_id)
        assert row is not None and row[1] is not None
        keys = a.get_key("sae-bob", number=3, request_id=request_id)
        assert keys == json.loads(row[1])["keys"]
        assert a.status("sae-bob")["stored_key_count"] == before - 3  # nothing issued twice
    dec_id = str(uuid.uuid4())
    ids = [k["key_ID"] for k in keys]
    with pair.client("sae-bob") as b:
        tls = _send_and_drop(pair, "sae-bob", "bob", DEC.format("sae-alice"), dec_body(dec_id, ids))
        _wait(lambda: _row(pair, "bob", dec_id) is not None)
        tls.close()
        assert b.get_key_with_ids("sae-alice", ids, request_id=dec_id) == keys


def test_concurrent_repeats_of_one_request_get_one_answer(pair) -> None:
    pair.feed(10)
    request_id = str(uuid.uuid4())
    answers: list[bytes] = []
    with pair.client("sae-alice") as a:
        before = a.status("sae-bob")["stored_key_count"]
    clients = [sae_http(pair, "sae-alice", "alice") for _ in range(6)]
    for c in clients:  # TLS sessions first, so the requests overlap
        c.get("/api/v1/keys/sae-bob/status")
    go = threading.Barrier(len(clients))

    def send(c: httpx.Client) -> None:
        go.wait()
        answers.append(c.post(ENC.format("sae-bob"), json=enc_body(request_id, number=2)).content)

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    for c in clients:
        c.close()
    assert len(answers) == 6 and len(set(answers)) == 1
    assert len(json.loads(answers[0])["keys"]) == 2
    with pair.client("sae-alice") as a:
        _wait(lambda: a.status("sae-bob")["stored_key_count"] == before - 2)


def test_the_client_does_not_wait_for_a_kme_that_is_not_listening(pair) -> None:
    cert, key = pair.config.sae_cert("sae-alice")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from qkd_circuits.kme.client import KMEClient

    with KMEClient(
        f"https://127.0.0.1:{port}",
        cert=cert,
        key=key,
        ca=pair.config.ca,
        retry=RetryPolicy(seconds=30),
    ) as c:
        started = time.monotonic()
        with pytest.raises(KMEUnreachable) as down:
            c.get_key("sae-bob")
        assert time.monotonic() - started < 5 and not down.value.sent and c.retries == 0
    with pytest.raises(ConfigError):
        RetryPolicy(seconds=-1)
    with pytest.raises(ConfigError):
        RetryPolicy(first_delay=3, max_delay=1)
