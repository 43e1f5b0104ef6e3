"""Polish a placement by moving items off the slowest device, each move scored exactly.

After the decomposed MIP's refill, device times differ a little from what
the assignment MIP predicted (it priced items at fixed tier shares).  This
pass takes the slowest device and tries to move one of its items to another
device, re-splitting the two devices' tiers with the greedy fill and keeping
the move that lowers the larger of the two times the most.  Every other
device's rows stay where they are: where a pool is shared (host DDR behind
every GPU's UVM port), the two devices' refill gets the bytes of it that the
others leave free, so a move is exact on shared pools too.  A move may not
raise the all-to-all makespan (:mod:`.comm`): on 64 GPUs one more table's
pooled vectors on the busiest sender costs about 1 us, a fifth of its
lookups' makespan.  It stops when no move helps or at the deadline.

*Levelling* (``level=True``, the last pass of a solve): the makespan
objective leaves every device but the slowest free, and a solver returns
whichever of its equal plans it met first; on DCNv2 x 8 A100 the optimal plan's
devices ranged 9.4-14.0 us under the 14.4 us makespan.  Once the slowest
device can gain nothing, the pass goes on with the next slowest, and so on
(the plan's sorted device times fall lexicographically; its objective does
not rise), so the devices below the bottleneck sit as low as moves can put
them: a plan whose costs are off on one device then degrades least.

In the deterministic mode (``EMBSIM_DETERMINISTIC=1``) the pass also stops
after ``DETERMINISTIC_MAX_MOVES`` moves, so the same instance gets the same
plan however busy the machine is; the deadline stays as a safety net (as for
CBC's node limit, solvers.py), and a pass it stops may differ between runs.
"""
from __future__ import annotations

from dataclasses import dataclass
import time

import numpy as np

from ..errors import InputError
from .placement import Placement, elsewhere_reserve, evaluate, fill_tiers, ranges_devices
from .shard_output import output_s
from .solvers import deterministic_mode

CANDIDATES = 12      # items tried per target device and round
DETERMINISTIC_MAX_MOVES = 64   # assumption: a pass levels a plan in a few dozen moves (10 on the 4 TB SCRec plan,
                               # 10-112 per copies prefix on 856 tables x 64 GPUs, where 64 still gave a 1.7% gap)


def _time_of(inst, pl, items):
    t = 0.0
    for i in items:
        it, r = inst.items[i], pl.rep[i]
        for k, lo, hi in pl.ranges[i]:
            t += it.accesses * float(it.curve(hi) - it.curve(lo)) * inst.time[i][r, k]
        t += sum(output_s(inst, i, d) for d in ranges_devices(inst, pl.ranges[i]))
    return t


def _pool_use(inst, pl, items) -> dict:
    """Bytes per pool that ``items``' ranges in ``pl`` take."""
    use: dict = {}
    for i in items:
        it, r = inst.items[i], pl.rep[i]
        for k, lo, hi in pl.ranges[i]:
            b = it.bytes[r] if it.reps[r].kind != "dense" else (hi - lo) * it.bytes[r]
            p = inst.slots[k].pool_key
            use[p] = use.get(p, 0.0) + b
    return use


def polish(inst, pl, deadline, est=None, level=False):
    """Return an improved Placement (or ``pl``) and the number of moves made.  ``level``: once the slowest
    device can gain nothing, go on with the next slowest, and so on (module doc, *levelling*)."""
    if len(inst.devices) < 2:
        return pl, 0
    if deterministic_mode():
        return _polish(inst, pl, lambda moves, need_s=0.0: moves < DETERMINISTIC_MAX_MOVES
                       and time.perf_counter() + need_s < deadline, level)
    return _polish(inst, pl, lambda moves, need_s=0.0: time.perf_counter() + need_s < deadline, level)


@dataclass
class _Work:
    """The pass's bookkeeping: per device its movable items, lookup time and pool bytes; per device index
    its pooled bytes (what it sends in the all-to-all); the pool bytes nobody uses."""
    pl: Placement
    base: dict
    on: dict
    times: dict
    use: dict
    free: dict
    pooled: np.ndarray

    def comm_max(self, inst, pooled=None) -> float:
        comm = getattr(inst, "comm", None)
        if comm is None:
            return 0.0
        return float(comm.times_array(self.pooled if pooled is None else pooled).max())

    def reserve_for(self, d_a, d_b) -> dict:
        """The bytes per pool the items of devices ``d_a`` and ``d_b`` may fill, the others' rows held fixed."""
        left = dict(self.free)
        for d in (d_a, d_b):
            for p, b in self.use[d].items():
                left[p] += b
        return left


def _start(inst, pl) -> _Work:
    pl = Placement(list(pl.rep), list(pl.device), [list(r) for r in pl.ranges], set(pl.replicated), dict(pl.columns))
    movable = [i for i, it in enumerate(inst.items) if not pl.elsewhere(it.table)]
    base = evaluate(inst, Placement(pl.rep, pl.device, [[] for _ in inst.items], pl.replicated, pl.columns))[0]
    free = elsewhere_reserve(inst, pl.rep, pl.replicated, pl.columns)
    on = {d: [i for i in movable if pl.device[i] == d] for d in inst.devices}
    use = {d: _pool_use(inst, pl, on[d]) for d in inst.devices}
    for u in use.values():
        for p, b in u.items():
            free[p] -= b
    index = {d: n for n, d in enumerate(inst.devices)}
    pooled = np.zeros(len(inst.devices))
    for i in movable:
        pooled[index[pl.device[i]]] += inst.pooled_B[i]
    times = {d: base[d] + _time_of(inst, pl, on[d]) for d in inst.devices}
    return _Work(pl, base, on, times, use, free, pooled)


