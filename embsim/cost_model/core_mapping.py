"""The core-mapping MIP of an Ascend-style SoC: tables to cores, each with a lookup strategy.

On an ``ascend_soc`` system the devices are the AI cores; each serves the
table parts mapped to it with one of four single-core strategies (GM, L1,
GM-UB, L1-UB; see ``hw_models/families/ascend_soc.py``), whose costs are not
linear in the part size (UB strategies stream the whole part), so the
planner works on a discrete menu:

- a table may be split into ``k`` equal row ranges (``k`` in 1, 2, 4, ...,
  up to the number of cores, and the number of cores itself), each served by
  one core.  Row ranges are by row id, which hashing spreads evenly over hot
  and cold rows, so each part takes 1/k of the table's lookups;
- for each ``k`` the menu keeps the cheapest strategy overall and, when that
  one needs L1, also the cheapest one that does not (L1 is scarce and shared
  by the parts a core holds).

The MIP (PuLP, CBC or HiGHS):

    w[t,o] in {0,1}      table t takes menu option o (a split k and a strategy)   sum_o w = 1
    n[t,o,c] in {0,1}    core c serves one part of t under option o               n <= w,  sum_c n = k_o w
    L1 capacity:         sum_{L1 options} n[t,o,c] * part bytes <= L1 of core c
    core time:           T_c = sum n[t,o,c] * strategy_cost(o) <= M
    symmetry:            T_c >= T_{c+1} (cores are identical; any mapping can be relabelled so)
    cut:                 M >= sum_o w[t,o] * part time(o) for every table (tightens the LP bound)
    objective:           M (the slowest core per batch)

The UB is a staging buffer, not a place a table lives: a UB strategy's chunk
buffers must fit in it, which ``strategy_feasible`` checks per part.

Baseline (the "default compiler" mapping of DESIGN.md): every table split
evenly over all cores, every part looked up with GM.  The MIP is warm
started from it, so it is never worse.
"""
import dataclasses
import math
import time

import pulp

from ..errors import InputError
from ..hw_models.protocols import PerCoreStrategies
from .coverage import table_access
from .plan import Representation, Shard, ShardingPlan, TablePlan
from ..workloads.model import DTYPE_BYTES
from .representations import parse_allowed
from .solvers import SOLVERS, solve
from .validate import check_plan

L1_STRATEGIES = ("L1", "L1-UB")
CBC_OPTIONS = ("preprocess off",)   # see solve_core_mapping: CBC crashes on preprocessed core-mapping MIPs


def split_menu(n_cores):
    ks, k = [], 1
    while k < n_cores:
        ks.append(k)
        k *= 2
    return ks + [n_cores]


def _part(system, t, rows, row_b, lookups, k, strategy):
    pr = math.ceil(rows / k)
    if not system.strategy_feasible(strategy, pr, row_b):
        return None
    return system.strategy_cost(strategy, pr, row_b, lookups / k).time_s, pr * system.aligned_row_B(row_b)


def menu(system, tables, lookups, asymmetric=True, strategies=None):
    """Per table: list of options (k, strategy, seconds per part, L1 bytes per part or 0).

    ``asymmetric=False`` keeps only the default mapping's split (every table over all cores);
    ``strategies`` limits the lookup strategies (None: all of the system's)."""
    out = []
    allowed = tuple(system.STRATEGIES) if strategies is None else tuple(strategies)
    for t, L in zip(tables, lookups):
        opts = []
        k_all = min(system.n_cores, t.rows)          # the default mapping's split
        splits = {k for k in split_menu(system.n_cores) if k <= t.rows} if asymmetric else set()
        for k in sorted(splits | {k_all}):
            costed = []
            for s in allowed:
                r = _part(system, t, t.rows, t.row_bytes, L, k, s)
                if r is not None and math.isfinite(r[0]):
                    costed.append((r[0], s, r[1]))
            if not costed:
                continue
            costed.sort()
            best = costed[0]
            opts.append((k, best[1], best[0], best[2] if best[1] in L1_STRATEGIES else 0.0))
            if best[1] in L1_STRATEGIES:
                gm = [c for c in costed if c[1] not in L1_STRATEGIES]
                if gm:
                    opts.append((k, gm[0][1], gm[0][0], 0.0))
            if k == k_all and "GM" in allowed and not any(o[0] == k and o[1] == "GM" for o in opts):
                # the default mapping's option stays on the menu: the MIP's warm start and fallback
                gm = [c for c in costed if c[1] == "GM"]
                if gm:
                    opts.append((k, "GM", gm[0][0], 0.0))
        if not opts:
            raise InputError(f"table '{t.name}': no lookup strategy of system '{system.name}' can serve it "
                             f"(row of {t.row_bytes:g} B)")
        out.append(opts)
    return out


