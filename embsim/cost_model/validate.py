"""An independent check of a ShardingPlan against its system (and model): does the plan make sense?

It shares no code with the planner on purpose: it re-derives bytes from the
plan's own representations and ranges, so a planner bug cannot hide.

Checks:

- every shard's (device, tier) is a slot of the system; on an SoC plan, its
  core exists and its strategy is one of the system's;
- completeness: the model's tables appear exactly once; the shards of each
  table (of each row-wise part) cover hot ranks [0, 1) exactly once, with
  no gap and no overlap; a tensor-train table's part is one shard [0, 1);
- access shares lie in [0, 1] and sum to 1 per table;
- capacity: the bytes placed in each memory pool (a dense shard holds
  (rank_hi - rank_lo) x bytes x its part's share of the rows; a TT shard holds all the cores) do
  not exceed the pool's capacity; on an SoC, a table part served with an L1
  strategy must satisfy ``strategy_feasible``.

``plan_problems`` returns the problems as one-line strings; ``check_plan``
raises InputError with the first of them (and how many there are).
"""
from collections import Counter, defaultdict
from dataclasses import dataclass

from ..errors import InputError
from ..hw_models.protocols import PerCoreStrategies

TOL = 1e-9
# MIP solvers meet constraints to a feasibility tolerance (1e-7 .. 1e-6 relative), so a pool may be
# over-filled by a few bytes in a million; more is a real violation.
CAPACITY_RTOL = 1e-6


