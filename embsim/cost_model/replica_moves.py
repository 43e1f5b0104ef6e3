"""Copy / un-copy moves: improve a start's choice of which tables are replicated, each move scored exactly.

The comm-aware start (:mod:`.warm_start`) copies every replicable table that
fits.  A copy costs no all-to-all but spreads its lookups over every device,
the slowest included; placing it whole on a light device instead can lower
the makespan at no all-to-all cost while that device sends no more than the
busiest already does.  On DCNv2 x 8 A100 that one move (its largest copied
table onto the one device that holds a single part) is the optimum the MIP
proves (18.465 us against the start's 19.0 us); the solvers did not find it
in 5 s from the start.

Each round tries every *un-copy* move (a copied table, among the
``TABLES_TRIED`` with the most lookup time, placed whole on one of the
``DEVICES_TRIED`` least loaded devices) and every *copy* move (a replicable
table placed whole, copied), refills the tiers with the greedy fill and
keeps the move that lowers the objective most; it stops when none helps or
at the deadline.
"""
from __future__ import annotations

import time

from ..errors import InputError
from .placement import Placement, elsewhere_reserve, evaluate, fill_tiers

TABLES_TRIED = 24     # assumption: the heaviest copies are the ones whose move changes the makespan
DEVICES_TRIED = 4     # the least loaded (time, then pooled bytes) devices a table may move to
MAX_ROUNDS = 8        # assumption: each kept un-copy adds one sender; a few rounds reach the all-to-all's next step


def refilled(inst, pl, replicated, device):
    """``pl`` with these copies and devices, tiers refilled (None when it does not fit)."""
    reserve = elsewhere_reserve(inst, pl.rep, replicated, pl.columns)
    keep = [i for i, it in enumerate(inst.items) if it.table not in replicated and it.table not in pl.columns]
    try:
        out = fill_tiers(inst, pl.rep, device, reserve=reserve, subset=keep)
    except InputError:
        return None
    return Placement(out.rep, out.device, out.ranges, set(replicated), dict(pl.columns))


def _light_devices(inst, pl):
    dev_t = evaluate(inst, pl)[0]
    sent = {d: 0.0 for d in inst.devices}
    for i, it in enumerate(inst.items):
        if not pl.elsewhere(it.table):
            sent[pl.device[i]] += inst.pooled_B[i]
    return sorted(inst.devices, key=lambda d: (dev_t[d], sent[d], inst.dev_index[d]))[:DEVICES_TRIED]


def _moves(inst, pl):
    """Every candidate (replicated set, devices) of one round."""
    item_of = {}
    for i, it in enumerate(inst.items):
        item_of.setdefault(it.table, i)
    copied = sorted(pl.replicated, key=lambda t: (-inst.items[item_of[t]].accesses *
                                                  float(inst.time[item_of[t]][0].min()), t))[:TABLES_TRIED]
    light = _light_devices(inst, pl)
    for t in copied:
        for d in light:
            dev = list(pl.device)
            dev[item_of[t]] = d
            yield pl.replicated - {t}, dev
    for t in getattr(inst, "replicable", []):
        if t not in pl.replicated and t not in pl.columns:
            yield pl.replicated | {t}, list(pl.device)


def improve_replicas(inst, pl, score, deadline: float):
    """``pl`` after the copy / un-copy moves of the module doc (the same placement if none helps)."""
    if not getattr(inst, "replicable", []) or getattr(inst, "comm", None) is None:
        return pl
    best, best_s = pl, score(pl)
    for _ in range(MAX_ROUNDS):
        found = None
        for replicated, dev in _moves(inst, best):
            if time.perf_counter() > deadline:
                return best
            q = refilled(inst, best, replicated, dev)
            if q is not None and score(q) < best_s * (1 - 1e-9) and (found is None or score(q) < found[0]):
                found = (score(q), q)
        if found is None:
            break
        best_s, best = found
    return best


__all__ = ["improve_replicas", "refilled"]
