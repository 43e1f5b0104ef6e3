"""The sharding MIP against brute force on small instances, with both solvers.

The oracle enumerates every assignment of tables to (device, representation)
(and, for tensor-train, tier); for each device it finds the best tier split
of what it holds with scipy's LP solver over the coverage curves' segments
(an exact formulation that shares no code with the planner: a segment may
sit in either tier, and the LP picks the cheapest mix).  The MIP's makespan
must equal the minimum over all assignments of the slowest device.
"""
import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from cm_toys import Stats, toy_model, toy_system
from embsim.cost_model.baselines import BASELINES
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.cost_model.validate import plan_problems


def device_time(inst, d, held, whole=()):
    """held: list of (item, rep, tt_slot or None); whole: (slot, bytes, seconds) of other things kept whole in
    a slot of d (column shards). Best time of device d, or inf if it cannot hold them."""
    slots = inst.dev_slots[d]
    cap = np.array([inst.slots[k].capacity_B for k in slots], float)
    fixed = 0.0
    write_s = getattr(inst.system, "shard_output_time_s", None)    # each item writes its pooled vectors
    if write_s is not None:
        fixed += sum(write_s(d, inst.pooled_B[i]) for i, _r, _k in held)
    for k, b, sec in whole:
        cap[slots.index(k)] -= b
        fixed += sec
    cols, costs, rows_eq = [], [], []
    for i, r, k_tt in held:
        it = inst.items[i]
        if k_tt is not None:
            cap[slots.index(k_tt)] -= it.bytes[r]
            fixed += it.accesses * inst.time[i][r, k_tt]
            continue
        for w, s in it.curve.segments():
            grp = []
            for n, k in enumerate(slots):
                grp.append(len(cols))
                cols.append((n, w * it.bytes[r]))
                costs.append(it.accesses * s * inst.time[i][r, k])
            rows_eq.append(grp)
    if np.any(cap < -1e-9):
        return np.inf
    if not cols:
        return fixed
    A_eq = np.zeros((len(rows_eq), len(cols)))
    for g, grp in enumerate(rows_eq):
        A_eq[g, grp] = 1
    A_ub = np.zeros((len(slots), len(cols)))
    for j, (n, b) in enumerate(cols):
        A_ub[n, j] = b
    res = linprog(costs, A_ub=A_ub, b_ub=cap, A_eq=A_eq, b_eq=np.ones(len(rows_eq)), bounds=(0, 1), method="highs")
    return fixed + res.fun if res.status == 0 else np.inf


def brute_force(inst):
    options = []                      # per item: list of (device, rep, tt_slot)
    for _i, it in enumerate(inst.items):
        opts = []
        for d in inst.devices:
            for r, rep in enumerate(it.reps):
                if rep.kind == "dense":
                    opts.append((d, r, None))
                else:
                    opts += [(d, r, k) for k in inst.dev_slots[d]]
        options.append(opts)
    cache, best = {}, np.inf
    for combo in itertools.product(*options):
        worst = 0.0
        for d in inst.devices:
            held = tuple((i, r, k) for i, (dd, r, k) in enumerate(combo) if dd == d)
            if (d, held) not in cache:       # keyed by device too: devices may write at different rates
                cache[d, held] = device_time(inst, d, list(held))
            worst = max(worst, cache[d, held])
            if worst >= best:
                break
        best = min(best, worst)
    return best


_OPT = {}
CASES = [  # (tables, devices, representations, seed)
    (5, 3, "fp32,int8", 1),
    (6, 2, "fp32,int8", 2),
    (4, 3, "fp32,tt8", 3),
    (6, 3, None, 4),
]


