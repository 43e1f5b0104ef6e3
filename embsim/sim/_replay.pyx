# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython kernels of the cache replay (public API: ``embsim.sim.replay``).

One :class:`ReplayState` holds every cache of every location of a replay and
walks the global row-id stream in order, batch by batch, without the GIL and
without creating a Python object per lookup.  ``run(b0, b1)`` replays batches
``[b0, b1)`` and can be called again with the next range, so the caller can
draw a progress bar between chunks; the cache state carries over.

Semantics (the pure-Python reference ``embsim.sim.reference`` is the
executable specification; the tests require identical counters):

* A lookup of global row ``g`` goes to its location ``row_location[g]`` and
  probes that location's caches top (fastest) first.  The first level that
  holds the row *serves* it (a hit there); every level above it counts a
  miss.  If no cache holds it, the backing tier serves it (the backing tier
  always holds every row of the location).
* A hit updates the serving level only (LRU recency, LFU frequency).
* Fill, bottom up: the row is then inserted into every missed ``lru``/``lfu``
  level, from the lowest missed level up to the top, as data returning from
  below would.  A full level first evicts its victim.
* Inclusion by back-invalidation: a row evicted from a level is also removed
  from every level above it at that location (what inclusive hardware caches
  do), so an upper level never holds a row its lower dynamic levels do not.
  ``static`` and ``none`` levels never evict, so they never back-invalidate.
* ``lru``: evict the least recently used row (recency = last hit or fill).
* ``lfu``: evict the row with the fewest accesses since it was filled; ties go
  to the least recently used among them.  A fill counts as access 1 and every
  hit adds 1.  Counts do NOT persist after eviction: they live only while the
  row is cached (a re-filled row starts again at 1).  O(1) per operation with
  frequency buckets (a list of buckets in increasing frequency, each a list of
  rows in recency order).
* ``static``: a pinned set of global row ids; a pinned row always hits, any
  other row always misses; nothing is ever filled or evicted.
* ``none``: every lookup misses (a pass-through level that only counts).

Data structures and their memory (the README quotes these):

* Slot map, direct mapped: for every cache depth ``d`` an int32 array over all
  table rows giving the slot of row ``g`` in the depth-``d`` cache of ``g``'s
  location, or -1.  A row lives at exactly one location, so one array per
  depth serves every location.  Cost: **4 bytes per table row per cache
  depth**.  A direct map costs one array access per probe (no hashing, no
  collisions) and, for the 1% caches of interest, is within a few x of an
  open-addressing hash table (about 24 B x 2 per cached row at load 0.5),
  while being simpler and faster.  It limits total rows to what fits in
  memory at 4 B each (100M rows = 400 MB per depth).
* Batch stamps for ``unique_rows``: for every level (caches and the backing
  tier) an int32 array over all table rows holding the last batch in which
  the row reached that level.  Cost: **4 bytes per table row per level**.
* LRU slots: key int64 + prev int32 + next int32 = **16 bytes per cached
  row**, an array-based doubly linked list (head = least recently used).
* LFU slots: the 16 bytes above + bucket int32, plus a bucket pool of
  capacity+1 buckets (freq int64, head, tail, prev, next int32) =
  **44 bytes per cached row**.
* static: nothing per cached row beyond the slot map (a pinned row is marked
  in it).
* Counters: 5 int64 per (batch, location, level) and 3 int64 per
  (table, location, level).

So the single shared LRU of ``embsim replay`` costs 12 B per table row
(slot map + stamps of cache and backing tier) and 16 B per cached row, on top
of the 8 B per lookup of the global-id array itself.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t

cnp.import_array()

# Policy codes shared with replay.py.
cdef enum:
    P_NONE = 0
    P_LRU = 1
    P_LFU = 2
    P_STATIC = 3

POLICY_CODES = {"none": P_NONE, "lru": P_LRU, "lfu": P_LFU, "static": P_STATIC}


