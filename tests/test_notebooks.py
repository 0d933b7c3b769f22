"""The teaching notebooks are executed by nbmake (``--nbmake`` in pytest's addopts, with
``notebooks/`` among the test paths), each on a fresh kernel. These tests check what
execution cannot: that the notebooks are stored without outputs (so git holds no stale
results, and no key material), that they are valid nbformat, that they form the numbered
course, and that they use only public names of the package."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
COURSE_LENGTH = 8


def test_there_are_notebooks():
    assert NOTEBOOKS


def test_the_notebooks_are_the_numbered_course():
    numbers = [
        int(p.name[:2]) for p in NOTEBOOKS if re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name)
    ]
    assert len(numbers) == len(NOTEBOOKS), [p.name for p in NOTEBOOKS]
    assert numbers == list(range(1, COURSE_LENGTH + 1)), [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_and_stripped(path: Path):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code cells"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} of {path.name} has outputs: strip them"
            assert cell.execution_count is None, f"cell {i} of {path.name} has an execution count"
            assert "execution" not in cell.metadata, (
                f"cell {i} of {path.name} keeps timing metadata"
            )
        assert "attachments" not in cell or not cell.attachments, f"cell {i} has attachments"
    assert "widgets" not in nb.metadata


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_only_public_names(path: Path):
    """No ``_private`` module, name or attribute of the package (IPython magics are skipped)."""
    nb = nbformat.read(path, as_version=4)
    found: list[str] = []
    imports_package = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qkd_circuits"):
                imports_package = True
                assert node.module is not None
                found += [part for part in node.module.split(".") if _private(part)]
                found += [alias.name for alias in node.names if _private(alias.name)]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("qkd_circuits"):
                        imports_package = True
                        found += [part for part in alias.name.split(".") if _private(part)]
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                found.append(node.attr)
    assert imports_package, f"{path.name} does not use the package"
    assert not found, f"{path.name} uses private names: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_exercises_with_collapsible_solutions(path: Path):
    nb = nbformat.read(path, as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    solutions = [m for m in markdown if "<details><summary>Solution</summary>" in m]
    assert len(solutions) >= 2, f"{path.name} has {len(solutions)} exercises with solutions"
    for m in solutions:
        assert m.count("<details>") == m.count("</details>"), m[:80]