def _polish(inst, pl, go_on, level=False):
    """Moves of the items placed whole or row-wise; replicated tables and column shards stay where they are
    (their time is each device's base, their bytes are reserved).  ``go_on(moves, need_s)``: whether to
    go on with ``need_s`` seconds of work ahead; a candidate is not begun unless one as long as the last
    one tried (one tier fill of two devices, measured) still ends by the deadline.  A move lowers the
    device it leaves and keeps the one it joins below where that device was, so the devices' times, sorted
    slowest first, fall lexicographically with every move: the pass ends."""
    w = _start(inst, pl)
    index = {d: n for n, d in enumerate(inst.devices)}
    moves, cand_s = 0, [0.0]
    while go_on(moves):
        best = None
        by_time = sorted(w.times, key=lambda d: (-w.times[d], d))
        for d_from in by_time if level else by_time[:1]:
            for d_to in reversed(by_time):         # the least loaded first; the first that improves is taken
                if w.times[d_to] >= w.times[d_from] or not go_on(moves):
                    break
                best = _best_move(inst, w, d_from, d_to, index, lambda m=moves: go_on(m, cand_s[0]), cand_s)
                if best is not None:
                    break
            if best is not None:
                break
        if best is None:
            break
        _apply(inst, w, d_from, best, index)
        moves += 1
    return w.pl, moves


def _candidates(inst, w, d_from, d_to):
    """Moves of ``d_from``'s items to ``d_to`` (an item and None) and swaps with one of ``d_to``'s (an item
    each), whose own times would shift about half the two devices' difference; CANDIDATES of each, the
    closest to half first.  Swaps matter where the all-to-all blocks moves: on 64 GPUs with 190 tables
    sent, every device sends three, and a fourth on any of them raises the all-to-all makespan."""
    room = w.times[d_from] - w.times[d_to]
    own = {i: _time_of(inst, w.pl, [i]) for i in w.on[d_from] + w.on[d_to]}
    moves = sorted(((i, None) for i in w.on[d_from] if 0 < own[i] < room), key=lambda m: (abs(own[m[0]] - room / 2), m[0]))
    swaps = sorted(((i, j) for i in w.on[d_from] for j in w.on[d_to] if 0 < own[i] - own[j] < room),
                   key=lambda m: (abs(own[m[0]] - own[m[1]] - room / 2), m))
    return moves[:CANDIDATES] + swaps[:CANDIDATES]


def _best_move(inst, w, d_from, d_to, index, may_try, cand_s):
    """The best move or swap between ``d_from`` and ``d_to``: (score, i, j, d_to, fill, a, b, ta, tb) or None."""
    comm_now = w.comm_max(inst)
    reserve = w.reserve_for(d_from, d_to)
    best = None
    for i, j in _candidates(inst, w, d_from, d_to):
        pooled = w.pooled.copy()
        shift = inst.pooled_B[i] - (inst.pooled_B[j] if j is not None else 0.0)
        pooled[index[d_from]] -= shift
        pooled[index[d_to]] += shift
        comm_after = w.comm_max(inst, pooled)
        if comm_after > comm_now * (1 + 1e-12) or not may_try():
            continue
        t_cand = time.perf_counter()
        dev = list(w.pl.device)
        dev[i] = d_to
        a = [k for k in w.on[d_from] if k != i] + ([j] if j is not None else [])
        b = [k for k in w.on[d_to] if k != j] + [i]
        if j is not None:
            dev[j] = d_from
        try:
            fill = fill_tiers(inst, w.pl.rep, dev, reserve=reserve, subset=a + b)
        except InputError:
            continue
        finally:
            cand_s[0] = time.perf_counter() - t_cand
        ta, tb = w.base[d_from] + _time_of(inst, fill, a), w.base[d_to] + _time_of(inst, fill, b)
        score = max(ta, tb) + comm_after - comm_now
        if max(ta, tb) < w.times[d_from] * (1 - 1e-9) and (best is None or score < best[0]):
            best = (score, i, j, d_to, fill, a, b, ta, tb, shift)
    return best


def _apply(inst, w, d_from, best, index):
    _, i, j, d_to, fill, a, b, ta, tb, shift = best
    w.pl.device[i] = d_to
    if j is not None:
        w.pl.device[j] = d_from
    for k in a + b:
        w.pl.ranges[k] = fill.ranges[k]
    w.pooled[index[d_from]] -= shift
    w.pooled[index[d_to]] += shift
    for d, items in ((d_from, a), (d_to, b)):
        for p, bytes_ in w.use[d].items():
            w.free[p] += bytes_
        w.use[d] = _pool_use(inst, fill, items)
        for p, bytes_ in w.use[d].items():
            w.free[p] -= bytes_
    w.on[d_from], w.on[d_to] = a, b
    w.times[d_from], w.times[d_to] = ta, tb
