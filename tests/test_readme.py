"""Every command the README shows runs here and gives what the README says it gives."""

from __future__ import annotations

import json
import math
import re
import shlex
import stat
from pathlib import Path
from typing import Any

import pytest

from qkd_circuits.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"

TESTED = {
    "qkd run bb84 --qubits 100000 --noise depolarizing=0.02 --json report.json --plot report.png",
    "qkd run --qubits 1000000 --noise depolarizing=0.04 --keys keys.json",
    "qkd run --eve intercept-resend",
    "qkd run --qubits 1000000 --noise depolarizing=0.02 --eve cloner=0.02 --seed 7",
    "qkd attack-curve --attack cloner --plot attack.png",
    "qkd attack-curve --attack intercept-resend:basis=breidbart --protocol six-state "
    "--json curve.json",
    "qkd keyrate --protocol decoy-bb84 --params gys --distances 0:200:5 "
    "--analysis infinite-decoy,vacuum-weak,gllp,finite:1e6,plob --plot rates.png",
    "qkd keyrate --params gys --max-distance",
    "qkd run --backend fake:torino --qubits 20000",
    "qkd run --backend fake:torino --qubits 20000 --dry-run",
    "qkd run --backend fake:torino --qubits 20000 --max-shots 10000",
    "qkd run --backend ibm:least-busy --qubits 2000 --submit-only --run-dir runs/x",
    "qkd compare --qubits 200000 --noise depolarizing=0.02 --plot compare.png",
    "qkd protocols",
    "qkd resume runs/x",
    "qkd run --qubits 3000000 --block 1000000 --noise depolarizing=0.04 --keys keys.json "
    "--json stream.json",
    "qkd keyrate --params gys --distances 0:40:5 --simulate 1e9 --simulate-points 3 "
    "--plot simulated.png",
    "qkd kme init --dir kme",
    "qkd kme serve --dir kme --site alice &",
    "qkd kme serve --dir kme --site bob &",
    "qkd kme feed --dir kme --qubits 1000000 --runs 1",
    "qkd kme get-key --dir kme --sae sae-alice --slave sae-bob --out a.json --ids-out ids.json",
    "qkd kme get-key-with-id --dir kme --sae sae-bob --master sae-alice --key-ids-from ids.json "
    "--out b.json",
    "qkd run bb84 --distance 25 --qubits 100000000",
    "qkd run bb84 --distance 50 --source wcp:mu=0.5 --qubits 1000000000 --eve pns",
    "qkd run decoy-bb84 --distance 50 --qubits 10000000000",
    "qkd run decoy-bb84 --distance 50 --qubits 1000000000 --eve pns",
    # Run, as written, by tests/sweep/test_readme_sweep.py.
    "qkd sweep sweep.toml --table sweep.parquet",
    "qkd sweep sweep.toml --table dask.parquet --dask-local 2",
    "qkd sweep-plot sweep.parquet --out plots",
}
NOT_RUN = {
    "pip install -e .": "installs the package (CI does it)",
    'pip install -e ".[test]"': "installs the test extras (CI does it)",
    "python -m pytest": "is the test suite itself",
    "python -c": "saves IBM Quantum credentials on the user's machine",
    'pip install -e ".[kme]"': "installs the KME extra (CI installs its packages with the tests)",
    "python -m qkd_circuits.kme.hybrid": "run with the whole set-up in tests/kme",
}


def readme_commands() -> list[str]:
    """Every shell command in the README: each line of a ``bash`` block, and each
    ``$ `` prompt line of the other blocks (usage synopses are not commands)."""
    out = []
    for lang, block in re.findall(r"```(\w*)\n(.*?)```", README.read_text(), flags=re.S):
        for raw in block.splitlines():
            line = raw.strip()
            if lang != "bash":
                if not line.startswith("$ "):
                    continue
                line = line.removeprefix("$ ")
            if line.startswith(("qkd ", "pip ", "python ")):
                out.append(line.split("  #")[0].strip())
    return out


def test_every_readme_command_is_tested_here() -> None:
    commands = readme_commands()
    assert commands
    for command in commands:
        parts = [p.strip() for p in command.split("&&")]
        for part in parts:
            if part.startswith("qkd "):
                assert part in TESTED, f"README command not tested: {part}"
            else:
                assert any(part.startswith(k) for k in NOT_RUN), f"README command not run: {part}"


