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
  rows in recency order); one LFU over one tier finds the same victims with a
  ring of the rows of count 1 and a heap of the others (``_run_lfu``).
* ``static``: a pinned set of global row ids; a pinned row always hits, any
  other row always misses; nothing is ever filled or evicted.
* ``none``: every lookup misses (a pass-through level that only counts).

Data structures and their memory (the README quotes these):

* Row state, direct mapped: for every table row and every level depth
  ``d`` (caches and the backing tier, up to the deepest location), two int32:
  the row's slot in the depth-``d`` cache of its location (or -1) and the
  last batch in which the row reached depth ``d`` (for ``unique_rows``).  A
  row's state for all its levels sits side by side, so one lookup touches one
  cache line of it; a row lives at exactly one location, so one array serves
  every location.  Cost: **8 bytes per table row per level** (32 B per row
  for three caches over a tier).  One cache over one tier (the one-level
  loops) keeps a single pair: slot, and ``batch << 1 | missed``, the tier's
  stamp folded into a flag bit: **8 bytes per table row**; the LRU ring
  that counts coalesced units (``unit_ids_in_ring``) also keeps the row's
  unit id at each unit size beside them: **16 bytes per table row** for one
  or two sizes, 32 for up to six.  A direct
  map costs one array access per probe (no hashing, no collisions, no
  resizing); its price is memory proportional to the rows of the tables
  rather than to the cache (100M rows with one cache: 0.8 GB).
  The slot number of an evicted row is left in place (stale) and recognised
  by ``key[slot] != row``: writing it would cost one more random memory
  access per miss.  (The LRU ring below instead keeps the row's position in
  the ring, exact: its victim's state is prefetched before it is written.)
* LRU slots: key int64 + prev/next int32 side by side = **16 bytes per
  cached row**, an array-based doubly linked list (head = least recently used).
  One LRU over one tier uses a recency ring of row ids instead
  (``_run_lru_queue``): 4 to 8 int32 entries per cached row = **16 to 32
  bytes per cached row** (the slot arrays are allocated but unused).
* LFU slots: the 16 bytes above + bucket int32, plus a pool of capacity+1
  buckets (freq int64, head, tail, prev, next int32 = 24 B) = **about 44
  bytes per cached row**.  One LFU over one tier (``_run_lfu``, rows < 2^31)
  keeps no buckets and no key/link arrays: a 32-byte slot record (count,
  last access, row: one cache line per lookup), a fill ring of int32 slots
  (a power of two >= capacity: 4-8 B) and a heap of the rows hit since their
  fill (24 B an entry, its pages touched as it grows): **at most 64 bytes per
  cached row**.
* static: nothing per cached row (a pinned row is marked in the row state).
* Counters: 5 int64 per (batch, location, level) and 3 int64 per
  (table, location, level).
* The ids: one chunk at a time (``run`` takes the stream chunk by chunk), 8
  bytes per lookup of the chunk.

So ``embsim replay`` (one shared cache over a tier) costs 8 B per table row,
32-48 B (LRU: the ring and the unused slots) or up to 64 B (LFU) per cached row, and 8 B per lookup of a chunk:
a trace of any length over 100M rows with a 1% LRU needs about 0.8 + 0.04 GB
plus its chunks.

Speed: each lookup makes one random access to its row's state (like
``np.bincount``), so the loop prefetches the row state of the id
``prefetch_rows`` (48) lookups ahead, and (but in the LRU ring, which has no
slot arrays) the cache slot of the row half as far ahead, to keep several
memory accesses in flight.  A branch on a value just
loaded stalls the loads behind it when mispredicted (measured: a
load-compare-store of a batch stamp ran at half the speed of an unconditional
increment), so the one-level loops update the stamps without branches and
prefetch without testing the slot.  A lower LRU level's next
victim has its row state prefetched too (its back-invalidation reads it).
One location with one LRU/LFU cache (``embsim replay``) runs a specialised
loop (``_run_lru_queue``, ``_run_lfu``; ``_run_one_level`` for an LRU whose
row ids do not fit the ring; the ring's loop ``ring_run`` is compiled once per
kind of extra work, plain, recording the reach or counting units, and chosen
once per call, so a plain LRU tests no extra per lookup): per-batch counters summed in locals and stored
once per batch, per-table counters stored when the table changes, no level
table, no branch on the policy.  What is
left is mostly instructions, not memory: the general loop costs more per
lookup than its random accesses.
"""
cimport cython
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t, uintptr_t

cnp.import_array()

cdef extern from *:
    """
    #define EMBSIM_PREFETCH(p) __builtin_prefetch((const void *)(p), 1, 3)
    """
    void EMBSIM_PREFETCH(const void *p) noexcept nogil

# How far ahead in the id stream the loop prefetches a row's state (and, half
# as far ahead, the list links of its top-level slot).  The replay is bound by
# the latency of one random memory access per lookup; prefetching lets many
# be in flight at once, as they are in np.bincount.
DEF_PREFETCH_ROWS = 48
# How far behind the LRU ring's head the victim scan prefetches a row's state (entries).
cdef enum:
    VICTIM_AHEAD = 64

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
    int32_t free         # free-slot list (after back-invalidation), linked through lnk
    int32_t bhead        # LFU: bucket of the lowest frequency
    int32_t bfree        # LFU: free-bucket list, linked through Bucket.next
    int32_t *rs          # row state at this depth: rs[g * rstride] = slot or -1, [+1] = batch stamp


cdef struct Bucket:
    int64_t freq         # access count of the rows in this bucket
    int32_t head         # least recently used row (slot) of the bucket
    int32_t tail         # most recently used row
    int32_t prev         # bucket of the next lower frequency, or -1
    int32_t next         # bucket of the next higher frequency, or -1


cdef struct Arrays:
    # shared slot arrays (all dynamic levels, each in its own [base, base+cap) range)
    int64_t *key         # row held by each slot
    int32_t *lnk         # [2 s] previous and [2 s + 1] next slot in its list (one cache line)
    int32_t *sbucket     # LFU: bucket of each slot
    Bucket *bk           # shared LFU bucket pool
    int64_t rstride      # int32 entries per row in the row-state array (2 x levels)


# ---------------------------------------------------------------- LRU ---
cdef inline void list_unlink(Arrays *A, Level *L, int32_t s) noexcept nogil:
    cdef int32_t p = A.lnk[2 * (s)], n = A.lnk[2 * (s) + 1]
    if p >= 0:
        A.lnk[2 * (p) + 1] = n
    else:
        L.head = n
    if n >= 0:
        A.lnk[2 * (n)] = p
    else:
        L.tail = p


cdef inline void list_append(Arrays *A, Level *L, int32_t s) noexcept nogil:
    A.lnk[2 * (s)] = L.tail
    A.lnk[2 * (s) + 1] = -1
    if L.tail >= 0:
        A.lnk[2 * (L.tail) + 1] = s
    else:
        L.head = s
    L.tail = s


cdef inline int32_t new_slot(Arrays *A, Level *L) noexcept nogil:
    cdef int32_t s
    if L.free >= 0:
        s = L.free
        L.free = A.lnk[2 * (s) + 1]
    else:
        s = <int32_t> (L.base + L.used)
        L.used += 1
    return s


# ---------------------------------------------------------------- LFU ---
cdef inline int32_t new_bucket(Arrays *A, Level *L, int64_t freq) noexcept nogil:
    cdef int32_t b
    if L.bfree >= 0:
        b = L.bfree
        L.bfree = A.bk[b].next
    else:
        b = <int32_t> (L.bbase + L.bused)
        L.bused += 1
    A.bk[b].freq = freq
    A.bk[b].head = -1
    A.bk[b].tail = -1
    return b


cdef inline void bucket_drop(Arrays *A, Level *L, int32_t b) noexcept nogil:
    """Unlink empty bucket b from the bucket list and free it."""
    cdef int32_t p = A.bk[b].prev, n = A.bk[b].next
    if p >= 0:
        A.bk[p].next = n
    else:
        L.bhead = n
    if n >= 0:
        A.bk[n].prev = p
    A.bk[b].next = L.bfree
    L.bfree = b


cdef inline void bucket_row_unlink(Arrays *A, Level *L, int32_t s) noexcept nogil:
    cdef int32_t b = A.sbucket[s], p = A.lnk[2 * (s)], n = A.lnk[2 * (s) + 1]
    if p >= 0:
        A.lnk[2 * (p) + 1] = n
    else:
        A.bk[b].head = n
    if n >= 0:
        A.lnk[2 * (n)] = p
    else:
        A.bk[b].tail = p
    if A.bk[b].head < 0:
        bucket_drop(A, L, b)


cdef inline void bucket_row_append(Arrays *A, int32_t b, int32_t s) noexcept nogil:
    cdef int32_t t = A.bk[b].tail
    A.lnk[2 * (s)] = t
    A.lnk[2 * (s) + 1] = -1
    if t >= 0:
        A.lnk[2 * (t) + 1] = s
    else:
        A.bk[b].head = s
    A.bk[b].tail = s
    A.sbucket[s] = b


cdef inline void lfu_hit(Arrays *A, Level *L, int32_t s) noexcept nogil:
    cdef int32_t b = A.sbucket[s], nb = A.bk[b].next
    cdef int64_t f = A.bk[b].freq
    if nb < 0 or A.bk[nb].freq != f + 1:
        if A.bk[b].head == s and A.bk[b].tail == s:
            # alone in its bucket and no bucket f+1: bump in place (order kept)
            A.bk[b].freq = f + 1
            return
        nb = new_bucket(A, L, f + 1)
        A.bk[nb].prev = b
        A.bk[nb].next = A.bk[b].next
        if A.bk[b].next >= 0:
            A.bk[A.bk[b].next].prev = nb
        A.bk[b].next = nb
    bucket_row_unlink(A, L, s)
    bucket_row_append(A, nb, s)


cdef inline void lfu_fill(Arrays *A, Level *L, int64_t g) noexcept nogil:
    """``fill`` of an LFU level with no branch on the policy (the one-level LFU loop)."""
    cdef int32_t s, b
    if L.size == L.cap:
        s = A.bk[L.bhead].head           # the least recently used row of the lowest count
        bucket_row_unlink(A, L, s)       # its row state keeps a stale slot (key[s] != row)
    else:
        s = new_slot(A, L)
        L.size += 1
    A.key[s] = g
    L.rs[g * A.rstride] = s
    b = L.bhead
    if b < 0 or A.bk[b].freq != 1:
        b = new_bucket(A, L, 1)
        A.bk[b].prev = -1
        A.bk[b].next = L.bhead
        if L.bhead >= 0:
            A.bk[L.bhead].prev = b
        L.bhead = b
    bucket_row_append(A, b, s)


# ------------------------------------------ one-level LFU: ring and heap ---
# ``_run_lfu`` (one LFU over one tier, rows < 2^31) evicts the rows ``lfu_hit`` / ``lfu_fill``
# would, without their frequency buckets, so that a hit moves a row between no lists:
#
# * a slot is one 32-byte record (``LfuSlot``): its row, its count and the replay clock (lookup
#   number) of its last access.  A hit adds 1 to the count and stamps the clock; nothing else.
#   (A bucket hit moved the row to the bucket of count + 1, and whether that bucket existed went
#   either way at random, a hot row alone at its count or a warm one joining others: 0.34
#   mispredicted branches per lookup of the bench, callgrind.)
# * the *fill ring* holds the slots of the rows of count 1 in fill order, and the rows hit since
#   their fill that no victim search has reached yet;
# * the *heap* holds the other rows (hit since their fill, *promoted* when a victim search reached
#   them in the ring), keyed by (count, last access) as they were when keyed.  A key only grows,
#   so a top whose row was accessed since (its clock differs) is re-keyed and sunk; a top whose key
#   is current is the least (count, last access) of all promoted rows.
#
# Victim: the ring's oldest row of count 1, promoting the rows before it; when the ring runs empty
# (every cached row was hit since its fill), the heap's top.  Count 1 is below every promoted row and
# the ring holds every row of count 1 in fill order (their last access), so this is LFU with ties to
# the least recent, the buckets' victim exactly.  A ring entry always names its slot's current row:
# a row leaves the ring (victim, or promoted) before its slot can be reused, and a promoted row is
# evicted from the heap only.  So the ring holds at most ``cap`` entries and a hit on a row at a
# count of its own costs what a hit on a row among many does.  The price: a promotion, and the
# re-keying of a stale top, cost O(log cap) (the buckets were O(1)); a row is promoted at most once
# per fill and each hit makes at most one re-keying, so a lookup costs O(log cap) at worst (a trace
# that reads every row again soon after its fill).  On the bench's zipf ids (callgrind, 5M
# lookups) about 3% of lookups promote a row, with a short sift up, and no victim came from the heap.
cdef struct LfuSlot:
    int64_t count        # accesses since the fill (the fill is 1)
    int64_t last         # replay clock of the last access (unique per lookup)
    int32_t row          # row held; the sentinel record -1 holds -1 (a row state's "not cached")
    int32_t unused
    int64_t unused2      # 32 bytes, 32-byte aligned: a lookup reads one cache line


cdef struct HeapKey:
    int64_t count        # the row's (count, last access) when keyed: the heap's order
    int64_t last
    int64_t slot


cdef struct LfuCache:
    LfuSlot *S           # slot records (S[-1]: the sentinel)
    int32_t *ring        # the fill ring: slots, oldest at rhead; a power of two >= cap entries
    int64_t rmask, rhead, rtail
    HeapKey *heap        # the promoted rows, least key at 0
    int64_t hsize
    int64_t cap, size    # capacity and rows cached (slots 0 .. size - 1 handed out)


cdef inline bint key_less(const HeapKey *a, const HeapKey *b) noexcept nogil:
    return a.count < b.count or (a.count == b.count and a.last < b.last)


cdef inline void heap_sink(HeapKey *H, int64_t n, int64_t i) noexcept nogil:
    """Restore the heap below position i, whose key may have grown."""
    cdef HeapKey e = H[i]
    cdef int64_t c
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and key_less(&H[c + 1], &H[c]):
            c += 1
        if not key_less(&H[c], &e):
            break
        H[i] = H[c]
        i = c
    H[i] = e


cdef inline void heap_promote(LfuCache *Q, int32_t s) noexcept nogil:
    """Add slot s (hit since its fill) to the heap, keyed by its count and last access now."""
    cdef HeapKey e
    cdef int64_t i = Q.hsize, p
    e.count, e.last, e.slot = Q.S[s].count, Q.S[s].last, s
    Q.hsize += 1
    while i > 0:
        p = (i - 1) >> 1
        if not key_less(&e, &Q.heap[p]):
            break
        Q.heap[i] = Q.heap[p]
        i = p
    Q.heap[i] = e


cdef inline int32_t heap_take(LfuCache *Q) noexcept nogil:
    """Remove and return the promoted row of least (count, last access), re-keying stale tops first."""
    cdef HeapKey *H = Q.heap
    cdef int32_t s
    while True:
        s = <int32_t> H[0].slot
        if Q.S[s].last == H[0].last:
            break
        H[0].count = Q.S[s].count     # accessed since keyed: its key grew
        H[0].last = Q.S[s].last
        heap_sink(H, Q.hsize, 0)
    Q.hsize -= 1
    if Q.hsize > 0:
        H[0] = H[Q.hsize]
        heap_sink(H, Q.hsize, 0)
    return s


cdef inline int32_t lfu_victim(LfuCache *Q) noexcept nogil:
    """The slot of the row to evict (see above); promotes the ring's rows hit since their fill."""
    cdef int32_t s
    while Q.rhead != Q.rtail:
        s = Q.ring[Q.rhead & Q.rmask]
        Q.rhead += 1
        if Q.S[s].count == 1:
            return s
        heap_promote(Q, s)
    return heap_take(Q)


