"""The real evaluator: model + system + per-point plan + simulate, on a reduced copy of quick.yaml."""
import math
from pathlib import Path

import pytest
import yaml

from embsim.errors import InputError
from embsim.explorer import evaluate as ev
from embsim.explorer.space import DesignSpace
from embsim.explorer.store import ResultStore
from embsim.explorer.sweep import run_sweep

QUICK = Path(__file__).parents[2] / "examples" / "spaces" / "quick.yaml"


@pytest.fixture(scope="module")
def small_quick():
    """quick.yaml with smaller tables, fewer queries and two designs, so the test takes seconds."""
    data = yaml.safe_load(QUICK.read_text())
    data["overrides"]["model.tables.0.rows"] = 20000
    data["simulation"]["queries"] = 1024
    data["knobs"]["n_ssd"]["values"] = [1, 2]
    data["knobs"]["batch"]["values"] = [128]
    return DesignSpace.from_dict(data, source="quick-small", base_dir=QUICK.parent)


def test_quick_space_runs_with_physical_metrics(tmp_path, small_quick):
    with ResultStore(tmp_path / "q.sqlite") as st:
        s = run_sweep(small_quick, st, workers=1)
        assert s.ok == 2, s.first_error or st.dataframe()["error"].tolist()
        df = st.dataframe().set_index("n_ssd")
        art = st.artifacts(df.loc[2, "key"])
    for n in (1, 2):
        row = df.loc[n]
        assert row.throughput_qps > 0 and row.energy_per_query_J > 0 and row.p99_latency_s >= row.p50_latency_s > 0
        assert row.cost_usd == 10000 + 2500 * n                          # the derived cost model
        for c in [c for c in df.columns if c.startswith("bandwidth_Bps.")]:
            peak = row.get("peak_" + c)
            if isinstance(peak, float) and not math.isnan(peak) and not math.isnan(row[c]):
                assert row[c] <= peak * (1 + 1e-9), c                    # no bandwidth above a part's peak
        assert row.plan_makespan_s > 0
    assert df.loc[2].capacity_B > df.loc[1].capacity_B                   # more SmartSSDs, more memory
    assert df.loc[2].n_devices == df.loc[1].n_devices + 1
    assert art["plan"]["tables"] and art["sim_result"]["throughput"]["queries_per_s"] == df.loc[2].throughput_qps


def test_cached_trace_gives_the_same_result_as_simulate_alone(small_quick):
    from embsim.sim.simulate import simulate
    p = small_quick.points()[0]
    model, system = ev.build(p.config)
    plan = ev.plan_for(model, system, p.config["plan"], p.config["sim"]["batch_size"])
    sim = p.config["sim"]
    direct = simulate(model, system, plan=plan, arrival="closed", queries=sim["queries"],
                      batch_size=sim["batch_size"], seed=sim["seed"]).to_dict()
    m = ev.evaluate(p.config)
    assert m["throughput_qps"] == direct["throughput"]["queries_per_s"]
    assert m["energy_per_query_J"] == direct["energy"]["per_query_J"]
    again = ev.evaluate(p.config)
    m.pop("artifacts"), again.pop("artifacts")     # the plan's wall-clock solve time differs, by nature
    assert m == again                                                    # metrics: deterministic, bit for bit


def test_a_design_that_cannot_hold_the_tables_is_infeasible(small_quick):
    cfg = small_quick.points()[0].config
    cfg = {**cfg, "model_overrides": {**cfg["model_overrides"], "tables.0.rows": 10**10}}
    with pytest.raises(InputError):
        ev.evaluate(cfg)


def test_cache_rows_knob_sets_every_listed_cache():
    sim = {"caches": {"host.dram": [{"name": "c", "policy": "lru", "capacity_B": 1e6}]}, "cache_rows": 500}
    assert ev.caches_of(sim) == {"host.dram": [{"name": "c", "policy": "lru", "capacity_rows": 500}]}
    assert ev.caches_of({"caches": None}) is None
    with pytest.raises(InputError, match="set simulation.caches"):
        ev.caches_of({"caches": None, "cache_rows": 10})


def test_a_stored_trace_is_simulated_at_every_point(tmp_path, small_quick):
    """simulation.trace names a stored trace (here a .trace folder, relative to the space file): every point
    simulates it, with its batch size, and gets what simulate gives for that trace in memory."""
    from embsim.sim.simulate import simulate
    from embsim.workloads.generators import generate_trace
    from embsim.workloads.store import save_trace
    p0 = small_quick.points()[0]
    model, system = ev.build(p0.config)
    tr = generate_trace(model, batches=16, batch_size=64, seed=4)
    save_trace(tr, tmp_path / "t.trace", batches_per_chunk=2)
    data = yaml.safe_load(QUICK.read_text())
    data["overrides"]["model.tables.0.rows"] = 20000
    data["knobs"]["n_ssd"]["values"] = [1]
    data["knobs"]["batch"]["values"] = [128]
    data["simulation"]["queries"] = 16 * 64
    data["simulation"]["trace"] = "t.trace"
    space = DesignSpace.from_dict(data, source="quick-trace", base_dir=tmp_path)
    p = space.points()[0]
    m = ev.evaluate(p.config)
    model, system = ev.build(p.config)
    plan = ev.plan_for(model, system, p.config["plan"], 64)
    direct = simulate(model, system, plan=plan, trace=tr, arrival="closed", queries=16 * 64, seed=0).to_dict()
    assert m["throughput_qps"] == direct["throughput"]["queries_per_s"]
    assert m["artifacts"]["sim_result"]["config"]["trace"]["batch_size"] == 64


def test_explorer_trace_has_simulates_batches_under_the_lookup_cap(monkeypatch):
    """Past the 64M-lookup cap simulate generates fewer batches than the queries ask; the explorer's trace
    (shared by points) must be the one simulate would generate, profile half included."""
    from embsim.explorer import evaluate as ev
    from embsim.sim import simulate as sm
    from embsim.workloads.model import load_model
    model = load_model("rm2")
    asked = {}
    monkeypatch.setattr(ev, "generate_trace", lambda m, batches, batch_size, seed: asked.setdefault("b", batches))
    monkeypatch.setattr(ev, "_TRACES", {})
    queries = 10 * int(sm.MAX_GENERATED_LOOKUPS // model.lookups_per_sample)     # ten times the cap
    ev.trace_for(model, {"model": "rm2", "sim": {"batch_size": 1024, "queries": queries, "seed": 0}})
    capped = int(sm.MAX_GENERATED_LOOKUPS // (1024 * model.lookups_per_sample))
    assert asked["b"] == 2 * capped == sm.generated_batches(model, 1024, queries)
    assert asked["b"] < 2 * -(-queries // 1024)
