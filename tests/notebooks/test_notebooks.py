"""Every notebook runs, top to bottom, on a real Jupyter kernel, and draws its charts.

Notebooks are tutorials as well as studies: one that no longer runs is worse
than none.  Each opens with a parameters cell (small sizes by default) that
a user can raise; the tests run them as committed.
"""
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 5, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_draws(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "?" in first.source, f"{path.name} should open with the question it answers"
    assert nb.cells[-1].cell_type == "markdown", f"{path.name} should end with what the numbers say"
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells), f"{path.name} needs a parameters cell"
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    # The kernel runs in tmp_path, so a relative PYTHONPATH (PYTHONPATH=. in the Makefile) would not reach
    # this checkout: put the repository root first, absolute.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    client.execute(env=env)  # raises CellExecutionError on any failing cell
    charts = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if PLOTLY_MIME in o.get("data", {}))
    assert charts >= 1, f"{path.name} produced no plotly chart"
