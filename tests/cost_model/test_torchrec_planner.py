"""TorchRec's own planner as a baseline: its plan covers every table, is scored like an imported plan, and its
estimator conserves each shard's time when a table moves."""
import pytest

from embsim.cost_model import torchrec_planner as trp
from embsim.cost_model.planner import plan_for
from embsim.cost_model.torchrec_io import export_constraints, import_plan
from embsim.cost_model.placement import evaluate
from embsim.hw_models.loader import load_system
from embsim.workloads.model import model_from_dict

WHY = trp.unavailable()


MODEL = {"name": "six", "source": "test", "defaults": {"dim": 32, "pooling": 8, "access": {"kind": "zipf", "alpha": 1.1}},
         "tables": [{"name": f"t{i}", "rows": 20000 * (i + 1)} for i in range(5)] + [{"name": "big", "rows": 4000000,
                                                                                       "pooling": 300}],
         "dense": {"dense_features": 4, "bottom_mlp": [64, 32], "top_mlp": [16, 1]}}


@pytest.fixture(scope="module")
def case():
    return model_from_dict(MODEL, source="test"), load_system("gpu_8x_a100_80g")


@pytest.fixture(scope="module")
def tr_plan(case):
    if WHY is not None:
        pytest.skip(f"optional torchrec: {WHY}")
    model, system = case
    return trp.torchrec_plan(model, system, batch_size=256)


@pytest.mark.torchrec
def test_torchrec_plans_every_table_once_on_valid_ranks(case, tr_plan):
    model, system = case
    assert set(tr_plan) == {t.name for t in model.tables}
    for e in tr_plan.values():
        assert e["sharding_type"] in trp.TYPES
        assert e["ranks"] and all(0 <= r < 8 for r in e["ranks"])
        if e["sharding_type"] == "row_wise":
            assert sorted(e["ranks"]) == list(range(8))      # TorchRec's row-wise uses every rank


@pytest.mark.torchrec
def test_the_baseline_scores_the_plan_as_import_does(case, tr_plan):
    """Two paths to the same per-device time: the baseline's instance (even blocks, hot-first tier fill) and
    the importer (each shard at 1/P in its kernel's tier); at 80 GB every table fits HBM, so they agree."""
    model, system = case
    inst, pl = trp.placement_of(tr_plan, model, system, batch_size=256)
    dev_t, _, m = evaluate(inst, pl)
    imported = import_plan(tr_plan, model, system, batch_size=256)
    for d, t in imported.device_time_s.items():
        assert dev_t[d] == pytest.approx(t, rel=1e-9)
    assert m == pytest.approx(imported.makespan_s, rel=1e-9)


@pytest.mark.torchrec
def test_plan_for_shows_torchrec_beside_the_other_baselines(case, tr_plan):
    model, system = case
    plan = plan_for(model, system, batch_size=256, solver="highs", time_limit_s=10)
    b = plan.baselines["torchrec"]
    assert set(plan.baselines) >= {"round_robin", "size_greedy", "lpt", "torchrec"}
    assert b == trp.baseline(model, system, None, 256)
    assert sum(b["tables_by_type"].values()) == len(model.tables)
    assert b["objective"] >= b["makespan_s"] > 0


@pytest.mark.torchrec
def test_torchrec_estimator_moves_exactly_a_tables_time(case, tr_plan):
    model, system = case
    rr = {t.name: {"sharding_type": "table_wise", "compute_kernel": "fused", "ranks": [i % 8]}
          for i, t in enumerate(model.tables)}
    name, a, b = "t2", 2, 3
    before = trp.estimate(rr, model, system, batch_size=256)["rank_s"]
    moved = {**rr, name: {**rr[name], "ranks": [b]}}
    after = trp.estimate(moved, model, system, batch_size=256)["rank_s"]
    x = before[a] - after[a]
    assert x > 0
    assert after[b] - before[b] == pytest.approx(x, rel=1e-9)
    assert sum(after) == pytest.approx(sum(before), rel=1e-12)


