"""Column-wise sharding: the MIP's choice equals brute force; a K-way shard holds 1/K of the bytes, reads every
lookup at 1/K of the row and sends 1/K of the pooled vector; the simulator replays it; TorchRec maps it both ways."""
import itertools
import json

import numpy as np
import pytest

from cm_toys import Stats, toy_model, toy_system
from test_sharding_mip import device_time
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.cost_model.synthetic import SyntheticSystem
from embsim.cost_model.torchrec_io import export_constraints, import_plan
from embsim.cost_model.validate import plan_problems
from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict


def _options(inst, i):
    """Every way to hold item i's table: whole on a device (dense: the LP splits its tiers), or K column
    shards, each whole in one slot of K distinct devices."""
    it = inst.items[i]
    opts = [("whole", d, r) for d in inst.devices for r in range(len(it.reps))]
    for K in inst.columnable.get(it.table, []):
        for devs in itertools.combinations(inst.devices, K):
            for slots in itertools.product(*(inst.dev_slots[d] for d in devs)):
                opts.append(("cols", K, slots))
    return opts


def brute_force(inst):
    """min over every combination of options of (slowest device) + (all-to-all makespan, if links)."""
    assert all(rep.kind == "dense" for it in inst.items for rep in it.reps)
    cache, best = {}, np.inf
    for combo in itertools.product(*(_options(inst, i) for i in range(len(inst.items)))):
        held = {d: [] for d in inst.devices}
        whole = {d: [] for d in inst.devices}
        pooled = {d: 0.0 for d in inst.devices}
        for i, opt in enumerate(combo):
            it = inst.items[i]
            if opt[0] == "whole":
                held[opt[1]].append((i, opt[2], None))
                pooled[opt[1]] += inst.pooled_B[i]
                continue
            K = opt[1]
            for k in opt[2]:
                d = inst.slots[k].device
                whole[d].append((k, it.bytes[0] / K, it.accesses * inst.col_time[it.table, K][k]))
                pooled[d] += inst.pooled_B[i] / K
        comm = max(inst.comm.times(pooled).values()) if inst.comm is not None else 0.0
        worst = comm
        for d in inst.devices:
            key = (d, tuple(held[d]), tuple(whole[d]))
            if key not in cache:
                cache[key] = device_time(inst, d, held[d], whole[d])
            worst = max(worst, comm + cache[key])
            if worst >= best:
                break
        best = min(best, worst)
    return best


CASES = [  # tables, devices, seed, link bandwidth, hot: table 0's lookups x 10 (then cutting it wins)
    (3, 3, 11, None, False), (3, 3, 14, None, True), (4, 2, 15, None, True), (3, 2, 13, 2e9, True)]


@pytest.mark.parametrize("n_tables,n_dev,seed,bandwidth_Bps,hot", CASES)
def test_mip_with_column_wise_equals_brute_force(n_tables, n_dev, seed, bandwidth_Bps, hot):
    model = toy_model(n_tables, seed, dims=(64, 128, 256))       # wide rows: a lookup's bytes matter
    stats = Stats(model, seed)
    if hot:
        stats.tables[0]["accesses"] *= 10
    total = sum(t.bytes for t in model.tables)
    system = toy_system(n_dev, fast_B=0.15 * total / n_dev, slow_B=0.7 * total)    # the fast tier matters
    if bandwidth_Bps:
        system = SyntheticSystem("linked", system.params, links={"latency_s": 1e-6, "bandwidth_Bps": bandwidth_Bps})
    opts = dict(split=False, replicate=False, columns=True)
    inst = instance_for(model, system, stats, **opts)
    assert inst.columnable == {t: [2] if n_dev < 4 else [2, 4] for t in range(n_tables)}    # every toy dim is even
    opt = brute_force(inst)
    plan = solve_plan(model, system, stats, solver="highs", time_limit_s=30, gap_rel=1e-9, method="full",
                      torchrec_baseline=False, **opts)
    assert plan.objective == pytest.approx(opt, rel=1e-6), (plan.objective, plan.status)
    assert plan_problems(plan, system, model) == []
    inst.columnable = {}
    without = brute_force(inst)
    whole = solve_plan(model, system, stats, solver="highs", time_limit_s=30, gap_rel=1e-9, method="full",
                       split=False, replicate=False, torchrec_baseline=False)
    assert whole.objective == pytest.approx(without, rel=1e-6)
    if hot:        # the instance needs the cut: brute force with it beats brute force without, the MIP takes it
        assert opt < without * (1 - 1e-3)
        assert any(tp.sharding == "column_wise" for tp in plan.tables)
    assert opt <= without * (1 + 1e-12)


WIDE = {"name": "cw", "source": "test", "defaults": {"dim": 16, "pooling": 4, "access": {"kind": "zipf", "alpha": 1.1}},
        "tables": [{"name": "wide", "rows": 2_000_000, "dim": 1024, "pooling": 80},     # 8.2 GB: too big to copy
                   {"name": "small", "rows": 5000}],
        "dense": {"dense_features": 4, "bottom_mlp": [64, 16], "top_mlp": [16, 1], "interaction": "cat"}}


