"""Pure-Python reference of the cache replay: small, slow and obviously correct.

It computes the same counters as :func:`embsim.sim.replay.replay` with plain
dicts, sets and ``OrderedDict``s, one lookup at a time, and is the executable
specification the Cython kernel is tested against.  Use it only on small
traces (about a million lookups a second at best).

Semantics, in the order the code applies them to each lookup of row ``g`` at
its location:

1. Probe the caches top first; the first that holds ``g`` serves it (hit);
   each level above counts a miss.  If none holds it the backing tier serves
   it.  A hit refreshes LRU recency / adds 1 to the LFU count of that level.
2. Fill bottom up: insert ``g`` into every missed ``lru``/``lfu`` level from
   the lowest up; a full level first evicts its victim, and the victim is
   also removed from every level above (inclusion by back-invalidation).
3. LFU victim: fewest accesses since fill (the fill counts 1), ties to the
   least recent access.  Counts are forgotten on eviction.
"""
import bisect
from collections import OrderedDict

import numpy as np

from .coalesce import reference_units
from .replay import COUNTERS, Location, ReplayCounters, rounded_access_bytes


class _Level:
    def __init__(self, policy, capacity, pinned=()):
        self.policy, self.capacity = policy, capacity
        self.lru = OrderedDict()     # row -> None, least recent first
        self.freq, self.last = {}, {}  # LFU: row -> count, row -> time of last access
        self.pinned = set(int(x) for x in pinned)

    def probe(self, g, now):
        if self.policy == "static":
            return g in self.pinned
        if self.policy == "lru" and g in self.lru:
            self.lru.move_to_end(g)
            return True
        if self.policy == "lfu" and g in self.freq:
            self.freq[g] += 1
            self.last[g] = now
            return True
        return False

    def fill(self, g, now):
        """Insert g; return the evicted row or None."""
        if self.policy not in ("lru", "lfu") or self.capacity == 0:
            return None
        victim = None
        if self.policy == "lru":
            if len(self.lru) == self.capacity:
                victim, _ = self.lru.popitem(last=False)
            self.lru[g] = None
        else:
            if len(self.freq) == self.capacity:
                victim = min(self.freq, key=lambda r: (self.freq[r], self.last[r]))
                self.remove(victim)
            self.freq[g], self.last[g] = 1, now
        return victim

    def remove(self, g):
        self.lru.pop(g, None)
        self.freq.pop(g, None)
        self.last.pop(g, None)


def _cache_levels(locations, row_location):
    """One :class:`_Level` per cache of each location; static pins kept only for rows living there."""
    levels = [[_Level(c.policy, c.capacity_rows if c.policy != "none" else 0,
                      () if c.pinned is None else c.pinned) for c in loc.caches] for loc in locations]
    if row_location is not None:
        for li, lv in enumerate(levels):
            for L in lv:
                L.pinned = {g for g in L.pinned if row_location[g] == li}
    return levels


def reference_replay(global_ids, batch_bounds, row_bytes, row_offsets, locations, row_location=None,
                     total_rows=None, table_names=None, row_address_B=None, row_length_B=None):
    """Same arguments and result as :func:`embsim.sim.replay.replay`, computed lookup by lookup.

    With addresses, ``units`` are counted by :func:`embsim.sim.coalesce.reference_units`
    over the lookups this replay sent to the backing tier.
    """
    gids = [int(x) for x in np.asarray(global_ids)]
    bounds = [int(x) for x in np.asarray(batch_bounds)]
    offs = [int(x) for x in np.asarray(row_offsets)]
    rb = np.asarray(row_bytes, dtype=np.float64)
    n_loc, B, T = len(locations), len(bounds) - 1, len(offs)
    M = max(len(loc.caches) for loc in locations) + 1
    levels = _cache_levels(locations, row_location)
    cost = rounded_access_bytes(rb, locations, M)

    c = {k: np.zeros((B, n_loc, M), dtype=np.int64) for k in COUNTERS}
    tc = {k: np.zeros((T, n_loc, M), dtype=np.int64) for k in ("lookups", "hits", "misses")}
    now = 0
    reach = []
    for b in range(B):
        seen = {}  # (loc, level) -> rows that reached it in this batch
        for i in range(bounds[b], bounds[b + 1]):
            g = gids[i]
            now += 1
            loc = 0 if row_location is None else int(row_location[g])
            t = bisect.bisect_right(offs, g) - 1  # table of g
            lv = levels[loc]
            served = len(lv)
            for d in range(len(lv) + 1):
                c["lookups"][b, loc, d] += 1
                tc["lookups"][t, loc, d] += 1
                seen.setdefault((loc, d), set()).add(g)
                if d == len(lv) or lv[d].probe(g, now):
                    served = d
                    c["hits"][b, loc, d] += 1
                    tc["hits"][t, loc, d] += 1
                    c["bytes"][b, loc, d] += cost[t, loc, d]
                    break
                c["misses"][b, loc, d] += 1
                tc["misses"][t, loc, d] += 1
            reach.append(served == len(lv))
            for d in range(served - 1, -1, -1):
                victim = lv[d].fill(g, now)
                if victim is not None:
                    for e in range(d):
                        lv[e].remove(victim)
        for (loc, d), rows in seen.items():
            c["unique_rows"][b, loc, d] = len(rows)

    units = None
    if row_address_B is not None:
        where = np.zeros(len(row_address_B), dtype=np.int32) if row_location is None else row_location
        units = reference_units(gids, bounds, where, row_address_B, row_length_B,
                                [loc.units_counted_B for loc in locations], reach)
    return ReplayCounters(
        units=units, unit_sizes_B=[loc.units_counted_B for loc in locations],
        location_names=[loc.name for loc in locations],
        level_names=[loc.level_names for loc in locations],
        table_names=list(table_names) if table_names is not None else [f"t{i}" for i in range(T)],
        lookups=c["lookups"], unique_rows=c["unique_rows"], hits=c["hits"], misses=c["misses"],
        bytes=c["bytes"], table_lookups=tc["lookups"], table_hits=tc["hits"], table_misses=tc["misses"],
    )


__all__ = ["reference_replay", "Location"]
