"""The planner options every planning command shares: shard, simulate and explore plan alike."""
import json

import pytest
import yaml

from embsim.cost_model.plan import load_plan
from conftest import assert_input_error
from test_planner import TINY

SOLVE = ["--solver", "highs", "--time-limit", "10"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("planning")
    (d / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    from embsim.cli import main
    assert main(["trace", "gen", "--model", str(d / "tiny.yaml"), "--batches", "4", "--batch-size", "64",
                 "--seed", "1", "-o", str(d / "t.npz")]) == 0
    return d


def _shard(run_cli, files, out, *extra):
    r = run_cli("shard", "--model", files / "tiny.yaml", "--system", "ascend_910", *SOLVE, *extra, "-o", out,
                "--json")
    assert r.code == 0, r
    return load_plan(out)


def test_simulate_on_an_soc_plans_as_shard_does(run_cli, files, tmp_path):
    plan = _shard(run_cli, files, tmp_path / "p.json", "--trace", files / "t.npz", "--representations", "int8")
    assert plan.planner == "core_mapping"
    r = run_cli("simulate", "--model", files / "tiny.yaml", "--system", "ascend_910", "--trace", files / "t.npz",
                *SOLVE, "--representations", "int8", "--json")
    assert r.code == 0, r
    got = json.loads(r.out)["config"]["plan"]
    assert got["planner"] == "core_mapping"
    assert got["predicted_makespan_s"] == pytest.approx(plan.makespan_s, rel=1e-9)


def test_explore_on_an_soc_plans_as_shard_does(run_cli, files, tmp_path):
    plan = _shard(run_cli, files, tmp_path / "p.json", "--batch-size", "64")
    space = {"name": "soc", "system": "ascend_910", "model": str(files / "tiny.yaml"),
             "simulation": {"queries": 1024, "batch_size": 64},
             "plan": {"solver": "cbc", "time_limit_s": 30},
             "knobs": {"seed": {"path": "sim.seed", "values": [0]}}}
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    r = run_cli("explore", tmp_path / "space.yaml", "--db", tmp_path / "s.sqlite", "--workers", 1, *SOLVE,
                "--export", tmp_path / "s.json")
    assert r.code == 0, r
    rows = json.loads((tmp_path / "s.json").read_text())
    rows = rows["points"] if isinstance(rows, dict) else rows
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "ok", row
    assert row["plan_planner"] == "core_mapping"
    assert row["plan_makespan_s"] == pytest.approx(plan.makespan_s, rel=1e-9)


def test_simulate_refuses_planner_options_beside_a_plan(run_cli, files, tmp_path):
    _shard(run_cli, files, tmp_path / "p.json", "--trace", files / "t.npz")
    r = run_cli("simulate", "--model", files / "tiny.yaml", "--system", "ascend_910", "--trace", files / "t.npz",
                "--plan", tmp_path / "p.json", "--representations", "int8")
    assert_input_error(r, "--representations", "without --plan")


@pytest.mark.parametrize("command", ["shard", "simulate"])
@pytest.mark.parametrize("extra, fragment", [
    (["--time-limit", "-1"], "--time-limit"),
    (["--energy-weight", "-2"], "--energy-weight"),
    (["--objective", "makespan", "--energy-weight", "1"], "makespan+energy"),
    (["--solver", "gurobi"], "gurobi"),
])
def test_every_planning_command_checks_the_options_alike(run_cli, files, tmp_path, command, extra, fragment):
    out = tmp_path / "out.json"
    r = run_cli(command, "--model", files / "tiny.yaml", "--system", "cpu_2s_spr_ddr5", *extra, "-o", out)
    assert_input_error(r, fragment)
    assert not out.exists()


FIVE_EQUAL = {"name": "five_equal", "source": "test",
              "defaults": {"dim": 1024, "pooling": 20, "access": {"kind": "uniform"}},
              "tables": [{"name": f"t{i}", "rows": 500_000} for i in range(5)],      # 2 GB each: too big to copy
              "dense": {"dense_features": 4, "bottom_mlp": [64, 16], "top_mlp": [16, 1], "interaction": "cat"}}


def _five_on_two_gpus(run_cli, tmp_path, flag):
    """Shard FIVE_EQUAL on two A100s without and with ``flag``: {False: plan, True: plan with the flag}
    (the model and system files stay in ``tmp_path`` as five.yaml and two.yaml)."""
    from embsim import config
    from embsim.hw_models.loader import load_system_data
    system = config.apply_overrides(load_system_data("gpu_8x_a100_80g"), {"params.gpus": 2}, source="test")
    (tmp_path / "two.yaml").write_text(yaml.safe_dump({**system, "name": "two_gpus"}))
    (tmp_path / "five.yaml").write_text(yaml.safe_dump(FIVE_EQUAL))
    plans = {}
    for extra in ([], [flag]):
        out = tmp_path / f"p{len(extra)}.json"
        r = run_cli("shard", "--model", tmp_path / "five.yaml", "--system", tmp_path / "two.yaml", *SOLVE, *extra,
                    "-o", out, "--json")
        assert r.code == 0, r
        plans[bool(extra)] = load_plan(out)
    return plans


def test_columns_flag_lets_shard_cut_tables_column_wise(run_cli, tmp_path):
    """Five equal tables on two GPUs: whole, one GPU gets three (60% of the lookups); with --columns a table
    cut in two column halves balances them, and only then does the plan hold column-wise tables."""
    plans = _five_on_two_gpus(run_cli, tmp_path, "--columns")
    assert not any(tp.sharding == "column_wise" for tp in plans[False].tables)
    cut = [tp for tp in plans[True].tables if tp.sharding == "column_wise"]
    assert cut and all(sorted(s.device for s in tp.shards) == ["gpu0", "gpu1"] for tp in cut)
    assert plans[True].makespan_s < 0.95 * plans[False].makespan_s


def test_columns_flag_is_refused_where_the_core_mapping_plans(run_cli, files, tmp_path):
    out = tmp_path / "p.json"
    r = run_cli("shard", "--model", files / "tiny.yaml", "--system", "ascend_910", *SOLVE, "--columns", "-o", out)
    assert_input_error(r, "columns", "core mapping")
    assert not out.exists()


def test_columns_flag_is_in_the_help_of_every_planning_command(run_cli):
    for command in ("shard", "simulate", "explore", "demo"):
        r = run_cli(command, "--help")
        assert r.code == 0 and "--columns" in r.out and "column-wise" in r.out, command


def test_explore_takes_the_sharding_mips_options(run_cli, files, tmp_path):
    """--columns and --max-collision-share replace the space's plan settings (they were refused as unknown keys)."""
    space = {"name": "gpu", "system": "gpu_8x_a100_80g", "model": str(files / "tiny.yaml"),
             "simulation": {"queries": 1024, "batch_size": 64}, "plan": {"solver": "highs", "time_limit_s": 5},
             "knobs": {"seed": {"path": "sim.seed", "values": [0]}}}
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    r = run_cli("explore", tmp_path / "space.yaml", "--db", tmp_path / "s.sqlite", "--workers", 1, "--columns",
                "--max-collision-share", "0.5", "--export", tmp_path / "s.json")
    assert r.code == 0, r
    rows = json.loads((tmp_path / "s.json").read_text())
    rows = rows["points"] if isinstance(rows, dict) else rows
    assert [row["status"] for row in rows] == ["ok"], [row.get("error") for row in rows]


def test_no_torchrec_baseline_flag_reaches_every_planner(run_cli, files, tmp_path):
    """--no-torchrec-baseline: shard plans without TorchRec's plan among the baselines (with torchrec
    installed, the same command without the flag has it); an SoC's core mapping takes the flag (it has no
    such baseline); explore's points take it as plan.torchrec_baseline."""
    from embsim.cost_model import torchrec_planner
    plans = _five_on_two_gpus(run_cli, tmp_path, "--no-torchrec-baseline")
    assert "torchrec" not in plans[True].baselines
    if torchrec_planner.unavailable() is None:
        assert "torchrec" in plans[False].baselines
    assert plans[True].makespan_s == pytest.approx(plans[False].makespan_s, rel=1e-9)   # the same solve
    soc = _shard(run_cli, files, tmp_path / "soc.json", "--no-torchrec-baseline")
    assert soc.planner == "core_mapping"
    space = {"name": "gpu", "system": str(tmp_path / "two.yaml"), "model": str(tmp_path / "five.yaml"),
             "simulation": {"queries": 1024, "batch_size": 64}, "plan": {"solver": "highs", "time_limit_s": 5},
             "knobs": {"seed": {"path": "sim.seed", "values": [0]}}}
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    r = run_cli("explore", tmp_path / "space.yaml", "--db", tmp_path / "s.sqlite", "--workers", 1,
                "--no-torchrec-baseline", "--export", tmp_path / "s.json")
    assert r.code == 0, r
    rows = json.loads((tmp_path / "s.json").read_text())
    rows = rows["points"] if isinstance(rows, dict) else rows
    assert [row["status"] for row in rows] == ["ok"], [row.get("error") for row in rows]
    assert not any("torchrec" in k for k in rows[0]), [k for k in rows[0] if "torchrec" in k]


def test_no_torchrec_baseline_flag_is_in_the_help_of_every_planning_command(run_cli):
    for command in ("shard", "simulate", "explore", "demo"):
        r = run_cli(command, "--help")
        assert r.code == 0 and "--no-torchrec-baseline" in r.out, command
