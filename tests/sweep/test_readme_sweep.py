"""The README's sweep section, run as written: its spec and every command of it.

Until README.md has the section (heading ``## Parameter sweeps``), the text proposed for
it (``PROPOSED``) is what runs; once it has, the README's own text runs, and
``test_the_readme_shows_the_proposed_section`` checks that the two agree.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from qkd_circuits.cli import main

pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("distributed")

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "## Parameter sweeps: `qkd sweep`"

PROPOSED = """\
## Parameter sweeps: `qkd sweep`

A sweep runs every combination of some values of `qkd run` (or `qkd keyrate`) options,
several times each, on a local process pool or a Dask cluster, and writes one row per
run to a Parquet table (`pip install -e ".[sweep]"` adds Dask and pyarrow). Every run
gets its own seed from the sweep's (a `numpy.random.SeedSequence` child named by the
run's options), so a seeded sweep is a reproducible simulation and each row carries the
`command_line` that reruns its point alone. No key is stored: only lengths, rates and
error rates. `sweep.toml`:

```toml
command = "run"
seed = 7
repeats = 3

[fixed]
qubits = 20000

[axes]
protocol = ["bb84", "six-state"]
noise = ["depolarizing=0.01", "depolarizing=0.03", "depolarizing=0.05"]
eve = ["none", "intercept-resend=0.2"]
```

```bash
qkd sweep sweep.toml --table sweep.parquet
qkd sweep sweep.toml --table dask.parquet --dask-local 2
qkd sweep-plot sweep.parquet --out plots
```

The first command runs the 36 points on a pool of one process per CPU, the second on a
Dask `LocalCluster` of two workers, with the same table but for the `wall_s` column;
`--scheduler ADDRESS` runs them on an existing Dask cluster. Every value is parsed by
`qkd run`'s own parser before anything runs (`--dry-run` stops there). Finished points
are kept in `sweep.parquet.parts/` as they arrive: after an interruption, even
`kill -9`, the same command skips them. `qkd sweep-plot` draws the QBER and the secret
key rate against each axis (`plots/protocol.png`, `plots/noise.png`, `plots/eve.png`),
one line per combination of the other axes, means over the repeats with
standard-error bars.
"""


def section() -> str:
    """The README's sweep section if it has one, else the proposed text."""
    text = README.read_text(encoding="utf-8")
    if HEADING not in text:
        return PROPOSED
    start = text.index(HEADING)
    following = re.search(r"^## ", text[start + len(HEADING) :], flags=re.M)
    end = len(text) if following is None else start + len(HEADING) + following.start()
    return text[start:end].rstrip() + "\n"


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_the_readme_shows_the_proposed_section() -> None:
    if HEADING not in README.read_text(encoding="utf-8"):
        pytest.xfail("README.md has no sweep section yet: PROPOSED is to be pasted there")
    assert section() == PROPOSED


def test_the_sweep_section_runs_as_written(tmp_path: Path, monkeypatch, capsys) -> None:
    text = section()
    (spec,) = blocks(text, "toml")
    (commands,) = blocks(text, "bash")
    monkeypatch.chdir(tmp_path)
    Path("sweep.toml").write_text(spec, encoding="utf-8")
    lines = [line.strip() for line in commands.splitlines() if line.strip()]
    assert len(lines) == 3
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "qkd"
        assert main(argv[1:]) == 0, line
    out = capsys.readouterr().out
    assert "36 points of qkd run" in out and "a local pool of" in out
    assert "Dask LocalCluster of 2 processes" in out
    assert "seed 7: every point is a reproducible simulation" in out
    pool, dask = pq.read_table("sweep.parquet"), pq.read_table("dask.parquet")
    assert pool.num_rows == 36
    assert pool.drop_columns(["wall_s"]).equals(dask.drop_columns(["wall_s"]))
    assert pool.column("command_line").to_pylist()[0].startswith("qkd run bb84 ")
    assert Path("sweep.parquet.parts").is_dir()
    for name in ("protocol", "noise", "eve"):
        assert Path(f"plots/{name}.png").read_bytes().startswith(b"\x89PNG"), name
    # What the text says of the runs: more noise, a higher QBER; Eve's 20% adds ~5%.
    rows = pool.to_pylist()

    def mean_qber(**where: str) -> float:
        chosen = [r["qber_actual"] for r in rows if all(r[k] == v for k, v in where.items())]
        return sum(chosen) / len(chosen)

    quiet = [mean_qber(noise=f"depolarizing=0.0{i}", eve="none") for i in (1, 3, 5)]
    assert quiet == sorted(quiet)
    assert mean_qber(eve="intercept-resend=0.2") > mean_qber(eve="none") + 0.03
