"""The decomposed sharding solve, for hundreds of tables: an aggregate LP, an assignment MIP, a refill, a polish.

``method="decomposed"`` of :func:`.solve.solve_plan`; the full formulation it
relaxes, the device classes and :func:`.sharding_mip.lower_bound` are in
:mod:`.sharding_mip`.

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
   Its copies (the replication shares rho) are rounded into a start by a
   scan of how many of them to keep (:func:`.warm_start.copies_start`),
   each prefix placed, polished and scored exactly; the start is the better
   of that and the best baseline.
2. *assignment MIP*: with the LP's tier shares fixed, each item has a cost
   per device and bytes per tier rank; assign items to devices (binary x),
   tier bytes within each tier's capacity, minimising the makespan, warm
   started from a capacity-keeping LPT on the same costs.  Above
   ASSIGN_MAX_PAIRS items x devices there is none (measured: nothing gained
   there, and CBC overran the limit); the plan is the start.
3. *refill*: re-split each device's items over its tiers with the greedy
   hot-rows-first fill and score the plan exactly, kept if better than the start;
4. *polish*: move or swap items off the slowest device while that helps,
   every move scored exactly (:mod:`.local_search`), until the time limit.

The reported bound is the bound of step 1 (for the whole problem, not the
restricted one), so the reported gap is honest even though step 2 fixes the
tier shares.
"""
from dataclasses import dataclass, field, replace
import time

import numpy as np
import pulp

from ..errors import InputError
from .placement import Placement, comm_times, elsewhere_reserve, evaluate, fill_tiers, objective
from .decomposed_types import (assignment_all_to_all, assignment_alternatives, chosen as chosen_types, lp_all_to_all, lp_alternatives,
                               warm as warm_types)
from .local_search import polish
from .mip_cuts import add_heavy_cuts
from .shard_output import output_s
from .build_budget import BuildBudget, OverBudget
from .lp_rows import add_row, expr
from .solvers import SolveReport, solve
from .sharding_mip import MIN_SOLVER_S, device_classes, lower_bound, rescaled, symmetry_allowed, warm_start_compatible
from .warm_start import copies_start as lp_copies_start

POLISH_SPLIT = 0.6            # share of what is left after the LP that the assignment MIP gets (then refill, polish)
COPY_SCAN_SHARE = 0.4         # assumption: of what is left after the LP, the rounding of its copies may take 40%
POLISH_SHARE_LEFT = 0.2       # assumption: without an assignment MIP, the last polish gets 20% (it took < 1 s)
COPIES_UNIT_B = 1e9           # the copies' bytes variable counts GB (numerics: coefficients near 1)
ASSIGN_FAST_TIER_SLACK = 0.02  # the assignment may over-book a fast tier by 2%; the refill moves the excess down
# Items x devices above which there is no assignment MIP (step 2): its time goes to the copies' scan and the
# polish.  Measured on 870 items x 64 GPUs (55.7e3 binaries, 2026-12-03): in four solves (CBC and HiGHS, LPs
# from either) the MIP never found a plan better than its own LPT warm start in 17-22 s, and CBC took up to
# 22 s after SIGINT to answer (the whole plan 72 s for a 60 s limit); the scan and polish alone reached a
# 1.7% gap.  The largest instance where it helped in the tests is far smaller (SCRec's 5 devices).
ASSIGN_MAX_PAIRS = 20_000


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
    rep = rescaled(solve(prob, solver, time_limit_s - built_s), scale)
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
    alt.copies_B = _copies_bytes(prob, inst, alt)
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
    add_heavy_cuts(prob, inst, M, alt.rho, 1.0 / scale)     # valid for every plan, so for the bound too
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
    _one_device_cuts(prob, inst, classes, it, vars_i, alt.copies_B)
    return vars_i


def _one_device_cuts(prob, inst, classes, it, vars_i, copies=None):
    """An item lives on one device: its bytes in a class's tier fit one device's slot, beside every copy in
    the fastest (``copies``: (variable, its largest value) of the copies' bytes per device; valid cuts)."""
    per = {}
    for r, c, n, _s, w, v in vars_i:
        per.setdefault((c, n), []).append((v, w * it.bytes[r]))
    for (c, n), pairs in per.items():
        cap1 = inst.pools[inst.slots[inst.dev_slots[classes[c][0]][n]].pool_key]
        with_copies = copies is not None and n == 0
        if max(it.bytes) + (copies[1] if with_copies else 0.0) > cap1:      # otherwise the cut is redundant
            add_row(prob, pairs + ([(copies[0], COPIES_UNIT_B)] if with_copies else []), "<=", cap1)


