"""The sharding MIP: items to devices and representations, hot rows to tiers, minimising the makespan.

Full formulation (``method="full"``), for every item i, candidate
representation r, device d and slot k of d (slots of a device ordered
fastest first):

    x[i,r,d] in {0,1}      item i, as r, lives on d          sum_{r,d} x = 1
    y[i,r,k] in [0,1]      share of i's rows in slot k       sum_{k in d} y = x[i,r,d]
    u[i,r,k] in [0,1]      share of i's lookups served by k  sum_{k in d} u = x[i,r,d]
    hot rows first:        for every prefix P of d's slots (all but the full one) and every
                           segment line (a, b) of i's concave coverage curve:
                           sum_{k in P} u <= a * sum_{k in P} y + b * x[i,r,d]
                           (the prefix serves at most what its rows can: coverage(rows) = min of lines)
    capacity, per pool:    sum y[i,r,k] * bytes(i,r) <= capacity(pool)
    device time:           T_d = sum_{i,r,k in d} accesses_i * u[i,r,k] * t(i,r,k)   (t: lookup + TT compute)
                                 + sum_{i,r} write_d * pooled bytes(i) * x[i,r,d]  (each shard's output,
                                 :mod:`.shard_output`; column shards pooled/K on c)
    makespan:              M >= T_d
    replication:           rho[t] in {0,1} for small whole tables: sum x of t = 1 - rho[t]; rho adds to every
                           device 1/N of t's lookups from its fastest slot and t's bytes there, and no pooled bytes
    column-wise:           g[t,K] in {0,1} for whole dense tables with K | dim: sum x of t = 1 - rho[t] - sum_K g;
                           c[t,K,k] in {0,1} a dim/K shard in slot k: sum_k c = K g, per device sum_{k in d} c <= g;
                           a shard reads all of t's lookups at row_bytes/K, holds bytes/K, sends pooled/K
    all-to-all:            Mc >= lat_d + send_d * pooled_d,  Mc >= lat_d + recv_d * (total - pooled_d)
                           pooled_d = sum_{i,r} pooled bytes(i) * x[i,r,d]  (:mod:`.comm`, probed links)
    objective:             M + Mc + energy_weight * sum accesses * u * e(i,r,k)

A tensor-train item keeps its cores whole in one slot: binary z[i,r,k]
replaces x, y and u.  Symmetry breaking: devices whose slots and costs are
identical for every item form a class; within a class, the j-th item may only
use the first j+1 devices (any plan can be relabelled so), which removes the
D! copies of every plan.

Decomposed formulation (``method="decomposed"``, for hundreds of tables):

1. *aggregate LP*: pool the devices of each class into one device with the
   summed tier capacities; split every item's coverage curve into segments
   and send each segment to a (class, tier rank), minimising M subject to
   "the work sent to class c is at most |c| x M".  Every segment of an item
   goes to each class in the same proportion (an item lives whole on one
   device, so its hot and cold rows share a class; on a mixed system this is
   what keeps the bound tight).  Its optimum is a valid lower bound on the
   makespan (a class's device times sum to at most |c| x makespan, and
   pooling only relaxes capacity); so is the time of the single slowest item
   on its best device.
2. *assignment MIP*: with the LP's tier shares fixed, each item has a cost
   per device and bytes per tier rank; assign items to devices (binary x),
   tier bytes within each tier's capacity, minimising the makespan, warm
   started from a capacity-keeping LPT on the same costs.
3. *refill*: re-split each device's items over its tiers with the greedy
   hot-rows-first fill and score the plan exactly;
4. *polish*: move items off the slowest device while that helps, every
   move scored exactly (:mod:`.local_search`), until the time limit.

The reported bound is the bound of step 1 (for the whole problem, not the
restricted one), so the reported gap is honest even though step 2 fixes the
tier shares.
"""
import math
from dataclasses import dataclass, field
import time

import numpy as np
import pulp

from ..errors import InputError
from .placement import Placement, comm_times, elsewhere_reserve, evaluate, fill_tiers, objective, replica_slots
from .decomposed_types import (assignment_all_to_all, assignment_alternatives, chosen as chosen_types, lp_all_to_all, lp_alternatives,
                               warm as warm_types)
from .local_search import polish
from .mip_cuts import add_count_cuts, add_heavy_cuts, warm_count_cuts
from .shard_output import add_output_terms, copy_s, output_s
from .build_budget import BuildBudget, OverBudget
from .lp_rows import add_row, expr
from .solvers import SolveReport, solve
from .warm_start import copies_start as lp_copies_start

FULL_MAX_PAIRS = 2500          # items x devices up to which method="auto" solves the full MIP
MIN_SOLVER_S = 0.1            # assumption: a solver given less cannot read its model back on a busy machine
POLISH_SPLIT = 0.6            # share of what is left after the LP that the assignment MIP gets (then refill, polish)
COPY_SCAN_SHARE = 0.2         # assumption: of what is left after the LP, the rounding of its copies may take a fifth
ASSIGN_FAST_TIER_SLACK = 0.02  # the assignment may over-book a fast tier by 2%; the refill moves the excess down


def device_classes(inst):
    """Lists of device names whose slots, capacities, pools-sharing and costs are identical.

    Each device's signature is its slots' (tier, capacity, rank), the bytes of every item's time and
    energy columns on its slots, its output write rate and its all-to-all latency and slopes (a GPU behind
    a slower link is not interchangeable with one on NVSwitch); devices of one signature form a class
    (computed once per instance)."""
    cached = getattr(inst, "_classes", None)
    if cached is not None:
        return [list(c) for c in cached]
    n_slots = len(inst.slots)
    time_all = np.concatenate(inst.time, axis=0) if inst.items else np.zeros((0, n_slots))
    energy_all = np.concatenate(inst.energy, axis=0) if inst.items else np.zeros((0, n_slots))
    by_sig = {}
    for d in inst.devices:
        sd = inst.dev_slots[d]
        shape = tuple((inst.slots[k].tier, inst.slots[k].capacity_B, inst.slots[k].rank) for k in sd)
        write = getattr(inst, "output_s_per_B", {}).get(d, 0.0)      # its shards' output write (shard_output.py)
        comm = getattr(inst, "comm", None)
        link = (comm.latency_s[d], comm.send_s_per_B[d], comm.recv_s_per_B[d]) if comm is not None else None
        sig = (shape, time_all[:, sd].tobytes(), energy_all[:, sd].tobytes(), write, link)
        by_sig.setdefault(sig, []).append(d)
    classes = list(by_sig.values())
    inst._classes = [tuple(c) for c in classes]
    return [list(c) for c in classes]


def _symmetry_allowed(inst, order):
    """allowed[i] = set of devices item i may use after symmetry breaking."""
    allowed = [set(inst.devices) for _ in inst.items]
    for cls in device_classes(inst):
        if len(cls) < 2:
            continue
        for j, i in enumerate(order):
            allowed[i] -= set(cls[j + 1:])
    return allowed


def _item_order(inst):
    """Items by decreasing size x load (largest first, for symmetry breaking and LPT)."""
    return sorted(range(len(inst.items)), key=lambda i: (-inst.items[i].accesses * max(1.0, inst.items[i].bytes[0]), i))


# ------------------------------------------------------------------ full ---
def build_full(inst, energy_weight=0.0, symmetry=True, scale=1.0, budget=None, cuts=True):
    """The full MIP; time and energy coefficients are divided by ``scale`` (seconds) so that the
    objective is near 1: CBC's tolerances are absolute, and a makespan of 1e-3 s would sit below them.
    Rows are built from (variable, coefficient) pairs (:mod:`.lp_rows`), not PuLP's operators; with a
    ``budget`` (:mod:`.build_budget`), item by item within it (OverBudget if not).  ``cuts``: add the
    valid cuts of :mod:`.mip_cuts`."""
    w = 1.0 / scale
    prob = pulp.LpProblem("sharding", pulp.LpMinimize)
    M = prob.add_variable("makespan", lowBound=0)
    allowed = _symmetry_allowed(inst, _item_order(inst)) if symmetry else [set(inst.devices)] * len(inst.items)
    V = {"x": {}, "y": {}, "u": {}, "z": {}}
    dev_time = {d: [] for d in inst.devices}   # (var, coefficient) pairs of each device's time
    pool_use = {p: [] for p in inst.pools}
    pooled = {d: [] for d in inst.devices}     # pooled bytes each device sends in the all-to-all
    energy = []
    rho = _replicas(prob, inst, w, dev_time, energy, pool_use)
    V["rho"] = rho
    V["g"], V["c"] = _column_shards(prob, inst, w, dev_time, energy, pool_use, pooled)
    cut = {}
    for (t, _K), g in V["g"].items():
        cut.setdefault(t, []).append((g, 1.0))
    for i, it in enumerate(inst.items):
        choose = []
        for r in range(len(it.reps)):
            for d in inst.devices:
                if d in allowed[i]:
                    choose += _full_item_on(prob, inst, V, i, r, d, w, dev_time, energy, pool_use, pooled)
        other = ([(rho[it.table], 1.0)] if it.table in rho else []) + cut.get(it.table, [])
        add_row(prob, choose + other, "==", 1.0)
        if budget is not None:
            budget.check(i + 1, len(inst.items))
    _same_representation(prob, inst, V)
    add_output_terms(inst, pooled, w, dev_time)     # every shard writes the pooled bytes it sends
    for d, terms in dev_time.items():
        add_row(prob, terms + [(M, -1.0)], "<=", 0.0, f"time_{inst.dev_index[d]}")
    for n, (p, terms) in enumerate(pool_use.items()):
        if terms:
            add_row(prob, terms, "<=", inst.pools[p], f"cap_{n}")
    Mc, any_sent = _all_to_all(prob, inst, pooled, w, rho)
    V["Mc"] = Mc
    if cuts:              # valid pigeonhole cuts (:mod:`.mip_cuts`): the same optimum, a tighter LP
        add_heavy_cuts(prob, inst, M, rho, w)
        V["count_cut"] = add_count_cuts(prob, inst, Mc, pooled, w, any_sent)
    prob.setObjective(expr([(M, 1.0)] + ([(Mc, 1.0)] if Mc is not None else [])
                           + ([(v, energy_weight * c) for v, c in energy] if energy_weight else [])))
    return prob, V, M, allowed


def _full_item_on(prob, inst, V, i, r, d, w, dev_time, energy, pool_use, pooled):
    """Item i as representation r on device d: its variables, rows and terms; the pairs of its choice."""
    it, slots = inst.items[i], inst.dev_slots[d]
    if it.reps[r].kind != "dense":           # tensor-train cores: whole in one slot
        out = []
        for k in slots:
            z = V["z"][i, r, k] = prob.add_variable(f"z_{i}_{r}_{k}", cat="Binary")
            out.append((z, 1.0))
            pooled[d].append((z, inst.pooled_B[i]))
            dev_time[d].append((z, w * it.accesses * inst.time[i][r, k]))
            energy.append((z, w * it.accesses * inst.energy[i][r, k]))
            pool_use[inst.slots[k].pool_key].append((z, it.bytes[r]))
        return out
    x = V["x"][i, r, d] = prob.add_variable(f"x_{i}_{r}_{inst.dev_index[d]}", cat="Binary")
    pooled[d].append((x, inst.pooled_B[i]))
    ys = [prob.add_variable(f"y_{i}_{r}_{k}", 0, 1) for k in slots]
    us = [prob.add_variable(f"u_{i}_{r}_{k}", 0, 1) for k in slots]
    for k, y, u in zip(slots, ys, us):
        V["y"][i, r, k], V["u"][i, r, k] = y, u
        dev_time[d].append((u, w * it.accesses * inst.time[i][r, k]))
        energy.append((u, w * it.accesses * inst.energy[i][r, k]))
        pool_use[inst.slots[k].pool_key].append((y, it.bytes[r]))
    add_row(prob, [(y, 1.0) for y in ys] + [(x, -1.0)], "==", 0.0)
    add_row(prob, [(u, 1.0) for u in us] + [(x, -1.0)], "==", 0.0)
    tangents = list(it.curve.tangents())
    for j in range(len(slots) - 1):      # hot rows first: the prefix serves at most what its rows can
        for a, b in tangents:
            add_row(prob, [(u, 1.0) for u in us[:j + 1]] + [(y, -a) for y in ys[:j + 1]] + [(x, -b)], "<=", 0.0)
    return [(x, 1.0)]


def _same_representation(prob, inst, V):
    """The parts of one table share its representation (a plan gives one per table)."""
    first = {}
    for i, it in enumerate(inst.items):
        if it.parts > 1 and len(it.reps) > 1:
            if it.table not in first:
                first[it.table] = i
                continue
            i0 = first[it.table]
            for r in range(len(it.reps)):
                add_row(prob, [(v, 1.0) for v in _rep_vars(V, i, r)] + [(v, -1.0) for v in _rep_vars(V, i0, r)],
                        "==", 0.0)


def _replicas(prob, inst, w, dev_time, energy, pool_use):
    """rho[t] = 1: table t is replicated (its first representation in every device's fastest slot, each device
    serving 1/N of the lookups, no all-to-all).  Its items then take no x (sum x = 1 - rho)."""
    rho = {}
    N = len(inst.devices)
    for ti in getattr(inst, "replicable", []):
        i = next(j for j, it in enumerate(inst.items) if it.table == ti)
        it = inst.items[i]
        rho[ti] = v = prob.add_variable(f"rho_{ti}", cat="Binary")
        for k in replica_slots(inst):
            dev_time[inst.slots[k].device].append((v, w * copy_s(inst, i, 0, k)))
            energy.append((v, w * it.accesses / N * inst.energy[i][0, k]))
            pool_use[inst.slots[k].pool_key].append((v, it.bytes[0]))
    return rho


def _column_shards(prob, inst, w, dev_time, energy, pool_use, pooled):
    """g[t,K] = 1: table t is cut into K column shards, c[t,K,k] = 1: one of them in slot k (module doc)."""
    g, c = {}, {}
    for t, ks in getattr(inst, "columnable", {}).items():
        i = inst.column_item(t)
        it = inst.items[i]
        for K in ks:
            g[t, K] = v = prob.add_variable(f"g_{t}_{K}", cat="Binary")
            for d in inst.devices:
                on_d = []
                for k in inst.dev_slots[d]:
                    c[t, K, k] = z = prob.add_variable(f"c_{t}_{K}_{k}", cat="Binary")
                    on_d.append((z, 1.0))
                    dev_time[d].append((z, w * it.accesses * inst.col_time[t, K][k]))
                    energy.append((z, w * it.accesses * inst.col_energy[t, K][k]))
                    pool_use[inst.slots[k].pool_key].append((z, it.bytes[0] / K))
                    pooled[d].append((z, inst.pooled_B[i] / K))
                add_row(prob, on_d + [(v, -1.0)], "<=", 0.0, f"col_one_{t}_{K}_{inst.dev_index[d]}")
            add_row(prob, [(c[t, K, k], 1.0) for k in range(len(inst.slots))] + [(v, -float(K))], "==", 0.0,
                    f"col_all_{t}_{K}")
    return g, c


def _all_to_all(prob, inst, pooled, w, rho):
    """Mc >= every device's all-to-all time (:mod:`.comm`: latency + max(send x own, recv x others')); (Mc, the
    "anything sent" variable or None).

    ``pooled``: per device the (variable, pooled bytes) pairs of what it may send.  The latency is paid
    when anything is sent: always, unless every table may be replicated, and then ``a`` >= 1 - rho[t] for
    each table says whether one is not."""
    comm = getattr(inst, "comm", None)
    if comm is None:
        return None, None
    Mc = prob.add_variable("comm_makespan", lowBound=0)
    total = [term for terms in pooled.values() for term in terms]
    a = None
    if rho and len(rho) == len(inst.model.tables):
        a = prob.add_variable("comm_any", lowBound=0, upBound=1)
        for t, v in rho.items():
            add_row(prob, [(a, 1.0), (v, 1.0)], ">=", 1.0, f"comm_any_{t}")
    for n, d in enumerate(inst.devices):
        lat = w * comm.latency_s[d]
        own = pooled[d]
        send = [(v, w * comm.send_s_per_B[d] * b) for v, b in own] + [(Mc, -1.0)]
        others = set(id(v) for v, _ in own)
        recv = [(v, w * comm.recv_s_per_B[d] * b) for v, b in total if id(v) not in others] + [(Mc, -1.0)]
        for name, pairs in ((f"comm_send_{n}", send), (f"comm_recv_{n}", recv)):
            add_row(prob, pairs + ([(a, lat)] if a is not None else []), "<=", 0.0 if a is not None else -lat, name)
    return Mc, a


def _rep_vars(V, i, r):
    """The choice variables (x and z) of item i as representation r."""
    return [v for (ii, rr, _), v in V["x"].items() if ii == i and rr == r] + \
        [v for (ii, rr, _), v in V["z"].items() if ii == i and rr == r]


def warm_full(inst, V, M, pl, scale=1.0):
    """Set the full MIP's initial values from a Placement (the best baseline)."""
    for v in list(V["x"].values()) + list(V["y"].values()) + list(V["u"].values()) + list(V["z"].values()):
        v.setInitialValue(0)
    for t, v in V.get("rho", {}).items():
        v.setInitialValue(1 if t in pl.replicated else 0)
    for (t, K), v in V.get("g", {}).items():
        v.setInitialValue(1 if len(pl.columns.get(t, [])) == K else 0)
    for (t, K, k), v in V.get("c", {}).items():
        v.setInitialValue(1 if len(pl.columns.get(t, [])) == K and k in pl.columns[t] else 0)
    for i, it in enumerate(inst.items):
        r, d = pl.rep[i], pl.device[i]
        if pl.elsewhere(it.table):
            continue
        if it.reps[r].kind != "dense":
            for k, _lo, _hi in pl.ranges[i]:
                V["z"][i, r, k].setInitialValue(1)
            continue
        V["x"][i, r, d].setInitialValue(1)
        for k, lo, hi in pl.ranges[i]:
            V["y"][i, r, k].setInitialValue(V["y"][i, r, k].varValue + (hi - lo))
            V["u"][i, r, k].setInitialValue(V["u"][i, r, k].varValue + float(it.curve(hi) - it.curve(lo)))
    warm_count_cuts(V.get("count_cut"), len(inst.devices))
    M.setInitialValue(evaluate(inst, pl)[2] / scale)
    if V.get("Mc") is not None:
        V["Mc"].setInitialValue(max(comm_times(inst, pl).values()) / scale)


