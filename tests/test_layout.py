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


MAX_FUNCTION_LINES = 80      # HELPERS/CONTRIBUTING: functions under 80 lines (issue 11's goal for these stages)
MAX_FAMILY_FILE_LINES = 250  # issue 11: a family is a short composition of parts
SHORT_STAGES = ("hw_models", "cost_model")


def _long_functions(path):
    """(name, first line, lines) of every function or method in ``path`` longer than MAX_FUNCTION_LINES."""
    tree = ast.parse(path.read_text())
    return [(n.name, n.lineno, n.end_lineno - n.lineno + 1) for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]


SHORT_FILES = sorted(p for p in PKG.rglob("*.py") if p.parts[len(PKG.parts)] in SHORT_STAGES)


def test_the_length_rule_sees_a_long_function(tmp_path):
    f = tmp_path / "long.py"
    f.write_text("def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES + "\n\ndef g():\n    return 1\n")
    assert [name for name, _, _ in _long_functions(f)] == ["f"]


@pytest.mark.parametrize("path", SHORT_FILES, ids=[str(p.relative_to(PKG)) for p in SHORT_FILES])
def test_no_function_over_80_lines_in_hw_models_and_cost_model(path):
    long = _long_functions(path)
    assert not long, f"{path.relative_to(PKG)}: " + ", ".join(
        f"{name} (line {line}) has {n} lines > {MAX_FUNCTION_LINES}; split it into named steps" for name, line, n in long)


FAMILY_FILES = sorted((PKG / "hw_models" / "families").glob("*.py"))


def test_family_files_are_short():
    assert FAMILY_FILES, "no family files found"
    long = {p.name: n for p in FAMILY_FILES if (n := len(p.read_text().splitlines())) > MAX_FAMILY_FILE_LINES}
    assert not long, f"family files over {MAX_FAMILY_FILE_LINES} lines: {long} (compose parts, move shared physics to parts/)"
