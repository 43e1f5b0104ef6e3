"""The decomposed formulation's copies, column shards and all-to-all: brute force equals it where the tiers do
not matter, its bound never exceeds brute force, a copy costs memory everywhere and sends nothing."""
import pytest

from cm_toys import Stats, toy_model, toy_system
from test_column_wise import brute_force as brute_force_columns
from test_replication import _linked, brute_force as brute_force_copies
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.cost_model.synthetic import SyntheticSystem
from embsim.cost_model.validate import plan_problems

EXACT = dict(solver="highs", time_limit_s=30, gap_rel=1e-9, method="decomposed", torchrec_baseline=False)


@pytest.mark.parametrize("bandwidth_Bps", [5e7, 5e9])
def test_decomposed_with_copies_equals_brute_force(bandwidth_Bps):
    model = toy_model(4, 21, rows=(500, 3000))
    stats = Stats(model, 21)
    system = _linked(3, bandwidth_Bps, sum(t.bytes for t in model.tables))     # every table fits any fast tier
    inst = instance_for(model, system, stats, batch_size=64, split=False)
    opt = brute_force_copies(inst)
    plan = solve_plan(model, system, stats, batch_size=64, split=False, **EXACT)
    assert plan.method == "decomposed"
    assert plan.objective == pytest.approx(opt, rel=1e-6), (plan.objective, plan.status, plan.notes)
    assert plan.best_bound_s <= opt * (1 + 1e-9)
    assert "data-parallel" in plan.bound_rule
    assert plan_problems(plan, system, model) == []
    if bandwidth_Bps < 1e8:      # links the bottleneck: copies everywhere, nothing sent, memory on every device
        assert all(tp.sharding == "data_parallel" for tp in plan.tables)
        assert plan.comm_makespan_s == 0.0
        every = sum(tp.representation.bytes for tp in plan.tables)
        for d in system.devices:
            assert plan.pool_used_B[f"{d}.sram"] == pytest.approx(every)


def _column_case(seed, fast_share, n_dev=2):
    model = toy_model(3, seed, dims=(64, 128, 256))
    stats = Stats(model, seed)
    stats.tables[0]["accesses"] *= 10                 # one hot table: cutting it wins
    total = sum(t.bytes for t in model.tables)
    system = toy_system(n_dev, fast_B=fast_share * total, slow_B=0.7 * total)
    system = SyntheticSystem("linked", system.params, links={"latency_s": 1e-6, "bandwidth_Bps": 2e9})
    return model, stats, system


def test_decomposed_with_column_shards_equals_brute_force():
    model, stats, system = _column_case(13, fast_share=2.0)       # every table fits a fast tier: no tier choice
    opts = dict(split=False, replicate=False, columns=True)
    opt = brute_force_columns(instance_for(model, system, stats, **opts))
    plan = solve_plan(model, system, stats, **opts, **EXACT)
    assert plan.method == "decomposed"
    assert plan.objective == pytest.approx(opt, rel=1e-6), (plan.objective, plan.status)
    assert any(tp.sharding == "column_wise" for tp in plan.tables)
    assert plan.best_bound_s <= opt * (1 + 1e-9)
    assert "column-wise" in plan.bound_rule
    assert plan_problems(plan, system, model) == []


@pytest.mark.parametrize("seed", [11, 12, 14])
def test_decomposed_bound_holds_with_every_type_under_tight_tiers(seed):
    """Tiers tight enough that the decomposed plan need not be optimal: its bound still is one."""
    model, stats, system = _column_case(seed, fast_share=0.05)
    opts = dict(split=False, replicate=False, columns=True)
    opt = brute_force_columns(instance_for(model, system, stats, **opts))
    plan = solve_plan(model, system, stats, **opts, **EXACT)
    assert plan.best_bound_s <= opt * (1 + 1e-9) <= plan.objective * (1 + 2e-9)
    assert plan_problems(plan, system, model) == []
