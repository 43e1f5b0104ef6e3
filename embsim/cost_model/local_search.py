"""Polish a placement by moving items off the slowest device, each move scored exactly.

After the decomposed MIP's refill, device times differ a little from what
the assignment MIP predicted (it priced items at fixed tier shares).  This
pass takes the slowest device and tries to move one of its items to another
device, re-splitting both devices' tiers with the greedy fill and keeping the
move that lowers the larger of the two times the most.  It stops when no move
helps or at the deadline.  Only for systems whose pools are private to one
device (a shared pool couples every device's fill).

In the deterministic mode (``EMBSIM_DETERMINISTIC=1``) the pass also stops
after ``DETERMINISTIC_MAX_MOVES`` moves, so the same instance gets the same
plan however busy the machine is; the deadline stays as a safety net (as for
CBC's node limit, solvers.py), and a pass it stops may differ between runs.
"""
import time

from ..errors import InputError
from .placement import Placement, elsewhere_reserve, evaluate, fill_tiers, ranges_devices
from .shard_output import output_s
from .solvers import deterministic_mode

CANDIDATES = 12      # items tried per target device and round
DETERMINISTIC_MAX_MOVES = 64   # assumption: a pass levels a plan in a few moves (10 on the 4 TB SCRec plan)


def private_pools(inst):
    return not inst.has_shared_pool()


def _time_of(inst, pl, items):
    t = 0.0
    for i in items:
        it, r = inst.items[i], pl.rep[i]
        for k, lo, hi in pl.ranges[i]:
            t += it.accesses * float(it.curve(hi) - it.curve(lo)) * inst.time[i][r, k]
        t += sum(output_s(inst, i, d) for d in ranges_devices(inst, pl.ranges[i]))
    return t


def polish(inst, pl, deadline, est=None):
    """Return an improved Placement (or ``pl``) and the number of moves made."""
    if not private_pools(inst) or len(inst.devices) < 2:
        return pl, 0
    if deterministic_mode():
        return _polish(inst, pl, lambda moves, need_s=0.0: moves < DETERMINISTIC_MAX_MOVES
                       and time.perf_counter() + need_s < deadline)
    return _polish(inst, pl, lambda moves, need_s=0.0: time.perf_counter() + need_s < deadline)


def _polish(inst, pl, go_on):
    """Moves of the items placed whole or row-wise; replicated tables and column shards stay where they are
    (their time is each device's base, their bytes are reserved).  ``go_on(moves, need_s)``: whether to
    go on with ``need_s`` seconds of work ahead; a candidate is not begun unless one as long as the last
    one tried (two tier fills, measured) still ends by the deadline."""
    pl = Placement(list(pl.rep), list(pl.device), [list(r) for r in pl.ranges], set(pl.replicated), dict(pl.columns))
    movable = [i for i, it in enumerate(inst.items) if not pl.elsewhere(it.table)]
    base = evaluate(inst, Placement(pl.rep, pl.device, [[] for _ in inst.items], pl.replicated, pl.columns))[0]
    reserve = elsewhere_reserve(inst, pl.rep, pl.replicated, pl.columns)
    on = {d: [i for i in movable if pl.device[i] == d] for d in inst.devices}
    times = {d: base[d] + _time_of(inst, pl, on[d]) for d in inst.devices}
    moves, cand_s = 0, 0.0
    while go_on(moves):
        d_max = max(times, key=times.get)
        best = None
        for d_to in sorted(times, key=times.get):
            if d_to == d_max or not go_on(moves):
                continue
            room = times[d_max] - times[d_to]
            own = {i: _time_of(inst, pl, [i]) for i in on[d_max]}
            cand = sorted((i for i in on[d_max] if 0 < own[i] < room), key=lambda i: abs(own[i] - room / 2))
            for i in cand[:CANDIDATES]:
                if not go_on(moves, cand_s):
                    break
                t_cand = time.perf_counter()
                dev = list(pl.device)
                dev[i] = d_to
                a = [j for j in on[d_max] if j != i]
                b = on[d_to] + [i]
                try:
                    fa = fill_tiers(inst, pl.rep, dev, reserve=reserve, subset=a)
                    fb = fill_tiers(inst, pl.rep, dev, reserve=reserve, subset=b)
                except InputError:
                    continue
                finally:
                    cand_s = time.perf_counter() - t_cand
                ta, tb = base[d_max] + _time_of(inst, fa, a), base[d_to] + _time_of(inst, fb, b)
                if max(ta, tb) < times[d_max] * (1 - 1e-9) and (best is None or max(ta, tb) < best[0]):
                    best = (max(ta, tb), i, d_to, fa, fb, a, b, ta, tb)
            if best is not None:
                break            # take the first target device that improves (the least loaded first)
        if best is None:
            break
        _, i, d_to, fa, fb, a, b, ta, tb = best
        pl.device[i] = d_to
        for j in a:
            pl.ranges[j] = fa.ranges[j]
        for j in b:
            pl.ranges[j] = fb.ranges[j]
        on[d_max], on[d_to] = a, b
        times[d_max], times[d_to] = ta, tb
        moves += 1
    return pl, moves
