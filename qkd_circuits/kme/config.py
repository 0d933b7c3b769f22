"""The two-site configuration written by ``qkd kme init`` (``kme.json``), standard library only.

```
{"version": 1, "ca": "ca/ca.pem", "limits": {...},
 "sites": {"alice": {"kme_id": "KME-alice", "host": "127.0.0.1", "port": 8441,
                      "saes": ["sae-alice"], "dir": "alice"},
           "bob": {...}}}
```

Each site's directory holds its KME's certificate and key (``kme.pem``, ``kme-key.pem``)
and its key store (``store.db``); ``sae/`` holds each SAE's client certificate and key.
Paths are relative to the directory of ``kme.json``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qkd_circuits.errors import ConfigError

CONFIG_NAME = "kme.json"
SITES = ("alice", "bob")
UNIT_BITS = 256
"""Key material is stored and reserved in units of this many bits (32 bytes)."""
UNIT_BYTES = UNIT_BITS // 8
REQUEST_ID_EXTENSION = "qkdc_request_id"
"""Name of this KME's request-ID extension parameter (ETSI GS QKD 014 V1.1.1 §6.2 and
§6.4: in ``extension_optional`` or ``extension_mandatory`` of a Key request, in
``key_IDs_extension`` of a Key IDs request; the value is a UUID the SAE draws afresh for
each request). The ``qkdc_`` prefix follows the spec's vendor-prefixed examples
(``abc_route_type``), so it cannot be taken for another vendor's ``request_id``."""
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Limits:
    """What a KME serves (the ETSI status fields ``key_size`` ... ``max_SAE_ID_count``)."""

    key_size: int = 256
    min_key_size: int = 64
    max_key_size: int = 8192
    max_key_per_request: int = 128
    max_key_count: int = 1_000_000
    max_SAE_ID_count: int = 4  # additional slave SAEs per key (multicast)
    max_body_bytes: int = 65_536
    key_ttl_seconds: int = 86_400  # a key not retrieved by its slave SAEs in time is erased
    # how long the answer of an idempotent request is kept for the SAE's retries (at most:
    # the master's KME erases its copy as soon as a slave SAE has retrieved a key of it)
    request_window_seconds: int = 600

    def check(self) -> None:
        sizes = (self.min_key_size, self.key_size, self.max_key_size)
        if any(s <= 0 or s % 8 for s in sizes) or not sizes[0] <= sizes[1] <= sizes[2]:
            raise ConfigError(
                f"key sizes must be positive multiples of 8, min <= default <= max: {sizes}"
            )
        if not 1 <= self.max_key_per_request <= 512 or self.max_key_count < 1:
            raise ConfigError("max_key_per_request must be in 1..512, max_key_count >= 1")
        if self.max_SAE_ID_count < 0:
            raise ConfigError("max_SAE_ID_count must be >= 0")
        if self.key_ttl_seconds < 1 or self.max_body_bytes < 1024:
            raise ConfigError("key_ttl_seconds must be >= 1 and max_body_bytes >= 1024")
        if not 1 <= self.request_window_seconds <= self.key_ttl_seconds:
            raise ConfigError(
                f"request_window_seconds must be from 1 to key_ttl_seconds "
                f"({self.key_ttl_seconds}), got {self.request_window_seconds}"
            )


@dataclass(frozen=True, slots=True)
class Site:
    """One site: its KME and the SAEs attached to it."""

    name: str
    kme_id: str
    host: str
    port: int
    saes: tuple[str, ...]
    dir: Path

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def store_path(self) -> Path:
        return self.dir / "store.db"

    @property
    def cert(self) -> Path:
        return self.dir / "kme.pem"

    @property
    def key(self) -> Path:
        return self.dir / "kme-key.pem"


@dataclass(frozen=True, slots=True)
class KMEConfig:
    """Both sites, the CA, the limits; :meth:`site` and :meth:`peer` by name."""

    root: Path
    ca: Path
    sites: dict[str, Site]
    limits: Limits = field(default_factory=Limits)

    def site(self, name: str) -> Site:
        if name not in self.sites:
            raise ConfigError(f"unknown site {name!r}; the sites are {', '.join(self.sites)}")
        return self.sites[name]

    def peer(self, name: str) -> Site:
        return self.site(next(s for s in self.sites if s != name))

    def site_of_sae(self, sae_id: str) -> Site:
        for site in self.sites.values():
            if sae_id in site.saes:
                return site
        raise ConfigError(f"unknown SAE {sae_id!r}; the SAEs are {', '.join(self.all_saes())}")

    def all_saes(self) -> list[str]:
        return [s for site in self.sites.values() for s in site.saes]

    def sae_cert(self, sae_id: str) -> tuple[Path, Path]:
        """The client certificate and key of ``sae_id`` written by ``qkd kme init``."""
        return self.root / "sae" / f"{sae_id}.pem", self.root / "sae" / f"{sae_id}-key.pem"


def check_id(text: str, what: str) -> str:
    if not isinstance(text, str) or not _ID.match(text):
        raise ConfigError(
            f"{what} {text!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return text


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_to_dict(config: KMEConfig) -> dict[str, Any]:
    return {
        "version": 1,
        "ca": str(config.ca.relative_to(config.root)),
        "limits": {name: getattr(config.limits, name) for name in Limits.__slots__},
        "sites": {
            name: {
                "kme_id": s.kme_id,
                "host": s.host,
                "port": s.port,
                "saes": list(s.saes),
                "dir": str(s.dir.relative_to(config.root)),
            }
            for name, s in config.sites.items()
        },
    }


def load_config(directory: str | Path) -> KMEConfig:
    """Read ``DIR/kme.json`` (written by ``qkd kme init``).

    Raises:
        ConfigError: no such file, or a malformed one.
    """
    root = Path(directory).resolve()
    path = root / CONFIG_NAME
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no {CONFIG_NAME} in {str(directory)!r}: create one with 'qkd kme init --dir "
            f"{directory}'"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc}") from None
    try:
        limits = Limits(**raw.get("limits", {}))
        limits.check()
        sites = {}
        for name, s in raw["sites"].items():
            sites[name] = Site(
                name=name,
                kme_id=check_id(s["kme_id"], "KME ID"),
                host=str(s["host"]),
                port=int(s["port"]),
                saes=tuple(check_id(x, "SAE ID") for x in s["saes"]),
                dir=root / s["dir"],
            )
        if sorted(sites) != sorted(SITES):
            raise ConfigError(f"{path}: expected the sites {SITES}, got {sorted(sites)}")
        return KMEConfig(root=root, ca=root / raw["ca"], sites=sites, limits=limits)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{str(path)!r} is malformed: {exc!r}") from None
