"""No key, no peer: 503, nothing consumed, and service resumes by itself."""

from __future__ import annotations

import time

import pytest

from qkd_circuits.kme.client import KMEError


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_an_exhausted_store_answers_503_and_recovers_when_keys_arrive(fresh_pair) -> None:
    with fresh_pair.client("sae-alice") as a, fresh_pair.client("sae-bob") as b:
        assert a.status("sae-bob")["stored_key_count"] == 0
        with pytest.raises(KMEError) as empty:
            a.get_key("sae-bob")
        assert empty.value.status == 503 and "not enough key material" in empty.value.message
        fresh_pair.feed(2)  # two 256-bit keys for each site's masters
        assert a.status("sae-bob")["stored_key_count"] == 2
        with pytest.raises(KMEError) as short:
            a.get_key("sae-bob", number=3)
        assert short.value.status == 503
        assert a.status("sae-bob")["stored_key_count"] == 2  # nothing consumed
        keys = a.get_key("sae-bob", number=2)
        with pytest.raises(KMEError):
            a.get_key("sae-bob")
        fresh_pair.feed(1)
        (more,) = a.get_key("sae-bob")
        got = b.get_key_with_ids("sae-alice", [k["key_ID"] for k in [*keys, more]])
        assert got == [*keys, more]


def test_an_unreachable_peer_answers_503_and_the_reservation_is_released(fresh_pair) -> None:
    fresh_pair.feed(5)
    fresh_pair.stop("bob")
    with fresh_pair.client("sae-alice") as a:
        with pytest.raises(KMEError) as down:
            a.get_key("sae-bob", number=2)
        assert down.value.status == 503 and "peer KME cannot be reached" in down.value.message
        # reserved but never handed out: not available until the peer has cancelled them
        assert a.status("sae-bob")["stored_key_count"] == 3
        fresh_pair.start("bob")
        _wait(lambda: a.status("sae-bob")["stored_key_count"] == 5)
        assert fresh_pair.counts("alice")["keys"] == {}
        keys = a.get_key("sae-bob", number=5)
    with fresh_pair.client("sae-bob") as b:
        assert b.get_key_with_ids("sae-alice", [k["key_ID"] for k in keys]) == keys
