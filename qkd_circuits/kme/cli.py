"""``qkd kme ...``: the subcommands of the KME pair (``add_parser``) and their handlers.

Importing this module imports neither fastapi, uvicorn, httpx nor cryptography: each
handler imports what it needs, so ``qkd --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qkd_circuits.errors import BackendError, ConfigError

DEFAULT_DIR = "kme"

_EPILOG = """\
two sites on this machine:
  qkd kme init --dir kme
  qkd kme serve --dir kme --site alice &
  qkd kme serve --dir kme --site bob &
  qkd kme feed --dir kme --qubits 1000000 --runs 2
  qkd kme get-key --dir kme --sae sae-alice --slave sae-bob --out a.json --ids-out ids.json
  qkd kme get-key-with-id --dir kme --sae sae-bob --master sae-alice --key-ids-from ids.json
"""


def _need_extra() -> None:
    missing = []
    for module in ("fastapi", "uvicorn", "httpx", "cryptography"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ConfigError(f"qkd kme needs {', '.join(missing)}: pip install 'qkd-circuits[kme]'")


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _ports(text: str) -> tuple[int, int]:
    parts = text.split(",")
    try:
        a, b = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two ports ALICE,BOB, got {text!r}") from None
    return a, b


def _client_options(p: argparse.ArgumentParser, role: str) -> None:
    p.add_argument(
        "--dir",
        default=DEFAULT_DIR,
        help=f"the directory of 'qkd kme init' (default {DEFAULT_DIR})",
    )
    p.add_argument("--sae", help=f"this SAE's ID ({role}); its certificate and KME come from --dir")
    p.add_argument("--kme", metavar="URL", help="the KME's URL (default: the SAE's site's KME)")
    p.add_argument("--cert", help="client certificate (PEM; default: --dir's for --sae)")
    p.add_argument("--key", help="client key (PEM; default: --dir's for --sae)")
    p.add_argument("--ca", help="CA certificate of the KMEs (default: --dir's)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument(
        "--out", metavar="PATH", help="write the key container here (mode 0600) instead of stdout"
    )


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _idempotency_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--request-id",
        metavar="UUID",
        help="the request's ID (default: a fresh one). The KME answers a repeat of a request "
        "ID with the keys it gave the first time: repeat a command whose answer was lost "
        "with the ID its error names",
    )
    p.add_argument(
        "--retry-seconds",
        type=_nonnegative_float,
        default=30.0,
        metavar="S",
        help="repeat the request after a lost answer for up to S seconds (default 30; 0: once)",
    )


def add_parser(subparsers: Any) -> None:
    """Register ``kme`` and its subcommands on ``qkd``'s subparsers (``handler`` defaults)."""
    kme = subparsers.add_parser(
        "kme",
        help="ETSI GS QKD 014 key-management servers fed by simulated QKD runs",
        description="A pair of ETSI GS QKD 014 V1.1.1 KMEs (sites alice and bob) with "
        "mutual TLS and SQLite key stores, fed by unseeded QKD runs, and a client.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = kme.add_subparsers(dest="kme_command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="make a test CA, the KMEs' and SAEs' certificates, kme.json")
    p.add_argument(
        "--dir", default=DEFAULT_DIR, help=f"directory to create (default {DEFAULT_DIR})"
    )
    p.add_argument("--host", default="127.0.0.1", help="address of both KMEs (default 127.0.0.1)")
    p.add_argument(
        "--ports",
        type=_ports,
        default=(8441, 8442),
        metavar="A,B",
        help="alice's and bob's ports (default 8441,8442)",
    )
    p.add_argument(
        "--sae",
        action="append",
        default=[],
        metavar="SITE=ID",
        help="an SAE at a site (repeatable; default sae-alice at alice and sae-bob at bob)",
    )
    p.add_argument(
        "--days", type=_positive_int, default=365, help="certificate lifetime (default 365)"
    )
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("serve", help="run one site's KME (mutual TLS, loopback by default)")
    p.add_argument(
        "--dir",
        default=DEFAULT_DIR,
        help=f"the directory of 'qkd kme init' (default {DEFAULT_DIR})",
    )
    p.add_argument("--site", required=True, choices=("alice", "bob"))
    p.add_argument("--host", help="listen address (default: kme.json's)")
    p.add_argument("--port", type=int, help="listen port (default: kme.json's)")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    p.add_argument("--access-log", action="store_true", help="log each request (never bodies)")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("feed", help="run unseeded QKD runs and feed their keys to both stores")
    p.add_argument(
        "--dir",
        default=DEFAULT_DIR,
        help=f"the directory of 'qkd kme init' (default {DEFAULT_DIR})",
    )
    p.add_argument(
        "--qubits", type=_positive_int, default=1_000_000, help="qubits per run (default 1,000,000)"
    )
    p.add_argument("--runs", type=_positive_int, default=1, help="number of runs (default 1)")
    p.add_argument("--forever", action="store_true", help="run until interrupted")
    p.add_argument("--interval", type=float, default=0.0, help="seconds between runs (default 0)")
    p.add_argument(
        "--noise", default="depolarizing=0.02", help="channel noise (default depolarizing=0.02)"
    )
    p.add_argument(
        "--direction",
        choices=("both", "alice", "bob"),
        default="both",
        help="keep keys for masters at both sites (default) or at one only",
    )
    p.set_defaults(handler=cmd_feed)

    p = sub.add_parser("status", help="ETSI Get status of the link to a slave SAE")
    _client_options(p, "the master")
    p.add_argument("--slave", required=True, help="the slave SAE's ID")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("get-key", help="ETSI Get key (enc_keys), as the master SAE")
    _client_options(p, "the master")
    p.add_argument("--slave", required=True, help="the slave SAE's ID")
    p.add_argument("--number", type=_positive_int, help="number of keys (default 1)")
    p.add_argument("--size", type=_positive_int, help="bits per key (default: the KME's key_size)")
    p.add_argument(
        "--ids-out",
        metavar="PATH",
        help="also write the key IDs alone (ETSI Key IDs JSON, what the slave needs) here",
    )
    p.add_argument(
        "--additional-slave", action="append", metavar="ID", help="another slave SAE (repeatable)"
    )
    _idempotency_options(p)
    p.set_defaults(handler=cmd_get_key)

    p = sub.add_parser(
        "get-key-with-id", help="ETSI Get key with key IDs (dec_keys), as a slave SAE"
    )
    _client_options(p, "the slave")
    p.add_argument("--master", required=True, help="the master SAE's ID")
    p.add_argument(
        "--key-id", action="append", default=[], metavar="UUID", help="a key ID (repeatable)"
    )
    p.add_argument(
        "--key-ids-from",
        metavar="PATH",
        help="read the key IDs from this file (get-key --ids-out's ETSI Key IDs JSON)",
    )
    _idempotency_options(p)
    p.set_defaults(handler=cmd_get_key_with_id)


