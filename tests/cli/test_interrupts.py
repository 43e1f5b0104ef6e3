"""Interrupted commands: no process left behind, no temporary file left behind, exit 130 / 143.

Real processes (``python -m embsim``) are started and killed here: a sweep whose
workers each wait on a child process (as a CBC solve does), and a chunked trace
generation caught half-way.  After SIGTERM or SIGINT the command exits 143 or
130 and leaves neither processes nor ``.part`` files; after SIGKILL of the
parent its workers and their children end within seconds, and a pipe reading
its stderr sees end of file.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

psutil = pytest.importorskip("psutil", reason="psutil (a dask dependency) finds the processes to check")

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SPACE = {"name": "slow", "system": "cpu_2s_spr_ddr5", "model": "rm1", "plan": {"mode": "none"},
         "knobs": {"b": {"path": "sim.batch_size", "values": [32, 64, 128, 256, 512, 1024]}},
         "sampler": {"kind": "grid"}}


def _env(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]), PIDS_DIR=str(tmp_path / "pids"))
    (tmp_path / "pids").mkdir(exist_ok=True)
    return env


def _wait_for(cond, timeout_s=60.0, what="condition"):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _start_sweep(tmp_path):
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE))
    p = subprocess.Popen([sys.executable, "-m", "embsim", "explore", str(tmp_path / "space.yaml"), "--db",
                          str(tmp_path / "r.sqlite"), "--workers", "2", "--evaluator", "slow_evaluator:evaluate"],
                         env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    started = _wait_for(lambda: len(os.listdir(tmp_path / "pids")) >= 2 and os.listdir(tmp_path / "pids"),
                        what="two workers to start their child processes")
    pids = [int(x) for name in started for x in name.split("-")]
    assert all(_alive(q) for q in pids)
    return p, pids


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_terminated_sweep_leaves_no_process(tmp_path, sig, code):
    p, pids = _start_sweep(tmp_path)
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert p.returncode == code, err
    assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    _wait_for(lambda: not any(_alive(q) for q in pids), 10, "workers and their children to end")
    assert not list(tmp_path.glob(".*part*"))


def test_killed_sweep_takes_its_workers_along(tmp_path):
    """SIGKILL gives the parent no chance to clean up: the workers notice and end their process groups."""
    p, pids = _start_sweep(tmp_path)
    p.kill()
    t0 = time.monotonic()
    p.communicate(timeout=30)          # returns only once no worker holds the stderr pipe open
    assert time.monotonic() - t0 < 20
    _wait_for(lambda: not any(_alive(q) for q in pids), 10, "workers and their children to end")


def test_interrupted_chunked_trace_gen_leaves_no_part_folder(tmp_path):
    out = tmp_path / "big.trace"
    model = {"name": "long", "source": "test", "defaults": {"dim": 16, "pooling": 20},
             "tables": [{"name": "t", "rows": 100_000, "count": 4}],
             "dense": {"dense_features": 1, "bottom_mlp": [16], "top_mlp": [1]}}
    (tmp_path / "long.yaml").write_text(yaml.safe_dump(model))   # small tables: each chunk is quick to make
    p = subprocess.Popen([sys.executable, "-m", "embsim", "trace", "gen", "--model", str(tmp_path / "long.yaml"),
                          "--batches", "40000", "--batch-size", "256", "-o", str(out)], env=_env(tmp_path),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: list(tmp_path.glob(".big.trace.*part*")) or p.poll() is not None, what="a .part folder")
    assert p.poll() is None, "generation finished before it could be interrupted; make it longer"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=400)   # generous: a loaded CI machine once took over 180 s
    assert p.returncode == 143, err
    assert "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".big.trace*"))
