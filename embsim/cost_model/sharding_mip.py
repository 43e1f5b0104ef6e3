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

The decomposed formulation, for hundreds of tables, is :mod:`.decomposed`; it shares the
device classes, the symmetry rule and :func:`lower_bound` with this module.
"""
import math
import time

import numpy as np
import pulp

from .placement import Placement, comm_times, evaluate, objective, replica_slots
from .mip_cuts import add_count_cuts, add_heavy_cuts, warm_count_cuts
from .shard_output import add_output_terms, copy_s, output_s
from .build_budget import BuildBudget, OverBudget
from .lp_rows import add_row, expr
from .solvers import SolveReport, solve

FULL_MAX_PAIRS = 2500          # items x devices up to which method="auto" solves the full MIP
MIN_SOLVER_S = 0.1            # assumption: a solver given less cannot read its model back on a busy machine


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


def symmetry_allowed(inst, order):
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
    allowed = symmetry_allowed(inst, _item_order(inst)) if symmetry else [set(inst.devices)] * len(inst.items)
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
    rep = rescaled(solve(prob, solver, time_limit_s - built_s, gap_rel=gap_rel, warm=True), scale)
    pl = extract_full(inst, V) if rep.objective is not None else None
    return pl, rep


def rescaled(rep, scale):
    rep.objective = rep.objective * scale if rep.objective is not None else None
    rep.best_bound = rep.best_bound * scale if rep.best_bound is not None else None
    return rep


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
