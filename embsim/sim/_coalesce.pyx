# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Count the distinct access units (lines, sectors, bursts, pages) a batch reads, per location and unit size.

The kernel of ``embsim.sim.coalesce`` (public API and semantics there; the
pure-Python ``embsim.sim.coalesce.reference_units`` is its specification).

Per row ``g`` the caller gives, for each unit size ``k`` of the row's
location, the first unit the row touches (a global unit number: each
(location, size) owns its own range) and how many consecutive units it
spans, side by side in ``unit_map[g, k] = (first, span)`` so one lookup
reads one cache line of it.  The loop walks the lookups that reach the backing tier, batch by
batch, and marks each unit with the number of the batch that last read it:
a unit read twice in one batch is counted once.  One int32 stamp per unit,
no Python object per lookup, no GIL.

Memory: 16 bytes per (row, unit size) for the row's first unit and span,
4 bytes per unit of every location for the stamps.
"""
import numpy as np
from libc.stdint cimport int32_t, int64_t, uint8_t

cdef extern from *:
    """
    #define EMBSIM_PREFETCH(p) __builtin_prefetch((const void *)(p), 1, 3)
    """
    void EMBSIM_PREFETCH(const void *p) noexcept nogil

DEF PREFETCH = 16


def count_units(const int64_t[::1] ids, const int64_t[::1] bounds, const int32_t[::1] row_location,
                const int64_t[:, :, ::1] unit_map, const uint8_t[::1] reach,
                bint use_reach, int64_t total_units, int n_locations):
    """Distinct units read per (batch, location, size): int64 ``[batches, n_locations, K]``.

    ``ids``: row ids in access order; ``bounds``: batch starts (B + 1);
    ``row_location``: location of each row; ``unit_map``: ``[rows, K, 2]``,
    the global number of the first unit each row touches at size k and the
    number of units it spans (span 0: the row's location has no size k);
    ``reach``: per lookup, nonzero if it reached the backing tier (read
    only if ``use_reach``); ``total_units``: units of all (location, size)
    ranges.
    """
    cdef Py_ssize_t B = bounds.shape[0] - 1, K = unit_map.shape[1], n = ids.shape[0]
    cdef Py_ssize_t b, i, k, j, pf2 = PREFETCH // 2
    cdef int64_t g, u, s, cb
    cdef int32_t stamp_b
    out = np.zeros((B, n_locations, K), dtype=np.int64)
    stamps = np.full(max(total_units, 1), -1, dtype=np.int32)
    cdef int64_t[:, :, ::1] cnt = out
    cdef int32_t[::1] st = stamps
    cdef int64_t *c = &cnt[0, 0, 0] if B > 0 and n_locations > 0 and K > 0 else NULL
    if c == NULL or n == 0:
        return out
    with nogil:
        for b in range(B):
            stamp_b = <int32_t> b
            for i in range(bounds[b], bounds[b + 1]):
                # the row's unit map far ahead, its first unit's stamp half as far
                if i + PREFETCH < n:
                    EMBSIM_PREFETCH(&unit_map[ids[i + PREFETCH], 0, 0])
                    EMBSIM_PREFETCH(&row_location[ids[i + PREFETCH]])
                if i + pf2 < n:
                    u = unit_map[ids[i + pf2], 0, 0]
                    if u >= 0:
                        EMBSIM_PREFETCH(&st[u])
                if use_reach and reach[i] == 0:
                    continue
                g = ids[i]
                cb = (b * n_locations + row_location[g]) * K
                for k in range(K):
                    u = unit_map[g, k, 0]
                    s = unit_map[g, k, 1]
                    for j in range(s):
                        if st[u + j] != stamp_b:
                            st[u + j] = stamp_b
                            c[cb + k] += 1
    return out
