"""The pigeonhole cuts of the full MIP are valid: every integer plan of small random instances (copies, column
shards, row-wise parts, output writes, links) satisfies them; the MIP with them still equals brute force; they
raise the LP relaxation where items outnumber devices, never above the optimum."""
import itertools
import math

import numpy as np
import pulp
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cm_toys import Stats, WritingSystem
from test_sharding_mip import device_time
from embsim.cost_model.mip_cuts import copy_share_s, heavy_sums, rigid_item_times
from embsim.cost_model.placement import replica_slots
from embsim.cost_model.sharding_mip import build_full
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.cost_model.solvers import solve
from embsim.workloads.model import AccessSpec, DenseSpec, ModelSpec, TableSpec


def _model(rows, dims):
    tables = tuple(TableSpec(f"t{i}", r, d, "fp32", 4.0, access=AccessSpec("zipf", 1.1))
                   for i, (r, d) in enumerate(zip(rows, dims)))
    return ModelSpec("cuts", tables, DenseSpec(13, (64, 16), (64, 1), "dot"), "test")


def _system(n_dev, fast_B, slow_B, bandwidth_Bps, write_Bps):
    tiers = [dict(tier="sram", capacity_B=fast_B, per_lookup_s=2e-9, bandwidth_Bps=200e9),
             dict(tier="dram", capacity_B=slow_B, per_lookup_s=50e-9, bandwidth_Bps=10e9)]
    s = WritingSystem("cuts", {f"dev{k}": {"tiers": tiers, "macs_per_s": 2e11} for k in range(n_dev)},
                      {f"dev{k}": write_Bps * (1 + 0.3 * k) for k in range(n_dev)})
    s.links = {"latency_s": 1e-6, "bandwidth_Bps": bandwidth_Bps}
    return s


def _options(inst, i):
    """Every way item i can be held: copied, whole on a device as rep r, or K column shards in slots."""
    it = inst.items[i]
    opts = [("copy",)] if it.table in inst.replicable else []
    opts += [("whole", d, r) for d in inst.devices for r in range(len(it.reps))]
    for K in inst.columnable.get(it.table, []):
        for devs in itertools.combinations(inst.devices, K):
            opts += [("cols", K, slots) for slots in itertools.product(*(inst.dev_slots[d] for d in devs))]
    return opts


def _write_s(inst, d, pooled_B):
    return inst.system.shard_output_time_s(d, pooled_B)


def every_plan(inst):
    """(makespan, all-to-all makespan, copied tables, shard sizes sent) of every integer plan, tiers at their best."""
    N = len(inst.devices)
    fast = dict(zip(inst.devices, replica_slots(inst)))
    cache = {}
    for combo in itertools.product(*(_options(inst, i) for i in range(len(inst.items)))):
        held = {d: [] for d in inst.devices}
        whole = {d: [] for d in inst.devices}
        pooled, shards, copied = {d: 0.0 for d in inst.devices}, [], set()
        for i, opt in enumerate(combo):
            it = inst.items[i]
            if opt[0] == "copy":
                copied.add(it.table)
                for d in inst.devices:
                    # a copy serves 1/N of the samples: their lookups and the write of their pooled vectors
                    whole[d].append((fast[d], it.bytes[0], it.accesses / N * inst.time[i][0, fast[d]]
                                     + _write_s(inst, d, inst.pooled_B[i] / N)))
            elif opt[0] == "whole":
                held[opt[1]].append((i, opt[2], None))
                pooled[opt[1]] += inst.pooled_B[i]
                shards.append(inst.pooled_B[i])
            else:
                K = opt[1]
                for k in opt[2]:
                    d = inst.slots[k].device
                    sec = it.accesses * inst.col_time[it.table, K][k] + _write_s(inst, d, inst.pooled_B[i] / K)
                    whole[d].append((k, it.bytes[0] / K, sec))
                    pooled[d] += inst.pooled_B[i] / K
                    shards.append(inst.pooled_B[i] / K)
        times = []
        for d in inst.devices:
            key = (d, tuple(held[d]), tuple(whole[d]))
            if key not in cache:
                cache[key] = device_time(inst, d, held[d], whole[d])
            times.append(cache[key])
        if np.isfinite(max(times)):
            yield max(times), max(inst.comm.times(pooled).values()), copied, shards


