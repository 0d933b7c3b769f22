"""The teaching notebooks are executed by nbmake (``--nbmake`` in pytest's addopts, with
``notebooks/`` among the test paths); this only checks that there are some to run."""

from __future__ import annotations

from pathlib import Path

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS
