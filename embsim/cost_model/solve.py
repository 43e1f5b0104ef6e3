"""solve_plan: the sharding planner's entry point (enumerate, estimate, propose, partition, level).

    plan = solve_plan(model, system)                        # stats from the model's access distributions
    plan = solve_plan(model, system, stats=trace_stats(t))  # or from a trace
    plan.makespan_s, plan.gap, plan.baselines["size_greedy"]["makespan_s"]

Stages, as in TorchRec's planner:

1. *enumerate*: items (tables, or row-wise parts of large or very hot
   tables) and their candidate representations (:mod:`.representations`);
2. *estimate*: per-lookup time and energy of every (item, representation,
   slot) from ``System.lookup_cost`` / ``compute_cost`` (:mod:`.instance`);
3. *propose*: the baselines (:mod:`.baselines`), each scored exactly;
4. *partition*: the MIP (:mod:`.sharding_mip`), warm-started from the best
   baseline.  ``method="auto"`` solves the full MIP when items x devices <=
   FULL_MAX_PAIRS, and the decomposed one (aggregate LP, assignment MIP,
   greedy tier refill) beyond;
5. *level*: moves and swaps that relieve the devices below the slowest, one
   after another (:func:`levelled`, :mod:`.local_search`), within the
   solver's deadline, kept if the objective does not rise.

With torchrec installed, TorchRec's own plan (:mod:`.torchrec_planner`)
is a further baseline on every multi-device instance, scored by embsim's cost
model with its own row-wise blocks; it is shown (``baselines["torchrec"]``),
not used as a warm start, and planned after the solve, outside its time limit.

Time limit: ``time_limit_s`` is the whole call's (the instance, the baselines, building every model,
the solves, writing the plan), less 8% kept for a solver's answer to its stop and the finish (at least
the finish's work as measured on the baselines, :func:`finish_estimate_s`).  A stage that has no
time left is not started: with less than MIN_SOLVE_S left after the baselines, the plan is the best
baseline (status ``not_solved``, a note says why).

The returned plan is never worse than the best of embsim's baselines: if the solver
returns nothing better within its time limit, the plan is that baseline
(status says so).  Times are per batch of ``batch_size`` samples; the
objective is ``makespan_s + energy_weight * energy_J`` (energy_weight in
seconds per joule).

Infeasible instances raise InputError with one line naming the binding
constraint, e.g. "tables need 104.5 GB at fp32, the system holds 64.0 GB;
allow int8 or add devices".
"""
import math
import time

from ..errors import InputError
from .baselines import BASELINES
from .instance import Instance
from .placement import comm_times, evaluate, objective as placement_objective, replica_slots, used_bytes
from .plan import Shard, ShardingPlan, TablePlan
from .representations import parse_allowed, saving
from .decomposed_types import COLUMN_TABLES
from .decomposed import solve_decomposed
from .sharding_mip import FULL_MAX_PAIRS, lower_bound, solve_full
from .solvers import SOLVERS
from .warm_start import best_start

DEFAULT_BATCH_SIZE = 1024
OVERRUN_RESERVE = 0.08      # share of the time limit kept back for the solver's overrun (bench/planner.py)
FINISH_SCORINGS = 5         # plans scored after the solve's deadline: _polished 2, _keep_better 1 (the
#                             baseline's is known), fill_idle_fast_tiers 1, _to_plan 1 (a count, not a tuning)
FINISH_FILLS = 1            # tier fills of every item after it: fill_idle_fast_tiers' (the polish begins
#                             no candidate that, as long as its last, would end past the deadline)
START_SHARE = 0.1           # share of the solve's time the full MIP's warm start may take (replica_moves.py)
MIN_SOLVE_S = 0.3           # assumption: below this a model cannot even be built and written on a busy machine
OBJECTIVES = ("makespan", "makespan+energy")


def _gb(b):
    return f"{b / 1e9:.1f} GB" if b >= 1e8 else f"{b / 1e6:.3g} MB"


def explain_infeasible(inst):
    """One line naming the binding constraint, or None if no simple constraint binds."""
    cap = sum(inst.pools.values())
    first = sum(it.bytes[0] for it in inst.items)
    smallest = sum(min(it.bytes) for it in inst.items)
    labels = sorted({it.reps[0].label for it in inst.items})
    allowed_small = sorted({it.reps[min(range(len(it.reps)), key=lambda r: it.bytes[r])].label for it in inst.items})
    sysname = f"system '{inst.system.name}'"
    if smallest > cap:
        if smallest == first:
            return (f"tables of model '{inst.model.name}' need {_gb(first)} at {'/'.join(labels)}, {sysname} holds "
                    f"{_gb(cap)}; allow smaller representations (--representations fp32,int8) or add devices")
        return (f"tables of model '{inst.model.name}' need {_gb(smallest)} even at the smallest allowed "
                f"representations ({'/'.join(allowed_small)}), {sysname} holds {_gb(cap)}; "
                f"allow int4/tt or add devices")
    for _i, it in enumerate(inst.items):
        best = max(inst._device_capacity(d) for d in inst.devices)
        if min(it.bytes) > best:
            return (f"table '{it.label}' needs {_gb(min(it.bytes))}, the largest device of {sysname} holds "
                    f"{_gb(best)}; let the planner split tables (split=True) or add memory")
    return None


def _to_plan(inst, pl, model, system, **info):
    tables = []
    by_table = {}
    for i, it in enumerate(inst.items):
        by_table.setdefault(it.table, []).append(i)
    for ti, t in enumerate(model.tables):
        idx = by_table[ti]
        rep = inst.items[idx[0]].reps[pl.rep[idx[0]]]
        rep.memory_saving = saving(t, rep)
        if ti in pl.replicated:              # data parallel: a whole copy on every device, 1/N of the lookups
            N = len(inst.devices)
            shards = [Shard(inst.slots[k].device, inst.slots[k].tier, 0.0, 1.0, 1.0 / N, part=c, parts=N)
                      for c, k in enumerate(replica_slots(inst))]
            tables.append(TablePlan(t.name, rep, shards, partition="replicated", sharding="data_parallel"))
            continue
        if ti in pl.columns:
            tables.append(_column_plan(inst, t, rep, pl.columns[ti]))
            continue
        shards = []
        for i in idx:
            it = inst.items[i]
            for k, lo, hi in pl.ranges[i]:
                s = inst.slots[k]
                share = float(it.curve(hi) - it.curve(lo)) if rep.kind == "dense" else 1.0
                shards.append(Shard(s.device, s.tier, float(lo), float(hi), share * it.share,
                                    part=it.part, parts=it.parts))
        first = inst.items[idx[0]]
        extra = first.partition.to_plan() if first.parts > 1 else {}
        if first.parts > 1:
            extra["part_shares"] = [float(inst.items[i].share) for i in idx]
        tables.append(TablePlan(t.name, rep, shards, sharding="row_wise" if first.parts > 1 else "table_wise",
                                **extra))
    dev_t, energy, makespan = evaluate(inst, pl)
    comm = comm_times(inst, pl)
    info.update(comm_time_s=comm, comm_makespan_s=float(max(comm.values())) if comm else None)
    return ShardingPlan(model=model.name, system=system.name, tables=tables, device_time_s=dev_t,
                        makespan_s=makespan, energy_J=energy, batch_size=inst.batch_size,
                        pool_used_B=used_bytes(inst, pl), pool_capacity_B=dict(inst.pools), **info)


def _column_plan(inst, t, rep, slots):
    """A column-wise table: shard c (part c of K) holds columns [cols[c], cols[c+1]) of every row and reads
    every lookup (access share 1 each)."""
    K = len(slots)
    shards = [Shard(inst.slots[k].device, inst.slots[k].tier, 0.0, 1.0, 1.0, part=c, parts=K)
              for c, k in enumerate(slots)]
    return TablePlan(t.name, rep, shards, partition="column", sharding="column_wise",
                     columns=[c * t.dim // K for c in range(K + 1)])


def solve_plan(model, system, stats=None, objective="makespan", energy_weight=0.0, solver="cbc",
               time_limit_s=60.0, representations=None, batch_size=DEFAULT_BATCH_SIZE, method="auto",
               split=True, gap_rel=None, max_collision_share=None, coalescing=None, replicate=True,
               torchrec_baseline=True, columns=False):
    """Solve a sharding plan of ``model`` on ``system``; returns a ShardingPlan (see module doc).

    representations: None (each table's own dtype), a comma string or list of
    fp32, fp16, int8, int4, tt, tt<rank>, hash:R, qr:R, cafe:R[:L], memrec:R[:K].
    method: auto | full | decomposed (both replicate small tables unless ``replicate=False``;
    ``columns=True`` lets them cut tables column-wise, the decomposed one the COLUMN_TABLES heaviest).  max_collision_share: no table may take a
    row-sharing representation whose predicted collision share exceeds it.
    coalescing: {"layout", "unit_sizes_B"}: price lookups as the coalescing
    simulator reads them under that row layout (:mod:`.coalescing`).
    """
    energy_weight = _check_options(solver, objective, energy_weight, time_limit_s, batch_size, method)
    t0 = time.perf_counter()
    # enumerate and estimate: items, their representations, and the cost of every (item, rep, slot)
    allowed = parse_allowed(representations)
    check_collision_budget(max_collision_share)
    inst = Instance(model, system, stats, batch_size, allowed, split, max_collision_share, coalescing, replicate,
                    columns=columns)
    why = explain_infeasible(inst)
    if why:
        raise InputError(why)

    scored: dict = {}      # id -> (placement, objective): the finish scores the same plans again

    def score(pl):
        if id(pl) not in scored:
            scored[id(pl)] = (pl, placement_objective(inst, pl, energy_weight))
        return scored[id(pl)][1]

    timings: dict = {}
    baselines, best = propose(inst, score, timings)
    if method == "auto":
        method = "full" if len(inst.items) * len(inst.devices) <= FULL_MAX_PAIRS else "decomposed"
    prepared_s = time.perf_counter() - t0
    # the solve gets what is left of the limit after the instance and the baselines, less 8% (at least
    # 0.3 s, at least the finish as measured) for the solver's overrun of its own limit and writing the
    # plan: the whole call keeps the limit
    reserve_s = max(0.3, OVERRUN_RESERVE * time_limit_s, finish_estimate_s(timings))
    left = time_limit_s - prepared_s - reserve_s
    notes = _opening_notes(inst, prepared_s, time_limit_s, reserve_s)
    if left >= MIN_SOLVE_S or best is None:
        pl, bound, status = partition(inst, method, best, baselines, solver, max(left, MIN_SOLVE_S), energy_weight,
                                      gap_rel, notes)
    else:           # no time for a model: the best baseline, with the bound that needs no solve
        notes.append(f"no MIP: {max(left, 0.0):.2f} s of the limit left after the instance and baselines "
                     f"(a solve needs {MIN_SOLVE_S:g} s); raise --time-limit for a solved plan")
        pl, bound, status = None, lower_bound(inst, None), "not_solved"
    chosen, status, method_used = _keep_better(inst, pl, best, score, status, notes, time_limit_s, method)
    chosen = levelled(inst, chosen, score, energy_weight, t0 + time_limit_s - reserve_s, notes)
    if len(inst.devices) > 1 and torchrec_baseline:    # False: without TorchRec's plan (minutes on 856 tables)
        t0 += torchrec_baseline_after_solve(model, system, stats, batch_size, energy_weight, baselines, notes,
                                            split, replicate and not coalescing, columns and not coalescing)
    chosen = fill_idle_fast_tiers(inst, chosen, score)
    obj = score(chosen)
    bound, gap = _bound_and_gap(inst, obj, bound, method, energy_weight, notes)
    return _to_plan(inst, chosen, model, system, best_bound_s=bound, gap=gap, objective=obj, solver=solver,
                    solve_time_s=time.perf_counter() - t0, status=status, baselines=baselines, notes=notes,
                    method=method_used, bound_rule=bound_rule(inst, method))


def _opening_notes(inst, prepared_s, time_limit_s, reserve_s) -> list:
    return [f"{len(inst.items)} items ({len(inst.model.tables)} tables; row-wise parts of large or hot tables), "
            f"{len(inst.devices)} devices, {len(inst.slots)} slots",
            "representations other than a table's own dtype change model accuracy, which embsim does not model",
            f"instance and baselines {prepared_s:.2f} s of the {time_limit_s:g} s limit; {reserve_s:.2f} s "
            "kept for the solver's overrun and the finish"]


def _bound_and_gap(inst, obj, bound, method, energy_weight, notes):
    """(bound, gap) of the chosen plan's objective ``obj`` (a bound above the plan is the plan's own
    objective: the plan proves it); appends the notes on what the objective and the bound cover."""
    if bound is not None:
        bound = min(bound, obj)
    gap = (obj - bound) / obj if bound is not None and obj > 0 else (0.0 if bound is not None else None)
    if bound is None:
        notes.append("best bound unknown: the solver did not report one")
    if method == "decomposed" and len(inst.columnable) > COLUMN_TABLES:
        notes.append(f"column-wise sharding: the decomposed assignment offers it to the {COLUMN_TABLES} of "
                     f"{len(inst.columnable)} columnable tables with the most lookup bytes (its bound to all)")
    if inst.comm is not None:
        notes.append("objective = embedding makespan + all-to-all makespan (pooled vectors over the system's "
                     "links, probed from its batch cost)" + (" + energy weight x energy" if energy_weight else ""))
    return bound, gap


def finish_estimate_s(timings) -> float:
    """Seconds the work after the solve takes, from what ``propose`` measured on this instance at this load:
    FINISH_FILLS tier fills of every item (each as long as the fastest baseline's build, a fill and a
    greedy) and FINISH_SCORINGS scorings of a plan (0 if no baseline was built)."""
    if "fill_s" not in timings:
        return 0.0
    return FINISH_FILLS * timings["fill_s"] + FINISH_SCORINGS * timings["score_s"]


def torchrec_baseline_after_solve(model, system, stats, batch_size, energy_weight, baselines, notes,
                                  split, replicate, columns) -> float:
    """TorchRec's own plan as ``baselines["torchrec"]`` when torchrec is installed (optional), offered the
    sharding types embsim's solve was; planned after the solve, outside its time limit.  Returns its
    wall seconds (0 without torchrec), so that ``solve_time_s`` stays embsim's own."""
    from . import torchrec_planner
    if torchrec_planner.unavailable() is not None:
        return 0.0
    t_tr = time.perf_counter()
    offered = torchrec_planner.sharding_types(split, replicate, columns)
    baselines["torchrec"] = torchrec_planner.baseline(model, system, stats, batch_size, energy_weight, offered)
    torchrec_s = time.perf_counter() - t_tr
    notes.append(f"TorchRec's plan (a baseline shown beside the others) took {torchrec_s:.1f} s "
                 "after the solve, outside its time limit")
    return torchrec_s


def _check_options(solver, objective, energy_weight, time_limit_s, batch_size, method):
    """InputError on a bad planner option; the energy weight the objective uses (0 for makespan)."""
    if solver not in SOLVERS:
        raise InputError(f"solver: unknown solver '{solver}' (expected one of {', '.join(SOLVERS)})")
    if objective not in OBJECTIVES:
        raise InputError(f"objective: unknown objective '{objective}' (expected one of {', '.join(OBJECTIVES)})")
    if objective == "makespan":
        energy_weight = 0.0
    if not (time_limit_s and time_limit_s > 0 and math.isfinite(time_limit_s)):
        raise InputError(f"time limit: {time_limit_s} s (expected a finite number of seconds > 0)")
    if not (isinstance(batch_size, int) and batch_size > 0):
        raise InputError(f"batch size: {batch_size} (expected a positive integer)")
    if method not in ("auto", "full", "decomposed"):
        raise InputError(f"method: unknown method '{method}' (expected auto, full or decomposed)")
    if energy_weight < 0:
        raise InputError(f"energy weight: {energy_weight} (expected >= 0)")
    return energy_weight


def propose(inst, score, timings=None):
    """Stage 3: every baseline of BASELINES, scored exactly.  (name -> figures, (best name, placement) or None).
    ``timings`` (a dict), if given, gets the fastest baseline's build ("fill_s": one tier fill of every item
    and a greedy) and the fastest scoring ("score_s"), in seconds as measured here."""
    baselines, best = {}, None
    timings = {} if timings is None else timings
    for name, fn in BASELINES.items():
        t = time.perf_counter()
        try:
            pl = fn(inst)
        except InputError as e:
            baselines[name] = {"makespan_s": None, "infeasible": str(e)}
            continue
        t_built = time.perf_counter()
        timings["fill_s"] = min(timings.get("fill_s", math.inf), t_built - t)
        score(pl)
        timings["score_s"] = min(timings.get("score_s", math.inf), time.perf_counter() - t_built)
        dev_t, energy_J, m = evaluate(inst, pl)
        comm = comm_times(inst, pl)
        baselines[name] = {"makespan_s": float(m), "energy_J": float(energy_J), "imbalance": float(m) / (sum(dev_t.values()) / len(dev_t))
                           if sum(dev_t.values()) > 0 else 1.0,
                           "comm_makespan_s": float(max(comm.values())) if comm else None,
                           "objective": float(score(pl))}
        if best is None or score(pl) < score(best[1]):
            best = (name, pl)
    return baselines, best


def partition(inst, method, best, baselines, solver, left, energy_weight, gap_rel, notes):
    """Stage 4: the full or decomposed MIP warm-started from the best baseline.  (placement or None, bound,
    status); appends what the solve reports to ``notes``."""
    if method == "full":
        start = best[1] if best else None
        if start is None:
            raise InputError(f"no baseline fits model '{inst.model.name}' on system '{inst.system.name}': "
                             + "; ".join(v["infeasible"] for v in baselines.values()))
        t_start = time.perf_counter()
        name, start = best_start(inst, start, lambda q: placement_objective(inst, q, energy_weight),
                                 deadline=t_start + START_SHARE * left)
        left -= time.perf_counter() - t_start
        if name is not None:
            notes.append(f"warm start: {name} (comm-aware LPT, :mod:`warm_start`), objective "
                         f"{placement_objective(inst, start, energy_weight):.4g} s below the best baseline's "
                         f"{placement_objective(inst, best[1], energy_weight):.4g} s")
        pl, rep = solve_full(inst, start, solver, left, energy_weight, gap_rel or 1e-4)
        bound = rep.best_bound
        if pl is None and name is not None:       # the start is a plan too: keep it if the solve gave none
            pl = start
            notes.append(f"the solve returned no plan; the plan is the {name} warm start")
    else:
        pl, rep, extra = solve_decomposed(inst, best[1] if best else None, solver, left, energy_weight,
                                          gap_rel or 1e-3)
        bound = extra["bound"] if extra else None
        if extra:
            notes.append(f"decomposed: aggregate LP {extra['lp'].solve_time_s:.2f} s, assignment MIP "
                         f"{rep.solve_time_s:.2f} s ({rep.status}), {extra['moves']} polishing moves; bound = max(aggregate LP, slowest item "
                         f"alone), valid for the whole problem")
    if rep.note:
        notes.append(rep.note)
    if rep.status == "infeasible" and best is None:
        raise InputError(f"model '{inst.model.name}' fits system '{inst.system.name}' in total but cannot be packed "
                         f"onto its devices and tiers (the MIP is infeasible); add memory or allow smaller representations")
    return pl, bound, rep.status


def _keep_better(inst, pl, best, score, status, notes, time_limit_s, method):
    """The solver's placement unless the best baseline scores lower: (placement, status, method used)."""
    if pl is not None and (best is None or score(best[1]) >= score(pl) - 1e-15):
        return pl, status, method
    if best is None:
        raise InputError(f"no plan found for model '{inst.model.name}' on system '{inst.system.name}' within "
                         f"{time_limit_s:g} s (solver status {status}); raise --time-limit")
    notes.append(f"the solver found nothing better than the {best[0]} baseline within the time limit; "
                 f"the plan is that baseline")
    return best[1], f"{status} (baseline {best[0]} kept)", "baseline"


def levelled(inst, pl, score, energy_weight, deadline, notes):
    """``pl`` with the devices below its slowest levelled (:func:`.local_search.polish`, ``level=True``) until
    ``deadline``, the solver's own (the finish keeps its reserve), if that scores no worse; makespan only
    (the moves do not price energy)."""
    from .local_search import polish
    if energy_weight != 0 or time.perf_counter() >= deadline:
        return pl
    t = time.perf_counter()
    out, moves = polish(inst, pl, deadline, level=True)
    if moves == 0 or score(out) > score(pl) * (1 + 1e-12):
        return pl
    dev_before, dev_after = evaluate(inst, pl)[0], evaluate(inst, out)[0]
    notes.append(f"levelled the devices below the slowest: {moves} moves in {time.perf_counter() - t:.2f} s, "
                 f"device times {_us_range(dev_before)} -> {_us_range(dev_after)} us")
    return out


def _us_range(times: dict) -> str:
    return f"{min(times.values()) * 1e6:.1f}-{max(times.values()) * 1e6:.1f}"


def fill_idle_fast_tiers(inst, pl, score):
    """The same assignment with its rows refilled hottest first into the fastest tiers (fill_tiers), if that
    scores no worse.  A solver is indifferent to where rows the profile never saw sit, and may leave them in
    host DDR with HBM free; a deployment (and TorchRec's estimator) pays for such a table's UVM kernel."""
    from .placement import Placement, elsewhere_reserve, fill_tiers
    left = elsewhere_reserve(inst, pl.rep, pl.replicated, pl.columns)
    keep = [i for i, it in enumerate(inst.items) if not pl.elsewhere(it.table)]
    try:
        refill = fill_tiers(inst, pl.rep, pl.device, reserve=left, subset=keep)
    except InputError:
        return pl
    refill = Placement(refill.rep, refill.device, refill.ranges, set(pl.replicated), dict(pl.columns))
    return refill if score(refill) <= score(pl) * (1 + 1e-12) else pl


def bound_rule(inst, method):
    """The problem the reported best bound holds for (a bound is only as wide as the problem solved)."""
    split = sorted({it.parts for it in inst.items if it.parts > 1})
    parts = (f"tables cut into the row-wise parts embsim's splitting rule chose ({', '.join(map(str, split))} "
             "parts), each with its counted load" if split else "every table whole (no row-wise parts)")
    how = "MIP bound" if method == "full" else ("max(aggregate LP over device classes, slowest item alone), "
                                               "each with copies, column cuts and the all-to-all")
    kinds = ["table-wise"] + (["row-wise"] if split else [])
    kinds += (["data-parallel"] if inst.replicable else []) + (["column-wise"] if inst.columnable else [])
    return (f"{how}; holds for {parts}, the sharding types {', '.join(kinds)}, the allowed representations and "
            "embsim's cost model; a plan with other splits (or sharding types) may be faster than it")


def check_collision_budget(max_collision_share):
    """InputError unless the budget is None or a share in [0, 1]."""
    if max_collision_share is not None and not (0.0 <= float(max_collision_share) <= 1.0):
        raise InputError(f"max collision share: {max_collision_share} (expected a share of lookups in [0, 1])")


def instance_for(model, system, stats=None, batch_size=DEFAULT_BATCH_SIZE, representations=None, split=True,
                 max_collision_share=None, coalescing=None, replicate=True, columns=False):
    """The Instance solve_plan builds (for tests, benchmarks and notebooks that score placements)."""
    check_collision_budget(max_collision_share)
    return Instance(model, system, stats, batch_size, parse_allowed(representations), split, max_collision_share,
                    coalescing, replicate, columns=columns)


__all__ = ["solve_plan", "instance_for", "explain_infeasible", "lower_bound"]