def _smallest_shard(inst):
    sizes = list(inst.pooled_B)
    for t, ks in inst.columnable.items():
        sizes += [inst.pooled_B[inst.column_item(t)] / K for K in ks]
    return min(sizes)


def check_cuts(inst):
    """Assert every cut of mip_cuts holds at every plan; return the optimum (makespan + all-to-all)."""
    N, comm = len(inst.devices), inst.comm
    heavy = max(heavy_sums(rigid_item_times(inst), N), default=0.0)
    first = {it.table: i for i, it in reversed(list(enumerate(inst.items)))}
    b = _smallest_shard(inst)
    lat, send, recv = (min(v.values()) for v in (comm.latency_s, comm.send_s_per_B, comm.recv_s_per_B))
    best = math.inf
    for M, Mc, copied, shards in every_plan(inst):
        assert M >= (heavy + sum(copy_share_s(inst, first[t]) for t in copied)) * (1 - 1e-9)
        n = sum(math.floor(s / b * (1 + 1e-12)) for s in shards)
        latency = lat if shards else 0.0         # nothing sent: no all-to-all
        assert Mc >= (latency + send * b * math.ceil(n / N)) * (1 - 1e-9)
        assert Mc >= (latency + recv * b * (n - n // N)) * (1 - 1e-9)
        best = min(best, M + Mc)
    return best


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(n_dev=st.sampled_from([2, 3]), seed=st.integers(0, 10_000), columns=st.booleans(),
       bandwidth_Bps=st.sampled_from([5e7, 5e8, 5e9]), write_Bps=st.sampled_from([1e9, 1e11]))
def test_every_plan_satisfies_the_cuts_and_the_mip_equals_brute_force(n_dev, seed, columns, bandwidth_Bps, write_Bps):
    rng = np.random.default_rng(seed)
    n_tables = 4 if columns or n_dev == 3 else 5
    small = rng.random(n_tables) < 0.4                      # small tables may be copied
    rows = [int(rng.integers(200, 600)) if s else int(rng.integers(4000, 20000)) for s in small]
    dims = [int(rng.choice([16, 32])) for _ in rows]
    model = _model(rows, dims)
    total = sum(t.bytes for t in model.tables)
    system = _system(n_dev, fast_B=max(0.4 * total / n_dev, 60 * min(t.bytes for t in model.tables)),
                     slow_B=2 * total, bandwidth_Bps=bandwidth_Bps, write_Bps=write_Bps)
    stats = Stats(model, seed)
    opts = dict(split=False, columns=columns, batch_size=64)
    inst = instance_for(model, system, stats, **opts)
    opt = check_cuts(inst)
    plan = solve_plan(model, system, stats, solver="highs", time_limit_s=30, gap_rel=1e-9, method="full",
                      torchrec_baseline=False, **opts)
    assert plan.objective == pytest.approx(opt, rel=1e-6), (plan.objective, opt, plan.status)
    assert plan.best_bound_s <= opt * (1 + 1e-6)


def _lp_bound(inst, cuts, scale):
    prob, _V, _M, _allowed = build_full(inst, cuts=cuts, scale=scale)
    for v in prob.variables():
        v.cat = pulp.LpContinuous
    rep = solve(prob, "highs", 30)
    assert rep.status == "optimal"
    return rep.objective * scale


def test_the_cuts_raise_the_lp_bound_where_items_outnumber_devices_and_stay_below_the_optimum():
    # three equal heavy tables on two devices (one device holds two) and two small copyable ones
    model = _model([20000, 20000, 20000, 300, 300], [32, 32, 32, 16, 16])
    total = sum(t.bytes for t in model.tables)
    system = _system(2, fast_B=total, slow_B=2 * total, bandwidth_Bps=5e9, write_Bps=1e10)
    stats = Stats(model, 3)
    for t, accesses in zip(stats.tables, [5000, 5000, 5000, 200, 200]):
        t["accesses"] = float(accesses)
    inst = instance_for(model, system, stats, batch_size=64, split=False)
    assert len(rigid_item_times(inst)) == 3 and len(inst.replicable) == 2
    opt = check_cuts(inst)
    without, with_cuts = _lp_bound(inst, False, opt), _lp_bound(inst, True, opt)
    assert without < with_cuts * (1 - 0.05), (without, with_cuts, opt)    # the pigeonholes the relaxation misses
    assert with_cuts <= opt * (1 + 1e-9)
