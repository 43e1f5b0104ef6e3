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


cdef struct UnitSize:
    # unit size k of location l (entry l * K + k), hoisted out of the rows' loops
    int64_t S                # bytes (0: location l counts fewer sizes)
    int64_t sh               # log2 S for a power of two (a shift), else -1 (a division)
    bint shared              # two rows of l share a unit of this size


cdef inline int64_t unit_of(int64_t a, int64_t S, int64_t sh) noexcept nogil:
    """floor(a / S) for a >= 0: a shift when S is a power of two (sh = log2 S), else a division."""
    return a >> sh if sh >= 0 else a // S


cdef struct Rows:
    const int64_t *addr
    const int64_t *length
    const int32_t *loc       # NULL: every row at location 0
    const int64_t *order     # NULL: the rows are in (location, address) order already
    Py_ssize_t n


cdef inline int64_t row_error(int64_t a, int64_t n, int64_t limit, int64_t *pend) noexcept nogil:
    """0 for a row [a, a + n) in range and after the previous row's last byte ``pend`` (then updated),
    -3 for an address or length out of range, -1 for rows that overlap (the map kernels' codes)."""
    if a < 0 or n <= 0 or a >= limit or n >= limit - a:
        return -3
    if a <= pend[0]:
        return -1
    pend[0] = a + n - 1
    return 0


cdef inline int64_t row_at(const Rows *r, Py_ssize_t i) noexcept nogil:
    return i if r.order == NULL else r.order[i]


cdef inline int32_t loc_of(const Rows *r, int64_t g) noexcept nogil:
    return 0 if r.loc == NULL else r.loc[g]


cdef void find_shared(const Rows *r, UnitSize *us, Py_ssize_t K, const int64_t *n_sizes, Py_ssize_t L) noexcept nogil:
    """Mark the sizes at which two consecutive rows of a location share a unit; stop when all are."""
    cdef Py_ssize_t i, k, left = 0
    cdef int64_t g, prev = -1, pend = 0
    cdef int32_t l, pl = -1
    cdef UnitSize *u
    for l in range(L):
        left += n_sizes[l]
    for i in range(r.n):
        if left == 0:
            break
        g = row_at(r, i)
        l = loc_of(r, g)
        if l == pl:
            for k in range(n_sizes[l]):
                u = &us[l * K + k]
                if not u.shared and unit_of(r.addr[g], u.S, u.sh) <= unit_of(pend, u.S, u.sh):
                    u.shared = True
                    left -= 1
        pl = l
        pend = r.addr[g] + r.length[g] - 1


cdef int64_t number_units(const Rows *r, const UnitSize *us, Py_ssize_t K, Py_ssize_t k, int64_t dense,
                          int32_t *first, Py_ssize_t fs, int32_t *word, Py_ssize_t ws,
                          bint *exclusive) noexcept nogil:
    """Write the entries of size k of every row (``first[g * fs]``, ``word[g * ws]``) from unit
    number ``dense`` on; return the next number, or -1 (rows overlap), -2 (a span over 16 bits), -3 (an
    address or length out of range; checked at k = 0).

    Everything the loop reads is in locals: extensions build with -fno-strict-aliasing, so a field
    read through a pointer would be read again after every store of an entry."""
    cdef const int64_t *addr = r.addr
    cdef const int64_t *length = r.length
    cdef const int32_t *loc = r.loc
    cdef const int64_t *order = r.order
    cdef Py_ssize_t i, n_rows = r.n
    cdef int64_t err, g, a, n, f, span, share, la = -1, pend = 0, limit = (<int64_t> 1) << 62
    cdef int64_t S = 0, sh = 0
    cdef bint shared = False, excl = False, check = k == 0
    cdef int32_t l = 0, pl = -1, lw = 0
    for i in range(n_rows):
        g = i if order == NULL else order[i]
        if loc != NULL:
            l = loc[g]
        a = addr[g]
        n = length[g]
        if l != pl:                  # a new location: its size k, no unit to share, no row before
            pl, lw, la, pend = l, l << 16, -1, -1
            S, sh, shared = us[l * K + k].S, us[l * K + k].sh, us[l * K + k].shared
        if check:
            err = row_error(a, n, limit, &pend)
            if err:
                return err
        if S == 0:                   # location l counts fewer sizes
            first[g * fs] = -1
            word[g * ws] = lw
            continue
        f = unit_of(a, S, sh)
        span = unit_of(a + n - 1, S, sh) - f + 1
        if not shared:
            first[g * fs] = <int32_t> (-(span + 1))
            word[g * ws] = lw
            excl = True
            continue
        if span >= 65536:
            return -2
        share = f == la
        first[g * fs] = <int32_t> (dense - share)
        word[g * ws] = <int32_t> (lw + span)
        dense += span - share
        la = f + span - 1
    if excl:
        exclusive[0] = True
    return dense