@pytest.mark.parametrize("solver", ["cbc", "highs"])
@pytest.mark.parametrize("n_tables,n_dev,reps,seed", CASES)
def test_mip_equals_brute_force(n_tables, n_dev, reps, seed, solver):
    model = toy_model(n_tables, seed)
    stats = Stats(model, seed)
    total = sum(t.bytes for t in model.tables)
    # tiers tight enough that both the fast-tier split and the device choice matter
    system = toy_system(n_dev, fast_B=0.08 * total / n_dev, slow_B=0.7 * total)
    key = (n_tables, n_dev, reps, seed)
    if key not in _OPT:            # the oracle is shared by both solvers' runs
        _OPT[key] = brute_force(instance_for(model, system, stats, representations=reps, split=False,
                                             replicate=False))      # the oracle covers table-wise placement
    opt = _OPT[key]
    plan = solve_plan(model, system, stats, solver=solver, representations=reps, split=False, time_limit_s=30,
                      gap_rel=1e-9, method="full", replicate=False)
    assert np.isfinite(opt)
    assert plan.makespan_s == pytest.approx(opt, rel=1e-6), (plan.makespan_s, opt, plan.status, plan.notes)
    assert plan.best_bound_s <= plan.makespan_s * (1 + 1e-9)
    assert plan_problems(plan, system, model) == []
    for name, b in plan.baselines.items():
        if b["makespan_s"] is not None and name in BASELINES:    # TorchRec's plan may split where the MIP may not
            assert plan.makespan_s <= b["makespan_s"] * (1 + 1e-9), name


@pytest.mark.parametrize("method", ["full", "decomposed"])
def test_output_writes_brute_force(method):
    """Devices that write pooled output at different rates: the full MIP still equals brute force (whose
    device time adds each held table's write), and the decomposed method's bound stays below the optimum."""
    model = toy_model(5, 1)
    stats = Stats(model, 1)
    total = sum(t.bytes for t in model.tables)
    system = toy_system(3, fast_B=0.08 * total / 3, slow_B=0.7 * total, write_Bps=(0.5e9, 2e9, 8e9))
    opt = brute_force(instance_for(model, system, stats, representations="fp32,int8", split=False,
                                   replicate=False))
    plan = solve_plan(model, system, stats, solver="highs", representations="fp32,int8", split=False,
                      time_limit_s=30, gap_rel=1e-9, method=method, replicate=False, torchrec_baseline=False)
    plain = solve_plan(model, toy_system(3, fast_B=0.08 * total / 3, slow_B=0.7 * total), stats, solver="highs",
                       representations="fp32,int8", split=False, time_limit_s=30, gap_rel=1e-9, method="full",
                       replicate=False, torchrec_baseline=False)
    assert plain.makespan_s < opt                  # the writes matter on this instance
    assert plan.best_bound_s <= opt * (1 + 1e-6)
    if method == "full":
        assert plan.makespan_s == pytest.approx(opt, rel=1e-6), (plan.makespan_s, opt, plan.status)
    else:
        assert plan.makespan_s >= opt * (1 - 1e-6)


def test_hot_rows_take_the_fast_tier():
    """A shard in SRAM always holds hotter ranks than the DRAM shard of the same table."""
    model = toy_model(6, 7)
    total = sum(t.bytes for t in model.tables)
    system = toy_system(3, fast_B=0.05 * total / 3, slow_B=total)
    plan = solve_plan(model, system, solver="highs", time_limit_s=20, split=False)
    for t in plan.tables:
        sram = [s for s in t.shards if s.tier == "sram"]
        dram = [s for s in t.shards if s.tier == "dram"]
        if sram and dram:
            assert max(s.rank_hi for s in sram) <= min(s.rank_lo for s in dram) + 1e-12
            # the hottest ranks serve more lookups per row than the cold ones
            assert sram[0].access_share / (sram[0].rank_hi - sram[0].rank_lo) >= \
                dram[0].access_share / (dram[0].rank_hi - dram[0].rank_lo)


def test_more_fast_memory_never_slower():
    model = toy_model(4, 11)
    total = sum(t.bytes for t in model.tables)
    spans = []
    for frac in (0.02, 0.1, 0.3):
        system = toy_system(3, fast_B=frac * total / 3, slow_B=total)
        spans.append(solve_plan(model, system, solver="highs", time_limit_s=20, gap_rel=1e-9).makespan_s)
    assert spans[0] >= spans[1] * (1 - 1e-9) >= spans[2] * (1 - 1e-9)
