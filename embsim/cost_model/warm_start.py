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
from .mip_cuts import copy_share_s
from .shard_output import copy_s
from .local_search import polish
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
    load = np.array([base[d] for d in inst.devices], dtype=np.float64)
    pooled = np.zeros(len(inst.devices))
    room = np.array([free[d] for d in inst.devices], dtype=np.float64)
    dev = [inst.devices[0]] * len(inst.items)
    for i in sorted(keep, key=lambda i: (-est[i].min(), i)):
        b = inst.items[i].bytes[rep[i]]
        ok = np.flatnonzero(room >= b)
        if ok.size == 0:
            ok = np.array([int(np.argmax(room))])
        k = _least_grown(inst, load, pooled, ok, est[i], inst.pooled_B[i])
        load[k] += est[i, k]
        pooled[k] += inst.pooled_B[i]
        room[k] -= b
        dev[i] = inst.devices[k]
    _level(inst, est, rep, keep, dev, load, pooled, room)
    pl = fill_tiers(inst, rep, dev, reserve=reserve, subset=keep)
    return Placement(pl.rep, pl.device, pl.ranges, replicated, {})


LEVEL_ROUNDS = 200     # assumption: each kept move or swap lowers the estimate; a few hundred level 64 GPUs
LEVEL_TARGETS = 4      # the least loaded devices an item of the busiest may go to (or swap with)
LEVEL_ITEMS = 8        # the busiest device's largest items tried, each against the target's smallest


def _level(inst, est, rep, keep, dev, load, pooled, room):
    """Move or swap items off the busiest device while the estimate (makespan + all-to-all) falls.

    The greedy places the big items first and, with the small tables copied, has few left to even the
    devices out with (856 tables x 64 GPUs: the copies' start scored 54.5 us without this pass, 53.4
    with it).  Moves and swaps keep every device's room; ``dev``, ``load``, ``pooled`` and ``room``
    (arrays by device index) change in place.  The work is bounded, LEVEL_ROUNDS rounds of LEVEL_TARGETS
    x LEVEL_ITEMS x (LEVEL_ITEMS + 1) scored candidates: unbounded, the pass reached 52.7 us there but
    took 13 s on SCRec's 5 devices (170 items each) and broke a 3 s solve's limit."""
    index = {d: n for n, d in enumerate(inst.devices)}
    on: dict = {n: [] for n in range(len(inst.devices))}
    for i in keep:
        on[index[dev[i]]].append(i)
    size = {i: inst.items[i].bytes[rep[i]] for i in keep}
    best = load.max() + _comm_max(inst, pooled)
    for _ in range(LEVEL_ROUNDS):
        hi, trial = int(np.argmax(load)), None
        for lo in (int(x) for x in np.argsort(load, kind="stable")[:LEVEL_TARGETS]):
            mine = sorted(on[hi], key=lambda a: (-est[a, hi], a))[:LEVEL_ITEMS] if lo != hi else []
            theirs = sorted(on[lo], key=lambda a: (est[a, lo], a))[:LEVEL_ITEMS]
            for i in mine:
                for j in [None] + theirs:       # a move, or a swap with j
                    dj = 0.0 if j is None else size[j]
                    if room[lo] + dj < size[i] or room[hi] + size[i] < dj:
                        continue
                    ld, pd = load.copy(), pooled.copy()
                    ld[hi] += (0.0 if j is None else est[j, hi]) - est[i, hi]
                    ld[lo] += est[i, lo] - (0.0 if j is None else est[j, lo])
                    moved = inst.pooled_B[i] - (0.0 if j is None else inst.pooled_B[j])
                    pd[hi] -= moved
                    pd[lo] += moved
                    f = ld.max() + _comm_max(inst, pd)
                    if f < best * (1 - 1e-9) and (trial is None or f < trial[0]):
                        trial = (f, i, j, hi, lo, ld, pd)
        if trial is None:
            return
        best, i, j, hi, lo, ld, pd = trial
        load[:], pooled[:] = ld, pd
        for a, src, dst in ((i, hi, lo), (j, lo, hi)) if j is not None else ((i, hi, lo),):
            on[src].remove(a)
            on[dst].append(a)
            room[src] += size[a]
            room[dst] -= size[a]
            dev[a] = inst.devices[dst]


def _comm_max(inst, pooled) -> float:
    """The all-to-all makespan (:mod:`.comm`) of the pooled bytes per device index."""
    return float(inst.comm.times_array(pooled).max()) if inst.comm is not None else 0.0


def _replicas(inst, rep, replicate, candidates=None):
    """(pool room left, per-device time of the copies, tables copied): replicable tables (``candidates``, in
    their order; default all, most lookups first), while every device's fastest tier holds one more copy."""
    reserve = dict(inst.pools)
    base = {d: 0.0 for d in inst.devices}
    replicated: set = set()
    if not replicate:
        return reserve, base, replicated
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
            base[inst.slots[k].device] += copy_s(inst, i, 0, k)
        replicated.add(t)
    return reserve, base, replicated


COPY_PREFIXES = 12     # assumption: a dozen prefix lengths find the knee of memory against the all-to-all
COPY_REFINES = 6       # then as many rounds halving the intervals beside the best (assumption: the knee is one)
PREFIX_POLISH_S = 2.0  # without a deadline, the polish of one prefix's plan stops after this (assumption: 0.1-0.4 s
                       # measured on 856 tables x 64 GPUs, where it stops at a local minimum)