def warm_start_compatible(inst, pl, allowed, order=None):
    """Relabel a placement's devices within classes so it satisfies the symmetry-breaking rule."""
    dev = list(pl.device)
    total = {d: d for d in inst.devices}     # old device -> new, over every class
    for cls in device_classes(inst):
        if len(cls) < 2:
            continue
        mapping, nxt = {}, 0
        for i in (order or _item_order(inst)):
            if dev[i] in cls and dev[i] not in mapping:
                mapping[dev[i]] = cls[nxt]
                nxt += 1
        for d in cls:
            if d not in mapping:
                mapping[d] = cls[nxt]
                nxt += 1
        dev = [mapping.get(d, d) for d in dev]
        total.update(mapping)
    slot_map = {a: b for d_old, d_new in total.items()
                for a, b in zip(inst.dev_slots[d_old], inst.dev_slots[d_new])}
    ranges = [[(slot_map[k], lo, hi) for k, lo, hi in rl] for rl in pl.ranges]
    columns = {t: [slot_map[k] for k in ks] for t, ks in pl.columns.items()}
    out = Placement(list(pl.rep), dev, ranges, set(pl.replicated), columns)
    assert all(out.device[i] in allowed[i] for i, it in enumerate(inst.items) if not out.elsewhere(it.table))
    return out


def extract_full(inst, V):
    rep, dev, ranges = [], [], []
    replicated = {t for t, v in V.get("rho", {}).items() if (v.varValue or 0) > 0.5}
    columns = {}
    for (t, K), g in V.get("g", {}).items():
        if (g.varValue or 0) > 0.5:
            columns[t] = [k for k in range(len(inst.slots)) if (V["c"][t, K, k].varValue or 0) > 0.5]
    for i, it in enumerate(inst.items):
        if it.table in columns:
            rep.append(0)
            dev.append(inst.slots[columns[it.table][0]].device)
            ranges.append([])
            continue
        if it.table in replicated:
            rep.append(0)
            dev.append(inst.devices[0])
            ranges.append([])
            continue
        best = None
        for (ii, r, d), x in V["x"].items():
            if ii == i and (x.varValue or 0) > 0.5:
                best = (r, d)
        for (ii, r, k), z in V["z"].items():
            if ii == i and (z.varValue or 0) > 0.5:
                best = (r, inst.slots[k].device)
                ranges.append([(k, 0.0, 1.0)])
        if best is None:
            raise RuntimeError(f"MIP solution places no representation of {it.label}")
        r, d = best
        rep.append(r)
        dev.append(d)
        if it.reps[r].kind == "dense":
            rl, lo = [], 0.0
            slots = inst.dev_slots[d]
            for n, k in enumerate(slots):
                y = max(0.0, V["y"][i, r, k].varValue or 0.0)
                hi = 1.0 if n == len(slots) - 1 else min(1.0, lo + y)
                if hi - lo > 1e-12:
                    rl.append((k, lo, hi))
                lo = hi
            ranges.append(rl)
    return Placement(rep, dev, ranges, replicated, columns)


def solve_full(inst, start, solver, time_limit_s, energy_weight=0.0, gap_rel=1e-4):
    """The full MIP warm-started from ``start``: (placement or None, SolveReport).  ``time_limit_s`` counts
    building the model too, and the build keeps it (:mod:`.build_budget`); with nothing left for the
    solver, no solve (status no_solution, a note)."""
    t0 = time.perf_counter()
    scale = objective(inst, start, energy_weight) or 1.0
    try:
        prob, V, M, allowed = build_full(inst, energy_weight, scale=scale,
                                         budget=BuildBudget(t0 + time_limit_s, MIN_SOLVER_S, "the full MIP's build"))
    except OverBudget as e:
        return None, SolveReport("no_solution", None, None, None, 0.0, solver, f"no solve: {e}")
    warm = warm_start_compatible(inst, start, allowed)
    warm_full(inst, V, M, warm, scale)
    built_s = time.perf_counter() - t0
    if time_limit_s - built_s < MIN_SOLVER_S:
        return None, SolveReport("no_solution", None, None, None, 0.0, solver,
                                 f"no solve: building the full MIP took {built_s:.2f} s of {time_limit_s:.2f} s")
    rep = _rescale(solve(prob, solver, time_limit_s - built_s, gap_rel=gap_rel, warm=True), scale)
    pl = extract_full(inst, V) if rep.objective is not None else None
    return pl, rep


# ------------------------------------------------------------ decomposed ---
def _rescale(rep, scale):
    rep.objective = rep.objective * scale if rep.objective is not None else None
    rep.best_bound = rep.best_bound * scale if rep.best_bound is not None else None
    return rep


def aggregate_lp(inst, solver, time_limit_s, energy_weight=0.0, scale=1.0):
    """Step 1: pooled-device LP.  Returns (per item: rep index, shares per rank; bytes per rank), bound.
    ``time_limit_s`` counts building the LP too, and the build keeps it (:mod:`.build_budget`): when the
    build cannot end with MIN_SOLVER_S left, it is abandoned and there is no solve (None, a no_solution
    report whose note says why).  Rows are built from (variable, coefficient) pairs (``lp_rows``)."""
    t0 = time.perf_counter()
    budget = BuildBudget(t0 + time_limit_s, MIN_SOLVER_S, "the aggregate LP's build")
    try:
        prob, item_vars = _aggregate_model(inst, energy_weight, scale, budget)
    except OverBudget as e:
        return None, SolveReport("no_solution", None, None, None, 0.0, solver, f"no aggregate LP solve: {e}")
    built_s = time.perf_counter() - t0
    if time_limit_s - built_s < MIN_SOLVER_S:
        return None, SolveReport("no_solution", None, None, None, 0.0, solver,
                                 f"no aggregate LP solve: building it took {built_s:.2f} s of {time_limit_s:.2f} s")
    rep = _rescale(solve(prob, solver, time_limit_s - built_s), scale)
    agg, rep = _aggregate_shares(inst, item_vars, rep)
    rep.copies = lp_copies(prob) if agg is not None else {}
    return agg, rep


