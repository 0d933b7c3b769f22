"""An ETSI GS QKD 014 V1.1.1 key-management entity (KME) pair fed by simulated QKD runs.

Two sites, ``alice`` and ``bob``, each run a KME (``qkd kme serve``): a FastAPI app
served by uvicorn over mutual TLS, with a persistent SQLite (WAL) key store. A
simulated QKD device pair (``qkd kme feed``: unseeded runs of this package) writes
Alice's key into site alice's store and Bob's, equal to it, into site bob's, as one
*block* with the same id and the same unit indices on both sides.

How the two KMEs agree (see :mod:`qkd_circuits.kme.store`):

* A block is cut into units of 256 bits. Even units belong to the pool of keys
  whose master SAE is at site alice, odd units to site bob's pool, so the two KMEs
  never hand out the same unit as masters.
* ``enc_keys`` at the master's KME reserves units in one transaction, tells the peer
  KME (its own mutual-TLS link, ``/kme/v1/reserve``) which units make which key ID
  for which master and slave SAEs, and only once the peer has stored that binding
  erases its own copy and hands the key to the master SAE.
* ``dec_keys`` at the slave's KME hands the key to the named slave SAE once, then
  erases it (a tombstone of the key ID stays, so a replay is refused).
* Every answer follows a durable commit (``synchronous = FULL``), so a KME killed
  mid-request never serves a key twice. A request named by the SAE with a request ID
  (the ``qkdc_request_id`` extension, which :class:`~qkd_circuits.kme.client.KMEClient`
  and ``qkd kme get-key`` always send) is also never lost: its answer is committed with
  the keys' new state, and a repeat of the ID by the same SAE with the same parameters,
  after a cut connection or a restart, gets the same keys under the same key IDs
  (:mod:`qkd_circuits.kme.app`). Plain requests are at most once, as ETSI 014 has no
  acknowledgement.

Nothing here is imported by ``qkd`` at start-up: fastapi, uvicorn, httpx and
cryptography are imported by the ``qkd kme`` handlers that need them (the ``kme``
extra: ``pip install -e ".[kme]"``).
"""

from __future__ import annotations
