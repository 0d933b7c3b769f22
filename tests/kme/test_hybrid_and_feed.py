"""Keys from real (unseeded) QKD runs, through the two KMEs, into AES-256-GCM and a
one-time pad used by two applications."""

from __future__ import annotations

import json

import pytest
from cryptography.exceptions import InvalidTag

from qkd_circuits.kme import hybrid
from qkd_circuits.kme.feed import run_once
from qkd_circuits.kme.store import connect


def test_a_qkd_run_feeds_the_same_key_to_both_stores(pair) -> None:
    before = pair.counts("bob")["blocks"]
    figures = run_once(pair.config, qubits=100_000, noise="depolarizing=0.02")
    assert not figures["aborted"] and figures["reproducible"] is False
    assert figures["units"] == figures["final_key_bits"] // 256 > 0
    rows = {}
    for site in ("alice", "bob"):
        conn = connect(pair.config.site(site).store_path)
        try:
            (block,) = conn.execute(
                "SELECT block FROM blocks ORDER BY fed_at DESC LIMIT 1"
            ).fetchone()
            rows[site] = conn.execute(
                "SELECT idx, pool, material, state FROM units WHERE block = ? ORDER BY idx",
                (block,),
            ).fetchall()
            (meta,) = conn.execute("SELECT meta FROM blocks WHERE block = ?", (block,)).fetchone()
            assert set(json.loads(meta)) == {"protocol", "qubits", "noise", "final_key_bits"}
        finally:
            conn.close()
    assert rows["alice"] == rows["bob"] and len(rows["alice"]) == figures["units"]
    assert {r[1] for r in rows["alice"]} == {"alice", "bob"} and {r[3] for r in rows["alice"]} == {
        0
    }
    assert pair.counts("bob")["blocks"] == before + 1


def test_two_applications_share_aes_gcm_and_one_time_pad_keys(pair) -> None:
    pair.feed(200)
    message = b"Attack at dawn; bring the QKD keys. " * 3
    with pair.client("sae-alice") as app_a, pair.client("sae-bob") as app_b:
        envelope = hybrid.aes_gcm_send(app_a, "sae-bob", message)
        assert message not in envelope["ciphertext"].encode()
        assert hybrid.aes_gcm_receive(app_b, "sae-alice", envelope) == message
        # the key is gone after use; a forged ciphertext fails authentication
        forged = dict(envelope, key_ID=hybrid.aes_gcm_send(app_a, "sae-bob", b"x")["key_ID"])
        with pytest.raises(InvalidTag):
            hybrid.aes_gcm_receive(app_b, "sae-alice", forged)

        long_message = bytes(range(256)) * 12  # 3,072 bytes: three 8,192-bit pads
        pad = hybrid.otp_send(app_a, "sae-bob", long_message)
        assert len(pad["key_IDs"]) == 3
        assert hybrid.otp_receive(app_b, "sae-alice", pad) == long_message
        short = hybrid.otp_send(app_a, "sae-bob", b"hi")
        assert hybrid.otp_receive(app_b, "sae-alice", short) == b"hi"


def test_the_hybrid_example_runs(pair, capsys) -> None:
    pair.feed(100)
    assert hybrid.main(["--dir", str(pair.config.root)]) == 0
    out = capsys.readouterr().out
    assert out.count("B reads 'Meet at the usual place at 10.'") == 2