cdef struct Level:
    int policy
    int depth
    int64_t cap          # capacity in rows
    int64_t size         # rows cached now
    int64_t used         # slots of [base, base+cap) handed out at least once
    int64_t base         # first slot of this level in the shared slot arrays
    int64_t bbase        # first bucket of this level in the shared bucket arrays (lfu)
    int64_t bused
    int32_t head         # LRU: least recently used slot; -1 if empty
    int32_t tail         # LRU: most recently used slot
    int32_t free         # free-slot list (after back-invalidation), linked through nxt
    int32_t bhead        # LFU: bucket of the lowest frequency
    int32_t bfree        # LFU: free-bucket list, linked through bnxt
    int32_t *smap        # slot map of this level's depth: smap[g] = slot or -1


cdef class ReplayState:
    """Every cache of a replay, and the counters it fills.

    Built by ``embsim.sim.replay.replay``; not meant to be built by hand.
    Arrays are owned by this object (numpy) and reached through raw pointers
    inside the nogil loop.
    """
    cdef Level *levels
    cdef object _levels_buf
    # per location: number of caches and index of its depth-d cache in levels
    cdef int32_t[::1] n_cache
    cdef int32_t[:, ::1] level_of
    cdef int n_loc, max_levels, n_tables
    cdef int64_t total_rows
    # inputs
    cdef const int64_t[::1] gids
    cdef const int64_t[::1] bounds
    cdef const int32_t[::1] rowloc
    cdef bint has_rowloc
    cdef int64_t[::1] offsets_ext         # row_offsets + [total_rows]
    cdef int64_t[:, :, ::1] rbytes        # [table, loc, level] rounded bytes per access
    # state
    cdef int32_t[:, ::1] smap             # [depth, total_rows]
    cdef int32_t[:, ::1] stamp            # [level, total_rows]
    cdef int64_t[::1] key
    cdef int32_t[::1] prv
    cdef int32_t[::1] nxt
    cdef int32_t[::1] sbucket
    cdef int64_t[::1] bfreq
    cdef int32_t[::1] bhd
    cdef int32_t[::1] btl
    cdef int32_t[::1] bprv
    cdef int32_t[::1] bnxt
    # counters
    cdef public object lookups, unique_rows, hits, misses, bytes_
    cdef public object t_lookups, t_hits, t_misses
    cdef int64_t[:, :, ::1] c_look
    cdef int64_t[:, :, ::1] c_uniq
    cdef int64_t[:, :, ::1] c_hit
    cdef int64_t[:, :, ::1] c_miss
    cdef int64_t[:, :, ::1] c_bytes
    cdef int64_t[:, :, ::1] ct_look
    cdef int64_t[:, :, ::1] ct_hit
    cdef int64_t[:, :, ::1] ct_miss

    def __cinit__(self):
        self.levels = NULL

    def __init__(self, gids, bounds, rowloc, int64_t total_rows, row_offsets, rbytes,
                 policies, capacities, depths, loc_of_level, n_cache, pinned):
        """Allocate the state.

        ``policies``, ``capacities``, ``depths``, ``loc_of_level``: one entry
        per cache level (all locations, location by location, top first);
        ``n_cache``: caches per location; ``pinned``: per cache level, an
        int64 array of pinned global ids (static) or None.
        """
        cdef Py_ssize_t i, nc = len(policies)
        cdef int64_t nslots = 0, nbuckets = 0, cap
        self.gids = gids
        self.bounds = bounds
        self.has_rowloc = rowloc is not None
        self.rowloc = rowloc if rowloc is not None else np.zeros(1, np.int32)
        self.total_rows = total_rows
        self.n_cache = np.ascontiguousarray(n_cache, dtype=np.int32)
        self.n_loc = len(n_cache)
        self.max_levels = int(np.max(n_cache)) + 1
        offs = np.asarray(row_offsets, dtype=np.int64)
        self.n_tables = len(offs)
        self.offsets_ext = np.concatenate([offs, [total_rows]]).astype(np.int64)
        self.rbytes = np.ascontiguousarray(rbytes, dtype=np.int64)
        n_depth = self.max_levels - 1
        self.level_of = np.full((self.n_loc, max(n_depth, 1)), -1, dtype=np.int32)
        self.smap = np.full((max(n_depth, 1), total_rows if n_depth else 1), -1, dtype=np.int32)
        self.stamp = np.full((self.max_levels, total_rows), -1, dtype=np.int32)

        self._levels_buf = np.zeros(max(nc, 1) * sizeof(Level), dtype=np.uint8)
        cdef cnp.uint8_t[::1] lb = self._levels_buf
        self.levels = <Level *> &lb[0]
        any_lfu = False
        for i in range(nc):
            cap = capacities[i]
            self.levels[i].policy = policies[i]
            self.levels[i].depth = depths[i]
            self.levels[i].cap = cap
            self.levels[i].size = 0
            self.levels[i].used = 0
            self.levels[i].head = -1
            self.levels[i].tail = -1
            self.levels[i].free = -1
            self.levels[i].bhead = -1
            self.levels[i].bfree = -1
            self.levels[i].bused = 0
            self.levels[i].base = nslots
            self.levels[i].bbase = nbuckets
            self.levels[i].smap = &self.smap[depths[i], 0]
            self.level_of[loc_of_level[i], depths[i]] = i
            if policies[i] == P_LRU or policies[i] == P_LFU:
                nslots += cap
            if policies[i] == P_LFU:
                nbuckets += cap + 1
                any_lfu = True
        if nslots + nbuckets >= 2 ** 31 - 1:
            raise ValueError(f"caches hold {nslots} rows in all; this kernel addresses at most 2^31 - 1")
        self.key = np.zeros(max(nslots, 1), dtype=np.int64)
        self.prv = np.zeros(max(nslots, 1), dtype=np.int32)
        self.nxt = np.zeros(max(nslots, 1), dtype=np.int32)
        self.sbucket = np.zeros(max(nslots, 1) if any_lfu else 1, dtype=np.int32)
        self.bfreq = np.zeros(max(nbuckets, 1), dtype=np.int64)
        self.bhd = np.zeros(max(nbuckets, 1), dtype=np.int32)
        self.btl = np.zeros(max(nbuckets, 1), dtype=np.int32)
        self.bprv = np.zeros(max(nbuckets, 1), dtype=np.int32)
        self.bnxt = np.zeros(max(nbuckets, 1), dtype=np.int32)

        # static levels: mark the pinned rows that live at the level's location
        cdef int64_t g
        cdef Py_ssize_t j
        cdef int64_t[::1] pin
        for i in range(nc):
            if policies[i] == P_STATIC and pinned[i] is not None:
                pin = np.ascontiguousarray(pinned[i], dtype=np.int64)
                for j in range(pin.shape[0]):
                    g = pin[j]
                    if (not self.has_rowloc) or self.rowloc[g] == loc_of_level[i]:
                        self.levels[i].smap[g] = 0

        B = bounds.shape[0] - 1
        shape = (B, self.n_loc, self.max_levels)
        self.lookups = np.zeros(shape, np.int64)
        self.unique_rows = np.zeros(shape, np.int64)
        self.hits = np.zeros(shape, np.int64)
        self.misses = np.zeros(shape, np.int64)
        self.bytes_ = np.zeros(shape, np.int64)
        tshape = (self.n_tables, self.n_loc, self.max_levels)
        self.t_lookups = np.zeros(tshape, np.int64)
        self.t_hits = np.zeros(tshape, np.int64)
        self.t_misses = np.zeros(tshape, np.int64)
        self.c_look = self.lookups
        self.c_uniq = self.unique_rows
        self.c_hit = self.hits
        self.c_miss = self.misses
        self.c_bytes = self.bytes_
        self.ct_look = self.t_lookups
        self.ct_hit = self.t_hits
        self.ct_miss = self.t_misses

    # ------------------------------------------------------------ probe ---
    cdef inline bint probe(self, Level *L, int64_t g) noexcept nogil:
        """True if level L holds g; on a hit update its recency/frequency."""
        cdef int32_t s
        if L.policy == P_NONE or L.cap == 0:
            return False
        s = L.smap[g]
        if s < 0:
            return False
        if L.policy == P_LRU:
            self.lru_touch(L, s)
        elif L.policy == P_LFU:
            self.lfu_hit(L, s)
        return True

    # -------------------------------------------------------------- LRU ---
    cdef inline void list_unlink(self, Level *L, int32_t s) noexcept nogil:
        cdef int32_t p = self.prv[s], n = self.nxt[s]
        if p >= 0:
            self.nxt[p] = n
        else:
            L.head = n
        if n >= 0:
            self.prv[n] = p
        else:
            L.tail = p

    cdef inline void list_append(self, Level *L, int32_t s) noexcept nogil:
        self.prv[s] = L.tail
        self.nxt[s] = -1
        if L.tail >= 0:
            self.nxt[L.tail] = s
        else:
            L.head = s
        L.tail = s

    cdef inline void lru_touch(self, Level *L, int32_t s) noexcept nogil:
        if s == L.tail:
            return
        self.list_unlink(L, s)
        self.list_append(L, s)

    cdef inline int32_t new_slot(self, Level *L) noexcept nogil:
        cdef int32_t s
        if L.free >= 0:
            s = L.free
            L.free = self.nxt[s]
        else:
            s = <int32_t> (L.base + L.used)
            L.used += 1
        return s

    # -------------------------------------------------------------- LFU ---
    cdef inline int32_t new_bucket(self, Level *L, int64_t freq) noexcept nogil:
        cdef int32_t b
        if L.bfree >= 0:
            b = L.bfree
            L.bfree = self.bnxt[b]
        else:
            b = <int32_t> (L.bbase + L.bused)
            L.bused += 1
        self.bfreq[b] = freq
        self.bhd[b] = -1
        self.btl[b] = -1
        return b

    cdef inline void bucket_drop(self, Level *L, int32_t b) noexcept nogil:
        """Unlink empty bucket b from the bucket list and free it."""
        cdef int32_t p = self.bprv[b], n = self.bnxt[b]
        if p >= 0:
            self.bnxt[p] = n
        else:
            L.bhead = n
        if n >= 0:
            self.bprv[n] = p
        self.bnxt[b] = L.bfree
        L.bfree = b

    cdef inline void bucket_row_unlink(self, Level *L, int32_t s) noexcept nogil:
        cdef int32_t b = self.sbucket[s], p = self.prv[s], n = self.nxt[s]
        if p >= 0:
            self.nxt[p] = n
        else:
            self.bhd[b] = n
        if n >= 0:
            self.prv[n] = p
        else:
            self.btl[b] = p
        if self.bhd[b] < 0:
            self.bucket_drop(L, b)

    cdef inline void bucket_row_append(self, int32_t b, int32_t s) noexcept nogil:
        cdef int32_t t = self.btl[b]
        self.prv[s] = t
        self.nxt[s] = -1
        if t >= 0:
            self.nxt[t] = s
        else:
            self.bhd[b] = s
        self.btl[b] = s
        self.sbucket[s] = b

    cdef inline void lfu_hit(self, Level *L, int32_t s) noexcept nogil:
        cdef int32_t b = self.sbucket[s], nb = self.bnxt[b]
        cdef int64_t f = self.bfreq[b]
        if nb < 0 or self.bfreq[nb] != f + 1:
            if self.bhd[b] == s and self.btl[b] == s:
                # alone in its bucket and no bucket f+1: bump in place (order kept)
                self.bfreq[b] = f + 1
                return
            nb = self.new_bucket(L, f + 1)
            self.bprv[nb] = b
            self.bnxt[nb] = self.bnxt[b]
            if self.bnxt[b] >= 0:
                self.bprv[self.bnxt[b]] = nb
            self.bnxt[b] = nb
        self.bucket_row_unlink(L, s)
        self.bucket_row_append(nb, s)

    # ------------------------------------------------------ fill / evict ---
    cdef inline int64_t fill(self, Level *L, int64_t g) noexcept nogil:
        """Insert g into dynamic level L; return the evicted row or -1."""
        cdef int32_t s, b
        cdef int64_t victim = -1
        if L.cap == 0 or (L.policy != P_LRU and L.policy != P_LFU):
            return -1
        if L.size == L.cap:
            if L.policy == P_LRU:
                s = L.head
                self.list_unlink(L, s)
            else:
                s = self.bhd[L.bhead]
                self.bucket_row_unlink(L, s)
            victim = self.key[s]
            L.smap[victim] = -1
        else:
            s = self.new_slot(L)
            L.size += 1
        self.key[s] = g
        L.smap[g] = s
        if L.policy == P_LRU:
            self.list_append(L, s)
        else:
            b = L.bhead
            if b < 0 or self.bfreq[b] != 1:
                b = self.new_bucket(L, 1)
                self.bprv[b] = -1
                self.bnxt[b] = L.bhead
                if L.bhead >= 0:
                    self.bprv[L.bhead] = b
                L.bhead = b
            self.bucket_row_append(b, s)
        return victim

    cdef inline void invalidate(self, Level *L, int64_t g) noexcept nogil:
        """Remove g from dynamic level L if present (back-invalidation)."""
        cdef int32_t s
        if L.cap == 0 or (L.policy != P_LRU and L.policy != P_LFU):
            return
        s = L.smap[g]
        if s < 0:
            return
        if L.policy == P_LRU:
            self.list_unlink(L, s)
        else:
            self.bucket_row_unlink(L, s)
        L.smap[g] = -1
        self.nxt[s] = L.free
        L.free = s
        L.size -= 1

    # ------------------------------------------------------------- loop ---
    cdef inline int find_table(self, int64_t g, int t) noexcept nogil:
        """Table of global row g; t is a guess (the previous lookup's table)."""
        cdef int lo, hi, mid
        if self.offsets_ext[t] <= g < self.offsets_ext[t + 1]:
            return t
        lo = 0
        hi = self.n_tables - 1
        while lo < hi:  # largest t with offsets[t] <= g
            mid = (lo + hi + 1) >> 1
            if self.offsets_ext[mid] <= g:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def run(self, int64_t b0, int64_t b1):
        """Replay batches [b0, b1) (call with consecutive ranges)."""
        cdef int64_t b, i, g, v
        cdef int t = 0, loc = 0, nlev, d, served, e
        cdef int32_t bb
        cdef Level *L
        with nogil:
            for b in range(b0, b1):
                bb = <int32_t> b
                for i in range(self.bounds[b], self.bounds[b + 1]):
                    g = self.gids[i]
                    if self.has_rowloc:
                        loc = self.rowloc[g]
                    t = self.find_table(g, t)
                    nlev = self.n_cache[loc]
                    served = nlev
                    for d in range(nlev + 1):
                        self.c_look[b, loc, d] += 1
                        self.ct_look[t, loc, d] += 1
                        if self.stamp[d, g] != bb:
                            self.stamp[d, g] = bb
                            self.c_uniq[b, loc, d] += 1
                        if d == nlev or self.probe(&self.levels[self.level_of[loc, d]], g):
                            served = d
                            self.c_hit[b, loc, d] += 1
                            self.ct_hit[t, loc, d] += 1
                            self.c_bytes[b, loc, d] += self.rbytes[t, loc, d]
                            break
                        self.c_miss[b, loc, d] += 1
                        self.ct_miss[t, loc, d] += 1
                    # fill bottom up; an eviction at depth d back-invalidates depths < d
                    d = served - 1
                    while d >= 0:
                        v = self.fill(&self.levels[self.level_of[loc, d]], g)
                        if v >= 0:
                            for e in range(d):
                                self.invalidate(&self.levels[self.level_of[loc, e]], v)
                        d -= 1
