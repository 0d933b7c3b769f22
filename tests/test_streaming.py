"""Runs streamed in blocks: each block is a run of its own, the report pools them."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from qkd_circuits.cli import main
from qkd_circuits.errors import ConfigError
from qkd_circuits.private_files import key_file_bytes
from qkd_circuits.runner import (
    DEFAULT_BLOCK_QUBITS,
    MIN_BLOCK_QUBITS,
    RunConfig,
    run,
)

NOISE = "depolarizing=0.04"


def without_timings(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if k != "timings_s"}


@pytest.mark.parametrize(
    ("qubits", "block", "count"),
    [(10, None, 1), (DEFAULT_BLOCK_QUBITS, None, 1), (DEFAULT_BLOCK_QUBITS + 1, None, 2),
     (50_000, 10_000, 5), (50_001, 10_000, 6), (29_999, 30_000, 1)],
)  # fmt: skip
def test_block_sizes_split_the_run_evenly(qubits: int, block: int | None, count: int) -> None:
    sizes = RunConfig(qubits=qubits, block_qubits=block).block_sizes
    assert len(sizes) == count and sum(sizes) == qubits
    assert max(sizes) - min(sizes) <= 1
    assert max(sizes) <= (block or DEFAULT_BLOCK_QUBITS)


def test_a_streamed_run_is_its_blocks_pooled() -> None:
    report = run(qubits=240_000, block_qubits=80_000, noise=NOISE, seed=11)
    blocks = report.blocks
    assert blocks is not None and blocks["count"] == 3 and blocks["emitted"] == 3
    per = blocks["per_block"]
    assert [b["qubits"] for b in per] == [80_000] * 3
    for name in ("sifted_bits", "sample_bits", "sample_errors", "final_key_bits",
                 "auth_key_bits_used", "net_key_bits"):  # fmt: skip
        assert getattr(report, name) == sum(b[name] for b in per), name
    assert report.qber == pytest.approx(report.sample_errors / report.sample_bits)
    assert report.key_length is not None
    assert report.key_length["length"] == report.final_key_bits
    assert report.reconciliation is not None
    assert report.reconciliation["leaked_bits"] == sum(
        b["reconciliation"]["leaked_bits"] for b in per
    )
    assert report.leaked_bits["estimation"] == sum(b["leaked_bits"]["estimation"] for b in per)
    # Each block at eps / 3, so the concatenated key keeps the eps the run asked for.
    pp = report.postprocessing
    for name in ("eps_sec", "eps_cor", "eps_auth"):
        assert blocks[f"{name}_total"] == pp[name]
        assert blocks[f"{name}_block"] == pytest.approx(pp[name] / 3)
    assert all(b["key_length"]["terms"]["log_eps_pe"] < -57.2 for b in per)
    # The key is the blocks' keys, concatenated, and both parties hold it.
    assert report.key_alice is not None and report.key_bob is not None
    assert report.key_alice.size == report.final_key_bits
    np.testing.assert_array_equal(report.key_alice, report.key_bob)
    assert report.keys_match is True and not report.aborted
    # The pooled QBER is what a single distillation of that many exchanges measures,
    # within 5 binomial standard errors of the channel's 2 %.
    stderr = np.sqrt(0.02 * 0.98 / report.sifted_bits)
    assert abs(report.qber_actual - 0.02) < 5 * stderr


def test_the_first_block_is_the_run_of_that_many_exchanges() -> None:
    from qkd_circuits.channel.noise import NoiseSpec
    from qkd_circuits.postprocessing.pipeline import PostprocessingConfig
    from qkd_circuits.runner import run_config

    streamed = run(qubits=60_000, block_qubits=30_000, noise=NOISE, seed=5)
    # ... at half of each eps, as every block of two is distilled.
    halves = PostprocessingConfig(eps_sec=0.5e-10, eps_cor=0.5e-15, eps_auth=0.5e-15)
    alone = run_config(
        RunConfig(qubits=30_000, noise=NoiseSpec.parse(NOISE), seed=5, postprocessing=halves)
    )
    assert streamed.blocks is not None
    first = without_timings(streamed.blocks["per_block"][0])
    expected = {k: v for k, v in alone.to_dict().items() if k in first}
    assert first == without_timings(expected)
    assert alone.key_alice is not None and streamed.key_alice is not None
    np.testing.assert_array_equal(streamed.key_alice[: alone.final_key_bits], alone.key_alice)


def test_seeded_streams_reproduce_and_unseeded_differ() -> None:
    a = run(qubits=40_000, block_qubits=20_000, noise=NOISE, seed=3)
    b = run(qubits=40_000, block_qubits=20_000, noise=NOISE, seed=3)
    assert a.key_alice is not None and b.key_alice is not None
    np.testing.assert_array_equal(a.key_alice, b.key_alice)
    c = run(qubits=40_000, block_qubits=20_000, noise=NOISE)
    assert c.seed is None and c.reproducible is False
    assert c.key_alice is not None and not np.array_equal(
        c.key_alice[: min(c.key_alice.size, a.key_alice.size)],
        a.key_alice[: min(c.key_alice.size, a.key_alice.size)],
    )


def test_one_block_reports_are_unchanged() -> None:
    report = run(qubits=20_000, noise=NOISE, seed=2)
    assert report.blocks is None and "blocks" not in report.to_dict()
    same = run(qubits=20_000, noise=NOISE, seed=2, block_qubits=20_000)
    assert without_timings(same.to_dict()) == without_timings(report.to_dict())


def test_streamed_report_follows_the_schema_and_its_key_file_is_the_key() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from qkd_circuits.report import report_schema

    report = run(qubits=120_000, block_qubits=60_000, noise=NOISE, seed=8, protocol="six-state")
    jsonschema.Draft202012Validator(report_schema()).validate(json.loads(report.to_json()))
    assert report.key_alice is not None and report.key_bob is not None
    key = json.loads(key_file_bytes(report.key_alice, report.key_bob, reproducible=True))
    assert key["bits"] == report.final_key_bits


def test_what_eve_knows_is_pooled_over_the_blocks() -> None:
    """The pooled ``eve`` object counts every block's attacked bits, and her guess of the
    concatenated key is still a coin toss."""
    jsonschema = pytest.importorskip("jsonschema")
    from qkd_circuits.report import report_schema

    report = run(qubits=90_000, block_qubits=30_000, eve="cloner=0.02", noise=NOISE, seed=9)
    jsonschema.Draft202012Validator(report_schema()).validate(json.loads(report.to_json()))
    assert report.blocks is not None and report.blocks["emitted"] == 3
    eve = report.eve
    assert eve["attacked"] == report.sifted_bits  # the cloner touches every exchange
    m = report.final_key_bits
    assert abs(eve["final_key_agreement"] - 0.5) < 5 * 0.5 / m**0.5
    assert eve["key_agreement_before_amplification"] > 0.6  # 1 − 0.36 on attacked bits
    assert "eve" not in report.blocks["per_block"][0]  # a run-level field


def test_every_block_aborting_aborts_the_run() -> None:
    report = run(qubits=30_000, block_qubits=10_000, eve="intercept-resend", seed=4)
    assert report.aborted and report.final_key_bits == 0 and report.key_alice is None
    assert report.blocks is not None and report.blocks["emitted"] == 0
    assert all(b["abort_reason"] == "qber_above_threshold" for b in report.blocks["per_block"])
    assert report.abort_reason == "qber_above_threshold"
    assert "3 blocks" in (report.abort_message or "")
    assert report.keys_match is None


def test_memory_is_that_of_one_block() -> None:
    """Peak memory (numpy allocations are traced) does not grow with the number of blocks."""

    def peak(qubits: int) -> int:
        tracemalloc.start()
        try:
            run(qubits=qubits, block_qubits=50_000, noise=NOISE, seed=1)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    two, eight = peak(100_000), peak(400_000)
    # Eight blocks hold four times the key of two (~0.2 bit per qubit, packed per
    # block): a few hundred kB over a peak of tens of MB.
    assert eight < 1.15 * two, (two, eight)


def test_progress_counts_blocks_and_every_exchange() -> None:
    from qkd_circuits.runner import run_config

    blocks: list[tuple[int, int]] = []
    seen: list[tuple[int, int]] = []
    config = RunConfig(qubits=30_000, block_qubits=10_000, seed=1)
    run_config(config, progress=lambda d, t: seen.append((d, t)),
               on_block=lambda i, n: blocks.append((i, n)))  # fmt: skip
    assert blocks == [(0, 3), (1, 3), (2, 3)]
    assert seen and all(t == 30_000 for _, t in seen) and seen[-1][0] == 30_000
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_block_size_is_checked_before_any_work() -> None:
    with pytest.raises(ConfigError, match=f"block_qubits.*{MIN_BLOCK_QUBITS - 1}"):
        RunConfig(qubits=5000, block_qubits=MIN_BLOCK_QUBITS - 1)
    with pytest.raises(ConfigError, match="block_qubits applies to Aer"):
        RunConfig(qubits=50_000, block_qubits=50_000, backend="fake:manila")
    saved = RunConfig(qubits=50_000, block_qubits=20_000)
    assert RunConfig.from_dict(saved.to_dict()) == saved


def test_cli_block_option(tmp_path, capsys) -> None:
    out = tmp_path / "report.json"
    keys = tmp_path / "keys.json"
    argv = ["run", "--qubits", "40000", "--block", "20000", "--noise", NOISE, "--seed", "6",
            "--json", str(out), "--keys", str(keys)]  # fmt: skip
    assert main(argv) == 0
    summary = capsys.readouterr().out
    assert "2 blocks of ~20,000 qubits" in summary
    report = json.loads(out.read_text())
    assert report["blocks"]["count"] == 2
    assert json.loads(keys.read_text())["bits"] == report["final_key_bits"] > 0
    assert main(["run", "--block", "9999", "--quiet"]) == 2
    assert "'9999' is not an integer >= 10000" in capsys.readouterr().err


def test_a_block_too_large_for_memory_names_a_block_that_fits(monkeypatch) -> None:
    from qkd_circuits import runner

    monkeypatch.setattr(runner, "_available_memory", lambda: 300 * 2**20)
    with pytest.raises(ConfigError, match=r"use --block [\d,]+ or less"):
        runner.check_fits_in_memory(10**8, 10**7)
    with pytest.raises(ConfigError, match=r"at most [1-9]"):
        runner.check_fits_in_memory(10**9, 10**5)


def test_mixed_blocks_pool_only_the_emitting_blocks_key_length() -> None:
    report = run(qubits=300_000, block_qubits=15_000, noise="depolarizing=0.06", seed=3)
    assert report.blocks is not None
    per = report.blocks["per_block"]
    emitted = [b for b in per if not b["aborted"]]
    assert 0 < len(emitted) < len(per)
    kl = report.key_length
    assert kl is not None and kl["length"] == report.final_key_bits
    assert kl["terms"]["tolerance"] == max(b["key_length"]["terms"]["tolerance"] for b in emitted)
    assert kl["terms"]["bound"] == pytest.approx(
        sum(b["key_length"]["terms"]["bound"] for b in emitted)
    )


def test_all_aborted_blocks_report_their_most_common_reason() -> None:
    report = run(
        protocol="six-state", qubits=120_000, block_qubits=20_000, noise="depolarizing=0.2", seed=3
    )
    reasons = [b["abort_reason"] for b in report.blocks["per_block"]]  # type: ignore[index]
    assert report.aborted
    assert report.abort_reason == max(set(reasons), key=reasons.count)


def test_a_link_run_too_large_for_memory_gives_its_advice_in_pulses(monkeypatch) -> None:
    """Over a link memory follows the detections, but --qubits and --block count pulses:
    the advice converts (at 0 km with single photons about 0.1 detection per pulse)."""
    from qkd_circuits import runner
    from qkd_circuits.analysis.link import get_preset
    from qkd_circuits.optics.link import LinkModel

    monkeypatch.setattr(runner, "_available_memory", lambda: 300 * 2**20)
    link = LinkModel(distance_km=0, parameters=get_preset("gys"))
    config = RunConfig(qubits=10**11, block_qubits=10**9, link=link)
    total, block = config.memory_exchanges()
    with pytest.raises(ConfigError, match=r"use --block ([\d,]+) or less") as info:
        config.check_memory()
    advised = int(info.value.args[0].rsplit("use --block ", 1)[1].split()[0].replace(",", ""))
    assert "bytes per detection" in str(info.value) and "per qubit" not in str(info.value)
    # The advised block, in pulses, gives detections that fit: well under `block`.
    assert advised * total / config.qubits < block / 2