cdef inline int32_t lfu_ring_fill(LfuCache *Q, int32_t g, int64_t now) noexcept nogil:
    """Cache row g (count 1, accessed at clock ``now``), evicting if full; return its slot.

    The victim's row state keeps its slot number, stale (``S[slot].row`` is g now)."""
    cdef int32_t s
    if Q.size == Q.cap:
        s = lfu_victim(Q)
    else:
        s = <int32_t> Q.size
        Q.size += 1
    Q.S[s].row = g
    Q.S[s].count = 1
    Q.S[s].last = now
    Q.ring[Q.rtail & Q.rmask] = s
    Q.rtail += 1
    return s

# --------------------------------------------------- probe / fill / evict ---
cdef inline bint probe(Arrays *A, Level *L, int64_t g) noexcept nogil:
    """True if level L holds g; on a hit update its recency/frequency."""
    cdef int32_t s = L.rs[g * A.rstride]
    if s < 0 or L.policy == P_NONE:
        return False
    if L.policy == P_STATIC:
        return True
    if A.key[s] != g:
        return False           # a stale slot: g was evicted and the slot reused
    if L.policy == P_LRU:
        if s != L.tail:
            list_unlink(A, L, s)
            list_append(A, L, s)
    elif L.policy == P_LFU:
        lfu_hit(A, L, s)
    return True


