"""The ETSI GS QKD 014 flow between two real KMEs: enc_keys at the master's, dec_keys at
the slave's, over mutual TLS; the key erased on both sides; replays refused."""

from __future__ import annotations

import base64
import ssl
import stat
import uuid

import httpx
import pytest

from qkd_circuits.kme.client import KMEError
from qkd_circuits.kme.store import connect

STATUS_FIELDS = {
    "source_KME_ID",
    "target_KME_ID",
    "master_SAE_ID",
    "slave_SAE_ID",
    "key_size",
    "stored_key_count",
    "max_key_count",
    "max_key_per_request",
    "max_key_size",
    "min_key_size",
    "max_SAE_ID_count",
}


def test_status_has_the_spec_fields(pair) -> None:
    with pair.client("sae-alice") as a:
        status = a.status("sae-bob")
    assert set(status) == STATUS_FIELDS
    assert status["source_KME_ID"] == "KME-alice" and status["target_KME_ID"] == "KME-bob"
    assert status["master_SAE_ID"] == "sae-alice" and status["slave_SAE_ID"] == "sae-bob"
    assert status["key_size"] == 256 and status["stored_key_count"] > 0


def test_enc_keys_then_dec_keys_gives_the_same_keys_once(pair) -> None:
    with pair.client("sae-alice") as a, pair.client("sae-bob") as b:
        before = a.status("sae-bob")["stored_key_count"]
        keys = a.get_key("sae-bob", number=3, size=512)
        assert len(keys) == 3 and all(set(k) == {"key_ID", "key"} for k in keys)
        for k in keys:
            assert str(uuid.UUID(k["key_ID"])) == k["key_ID"]
            assert len(base64.b64decode(k["key"], validate=True)) == 64
        assert len({k["key"] for k in keys}) == 3
        assert a.status("sae-bob")["stored_key_count"] == before - 6  # 2 units per 512-bit key
        got = b.get_key_with_ids("sae-alice", [k["key_ID"] for k in keys])
        assert got == keys
        # erased on both sides: no unit of these keys left, their IDs tombstoned
        for site in ("alice", "bob"):
            conn = connect(pair.config.site(site).store_path)
            try:
                ids = [k["key_ID"] for k in keys]
                marks = ",".join("?" * len(ids))
                assert conn.execute(
                    f"SELECT count(*) FROM units WHERE key_id IN ({marks})", ids
                ).fetchone() == (0,)
                assert conn.execute(
                    f"SELECT count(*) FROM keys WHERE key_id IN ({marks})", ids
                ).fetchone() == (0,)
                assert conn.execute(
                    f"SELECT count(*) FROM spent WHERE key_id IN ({marks})", ids
                ).fetchone() == (3,)
            finally:
                conn.close()
        # a replayed key ID is refused, and so is the whole request that holds it
        with pytest.raises(KMEError) as replay:
            b.get_key_with_ids("sae-alice", [keys[0]["key_ID"]])
        assert replay.value.status == 400 and "already been retrieved" in replay.value.message


def test_get_variants_of_enc_keys_and_dec_keys(pair) -> None:
    cfg = pair.config
    for sae in ("sae-alice", "sae-bob"):
        assert cfg.sae_cert(sae)[0].exists()
    with pair.client("sae-alice") as a, pair.client("sae-bob") as b:
        got = a._call("GET", "/api/v1/keys/sae-bob/enc_keys", params={"number": 2, "size": 128})
        (k1, k2) = got["keys"]
        assert len(base64.b64decode(k1["key"])) == 16
        back = b._call("GET", "/api/v1/keys/sae-alice/dec_keys", params={"key_ID": k2["key_ID"]})
        assert back["keys"] == [k2]
        assert b.get_key_with_ids("sae-alice", [k1["key_ID"]]) == [k1]


def test_keys_flow_both_ways_from_separate_pools(pair) -> None:
    with pair.client("sae-alice") as a, pair.client("sae-bob") as b:
        (from_b,) = b.get_key("sae-alice")
        (from_a,) = a.get_key("sae-bob")
        assert from_a["key"] != from_b["key"]
        assert a.get_key_with_ids("sae-bob", [from_b["key_ID"]]) == [from_b]
        assert b.get_key_with_ids("sae-alice", [from_a["key_ID"]]) == [from_a]


def test_multicast_key_goes_to_each_named_slave_once(pair) -> None:
    with (
        pair.client("sae-alice") as a,
        pair.client("sae-bob") as b,
        pair.client("sae-bob-2") as b2,
    ):
        (key,) = a.get_key("sae-bob", additional_slave_sae_ids=["sae-bob-2"])
        assert b.get_key_with_ids("sae-alice", [key["key_ID"]]) == [key]
        with pytest.raises(KMEError) as again:  # the same slave twice
            b.get_key_with_ids("sae-alice", [key["key_ID"]])
        assert again.value.status == 401
        assert b2.get_key_with_ids("sae-alice", [key["key_ID"]]) == [key]
        with pytest.raises(KMEError) as gone:
            b2.get_key_with_ids("sae-alice", [key["key_ID"]])
        assert gone.value.status == 400


def test_a_key_is_never_served_to_another_sae(pair) -> None:
    with (
        pair.client("sae-alice") as a,
        pair.client("sae-bob") as b,
        pair.client("sae-bob-2") as b2,
    ):
        (key,) = a.get_key("sae-bob")
        with pytest.raises(KMEError) as wrong:
            b2.get_key_with_ids("sae-alice", [key["key_ID"]])
        assert wrong.value.status == 401
        # the master's own KME does not serve it as a slave key either
        with pytest.raises(KMEError) as own:
            a.get_key_with_ids("sae-bob", [key["key_ID"]])
        assert own.value.status == 400
        # and the refusals consumed nothing: the named slave still gets it
        assert b.get_key_with_ids("sae-alice", [key["key_ID"]]) == [key]


def test_the_response_says_no_store_and_errors_have_a_message(pair) -> None:
    cert, key = pair.config.sae_cert("sae-alice")
    ctx = ssl.create_default_context(cafile=str(pair.config.ca))
    ctx.load_cert_chain(str(cert), str(key))
    with httpx.Client(base_url=pair.config.site("alice").url, verify=ctx) as http:
        r = http.post("/api/v1/keys/sae-bob/enc_keys", json={})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        missing = http.get("/api/v1/nothing")
        assert missing.status_code == 404 and "message" in missing.json()


def test_no_key_material_reaches_the_logs(pair) -> None:
    with pair.client("sae-alice") as a, pair.client("sae-bob") as b:
        keys = a.get_key("sae-bob", number=5)
        b.get_key_with_ids("sae-alice", [k["key_ID"] for k in keys])
        with pytest.raises(KMEError):
            b.get_key_with_ids("sae-alice", [keys[0]["key_ID"]])
    logs = pair.log("alice") + pair.log("bob")
    for k in keys:
        raw = base64.b64decode(k["key"])
        assert k["key"] not in logs and raw.hex() not in logs and raw.hex().upper() not in logs


def test_the_stores_and_their_journals_are_private(pair) -> None:
    files = [p for site in ("alice", "bob") for p in pair.config.site(site).dir.iterdir()]
    assert any(p.name.endswith("-wal") for p in files)  # the servers hold them open
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