def copies_start(inst, copies: dict, score, deadline=None):
    """The comm-aware start copying a prefix of what a relaxation copies, the prefix that ``score``s lowest,
    or None.  Candidates: the tables with ``copies[t] >= 0.5`` (the aggregate LP's rho,
    :func:`.decomposed.lp_copies`), those saving the most pooled bytes per second they add to every device
    first (a copy's cost is its share of the lookups on the busiest device too; ordered by pooled bytes per
    byte of copy instead, 856 tables x 64 GPUs scored 58.7 us against 53.7); prefixes of
    COPY_PREFIXES lengths, geometric from one to all, then up to COPY_REFINES rounds halving the intervals
    beside the best, each placed by :func:`comm_lpt`, polished (:mod:`.local_search`: exact moves and
    swaps that level the lookups without raising the all-to-all) and scored whole.

    The objective is a staircase in the number of copies: on 856 tables x 64 GPUs every table sends the
    same 256 KB, about 1 us on the busiest sender, so the all-to-all drops a step each time the tables
    left fit one fewer per device; between steps the copies only add lookups.  comm_lpt alone misses the
    low steps: it prices rows at fixed tier shares, and copying the 711 tables the LP copies scored
    119.2 us (the large tables' cold rows fell to host DDR), 51.9 us polished; 678 copies scored 53.9 us
    and 51.6 us.  The greedy start copying every table that fits did badly (580 copies, 3.05 ms).  With a ``deadline``
    (perf_counter seconds) it tries no prefix that, as long as the last one took, would end past it."""
    items = {it.table: i for i, it in enumerate(inst.items)}

    def saving(t):       # pooled bytes the copy keeps off the links per second it adds to every device
        return inst.pooled_B[items[t]] / max(copy_share_s(inst, items[t]), 1e-18)

    chosen = sorted((t for t, r in copies.items() if r >= 0.5 and t in items), key=lambda t: (-saving(t), t))
    if not chosen:
        return None
    return _PrefixScan(inst, chosen, score, deadline).run()


class _PrefixScan:
    """:func:`copies_start`'s scan over how many of ``chosen`` to copy; ``run`` returns the best placement."""

    def __init__(self, inst, chosen, score, deadline):
        self.inst, self.chosen, self.score, self.deadline = inst, chosen, score, deadline
        self.tried: dict = {}          # prefix length -> (score, placement)
        self.took = 0.0                # seconds the last attempt took
        self.lengths = sorted({int(round(x)) for x in np.geomspace(1, len(chosen), COPY_PREFIXES)})
        self.planned = len(self.lengths) + 2 * COPY_REFINES

    def polish_until(self, t0):
        """Each prefix's polish gets an equal share of what is left for the attempts still planned."""
        if self.deadline is None:
            return t0 + PREFIX_POLISH_S
        return t0 + max(0.0, self.deadline - t0) / max(1, self.planned - len(self.tried))

    def attempt(self, n) -> bool:
        """Place, polish and score the prefix of length n; False if tried already or past the deadline."""
        t0 = time.perf_counter()
        if n in self.tried or (self.deadline is not None and t0 + self.took > self.deadline):
            return False
        try:
            pl = comm_lpt(self.inst, True, self.chosen[:n])
        except InputError:
            pl = None
        value = float("inf")
        if pl is not None:
            polished = polish(self.inst, pl, self.polish_until(t0))[0]
            value, polished_value = self.score(pl), self.score(polished)      # each placement scored once
            if polished_value <= value:
                pl, value = polished, polished_value
        self.took = time.perf_counter() - t0
        self.tried[n] = (value, pl)
        return True

    def run(self):
        for n in self.lengths:
            self.attempt(n)
        for _ in range(COPY_REFINES):    # then halve the intervals beside the best prefix
            if not self.tried:
                break
            lengths = sorted(self.tried)
            k = min(range(len(lengths)), key=lambda j: (self.tried[lengths[j]][0], lengths[j]))
            mids = [(lengths[k] + lengths[j]) // 2 for j in (k - 1, k + 1) if 0 <= j < len(lengths)]
            if not any([self.attempt(m) for m in mids if m not in self.tried]):
                break
        return min(self.tried.values(), key=lambda v: v[0], default=(float("inf"), None))[1]


def _least_grown(inst, load, pooled, ok, cost_s, pooled_B):
    """Index among ``ok`` (device indices) of the device where one more item (``cost_s`` per device, sending
    ``pooled_B``) grows the objective estimate least (makespan + all-to-all makespan, :mod:`.comm`); ties to
    the lower load after it, then the lower index.  Vectorised over the devices: the all-to-all of every other
    device is the largest (or, on the largest itself, the second largest) of the times without the item."""
    after = load[ok] + cost_s[ok]
    grown = np.maximum(load.max(), after)
    comm = inst.comm
    if comm is not None:
        total = float(pooled.sum()) + pooled_B
        if total > 0:
            lat, send, recv = comm.arrays()
            others = lat + np.maximum(send * pooled, recv * (total - pooled))
            top = np.argsort(-others, kind="stable")[:2]
            rest = np.where(ok == top[0], others[top[1]] if top.size > 1 else 0.0, others[top[0]])
            own = lat[ok] + np.maximum(send[ok] * (pooled[ok] + pooled_B), recv[ok] * (total - pooled[ok] - pooled_B))
            grown = grown + np.maximum(own, rest)
    return int(ok[np.lexsort((ok, after, grown))[0]])


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