@pytest.mark.torchrec
def test_torchrec_estimator_prices_embsims_exported_plan(case, tr_plan):
    model, system = case
    plan = plan_for(model, system, batch_size=256, solver="highs", time_limit_s=10)
    cons = export_constraints(plan, system)["tables"]
    per = {t: {"sharding_type": c["sharding_types"][0], "compute_kernel": c["compute_kernels"][0],
               "ranks": c["ranks"]} for t, c in cons.items()}
    est = trp.estimate(per, model, system, batch_size=256)
    assert len(est["rank_s"]) == 8 and est["makespan_s"] == max(est["rank_s"]) > 0


def test_without_torchrec_the_baselines_are_embsims_own(case, monkeypatch):
    model, system = case
    monkeypatch.setattr(trp, "unavailable", lambda: "not installed (test)")
    plan = plan_for(model, system, batch_size=256, solver="highs", time_limit_s=5)
    assert "torchrec" not in plan.baselines
    assert {"round_robin", "size_greedy", "lpt"} <= set(plan.baselines)


def test_torchrec_is_offered_the_sharding_types_embsims_solve_was():
    assert trp.sharding_types() == trp.DEFAULT_TYPES == ("table_wise", "row_wise", "data_parallel")
    assert trp.sharding_types(columns=True) == trp.TYPES
    assert trp.sharding_types(split=False, replicate=False) == ("table_wise",)
    assert trp.local_batch(1024, 8) == 128 and trp.local_batch(4, 64) == 1


@pytest.mark.torchrec
def test_the_baseline_follows_the_solves_options(case, tr_plan):
    """solve_plan passes its own options: column-wise only with columns=True, no replicas with replicate=False."""
    model, system = case
    off = plan_for(model, system, batch_size=256, solver="highs", time_limit_s=5, replicate=False)
    on = plan_for(model, system, batch_size=256, solver="highs", time_limit_s=5, columns=True)
    assert off.baselines["torchrec"]["sharding_types"] == ["table_wise", "row_wise"]
    assert not any(k.startswith("data_parallel") for k in off.baselines["torchrec"]["tables_by_type"])
    assert on.baselines["torchrec"]["sharding_types"] == list(trp.TYPES)


@pytest.mark.torchrec
def test_torchrec_column_wise_uses_embsims_splits_on_distinct_ranks(case, tr_plan):
    """Offered only table- and column-wise, TorchRec cuts tables into K = 2 or 4 shards on K distinct ranks, which
    embsim scores (placement_of) and TorchRec's estimator prices with the K-shard option."""
    model, system = case
    plan = trp.torchrec_plan(model, system, batch_size=256, types=("table_wise", "column_wise"))
    cut = {n: e for n, e in plan.items() if e["sharding_type"] == "column_wise"}
    assert cut, plan
    for e in cut.values():
        assert len(e["ranks"]) in (2, 4) and len(set(e["ranks"])) == len(e["ranks"])
    inst, pl = trp.placement_of(plan, model, system, batch_size=256)
    assert {inst.model.tables[t].name for t in pl.columns} == set(cut)
    est = trp.estimate(plan, model, system, batch_size=256)
    assert est["makespan_s"] == max(est["rank_s"]) > 0
    imported = import_plan(plan, model, system, batch_size=256)
    assert {tp.table for tp in imported.tables if tp.sharding == "column_wise"} == set(cut)


@pytest.mark.torchrec
def test_estimate_prices_the_global_batch_at_torchrecs_per_rank_batch(case, tr_plan):
    """The estimator's shard times for a batch of B samples on N ranks equal TorchRec's own perf at B/N per rank
    (the scaling _shard_seconds relies on: TorchRec's estimate is linear in the batch)."""
    from embsim.cost_model import torchrec_search as search
    from embsim.cost_model.torchrec_planner import _module, _shard_seconds, _topology
    from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
    import torch
    model, system = case
    scaled = _shard_seconds(model, system, 8, 1024)
    topo = _topology(system, 8, 128)
    direct = search.enumerator(topo, model, trp.TYPES, 8, 128).enumerate(_module(model, torch),
                                                                         [EmbeddingBagCollectionSharder()])
    assert len(direct) == len(scaled)
    for o in direct:
        key = (o.name, o.sharding_type, o.compute_kernel, len(o.shards) if o.sharding_type == "column_wise" else None)
        assert scaled[key] == pytest.approx([s.perf.total / 1e3 for s in o.shards], rel=1e-9)
