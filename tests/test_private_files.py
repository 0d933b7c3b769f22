import json
import stat

import numpy as np
import pytest

from qkd_circuits.errors import ConfigError
from qkd_circuits.private_files import read_key_file, write_key_file, write_private_file


def test_key_file_is_owner_only_and_round_trips(tmp_path):
    a = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1], dtype=np.uint8)
    path = write_key_file(tmp_path / "keys.json", a, a.copy(), reproducible=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = json.loads(path.read_text())
    assert record == {"alice": "b280", "bob": "b280", "bits": 9, "reproducible": False}
    alice, bob = read_key_file(path)
    assert np.array_equal(alice, a) and np.array_equal(bob, a)


def test_overwriting_keeps_0600_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "k"
    path.write_text("old")
    path.chmod(0o644)
    write_private_file(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["k"]


def test_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        write_private_file(tmp_path / "missing" / "k", b"x")
    with pytest.raises(ConfigError, match="is a directory"):
        write_private_file(tmp_path, b"x")
    with pytest.raises(ConfigError, match="differ in length"):
        write_key_file(
            tmp_path / "k", np.zeros(3, np.uint8), np.zeros(2, np.uint8), reproducible=True
        )
    (tmp_path / "bad").write_text("{}")
    with pytest.raises(ConfigError, match="cannot read key file"):
        read_key_file(tmp_path / "bad")