cdef inline int64_t fill(Arrays *A, Level *L, int64_t g) noexcept nogil:
    """Insert g into dynamic level L; return the evicted row or -1."""
    cdef int32_t s, b
    cdef int64_t victim = -1
    if L.cap == 0 or (L.policy != P_LRU and L.policy != P_LFU):
        return -1
    if L.size == L.cap:
        if L.policy == P_LRU:
            s = L.head
            list_unlink(A, L, s)
        else:
            s = A.bk[L.bhead].head
            bucket_row_unlink(A, L, s)
        victim = A.key[s]
        # the victim's row state keeps its stale slot number: probe() sees key[s] != victim.
        # Not writing it saves a random memory access per miss.
    else:
        s = new_slot(A, L)
        L.size += 1
    A.key[s] = g
    L.rs[g * A.rstride] = s
    if L.policy == P_LRU:
        list_append(A, L, s)
    else:
        b = L.bhead
        if b < 0 or A.bk[b].freq != 1:
            b = new_bucket(A, L, 1)
            A.bk[b].prev = -1
            A.bk[b].next = L.bhead
            if L.bhead >= 0:
                A.bk[L.bhead].prev = b
            L.bhead = b
        bucket_row_append(A, b, s)
    return victim


cdef inline void invalidate(Arrays *A, Level *L, int64_t g) noexcept nogil:
    """Remove g from dynamic level L if present (back-invalidation)."""
    cdef int32_t s
    if L.cap == 0 or (L.policy != P_LRU and L.policy != P_LFU):
        return
    s = L.rs[g * A.rstride]
    if s < 0 or A.key[s] != g:
        return
    if L.policy == P_LRU:
        list_unlink(A, L, s)
    else:
        bucket_row_unlink(A, L, s)
    A.key[s] = -1
    A.lnk[2 * (s) + 1] = L.free
    L.free = s
    L.size -= 1


cdef inline int find_table(const int64_t *offs, int n_tables, int64_t g, int t) noexcept nogil:
    """Table of global row g; t is a guess (the previous lookup's table)."""
    cdef int lo, hi, mid
    if offs[t] <= g < offs[t + 1]:
        return t
    lo = 0
    hi = n_tables - 1
    while lo < hi:  # largest t with offs[t] <= g
        mid = (lo + hi + 1) >> 1
        if offs[mid] <= g:
            lo = mid
        else:
            hi = mid - 1
    return lo


# ------------------------------------------- one-level loops: the counting ---
cdef struct OneLevelCounts:
    # the counting of _run_lru_queue and _run_lfu: per batch in locals, per table per run of
    # lookups in one table (stored when a lookup leaves the table's range, checked there)
    int64_t tlo, tspan       # rows of the current table: [tlo, tlo + tspan)
    int64_t ct               # its (table, cache) counter index; ct + 1: the tier's
    int64_t rb0, rb1         # bytes of one of its rows at the cache, at the tier
    int64_t seg, sh          # first lookup of the current run, and the batch's hits before it
    int64_t by0, by1         # bytes the batch read so far from the cache, from the tier
    int64_t total_rows
    int t, n_tables
    const int64_t *offs
    const int64_t *rbytes
    int64_t *c_look
    int64_t *c_uniq
    int64_t *c_hit
    int64_t *c_bytes
    int64_t *ct_look
    int64_t *ct_hit


cdef inline void run_store(OneLevelCounts *C, int64_t i, int64_t h) noexcept nogil:
    """Count the run of lookups ``[C.seg, i)`` in one table (``h - C.sh`` hits) to its table and the batch."""
    cdef int64_t n = i - C.seg, hit = h - C.sh
    C.ct_look[C.ct] += n
    C.ct_hit[C.ct] += hit
    C.ct_hit[C.ct + 1] += n - hit
    C.by0 += hit * C.rb0
    C.by1 += (n - hit) * C.rb1


cdef inline bint table_enter(OneLevelCounts *C, int64_t i, int64_t h, int64_t g) noexcept nogil:
    """Lookup ``i`` (row g) left the current table: False if g is no row, else store the run, enter g's table."""
    if <uint64_t> g >= <uint64_t> C.total_rows:
        return False
    run_store(C, i, h)
    C.seg = i
    C.sh = h
    C.t = find_table(C.offs, C.n_tables, g, C.t)
    C.tlo = C.offs[C.t]
    C.tspan = C.offs[C.t + 1] - C.tlo
    C.ct = <int64_t> C.t * 2
    C.rb0 = C.rbytes[C.ct]
    C.rb1 = C.rbytes[C.ct + 1]
    return True


cdef inline void batch_store(OneLevelCounts *C, int64_t b, int64_t lo, int64_t hi, int64_t h,
                             int64_t u0, int64_t u1) noexcept nogil:
    """Store batch b (lookups ``[lo, hi)``, h hits, u0 / u1 distinct rows at the cache / tier); start the next."""
    cdef int64_t cb = b * 2
    run_store(C, hi, h)
    C.c_look[cb] += hi - lo
    C.c_uniq[cb] += u0
    C.c_uniq[cb + 1] += u1
    C.c_hit[cb] += h
    C.c_hit[cb + 1] += (hi - lo) - h
    C.c_bytes[cb] += C.by0
    C.c_bytes[cb + 1] += C.by1
    C.seg = hi
    C.sh = 0
    C.by0 = 0
    C.by1 = 0


# ------------------------------------------------ one-level LRU: the ring ---
# ``ReplayState._run_lru_queue`` runs ``ring_run``, compiled once per kind of extra work (a fused
# type chosen once per call, never per lookup): ``NoExtras`` (plain LRU: no branch of the extras in
# the loop), ``ReachOut`` (record which lookups reached the tier), ``UnitsInState`` (count the
# coalesced units on the misses, from the unit ids kept in the row state).
cdef struct Ring:
    int32_t *rs              # row state: [RS g] ring position or -1, [RS g + 1] batch << 1 | missed
    int32_t *queue           # row ids in access order, -1 where dead
    int64_t qh, qt, qm       # head, tail (entries ever taken, put), ring size - 1
    int64_t size, cap        # rows cached, capacity


cdef struct NoExtras:
    int unused


cdef struct ReachOut:
    uint8_t *reach           # per lookup of the chunk: 1 if it reached the tier


cdef struct UnitsInState:
    int32_t *stamps          # last batch that read each shared unit
    int64_t *out             # distinct units per (batch, size): [n_batches, 1, K]
    int64_t K                # unit sizes; the row state holds the first unit of each at [RS g + 2 + k]
    int64_t stride           # RS: int32 entries per row of the row state (2 + K rounded up to 4 or 8)


ctypedef fused RingExtras:
    NoExtras
    ReachOut
    UnitsInState