def default_mapping(system, tables, lookups):
    """The default compiler's mapping: every table split evenly over all cores, GM. Seconds per core."""
    M = system.n_cores
    total = 0.0
    for t, L in zip(tables, lookups):
        k = min(M, t.rows)
        total += system.strategy_cost("GM", math.ceil(t.rows / k), t.row_bytes, L / k).time_s
    return total


def greedy_mapping(system, opts):
    """Cost-greedy mapping over the menu: tables by decreasing work, each taking the option and the
    least-loaded cores (with L1 room) that keep the slowest core lowest.  Returns per table
    (option index, cores), and the core loads."""
    M = system.n_cores
    load, l1_left = [0.0] * M, [system.l1_capacity_B] * M
    choice = [None] * len(opts)
    order = sorted(range(len(opts)), key=lambda ti: -min(k * sec for k, s, sec, l1b in opts[ti]))
    for ti in order:
        best = None
        for o, (k, _s, sec, l1b) in enumerate(opts[ti]):
            cand = sorted((c for c in range(M) if l1_left[c] >= l1b), key=lambda c: (load[c], c))[:k]
            if len(cand) < k:
                continue
            worst = max(max(load), max(load[c] + sec for c in cand))
            key = (worst, k * sec)
            if best is None or key < best[0]:
                best = (key, o, cand)
        if best is None:
            return None, None
        _, o, cand = best
        k, s, sec, l1b = opts[ti][o]
        for c in cand:
            load[c] += sec
            l1_left[c] -= l1b
        choice[ti] = (o, cand)
    return choice, load


def solve_core_mapping(model, system, stats=None, solver="cbc", time_limit_s=60.0, batch_size=1024,
                       representations=None, gap_rel=1e-4, asymmetric=True, strategies=None):
    """ShardingPlan mapping ``model``'s tables onto the cores of an ascend_soc ``system``.

    ``asymmetric=False`` (an ablation) offers only the default split, every table over all cores on
    cores 0..k-1; ``strategies`` (an ablation) limits the lookup strategies, e.g. ("GM", "GM-UB")
    without L1 preloading.  False and ("GM",) together give the default compiler's mapping itself."""
    model = _checked_inputs(model, system, solver, representations)
    _check_strategies(system, strategies)
    t0 = time.perf_counter()
    tables = list(model.tables)
    lookups = [a.accesses for a in table_access(model, stats, batch_size)]
    _check_fits(model, system, tables)
    # enumerate and estimate: the menu of (split, strategy) options and its part times
    opts = menu(system, tables, lookups, asymmetric=asymmetric, strategies=strategies)
    base = default_mapping(system, tables, lookups)
    scale = base or 1.0
    prob, M, w, n = mapping_mip(system, opts, scale, asymmetric)
    # propose: the better of the default mapping and the greedy one is the MIP's start
    default = [next((o, list(range(k))) for o, (k, s, _, _) in enumerate(ol) if k == min(system.n_cores, t.rows)
                    and s == "GM") for t, ol in zip(tables, opts)]
    greedy, g_load = greedy_mapping(system, opts)
    kept, start, start_makespan = _best_start(model, system, stats, opts, default, base, greedy, g_load, solver,
                                              time_limit_s, batch_size, gap_rel, asymmetric, strategies)
    _warm_mapping(system, opts, start, w, n, M, scale)
    left = max(1.0, time_limit_s - (time.perf_counter() - t0) - 0.5)
    # CBC 2.10.3 (PuLP's) segfaults when its time limit expires while it is still completing the
    # MIP start on the preprocessed model, which happens on a few dozen tables x 32 cores (criteo_kaggle:
    # the LP alone takes ~6 s).  Without preprocessing the same stop is clean; it costs CBC's row
    # strengthening, which on criteo_kaggle bought no search progress within 30 s anyway.
    rep = solve(prob, solver, left, gap_rel=gap_rel, warm=True, cbc_options=CBC_OPTIONS)
    if rep.objective is not None:
        rep.objective *= scale
        rep.best_bound = rep.best_bound * scale if rep.best_bound is not None else None
    notes = ["core mapping: table parts are row ranges by id (hashed), each taking 1/k of the lookups",
             "UB capacity enters through strategy_feasible (a chunk buffer per part); L1 is shared per core"]
    # partition: the MIP's mapping if it is complete and no worse than the default, else the start
    mapping = _read_mapping(system, opts, w, n) if rep.objective is not None and \
        rep.objective <= start_makespan * (1 + 1e-9) else None
    if mapping is not None:
        method, status = "core_mapping", rep.status
    else:
        mapping = [(o, list(on)) for o, on in start]
        method, status = "baseline", f"{rep.status} ({kept} mapping kept)"
        notes.append(f"the solver found nothing better than the {kept} mapping within the time limit")
        if rep.note:
            notes.append(rep.note)
    info = dict(solver=solver, solve_time_s=time.perf_counter() - t0, status=status, notes=notes,
                batch_size=batch_size, method=method,
                baselines={"default_gm_even": {"makespan_s": base},
                           "greedy_menu": {"makespan_s": max(g_load) if greedy is not None else None}})
    return check_plan(_to_core_plan(model, system, opts, mapping, rep.best_bound, info), system, model)


