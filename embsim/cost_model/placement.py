"""A placement and its cost: items to (representation, device), rows to tiers, time per device.

A :class:`Placement` is the planner's working form of a plan: for every item
its representation index, device, and per slot of that device the hot-rank
range ``[lo, hi)`` it holds.  Every stage ends here, and every makespan the
planner reports (baselines and MIP alike) is computed by :func:`evaluate` from
the coverage curves, so they are comparable.

:func:`fill_tiers` decides the tier split of a given assignment greedily:
cut every dense item's coverage curve into its segments, and fill the
fastest tier of each device (each pool, when devices share one) with the
segments that save the most time per byte, then the next tier, and so on.
Within an item the segments keep their hot-first order because the curve is
concave.  With two tiers and private pools this is exact (a fractional
knapsack over segments); with more tiers it is a good heuristic, which the
MIP improves on.
"""
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .shard_output import copy_s, output_s


@dataclass
class Placement:
    rep: list                  # per item: representation index
    device: list               # per item: device name
    ranges: list = field(default_factory=list)   # per item: list of (slot index, lo, hi)
    replicated: set = field(default_factory=set)  # tables copied to every device's fastest tier (data parallel)
    columns: dict = field(default_factory=dict)   # column-wise tables: {table: [slot of shard c, ...]}, K = len

    def elsewhere(self, table):
        """True when ``table`` is not placed by its items (replicated or column-wise)."""
        return table in self.replicated or table in self.columns


def replica_slots(inst):
    """The slot a replicated table takes on each device: its fastest."""
    return [inst.dev_slots[d][0] for d in inst.devices]


def elsewhere_reserve(inst, rep, replicated, columns):
    """Bytes left per pool once the replicated tables' copies and the column shards are placed."""
    left = dict(inst.pools)
    for i, it in enumerate(inst.items):
        if it.table in replicated:
            for k in replica_slots(inst):
                left[inst.slots[k].pool_key] -= it.bytes[rep[i]]
        for k in columns.get(it.table, []):
            left[inst.slots[k].pool_key] -= it.bytes[0] / len(columns[it.table])
    return left


def fill_tiers(inst, rep, device, reserve=None, subset=None):
    """Greedy tier split for an assignment; returns Placement, or raises InputError when it does not fit.

    ``subset``: fill only these items (their devices' pools must not be shared with other items' devices,
    or ``reserve`` must leave them only what the others do not use); the other items get empty ranges.
    """
    left = dict(inst.pools) if reserve is None else dict(reserve)
    ranges: list = [[] for _ in inst.items]
    segs, whole = _segments(inst, rep, device, range(len(inst.items)) if subset is None else subset)
    _place_whole(inst, device, whole, left, ranges)
    pending = _fill_levels(inst, device, segs, left, ranges)
    if pending:
        over = sum(x[4] for x in pending)
        devs = sorted({device[x[1]] for x in pending})
        raise InputError(f"assignment does not fit: {over / 1e9:.3g} GB left over on {', '.join(devs)}")
    return Placement(list(rep), list(device), ranges)


def _segments(inst, rep, device, items):
    """The dense items' coverage segments as (key, item, lo, hi, bytes), the most time saved per byte (key)
    first; and the rest, placed whole (tensor-train cores), as (bytes, item)."""
    segs, whole = [], []
    for i in items:
        it = inst.items[i]
        r, d = rep[i], device[i]
        if it.reps[r].kind != "dense":
            whole.append((it.bytes[r], i))
            continue
        slots = inst.dev_slots[d]
        t = inst.time[i][r]
        gain = max(t[slots[-1]] - t[slots[0]], 1e-30)
        f = np.asarray(it.curve.f)
        for j, (w, s) in enumerate(it.curve.segments()):
            b = w * it.bytes[r]
            key = it.accesses * s * gain / b if b > 0 else np.inf
            segs.append((key, i, f[j], f[j + 1], b))
    segs.sort(key=lambda x: (-x[0], x[1], x[2]))
    return segs, whole


def _place_whole(inst, device, whole, left, ranges):
    """TT cores (whole, not splittable) take the fastest tier with room, largest first."""
    for b, i in sorted(whole, key=lambda x: -x[0]):
        for k in inst.dev_slots[device[i]]:
            p = inst.slots[k].pool_key
            if left[p] >= b - 1e-9:
                left[p] -= b
                ranges[i].append((k, 0.0, 1.0))
                break
        else:
            raise InputError(f"{inst.items[i].label}: tensor-train cores ({b:.3g} B) fit in no tier of {device[i]}")