def _part_fractions(t, P, rows, dim=None):
    """(fraction of the table's rows per part, problem or None), from the plan's partition fields."""
    scheme = getattr(t, "partition", "hash") or "hash"
    if scheme == "replicated":          # data parallel: every part is a whole copy of the table
        return [1.0] * P, None
    if scheme == "column":              # column-wise: every part holds all rows, its columns' share of the bytes
        c = t.columns
        if not c or len(c) != P + 1 or c[-1] % P or list(c) != [p * c[-1] // P for p in range(P + 1)] \
                or (dim is not None and c[-1] != dim):
            return None, (f"columns {c}: expected {P + 1} equally spaced column ids from 0 to the table's dim"
                          + (f" ({dim})" if dim is not None else ""))
        return [(y - x) / c[-1] for x, y in zip(c, c[1:])], None
    if scheme == "hash":
        if rows is None:
            return [1.0 / P] * P, None
        return [((rows - p + P - 1) // P) / rows for p in range(P)], None
    if scheme != "range":
        return None, f"partition '{scheme}' (expected hash, range, replicated or column)"
    b = t.row_bounds
    if not b or len(b) != P + 1 or b[0] != 0 or any(y < x for x, y in zip(b, b[1:])) \
            or (rows is not None and b[-1] != rows):
        return None, (f"row_bounds {b}: expected {P + 1} ascending row ids from 0 to the table's rows"
                      + (f" ({rows})" if rows is not None else ""))
    return [(y - x) / b[-1] for x, y in zip(b, b[1:])], None


def _hot_rank_problems(t, rep, P, by_part):
    """Problems of each part's shards: present, one slot for a table kept whole, hot ranks [0, 1) exactly once."""
    out = []
    for p in range(P):
        sh = sorted(by_part.get(p, []), key=lambda s: (s.rank_lo, s.rank_hi))
        if not sh:
            out.append(f"table '{t.table}': part {p} has no shards")
            continue
        if rep.kind != "dense" and len(sh) != 1 and all(s.core is None for s in sh):
            out.append(f"table '{t.table}': {rep.kind} table split over {len(sh)} shards (expected 1: "
                       "it lives whole in one slot)")
        at = 0.0
        for s in sh:
            if s.rank_hi <= s.rank_lo:
                out.append(f"table '{t.table}': empty or reversed hot-rank range [{s.rank_lo}, {s.rank_hi})")
            if abs(s.rank_lo - at) > TOL:
                kind = "gap" if s.rank_lo > at else "overlap"
                out.append(f"table '{t.table}': part {p}: hot ranks have a {kind} at {min(at, s.rank_lo):.6g}")
            at = max(at, s.rank_hi)
        if abs(at - 1.0) > TOL:
            out.append(f"table '{t.table}': part {p}: hot ranks end at {at:.9g}, expected 1")
    return out


def plan_problems(plan, system, model=None):
    slots = {(s.device, s.tier): s for s in system.slots()}
    cap = {s.pool_key: s.capacity_B for s in slots.values()}
    used: dict = defaultdict(float)
    out = _table_set_problems(plan, model)
    ctx = _Context(slots, system, isinstance(system, PerCoreStrategies),
                   {t.name: t.rows for t in model.tables} if model is not None else {},
                   {t.name: t.dim for t in model.tables} if model is not None else {})
    for t in plan.tables:
        out += _table_problems(t, ctx, used)
    for p, b in used.items():
        if b > cap[p] * (1 + CAPACITY_RTOL) + 1e-6:
            out.append(f"pool {p}: plan places {b / 1e9:.6g} GB, capacity {cap[p] / 1e9:.6g} GB")
    return out


def _table_set_problems(plan, model) -> list:
    """Tables missing from the plan, not in the model, or planned twice."""
    out = []
    names = [t.table for t in plan.tables]
    if model is not None:
        want = [t.name for t in model.tables]
        out += [f"table '{n}': missing from the plan" for n in sorted(set(want) - set(names))]
        out += [f"table '{n}': not a table of model '{model.name}'" for n in sorted(set(names) - set(want))]
    return out + [f"table '{n}': appears more than once" for n in sorted(n for n, k in Counter(names).items() if k > 1)]


@dataclass
class _Context:
    """What every table's check needs: the system's slots by (device, tier), the system, whether it maps
    tables to cores, and the model's rows and dim per table (empty without a model)."""
    slots: dict
    system: object
    per_core: bool
    rows_of: dict
    dim_of: dict


def _table_problems(t, ctx, used) -> list:
    """One table plan's problems; adds the bytes its shards place to ``used`` (per pool)."""
    rep = t.representation
    if not t.shards:
        return [f"table '{t.table}': has no shards"]
    out = []
    if not (rep.bytes >= 0 and rep.row_bytes > 0):
        out.append(f"table '{t.table}': representation bytes {rep.bytes} / row bytes {rep.row_bytes} "
                   f"(expected >= 0 and > 0)")
    parts = {s.parts for s in t.shards}
    if len(parts) != 1 or min(parts) < 1:
        return out + [f"table '{t.table}': shards disagree on the number of row-wise parts ({sorted(parts)})"]
    P = parts.pop()
    frac, why = _part_fractions(t, P, ctx.rows_of.get(t.table), ctx.dim_of.get(t.table))
    if why:
        return out + [f"table '{t.table}': {why}"]
    if t.partition == "column" and (rep.kind != "dense" or len({s.device for s in t.shards}) != P):
        out.append(f"table '{t.table}': column-wise as {rep.label} over devices "
                   f"{[s.device for s in t.shards]} (expected dense, one shard per device)")
    by_part = defaultdict(list)
    for s in t.shards:
        out += _shard_problems(t, s, P, frac, ctx, used)
        by_part[s.part].append(s)
    share = sum(s.access_share for s in t.shards)
    want = P if t.partition == "column" else 1       # each column shard reads every lookup
    if abs(share - want) > 1e-6 * want:
        out.append(f"table '{t.table}': access shares sum to {share:.9g}, expected {want}")
    return out + _hot_rank_problems(t, rep, P, by_part)


def _shard_problems(t, s, P, frac, ctx, used) -> list:
    """One shard's problems (its part, share, slot, core and strategy); adds its bytes to ``used``."""
    out = []
    rep = t.representation
    if not 0 <= s.part < P:
        out.append(f"table '{t.table}': shard part {s.part} outside 0..{P - 1}")
    if not (-TOL <= s.access_share <= 1 + TOL):
        out.append(f"table '{t.table}': access share {s.access_share} outside [0, 1]")
    slot = ctx.slots.get((s.device, s.tier))
    if slot is None:
        out.append(f"table '{t.table}': slot {s.device}.{s.tier} does not exist in system '{ctx.system.name}'")
    else:
        used[slot.pool_key] += rep.bytes if rep.kind == "tt" else (s.rank_hi - s.rank_lo) * rep.bytes * frac[s.part % P]
    if ctx.per_core:
        n_cores, strategies = ctx.system.n_cores, ctx.system.STRATEGIES
        if s.core is not None and not 0 <= s.core < n_cores:
            out.append(f"table '{t.table}': core {s.core} outside 0..{n_cores - 1}")
        if s.strategy is not None and s.strategy not in strategies:
            out.append(f"table '{t.table}': strategy '{s.strategy}' is not one of {', '.join(strategies)}")
    return out


def check_plan(plan, system, model=None):
    """Raise InputError naming the first problem of ``plan``; return the plan if it is sound."""
    probs = plan_problems(plan, system, model)
    if probs:
        more = f" (and {len(probs) - 1} more problems)" if len(probs) > 1 else ""
        raise InputError(f"plan for system '{system.name}': {probs[0]}{more}")
    return plan