SYMMETRIC_SHARE = 0.2     # of the time limit: the symmetric sub-problem solved first for the full MIP's warm start


def _check_strategies(system, strategies):
    if strategies is None:
        return
    bad = [x for x in strategies if x not in system.STRATEGIES]
    if bad or "GM" not in strategies:
        raise InputError(f"strategies: {','.join(strategies)}: expected some of {', '.join(system.STRATEGIES)}, "
                         "GM among them (the default mapping's strategy, the MIP's warm start)")


def _best_start(model, system, stats, opts, default, base, greedy, g_load, solver, time_limit_s, batch_size,
                gap_rel, asymmetric, strategies):
    """(name, start, makespan) of the MIP's start: the best of the default mapping, the greedy one and
    (on the full menu) the solved symmetric mapping, which is small and solves to optimality where
    the full problem may stop at its time limit."""
    candidates = [("default", default, base)]
    if asymmetric and greedy is not None:
        candidates.append(("greedy", greedy, max(g_load)))
    if asymmetric:
        plan = solve_core_mapping(model, system, stats=stats, solver=solver,
                                  time_limit_s=max(1.0, SYMMETRIC_SHARE * time_limit_s), batch_size=batch_size,
                                  gap_rel=gap_rel, asymmetric=False, strategies=strategies)
        sym = []
        for ti, tp in enumerate(plan.tables):
            k, strategy = len(tp.shards), tp.shards[0].strategy
            o = next((o for o, (ko, so, _, _) in enumerate(opts[ti]) if ko == k and so == strategy), None)
            if o is None:
                break
            sym.append((o, [sh.core for sh in tp.shards]))
        else:
            candidates.append(("symmetric", sym, plan.makespan_s))
    return min(candidates, key=lambda c: c[2])


def _checked_inputs(model, system, solver, representations):
    """InputError unless ``system`` has per-core strategies and the options are valid; the model to map
    (every table in the one asked dtype, if any)."""
    if not isinstance(system, PerCoreStrategies):
        raise InputError(f"system '{system.name}': core mapping needs an Ascend-style SoC with per-core lookup "
                         f"strategies (n_cores, l1_capacity_B, STRATEGIES, strategy_feasible, strategy_cost)")
    if solver not in SOLVERS:
        raise InputError(f"solver: unknown solver '{solver}' (expected one of {', '.join(SOLVERS)})")
    allowed = parse_allowed(representations)
    if allowed != ("own",):
        if len(allowed) != 1 or allowed[0] not in DTYPE_BYTES:
            raise InputError(f"representations: {','.join(allowed)}: the core mapping serves every table in one "
                             "dense dtype (give one of fp32, fp16, int8, int4, or omit it for each table's own)")
        # One dtype for all tables: map the model as if it were stored so (scale/bias rows not modelled here).
        model = model.with_tables([dataclasses.replace(t, dtype=allowed[0]) for t in model.tables])
    return model


def _check_fits(model, system, tables):
    """InputError naming the sizes if the tables exceed the SoC's global memory."""
    need = sum(t.bytes for t in tables)
    hbm = [s for s in system.slots() if s.tier != "l1"]
    if hbm and need > hbm[0].capacity_B:
        raise InputError(f"tables of model '{model.name}' need {need / 1e9:.1f} GB at "
                         f"{'/'.join(sorted({t.dtype for t in tables}))}, system '{system.name}' holds "
                         f"{hbm[0].capacity_B / 1e9:.1f} GB of global memory; store every table in a smaller dtype "
                         "(--representations int8) or add memory")


