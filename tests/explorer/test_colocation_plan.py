"""Fleet sizing: the planner needs no more servers than any baseline and every group it picks meets
every tenant's p99 in simulation; the server-count MIP equals brute force; bad fleets are one line."""
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import assert_input_error
from embsim.explorer.colocation_plan import Candidate, brute_force, plan_fleet, solve_mip
from embsim.explorer.fleet import load_fleet

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples/fleets/deeprecsys_cpu.yaml"
SMALL = str(ROOT / "examples/models/small_rm.yaml")


def fleet_yaml(tmp_path, name="f.yaml", **change):
    data = {"name": "tiny", "source": "test fleet", "server": {"system": "cpu_2s_spr_ddr5",
            "cost": {"value": 1.0, "source": "assumption: test"}}, "simulation": {"batch_size": 16, "batches": 8},
            "models": [{"name": "a", "model": SMALL, "qps": 900000, "p99_sla": "20 ms"},
                       {"name": "b", "model": "rm3", "qps": 500000, "p99_sla": "20 ms"}]}
    for k, v in change.items():
        i, field = k.split("__")
        data["models"][int(i)][field] = v
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def check_plan(plan):
    servers = {m: v["servers"] for m, v in plan["methods"].items()}
    assert all(servers["planner"] <= s for s in servers.values()), servers
    planner = plan["methods"]["planner"]
    for g in planner["groups"]:
        for t in g["tenants"].values():
            assert t["meets_sla"] and t["p99_s"] <= t["p99_sla_s"], g
    for m, v in plan["methods"].items():                       # every model's demand is served
        for name, d in plan["demand_qps"].items():
            assert sum(g["servers"] * g["tenants"][name]["qps"] for g in v["groups"]
                       if name in g["tenants"]) == pytest.approx(d, rel=1e-9), m
        assert v["utilisation"] == pytest.approx(sum(d / plan["alone_capacity_qps"][n] for n, d in
                                                     plan["demand_qps"].items()) / v["servers"])


def test_planner_beats_baselines_on_a_tiny_fleet(tmp_path):
    logging.disable(logging.WARNING)
    check_plan(plan_fleet(load_fleet(fleet_yaml(tmp_path))))


@pytest.mark.slow
def test_planner_beats_baselines_on_the_example_fleet():
    logging.disable(logging.WARNING)
    plan = plan_fleet(load_fleet(EXAMPLE))
    check_plan(plan)
    assert plan["methods"]["one_per_server"]["servers"] == sum(
        int(np.ceil(d / plan["alone_capacity_qps"][n])) for n, d in plan["demand_qps"].items())


def test_mip_equals_brute_force_on_a_tiny_candidate_set():
    rng = np.random.default_rng(7)
    alone = {"a": 100.0, "b": 80.0, "c": 50.0}
    for _ in range(5):
        demand = {m: float(rng.uniform(30, 200)) for m in alone}
        cands = [Candidate((m,), "shared", (1.0,), 1.0) for m in alone]
        cands += [Candidate(g, "shared", (0.5, 0.5), float(rng.uniform(0.6, 1.6))) for g in
                  (("a", "b"), ("b", "c"))]
        counts = solve_mip(cands, alone, demand, 2.0)
        assert 2.0 * sum(counts.values()) == brute_force(cands, alone, demand, 2.0, most=6)


@pytest.mark.parametrize("change, fragments", [
    ({"0__model": "rm99"}, ["model 'a'", "unknown model 'rm99'"]),
    ({"1__qps": 0}, ["models[1].qps", "expected a demand in samples/s > 0", "got 0"]),
    ({"1__qps": -5}, ["models[1].qps", "got -5"]),
    ({"0__p99_sla": "1 us"}, ["model 'a'", "cannot be met even alone"]),
])
def test_bad_fleets_are_one_line(tmp_path, run_cli, change, fragments):
    p = fleet_yaml(tmp_path, **change)
    out = tmp_path / "plan.json"
    r = run_cli("colocate", p, "-o", out)
    assert_input_error(r, str(p), *fragments)
    assert not out.exists()


def test_unknown_server_type_and_existing_output_are_refused(tmp_path, run_cli):
    p = fleet_yaml(tmp_path)
    data = yaml.safe_load(p.read_text())
    data["server"]["system"] = "cpu_9s_nope"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    assert_input_error(run_cli("colocate", bad, "-o", tmp_path / "x.json"), str(bad), "server.system", "cpu_9s_nope")
    out = tmp_path / "exists.json"
    out.write_text("{}")
    assert_input_error(run_cli("colocate", p, "-o", out), "already exists", "--force")
    assert json.loads(out.read_text()) == {}