cdef inline void ring_units(const int32_t *ids, int64_t K, int32_t *stamps, int64_t *uc, int32_t bs,
                            int32_t new_row) noexcept nogil:
    """Count the units a miss reads into ``uc[k]``: ``ids`` its row's unit ids (``new_row``: its first miss of batch bs).

    ``ids[k] < 0``: the row's ``-ids[k] - 1`` exclusive units, new with the row; else its one
    shared unit (``count_units_in_ring`` takes only maps whose shared entries span one unit), new
    if no miss of batch ``bs`` read it yet: no branch on the stamp (a random one).
    """
    cdef int64_t k = 0
    cdef int32_t u
    while k < K:
        u = ids[k]
        if u < 0:                    # a size is all exclusive or all shared: a predictable branch
            uc[k] += (-u - 1) * new_row
        else:
            uc[k] += stamps[u] != bs
            stamps[u] = bs
        k += 1


cdef inline void ring_evict(Ring *R, int64_t RS) noexcept nogil:
    """Drop the least recently used row: the first live entry from the head (dead ones skipped)."""
    cdef int32_t v
    while True:
        v = R.queue[R.qh & R.qm]
        EMBSIM_PREFETCH(R.rs + RS * R.queue[(R.qh + VICTIM_AHEAD) & R.qm])
        R.qh += 1
        if v >= 0:
            break
    R.rs[RS * v] = -1


cdef inline void ring_pack(Ring *R, int64_t RS) noexcept nogil:
    """The ring is full: pack its live entries, in order, from the head."""
    cdef int64_t k = R.qh, j
    cdef int32_t v
    for j in range(R.qh, R.qt):
        if j + 16 < R.qt:
            EMBSIM_PREFETCH(R.rs + RS * R.queue[(j + 16) & R.qm])
        v = R.queue[j & R.qm]
        if v >= 0:
            R.queue[k & R.qm] = v
            R.rs[RS * v] = <int32_t> (k & R.qm)
            k += 1
    R.qt = k


cdef int64_t ring_run(Ring *ring, OneLevelCounts *C, RingExtras *E, const int64_t *gids, const int64_t *bounds,
                      int64_t b0, int64_t b1, int64_t pf) noexcept nogil:
    """Replay batches ``[b0, b1)`` through the ring (``ReplayState._run_lru_queue``); -1, or a bad id's position."""
    cdef int64_t b, i, g, n_ids = bounds[b1 - b0], lo, hi, h, u0, u1, k
    cdef int64_t RS = 2
    cdef int32_t p, b2, x, bs
    cdef int32_t *st
    cdef Ring R = ring[0]            # a local copy (registers), stored back at the end
    cdef int64_t uc[8]
    cdef int64_t K = 0
    cdef int32_t *ust = NULL
    if RingExtras is UnitsInState:
        RS, K, ust = E.stride, E.K, E.stamps
    for b in range(b0, b1):
        b2 = <int32_t> (2 * b)
        bs = <int32_t> b
        lo = bounds[b - b0]
        hi = bounds[b - b0 + 1]
        h = 0
        u0 = 0
        u1 = 0
        if RingExtras is UnitsInState:
            for k in range(K):
                uc[k] = 0
        for i in range(lo, hi):
            g = gids[i]
            if i + pf < n_ids:
                EMBSIM_PREFETCH(R.rs + RS * gids[i + pf])
            if <uint64_t> (g - C.tlo) >= <uint64_t> C.tspan:   # a new table, or no row
                if not table_enter(C, i, h, g):
                    ring[0] = R
                    return i                 # not a row: the state is unusable from here
            st = R.rs + RS * g
            # st[1] = batch << 1 | (missed in that batch), never above 2 b + 1: a row not yet
            # seen in batch b has st[1] < 2 b, so max(st[1], 2 b) is its stamp from now on
            x = st[1]
            u0 += x < b2
            x = b2 if x < b2 else x
            p = st[0]
            if p >= 0:                       # a hit: its previous entry dies
                h += 1
                st[1] = x
                R.queue[p] = -1
                if RingExtras is ReachOut:
                    E.reach[i] = 0
            else:
                if RingExtras is ReachOut:
                    E.reach[i] = 1
                if RingExtras is UnitsInState:
                    ring_units(st + 2, K, ust, uc, bs, 1 - (x & 1))
                u1 += 1 - (x & 1)
                st[1] = x | 1
                if R.size < R.cap:
                    R.size += 1
                else:
                    ring_evict(&R, RS)
            p = <int32_t> (R.qt & R.qm)
            R.queue[p] = <int32_t> g
            st[0] = p
            R.qt += 1
            if R.qt - R.qh == R.qm + 1:
                ring_pack(&R, RS)
        batch_store(C, b, lo, hi, h, u0, u1)
        if RingExtras is UnitsInState:
            for k in range(K):
                E.out[b * K + k] += uc[k]
    ring[0] = R
    return -1


# ------------------------------------------------ one-level LFU: the loop ---
cdef enum:
    LFU_AHEAD = 48       # _run_lfu prefetches a row's state this many lookups ahead, its slot half as far


cdef struct LfuRun:
    # what _run_lfu's spans share: the cache, the row state, and the current batch's counts
    LfuCache *Q
    int32_t *rs
    uint8_t *reach       # per lookup: 1 if it reached the tier (coalescing), or NULL
    int64_t tbase        # the replay clock of lookup i of the chunk is tbase + i
    int64_t h, u0, u1    # the batch's hits, and its rows new in the batch at the cache, at the tier
    int32_t b2           # batch << 1 (the row state's stamp, as in _run_lru_queue)


# lfu_span's mode, a type so that Cython compiles one loop per mode (no test of a flag per lookup)
cdef struct Recorded:    # write R.reach
    char unused
cdef struct Unrecorded:  # leave it
    char unused
ctypedef fused ReachMode:
    Recorded
    Unrecorded