def _aggregate_model(inst, energy_weight, scale, budget):
    """The aggregate LP and its items' variables, built item by item within ``budget`` (OverBudget if not)."""
    classes = device_classes(inst)
    prob = pulp.LpProblem("aggregate", pulp.LpMinimize)
    M = prob.add_variable("makespan", lowBound=0)
    class_time = {c: [] for c in range(len(classes))}      # pairs of the alternatives (decomposed_types)
    energy, cap_terms = [], {}
    alt = lp_alternatives(prob, inst, classes, class_time, cap_terms, energy, energy_weight, scale)
    rows = _AggregateRows({c: [] for c in range(len(classes))}, {}, [], {})
    item_vars = []
    for i in range(len(inst.items)):
        item_vars.append(_aggregate_item(prob, inst, classes, i, alt, rows, energy_weight, scale))
        budget.check(i + 1, len(inst.items))
    for (c, n), pairs in rows.cap.items():      # full capacity: the LP must stay a relaxation
        add_row(prob, pairs + cap_terms.pop((c, n), []), "<=", _class_capacity(inst, classes, c, n))
    for (c, n), pairs in cap_terms.items():     # slots only the alternatives use
        add_row(prob, pairs, "<=", _class_capacity(inst, classes, c, n))
    for c, pairs in rows.time.items():     # a class's devices share its work; none exceeds M
        add_row(prob, pairs + class_time[c] + [(M, -float(len(classes[c])))], "<=", -rows.time0.get(c, 0.0))
    class_pooled = {c: (rows.pooled.get(c, []), rows.pooled0.get(c, 0.0)) for c in set(rows.pooled) | set(rows.pooled0)}
    Mc = lp_all_to_all(prob, inst, classes, class_pooled, alt, scale)
    prob += expr([(M, 1.0)] + ([(Mc, 1.0)] if Mc is not None else []) + rows.energy + energy)
    prob.copies = alt.rho      # table -> the LP's replication variable (read by lp_copies)
    return prob, item_vars


def lp_copies(prob) -> dict:
    """{table: rho} of a solved aggregate LP: the share of each replicable table it copies."""
    return {t: float(v.varValue or 0.0) for t, v in getattr(prob, "copies", {}).items()}


def _class_capacity(inst, classes, c, n):
    """Bytes of the pools that rank n of class c's devices use (a shared pool once)."""
    pools = {inst.slots[inst.dev_slots[d][n]].pool_key for d in classes[c]}
    return sum(inst.pools[p] for p in pools)


def _aggregate_shares(inst, item_vars, rep):
    """(per item: rep index, shares per rank, bytes per rank) of a solved aggregate LP (None if not optimal), rep."""
    if rep.status != "optimal":
        return None, rep
    out = []
    for i in range(len(inst.items)):
        by_rep = {}
        for r, _c, _n, _s, w, v in item_vars[i]:
            val = v.varValue or 0.0
            by_rep.setdefault(r, 0.0)
            by_rep[r] += val * w
        r_best = max(by_rep, key=lambda r: (by_rep[r], -r))
        shares, rows = {}, {}
        norm = sum((v.varValue or 0.0) * s for r, c, n, s, w, v in item_vars[i] if r == r_best)
        for r, _c, n, s, w, v in item_vars[i]:
            if r == r_best and norm > 1e-9:
                shares[n] = shares.get(n, 0.0) + (v.varValue or 0.0) * s / norm
                rows[n] = rows.get(n, 0.0) + (v.varValue or 0.0) * w / norm
        if norm <= 1e-9:     # the LP replicated or cut the table: priced whole in the fastest tier if kept
            shares, rows = {0: 1.0}, {0: 1.0}
        out.append((r_best, shares, rows))
    return out, rep


@dataclass
class _AggregateRows:
    """The aggregate LP's rows as (variable, coefficient) pairs, gathered over the items."""
    time: dict        # class -> work (s, scaled) of the items' shares on it
    cap: dict         # (class, rank) -> bytes
    energy: list      # energy terms (scaled)
    pooled: dict      # class -> pooled bytes
    time0: dict = field(default_factory=dict)     # class -> constant work (items with no choice)
    pooled0: dict = field(default_factory=dict)   # class -> constant pooled bytes


def _share_row(prob, parts, whole):
    """sum(parts) == whole, where ``whole`` is a variable or the constant 1."""
    if isinstance(whole, pulp.LpVariable):
        add_row(prob, [(v, 1.0) for v in parts] + [(whole, -1.0)], "==", 0.0)
    else:
        add_row(prob, [(v, 1.0) for v in parts], "==", float(whole))


