"""``qkd sweep-plot``: means over repeats with standard-error bars, one figure per axis."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from qkd_circuits.cli import main
from qkd_circuits.sweep.plot import axis_series, mean_and_stderr, sweep_figure
from qkd_circuits.sweep.spec import SweepSpec
from qkd_circuits.sweep.table import METADATA_KEY, table_schema

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

PNG = b"\x89PNG\r\n\x1a\n"


def test_mean_and_standard_error_skip_undefined_values() -> None:
    mean, err, n = mean_and_stderr([0.1, 0.2, None, 0.4, float("nan")])
    data = np.array([0.1, 0.2, 0.4])
    assert n == 3 and mean == pytest.approx(data.mean())
    assert err == pytest.approx(data.std(ddof=1) / math.sqrt(3))
    assert mean_and_stderr([0.3]) == (0.3, 0.0, 1)
    assert math.isnan(mean_and_stderr([None])[0])


def test_axis_series_is_one_line_per_combination_of_the_other_axes() -> None:
    rows = [
        {"a": a, "b": b, "y": y}
        for a, b, y in [
            (1, "x", 1.0), (1, "x", 3.0), (2, "x", 5.0), (2, "x", 7.0),
            (1, "z", 0.0), (2, "z", 0.0),
        ]
    ]  # fmt: skip
    lines = axis_series(rows, "a", ["a", "b"], [1, 2], "y")
    assert [s.label for s in lines] == ["b=x", "b=z"]
    x = lines[0]
    assert list(x.x) == [1.0, 2.0] and list(x.mean) == [2.0, 6.0]
    assert list(x.stderr) == pytest.approx([math.sqrt(2) / math.sqrt(2)] * 2)
    categorical = axis_series(rows, "b", ["a", "b"], ["z", "x"], "y")
    assert [list(s.x) for s in categorical] == [[0.0, 1.0], [0.0, 1.0]]  # positions of z, x
    assert list(categorical[0].mean) == [0.0, 2.0]


def test_sweep_plot_writes_a_figure_per_axis(tmp_path: Path, small_reference, capsys) -> None:
    table = tmp_path / "sweep.parquet"
    pq.write_table(small_reference, table)
    assert main(["sweep-plot", str(table), "--out", str(tmp_path / "plots")]) == 0
    written = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert written == ["noise.png", "protocol.png"]
    assert all((tmp_path / "plots" / n).read_bytes().startswith(PNG) for n in written)
    assert "wrote" in capsys.readouterr().out
    meta = json.loads(small_reference.schema.metadata[METADATA_KEY])
    fig = sweep_figure(small_reference, meta, "noise")
    qber, rate = fig.axes
    assert qber.get_ylabel() == "QBER estimate (%)"
    assert rate.get_ylabel() == "secret key rate (bits per qubit)"
    assert rate.get_xlabel() == "channel noise (--noise)"
    assert [t.get_text() for t in qber.get_legend().get_texts()] == [
        "protocol=bb84",
        "protocol=six-state",
    ]
    # The bb84 line at 1% noise is the mean of its two repeats, in percent.
    rows = [r for r in small_reference.to_pylist() if r["protocol"] == "bb84"]
    expected = 100 * np.mean([r["qber"] for r in rows if r["noise"] == "depolarizing=0.01"])
    drawn = qber.lines[0].get_ydata()[0]
    assert drawn == pytest.approx(expected)


def test_a_key_rate_over_decades_is_on_a_log_scale_and_says_what_it_hides() -> None:
    spec = SweepSpec.from_dict(
        {"command": "keyrate", "axes": {"analysis": ["gllp", "plob"], "distances": [0, 50, 100]}}
    )
    rates = {("gllp", 0): 1e-4, ("gllp", 50): 1e-6, ("gllp", 100): 0.0,
             ("plob", 0): math.inf, ("plob", 50): 0.1, ("plob", 100): 0.01}  # fmt: skip
    rows = [
        {"point_index": i, "point_id": f"p{i}", "repeat": 0, "seed": None, "analysis": a,
         "distances": d, "distance_km": float(d), "key_rate": r, "signal_mu": None,
         "wall_s": 0.0, "command_line": "qkd keyrate"}
        for i, ((a, d), r) in enumerate(rates.items())
    ]  # fmt: skip
    table = pa.Table.from_pylist(rows, schema=table_schema(spec))
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    (ax,) = sweep_figure(table, meta, "distances").axes
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "fibre length (km)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "1 point(s) with no key (rate 0): not drawn on the log scale" in labels
    assert "1 infinite value(s) (a bound at 0 km): not drawn" in labels


def test_sweep_plot_refuses_what_is_not_a_sweep_table(tmp_path: Path, capsys) -> None:
    assert main(["sweep-plot", str(tmp_path / "missing.parquet")]) == 2
    assert "is not a file" in capsys.readouterr().err
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), other)
    assert main(["sweep-plot", str(other)]) == 2
    assert "not a qkd sweep table" in capsys.readouterr().err
    assert not (tmp_path / "other-plots").exists()