cdef inline int64_t lfu_span(LfuRun *R, OneLevelCounts *C, const int64_t *gids, int64_t lo, int64_t hi,
                             bint ahead, ReachMode *mode) noexcept nogil:
    """Replay lookups ``[lo, hi)`` of one batch of ``_run_lfu``; -1, or the position of an id that is no row.

    ``ahead``: the ids ``LFU_AHEAD`` further on exist, so they are prefetched
    without a bound test (a chunk's last lookups go without); callers pass a
    constant.  ``mode`` (its type, the pointer is NULL): ``Recorded *`` writes
    ``R.reach``.  The loop's state is locals the compiler keeps in registers.
    """
    cdef int64_t i, g, gn, h = R.h, u0 = R.u0, u1 = R.u1, tlo = C.tlo, tspan = C.tspan
    cdef int64_t total_rows = C.total_rows, tbase = R.tbase
    cdef int32_t s, x, b2 = R.b2
    cdef int32_t *st
    cdef int32_t *rs = R.rs
    cdef LfuCache q = R.Q[0]
    cdef LfuSlot *S = q.S
    for i in range(lo, hi):
        g = gids[i]
        if ahead:
            EMBSIM_PREFETCH(rs + 2 * gids[i + LFU_AHEAD])
        if <uint64_t> (g - tlo) >= <uint64_t> tspan:   # a new table, or no row
            if not table_enter(C, i, h, g):
                R.Q[0] = q
                return i                 # not a row: the state is unusable from here
            tlo, tspan = C.tlo, C.tspan
        if ahead:
            gn = gids[i + LFU_AHEAD // 2]
            if <uint64_t> gn < <uint64_t> total_rows:   # read before its range check
                EMBSIM_PREFETCH(S + rs[2 * gn])      # stale or -1 slots too: harmless
        st = rs + 2 * g
        x = st[1]                        # batch << 1 | missed flag, as in _run_lru_queue
        u0 += x < b2
        x = b2 if x < b2 else x
        s = st[0]
        if S[s].row == <int32_t> g:      # a hit (else not cached: s = -1, the sentinel; or a stale slot)
            h += 1
            st[1] = x
            S[s].count += 1
            S[s].last = tbase + i
            if ReachMode is Recorded:
                R.reach[i] = 0
        else:
            if ReachMode is Recorded:
                R.reach[i] = 1
            u1 += 1 - (x & 1)
            st[1] = x | 1
            st[0] = lfu_ring_fill(&q, <int32_t> g, tbase + i)
            if ahead and q.size == q.cap:        # the next victim, most likely (ring entries: valid slots)
                EMBSIM_PREFETCH(S + q.ring[q.rhead & q.rmask])
    R.h, R.u0, R.u1 = h, u0, u1
    R.Q[0] = q
    return -1


@cython.final
cdef class ReplayState:
    """Every cache of a replay, and the counters it fills.

    Built by ``embsim.sim.replay.replay``; not meant to be built by hand.
    Arrays are owned by this object (numpy) and reached through raw pointers
    inside the nogil loop.
    """
    cdef Level *levels
    cdef Arrays A
    cdef object _keep            # numpy arrays the raw pointers point into
    cdef int n_loc, max_levels, n_tables
    cdef int64_t n_batches
    cdef public int64_t prefetch_rows
    cdef bint top_dynamic            # a single location whose top cache is lru/lfu (link prefetch pays)
    cdef bint one_level              # one location with one lru/lfu cache: the specialised loop
    cdef public bint lru_queue       # ... and it is an LRU: the recency ring (False before the first run: the list)
    cdef public bint lfu_records     # ... and it is an LFU over rows < 2^31: the ring and heap of _run_lfu
    cdef LfuCache lfu                # _run_lfu's slot records, fill ring and heap
    cdef int64_t lfu_clock           # lookups _run_lfu has replayed (its clock)
    cdef int32_t *queue              # LRU ring: row ids in the order of their accesses, -1 where dead
    cdef int64_t qhead, qtail, qcap
    cdef int64_t total_rows
    cdef bint has_rowloc
    cdef const int32_t *rowloc
    cdef int32_t *n_cache
    cdef int32_t *level_of           # [loc, depth]
    cdef int32_t *rs                 # [level depth, total_rows, 2]
    cdef int64_t *offs               # row_offsets + [total_rows]
    cdef int64_t *rbytes             # [table, loc, level]
    cdef int64_t *c_look
    cdef int64_t *c_uniq
    cdef int64_t *c_hit
    cdef int64_t *c_miss
    cdef int64_t *c_bytes
    cdef int64_t *ct_look
    cdef int64_t *ct_hit
    cdef int64_t *ct_miss
    cdef uint8_t *reach              # optional, per lookup: 1 if it reached the backing tier (coalescing)
    cdef object _reach
    cdef int32_t *ustamps            # coalescing in the LRU ring (count_units_in_ring): the last batch
    cdef int64_t *uout               # ... that read each shared unit; distinct units per (batch, size)
    cdef int64_t uK                  # ... unit sizes, their first unit ids in the row state
    cdef int64_t rs_stride           # int32 entries per row of the ring's row state (2, or 4 / 8 with unit ids)
    cdef object _ukeep
    cdef public object lookups, unique_rows, hits, misses, bytes_
    cdef public object t_lookups, t_hits, t_misses

    def __cinit__(self):
        self.levels = NULL
        self.reach = NULL
        self.uout = NULL

    def unit_ids_in_ring(self, int64_t K):
        """Widen the LRU ring's row state to hold K unit ids per row; return it, int32 ``[rows, W]``, to fill.

        Each row's state becomes ``W = 2 + K`` int32 rounded up to 4 or 8 (16
        or 32 B per row instead of 8), so a miss finds its units in the cache
        line its lookup read anyway, not in a second random access to a unit
        map.  The state is returned *unwritten* (its pages are first touched
        by the one pass that fills it): the caller sets columns 0 and 1 to -1
        and column ``2 + k`` to the row's unit id at size k
        (``embsim.sim.coalesce.ring_unit_ids``).  Only before the first
        lookup of a ring replay; ``K = 0`` restores the plain 8-byte state
        (written: -1).
        """
        if not self.lru_queue or self.qtail != 0 or self.uout != NULL or self.reach != NULL:
            raise ValueError("unit_ids_in_ring: only for a fresh LRU-ring replay")
        if K < 0 or K > 6:
            raise ValueError(f"unit_ids_in_ring: {K} unit sizes; at most 6 fit the row state")
        cdef int64_t stride = 2 if K == 0 else 4 if K <= 2 else 8
        cdef int32_t[:, ::1] v
        rs = np.empty((self.total_rows, stride), dtype=np.int32)
        if K == 0:
            rs.fill(-1)
        v = rs
        self._keep["rs"] = rs
        self.rs, self.rs_stride, self.A.rstride = &v[0, 0], stride, stride
        self.levels[0].rs = self.rs      # the linked-list loop (tests) reads the same state
        return rs

    def count_units_in_ring(self, int32_t[::1] stamps, int64_t[:, :, ::1] out):
        """Have the LRU ring count the distinct units its misses read, into ``out`` (int64 ``[n_batches, 1, K]``).

        The unit ids are in the row state (``unit_ids_in_ring(K)``, filled);
        ``stamps``: one per shared unit, -1 at first (the semantics of
        ``_coalesce.count_units``; a row's exclusive units count when the row
        first misses in a batch, the miss flag of its state).  Applies to the
        runs that take the ring (``lru_queue``); the others leave ``out``
        alone and the caller counts their units itself.
        """
        cdef int64_t K = self.rs_stride - 2 if self.rs_stride > 2 else 0
        if K == 0 or out.shape[0] != self.n_batches or out.shape[1] != 1 or out.shape[2] > K \
                or out.shape[2] < 1 or stamps.shape[0] < 1 or self.reach != NULL:
            raise ValueError("count_units_in_ring: no unit ids in the row state, or stamps or out of the wrong shape")
        self._ukeep = (stamps, out)
        self.ustamps, self.uout, self.uK = &stamps[0], &out[0, 0, 0], out.shape[2]

    def record_reach(self, out):
        """From the next ``run`` on write, per lookup i of its chunk, ``out[i] = 1`` if it reached the
        backing tier, else 0 (None: stop recording).  ``out`` covers the chunk given to ``run``."""
        cdef cnp.uint8_t[::1] v
        if out is None:
            self._reach, self.reach = None, NULL
            return
        v = out
        self._reach = out
        self.reach = &v[0] if v.shape[0] else NULL

    def __init__(self, int64_t n_batches, rowloc, int64_t total_rows, row_offsets, rbytes,
                 policies, capacities, depths, loc_of_level, n_cache, pinned):
        """Allocate the state for a replay of ``n_batches`` batches (fed by ``run``, chunk by chunk).

        ``policies``, ``capacities``, ``depths``, ``loc_of_level``: one entry
        per cache level (all locations, location by location, top first);
        ``n_cache``: caches per location; ``pinned``: per cache level, an
        int64 array of pinned global ids (static) or None.
        """
        cdef Py_ssize_t i, j, nc = len(policies)
        cdef int64_t nslots = 0, nbuckets = 0, cap, g
        keep = {}

        def own(name, arr):
            """Keep ``arr`` alive and return it (C contiguous, at least 1 element)."""
            arr = np.ascontiguousarray(arr).reshape(-1)  # a view: counters stay shared
            if arr.size == 0:
                arr = np.zeros(1, dtype=arr.dtype)
            keep[name] = arr
            return arr

        cdef const int64_t[::1] v64c
        cdef int64_t[::1] v64
        cdef int32_t[::1] v32
        cdef const int32_t[::1] v32c
        cdef cnp.uint8_t[::1] lb

        self.has_rowloc = rowloc is not None
        v32c = own("rowloc", np.asarray(rowloc if rowloc is not None else [0], dtype=np.int32)); self.rowloc = &v32c[0]
        self.total_rows = total_rows
        ncache = np.asarray(n_cache, dtype=np.int32)
        v32 = own("n_cache", ncache.copy()); self.n_cache = &v32[0]
        self.n_loc = len(ncache)
        self.max_levels = int(ncache.max()) + 1
        offs = np.asarray(row_offsets, dtype=np.int64)
        self.n_tables = len(offs)
        v64 = own("offs", np.concatenate([offs, [total_rows]]).astype(np.int64)); self.offs = &v64[0]
        v64 = own("rbytes", np.asarray(rbytes, dtype=np.int64).copy()); self.rbytes = &v64[0]
        lvl_of = np.full((self.n_loc, self.max_levels), -1, dtype=np.int32)
        # row state: slot and batch stamp of each row, side by side, per depth; the one-level
        # loops keep one pair per row (the tier's stamp is a flag bit of the cache's, see _run_lru_queue)
        single = (self.n_loc == 1 and nc == 1 and capacities[0] > 0
                  and (policies[0] == P_LRU or policies[0] == P_LFU))
        rs = np.empty((total_rows, 1 if single else self.max_levels, 2), dtype=np.int32)
        rs.fill(-1)
        v32 = own("rs", rs)
        self.rs = &v32[0]
        self.A.rstride = 2 if single else 2 * self.max_levels
        self.rs_stride = 2

        self._keep = keep
        lb = own("levels", np.zeros(max(nc, 1) * sizeof(Level), dtype=np.uint8))
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
            self.levels[i].rs = self.rs + 2 * <int> depths[i]
            lvl_of[loc_of_level[i], depths[i]] = i
            if policies[i] == P_LRU or policies[i] == P_LFU:
                nslots += cap
            if policies[i] == P_LFU:
                nbuckets += cap + 1
                any_lfu = True
        if nslots + nbuckets >= 2 ** 31 - 1:
            raise ValueError(f"caches hold {nslots} rows in all; this kernel addresses at most 2^31 - 1")
        v32 = own("level_of", lvl_of); self.level_of = &v32[0]
        # one LFU over rows < 2^31 (_run_lfu): its slots are 16-byte records, not these arrays
        self.lfu_records = single and policies[0] == P_LFU and total_rows < 2 ** 31
        if self.lfu_records:
            self._lfu_alloc(own, capacities[0])
            nslots, nbuckets, any_lfu = 0, 0, False
        v64 = own("key", np.full(nslots, -1, np.int64)); self.A.key = &v64[0]
        v32 = own("lnk", np.zeros(2 * nslots, np.int32)); self.A.lnk = &v32[0]
        v32 = own("sbucket", np.zeros(nslots if any_lfu else 1, np.int32)); self.A.sbucket = &v32[0]
        lb = own("buckets", np.zeros(max(nbuckets, 1) * sizeof(Bucket), dtype=np.uint8))
        self.A.bk = <Bucket *> &lb[0]

        # static levels: mark the pinned rows that live at the level's location (slot 0)
        cdef int64_t[::1] pin
        for i in range(nc):
            if policies[i] == P_STATIC and pinned[i] is not None:
                pin = np.ascontiguousarray(pinned[i], dtype=np.int64)
                for j in range(pin.shape[0]):
                    g = pin[j]
                    if (not self.has_rowloc) or self.rowloc[g] == loc_of_level[i]:
                        self.levels[i].rs[g * self.A.rstride] = 0

        B = n_batches
        self.n_batches = B
        self.prefetch_rows = DEF_PREFETCH_ROWS
        self.top_dynamic = nc > 0 and (policies[0] == P_LRU or policies[0] == P_LFU)
        self.one_level = self.n_loc == 1 and nc == 1 and self.top_dynamic and capacities[0] > 0
        # the recency queue: a ring of a power of two >= 4 x capacity entries
        self.qcap = 1024
        while nc and self.qcap < 4 * (<int64_t> capacities[0]):
            self.qcap *= 2
        # the ring holds row ids (int32): rows < 2^31, else the linked list of _run_one_level
        self.lru_queue = (self.one_level and policies[0] == P_LRU and self.qcap <= 2 ** 30
                          and total_rows < 2 ** 31)
        if self.lru_queue:
            v32 = own("queue", np.full(self.qcap, -1, np.int32)); self.queue = &v32[0]
        self.qhead = 0
        self.qtail = 0
        shape = (B, self.n_loc, self.max_levels)
        tshape = (self.n_tables, self.n_loc, self.max_levels)
        self.lookups = np.zeros(shape, np.int64)
        self.unique_rows = np.zeros(shape, np.int64)
        self.hits = np.zeros(shape, np.int64)
        self.misses = np.zeros(shape, np.int64)
        self.bytes_ = np.zeros(shape, np.int64)
        self.t_lookups = np.zeros(tshape, np.int64)
        self.t_hits = np.zeros(tshape, np.int64)
        self.t_misses = np.zeros(tshape, np.int64)
        v64 = own("c_look", self.lookups.reshape(-1)); self.c_look = &v64[0]
        v64 = own("c_uniq", self.unique_rows.reshape(-1)); self.c_uniq = &v64[0]
        v64 = own("c_hit", self.hits.reshape(-1)); self.c_hit = &v64[0]
        v64 = own("c_miss", self.misses.reshape(-1)); self.c_miss = &v64[0]
        v64 = own("c_bytes", self.bytes_.reshape(-1)); self.c_bytes = &v64[0]
        v64 = own("ct_look", self.t_lookups.reshape(-1)); self.ct_look = &v64[0]
        v64 = own("ct_hit", self.t_hits.reshape(-1)); self.ct_hit = &v64[0]
        v64 = own("ct_miss", self.t_misses.reshape(-1)); self.ct_miss = &v64[0]

    cdef _lfu_alloc(self, own, int64_t cap):
        """_run_lfu's state: ``cap`` slot records (and the sentinel -1, row -1), 32-byte aligned; the
        fill ring (a power of two >= cap int32, zeros: a prefetch of its head is always a slot); the heap."""
        cdef cnp.uint8_t[::1] lb
        cdef int32_t[::1] v32
        cdef int64_t rn = 1
        lb = own("lfu_slots", np.zeros((cap + 2) * sizeof(LfuSlot), dtype=np.uint8))
        self.lfu.S = (<LfuSlot *> ((<uintptr_t> &lb[0] + 31) & ~(<uintptr_t> 31))) + 1
        (self.lfu.S - 1)[0].row = -1
        while rn < cap:
            rn *= 2
        v32 = own("lfu_ring", np.zeros(rn, dtype=np.int32))
        self.lfu.ring, self.lfu.rmask, self.lfu.rhead, self.lfu.rtail = &v32[0], rn - 1, 0, 0
        lb = own("lfu_heap", np.empty(cap * sizeof(HeapKey), dtype=np.uint8))   # touched as it grows
        self.lfu.heap, self.lfu.hsize = <HeapKey *> &lb[0], 0
        self.lfu.cap, self.lfu.size = cap, 0
        self.lfu_clock = 0

    def run(self, const int64_t[::1] gids_chunk, const int64_t[::1] bounds_chunk, int64_t b0):
        """Replay the next batches from one chunk of the id stream; return -1, or the bad id's position.

        Batch ``b0 + j`` is ``gids_chunk[bounds_chunk[j]:bounds_chunk[j + 1]]``;
        call with consecutive chunks (``b0`` = 0 first, then the next
        unreplayed batch): the cache state carries over from chunk to chunk.
        An id outside ``0 .. total_rows - 1`` stops the replay and its position
        in ``gids_chunk`` is returned (the state is then unusable).

        The loop counts lookups at level 0 and hits at every level; misses
        and the lookups of lower levels follow from them (a level's misses
        are its lookups less its hits, and are the next level's lookups), so
        ``finish()`` derives them once at the end instead of per lookup.
        """
        cdef int64_t nb = bounds_chunk.shape[0] - 1
        if nb < 0 or b0 < 0 or b0 + nb > self.n_batches:
            raise ValueError(f"batches {b0}..{b0 + nb} outside the replay's {self.n_batches}")
        if nb == 0 or bounds_chunk[nb] == bounds_chunk[0]:
            return -1
        if bounds_chunk[0] < 0 or bounds_chunk[nb] > gids_chunk.shape[0]:
            raise ValueError("bounds_chunk outside gids_chunk")
        cdef int64_t i, bad = -1, lo = bounds_chunk[0], hi = bounds_chunk[nb], total_rows = self.total_rows
        cdef const int64_t *ids = &gids_chunk[0]
        if self.reach != NULL and self._reach.shape[0] < hi:
            raise ValueError(f"reach: {self._reach.shape[0]} entries for a chunk of {hi} lookups")
        if self.lru_queue:     # checks the ids itself, where a lookup leaves its table's range
            if self.uout != NULL and self.reach != NULL:
                raise ValueError("the LRU ring counts units (count_units_in_ring) or records the reach, not both")
            return self._run_lru_queue(&gids_chunk[0], &bounds_chunk[0], b0, b0 + nb)
        if self.lfu_records:   # checks the ids itself, likewise
            return self._run_lfu(&gids_chunk[0], &bounds_chunk[0], b0, b0 + nb)
        with nogil:   # every id in range before any is used as an address (one cheap pass)
            for i in range(lo, hi):
                if ids[i] < 0 or ids[i] >= total_rows:
                    bad = i
                    break
        if bad >= 0:
            return bad
        if self.one_level:
            return self._run_one_level(&gids_chunk[0], &bounds_chunk[0], b0, b0 + nb)
        return self._run_general(&gids_chunk[0], &bounds_chunk[0], b0, b0 + nb)

    cdef int64_t _run_general(self, const int64_t *gids, const int64_t *bounds, int64_t b0, int64_t b1) noexcept:
        """``run`` for any hierarchy: every location, every level."""
        cdef int64_t b, i, g, v, cb, ct, R = self.A.rstride, n_ids = bounds[b1 - b0]
        cdef int64_t pf = self.prefetch_rows, pf2 = self.prefetch_rows // 2, bad = -1, total_rows = self.total_rows
        cdef int32_t s2
        cdef int t = 0, loc = 0, nlev, d, served, e, M = self.max_levels, NL = self.n_loc
        cdef int n_tables = self.n_tables
        cdef int32_t bb
        cdef int32_t *st
        cdef Arrays *A = &self.A
        # local copies: the compiler may keep them in registers (stores through
        # the counter pointers could otherwise alias the fields of self)
        cdef const int32_t *rowloc = self.rowloc
        cdef bint has_rowloc = self.has_rowloc, top_dynamic = self.top_dynamic
        cdef int32_t *rs = self.rs
        cdef int32_t *lnk = self.A.lnk
        cdef int64_t *key = self.A.key
        cdef int32_t *n_cache = self.n_cache
        cdef int32_t *level_of = self.level_of
        cdef int64_t *offs = self.offs
        cdef int64_t *rbytes = self.rbytes
        cdef int64_t *c_look = self.c_look
        cdef int64_t *c_uniq = self.c_uniq
        cdef int64_t *c_hit = self.c_hit
        cdef int64_t *c_bytes = self.c_bytes
        cdef int64_t *ct_look = self.ct_look
        cdef int64_t *ct_hit = self.ct_hit
        cdef Level *levels = self.levels
        cdef Level *top = self.levels
        cdef Level *lo
        cdef uint8_t *reach = self.reach
        with nogil:
            for b in range(b0, b1):
                bb = <int32_t> b
                for i in range(bounds[b - b0], bounds[b - b0 + 1]):
                    g = gids[i]
                    if i + pf < n_ids:
                        EMBSIM_PREFETCH(rs + gids[i + pf] * R)
                    if top_dynamic:
                        if i + pf2 < n_ids:
                            s2 = rs[gids[i + pf2] * R]
                            if s2 >= 0:
                                EMBSIM_PREFETCH(lnk + 2 * s2)
                                EMBSIM_PREFETCH(key + s2)
                    if has_rowloc:
                        loc = rowloc[g]
                    t = find_table(offs, n_tables, g, t)
                    nlev = n_cache[loc]
                    served = nlev
                    cb = (b * NL + loc) * M          # counters of (batch, location)
                    ct = (<int64_t> t * NL + loc) * M  # counters of (table, location)
                    c_look[cb] += 1
                    ct_look[ct] += 1
                    st = rs + g * R
                    for d in range(nlev + 1):
                        if st[2 * d + 1] != bb:
                            st[2 * d + 1] = bb
                            c_uniq[cb + d] += 1
                        if d == nlev or probe(A, &levels[level_of[loc * M + d]], g):
                            served = d
                            c_hit[cb + d] += 1
                            ct_hit[ct + d] += 1
                            c_bytes[cb + d] += rbytes[ct + d]
                            break
                    if reach != NULL:
                        reach[i] = served == nlev
                    # fill bottom up; an eviction at depth d back-invalidates depths < d
                    d = served - 1
                    while d >= 0:
                        v = fill(A, &levels[level_of[loc * M + d]], g)
                        if v >= 0:
                            for e in range(d):
                                invalidate(A, &levels[level_of[loc * M + e]], v)
                        d -= 1
                    # A full lower LRU level evicts its head at its next fill and then
                    # back-invalidates the victim in the levels above, reading the
                    # victim's row state: a cold row, so a random memory access.
                    # Prefetch it (and the key of the victim after it) now.
                    for d in range(1, nlev):
                        lo = &levels[level_of[loc * M + d]]
                        if lo.policy == P_LRU and lo.size == lo.cap and lo.head >= 0:
                            EMBSIM_PREFETCH(rs + key[lo.head] * R)
                            s2 = lnk[2 * lo.head + 1]
                            if s2 >= 0:
                                EMBSIM_PREFETCH(key + s2)
                    if top_dynamic and top.head >= 0:
                        # the next victim's slot (its key and links are read at the next miss)
                        EMBSIM_PREFETCH(key + top.head)
                        EMBSIM_PREFETCH(lnk + 2 * top.head)
        return -1

    cdef OneLevelCounts _one_level_counts(self, int64_t lo) noexcept:
        """The counting of a one-level loop at lookup ``lo`` of a chunk, in the first table."""
        cdef OneLevelCounts C
        C.t, C.n_tables, C.offs, C.rbytes, C.total_rows = 0, self.n_tables, self.offs, self.rbytes, self.total_rows
        C.tlo, C.tspan, C.ct, C.rb0, C.rb1 = self.offs[0], self.offs[1] - self.offs[0], 0, self.rbytes[0], self.rbytes[1]
        C.seg, C.sh, C.by0, C.by1 = lo, 0, 0, 0
        C.c_look, C.c_uniq, C.c_hit, C.c_bytes = self.c_look, self.c_uniq, self.c_hit, self.c_bytes
        C.ct_look, C.ct_hit = self.ct_look, self.ct_hit
        return C

    cdef int64_t _run_lru_queue(self, const int64_t *gids, const int64_t *bounds, int64_t b0, int64_t b1) noexcept:
        """``_run_one_level`` for an LRU: a recency ring of row ids instead of slots and a linked list.

        Every access (hit or fill) appends the row id ``g`` to ``queue``, a
        ring of ``qcap`` (a power of two, >= 4 x capacity) int32 entries, and
        records the entry's index in the row's own state, ``rs[RS g]`` (-1:
        not cached; exact, never stale).  A hit overwrites the row's previous
        entry with -1 (dead).  The least recently used row is the first live
        entry from the head: a miss skips the dead entries (each is skipped
        once, a sequential read) and sets the victim's state to -1.  Only if
        the ring fills (many hits and no eviction) are its live entries, at
        most one per cached row, packed together in order.  Same victims as
        a linked list (exact LRU), with no slot array: a hit is three stores
        and a row's cached-or-not is in the state the lookup reads anyway.
        The victim's state is a cold row: the scan prefetches the state of
        the entry ``VICTIM_AHEAD`` behind the head as it passes each entry.
        Needs row ids < 2^31 (``__init__`` checks).  An id outside the rows
        is found where it leaves its table's range (no pass of its own) and
        returned as in ``run``.  The loop (``ring_run``) is compiled once per
        kind of extra work and chosen here, once per call: plain, recording
        the reach, or counting units (``count_units_in_ring``).
        """
        cdef OneLevelCounts C = self._one_level_counts(bounds[0])
        cdef Ring R
        cdef NoExtras plain
        cdef ReachOut ro
        cdef UnitsInState us
        cdef int64_t bad
        R.rs, R.queue, R.qh, R.qt, R.qm = self.rs, self.queue, self.qhead, self.qtail, self.qcap - 1
        R.size, R.cap = self.levels[0].size, self.levels[0].cap
        with nogil:
            if self.uout != NULL:
                us.stamps, us.out, us.K, us.stride = self.ustamps, self.uout, self.uK, self.rs_stride
                bad = ring_run(&R, &C, &us, gids, bounds, b0, b1, self.prefetch_rows)
            elif self.reach != NULL:
                ro.reach = self.reach
                bad = ring_run(&R, &C, &ro, gids, bounds, b0, b1, self.prefetch_rows)
            else:
                bad = ring_run(&R, &C, &plain, gids, bounds, b0, b1, self.prefetch_rows)
        self.qhead, self.qtail, self.levels[0].size = R.qh, R.qt, R.size
        return bad

    cdef int64_t _run_lfu(self, const int64_t *gids, const int64_t *bounds, int64_t b0, int64_t b1) noexcept:
        """``_run_one_level`` for an LFU: no branch on the policy, the LRU ring's counting.

        Same victims as the general loop (``lfu_hit``, ``lfu_fill``), kept by
        a fill ring and a heap of promoted rows instead of frequency buckets
        (``LfuCache``, ``lfu_ring_fill``): a hit adds 1 to its slot's count and
        stamps its clock, and a lookup touches one cache line of slot state.
        Needs row ids < 2^31 (``__init__`` checks).  Counting as
        ``_run_lru_queue`` (``OneLevelCounts``): per-batch counters in locals,
        per-table counts added per run of lookups in one table, an id checked
        only where it leaves its table's range (no pass of its own; returned
        as in ``run``).  A batch is one or two spans (``lfu_span``): the
        lookups whose ids ``LFU_AHEAD`` further on exist, then the chunk's
        last ones, so the loop tests no bound to prefetch and no flag to
        record reach.  Prefetched: the row state ``LFU_AHEAD`` ahead; half as
        far ahead the row's slot record; after a fill, the slot at the ring's
        head (most often the next victim).
        """
        cdef int64_t b, lo, mid, hi, bad = -1, n_ids = bounds[b1 - b0]
        cdef OneLevelCounts C = self._one_level_counts(bounds[0])
        cdef LfuRun R
        R.Q, R.rs, R.reach = &self.lfu, self.rs, self.reach
        R.tbase = self.lfu_clock - bounds[0]
        self.lfu_clock += n_ids - bounds[0]
        with nogil:
            for b in range(b0, b1):
                R.b2, R.h, R.u0, R.u1 = <int32_t> (2 * b), 0, 0, 0
                lo = bounds[b - b0]
                hi = bounds[b - b0 + 1]
                mid = max(lo, min(hi, n_ids - LFU_AHEAD))   # [lo, mid): the ids LFU_AHEAD on exist
                if R.reach == NULL:
                    bad = lfu_span(&R, &C, gids, lo, mid, True, <Unrecorded *> NULL)
                    if bad < 0 and mid < hi:
                        bad = lfu_span(&R, &C, gids, mid, hi, False, <Unrecorded *> NULL)
                else:
                    bad = lfu_span(&R, &C, gids, lo, mid, True, <Recorded *> NULL)
                    if bad < 0 and mid < hi:
                        bad = lfu_span(&R, &C, gids, mid, hi, False, <Recorded *> NULL)
                if bad >= 0:
                    return bad
                batch_store(&C, b, lo, hi, R.h, R.u0, R.u1)
        return -1

    cdef int64_t _run_one_level(self, const int64_t *gids, const int64_t *bounds, int64_t b0, int64_t b1) noexcept:
        """``run`` for the common case: one location, one LRU/LFU cache over its tier.

        Same counters as the general loop, with less work per lookup: no level
        table or depth loop, the per-batch counters summed in locals and stored
        once per batch (a lookup's counters would otherwise be four
        read-modify-writes through memory), the tier's hits derived as lookups
        less cache hits.
        """
        cdef int64_t b, i, g, cb, R = self.A.rstride, n_ids = bounds[b1 - b0]
        cdef int64_t pf = self.prefetch_rows, pf2 = self.prefetch_rows // 2
        cdef int64_t nlook, h, u0, u1, by0, by1
        # per-table counts of the current run of lookups in one table, stored when the table changes
        cdef int64_t ct = 0, tl = 0, th = 0, rb0 = self.rbytes[0], rb1 = self.rbytes[1]
        cdef int32_t s2, bb, x, fresh
        cdef int32_t *st
        cdef int t = 0, n_tables = self.n_tables
        cdef Arrays *A = &self.A
        cdef Level *L = self.levels
        cdef bint lfu = L.policy == P_LFU
        cdef int32_t *rs = self.rs
        cdef int32_t *lnk = self.A.lnk
        cdef int64_t *key = self.A.key
        cdef int64_t *offs = self.offs
        cdef int64_t *rbytes = self.rbytes
        cdef int64_t *c_look = self.c_look
        cdef int64_t *c_uniq = self.c_uniq
        cdef int64_t *c_hit = self.c_hit
        cdef int64_t *c_bytes = self.c_bytes
        cdef int64_t *ct_look = self.ct_look
        cdef int64_t *ct_hit = self.ct_hit
        cdef uint8_t *reach = self.reach
        with nogil:
            for b in range(b0, b1):
                bb = <int32_t> b
                nlook = bounds[b - b0 + 1] - bounds[b - b0]
                h = 0
                u0 = 0
                u1 = 0
                by0 = 0
                by1 = 0
                for i in range(bounds[b - b0], bounds[b - b0 + 1]):
                    g = gids[i]
                    if i + pf < n_ids:
                        EMBSIM_PREFETCH(rs + gids[i + pf] * R)
                    if i + pf2 < n_ids:      # no branch on s2: a prefetch of key[-1] is harmless
                        s2 = rs[gids[i + pf2] * R]
                        EMBSIM_PREFETCH(lnk + 2 * s2)
                        EMBSIM_PREFETCH(key + s2)
                    if not (offs[t] <= g < offs[t + 1]):
                        # a new table: store the counts of the previous one
                        ct_look[ct] += tl
                        ct_hit[ct] += th
                        ct_hit[ct + 1] += tl - th
                        tl = 0
                        th = 0
                        t = find_table(offs, n_tables, g, t)
                        ct = <int64_t> t * 2             # counters of (table, location 0): [cache, tier]
                        rb0 = rbytes[ct]
                        rb1 = rbytes[ct + 1]
                    tl += 1
                    st = rs + g * R
                    x = st[1]                        # batch << 1 | missed flag, as in _run_lru_queue
                    fresh = (x >> 1) != bb
                    u0 += fresh
                    x = (bb << 1) if fresh else x
                    if probe(A, L, g):
                        h += 1
                        th += 1
                        by0 += rb0
                        st[1] = x
                        if reach != NULL:
                            reach[i] = 0
                    else:
                        if reach != NULL:
                            reach[i] = 1
                        u1 += 1 - (x & 1)
                        st[1] = x | 1
                        by1 += rb1
                        fill(A, L, g)                    # one level: the victim is not looked up
                    if not lfu and L.head >= 0:
                        EMBSIM_PREFETCH(key + L.head)
                        EMBSIM_PREFETCH(lnk + 2 * L.head)
                cb = b * 2
                c_look[cb] += nlook
                c_uniq[cb] += u0
                c_uniq[cb + 1] += u1
                c_hit[cb] += h
                c_hit[cb + 1] += nlook - h
                c_bytes[cb] += by0
                c_bytes[cb + 1] += by1
            ct_look[ct] += tl
            ct_hit[ct] += th
            ct_hit[ct + 1] += tl - th
        return -1

    def finish(self):
        """Derive misses and the lookups of lower levels (call once, after the last run)."""
        look, hit, miss = self.lookups, self.hits, self.misses
        tlook, thit, tmiss = self.t_lookups, self.t_hits, self.t_misses
        for loc in range(self.n_loc):
            for d in range(self.n_cache[loc]):
                miss[:, loc, d] = look[:, loc, d] - hit[:, loc, d]
                look[:, loc, d + 1] = miss[:, loc, d]
                tmiss[:, loc, d] = tlook[:, loc, d] - thit[:, loc, d]
                tlook[:, loc, d + 1] = tmiss[:, loc, d]
