import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from embsim.errors import InputError
from embsim.explorer.space import DesignSpace
from embsim.explorer.store import ResultStore
from embsim.explorer.sweep import run_sweep

from explorer_helpers import fake_evaluate, write_space

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
VOLATILE = ["finished_at", "elapsed_s"]


def comparable(df):
    return df.drop(columns=VOLATILE).sort_values("key").reset_index(drop=True)


def test_store_is_wal_and_keyed_by_configuration(tmp_path):
    space = DesignSpace.from_yaml(write_space(tmp_path))
    pts = space.points()
    with ResultStore(tmp_path / "r.sqlite") as st:
        assert st.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        st.add(pts[0], "ok", metrics={"throughput_qps": 1.0}, elapsed_s=0.1, space="toy")
        st.add(pts[0], "ok", metrics={"throughput_qps": 2.0}, elapsed_s=0.1, space="toy")   # no duplicate
        st.add(pts[1], "error", error="Traceback ...", space="toy")
        assert len(st) == 2 and st.done_keys() == {pts[0].key}
        st.add(pts[1], "ok", metrics={"throughput_qps": 3.0}, artifacts={"plan": {"x": 1}}, space="toy")
        df = st.dataframe()
        assert list(df["throughput_qps"]) == [1.0, 3.0]       # ok rows are final; error rows get replaced
        assert list(df["devices"]) == [1, 1] and list(df["dram"]) == [1, 6]
        assert st.artifacts(pts[1].key) == {"plan": {"x": 1}} and st.artifacts(pts[0].key) == {}
        assert st.config(pts[1].key) == pts[1].config


def test_export_csv_and_json_round_trip(tmp_path):
    space = DesignSpace.from_yaml(write_space(tmp_path))
    with ResultStore(tmp_path / "r.sqlite") as st:
        run_sweep(space, st, evaluate=fake_evaluate, workers=1)
        df = st.dataframe()
        st.export(tmp_path / "r.csv")
        st.export(tmp_path / "r.json")
        with pytest.raises(InputError, match="already exists"):
            st.export(tmp_path / "r.csv")
        with pytest.raises(InputError, match="expected .csv or .json"):
            st.export(tmp_path / "r.xlsx")
    csv = pd.read_csv(tmp_path / "r.csv")
    assert list(csv["key"]) == list(df["key"])
    pd.testing.assert_series_equal(csv["throughput_qps"], df["throughput_qps"], check_exact=False, rtol=1e-12)
    js = json.loads((tmp_path / "r.json").read_text())
    assert [r["key"] for r in js] == list(df["key"]) and "cost_usd" in js[0]


def test_not_a_store_is_an_input_error(tmp_path):
    bad = tmp_path / "x.sqlite"
    bad.write_text("hello, not sqlite " * 100)
    with pytest.raises(InputError, match="not an embsim result store"):
        ResultStore(bad)
    with pytest.raises(InputError, match="no such result store"):
        ResultStore(tmp_path / "none.sqlite", create=False)


DRIVER = """
import sys
sys.path[:0] = [{root!r}, {here!r}]
from embsim.explorer.space import DesignSpace
from embsim.explorer.store import ResultStore
from embsim.explorer.sweep import run_sweep
from explorer_helpers import fake_evaluate
space = DesignSpace.from_yaml({space!r})
with ResultStore({db!r}) as st:
    s = run_sweep(space, st, evaluate=fake_evaluate, workers={workers}, progress=False)
print(s.line())
"""


def _driver(tmp_path, space, db, workers):
    code = DRIVER.format(root=str(ROOT), here=str(HERE), space=str(space), db=str(db), workers=workers)
    return [sys.executable, "-c", code]


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_sweep_resumes_without_loss_or_duplicates(tmp_path, workers):
    space_file = write_space(tmp_path)
    n = len(DesignSpace.from_yaml(space_file).points())
    db = tmp_path / "killed.sqlite"
    env = {**os.environ, "FAKE_EVAL_DELAY_S": "0.25"}
    proc = subprocess.Popen(_driver(tmp_path, space_file, db, workers), env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stored = 0
    deadline = time.time() + 60
    while time.time() < deadline and stored < 4:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as c:
                    stored = c.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    os.killpg(proc.pid, signal.SIGKILL)          # the sweep and its pool workers, no chance to clean up
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with ResultStore(db) as st:
        after_kill = len(st)
    assert 4 <= after_kill < n, "the kill must land mid-sweep"

    env["FAKE_EVAL_DELAY_S"] = "0"
    out = subprocess.run(_driver(tmp_path, space_file, db, workers), env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"{after_kill} already stored, {n - after_kill} evaluated" in out.stdout

    ref = tmp_path / "ref.sqlite"
    out = subprocess.run(_driver(tmp_path, space_file, ref, 1), env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    with ResultStore(db) as a, ResultStore(ref) as b:
        da, db_ = a.dataframe(), b.dataframe()
    assert len(da) == n and da["key"].is_unique
    pd.testing.assert_frame_equal(comparable(da), comparable(db_))