def qkd(command: str) -> int:
    assert command in TESTED
    return main(shlex.split(command)[1:])


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_quick_start_writes_a_report_and_a_plot(in_tmp, capsys) -> None:
    assert qkd(next(c for c in TESTED if "bb84 --qubits 100000" in c)) == 0
    out = capsys.readouterr().out
    report = json.loads((in_tmp / "report.json").read_text())
    assert not report["aborted"] and report["final_key_bits"] > 10_000 and report["keys_match"]
    assert report["reproducible"] is False and report["seed"] is None
    assert (in_tmp / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in out and "report.json" in out and "report.png" in out


@pytest.mark.slow
def test_the_million_qubit_example_gives_the_key_the_readme_shows(in_tmp, capsys) -> None:
    assert qkd("qkd run --qubits 1000000 --noise depolarizing=0.04 --keys keys.json") == 0
    out = capsys.readouterr().out
    shown = int(
        re.search(r"result\s+([\d,]+) secret key bits", README.read_text())[1].replace(",", "")
    )  # type: ignore[index]
    got = int(re.search(r"result\s+([\d,]+) secret key bits", out)[1].replace(",", ""))  # type: ignore[index]
    # Unseeded runs differ: over 10 runs the key was 282,914 ± 2,533 bits (sample s.d.;
    # the sample QBER moves the tolerance level and Cascade's leakage). The README's
    # run and this one are two draws: their difference has s.d. sqrt(2) * 2,533.
    assert abs(got - shown) < 5 * math.sqrt(2) * 2_533, (got, shown)
    assert "keys match" in out and "secrets from the OS CSPRNG" in out
    keys = in_tmp / "keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    record = json.loads(keys.read_text())
    assert record["alice"] == record["bob"] and record["bits"] == got and not record["reproducible"]


def test_full_intercept_resend_aborts_and_eve_knows_three_quarters(in_tmp, capsys) -> None:
    assert qkd("qkd run --eve intercept-resend") == 0
    out = capsys.readouterr().out
    assert "ABORTED (qber_above_threshold)" in out
    found = re.search(
        r"Eve knows\s+I\(A;E\) ([\d.]+) vs I\(A;B\) ([\d.]+) .* her error ([\d.]+)%", out
    )
    assert found is not None, out
    info, ab, error = (float(v) for v in found.groups())
    se = math.sqrt(0.75 * 0.25 / 50_000)  # ~50,000 sifted bits, all attacked
    assert abs(error / 100 - 0.25) < 5 * se
    assert abs(info - 0.5) < 5 * 0.5 / math.sqrt(50_000) + 1e-3
    assert ab < 0.2  # 1 − h(1/4) = 0.189


def test_cloner_example_leaves_eve_a_coin_toss(capsys) -> None:
    command = next(c for c in TESTED if "--eve cloner=0.02" in c)
    assert qkd(command) == 0
    out = capsys.readouterr().out
    readme = README.read_text()
    for label in ("QBER actual", "Eve knows", "Eve's guess", "result"):
        shown = next(line for line in out.splitlines() if line.strip().startswith(label))
        assert shown in readme, shown  # seeded: the README shows this very output


def test_attack_curve_examples(in_tmp, capsys) -> None:
    cloner = next(c for c in TESTED if "--plot attack.png" in c)
    assert qkd(cloner) == 0
    assert (in_tmp / "attack.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "I_AE" in capsys.readouterr().out
    breidbart = next(c for c in TESTED if "--json curve.json" in c)
    assert qkd(breidbart) == 0
    doc = json.loads((in_tmp / "curve.json").read_text())
    assert doc["protocol"] == "six-state" and len(doc["points"]) == 11
    last = doc["points"][-1]  # every exchange attacked: QBER 1/3 in the six-state protocol
    assert abs(last["qber"] - 1 / 3) < 5 * math.sqrt(2 / 9 / 60_000)


def test_keyrate_examples(in_tmp, capsys) -> None:
    curves = next(c for c in TESTED if "--plot rates.png" in c)
    assert qkd(curves) == 0
    assert (in_tmp / "rates.png").stat().st_size > 10_000
    assert qkd("qkd keyrate --params gys --max-distance") == 0
    out = capsys.readouterr().out
    reach = dict(re.findall(r"^(\S+)\s+([\d.]+|inf)$", out, flags=re.M))
    assert float(reach["infinite-decoy"]) == pytest.approx(142.2, abs=0.1)


@pytest.mark.slow
def test_the_fake_device_example_distils_a_key(in_tmp, capsys) -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    assert qkd("qkd run --backend fake:torino --qubits 20000") == 0
    out = capsys.readouterr().out
    assert "keys match" in out, out
    assert "device predicts QBER 0.563%" in out and "qubits [81]" in out


def test_compare_and_protocols(in_tmp, capsys) -> None:
    """The README's comparison: every protocol on one channel; at this size only B92
    (QBER p/(1+p) ~ 1.96 %, needing ~540,000 qubits) ends without a key."""
    from qkd_circuits.protocols.registry import CHANNEL_PROTOCOLS, PROTOCOLS

    assert qkd("qkd compare --qubits 200000 --noise depolarizing=0.02 --plot compare.png") == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[3:] if line.split()[0] in PROTOCOLS}
    assert list(rows) == list(CHANNEL_PROTOCOLS)  # decoy-bb84 needs a link
    assert rows["b92"].endswith("aborted (key_too_short)")
    assert all(rows[p].endswith("  key") for p in CHANNEL_PROTOCOLS if p != "b92")
    assert (in_tmp / "compare.png").read_bytes().startswith(b"\x89PNG")
    assert qkd("qkd protocols") == 0
    listed = capsys.readouterr().out
    assert [line.split()[0] for line in listed.splitlines()] == list(PROTOCOLS)


def test_the_dry_run_and_the_shot_limit(in_tmp, capsys) -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    assert qkd("qkd run --backend fake:torino --qubits 20000 --dry-run") == 0
    out = capsys.readouterr().out
    assert "nothing was submitted" in out and "capped at 60 s per job on the server" in out
    shots = int(re.search(r"= (\d+) shots", out).group(1))
    # 8 circuits x the largest of 8 multinomial group sizes (mean 2500, s.d. 46.8): the
    # README's "~20,500" is 20,000 plus the surplus; 5 s.d. bound the largest group.
    sd = math.sqrt(20_000 * (1 / 8) * (7 / 8))
    assert 20_000 <= shots <= 8 * (2_500 + 5 * sd)
    assert qkd("qkd run --backend fake:torino --qubits 20000 --max-shots 10000") == 2
    err = capsys.readouterr().err
    assert "more than the limit of 10,000 (--max-shots)" in err and not list(in_tmp.iterdir())


def test_hardware_commands_without_an_account(in_tmp, monkeypatch, capsys) -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    monkeypatch.setenv("HOME", str(in_tmp))
    monkeypatch.delenv("QISKIT_IBM_TOKEN", raising=False)
    monkeypatch.delenv("QISKIT_IBM_INSTANCE", raising=False)
    assert qkd("qkd run --backend ibm:least-busy --qubits 2000 --submit-only --run-dir runs/x") == 1
    err = capsys.readouterr().err
    assert "save_account" in err and "Traceback" not in err
    assert not (in_tmp / "runs" / "x").exists()
    assert qkd("qkd resume runs/x") == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_streamed_run_appends_the_blocks_keys(in_tmp, capsys):
    assert qkd(next(c for c in TESTED if "--block 1000000" in c)) == 0
    assert "3 blocks of ~1,000,000 qubits, 3 emitted a key" in capsys.readouterr().out
    report = json.loads((in_tmp / "stream.json").read_text())
    per_block = report["blocks"]["per_block"]
    assert [b["qubits"] for b in per_block] == [1_000_000] * 3
    assert report["final_key_bits"] == sum(b["final_key_bits"] for b in per_block) > 600_000
    keys = json.loads((in_tmp / "keys.json").read_text())
    assert keys["bits"] == report["final_key_bits"] and keys["alice"] == keys["bob"]


def test_link_examples(capsys) -> None:
    """Single photons over 25 km give a key; weak pulses under PNS go unnoticed but GLLP
    emits nothing; decoys over 50 km give a key, and expose PNS."""
    assert qkd("qkd run bb84 --distance 25 --qubits 100000000") == 0
    out = capsys.readouterr().out
    assert "25 km of gys" in out and "keys match" in out and "pulses" in out
    assert qkd("qkd run bb84 --distance 50 --source wcp:mu=0.5 --qubits 1000000000 --eve pns") == 0
    out = capsys.readouterr().out
    assert "ABORTED (key_too_short): multi-photon pulses could account for every detection" in out
    found = re.search(r"Eve knows\s+I\(A;E\) ([\d.]+) .* her error ([\d.]+)%", out)
    assert found is not None and float(found.group(1)) > 0.99 and float(found.group(2)) == 0
    assert qkd("qkd run decoy-bb84 --distance 50 --qubits 10000000000") == 0
    out = capsys.readouterr().out
    assert "decoys 0.1, 0" in out and "keys match" in out
    key = re.search(r"result\s+([\d,]+) secret key bits", out)
    assert key is not None and int(key.group(1).replace(",", "")) > 100_000
    assert qkd("qkd run decoy-bb84 --distance 50 --qubits 1000000000 --eve pns") == 0
    out = capsys.readouterr().out
    assert "single photons  yield >= 0.000e+00" in out and "ABORTED" in out


def test_keyrate_simulate_example(in_tmp, capsys) -> None:
    """Simulated decoy runs overlaid on the analytic curves: three points, each with a
    key and a standard deviation, and the plot."""
    command = next(c for c in TESTED if "--simulate" in c)
    assert qkd(command) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\s+(\d+)\s+([\d.e+-]+)\s+([\d.e+-]+)\s+[\d.e+-]+\s+[\d.]+", out, re.M)
    assert [int(r[0]) for r in rows[-3:]] == [0, 10, 20]
    assert all(float(r[1]) > 0 and float(r[2]) > 0 for r in rows[-3:])
    assert (in_tmp / "simulated.png").read_bytes().startswith(b"\x89PNG")


def test_the_python_api_examples_run_and_say_what_they_show() -> None:
    """The ``python`` blocks of "Python API", executed in order in one namespace."""
    text = README.read_text()
    section = text[text.index("## Python API") : text.index("## Security model")]
    namespace: dict[str, object] = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        exec(compile(block, "README.md", "exec"), namespace)
    report: Any = namespace["report"]
    assert report.detections == 1_344_976 and report.final_key_bits == 292_179