def _copies_bytes(prob, inst, alt):
    """(variable, largest value) of the bytes the copies take in every device's fastest slot: sum rho_t bytes_t;
    None without copies or where a fastest slot's pool is shared (the per-device cut would not hold)."""
    if not alt.rho:
        return None
    fast_pools = [inst.slots[inst.dev_slots[d][0]].pool_key for d in inst.devices]
    if len(set(fast_pools)) < len(fast_pools):
        return None
    # in GB, so that the row's coefficients sit near 1 beside the capacity rows' bytes (a precaution: the one
    # false "optimum" seen, 30% above a plan, came from an unscaled LP, scale 1 s, not from this row)
    pairs = [(v, float(inst.items[inst.column_item(t)].bytes[0]) / COPIES_UNIT_B) for t, v in alt.rho.items()]
    C = prob.add_variable("copies_GB", lowBound=0)
    add_row(prob, pairs + [(C, -1.0)], "==", 0.0)
    return C, sum(b for _, b in pairs) * COPIES_UNIT_B


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
        return pl, _of_the_plan(pl, rep), {"bound": lower_bound(inst, None), "lp": lp_rep, "moves": moves}
    bound = lower_bound(inst, lp_rep.objective)
    # the LP's copies, rounded by a scan of how many the memory bears (warm_start.copies_start)
    assign = len(inst.items) * len(inst.devices) <= ASSIGN_MAX_PAIRS
    share = COPY_SCAN_SHARE if assign else 1.0 - POLISH_SHARE_LEFT
    scan_end = time.perf_counter() + share * (deadline - time.perf_counter())
    start = _better(inst, lp_copies_start(inst, lp_rep.copies, lambda q: objective(inst, q, energy_weight),
                                          scan_end), start)
    if assign:
        pl, rep = _assigned(inst, agg, start, solver, deadline, gap_rel, scale)
    else:
        pl, rep = start, SolveReport("no_solution", None, None, None, 0.0, solver, (
            f"no assignment MIP: {len(inst.items)} items x {len(inst.devices)} devices > {ASSIGN_MAX_PAIRS} "
            "(decomposed.ASSIGN_MAX_PAIRS: at this size it found nothing better than its start)"))
    pl, moves, _ = _polished(inst, pl, deadline, energy_weight)
    return pl, _of_the_plan(pl, rep), {"bound": bound, "lp": lp_rep, "moves": moves}


def _of_the_plan(pl, rep):
    """``rep`` saying what the plan is: "feasible" where the assignment MIP gave nothing but the start (the
    best baseline or the LP's copies) or the polish did, not the solver's "no_solution"."""
    if pl is None or rep.status != "no_solution":
        return rep
    return replace(rep, status="feasible", note=(rep.note + "; " if rep.note else "")
                   + "the plan is the decomposed solve's start (the best baseline or the LP's copies), polished, "
                   "not the assignment MIP's")


def _assigned(inst, agg, start, solver, deadline, gap_rel, scale):
    """Steps 2-3: the assignment MIP on the LP's shares, its refill, and the better of it and ``start``:
    (placement or None, the MIP's SolveReport).  Its build keeps the budget (:mod:`.build_budget`): one that
    cannot end with MIN_SOLVER_S for the solve (POLISH_SPLIT of what is left) is abandoned, and the
    capacity-keeping LPT start is refilled instead, with a note saying so."""
    reps, cost, rank_bytes = _assignment_costs(inst, agg)
    # LPT on the same costs: the warm start
    order = sorted(range(len(inst.items)), key=lambda i: (-cost[i].min(), i))
    lpt_dev = _capacity_lpt(inst, order, cost, rank_bytes)
    allowed = symmetry_allowed(inst, order)
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
    rep = rescaled(solve(prob, solver, left, gap_rel=gap_rel, warm=warm_pl is not None), scale) \
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