def _aggregate_item(prob, inst, classes, i, alt, rows, energy_weight, scale):
    """Item i's variables and rows in the aggregate LP; its (rep, class, rank, share, weight, var) list."""
    it = inst.items[i]
    xs, vars_i = [], []
    instead = alt.instead.get(it.table, [])
    for r, rep in enumerate(it.reps):
        xr = prob.add_variable(f"x_{i}_{r}", 0, 1) if len(it.reps) > 1 or instead else 1
        xs.append(xr)
        segs = it.curve.segments() if rep.kind == "dense" else [(1.0, 1.0)]
        # the item's share on each class: every segment (hot or cold rows) follows it, since an
        # item lives whole on one device (valid for every plan; without it the LP sends an item's
        # hot rows to one class's fast tier and its cold rows to another class, which on a mixed
        # system, e.g. SmartSSDs plus the host's DRAM, leaves a 20-30% gap)
        xc = [prob.add_variable(f"xc_{i}_{r}_{c}", 0, 1) for c in range(len(classes))] \
            if len(classes) > 1 else None
        if xc is not None:
            _share_row(prob, xc, xr)
        for c, cls in enumerate(classes):
            on_c = xc[c] if xc is not None else xr
            out_s = min(output_s(inst, i, d) for d in cls) / scale                 # its output write
            if isinstance(on_c, pulp.LpVariable):
                rows.pooled.setdefault(c, []).append((on_c, inst.pooled_B[i]))
                rows.time[c].append((on_c, out_s))
            else:                               # one representation on one class: the constant 1
                rows.pooled0[c] = rows.pooled0.get(c, 0.0) + inst.pooled_B[i] * on_c
                rows.time0[c] = rows.time0.get(c, 0.0) + out_s * on_c
        for j, (w, s) in enumerate(segs):
            vs = []
            for c, cls in enumerate(classes):
                vc = []
                for n, k in enumerate(inst.dev_slots[cls[0]]):
                    v = prob.add_variable(f"v_{i}_{r}_{j}_{c}_{n}", 0, 1)
                    vs.append(v)
                    vc.append(v)
                    rows.time[c].append((v, it.accesses * s * inst.time[i][r, k] / scale))
                    if energy_weight:
                        rows.energy.append((v, it.accesses * s * energy_weight * inst.energy[i][r, k] / scale))
                    rows.cap.setdefault((c, n), []).append((v, w * it.bytes[r]))
                    vars_i.append((r, c, n, s, w, v))
                if xc is not None:
                    _share_row(prob, vc, xc[c])
            if xc is None:
                _share_row(prob, vs, xr)
    if len(it.reps) > 1 or instead:
        add_row(prob, [(v, 1.0) for v in xs + list(instead)], "==", 1.0)
    _one_device_cuts(prob, inst, classes, it, vars_i)
    return vars_i


def _one_device_cuts(prob, inst, classes, it, vars_i):
    """An item lives on one device: its bytes in a class's tier fit one device's slot (valid cut)."""
    per = {}
    for r, c, n, _s, w, v in vars_i:
        per.setdefault((c, n), []).append((v, w * it.bytes[r]))
    for (c, n), pairs in per.items():
        cap1 = inst.pools[inst.slots[inst.dev_slots[classes[c][0]][n]].pool_key]
        if max(it.bytes) > cap1:          # otherwise the cut is redundant
            add_row(prob, pairs, "<=", cap1)


def lower_bound(inst, lp_objective):
    """max(aggregate LP optimum, slowest single item on its best device alone) (seconds).

    An item "alone" takes its cheapest way to be held: whole on one device, a copy's 1/N of the lookups
    on every device (replicable tables), or one of K column shards (columnable tables)."""
    lb = lp_objective if lp_objective is not None else 0.0
    for i, it in enumerate(inst.items):
        best = math.inf
        for r, rep in enumerate(it.reps):
            for d in inst.devices:
                k0 = inst.dev_slots[d][0]
                best = min(best, it.accesses * inst.time[i][r, k0] + output_s(inst, i, d)) if rep.kind != "dense" \
                    else min(best, it.accesses * min(inst.time[i][r, k] for k in inst.dev_slots[d]) + output_s(inst, i, d))
        if it.table in getattr(inst, "replicable", []):
            best = min(best, max(copy_s(inst, i, 0, k) for k in replica_slots(inst)))
        for K in getattr(inst, "columnable", {}).get(it.table, []):
            best = min(best, it.accesses * float(min(inst.col_time[it.table, K]))
                       + min(output_s(inst, i, d, 1.0 / K) for d in inst.devices))
        lb = max(lb, best)
    return lb


def solve_decomposed(inst, start, solver, time_limit_s, energy_weight=0.0, gap_rel=1e-3):
    """Steps 1-4 of the module doc: (placement or None, the assignment MIP's SolveReport, dict(bound, lp, moves))."""
    t0 = time.perf_counter()
    _, e0, m0 = evaluate(inst, start) if start is not None else (None, 0.0, 1.0)
    scale = (m0 + energy_weight * e0) or 1.0
    deadline = t0 + time_limit_s       # every stage, model building included, ends by it
    agg, lp_rep = aggregate_lp(inst, solver, max(MIN_SOLVER_S, 0.3 * time_limit_s), energy_weight, scale)
    if agg is None:         # no LP (its build took the time, or no optimum): polish the start with what is left
        pl, moves, better = _polished(inst, start, deadline, energy_weight)
        pl = pl if better else None     # nothing better than the start: the caller keeps the best baseline
        why = lp_rep.note or f"the aggregate LP stopped {lp_rep.status}"
        rep = SolveReport("no_solution", None, None, None, 0.0, solver, f"no assignment MIP: {why}")
        return pl, rep, {"bound": lower_bound(inst, None), "lp": lp_rep, "moves": moves}
    bound = lower_bound(inst, lp_rep.objective)
    # the LP's copies, rounded by a scan of how many the memory bears (warm_start.copies_start)
    scan_end = time.perf_counter() + COPY_SCAN_SHARE * (deadline - time.perf_counter())
    start = _better(inst, lp_copies_start(inst, lp_rep.copies, lambda q: objective(inst, q, energy_weight),
                                          scan_end), start)
    pl, rep = _assigned(inst, agg, start, solver, deadline, gap_rel, scale)
    pl, moves, _ = _polished(inst, pl, deadline, energy_weight)
    return pl, rep, {"bound": bound, "lp": lp_rep, "moves": moves}


