"""``qkd kme init``: a local test CA, the two KMEs' certificates and the SAEs' client
certificates (``cryptography``), and ``kme.json``.

Every key is ECDSA P-256. A KME certificate serves TLS (``serverAuth``, SANs: the
site's host, ``localhost``, ``127.0.0.1``, ``::1``) and authenticates its KME to the
peer KME (``clientAuth``); an SAE certificate only authenticates (``clientAuth``),
with the SAE ID as its subject common name and as a ``URI`` SAN
``urn:qkd-circuits:sae:<ID>``. The KMEs identify a caller by its certificate's CN.

Every file is written with mode 0600 and every directory with 0700. This is a
*test* CA: its key (``ca/ca-key.pem``) sits beside the servers so that more SAEs can
be added; a real deployment keeps it offline and gives each site only its own files.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qkd_circuits.errors import ConfigError
from qkd_circuits.kme.config import (
    CONFIG_NAME,
    SITES,
    KMEConfig,
    Limits,
    Site,
    check_id,
    config_to_dict,
    load_config,
)
from qkd_circuits.outputs import write_all

SAE_URI_PREFIX = "urn:qkd-circuits:sae:"


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qkd-circuits test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _san_for_host(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    try:
        ip = ipaddress.ip_address(host)
        if x509.IPAddress(ip) not in names:
            names.append(x509.IPAddress(ip))
    except ValueError:
        if host != "localhost":
            names.append(x509.DNSName(host))
    return names


def issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    cn: str,
    *,
    server_host: str | None,
    days: int,
) -> tuple[bytes, bytes]:
    """A certificate for ``cn`` signed by the CA: a KME's (``server_host`` given:
    server and client use) or an SAE's (client use only). Returns ``(cert, key)`` PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server_host is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_san_for_host(server_host)), critical=False
        ).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(SAE_URI_PREFIX + cn)]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return _cert_pem(cert), _key_pem(key)


def make_ca(
    days: int, common_name: str = "qkd-circuits test CA"
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _mkdir_private(path: Path) -> None:
    path.mkdir(mode=0o700, parents=False, exist_ok=True)
    os.chmod(path, 0o700)


def init_dir(
    directory: str | Path,
    *,
    saes: dict[str, list[str]] | None = None,
    host: str = "127.0.0.1",
    ports: tuple[int, int] = (8441, 8442),
    days: int = 365,
    limits: Limits | None = None,
) -> KMEConfig:
    """Create ``directory`` with a test CA, both KMEs' and every SAE's certificates, and
    ``kme.json``; return the configuration.

    Args:
        saes: SAE IDs per site (default: ``sae-alice`` at alice, ``sae-bob`` at bob).
        host: The address both KMEs listen on (loopback by default).
        ports: The KMEs' ports, alice's then bob's.

    Raises:
        ConfigError: the directory already holds a ``kme.json``, or a bad ID or port.
    """
    root = Path(directory)
    if (root / CONFIG_NAME).exists():
        raise ConfigError(f"{str(root / CONFIG_NAME)!r} exists; refusing to overwrite its CA")
    saes = saes or {site: [f"sae-{site}"] for site in SITES}
    if sorted(saes) != sorted(SITES) or not all(saes.values()):
        raise ConfigError(f"give at least one SAE for each site {SITES}")
    ids = [check_id(s, "SAE ID") for site in SITES for s in saes[site]]
    kme_ids = {site: f"KME-{site}" for site in SITES}
    if len(set(ids) | set(kme_ids.values())) != len(ids) + len(kme_ids):
        raise ConfigError(f"SAE IDs must be distinct from each other and from the KME IDs: {ids}")
    for port in ports:
        if not 1 <= port <= 65535:
            raise ConfigError(f"port {port} is not in 1..65535")
    if ports[0] == ports[1]:
        raise ConfigError("the two KMEs need two different ports")
    if days < 1:
        raise ConfigError(f"--days must be >= 1, got {days}")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    for sub in ("ca", "sae", *SITES):
        _mkdir_private(root / sub)

    ca_cert, ca_key = make_ca(days)
    files: list[tuple[Path, bytes, int]] = [
        (root / "ca" / "ca.pem", _cert_pem(ca_cert), 0o600),
        (root / "ca" / "ca-key.pem", _key_pem(ca_key), 0o600),
    ]
    sites = {}
    for site, port in zip(SITES, ports, strict=True):
        cert, key = issue(ca_cert, ca_key, kme_ids[site], server_host=host, days=days)
        sites[site] = Site(
            name=site,
            kme_id=kme_ids[site],
            host=host,
            port=port,
            saes=tuple(saes[site]),
            dir=(root / site).resolve(),
        )
        files += [(root / site / "kme.pem", cert, 0o600), (root / site / "kme-key.pem", key, 0o600)]
        for sae in saes[site]:
            cert, key = issue(ca_cert, ca_key, sae, server_host=None, days=days)
            files += [
                (root / "sae" / f"{sae}.pem", cert, 0o600),
                (root / "sae" / f"{sae}-key.pem", key, 0o600),
            ]
    config = KMEConfig(
        root=root.resolve(),
        ca=(root / "ca" / "ca.pem").resolve(),
        sites=sites,
        limits=limits or Limits(),
    )
    config.limits.check()
    files.append(
        (root / CONFIG_NAME, (json.dumps(config_to_dict(config), indent=2) + "\n").encode(), 0o600)
    )
    write_all(files)
    return load_config(root)
