"""Shared test helpers: run the CLI in-process and check the error contract."""
import os
import subprocess
import sys

import numpy as np
import pytest

from embsim.cli import main

# Solves in the tests run in the deterministic mode (one thread, fixed seed, node limit), and so do
# the subprocesses they start (cost_model/solvers.py).
os.environ.setdefault("EMBSIM_DETERMINISTIC", "1")


class CliResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def __repr__(self):
        return f"CliResult(code={self.code}, out={self.out[-500:]!r}, err={self.err[-500:]!r})"


@pytest.fixture
def run_cli(capsys):
    """Run ``embsim ARGS`` in this process; returns code, stdout, stderr."""
    def run(*args):
        code = main([str(a) for a in args])
        cap = capsys.readouterr()
        return CliResult(code, cap.out, cap.err)
    return run


def run_embsim_subprocess(*args, cwd=None, timeout=600):
    """Run the installed CLI as a real process (for tests that need a clean process)."""
    p = subprocess.run([sys.executable, "-m", "embsim", *map(str, args)], cwd=cwd, capture_output=True,
                       text=True, timeout=timeout, env={**os.environ, "PYTHONHASHSEED": "0"})
    return CliResult(p.returncode, p.stdout, p.stderr)


def assert_input_error(result, *fragments):
    """The DESIGN.md contract: exit 2, one line 'error: ...', no traceback."""
    assert result.code == 2, result
    lines = [l for l in result.err.strip().splitlines() if l.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
