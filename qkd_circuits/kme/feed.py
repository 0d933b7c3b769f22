"""``qkd kme feed``: the simulated QKD device pair that fills both sites' key stores.

Each run of this package (``run_config(RunConfig(..., seed=None))``) gives Alice's and
Bob's final keys; when the run emits a key and the keys match, Alice's goes into site
alice's store and Bob's into site bob's as one block, under one random block id and with
the same unit indices, first *inactive* in both stores and then activated in both, so a
master KME only ever reserves units its peer holds too.

Runs are never seeded here: a seeded run is a reproducible simulation, and anyone who
has its seed (it is in its report) can recompute its key, so it must never become a key
that protects anything. The secrets of an unseeded run come from the OS CSPRNG.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from qkd_circuits.errors import ConfigError
from qkd_circuits.kme import store as st
from qkd_circuits.kme.config import SITES, UNIT_BITS, KMEConfig
from qkd_circuits.protocols.registry import DEFAULT_PROTOCOL


def feed_block(
    config: KMEConfig,
    key_alice: bytes,
    key_bob: bytes,
    *,
    meta: dict[str, Any] | None = None,
    pools: Sequence[str] = SITES,
) -> int:
    """Store one block (Alice's key at site alice, Bob's at site bob); return its units.

    Raises:
        ConfigError: the two keys differ (a link never hands unequal keys to the KMEs),
            or a store would pass ``max_key_count`` units.
    """
    if key_alice != key_bob:
        raise ConfigError("Alice's and Bob's keys differ: not fed")
    block = str(uuid.uuid4())
    meta = dict(meta or {})
    conns = {site: st.connect(config.site(site).store_path) for site in SITES}
    try:
        units = 0
        for site, key in (("alice", key_alice), ("bob", key_bob)):
            units = st.add_block(
                conns[site],
                block,
                key,
                meta=meta,
                pools=pools,
                max_units=config.limits.max_key_count,
            )
        for site in SITES:
            st.activate_block(conns[site], block)
        return units
    finally:
        for conn in conns.values():
            conn.close()


def run_once(
    config: KMEConfig,
    *,
    qubits: int,
    noise: str = "depolarizing=0.02",
    protocol: str = DEFAULT_PROTOCOL,
    pools: Sequence[str] = SITES,
) -> dict[str, Any]:
    """One unseeded QKD run fed into both stores; returns its public figures."""
    from qkd_circuits.channel.noise import NoiseSpec
    from qkd_circuits.runner import RunConfig, run_config

    started = time.perf_counter()
    report = run_config(
        RunConfig(protocol=protocol, qubits=qubits, noise=NoiseSpec.parse(noise), seed=None)
    )
    figures: dict[str, Any] = {
        "protocol": protocol,
        "qubits": qubits,
        "noise": noise,
        "aborted": bool(report.aborted),
        "final_key_bits": int(report.final_key_bits or 0),
        "reproducible": False,
        "seconds": round(time.perf_counter() - started, 3),
        "units": 0,
    }
    if report.aborted or not report.keys_match or report.key_alice is None:
        figures["reason"] = str(report.abort_reason or "keys differ")
        return figures
    bits_alice = np.asarray(report.key_alice, dtype=np.uint8)
    bits_bob = np.asarray(report.key_bob, dtype=np.uint8)
    whole = bits_alice.size - bits_alice.size % UNIT_BITS
    key_alice = np.packbits(bits_alice[:whole]).tobytes()
    key_bob = np.packbits(bits_bob[:whole]).tobytes()
    figures["units"] = feed_block(
        config,
        key_alice,
        key_bob,
        meta={k: figures[k] for k in ("protocol", "qubits", "noise", "final_key_bits")},
        pools=pools,
    )
    return figures


def feed(
    config: KMEConfig,
    *,
    qubits: int,
    runs: int | None,
    interval: float = 0.0,
    noise: str = "depolarizing=0.02",
    protocol: str = DEFAULT_PROTOCOL,
    pools: Sequence[str] = SITES,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """``runs`` runs (None: until interrupted), ``interval`` seconds apart."""
    done: list[dict[str, Any]] = []
    while runs is None or len(done) < runs:
        figures = run_once(config, qubits=qubits, noise=noise, protocol=protocol, pools=pools)
        done.append(figures)
        if on_run is not None:
            on_run(figures)
        if interval and (runs is None or len(done) < runs):
            time.sleep(interval)
    return done
