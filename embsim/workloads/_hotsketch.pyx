# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3, initializedcheck=False
"""HotSketch kernels (CAFE, SIGMOD 2024): buckets of 4 (key, count) slots kept in count order.

State (arrays owned by ``embsim.workloads.hotsketch.HotSketch``):
keys int64 [buckets, 4] (-1 = empty), counts float64 [buckets, 4], and
stats int64 [5] = insertions, promotions, demotions, decays, dropped.

Insert x: the bucket is ``bucket_of(x)``.  If x is in it, its count grows by
one; else it takes the first empty slot with count 1; else, if the last slot
(the smallest count) is not hot, x replaces it and inherits that count plus
one (the SpaceSaving rule HotSketch uses); if even the smallest is hot, x is
not recorded (``dropped``: hot features keep their rows, as in CAFE's code).
The slot then moves up past every slot with a smaller count, so slots stay in
falling count order (ties keep their order).  A feature is hot while its
count is >= threshold: crossing up is a promotion, decaying below a
demotion.  Every ``decay_every`` insertions all counts are multiplied by
``decay``.
"""
from libc.stdint cimport int64_t, uint64_t

from embsim.workloads._hash cimport hrow

DEF SLOTS = 4


cdef inline int64_t bucket_of(int64_t key, uint64_t seed, uint64_t n) noexcept nogil:
    """(high 32 bits of mix64(key + seed * golden)) * n >> 32: a bucket in [0, n) for n < 2^32 (``_hash.pxd``)."""
    return hrow(key, seed, n)


def buckets_of(const int64_t[::1] keys, uint64_t seed, uint64_t n):
    """bucket_of for every key (int64 array), for the Python reference and the tests."""
    import numpy as np
    out = np.empty(keys.shape[0], dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(keys.shape[0]):
            o[i] = bucket_of(keys[i], seed, n)
    return out


def insert_many(const int64_t[::1] ids, int64_t[:, ::1] keys, double[:, ::1] counts, int64_t[::1] stats,
                uint64_t seed, double threshold, double decay, int64_t decay_every):
    """Insert ``ids`` in order into the sketch state (see the module docstring)."""
    cdef Py_ssize_t i, s, j, b, nb = keys.shape[0]
    cdef int64_t x, kt
    cdef double before, ct, c
    cdef int64_t inserted = stats[0], promo = stats[1], demo = stats[2], decays = stats[3], dropped = stats[4]
    with nogil:
        for i in range(ids.shape[0]):
            x = ids[i]
            b = bucket_of(x, seed, <uint64_t>nb)
            j = -1
            for s in range(SLOTS):
                if keys[b, s] == x:
                    j = s
                    break
            if j >= 0:
                before = counts[b, j]
                counts[b, j] = before + 1.0
            else:
                for s in range(SLOTS):
                    if keys[b, s] == -1:
                        j = s
                        break
                if j >= 0:
                    before = 0.0
                    keys[b, j] = x
                    counts[b, j] = 1.0
                elif counts[b, SLOTS - 1] >= threshold:
                    dropped += 1                   # every slot is hot: x is not recorded
                else:
                    j = SLOTS - 1
                    before = 0.0
                    keys[b, j] = x
                    counts[b, j] = counts[b, j] + 1.0
            if j >= 0 and before < threshold <= counts[b, j]:
                promo += 1
            while j > 0 and counts[b, j] > counts[b, j - 1]:     # j = -1 (dropped) skips this
                kt = keys[b, j - 1]
                keys[b, j - 1] = keys[b, j]
                keys[b, j] = kt
                ct = counts[b, j - 1]
                counts[b, j - 1] = counts[b, j]
                counts[b, j] = ct
                j -= 1
            inserted += 1
            if decay_every > 0 and inserted % decay_every == 0:
                decays += 1
                for b in range(nb):
                    for s in range(SLOTS):
                        c = counts[b, s]
                        counts[b, s] = c * decay
                        if keys[b, s] != -1 and c >= threshold > counts[b, s]:
                            demo += 1
    stats[0], stats[1], stats[2], stats[3], stats[4] = inserted, promo, demo, decays, dropped
