"""The one-way data flow of DESIGN.md, checked on every import in the package.

workloads -> hw_models -> cost_model -> sim -> explorer: a stage imports only
from stages to its left (and the shared helpers at the package root).
"""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "embsim"
STAGES = ["workloads", "hw_models", "cost_model", "sim", "explorer"]


def _imports(path):
    """Dotted embsim modules imported by a file (absolute and relative imports)."""
    tree = ast.parse(path.read_text())
    here = path.relative_to(PKG.parent).with_suffix("").parts  # ('embsim', 'sim', 'engine')
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - node.level])
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append(mod)
            out += [f"{mod}.{a.name}" for a in node.names]
    return [m for m in out if m.startswith("embsim")]


FILES = sorted(p for p in PKG.rglob("*.py") if p.parts[len(PKG.parts)] in STAGES)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PKG)) for p in FILES])
def test_stage_imports_only_from_its_left(path):
    stage = path.parts[len(PKG.parts)]
    allowed = set(STAGES[: STAGES.index(stage) + 1])
    bad = []
    for mod in _imports(path):
        parts = mod.split(".")
        if len(parts) > 1 and parts[1] in STAGES and parts[1] not in allowed:
            bad.append(mod)
    assert not bad, f"{path.relative_to(PKG)} ({stage}) imports {bad}, against the one-way flow"


def test_only_the_cli_imports_explorer():
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).parts
        if rel[0] in ("explorer", "cli"):
            continue
        assert not [m for m in _imports(path) if m.startswith("embsim.explorer")], path


def test_no_stage_imports_the_cli():
    """The CLI (embsim/cli/) sits on top of every stage; no stage reaches back into it."""
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).parts
        if rel[0] == "cli" or rel == ("__main__.py",):
            continue
        assert not [m for m in _imports(path) if m.startswith("embsim.cli")], path
