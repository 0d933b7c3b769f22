import numpy as np
import pytest

from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.sifting import sift


def test_keeps_matching_bases_and_records_announcements():
    a_bits = np.array([1, 0, 1, 1, 0], dtype=np.uint8)
    a_bases = np.array([0, 1, 1, 0, 0], dtype=np.uint8)
    b_bits = np.array([1, 1, 0, 1, 1], dtype=np.uint8)
    b_bases = np.array([0, 0, 1, 1, 0], dtype=np.uint8)
    channel = PublicChannel()
    s = sift(a_bits, a_bases, b_bits, b_bases, channel=channel)
    assert s.positions.tolist() == [0, 2, 4]
    assert s.alice.tolist() == [1, 1, 0] and s.bob.tolist() == [1, 0, 1]
    assert s.bases.tolist() == [0, 1, 0]
    assert s.error_rate() == pytest.approx(2 / 3)
    assert s.error_rate_by_basis() == {"Z": 0.5, "X": 1.0}
    # Basis announcements are public but say nothing about the key.
    assert channel.message_count(stage="sifting") == 2
    assert channel.total_leaked_bits() == 0


def test_empty_basis_gives_nan():
    s = sift([1], [0], [1], [0])
    assert s.error_rate_by_basis()["Z"] == 0.0 and np.isnan(s.error_rate_by_basis()["X"])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (([1, 0], [0, 1], [1], [0, 1]), "one length"),
        (([1, 2], [0, 1], [1, 0], [0, 1]), "found 2"),
        (([[1, 0]], [0, 1], [1, 0], [0, 1]), "1-D"),
    ],
)
def test_bad_input(args, fragment):
    with pytest.raises(ConfigError, match=fragment):
        sift(*args)


def test_the_channel_records_non_binary_announcements_as_they_are():
    """A message of basis values 0/1/2 (six-state) or settings 0..3 (E91) must reach the
    transcript unchanged: bit-packing would turn every non-zero value into 1, and the
    authentication tag would then cover a different message than the one sent."""
    channel = PublicChannel()
    bases = np.array([0, 1, 2, 3, 1], dtype=np.uint8)
    channel.send("sifting", "bob", bases)
    channel.send("sifting", "alice", np.array([1, 0, 1], dtype=np.uint8))
    first, second = channel.messages
    assert first.payload == bases.tobytes()
    assert second.payload == np.packbits([1, 0, 1]).tobytes()