cdef int64_t number_in_order(const int64_t *addr, const int64_t *length, Py_ssize_t n_rows, int64_t sh,
                             int64_t dense, int32_t *first, Py_ssize_t fs, int32_t *word, Py_ssize_t ws,
                             bint check) noexcept nogil:
    """``number_units`` for the common case: rows in address order at one location, a shared size of
    2^sh bytes (no order, location or division to look up per row)."""
    cdef Py_ssize_t i
    cdef int64_t err, a, n, f, e, share, la = -1, pend = -1, limit = (<int64_t> 1) << 62
    for i in range(n_rows):
        a = addr[i]
        n = length[i]
        if check:
            err = row_error(a, n, limit, &pend)
            if err:
                return err
        f = a >> sh
        e = (a + n - 1) >> sh
        if e - f >= 65535:
            return -2
        share = f == la
        first[0] = <int32_t> (dense - share)
        first += fs
        word[0] = <int32_t> (e - f + 1)
        word += ws
        dense += e - f + 1 - share
        la = e
    return dense


def build_unit_map(const int64_t[::1] addr, const int64_t[::1] length, const int32_t[::1] loc, bint one_location,
                   const int64_t[::1] order, bint in_order, const int64_t[:, ::1] sizes,
                   const int64_t[::1] n_sizes, int32_t[:, :] first, int32_t[:, :] word):
    """Fill ``first`` and ``word``, int32 ``[rows, K]`` views (the unit map of the module docstring is
    ``[rows, K, 2]``: its two halves); return (shared units, any exclusive).

    ``loc`` is not read if ``one_location`` (every row at location 0);
    ``order``: the rows sorted by (location, address), unless ``in_order``
    (they already are; ``order`` is then not read); ``sizes[l, k]``: unit
    sizes of location l (``n_sizes[l]`` of them).  First the sizes at which
    two rows of a location share a unit (a scan that stops once every size
    does), then, size by size, one pass that numbers the shared units densely
    (a row's units stay consecutive) and writes every entry.  Returns -1
    shared units if two rows overlap in bytes, -2 if a shared span does not
    fit 16 bits, -3 if an address is negative or beyond 2^62 or a length not
    positive.
    """
    cdef Py_ssize_t K = first.shape[1], L = sizes.shape[0], k, l
    cdef int64_t dense = 0
    cdef bint exclusive = False
    cdef Rows r
    if addr.shape[0] == 0:
        return 0, False
    if addr.shape[0] != first.shape[0] or sizes.shape[1] != K or word.shape[0] != first.shape[0] \
            or word.shape[1] != K:
        raise ValueError("build_unit_map: first / word: one row per address, K sizes")
    us_np = np.zeros(max(L * K, 1) * sizeof(UnitSize), dtype=np.uint8)
    cdef uint8_t[::1] usb = us_np
    cdef UnitSize *us = <UnitSize *> &usb[0]
    for l in range(L):
        for k in range(n_sizes[l]):
            us[l * K + k].S = sizes[l, k]
            us[l * K + k].sh = int(sizes[l, k]).bit_length() - 1 if sizes[l, k] & (sizes[l, k] - 1) == 0 else -1
    r.addr, r.length, r.n = &addr[0], &length[0], addr.shape[0]
    r.loc = NULL if one_location else &loc[0]
    r.order = NULL if in_order else &order[0]
    cdef int32_t *fp = &first[0, 0]
    cdef int32_t *wp = &word[0, 0]
    cdef Py_ssize_t fs = first.strides[0] // 4, fk = first.strides[1] // 4
    cdef Py_ssize_t ws = word.strides[0] // 4, wk = word.strides[1] // 4
    with nogil:
        find_shared(&r, us, K, &n_sizes[0], L)
        for k in range(K):
            if r.order == NULL and r.loc == NULL and us[k].shared and us[k].sh >= 0:
                dense = number_in_order(r.addr, r.length, r.n, us[k].sh, dense, fp + k * fk, fs,
                                        wp + k * wk, ws, k == 0)
            else:
                dense = number_units(&r, us, K, k, dense, fp + k * fk, fs, wp + k * wk, ws, &exclusive)
            if dense < 0:
                break
    return dense, exclusive


