"""``qkd kme ...`` (through ``python -m qkd_circuits.kme``'s ``main``): init's files, the
client commands, their errors; and ``qkd``'s start-up imports none of the KME's libraries."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from qkd_circuits.kme.cli import main


def _modes(root: Path) -> set[int]:
    return {stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


def test_init_writes_private_files_and_refuses_to_overwrite(tmp_path, capsys) -> None:
    root = tmp_path / "kme"
    assert main(["init", "--dir", str(root), "--sae", "alice=app-a", "--sae", "bob=app-b"]) == 0
    assert _modes(root) == {0o700, 0o600}
    config = json.loads((root / "kme.json").read_text())
    assert config["sites"]["alice"]["host"] == "127.0.0.1"
    assert config["sites"]["bob"]["saes"] == ["app-b"]
    assert (root / "sae" / "app-a.pem").exists()
    assert main(["init", "--dir", str(root)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def test_serve_refuses_a_non_loopback_address(pair, capsys) -> None:
    assert (
        main(["serve", "--dir", str(pair.config.root), "--site", "alice", "--host", "0.0.0.0"]) == 2
    )
    assert "not a loopback address" in capsys.readouterr().err


def test_get_key_and_get_key_with_id(pair, tmp_path, capsys) -> None:
    pair.feed(10)
    root = str(pair.config.root)
    out = tmp_path / "keys.json"
    assert (
        main(
            [
                "get-key",
                "--dir",
                root,
                "--sae",
                "sae-alice",
                "--slave",
                "sae-bob",
                "--number",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    keys = json.loads(out.read_text())["keys"]
    capsys.readouterr()

    def get_with_ids(*key_ids: str) -> int:
        ids = [arg for key_id in key_ids for arg in ("--key-id", key_id)]
        return main(["get-key-with-id", "--dir", root, "--sae", "sae-bob", "--master",
                     "sae-alice", *ids])  # fmt: skip

    assert get_with_ids(keys[0]["key_ID"], keys[1]["key_ID"]) == 0
    assert json.loads(capsys.readouterr().out)["keys"] == keys
    assert get_with_ids(keys[0]["key_ID"]) == 1
    assert "400" in capsys.readouterr().err
    assert main(["status", "--dir", root, "--sae", "sae-alice", "--slave", "sae-bob"]) == 0
    assert json.loads(capsys.readouterr().out)["source_KME_ID"] == "KME-alice"


def test_get_key_with_a_request_id_repeats_the_same_answer(pair, capsys) -> None:
    pair.feed(5)
    root = str(pair.config.root)
    request_id = "0b7e2f9c-3c55-4d7e-9a51-6c1d2e8f4a30"
    argv = ["get-key", "--dir", root, "--sae", "sae-alice", "--slave", "sae-bob"]
    assert main([*argv, "--request-id", request_id, "--number", "2"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*argv, "--request-id", request_id, "--number", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert main([*argv, "--request-id", request_id]) == 1  # number 1: another request
    assert "other parameters" in capsys.readouterr().err
    assert main([*argv, "--request-id", "nope"]) == 2
    assert "must be a UUID" in capsys.readouterr().err
    assert main([*argv, "--retry-seconds", "-1"]) == 2
    ids = [k["key_ID"] for k in first["keys"]]
    dec = ["get-key-with-id", "--dir", root, "--sae", "sae-bob", "--master", "sae-alice"]
    dec_id = "5d0c8a1e-7b2f-4c3a-8e6d-9f1a2b3c4d5e"
    for _ in range(2):
        argv = [*dec, "--key-id", ids[0], "--key-id", ids[1], "--request-id", dec_id]
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out) == first


def test_client_errors_are_clear(pair, tmp_path, capsys) -> None:
    root = str(pair.config.root)
    cert, key = pair.config.sae_cert("sae-alice")
    assert (
        main(
            [
                "get-key",
                "--kme",
                "https://127.0.0.1:1",
                "--cert",
                str(cert),
                "--key",
                str(key),
                "--ca",
                str(pair.config.ca),
                "--slave",
                "sae-bob",
            ]
        )
        == 1
    )
    assert "connection refused" in capsys.readouterr().err
    other = tmp_path / "other"
    assert main(["init", "--dir", str(other)]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "get-key",
                "--kme",
                pair.config.site("alice").url,
                "--cert",
                str(other / "sae" / "sae-alice.pem"),
                "--key",
                str(other / "sae" / "sae-alice-key.pem"),
                "--ca",
                str(pair.config.ca),
                "--slave",
                "sae-bob",
            ]
        )
        == 1
    )
    assert "refused the TLS connection" in capsys.readouterr().err
    assert main(["get-key", "--dir", root, "--sae", "nobody", "--slave", "sae-bob"]) == 2
    assert "unknown SAE" in capsys.readouterr().err
    assert main(["get-key", "--dir", str(tmp_path / "none"), "--sae", "x", "--slave", "y"]) == 2
    assert "qkd kme init" in capsys.readouterr().err


def test_importing_the_kme_cli_imports_no_server_library() -> None:
    probe = (
        "import sys, json; import qkd_circuits.kme.cli; "
        "print(json.dumps([m for m in ('fastapi', 'uvicorn', 'httpx', 'cryptography', 'starlette',"
        " 'qiskit') if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