def _fill_levels(inst, device, segs, left, ranges):
    """Fill tier rank 0 of every device with the segments in order, cutting the first that does not fit,
    then rank 1 with the rest, and so on; returns the segments nothing held."""
    pending = segs
    max_rank = max(len(v) for v in inst.dev_slots.values())
    for level in range(max_rank):
        nxt = []
        for key, i, lo, hi, b in pending:
            slots = inst.dev_slots[device[i]]
            if level >= len(slots):
                nxt.append((key, i, lo, hi, b))
                continue
            k = slots[level]
            p = inst.slots[k].pool_key
            room = left[p]
            last = level == len(slots) - 1
            if room >= b * (1 - 1e-12) or (last and room >= b - 1e-6 * max(b, 1.0)):
                left[p] = max(0.0, room - b)
                _add(ranges[i], k, lo, hi)
            elif room > 0 and b > 0:
                cut = lo + (hi - lo) * room / b
                left[p] = 0.0
                _add(ranges[i], k, lo, cut)
                nxt.append((key, i, cut, hi, b - room))
            else:
                nxt.append((key, i, lo, hi, b))
        pending = nxt
        if not pending:
            break
    return pending


def _add(rl, k, lo, hi):
    if hi - lo <= 0:
        return
    if rl and rl[-1][0] == k and abs(rl[-1][2] - lo) < 1e-15:
        rl[-1] = (k, rl[-1][1], hi)
    else:
        rl.append((k, lo, hi))


def item_shares(inst, i, rng):
    """Access share (of the item's lookups) of each (slot, lo, hi) range."""
    it = inst.items[i]
    return [float(it.curve(hi) - it.curve(lo)) for _, lo, hi in rng]


def evaluate(inst, pl):
    """Per-device time per batch (s), total energy per batch (J), makespan (s)."""
    t = {d: 0.0 for d in inst.devices}
    energy = 0.0
    N = len(inst.devices)
    for i, it in enumerate(inst.items):
        r = pl.rep[i]
        if it.table in pl.replicated:        # every device serves its 1/N of the samples from its copy
            for k in replica_slots(inst):
                t[inst.slots[k].device] += copy_s(inst, i, r, k)
                energy += it.accesses / N * inst.energy[i][r, k]
            continue
        if it.table in pl.columns:           # every column shard reads every lookup, dim/K wide
            K = len(pl.columns[it.table])
            for k in pl.columns[it.table]:
                t[inst.slots[k].device] += it.accesses * inst.col_time[it.table, K][k] + output_s(inst, i, inst.slots[k].device, 1.0 / K)
                energy += it.accesses * inst.col_energy[it.table, K][k]
            continue
        for (k, _lo, _hi), share in zip(pl.ranges[i], item_shares(inst, i, pl.ranges[i])):
            n = it.accesses * share
            t[inst.slots[k].device] += n * inst.time[i][r, k]
            energy += n * inst.energy[i][r, k]
        for d in ranges_devices(inst, pl.ranges[i]):     # the shard writes its pooled vectors (shard_output.py)
            t[d] += output_s(inst, i, d)
    return t, energy, max(t.values())


def ranges_devices(inst, rng):
    """The devices an item's (slot, lo, hi) ranges lie on (one for a placed item, none before it is)."""
    return list(dict.fromkeys(inst.slots[k].device for k, _lo, _hi in rng))


def comm_times(inst, pl):
    """Transfer-stage seconds per device: the all-to-all of pooled vectors (:mod:`.comm`); {} without one."""
    comm = getattr(inst, "comm", None)
    if comm is None:
        return {}
    pooled = {}
    for i, d in enumerate(pl.device):
        t = inst.items[i].table
        if t in pl.columns:                  # each column shard sends its dim/K of the pooled vector
            for k in pl.columns[t]:
                dk = inst.slots[k].device
                pooled[dk] = pooled.get(dk, 0.0) + inst.pooled_B[i] / len(pl.columns[t])
        elif t not in pl.replicated:         # a replica pools its own samples
            pooled[d] = pooled.get(d, 0.0) + inst.pooled_B[i]
    return comm.times(pooled)


def objective(inst, pl, energy_weight=0.0):
    """What the planner minimises: embedding makespan + all-to-all makespan + energy_weight x energy."""
    _, e, m = evaluate(inst, pl)
    c = comm_times(inst, pl)
    return m + (max(c.values()) if c else 0.0) + energy_weight * e


def used_bytes(inst, pl):
    """Bytes used per pool."""
    used = {p: 0.0 for p in inst.pools}
    for i, it in enumerate(inst.items):
        r = pl.rep[i]
        if it.table in pl.replicated:
            for k in replica_slots(inst):
                used[inst.slots[k].pool_key] += it.bytes[r]
            continue
        for k in pl.columns.get(it.table, []):      # a column shard: every row, 1/K of its bytes
            used[inst.slots[k].pool_key] += it.bytes[0] / len(pl.columns[it.table])
        for k, lo, hi in pl.ranges[i]:
            b = it.bytes[r] if it.reps[r].kind != "dense" else (hi - lo) * it.bytes[r]
            used[inst.slots[k].pool_key] += b
    return used