def mapping_mip(system, opts, scale, asymmetric=True):
    """The MIP of the module doc over the menu ``opts``: (problem, makespan M, w[t,o], n[t,o,c]);
    ``asymmetric=False``: a table of k parts sits on cores 0..k-1, as the default compiler puts it."""
    cores = range(system.n_cores)
    prob = pulp.LpProblem("core_mapping", pulp.LpMinimize)
    M = prob.add_variable("makespan", lowBound=0)
    w, n = {}, {}
    core_time = {c: [] for c in cores}
    l1 = {c: [] for c in cores}
    for ti, ol in enumerate(opts):
        for o, (k, _s, sec, l1b) in enumerate(ol):
            w[ti, o] = prob.add_variable(f"w_{ti}_{o}", cat="Binary")
            for c in cores:
                v = prob.add_variable(f"n_{ti}_{o}_{c}", cat="Binary")
                n[ti, o, c] = v
                prob += v <= w[ti, o]
                core_time[c].append(sec / scale * v)
                if l1b:
                    l1[c].append(l1b * v)
            prob += pulp.lpSum(n[ti, o, c] for c in cores) == k * w[ti, o]
            if not asymmetric:
                for c in cores:
                    prob += n[ti, o, c] == (w[ti, o] if c < k else 0)
        prob += pulp.lpSum(w[ti, o] for o in range(len(ol))) == 1
        # each part runs whole on one core: the slowest core is at least the chosen part time
        # (implied by the integer model, not by its LP relaxation; it tightens the bound)
        prob += pulp.lpSum(sec / scale * w[ti, o] for o, (k, s, sec, l1b) in enumerate(ol)) <= M
    T = {}
    for c in cores:
        T[c] = pulp.lpSum(core_time[c])
        prob += T[c] <= M
        if l1[c]:
            prob += pulp.lpSum(l1[c]) <= system.l1_capacity_B
    for c in list(cores)[:-1]:
        prob += T[c] >= T[c + 1]
    prob += M
    return prob, M, w, n


def _warm_mapping(system, opts, start, w, n, M, scale):
    """Set the MIP's start to ``start`` (per table: option, cores), cores relabelled by load (slowest
    first) to satisfy the symmetry-breaking order."""
    load = [0.0] * system.n_cores
    for ti, (o, on) in enumerate(start):
        for c in on:
            load[c] += opts[ti][o][2]
    relabel = {c: r for r, c in enumerate(sorted(range(system.n_cores), key=lambda c: (-load[c], c)))}
    for v in list(w.values()) + list(n.values()):
        v.setInitialValue(0)
    for ti, (o, on) in enumerate(start):
        w[ti, o].setInitialValue(1)
        for c in on:
            n[ti, o, relabel[c]].setInitialValue(1)
    M.setInitialValue(max(load) / scale)


def _read_mapping(system, opts, w, n):
    """The solved mapping (per table: option, cores), or None if it is incomplete (a solver that stops
    without a solution may leave stale values)."""
    out = []
    for ti, ol in enumerate(opts):
        o = max(range(len(ol)), key=lambda o: w[ti, o].varValue or 0)
        on = [c for c in range(system.n_cores) if (n[ti, o, c].varValue or 0) > 0.5]
        if len(on) != ol[o][0]:
            return None
        out.append((o, on))
    return out


def _to_core_plan(model, system, opts, mapping, best_bound, info):
    """The ShardingPlan of ``mapping`` (per table: option, cores), with its core times and pool use."""
    core_t = {c: 0.0 for c in range(system.n_cores)}
    tps = []
    global_tier = [x.tier for x in system.slots() if x.tier != "l1"][0]
    for t, ol, (o, on) in zip(model.tables, opts, mapping):
        k, s, sec, _l1b = ol[o]
        for c in on:
            core_t[c] += sec
        tier = "l1" if s in L1_STRATEGIES else global_tier
        rp = Representation(kind="dense", dtype=t.dtype, bytes=t.bytes, row_bytes=t.row_bytes)
        tps.append(TablePlan(t.name, rp, [Shard(f"core{c}", tier, 0.0, 1.0, 1.0 / k, core=c, strategy=s, part=p,
                                                parts=k) for p, c in enumerate(on)]))
    makespan = max(core_t.values())
    bound = min(best_bound, makespan) if best_bound is not None else None
    gap = (makespan - bound) / makespan if bound is not None and makespan > 0 else None
    used = {}
    for tp in tps:
        for sh in tp.shards:
            key = f"{sh.device}.{sh.tier}" if sh.tier == "l1" else [x.pool_key for x in system.slots()
                                                                    if x.tier == sh.tier][0]
            used[key] = used.get(key, 0.0) + tp.representation.bytes / sh.parts
    return ShardingPlan(model=model.name, system=system.name, tables=tps,
                        device_time_s={f"core{c}": v for c, v in core_t.items()}, makespan_s=makespan,
                        best_bound_s=bound, gap=gap, objective=makespan, pool_used_B=used,
                        bound_rule=("MIP bound; holds for the menu of splits (1, 2, 4, ... cores per table, equal "
                                    "row ranges each taking 1/k of the lookups) and the menu's strategies"),
                        pool_capacity_B={s.pool_key: s.capacity_B for s in system.slots()}, **info)