cdef int64_t ring_ids_pass(const Rows *r, const UnitSize *us, Py_ssize_t K, int32_t *o, Py_ssize_t W) noexcept nogil:
    """The pass of ``ring_unit_ids`` over the rows in address order (its return codes).

    What the loop reads is in locals (extensions build with -fno-strict-aliasing: a field read
    through a pointer would be read again after every store of an id)."""
    cdef const int64_t *addr = r.addr
    cdef const int64_t *length = r.length
    cdef const int64_t *order = r.order
    cdef Py_ssize_t i, k, n_rows = r.n
    cdef int64_t err, g, a, n, f, e, pend = -1, dense = 0, limit = (<int64_t> 1) << 62
    cdef int64_t S[8]
    cdef int64_t sh[8]
    cdef bint shared[8]
    cdef int64_t last[8]             # per size: the last unit seen, and its id
    cdef int32_t cur[8]
    cdef int32_t *row
    cdef bint wide = False
    for k in range(K):
        S[k], sh[k], shared[k] = us[k].S, us[k].sh, us[k].shared
        last[k] = -1
        cur[k] = -1
    for i in range(n_rows):
        g = i if order == NULL else order[i]
        a = addr[g]
        n = length[g]
        err = row_error(a, n, limit, &pend)
        if err:
            return err
        row = o + g * W
        row[0] = -1                  # the ring's empty state: not cached, never seen
        row[1] = -1
        row += 2
        for k in range(K):
            f = unit_of(a, S[k], sh[k])
            e = unit_of(pend, S[k], sh[k])
            if not shared[k]:
                row[k] = <int32_t> (-(e - f + 2))
            elif e != f:
                wide = True          # the ring cannot count it, but every row is still checked
            else:
                if f != last[k]:
                    last[k] = f
                    cur[k] = <int32_t> dense
                    dense += 1
                row[k] = cur[k]
    return -4 if wide else dense


def ring_unit_ids(const int64_t[::1] addr, const int64_t[::1] length, const int64_t[::1] order, bint in_order,
                  const int64_t[::1] sizes, int32_t[:, ::1] out):
    """The unit ids of rows at one location in one pass over the rows, for the LRU ring's row state.

    ``out`` int32 ``[rows, W]``: columns 0 and 1 are set to -1 (the ring's
    empty state, written in the same pass), column ``2 + k``
    gets the first word of the row's unit map entry at size ``sizes[k]``:
    ``-(span + 1)`` at a size where no two rows share a unit (exclusive
    units), else the row's one shared unit.  Shared units are numbered
    densely in address order over all sizes together (distinct for distinct
    (size, unit); not a unit map's size-by-size numbers, which keep a wider
    row's units consecutive).  ``order``: the rows by address unless
    ``in_order``.  Returns the number of shared units, or -1 (rows overlap),
    -3 (an address or length out of range), -4 (a shared entry spans
    several units: the ring cannot count it).
    """
    cdef Py_ssize_t R = addr.shape[0], K = sizes.shape[0], k
    cdef int64_t n_sizes = K, dense
    if R == 0:
        return 0
    if K > 8 or 2 + K > out.shape[1] or out.shape[0] != R or length.shape[0] != R:
        raise ValueError("ring_unit_ids: out has too few columns or rows, or more than 8 sizes")
    us_np = np.zeros(K * sizeof(UnitSize), dtype=np.uint8)
    cdef uint8_t[::1] usb = us_np
    cdef UnitSize *us = <UnitSize *> &usb[0]
    for k in range(K):
        us[k].S = sizes[k]
        us[k].sh = int(sizes[k]).bit_length() - 1 if sizes[k] & (sizes[k] - 1) == 0 else -1
    cdef Rows r
    r.addr, r.length, r.n, r.loc = &addr[0], &length[0], R, NULL
    r.order = NULL if in_order else &order[0]
    with nogil:
        find_shared(&r, us, K, &n_sizes, 1)
        dense = ring_ids_pass(&r, us, K, &out[0, 0], out.shape[1])
    return dense
