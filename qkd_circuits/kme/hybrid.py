"""Hybrid use: two applications get the same key through the two KMEs and encrypt with it.

Application A (SAE ``sae-alice``, master) asks KME alice for a key (``enc_keys``),
encrypts, and sends the key ID with the ciphertext over any public channel. Application
B (SAE ``sae-bob``, slave) asks KME bob for the key with that ID (``dec_keys``) and
decrypts. Two ciphers:

* **AES-256-GCM** (``cryptography``): a 256-bit QKD key, a random 96-bit nonce, the key
  ID as associated data; authenticated, and the key may encrypt many messages.
* **One-time pad**: as many key bits as message bits, XORed; information-theoretically
  secret, *if* the pad is used once (the KMEs serve a key to each side once) and it is
  not authenticated by itself (add a Wegman–Carter tag for that).

Run against the two KMEs of ``qkd kme init --dir kme`` (both served, keys fed)::

    python -m qkd_circuits.kme.hybrid --dir kme
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import sys
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qkd_circuits.kme.client import KMEClient
from qkd_circuits.kme.config import load_config


def aes_gcm_send(master: KMEClient, slave_sae_id: str, message: bytes) -> dict[str, str]:
    """Application A: a 256-bit key from its KME, the message sealed with AES-256-GCM."""
    (key,) = master.get_key(slave_sae_id, size=256)
    nonce = os.urandom(12)
    sealed = AESGCM(base64.b64decode(key["key"])).encrypt(nonce, message, key["key_ID"].encode())
    return {
        "key_ID": key["key_ID"],
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(sealed).decode(),
    }


def aes_gcm_receive(slave: KMEClient, master_sae_id: str, envelope: dict[str, str]) -> bytes:
    """Application B: the key by its ID from its KME, the message opened (and checked)."""
    (key,) = slave.get_key_with_ids(master_sae_id, [envelope["key_ID"]])
    return AESGCM(base64.b64decode(key["key"])).decrypt(
        base64.b64decode(envelope["nonce"]),
        base64.b64decode(envelope["ciphertext"]),
        envelope["key_ID"].encode(),
    )


def _xor(data: bytes, pad: bytes) -> bytes:
    if len(pad) < len(data):
        raise ValueError("the pad is shorter than the message")
    return bytes(a ^ b for a, b in zip(data, pad, strict=False))


def otp_send(
    master: KMEClient, slave_sae_id: str, message: bytes, *, max_key_bits: int = 8192
) -> dict[str, Any]:
    """Application A: a pad as long as the message (several keys if needed), XORed."""
    if not message:
        raise ValueError("empty message")
    per_key = max_key_bits // 8
    number = math.ceil(len(message) / per_key)
    size = 8 * min(len(message), per_key)
    size = max(size, 64)  # the KMEs' min_key_size; the unused pad bytes are dropped
    keys = master.get_key(slave_sae_id, number=number, size=size)
    pad = b"".join(base64.b64decode(k["key"]) for k in keys)
    return {
        "key_IDs": [k["key_ID"] for k in keys],
        "length": len(message),
        "ciphertext": base64.b64encode(_xor(message, pad)).decode(),
    }


def otp_receive(slave: KMEClient, master_sae_id: str, envelope: dict[str, Any]) -> bytes:
    """Application B: the same pad from its KME, XORed again."""
    keys = slave.get_key_with_ids(master_sae_id, list(envelope["key_IDs"]))
    pad = b"".join(base64.b64decode(k["key"]) for k in keys)
    return _xor(base64.b64decode(envelope["ciphertext"]), pad)[: envelope["length"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="AES-256-GCM and a one-time pad with QKD keys")
    parser.add_argument("--dir", default="kme")
    parser.add_argument("--master", default="sae-alice")
    parser.add_argument("--slave", default="sae-bob")
    parser.add_argument("--message", default="Meet at the usual place at 10.")
    args = parser.parse_args(argv)
    config = load_config(args.dir)
    message = args.message.encode()
    with (
        KMEClient.for_sae(config, args.master) as a,
        KMEClient.for_sae(config, args.slave) as b,
    ):
        envelope = aes_gcm_send(a, args.slave, message)
        print(f"A -> B  AES-256-GCM, key {envelope['key_ID']}: {envelope['ciphertext']}")
        print(f"B reads {aes_gcm_receive(b, args.master, envelope).decode()!r}")
        pad_envelope = otp_send(a, args.slave, message, max_key_bits=config.limits.max_key_size)
        print(f"A -> B  one-time pad, keys {pad_envelope['key_IDs']}: {pad_envelope['ciphertext']}")
        print(f"B reads {otp_receive(b, args.master, pad_envelope).decode()!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
