"""Warm starts for the full MIP that use what the baselines leave out: replicas and the all-to-all.

The baselines put every item on one device and ignore the all-to-all of pooled vectors.  On DCNv2 x
8 A100 the all-to-all is about half the objective, and the full MIP's good plans replicate the small
tables (every device serves its 1/N of their lookups and sends nothing for them); from the best
baseline (LPT, no replicas) CBC and HiGHS did not find such plans in 5 s (gap 12-14%).

``comm_lpt(inst, replicate)``: copy every replicable table whose copies fit in the fastest tiers
(most lookups first) when ``replicate``, then place the other items largest first on the device where
the estimate of the objective (makespan + all-to-all makespan, :mod:`.comm`) grows least, ties to the
least loaded; the rows are split by the greedy fill and the plan is scored exactly.  These are warm
starts, not baselines: the plan's ``baselines`` stay what people use.
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import InputError
from .baselines import _capacity, aggregate_cost, baseline_reps
from .placement import Placement, fill_tiers, replica_slots
from .replica_moves import improve_replicas


def warm_starts(inst) -> list:
    """(name, Placement) of every comm-aware start that fits (with and without replicas)."""
    out = []
    for name, replicate in (("comm_lpt_replicas", True), ("comm_lpt", False)):
        try:
            pl = comm_lpt(inst, replicate)
        except InputError:
            continue
        if pl is not None:
            out.append((name, pl))
    return out


def comm_lpt(inst, replicate: bool = True, candidates=None):
    """The start of the module doc, or None when the instance has nothing for it to add.  ``candidates``:
    the tables it may copy, in the order it tries them (default: every replicable table, most lookups first)."""
    rep = baseline_reps(inst)
    if inst.comm is None and not (replicate and inst.replicable):
        return None
    reserve, base, replicated = _replicas(inst, rep, replicate, candidates)
    keep = [i for i, it in enumerate(inst.items) if it.table not in replicated]
    est = aggregate_cost(inst, rep)
    free = _capacity(inst)
    for k in replica_slots(inst) if replicated else []:
        free[inst.slots[k].device] -= sum(inst.items[i].bytes[0] for i, it in enumerate(inst.items)
                                          if it.table in replicated)
    load, pooled = dict(base), {d: 0.0 for d in inst.devices}
    dev = [inst.devices[0]] * len(inst.items)
    for i in sorted(keep, key=lambda i: (-est[i].min(), i)):
        b = inst.items[i].bytes[rep[i]]
        ok = [d for d in inst.devices if free[d] >= b] or [max(inst.devices, key=lambda d: free[d])]
        d = min(ok, key=lambda d: (_grown(inst, load, pooled, d, est[i, inst.dev_index[d]], inst.pooled_B[i]),
                                   load[d] + est[i, inst.dev_index[d]], inst.dev_index[d]))
        load[d] += est[i, inst.dev_index[d]]
        pooled[d] += inst.pooled_B[i]
        free[d] -= b
        dev[i] = d
    pl = fill_tiers(inst, rep, dev, reserve=reserve, subset=keep)
    return Placement(pl.rep, pl.device, pl.ranges, replicated, {})


def _replicas(inst, rep, replicate, candidates=None):
    """(pool room left, per-device time of the copies, tables copied): replicable tables (``candidates``, in
    their order; default all, most lookups first), while every device's fastest tier holds one more copy."""
    reserve = dict(inst.pools)
    base = {d: 0.0 for d in inst.devices}
    replicated: set = set()
    if not replicate:
        return reserve, base, replicated
    N = len(inst.devices)
    fast = replica_slots(inst)
    items = {it.table: i for i, it in enumerate(inst.items)}
    order = sorted(inst.replicable, key=lambda t: (-inst.items[items[t]].accesses, t)) if candidates is None \
        else [t for t in candidates if t in items]
    for t in order:
        i = items[t]
        if rep[i] != 0:
            continue
        need: dict = {}
        for k in fast:
            need[inst.slots[k].pool_key] = need.get(inst.slots[k].pool_key, 0.0) + inst.items[i].bytes[0]
        if any(reserve[p] < b for p, b in need.items()):
            continue
        for p, b in need.items():
            reserve[p] -= b
        for k in fast:
            base[inst.slots[k].device] += inst.items[i].accesses / N * inst.time[i][0, k]
        replicated.add(t)
    return reserve, base, replicated


COPY_PREFIXES = 12     # assumption: a dozen prefix lengths find the knee of memory against the all-to-all


def copies_start(inst, copies: dict, score, deadline=None):
    """The comm-aware start copying a prefix of what a relaxation copies, the prefix that ``score``s lowest,
    or None.  Candidates: the tables with ``copies[t] >= 0.5`` (the aggregate LP's rho,
    :func:`.sharding_mip.lp_copies`), those saving the most pooled bytes per byte of copy first; prefixes of
    COPY_PREFIXES lengths, geometric from one to all, each placed by :func:`comm_lpt` and scored whole.

    Copying all of them fails where the LP packs the rest fractionally: on 856 tables x 64 GPUs the LP
    copies 752 tables (69.5 of 72 GB of every HBM), and the 10 GB tables left no longer fit any HBM whole
    (352 us a batch, against the LP's 45.5 us); the greedy start copying every table that fits did as
    badly (580 copies, 3.05 ms).  The scan finds how many copies the memory bears.  With a ``deadline``
    (perf_counter seconds) it tries no prefix that, as long as the last one took, would end past it."""
    items = {it.table: i for i, it in enumerate(inst.items)}

    def saving(t):
        i = items[t]
        return inst.pooled_B[i] / max(inst.items[i].bytes[0], 1.0)

    chosen = sorted((t for t, r in copies.items() if r >= 0.5 and t in items), key=lambda t: (-saving(t), t))
    best, took = None, 0.0
    for n in sorted({int(round(x)) for x in np.geomspace(1, len(chosen), COPY_PREFIXES)} if chosen else []):
        t0 = time.perf_counter()
        if deadline is not None and t0 + took > deadline:
            break
        try:
            pl = comm_lpt(inst, True, chosen[:n])
        except InputError:
            continue
        finally:
            took = time.perf_counter() - t0
        if pl is not None and (best is None or score(pl) < score(best)):
            best = pl
    return best


def _grown(inst, load, pooled, d, cost_s, pooled_B):
    """The objective estimate (makespan + all-to-all makespan) with one more item of ``cost_s`` on ``d``."""
    makespan = max(max(load.values()), load[d] + cost_s)
    if inst.comm is None:
        return makespan
    after = dict(pooled)
    after[d] += pooled_B
    return makespan + max(inst.comm.times(after).values())


def best_start(inst, start, score, deadline=None):
    """``start`` or a comm-aware start that scores lower: (name or None, Placement).  With a ``deadline``
    (perf_counter seconds) the winner then takes the copy / un-copy moves of :mod:`.replica_moves`."""
    best = (None, start)
    for name, pl in warm_starts(inst):
        if start is None or score(pl) < score(best[1]):
            best = (name, pl)
    if deadline is not None and best[1] is not None:
        moved = improve_replicas(inst, best[1], score, deadline)
        if moved is not best[1]:
            best = (f"{best[0] or 'best baseline'} + replica moves", moved)
    return best


__all__ = ["warm_starts", "comm_lpt", "copies_start", "best_start"]