def _assigned(inst, agg, start, solver, deadline, gap_rel, scale):
    """Steps 2-3: the assignment MIP on the LP's shares, its refill, and the better of it and ``start``:
    (placement or None, the MIP's SolveReport).  Its build keeps the budget (:mod:`.build_budget`): one that
    cannot end with MIN_SOLVER_S for the solve (POLISH_SPLIT of what is left) is abandoned, and the
    capacity-keeping LPT start is refilled instead, with a note saying so."""
    reps, cost, rank_bytes = _assignment_costs(inst, agg)
    # LPT on the same costs: the warm start
    order = sorted(range(len(inst.items)), key=lambda i: (-cost[i].min(), i))
    lpt_dev = _capacity_lpt(inst, order, cost, rank_bytes)
    allowed = _symmetry_allowed(inst, order)
    warm_pl = None
    if lpt_dev is not None:      # warm start: LPT relabelled to satisfy symmetry breaking
        warm_pl = warm_start_compatible(inst, Placement(reps, [inst.devices[di] for di in lpt_dev],
                                                        [[] for _ in inst.items]), allowed, order)
    try:
        budget = BuildBudget(deadline, MIN_SOLVER_S / POLISH_SPLIT, "the assignment MIP's build")
        prob, M, x, over_var, alt = _assignment_mip(inst, cost, rank_bytes, allowed, scale, budget)
    except OverBudget as e:
        rep = SolveReport("no_solution", None, None, None, 0.0, solver, f"no assignment solve: {e}; the plan is "
                          "the refilled LPT start on the LP's shares or the start, whichever is better")
        return _better(inst, _refilled_assignment(inst, rep, {}, reps, warm_pl, None), start), rep
    if warm_pl is not None:
        _warm_assignment(inst, warm_pl, x, M, over_var, cost, rank_bytes, scale, alt)
    left = POLISH_SPLIT * (deadline - time.perf_counter())     # the rest: the refill and the polish
    rep = _rescale(solve(prob, solver, left, gap_rel=gap_rel, warm=warm_pl is not None), scale) \
        if left >= MIN_SOLVER_S else SolveReport("no_solution", None, None, None, 0.0, solver,
                                                 "no assignment solve: the limit was spent building it")
    return _better(inst, _refilled_assignment(inst, rep, x, reps, warm_pl, alt), start), rep


def _better(inst, pl, start):
    """The one of ``pl`` and ``start`` (either may be None) with the lower objective (the first on a tie)."""
    cands = [q for q in (pl, start) if q is not None]
    return min(cands, key=lambda q: objective(inst, q)) if cands else None


def _polished(inst, pl, deadline, energy_weight):
    """``pl`` polished until ``deadline`` without energy in the objective: (placement, moves, whether it
    scores strictly lower than ``pl``).  Polish levels the lookups alone: its result is kept only if the
    whole objective, all-to-all included, is no worse."""
    if pl is None or energy_weight != 0:
        return pl, 0, False
    polished, moves = polish(inst, pl, deadline)
    if polished is pl or moves == 0:      # not polished, or a copy of pl with nothing moved
        return pl, moves, False
    before, after = objective(inst, pl), objective(inst, polished)
    return (polished if after <= before else pl), moves, after < before


def _assignment_costs(inst, agg):
    """With the aggregate LP's tier shares fixed: per item its representation, its cost on every device
    (array items x devices) and its bytes per tier rank ((item, rank) -> bytes)."""
    first = {}
    for i, it in enumerate(inst.items):        # identical parts of one table: one representation
        first.setdefault(it.table, i)
        agg[i] = agg[first[it.table]]
    devs = inst.devices
    cost = np.zeros((len(inst.items), len(devs)))
    rank_bytes = {}
    for i, (r, shares, rows) in enumerate(agg):
        for di, d in enumerate(devs):
            slots = inst.dev_slots[d]
            cost[i, di] = inst.items[i].accesses * sum(
                sh * inst.time[i][r, slots[min(n, len(slots) - 1)]] for n, sh in shares.items()) + output_s(inst, i, d)
        for n, w in rows.items():
            if w > 1e-12:
                rank_bytes[i, n] = w * inst.items[i].bytes[r]
    return [a[0] for a in agg], cost, rank_bytes


def _assignment_mip(inst, cost, rank_bytes, allowed, scale, budget):
    """Step 2: items to devices (binary x) within the tiers' capacities, with copies, column shards and the
    all-to-all (:mod:`.decomposed_types`), built item by item within ``budget`` (OverBudget if not).
    (problem, M, x, over-booking vars, Alternatives)."""
    devs, n_items = inst.devices, len(inst.items)
    prob = pulp.LpProblem("assignment", pulp.LpMinimize)
    M = prob.add_variable("makespan", lowBound=0)
    alt, dev_time, alt_B = assignment_alternatives(prob, inst, scale)
    x = {}
    pooled = {d: list(alt.pooled.get(d, [])) for d in devs}
    for i in range(n_items):
        vs = [(v, 1.0) for v in alt.instead.get(inst.items[i].table, [])]
        for di, d in enumerate(devs):
            if d in allowed[i]:
                x[i, di] = v = prob.add_variable(f"x_{i}_{di}", cat="Binary")
                vs.append((v, 1.0))
                pooled[d].append((v, inst.pooled_B[i]))
                dev_time[di].append((v, cost[i, di] / scale))
        add_row(prob, vs, "==", 1.0)
        budget.check(i + 1, 2 * n_items)          # the capacity rows are the second half of the build
    for di in range(len(devs)):
        add_row(prob, dev_time[di] + [(M, -1.0)], "<=", 0.0)
    over, over_var = _assignment_capacity(prob, inst, x, rank_bytes, alt_B, budget)
    alt.Mc = assignment_all_to_all(prob, inst, pooled, alt, scale)
    prob += expr([(M, 1.0)] + ([(alt.Mc, 1.0)] if alt.Mc is not None else []) + over)
    return prob, M, x, over_var, alt


