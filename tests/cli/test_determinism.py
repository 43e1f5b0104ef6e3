"""Same inputs, same outputs: plans and results bit for bit, and a config_hash of the inputs only."""
import json
import re
import os

import yaml

from conftest import run_embsim_subprocess

MODEL = {"name": "tiny", "source": "test model",
         "defaults": {"dim": 16, "pooling": 4, "access": {"kind": "zipf", "alpha": 1.05}},
         "tables": [{"name": f"t{i}", "rows": 20_000 * (i + 1)} for i in range(4)],
         "dense": {"dense_features": 13, "bottom_mlp": [64, 16], "top_mlp": [64, 1], "interaction": "dot"}}


def test_the_tests_run_solvers_in_deterministic_mode():
    from embsim.cost_model.solvers import deterministic_mode
    assert deterministic_mode() and os.environ["EMBSIM_DETERMINISTIC"] == "1"


def test_simulate_without_a_plan_twice_gives_identical_json(tmp_path):
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(MODEL))
    outs = []
    for i in range(2):          # separate processes: nothing cached between the runs
        r = run_embsim_subprocess("simulate", "--model", tmp_path / "m.yaml", "--system", "cpu_2s_spr_ddr5",
                                  "--batch-size", "64", "--queries", "6400", "--time-limit", "30", "--json",
                                  "-o", tmp_path / f"r{i}.json")
        assert r.code == 0, r
        outs.append((tmp_path / f"r{i}.json").read_bytes())
    assert outs[0] == outs[1]
    d = json.loads(outs[0])
    assert d["provenance"]["config_hash"] and d["steady_state"] is True


def test_config_hash_ignores_the_solve_and_follows_the_inputs(tmp_path):
    from embsim.hw_models.loader import load_system
    from embsim.sim.simulate import Simulation
    from embsim.workloads.generators import generate_trace
    from embsim.workloads.model import model_from_dict
    m = model_from_dict(MODEL)
    csd = load_system("cpu_2s_spr_ddr5")
    tr = generate_trace(m, batches=8, batch_size=64, seed=0)
    sim = Simulation(m, csd, trace=tr, time_limit_s=30)
    a = sim.run("closed", queries=6400).provenance["config_hash"]
    sim.plan.solve_time_s += 3.0                       # another wall time of the same solve
    sim.plan.notes.append("a note")
    assert sim.run("closed", queries=6400).provenance["config_hash"] == a
    assert sim.run("closed", queries=6400, seed=1).provenance["config_hash"] != a
    assert sim.run("closed", queries=12800).provenance["config_hash"] != a
    given = Simulation(m, csd, plan=sim.plan, trace=tr)
    h1 = given.run("closed", queries=6400).provenance["config_hash"]
    given.plan.solve_time_s += 5.0
    assert given.run("closed", queries=6400).provenance["config_hash"] == h1


def test_shard_twice_gives_the_same_plan(tmp_path):
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(MODEL))
    plans = []
    for i in range(2):
        r = run_embsim_subprocess("shard", "--model", tmp_path / "m.yaml", "--system", "cpu_2s_spr_ddr5",
                                  "--time-limit", "30", "-o", tmp_path / f"p{i}.json")
        assert r.code == 0, r
        d = json.loads((tmp_path / f"p{i}.json").read_text())
        d.pop("solve_time_s")      # outputs of the wall clock: the solve's time and the notes that quote times
        d["notes"] = [n for n in d["notes"] if not re.search(r"\d s\b", n)]
        plans.append(d)
    assert plans[0] == plans[1]