# -- handlers ---------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    _need_extra()
    from qkd_circuits.kme.certs import init_dir
    from qkd_circuits.kme.config import SITES

    saes: dict[str, list[str]] | None = None
    if args.sae:
        saes = {site: [] for site in SITES}
        for spec in args.sae:
            site, sep, sae_id = spec.partition("=")
            if not sep or site not in saes:
                raise ConfigError(f"--sae {spec!r}: expected SITE=ID with SITE one of {SITES}")
            saes[site].append(sae_id)
    config = init_dir(args.dir, saes=saes, host=args.host, ports=args.ports, days=args.days)
    print(
        f"wrote {config.root} (mode 0700, files 0600): test CA, KME and SAE certificates, kme.json"
    )
    for site in config.sites.values():
        print(f"  {site.name:<6} {site.kme_id} at {site.url}, SAEs {', '.join(site.saes)}")
    print("  the CA key is ca/ca-key.pem: a test CA; keep a real one offline")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    _need_extra()
    from qkd_circuits.kme.config import load_config
    from qkd_circuits.kme.server import serve

    config = load_config(args.dir)
    site = config.site(args.site)
    print(
        f"{site.kme_id} (site {site.name}) on "
        f"https://{args.host or site.host}:{args.port or site.port}"
        f", mutual TLS, store {site.store_path}",
        file=sys.stderr,
        flush=True,
    )
    serve(
        config,
        args.site,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
        access_log=args.access_log,
    )
    return 0


