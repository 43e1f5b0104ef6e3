# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Count the distinct access units (lines, sectors, bursts, pages) a batch reads, per location and unit size.

The kernel of ``embsim.sim.coalesce`` (public API, the unit map it reads and
its semantics there; the pure-Python ``embsim.sim.coalesce.reference_units``
is its specification).

Per row ``g`` and unit size ``k``, ``unit_map[g, k] = (first, word)``, two
int32 side by side (the row's K sizes fill 8 K bytes of one cache line):
``word``'s low 16 bits are the number of *shared* units the row touches, its
high 16 bits the row's location.  Two kinds of unit:

* *shared* (``first >= 0``): units several rows may share; ``first`` is the
  dense number of the row's first unit among all shared units.  One int32
  stamp per unit holds the last batch that read it: a unit read twice in a
  batch counts once.
* *exclusive* (``first < 0``): units no other row touches (a row at least as
  large as the unit, aligned to it); the row touches ``-first - 1`` of them,
  new exactly when the row is, which one int32 stamp per row tells.
  Exclusive units take no stamp each, so a 1-byte granularity costs nothing.

The stamps persist between calls (the replay feeds the stream chunk by
chunk).  The loop walks the lookups that reach the backing tier, batch by
batch, with no Python object per lookup and without the GIL, prefetching the
unit map of the next lookup ``PREFETCH`` ahead that will reach the tier (the
stamps of shared units are few, one per page or sector, and stay in cache).
"""
import numpy as np
from libc.stdint cimport int32_t, int64_t, uint8_t

cdef extern from *:
    """
    #define EMBSIM_PREFETCH(p) __builtin_prefetch((const void *)(p), 1, 3)
    """
    void EMBSIM_PREFETCH(const void *p) noexcept nogil

DEF PREFETCH = 16


cdef inline int64_t unit_of(int64_t a, int64_t S, int64_t sh) noexcept nogil:
    """floor(a / S) for a >= 0: a shift when S is a power of two (sh = log2 S), else a division."""
    return a >> sh if sh >= 0 else a // S


def count_units(const int64_t[::1] ids, const int64_t[::1] bounds, const int32_t[:, :, ::1] unit_map,
                const uint8_t[::1] reach, bint use_reach, int32_t[::1] stamps, int32_t[::1] row_stamps,
                int64_t first_batch, int64_t[:, :, ::1] out, bint any_exclusive):
    """Add the distinct units read per (batch, location, size) to ``out`` (int64 ``[batches, locations, K]``).

    ``ids``: row ids in access order; ``bounds``: batch starts (B + 1);
    ``unit_map``: ``[rows, K, 2]`` as in the module docstring; ``reach``: per
    lookup, nonzero if it reached the backing tier (read only if
    ``use_reach``); ``stamps`` (one per shared unit) and ``row_stamps`` (one
    per row if ``any_exclusive``) start at -1 and persist between calls:
    batch ``b`` of this call is stamped ``first_batch + b``.
    """
    cdef Py_ssize_t B = bounds.shape[0] - 1, K = unit_map.shape[1], n = ids.shape[0]
    cdef Py_ssize_t b, i, k, j, L = out.shape[1]
    cdef int64_t g, cb
    cdef int32_t u, w, stamp_b
    cdef bint new_row
    if B == 0 or L == 0 or K == 0 or n == 0:
        return
    if out.shape[0] < B or out.shape[2] != K:
        raise ValueError(f"out: shape {out.shape[0]}x{out.shape[1]}x{out.shape[2]} for {B} batches x {K} sizes")
    cdef int64_t *c = &out[0, 0, 0]
    cdef int32_t *st = &stamps[0]
    cdef int32_t *rst = &row_stamps[0]
    cdef const int32_t *um = &unit_map[0, 0, 0]
    cdef Py_ssize_t stride = 2 * K
    with nogil:
        for b in range(B):
            stamp_b = <int32_t> (first_batch + b)
            for i in range(bounds[b], bounds[b + 1]):
                if i + PREFETCH < n and (not use_reach or reach[i + PREFETCH]):
                    EMBSIM_PREFETCH(um + ids[i + PREFETCH] * stride)
                    if any_exclusive:
                        EMBSIM_PREFETCH(rst + ids[i + PREFETCH])
                if use_reach and reach[i] == 0:
                    continue
                g = ids[i]
                w = um[g * stride + 1]
                cb = (b * L + (w >> 16)) * K
                new_row = False
                if any_exclusive and rst[g] != stamp_b:
                    rst[g] = stamp_b
                    new_row = True
                for k in range(K):
                    u = um[g * stride + 2 * k]
                    if u < 0:
                        if new_row:
                            c[cb + k] += -u - 1
                        continue
                    for j in range(um[g * stride + 2 * k + 1] & 0xFFFF):
                        if st[u + j] != stamp_b:
                            st[u + j] = stamp_b
                            c[cb + k] += 1


def build_unit_map(const int64_t[::1] addr, const int64_t[::1] length, const int32_t[::1] loc,
                   const int64_t[::1] order, bint in_order, const int64_t[:, ::1] sizes,
                   const int64_t[::1] n_sizes, int32_t[:, :, ::1] out):
    """Fill ``out`` (int32 ``[rows, K, 2]``, the unit map of the module docstring); return (shared units, any exclusive).

    ``order``: the rows sorted by (location, address), unless ``in_order``
    (they already are; ``order`` is then not read); ``sizes[l, k]``: unit
    sizes of location l (``n_sizes[l]`` of them).  Two passes over the rows
    in that order: the first finds the sizes at which two rows of a location
    share a unit, the second, size by size, numbers the shared units densely (a row's units
    stay consecutive) and writes every entry.  Returns -1 shared units if two
    rows overlap in bytes, -2 if a shared span does not fit 16 bits.
    """
    cdef Py_ssize_t R = addr.shape[0], K = out.shape[1], L = sizes.shape[0], i, k
    cdef int64_t g, prev, l, S, f, la, dense = 0, span, share
    shared_np = np.zeros((max(L, 1), max(K, 1)), dtype=np.uint8)
    cdef uint8_t[:, ::1] shared = shared_np
    # log2 of each power-of-two size (-1 for others): a 64-bit division per row and size
    # cost most of the map's time (every size the tiers count is a power of two)
    sh_np = np.full((max(L, 1), max(K, 1)), -1, dtype=np.int64)
    for l in range(L):
        for k in range(n_sizes[l]):
            if sizes[l, k] > 0 and sizes[l, k] & (sizes[l, k] - 1) == 0:
                sh_np[l, k] = int(sizes[l, k]).bit_length() - 1
    cdef int64_t[:, ::1] shift = sh_np
    cdef bint exclusive = False
    with nogil:
        prev = -1
        for i in range(R):                       # pass 1: which (location, size) has shared units
            g = i if in_order else order[i]
            l = loc[g]
            if prev >= 0 and loc[prev] == l and addr[g] < addr[prev] + length[prev]:
                dense = -1
                break
            for k in range(n_sizes[l]):
                S = sizes[l, k]
                f = unit_of(addr[g], S, shift[l, k])
                if prev >= 0 and loc[prev] == l and f <= unit_of(addr[prev] + length[prev] - 1, S, shift[l, k]):
                    shared[l, k] = 1
            prev = g
        for k in range(K if dense == 0 else 0):  # pass 2, size by size: dense numbers and the entries
            prev = -1
            la = -1
            for i in range(R):
                g = i if in_order else order[i]
                l = loc[g]
                if prev < 0 or loc[prev] != l:
                    la = -1                      # a new location: no unit to share with
                out[g, k, 1] = <int32_t> (l << 16)
                prev = g
                if k >= n_sizes[l]:
                    out[g, k, 0] = -1
                    continue
                S = sizes[l, k]
                f = unit_of(addr[g], S, shift[l, k])
                span = unit_of(addr[g] + length[g] - 1, S, shift[l, k]) - f + 1
                if not shared[l, k]:
                    out[g, k, 0] = <int32_t> (-(span + 1))
                    exclusive = True
                    continue
                if span >= 65536:
                    dense = -2
                    break
                share = 1 if f == la else 0
                out[g, k, 0] = <int32_t> (dense - share)
                out[g, k, 1] = <int32_t> ((l << 16) + span)
                dense += span - share
                la = f + span - 1
            if dense < 0:
                break
    return dense, exclusive
