"""solve_plan keeps its time limit (model building included) and, in deterministic mode, repeats itself.

The limit test is the one wall-time check the issue asks for ("time limits hold"): the whole call, from
the instance to the written plan, within 1.1 x the limit, on a mid-size instance whose solve the limit
stops (DCNv2 on 8 x A100 is not proven optimal in 4 s).  The determinism test runs the same solve in two
fresh interpreters with different hash seeds (set iteration order differs) and compares the plan JSON.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embsim.cost_model.solve import solve_plan
from embsim.cost_model.validate import plan_problems
from embsim.hw_models.loader import load_system
from embsim.workloads.model import load_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("solver,method", [("cbc", "full"), ("highs", "full"), ("cbc", "decomposed")])
def test_the_whole_solve_keeps_its_time_limit(solver, method, monkeypatch):
    monkeypatch.setenv("EMBSIM_DETERMINISTIC", "0")       # wall-time stops: the limit must bind
    model, system = load_model("dlrm_dcnv2_criteo1tb"), load_system("gpu_8x_a100_80g")
    limit = 4.0
    t = time.perf_counter()
    plan = solve_plan(model, system, solver=solver, time_limit_s=limit, method=method, torchrec_baseline=False)
    wall = time.perf_counter() - t
    assert wall <= 1.1 * limit, f"{wall:.2f} s for a {limit} s limit ({plan.status}); load {os.getloadavg()}; {plan.notes}"
    assert plan_problems(plan, system, model) == []
    assert plan.objective <= min(b["objective"] for b in plan.baselines.values() if b.get("objective"))


def test_the_decomposed_solve_keeps_its_limit_when_building_the_aggregate_lp_is_most_of_it(monkeypatch):
    # 856 tables on SCRec's two device classes: building the aggregate LP is most of what the 3 s leave it
    # (3.60 s in all on CI when the build was checked only once finished); the build measures its rate and
    # is abandoned early (build_budget), the plan then being the polished start
    _keeps_its_limit_on_856_tables("decomposed", monkeypatch)


def test_the_full_solve_keeps_its_limit_when_its_build_is_longer_than_the_limit(monkeypatch):
    # the full MIP of the same instance takes longer to build than the 3 s: abandoned early, the best baseline
    _keeps_its_limit_on_856_tables("full", monkeypatch)


def _keeps_its_limit_on_856_tables(method, monkeypatch):
    monkeypatch.setenv("EMBSIM_DETERMINISTIC", "0")
    model, system = load_model("dlrm_datasets_like"), load_system("screc_4x_smartssd")
    limit = 3.0
    t = time.perf_counter()
    plan = solve_plan(model, system, solver="cbc", time_limit_s=limit, method=method, torchrec_baseline=False)
    wall = time.perf_counter() - t
    assert wall <= 1.1 * limit, f"{wall:.2f} s for a {limit} s limit ({plan.status}); load {os.getloadavg()}; {plan.notes}"
    assert plan_problems(plan, system, model) == []
    assert plan.objective <= min(b["objective"] for b in plan.baselines.values() if b.get("objective"))
    if plan.method != "baseline":     # a plan better than every baseline is feasible, whichever stage found it
        assert plan.status in ("optimal", "feasible"), (plan.status, plan.notes)


def test_no_time_for_a_model_gives_the_best_baseline_with_a_note():
    model, system = load_model("dlrm_dcnv2_criteo1tb"), load_system("gpu_8x_a100_80g")
    plan = solve_plan(model, system, time_limit_s=0.01, torchrec_baseline=False)
    assert plan.method == "baseline" and "not_solved" in plan.status
    assert any("no MIP" in n for n in plan.notes)
    assert plan.objective == pytest.approx(min(b["objective"] for b in plan.baselines.values()
                                               if b.get("objective")), rel=1e-12)
    assert plan.best_bound_s is not None and plan.best_bound_s <= plan.objective


SOLVE = """
import json, sys
from embsim.cost_model.solve import solve_plan
from embsim.hw_models.loader import load_system
from embsim.workloads.model import load_model
plan = solve_plan(load_model("rm2"), load_system("gpu_8x_a100_80g", overrides={"params.gpus": 4}),
                  solver=sys.argv[1], method=sys.argv[2], time_limit_s=60, torchrec_baseline=False)
d = plan.to_dict()
print(json.dumps({k: d[k] for k in ("tables", "device_time_s", "makespan_s", "best_bound_s", "status")},
                 sort_keys=True))
"""


@pytest.mark.parametrize("solver,method", [("cbc", "full"), ("highs", "full"), ("cbc", "decomposed")])
def test_deterministic_mode_gives_the_same_plan_bit_for_bit(solver, method):
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "EMBSIM_DETERMINISTIC": "1", "PYTHONHASHSEED": seed,
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        run = subprocess.run([sys.executable, "-c", SOLVE, solver, method], env=env, capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        outs.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert outs[0] == outs[1]
    assert "time limit" not in outs[0]["status"]