@pytest.fixture(scope="module")
def wide():
    model = model_from_dict(WIDE, source="test")
    system = load_system("gpu_8x_a100_80g", {"params.gpus": 2})
    plan = solve_plan(model, system, batch_size=256, solver="highs", time_limit_s=20, split=False, method="full",
                      columns=True, torchrec_baseline=False)
    return model, system, plan


def test_one_hot_wide_table_on_two_gpus_is_cut_column_wise(wide):
    model, system, plan = wide
    tp = plan.table("wide")
    assert tp.sharding == "column_wise" and tp.columns == [0, 512, 1024]
    assert sorted(s.device for s in tp.shards) == ["gpu0", "gpu1"] and all(s.access_share == 1.0 for s in tp.shards)
    assert plan_problems(plan, system, model) == []
    t = model.tables[0]
    other = {d: sum(tp2.representation.bytes for tp2 in plan.tables if tp2.table != "wide"
                    and any(s.device == d for s in tp2.shards)) for d in system.devices}
    for d in system.devices:                       # each GPU holds half of every row (and the small table)
        assert plan.pool_used_B[f"{d}.hbm"] == pytest.approx(t.bytes / 2 + other[d], rel=1e-9)
    whole = solve_plan(model, system, batch_size=256, solver="highs", time_limit_s=20, split=False, method="full",
                       torchrec_baseline=False)
    assert whole.table("wide").sharding == "table_wise"
    assert plan.objective < 0.75 * whole.objective        # both GPUs share the hot table's reads


def test_every_column_shard_replays_every_lookup_at_a_fraction_of_the_row(wide):
    model, system, plan = wide
    trace = generate_trace(model, batches=3, batch_size=256, seed=2)
    sim = Simulation(model, system, plan, trace, profile="in-sample")
    mine = [i for i, sh in enumerate(sim.shards) if sh.table_name == "wide"]
    assert sorted(sim.shards[i].device for i in mine) == ["gpu0", "gpu1"]
    assert all(sim.shards[i].row_bytes == model.tables[0].row_bytes / 2 for i in mine)
    want = trace.lengths[:, 0].sum(axis=1)
    for i in mine:                                       # lookups conserved: each shard sees all of them
        assert np.array_equal(sim.tier_lookups[:, i], want)
    assert np.array_equal(sim.batch_lookups, trace.lengths.sum(axis=(1, 2)))     # logical lookups unchanged
    small = {s.device for s in plan.table("small").shards} if plan.table("small").sharding != "data_parallel" else set()
    for b in range(3):
        for d, dl in sim.batch_load(b).devices.items():
            assert dl.pooled_bytes_out == 256 * 4.0 * (512 + (16 if d in small else 0))


def test_a_column_wise_plan_round_trips_through_torchrec(wide):
    model, system, plan = wide
    out = export_constraints(plan, system)
    assert out["tables"]["wide"]["sharding_types"] == ["column_wise"]
    assert sorted(out["tables"]["wide"]["ranks"]) == [0, 1]
    back = import_plan(json.loads(json.dumps(out)), model, system, batch_size=256)
    tp, bt = plan.table("wide"), back.table("wide")
    assert (bt.sharding, bt.partition, bt.columns) == ("column_wise", "column", [0, 512, 1024])
    assert [(s.part, s.device, s.tier, s.access_share) for s in bt.shards] == \
        [(s.part, s.device, s.tier, s.access_share) for s in tp.shards]
    assert plan_problems(back, system, model) == []
    assert export_constraints(back, system)["tables"] == out["tables"]              # a fixed point
    per_shard = system.lookup_cost(next(s for s in system.slots() if s.device == "gpu0" and s.tier == "hbm"),
                                   model.tables[0].row_bytes / 2, "fp32", 80.0).time_s
    assert back.device_time_s["gpu0"] >= 256 * 80 * per_shard * (1 - 1e-9)       # every lookup, half a row


@pytest.mark.parametrize("ranks, fragment", [([0, 0], "distinct"), ([0, 1], None)])
def test_torchrec_column_wise_needs_distinct_ranks(wide, ranks, fragment):
    model, system, _ = wide
    data = {"wide": {"sharding_type": "column_wise", "compute_kernel": "fused", "ranks": ranks},
            "small": {"sharding_type": "table_wise", "compute_kernel": "fused", "ranks": [0]}}
    if fragment:
        with pytest.raises(InputError, match=fragment):
            import_plan(data, model, system)
    else:
        assert import_plan(data, model, system).table("wide").columns == [0, 512, 1024]


def test_uneven_columns_are_a_plan_problem(wide):
    model, system, plan = wide
    bad = type(plan).from_dict(json.loads(plan.to_json()))
    bad.table("wide").columns = [0, 500, 1024]
    assert any("equally spaced column ids" in p for p in plan_problems(bad, system, model))