def cmd_feed(args: argparse.Namespace) -> int:
    from qkd_circuits.kme.config import SITES, load_config
    from qkd_circuits.kme.feed import feed

    config = load_config(args.dir)
    pools = SITES if args.direction == "both" else (args.direction,)

    def show(figures: dict[str, Any]) -> None:
        if figures["units"]:
            print(
                f"run of {figures['qubits']:,} qubits: {figures['final_key_bits']:,} key bits, "
                f"{figures['units']:,} keys of 256 bits fed to both stores "
                f"({figures['seconds']} s)",
                flush=True,
            )
        else:
            print(
                f"run of {figures['qubits']:,} qubits: no key ({figures.get('reason')})", flush=True
            )

    try:
        feed(
            config,
            qubits=args.qubits,
            runs=None if args.forever else args.runs,
            interval=args.interval,
            noise=args.noise,
            pools=pools,
            on_run=show,
        )
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


def _client(args: argparse.Namespace) -> Any:
    _need_extra()
    from qkd_circuits.kme.client import KMEClient, RetryPolicy
    from qkd_circuits.kme.config import load_config

    retry = RetryPolicy(seconds=getattr(args, "retry_seconds", 30.0))
    if args.kme and args.cert and args.key and args.ca:
        return KMEClient(
            args.kme, cert=args.cert, key=args.key, ca=args.ca, timeout=args.timeout, retry=retry
        )
    if not args.sae:
        raise ConfigError("give --sae ID (with --dir), or --kme, --cert, --key and --ca")
    config = load_config(args.dir)
    site = config.site_of_sae(args.sae)
    cert, key = config.sae_cert(args.sae)
    return KMEClient(
        args.kme or site.url,
        cert=args.cert or cert,
        key=args.key or key,
        ca=args.ca or config.ca,
        timeout=args.timeout,
        retry=retry,
    )


def _emit(args: argparse.Namespace, obj: Any) -> None:
    text = json.dumps(obj, indent=2) + "\n"
    if args.out:
        from qkd_circuits.private_files import write_private_file

        write_private_file(args.out, text.encode())
        print(f"wrote {args.out} (mode 0600)", file=sys.stderr)
    else:
        sys.stdout.write(text)


def cmd_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _emit(args, client.status(args.slave))
    return 0


def cmd_get_key(args: argparse.Namespace) -> int:
    with _client(args) as client:
        keys = client.get_key(
            args.slave,
            number=args.number,
            size=args.size,
            additional_slave_sae_ids=args.additional_slave,
            request_id=args.request_id,
        )
    _emit(args, {"keys": keys})
    if args.ids_out:
        from qkd_circuits.private_files import write_private_file

        ids = {"key_IDs": [{"key_ID": k["key_ID"]} for k in keys]}
        write_private_file(args.ids_out, (json.dumps(ids, indent=2) + "\n").encode())
        print(f"wrote {args.ids_out} (the key IDs, for the slave SAE)", file=sys.stderr)
    return 0


def _key_ids(args: argparse.Namespace) -> list[str]:
    ids = list(args.key_id)
    if args.key_ids_from:
        try:
            doc = json.loads(Path(args.key_ids_from).read_text(encoding="utf-8"))
            ids += [str(entry["key_ID"]) for entry in doc["key_IDs"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"--key-ids-from {args.key_ids_from!r}: {exc!r}") from None
    if not ids:
        raise ConfigError("give --key-id UUID (repeatable) or --key-ids-from PATH")
    return ids


def cmd_get_key_with_id(args: argparse.Namespace) -> int:
    with _client(args) as client:
        keys = client.get_key_with_ids(args.master, _key_ids(args), request_id=args.request_id)
    _emit(args, {"keys": keys})
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qkd_circuits.kme ARGS`` = ``qkd kme ARGS``."""
    parser = argparse.ArgumentParser(prog="qkd")
    add_parser(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(["kme", *(sys.argv[1:] if argv is None else argv)])
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"qkd kme: error: {exc}", file=sys.stderr)
        return 2
    except BackendError as exc:
        print(f"qkd kme: error: {exc}", file=sys.stderr)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        return 130
