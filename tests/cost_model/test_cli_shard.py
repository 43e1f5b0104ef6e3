"""embsim shard: writes a valid plan, prints the table, and bad inputs exit 2 with one line."""
import json

import pytest

from embsim.cost_model.plan import load_plan
from embsim.cost_model.validate import plan_problems
from embsim.hw_models.loader import load_system
from embsim.workloads.model import load_model
from conftest import assert_input_error

SMALL_MODEL = """
name: small
source: test
defaults: {dim: 32, pooling: 4, access: {kind: zipf, alpha: 1.1}}
tables:
  - {name: a, rows: 100000}
  - {name: b, rows: 20000, pooling: 20}
  - {name: c, rows: 5000}
dense: {dense_features: 13, bottom_mlp: [64, 32], top_mlp: [64, 1]}
"""


@pytest.fixture
def model_yaml(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text(SMALL_MODEL)
    return p


def test_shard_writes_a_valid_plan(run_cli, model_yaml, tmp_path):
    out = tmp_path / "plan.json"
    r = run_cli("shard", "--model", model_yaml, "--system", "cpu_2s_spr_ddr5", "--time-limit", 10,
                "--solver", "highs", "-o", out)
    assert r.code == 0, r
    assert "baseline size_greedy" in r.out and "imbalance" in r.out and "socket0" in r.out
    plan = load_plan(out)
    assert plan_problems(plan, load_system("cpu_2s_spr_ddr5"), load_model(model_yaml)) == []
    # refused without --force, replaced with it
    assert_input_error(run_cli("shard", "--model", model_yaml, "--system", "cpu_2s_spr_ddr5", "-o", out),
                       "already exists")
    r = run_cli("shard", "--model", model_yaml, "--system", "cpu_2s_spr_ddr5", "--time-limit", 5, "-o", out,
                "--force", "--json", "--representations", "fp32,int8")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["makespan_s"] <= min(b["makespan_s"] for b in d["baselines"].values()) * (1 + 1e-9)


def test_shard_on_an_soc_maps_cores(run_cli, model_yaml, tmp_path):
    out = tmp_path / "soc.json"
    r = run_cli("shard", "--model", model_yaml, "--system", "ascend_910", "--time-limit", 10, "--solver", "highs",
                "-o", out, "--json")
    assert r.code == 0, r
    plan = load_plan(out)
    assert plan.method in ("core_mapping", "baseline")
    assert all(s.strategy and s.core is not None for t in plan.tables for s in t.shards)


@pytest.mark.parametrize("args,frag", [
    (["--model", "nosuch", "--system", "cpu_2s_spr_ddr5"], "unknown model"),
    (["--model", "rm1", "--system", "nosuch"], "unknown system"),
    (["--model", "rm1", "--system", "cpu_2s_spr_ddr5", "--solver", "gurobi"], "gurobi"),
    (["--model", "rm1", "--system", "cpu_2s_spr_ddr5", "--time-limit", "-1"], "--time-limit"),
    (["--model", "rm1", "--system", "cpu_2s_spr_ddr5", "--representations", "fp8"], "fp8"),
    (["--model", "dlrm_dcnv2_criteo1tb", "--system", "ascend_910"], "104.5 GB"),
    (["--model", "rm1", "--system", "cpu_2s_spr_ddr5", "--trace", "missing.npz"], "missing.npz"),
])
def test_bad_inputs_exit_2(run_cli, tmp_path, args, frag):
    out = tmp_path / "p.json"
    r = run_cli("shard", *args, "-o", out)
    assert_input_error(r, frag)
    assert not out.exists()


def test_shard_from_a_trace(run_cli, model_yaml, tmp_path):
    trace = tmp_path / "t.npz"
    r = run_cli("trace", "gen", "--model", model_yaml, "--batches", 3, "--batch-size", 32, "--generator", "zipf",
                "--seed", 3, "-o", trace)
    assert r.code == 0, r
    out = tmp_path / "plan.json"
    r = run_cli("shard", "--model", model_yaml, "--system", "cpu_2s_spr_ddr5", "--trace", trace,
                "--time-limit", 5, "-o", out)
    assert r.code == 0, r
    plan = load_plan(out)
    assert plan.batch_size == 32
    assert plan_problems(plan, load_system("cpu_2s_spr_ddr5"), load_model(model_yaml)) == []
