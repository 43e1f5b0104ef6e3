import pytest

from embsim.errors import InputError
from embsim.explorer.space import DesignSpace
from embsim.explorer.store import ResultStore
from embsim.explorer.sweep import resolve_evaluator, run_sweep

from explorer_helpers import broken_evaluate, fake_evaluate, write_space


def _frame(db):
    with ResultStore(db) as st:
        return st.dataframe().drop(columns=["finished_at", "elapsed_s"])


@pytest.fixture
def toy(tmp_path):
    return DesignSpace.from_yaml(write_space(tmp_path))


def test_in_process_sweep_stores_every_point_once(tmp_path, toy):
    with ResultStore(tmp_path / "a.sqlite") as st:
        s = run_sweep(toy, st, evaluate=fake_evaluate, workers=1)
        assert (s.points, s.skipped, s.evaluated) == (16, 0, 16)
        assert s.ok + s.infeasible == 16 and s.infeasible == 1     # 8 devices x 16 does not fit (> 100)
        again = run_sweep(toy, st, evaluate=fake_evaluate, workers=1)
        assert (again.skipped, again.evaluated) == (16, 0)
        df = st.dataframe()
    assert len(df) == 16 and df["key"].is_unique
    bad = df[df.status == "infeasible"]
    assert set(zip(bad.devices, bad.dram)) == {(8, 16)} and bad.error.str.contains("do not fit").all()


def test_process_pool_equals_in_process(tmp_path, toy):
    with ResultStore(tmp_path / "a.sqlite") as st:
        run_sweep(toy, st, evaluate=fake_evaluate, workers=1)
    with ResultStore(tmp_path / "b.sqlite") as st:
        s = run_sweep(toy, st, evaluate=fake_evaluate, workers=2)
        assert s.executor == "2 local processes" and s.evaluated == 16
    assert _frame(tmp_path / "a.sqlite").equals(_frame(tmp_path / "b.sqlite"))


def test_errors_are_recorded_and_retried(tmp_path, toy):
    with ResultStore(tmp_path / "a.sqlite") as st:
        s = run_sweep(toy, st, evaluate=broken_evaluate, workers=2)
        assert s.errors == 8 and "RuntimeError: bug in the evaluator" in s.first_error
        df = st.dataframe()
        assert (df.status == "error").sum() == 8 and df[df.status == "error"].error.str.contains("Traceback").all()
        fixed = run_sweep(toy, st, evaluate=fake_evaluate, workers=1)   # only the failed points re-run
        assert (fixed.skipped, fixed.evaluated, fixed.errors) == (8, 8, 0)
        assert len(st) == 16 and "error" not in set(st.dataframe().status)


def test_dask_local_cluster_equals_in_process(tmp_path, toy):
    distributed = pytest.importorskip("dask.distributed")
    with ResultStore(tmp_path / "a.sqlite") as st:
        run_sweep(toy, st, evaluate=fake_evaluate, workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None, protocol="tcp",
                                  host="127.0.0.1") as cluster:
        with ResultStore(tmp_path / "d.sqlite") as st:
            s = run_sweep(toy, st, evaluate=fake_evaluate, scheduler=cluster.scheduler_address)
            assert s.executor.startswith("dask tcp://127.0.0.1") and s.evaluated == 16
            assert run_sweep(toy, st, evaluate=fake_evaluate, scheduler=cluster.scheduler_address).skipped == 16
    assert _frame(tmp_path / "a.sqlite").equals(_frame(tmp_path / "d.sqlite"))


def test_unreachable_scheduler_is_an_input_error(tmp_path, toy):
    with ResultStore(tmp_path / "a.sqlite") as st, pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        run_sweep(toy, st, evaluate=fake_evaluate, scheduler="tcp://127.0.0.1:9", connect_timeout_s=1)


def test_resolve_evaluator():
    assert resolve_evaluator("explorer_helpers:fake_evaluate") is fake_evaluate
    with pytest.raises(InputError, match="expected 'module:function'"):
        resolve_evaluator("nomodule")
    with pytest.raises(InputError, match="cannot import"):
        resolve_evaluator("explorer_helpers:nothing")


def test_progress_bar_shows_rate_when_forced_and_nothing_otherwise(tmp_path, toy, capsys):
    with ResultStore(tmp_path / "a.sqlite") as st:
        run_sweep(toy, st, evaluate=fake_evaluate, workers=1, progress=False)
        assert capsys.readouterr().err == ""
    with ResultStore(tmp_path / "b.sqlite") as st:
        run_sweep(toy, st, evaluate=fake_evaluate, workers=1, progress=True)
        err = capsys.readouterr().err
    assert "explore toy" in err and "16" in err and "pt/s" in err and "<" in err   # total, rate, ETA