def _assignment_capacity(prob, inst, x, rank_bytes, alt_B, budget):
    """The assignment MIP's capacity rows; (over-booking pairs of the objective, pool -> over-booking var).

    Capacity per (device, rank) pool: the fixed tier bytes of the items placed there.  Fast tiers (all but
    a device's last) may be over-booked by ASSIGN_FAST_TIER_SLACK: the LP's shares fill them exactly, which
    whole items rarely pack into; the greedy refill then moves the coldest rows down.  All of a device's
    bytes must fit in all of its tiers together.  ``alt_B``: per fastest-tier pool, the byte pairs of copies
    and column shards there (:mod:`.decomposed_types`)."""
    devs, n_items = inst.devices, len(inst.items)
    pool_terms, dev_terms = {}, {}
    for p, pairs in alt_B.items():      # once per pool (a shared fastest tier sums every device's)
        d = next(d for d in devs if inst.slots[inst.dev_slots[d][0]].pool_key == p)
        if len(inst.dev_slots[d]) > 1:
            pool_terms.setdefault(p, []).extend(pairs)
        if inst.slots[inst.dev_slots[d][0]].pool is None:
            dev_terms.setdefault(d, []).extend(pairs)
    by_item = {}
    for (i, n), b in rank_bytes.items():
        by_item.setdefault(i, []).append((n, b))
    for i in range(n_items):
        for n, b in by_item.get(i, []):
            for di, d in enumerate(devs):
                if (i, di) in x:
                    slots = inst.dev_slots[d]
                    if n < len(slots) - 1:
                        pool_terms.setdefault(inst.slots[slots[n]].pool_key, []).append((x[i, di], b))
                    dev_terms.setdefault(d, []).append((x[i, di], b))
        budget.check(n_items + i + 1, 2 * n_items)
    over, over_var = [], {}
    for p, pairs in pool_terms.items():
        # soft: over-booking beyond the slack is allowed at a price (a whole tier's worth costs one
        # makespan), so a packing that cannot be exact still has a solution for the refill to repair
        o = prob.add_variable(f"over_{len(over)}", lowBound=0)
        over.append((o, 1.0 / inst.pools[p]))
        over_var[p] = o
        add_row(prob, pairs + [(o, -1.0)], "<=", inst.pools[p] * (1 + ASSIGN_FAST_TIER_SLACK))
    for d, pairs in dev_terms.items():
        if all(inst.slots[k].pool is None for k in inst.dev_slots[d]):
            add_row(prob, pairs, "<=", sum(inst.slots[k].capacity_B for k in inst.dev_slots[d]))
    shared = {inst.slots[k].pool_key for d in devs for k in inst.dev_slots[d] if inst.slots[k].pool is not None}
    for p in (p for p in inst.pools if p in shared):     # a shared pool holds what its devices' private tiers
        ds = [d for d in devs if any(inst.slots[k].pool_key == p for k in inst.dev_slots[d])]   # cannot
        private = sum(inst.pools[inst.slots[k].pool_key] for d in ds for k in inst.dev_slots[d]
                      if inst.slots[k].pool is None)
        add_row(prob, [t for d in ds for t in dev_terms.get(d, [])], "<=", inst.pools[p] + private)
    return over, over_var


def _warm_assignment(inst, warm_pl, x, M, over_var, cost, rank_bytes, scale, alt):
    """Set the assignment MIP's start to ``warm_pl`` (no copies, no column cuts), with the over-booking that
    makes it feasible."""
    for v in x.values():
        v.setInitialValue(0)
    warm_types(alt)
    for i, d in enumerate(warm_pl.device):
        x[i, inst.dev_index[d]].setInitialValue(1)
    M.setInitialValue(max(sum(cost[i, inst.dev_index[d]] for i, d in enumerate(warm_pl.device) if d == dd)
                          for dd in inst.devices) / scale)
    if alt.Mc is not None:
        alt.Mc.setInitialValue(max(comm_times(inst, warm_pl).values()) / scale)
    booked = {p: 0.0 for p in over_var}      # the start's over-booking, so the start is feasible
    for (i, n), b in rank_bytes.items():
        slots = inst.dev_slots[warm_pl.device[i]]
        if n < len(slots) - 1:
            booked[inst.slots[slots[n]].pool_key] += b
    for p, o in over_var.items():
        o.setInitialValue(max(0.0, booked[p] - inst.pools[p] * (1 + ASSIGN_FAST_TIER_SLACK)) * (1 + 1e-9))


def _refilled_assignment(inst, rep, x, reps, warm_pl, alt):
    """Step 3: the MIP's assignment (or, with no incumbent, its start) with rows refilled over the tiers
    around the copies and column shards it chose."""
    replicated, columns = set(), {}
    if rep.objective is not None:
        dev = [None] * len(inst.items)
        for (i, di), v in x.items():
            if (v.varValue or 0) > 0.5:
                dev[i] = inst.devices[di]
        replicated, columns = chosen_types(inst, alt)
    elif warm_pl is not None:      # no incumbent beyond the start: refill the start
        dev = warm_pl.device
    else:
        return None
    for i, it in enumerate(inst.items):      # a copied or cut table's item names a device it does not use
        if dev[i] is None:
            dev[i] = inst.slots[columns[it.table][0]].device if it.table in columns else inst.devices[0]
    keep = [i for i, it in enumerate(inst.items) if it.table not in replicated and it.table not in columns]
    try:
        pl = fill_tiers(inst, reps, dev, reserve=elsewhere_reserve(inst, reps, replicated, columns), subset=keep)
    except InputError:
        return None
    return Placement(pl.rep, pl.device, pl.ranges, replicated, columns)


def _capacity_lpt(inst, order, cost, rank_bytes):
    """LPT on the assignment costs that keeps the assignment MIP's capacity rows (so the warm start
    is feasible): each item to the device finishing earliest among those with room."""
    devs = inst.devices
    by_item = {}
    for (i, n), b in rank_bytes.items():
        by_item.setdefault(i, []).append((n, b))
    room = {}
    for d in devs:
        slots = inst.dev_slots[d]
        for n, k in enumerate(slots[:-1]):
            room[d, n] = inst.pools[inst.slots[k].pool_key] * (1 + ASSIGN_FAST_TIER_SLACK)
        room[d, "all"] = sum(inst.slots[k].capacity_B for k in slots)
    load = np.zeros(len(devs))
    out = [None] * len(cost)
    for i in order:
        ok = []
        for di, d in enumerate(devs):
            nslots = len(inst.dev_slots[d])
            need = {}
            for n, b in by_item.get(i, []):
                if n < nslots - 1:
                    need[d, n] = need.get((d, n), 0.0) + b
                need[d, "all"] = need.get((d, "all"), 0.0) + b
            if all(room[key] >= v for key, v in need.items()):
                ok.append((load[di] + cost[i, di], di, need))
        if not ok:     # no fast-tier room anywhere: the soft rows take the excess; the total must fit
            ok = [(load[di] + cost[i, di], di, need_all) for di, d in enumerate(devs)
                  for need_all in [{(d, "all"): sum(b for _, b in by_item.get(i, []))}]
                  if room[d, "all"] >= need_all[d, "all"]]
        if not ok:
            return None
        _, di, need = min(ok)
        for key, v in need.items():
            room[key] -= v
        load[di] += cost[i, di]
        out[i] = di
    return out


def _warm_ok(inst, pl):
    return all(d is not None for d in pl.device)
