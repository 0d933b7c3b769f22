"""Load benchmark of the ETSI GS QKD 014 KME pair (issue 15).

Starts two KMEs (``python -m qkd_circuits.kme serve``, sites alice and bob) on loopback
ports with real mutual TLS, fills their stores from unseeded QKD runs
(``qkd_circuits.kme.feed``; ``--direction alice``: every unit for masters at site alice),
then for ``--seconds`` runs ``--concurrency`` SAE pairs, each on its own persistent TLS
connections: the master SAE asks KME alice for one 256-bit key (``POST enc_keys``), the
slave SAE asks KME bob for it by its ID (``POST dec_keys``), and the two keys are
compared. A key request is one enc_keys call; each is followed by its dec_keys call.

Two phases of ``--seconds`` each on the same pair (``--mode both``, the default): *plain*
ETSI requests, then *named* ones, each enc_keys and dec_keys carrying a fresh request ID
(the ``qkdc_request_id`` extension, as ``qkd kme get-key`` and ``KMEClient`` send it: the
KMEs record every answer in the same transaction as the keys' new state, and the master's
KME erases its kept answer when the slave's KME reports the retrieval). The named phase's
rate is printed as a ratio to the plain phase's, measured in the same run.

Checks: every answer 200, every key ID and every key distinct, the slave's key equal to
the master's, a named answer echoing its request ID. Prints rates per second of each
phase, latencies, CPU per key and the stores' bookkeeping.

The load generator is a minimal asyncio HTTP/1.1 client (keep-alive, Content-Length
only), because httpx in one process tops out near 600 requests/s on this machine and
would measure itself. It runs in this process; the KMEs in two others: three processes
on the machine's 2 cores.

    python benchmarks/bench_kme.py [--seconds 30] [--concurrency 64] [--mode both]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from qkd_circuits.kme.certs import init_dir
from qkd_circuits.kme.config import REQUEST_ID_EXTENSION, KMEConfig, load_config
from qkd_circuits.kme.feed import run_once
from qkd_circuits.kme.store import connect, counts
from qkd_circuits.versions import package_versions


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_kme(directory: Path, site: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qkd_circuits.kme",
            "serve",
            "--dir",
            str(directory),
            "--site",
            site,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"no KME on port {port}")


_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


def process_seconds(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def wait_quiet(limit: float, own: list[int]) -> float:
    """Wait (at most ``limit`` s) until other processes use < 0.1 core for 5 s; return the
    seconds waited."""
    start = time.monotonic()
    quiet = 0
    while time.monotonic() - start < limit and quiet < 5:
        busy0, own0 = machine_busy_seconds(), sum(process_seconds(p) for p in own)
        time.sleep(1.0)
        others = machine_busy_seconds() - busy0 - (sum(process_seconds(p) for p in own) - own0)
        quiet = quiet + 1 if others < 0.1 else 0
    return time.monotonic() - start


def context(config: KMEConfig, sae: str) -> ssl.SSLContext:
    cert, key = config.sae_cert(sae)
    ctx = ssl.create_default_context(cafile=str(config.ca))
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


class Connection:
    """One keep-alive HTTP/1.1 connection over TLS."""

    def __init__(self, port: int, ctx: ssl.SSLContext) -> None:
        self.port, self.ctx = port, ctx

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=self.ctx
        )

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return int(head[9:12]), await self.reader.readexactly(length)


async def load(config: KMEConfig, seconds: float, concurrency: int, named: bool) -> dict[str, Any]:
    alice, bob = config.site("alice"), config.site("bob")
    ctx_a, ctx_b = context(config, "sae-alice"), context(config, "sae-bob")
    ids: set[str] = set()
    keys: set[bytes] = set()
    latencies_enc: list[float] = []
    latencies_dec: list[float] = []
    errors: list[str] = []
    per_second: dict[int, int] = {}
    pairs = [
        (Connection(alice.port, ctx_a), Connection(bob.port, ctx_b)) for _ in range(concurrency)
    ]
    for a, b in pairs:  # every TLS session first: the clock times requests only
        await a.open()
        await b.open()
    start = time.perf_counter()
    stop = start + seconds

    async def pair(a: Connection, b: Connection) -> None:
        while time.perf_counter() < stop and len(errors) < 10:
            enc: dict[str, Any] = {}
            dec: dict[str, Any] = {}
            if named:
                enc["extension_optional"] = [{REQUEST_ID_EXTENSION: str(uuid.uuid4())}]
                dec["key_IDs_extension"] = {REQUEST_ID_EXTENSION: str(uuid.uuid4())}
            t0 = time.perf_counter()
            status, body = await a.post("/api/v1/keys/sae-bob/enc_keys", json.dumps(enc).encode())
            t1 = time.perf_counter()
            if status != 200:
                errors.append(f"enc_keys {status} {body[:200]!r}")
                continue
            answer = json.loads(body)
            (key,) = answer["keys"]
            dec["key_IDs"] = [{"key_ID": key["key_ID"]}]
            status, body = await b.post("/api/v1/keys/sae-alice/dec_keys", json.dumps(dec).encode())
            t2 = time.perf_counter()
            if status != 200:
                errors.append(f"dec_keys {status} {body[:200]!r}")
                continue
            back = json.loads(body)
            (got,) = back["keys"]
            if named and (
                answer.get("key_container_extension")
                != {REQUEST_ID_EXTENSION: enc["extension_optional"][0][REQUEST_ID_EXTENSION]}
                or back.get("key_container_extension") != dec["key_IDs_extension"]
            ):
                errors.append(f"request ID not echoed for {key['key_ID']}")
            material = base64.b64decode(key["key"])
            if got != key or len(material) != 32:
                errors.append(f"keys differ for {key['key_ID']}")
            if key["key_ID"] in ids or material in keys:
                errors.append(f"duplicate key {key['key_ID']}")
            ids.add(key["key_ID"])
            keys.add(material)
            latencies_enc.append(t1 - t0)
            latencies_dec.append(t2 - t1)
            second = int(t2 - start)
            per_second[second] = per_second.get(second, 0) + 1
        a.writer.close()
        b.writer.close()

    await asyncio.gather(*(pair(a, b) for a, b in pairs))
    elapsed = time.perf_counter() - start
    full = [per_second.get(s, 0) for s in range(int(seconds))]
    return {
        "keys": len(ids),
        "seconds": elapsed,
        "rate": len(ids) / elapsed,
        "per_second": full,
        "min_second": min(full) if full else 0,
        "max_second": max(full) if full else 0,
        "errors": errors,
        "enc_ms": _quantiles(latencies_enc),
        "dec_ms": _quantiles(latencies_dec),
    }


def _quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49] * 1e3:.1f} / p99 {q[98] * 1e3:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase (default 30)")
    parser.add_argument("--concurrency", type=int, default=64, help="SAE pairs (default 64)")
    parser.add_argument(
        "--mode",
        choices=("both", "plain", "named"),
        default="both",
        help="plain ETSI requests, requests named by a request ID, or both phases (default)",
    )
    parser.add_argument("--qubits", type=int, default=10_000_000, help="qubits per feeding run")
    parser.add_argument("--keys", type=int, default=0, help="keys to feed (default: 1,800/s)")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="before each phase, wait up to S seconds for other processes to leave the CPUs",
    )
    args = parser.parse_args()
    if args.seconds <= 0 or args.concurrency < 1:
        parser.error(
            f"--seconds must be > 0 and --concurrency >= 1: {args.seconds}, {args.concurrency}"
        )
    phases = ["plain", "named"] if args.mode == "both" else [args.mode]
    need = args.keys or int(1_800 * args.seconds * len(phases))
    print(f"versions: {package_versions_line()}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs; "
        f"load average {os.getloadavg()}"
    )
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "kme"
        init_dir(root, ports=(free_port(), free_port()))
        config = load_config(root)
        t0 = time.perf_counter()
        fed = 0
        runs = 0
        while fed < need:
            figures = run_once(config, qubits=args.qubits, pools=("alice",))
            fed += int(figures["units"])
            runs += 1
        print(
            f"fed {fed:,} keys of 256 bits from {runs} unseeded runs of {args.qubits:,} qubits "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        procs = [start_kme(root, s, Path(tmp) / f"{s}.log") for s in ("alice", "bob")]
        try:
            for s in ("alice", "bob"):
                wait_port(config.site(s).port)
            time.sleep(0.5)
            for phase in phases:
                if args.wait_quiet:
                    waited = wait_quiet(args.wait_quiet, [os.getpid(), *(p.pid for p in procs)])
                    print(
                        f"[{phase}] waited {waited:.0f} s for a quiet machine; load average "
                        f"{os.getloadavg()}"
                    )
                busy0, client0 = machine_busy_seconds(), time.process_time()
                servers0 = [process_seconds(p.pid) for p in procs]
                result = run_loop(load(config, args.seconds, args.concurrency, phase == "named"))
                result["busy"] = machine_busy_seconds() - busy0
                result["client"] = time.process_time() - client0
                result["servers"] = [
                    process_seconds(p.pid) - t for p, t in zip(procs, servers0, strict=True)
                ]
                result["load_end"] = os.getloadavg()
                results[phase] = result
                report(phase, result, args.concurrency)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=20)
        for s in ("alice", "bob"):
            path = config.site(s).store_path
            conn = connect(path)
            print(f"store {s}: {counts(conn)}")
            (pages,) = conn.execute("PRAGMA page_count").fetchone()
            (page,) = conn.execute("PRAGMA page_size").fetchone()
            (rows, size) = conn.execute(
                "SELECT count(*), coalesce(sum(length(request_id) + length(params) "
                "+ coalesce(length(response), 0)), 0) FROM requests"
            ).fetchone()
            conn.close()
            print(
                f"store {s}: {pages * page / 1e6:.1f} MB; request rows {rows:,}, "
                f"{size / max(1, rows):.0f} bytes of data each"
            )
    if len(results) == 2:
        print(
            f"named / plain: {results['named']['rate'] / results['plain']['rate']:.2f} of the "
            f"rate, {cpu_per_key(results['named']) / cpu_per_key(results['plain']):.2f} of the "
            "CPU per key"
        )
    errors = [e for r in results.values() for e in r["errors"]]
    print(f"errors {len(errors)}; duplicates none" if not errors else f"ERRORS {errors[:5]}")
    print(f"load average at end {os.getloadavg()}")
    return 0 if not errors else 1


def cpu_per_key(result: dict[str, Any]) -> float:
    """CPU seconds per key of the three processes (both KMEs and the load generator)."""
    return (float(result["client"]) + sum(result["servers"])) / max(1, int(result["keys"]))


def report(phase: str, result: dict[str, Any], concurrency: int) -> None:
    keys = max(1, int(result["keys"]))
    wall = float(result["seconds"])
    servers = result["servers"]
    client = float(result["client"])
    others = float(result["busy"]) - client - sum(servers)
    print(
        f"[{phase}] {keys:,} keys in {wall:.1f} s with {concurrency} SAE pairs: "
        f"{result['rate']:,.0f} key requests/s (enc_keys, each followed by its dec_keys), "
        f"slowest second {result['min_second']:,}, fastest {result['max_second']:,}"
    )
    print(f"[{phase}] latency enc_keys {result['enc_ms']}, dec_keys {result['dec_ms']}")
    print(f"[{phase}] keys per second: {' '.join(str(n) for n in result['per_second'])}")
    print(
        f"[{phase}] CPU per key: KME alice {servers[0] / keys * 1e3:.2f} ms, KME bob "
        f"{servers[1] / keys * 1e3:.2f} ms, load generator {client / keys * 1e3:.2f} ms "
        f"(total {cpu_per_key(result) * 1e3:.2f} ms); other processes used "
        f"{others / wall:.2f} of the 2 cores during the phase; load average at its end "
        f"{result['load_end']}"
    )


def run_loop(coro: Any) -> Any:
    """``asyncio.run``, on uvloop when installed (its TLS costs the client less CPU)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def package_versions_line() -> str:
    versions = package_versions()
    for name in ("fastapi", "uvicorn", "httpx", "cryptography", "httptools", "uvloop"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = "absent"
    return ", ".join(f"{k} {v}" for k, v in versions.items())


if __name__ == "__main__":
    sys.exit(main())
