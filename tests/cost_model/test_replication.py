"""Data-parallel replication: the MIP's choice equals brute force; a copy costs memory everywhere and no all-to-all."""
import itertools

import numpy as np
import pytest

from cm_toys import Stats, toy_model, toy_system
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.cost_model.synthetic import SyntheticSystem
from embsim.cost_model.validate import plan_problems
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict


def _linked(n_dev, bandwidth_Bps, total):
    base = toy_system(n_dev, fast_B=100 * total, slow_B=200 * total)     # every table fits any fast tier
    return SyntheticSystem("linked", base.params, links={"latency_s": 1e-6, "bandwidth_Bps": bandwidth_Bps})


def brute_force(inst):
    """min over (each table: replicated, or on one device) of lookups makespan + all-to-all makespan."""
    N = len(inst.devices)
    fast = {d: inst.dev_slots[d][0] for d in inst.devices}
    best = np.inf
    for combo in itertools.product(["copy"] + inst.devices, repeat=len(inst.items)):
        t = {d: 0.0 for d in inst.devices}
        pooled = {d: 0.0 for d in inst.devices}
        for i, where in enumerate(combo):
            it = inst.items[i]
            if where == "copy":
                if it.table not in inst.replicable:
                    break
                for d in inst.devices:
                    t[d] += it.accesses / N * inst.time[i][0, fast[d]]
            else:
                t[where] += it.accesses * inst.time[i][0, fast[where]]
                pooled[where] += inst.pooled_B[i]
        else:
            best = min(best, max(t.values()) + max(inst.comm.times(pooled).values()))
    return best


@pytest.mark.parametrize("bandwidth_Bps", [5e7, 5e9])
def test_mip_with_replication_equals_brute_force(bandwidth_Bps):
    model = toy_model(4, 21, rows=(500, 3000))
    stats = Stats(model, 21)
    system = _linked(3, bandwidth_Bps, sum(t.bytes for t in model.tables))
    inst = instance_for(model, system, stats, batch_size=64, split=False)
    assert inst.replicable == list(range(4)) and all(it.parts == 1 for it in inst.items)
    plan = solve_plan(model, system, stats, batch_size=64, solver="highs", time_limit_s=30, gap_rel=1e-9,
                      method="full", split=False)
    assert plan.objective == pytest.approx(brute_force(inst), rel=1e-6)
    assert plan_problems(plan, system, model) == []
    if bandwidth_Bps < 1e8:      # links the bottleneck: copies everywhere beat any placement
        assert all(tp.sharding == "data_parallel" for tp in plan.tables)
        assert plan.comm_makespan_s == 0.0
        every = sum(tp.representation.bytes for tp in plan.tables)
        for d in system.devices:                                  # each device holds every copy
            assert plan.pool_used_B[f"{d}.sram"] == pytest.approx(every)


TINY = {"name": "dp", "source": "test", "defaults": {"dim": 32, "pooling": 6, "access": {"kind": "zipf", "alpha": 1.1}},
        "tables": [{"name": "small", "rows": 1000, "pooling": 30}, {"name": "big", "rows": 15_000_000}],   # 1.9 GB: too big to copy
        "dense": {"dense_features": 4, "bottom_mlp": [64, 32], "top_mlp": [16, 1]}}


def test_a_replica_costs_memory_on_every_device_and_sends_no_pooled_vectors():
    model = model_from_dict(TINY, source="test")
    system = load_system("gpu_8x_a100_80g")
    plan = solve_plan(model, system, batch_size=64, solver="highs", time_limit_s=10, split=False, method="full")
    small = plan.table("small")
    if small.sharding != "data_parallel":                 # make it so: the check is of the simulator and validator
        small.partition, small.sharding = "replicated", "data_parallel"
        small.shards = [type(small.shards[0])(f"gpu{c}", "hbm", 0.0, 1.0, 1 / 8, part=c, parts=8) for c in range(8)]
    assert plan_problems(plan, system, model) == []
    trace = generate_trace(model, batches=4, batch_size=64, seed=2)
    sim = Simulation(model, system, plan, trace, profile="in-sample")   # every batch replayed: copies checked per batch
    t_small = [i for i, sh in enumerate(sim.shards) if sh.table_name == "small"]
    assert sorted(sim.shards[i].device for i in t_small) == [f"gpu{c}" for c in range(8)]
    lookups = sim.tier_lookups[:, t_small]                        # [batch, copy]
    want = np.array([[trace.lengths[b, 0, c * 8:(c + 1) * 8].sum() for c in range(8)] for b in range(4)])
    assert np.array_equal(lookups, want)                          # copy c serves samples 8c .. 8c+7
    big_dev = plan.table("big").shards[0].device
    for b in range(4):
        load = sim.batch_load(b)
        for d, dl in load.devices.items():
            assert dl.pooled_bytes_out == (64 * 32 * 4.0 if d == big_dev else 0.0)
