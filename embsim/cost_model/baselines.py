"""Baseline planners, run on every instance so the MIP is always shown beside what people use.

All three place each item (table or row-wise part) whole on one device, in
its baseline representation, and then split every device's items across its
tiers with the same greedy hot-rows-first fill (:func:`placement.fill_tiers`),
so a baseline differs from the MIP only in what it decides, not in how it is
scored.

- ``round_robin``: item ``i`` to device ``i mod D``, in model order.
- ``size_greedy``: largest item first, to the device with the most free
  memory that has room (the shape of TorchRec's default greedy partitioner,
  which balances memory).
- ``lpt``: cost-greedy longest-processing-time: items in order of their
  estimated lookup time (priced at the tier shares of the aggregate fill,
  all devices' tiers pooled), each to the device where it finishes
  earliest, its hottest rows taking the room still left in that device's
  tiers, fastest first.

Baseline representation: each table's own dtype; if the model does not fit
in the system at its own dtype, the smallest candidate instead.
"""
import numpy as np

from ..errors import InputError
from .placement import fill_tiers
from .shard_output import output_s


def baseline_reps(inst):
    own = [0] * len(inst.items)
    need = sum(it.bytes[0] for it in inst.items)
    if need <= sum(inst.pools.values()):
        return own
    return [int(np.argmin(it.bytes)) for it in inst.items]


def _capacity(inst):
    return {d: inst._device_capacity(d) for d in inst.devices}


def aggregate_cost(inst, rep):
    """Estimated seconds per batch of each item on each device (array [items, devices]).

    Tier shares come from pooling every device's tiers by rank (one big
    device) and filling them hottest-rows-first across all items.
    """
    ranks = sorted({s.rank for s in inst.slots})
    cap = {r: sum(inst.pools[p] for p in {s.pool_key for s in inst.slots if s.rank == r}) for r in ranks}
    segs = []
    share = np.zeros((len(inst.items), len(ranks)))
    for i, it in enumerate(inst.items):
        b_all = it.bytes[rep[i]]
        if it.reps[rep[i]].kind != "dense":
            segs.append((np.inf, i, 1.0, b_all))
            continue
        for w, s in it.curve.segments():
            b = w * b_all
            segs.append((it.accesses * s / b if b > 0 else np.inf, i, s, b))
    segs.sort(key=lambda x: (-x[0], x[1]))
    level, room = 0, cap[ranks[0]]
    for _, i, s, b in segs:
        while b > 0:
            if level == len(ranks) - 1 or room >= b:
                share[i, level] += s
                room -= b
                b = 0
            else:
                frac = room / b if b > 0 else 0
                share[i, level] += s * frac
                s, b = s * (1 - frac), b - room
                level += 1
                room = cap[ranks[level]]
    est = np.zeros((len(inst.items), len(inst.devices)))
    for i, it in enumerate(inst.items):
        for di, d in enumerate(inst.devices):
            slots = inst.dev_slots[d]
            t = 0.0
            for li in range(len(ranks)):
                k = slots[min(li, len(slots) - 1)]
                t += share[i, li] * inst.time[i][rep[i], k]
            est[i, di] = it.accesses * t + output_s(inst, i, d)      # and its output write (shard_output.py)
    return est


def round_robin(inst):
    rep = baseline_reps(inst)
    dev = [inst.devices[i % len(inst.devices)] for i in range(len(inst.items))]
    return fill_tiers(inst, rep, dev)


def size_greedy(inst):
    rep = baseline_reps(inst)
    free = _capacity(inst)
    dev = [None] * len(inst.items)
    for i in sorted(range(len(inst.items)), key=lambda i: (-inst.items[i].bytes[rep[i]], i)):
        b = inst.items[i].bytes[rep[i]]
        d = max(inst.devices, key=lambda d: (free[d], -inst.dev_index[d]))
        if free[d] < b:
            raise InputError(f"size-greedy: {inst.items[i].label} ({b / 1e9:.3g} GB) fits on no device")
        free[d] -= b
        dev[i] = d
    return fill_tiers(inst, rep, dev)


def lpt(inst, est=None):
    rep = baseline_reps(inst)
    est = aggregate_cost(inst, rep) if est is None else est
    free = _capacity(inst)
    left = dict(inst.pools)                 # tier room left, per pool
    load = {d: 0.0 for d in inst.devices}
    dev = [None] * len(inst.items)
    for i in sorted(range(len(inst.items)), key=lambda i: (-est[i].min(), i)):
        it = inst.items[i]
        b = it.bytes[rep[i]]
        ok = [d for d in inst.devices if free[d] >= b] or [max(inst.devices, key=lambda d: free[d])]
        cost = {d: _cost_on(inst, i, rep[i], d, left) for d in ok}
        d = min(ok, key=lambda d: (load[d] + cost[d][0], inst.dev_index[d]))
        for p, used in cost[d][1].items():
            left[p] -= used
        free[d] -= b
        load[d] += cost[d][0]
        dev[i] = d
    return fill_tiers(inst, rep, dev)


def _cost_on(inst, i, r, d, left):
    """Time of item i on device d if its hottest rows take the room left in d's tiers, fastest first;
    returns (seconds per batch, bytes used per pool)."""
    it = inst.items[i]
    b_all = it.bytes[r]
    used, t = {}, 0.0
    slots = inst.dev_slots[d]
    if it.reps[r].kind != "dense":
        for k in slots:
            p = inst.slots[k].pool_key
            if left[p] >= b_all or k == slots[-1]:
                return it.accesses * inst.time[i][r, k] + output_s(inst, i, d), {p: b_all}
    lo, _room = 0.0, None
    for n, k in enumerate(slots):
        p = inst.slots[k].pool_key
        avail = max(0.0, left[p]) if n < len(slots) - 1 else float("inf")
        hi = 1.0 if b_all <= 0 else min(1.0, lo + avail / b_all)
        if hi > lo:
            t += it.accesses * float(it.curve(hi) - it.curve(lo)) * inst.time[i][r, k]
            used[p] = used.get(p, 0.0) + (hi - lo) * b_all
        lo = hi
        if lo >= 1.0:
            break
    return t + output_s(inst, i, d), used


BASELINES = {"round_robin": round_robin, "size_greedy": size_greedy, "lpt": lpt}
