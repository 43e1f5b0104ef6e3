# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3, initializedcheck=False
"""Logical lookups to the physical rows a row-sharing representation reads (see ``physical.py``).

Per table a kind code and parameters (``spec`` int64 [T, 8]):

    0 identity   row = x
    1 hash       row = h(x, seed) mod m                                   (m = p0)
    2 qr         rows = x // m, q + x % m                                 (m = p0, q = p1)
    3 cafe       hot: its row v from the map; medium (v = -2): base_l + h(x, seed + 1 + l) mod m
                 for each of L levels; cold (not in the map): base_0 + h(x, seed + 1) mod m
                                                                          (p0 = hot rows, p1 = m per level, p2 = L)
    4 memrec     k rows h(x, seed + j) mod m_t, then m_t + h(x, seed + 99) mod m_w   (p0 = m_t, p1 = m_w, p2 = k)

``p7`` is the seed; ``h(x, s) mod n`` is ``_hash.hrow`` (multiply-shift of
the high 32 bits of one splitmix64, shared with HotSketch through
``embsim/workloads/_hash.pxd``).  CAFE's map is open addressing (linear
probing) over ``hot_map``, int64 (key, value) pairs side by side so a probe
reads one cache line, from entry ``map_base[t]`` with ``map_mask[t] + 1``
entries (a power of two), key -1 = empty.  A key's first probe is the low
bits of the same hash whose high bits give its cold row, so a cold lookup
costs one hash, and the hash of the lookup ``PREFETCH_AHEAD`` ahead is
computed once, kept in a ring, and its map slot prefetched.

Speed (``bench/compression.py``): every kind but multi-level CAFE reads a
fixed number of rows per lookup, so a (batch, table) segment is one tight
loop over its ids with no per-sample branch, written straight into the
caller's output; QR's division by the runtime m is a multiply by 1/m in
double precision corrected to the exact quotient.
"""
from libc.stdint cimport int64_t, int32_t, uint64_t
from libc.string cimport memcpy

from embsim.workloads._hash cimport hkey, hrow, hscale

DEF HOT_MEDIUM = -2
DEF PREFETCH_AHEAD = 16      # CAFE: the hot-map slot of the lookup this far ahead is prefetched
DEF RING = 16                # = PREFETCH_AHEAD: the ring of hashes computed ahead
DEF EXACT_DOUBLE_BITS = 52     # below 2^52, x * (1/m) is within one of x // m

cdef extern from *:
    """
    #define EMBSIM_PHYS_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
    """
    void EMBSIM_PHYS_PREFETCH(const void *p) noexcept nogil


cdef inline int64_t probe_h(const int64_t* hm, int64_t base, uint64_t mask, int64_t x, uint64_t h) noexcept nogil:
    """The map's value of x (whose seeded hash is h), or -1 when x is not in it."""
    cdef uint64_t i = h & mask
    cdef int64_t k
    while True:
        k = hm[2 * (base + <int64_t>i)]
        if k == x:
            return hm[2 * (base + <int64_t>i) + 1]
        if k == -1:
            return -1
        i = (i + 1) & mask


def map_insert(int64_t[::1] hm, int64_t base, uint64_t mask, uint64_t seed, const int64_t[::1] keys,
               const int64_t[::1] vals):
    """Insert distinct ``keys`` with ``vals`` into the map at entry ``base`` (mask + 1 > len(keys) entries);
    ``seed`` is the table's (``spec[t, 7]``): keys are placed by ``hkey(key, seed + 1)``."""
    cdef Py_ssize_t j
    cdef uint64_t i
    with nogil:
        for j in range(keys.shape[0]):
            i = hkey(keys[j], seed + 1) & mask
            while hm[2 * (base + <int64_t>i)] != -1 and hm[2 * (base + <int64_t>i)] != keys[j]:
                i = (i + 1) & mask
            hm[2 * (base + <int64_t>i)] = keys[j]
            hm[2 * (base + <int64_t>i) + 1] = vals[j]


cdef inline void qr_split(int64_t x, int64_t m, double inv, int64_t* qq, int64_t* rr) noexcept nogil:
    """x // m and x % m (x >= 0): the quotient from x * (1/m), corrected by at most one step each way."""
    cdef int64_t q, r
    if x >= (<int64_t>1) << EXACT_DOUBLE_BITS:
        qq[0] = x // m
        rr[0] = x % m
        return
    q = <int64_t>(<double>x * inv)
    r = x - q * m
    if r < 0:
        q -= 1
        r += m
    elif r >= m:
        q += 1
        r -= m
    qq[0] = q
    rr[0] = r


cdef inline int encode(int64_t x, const int64_t* p, int kind, const int64_t* hm, int64_t base, uint64_t mask,
                       int64_t* out) noexcept nogil:
    """Write the physical rows of x to out; return how many (the per-id form of the segment loops)."""
    cdef uint64_t seed = <uint64_t>p[7]
    cdef uint64_t h
    cdef int64_t v, l, q, r
    cdef int j
    if kind == 0:
        out[0] = x
        return 1
    if kind == 1:
        out[0] = hrow(x, seed, <uint64_t>p[0])
        return 1
    if kind == 2:
        qr_split(x, p[0], 1.0 / <double>p[0], &q, &r)
        out[0] = q
        out[1] = p[1] + r
        return 2
    if kind == 3:
        h = hkey(x, seed + 1)
        v = probe_h(hm, base, mask, x, h)
        if v >= 0:
            out[0] = v
            return 1
        if v == HOT_MEDIUM:
            for l in range(p[2]):
                out[l] = p[0] + l * p[1] + hrow(x, seed + 1 + <uint64_t>l, <uint64_t>p[1])
            return <int>p[2]
        out[0] = p[0] + hscale(h, <uint64_t>p[1])
        return 1
    for j in range(p[2]):
        out[j] = hrow(x, seed + <uint64_t>j, <uint64_t>p[0])
    out[p[2]] = p[0] + hrow(x, seed + 99, <uint64_t>p[1])
    return <int>p[2] + 1


cdef inline int fixed_reads(int kind, const int64_t* p) noexcept nogil:
    """Rows every lookup of this kind reads, or 0 when it varies (CAFE with more than one level)."""
    if kind == 0 or kind == 1:
        return 1
    if kind == 2:
        return 2
    if kind == 3:
        return 1 if p[2] <= 1 else 0
    return <int>p[2] + 1


cdef void seg_hash(const int64_t* x, int64_t* o, Py_ssize_t n, uint64_t seed, uint64_t m) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = hrow(x[i], seed, m)


cdef void seg_qr(const int64_t* x, int64_t* o, Py_ssize_t n, int64_t m, int64_t q0) noexcept nogil:
    cdef Py_ssize_t i
    cdef double inv = 1.0 / <double>m
    cdef int64_t q, r
    for i in range(n):
        qr_split(x[i], m, inv, &q, &r)
        o[2 * i] = q
        o[2 * i + 1] = q0 + r


cdef void seg_memrec(const int64_t* x, int64_t* o, Py_ssize_t n, const int64_t* p) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j, k = <int>p[2]
    cdef uint64_t seed = <uint64_t>p[7], mt = <uint64_t>p[0], mw = <uint64_t>p[1]
    cdef int64_t* w
    for i in range(n):
        w = o + i * (k + 1)
        for j in range(k):
            w[j] = hrow(x[i], seed + <uint64_t>j, mt)
        w[k] = p[0] + hrow(x[i], seed + 99, mw)


cdef void seg_cafe1(const int64_t* x, int64_t* o, Py_ssize_t n, const int64_t* p, const int64_t* hm, int64_t base,
                    uint64_t mask) noexcept nogil:
    """One-level CAFE: the hot row from the map, else the shared row; one hash per id, prefetched ahead."""
    cdef uint64_t ring[RING]
    cdef uint64_t seed1 = <uint64_t>p[7] + 1, m = <uint64_t>p[1], h, ha
    cdef int64_t v
    cdef Py_ssize_t i
    for i in range(min(<Py_ssize_t>PREFETCH_AHEAD, n)):
        ring[i] = hkey(x[i], seed1)
        EMBSIM_PHYS_PREFETCH(&hm[2 * (base + <int64_t>(ring[i] & mask))])
    for i in range(n):
        h = ring[i % RING]
        if i + PREFETCH_AHEAD < n:
            ha = hkey(x[i + PREFETCH_AHEAD], seed1)
            ring[(i + PREFETCH_AHEAD) % RING] = ha
            EMBSIM_PHYS_PREFETCH(&hm[2 * (base + <int64_t>(ha & mask))])
        v = probe_h(hm, base, mask, x[i], h)
        o[i] = v if v >= 0 else p[0] + hscale(h, m)


cdef Py_ssize_t seg_variable(const int64_t* x, const int32_t* ln, int32_t* oln, int64_t* o, Py_ssize_t B,
                             const int64_t* p, int kind, const int64_t* hm, int64_t base,
                             uint64_t mask) noexcept nogil:
    """Multi-level CAFE: per sample, the reads of each id; returns the rows written."""
    cdef Py_ssize_t s, j, pos = 0, w = 0
    cdef int total
    for s in range(B):
        total = 0
        for j in range(ln[s]):
            total += encode(x[pos], p, kind, hm, base, mask, o + w + total)
            pos += 1
        oln[s] = total
        w += total
    return w


def lookups_per_table(const int32_t[:, :, ::1] lengths):
    """int64 [T]: the lookups of each table (the sum of ``lengths`` over batches and samples)."""
    import numpy as np
    cdef Py_ssize_t nb = lengths.shape[0], T = lengths.shape[1], B = lengths.shape[2], b, t, s
    res = np.zeros(T, dtype=np.int64)
    cdef int64_t[::1] r = res
    cdef int64_t acc
    with nogil:
        for b in range(nb):
            for t in range(T):
                acc = 0
                for s in range(B):
                    acc += lengths[b, t, s]
                r[t] += acc
    return res


def expand(const int64_t[::1] indices, const int32_t[:, :, ::1] lengths, const int64_t[::1] kind,
           const int64_t[:, ::1] spec, const int64_t[::1] hot_map, const int64_t[::1] map_base,
           const int64_t[::1] map_mask,
           int64_t[::1] out, int32_t[:, :, ::1] out_lengths):
    """Rewrite a trace (batch, table, sample order) into physical rows; returns the ids written.

    ``out`` must hold them (lookups x reads per table); ``out_lengths`` gets each sample's reads, or is
    None when every table reads one row per lookup (the lengths do not change; the caller keeps them)."""
    cdef Py_ssize_t nb = lengths.shape[0], T = lengths.shape[1], B = lengths.shape[2]
    cdef Py_ssize_t b, t, s, n, pos = 0, w = 0
    cdef int k, R
    cdef const int64_t* hm = &hot_map[0]
    cdef const int64_t* x
    cdef const int64_t* p
    cdef int64_t* o
    cdef bint write_lengths = out_lengths is not None
    for t in range(T):
        if fixed_reads(<int>kind[t], &spec[t, 0]) != 1 and not write_lengths:
            raise ValueError(f"expand: table {t} reads other than one row per lookup; out_lengths is needed")
    if indices.shape[0] == 0:
        return 0
    with nogil:
        for b in range(nb):
            for t in range(T):
                k = <int>kind[t]
                p = &spec[t, 0]
                R = fixed_reads(k, p)
                if R == 0:
                    w += seg_variable(&indices[pos], &lengths[b, t, 0], &out_lengths[b, t, 0], &out[w], B, p, k,
                                      hm, map_base[t], <uint64_t>map_mask[t])
                    for s in range(B):
                        pos += lengths[b, t, s]
                    continue
                n = 0
                if write_lengths:
                    for s in range(B):
                        n += lengths[b, t, s]
                        out_lengths[b, t, s] = lengths[b, t, s] * R
                else:
                    for s in range(B):
                        n += lengths[b, t, s]
                if n == 0:
                    continue
                x = &indices[pos]
                o = &out[w]
                if k == 0:
                    memcpy(o, x, n * sizeof(int64_t))
                elif k == 1:
                    seg_hash(x, o, n, <uint64_t>p[7], <uint64_t>p[0])
                elif k == 2:
                    seg_qr(x, o, n, p[0], p[1])
                elif k == 3:
                    seg_cafe1(x, o, n, p, hm, map_base[t], <uint64_t>map_mask[t])
                else:
                    seg_memrec(x, o, n, p)
                pos += n
                w += n * R
    return w


def encode_many(const int64_t[::1] ids, int kind, const int64_t[::1] p, const int64_t[::1] hot_map,
                int64_t base, uint64_t mask, int64_t width):
    """Physical rows of each id as an int64 [len(ids), width] array, -1 past its reads."""
    import numpy as np
    res = np.full((ids.shape[0], width), -1, dtype=np.int64)
    cdef int64_t[:, ::1] o = res
    cdef int64_t rows[16]
    cdef Py_ssize_t i
    cdef int n, r
    cdef const int64_t* hm = &hot_map[0]
    cdef const int64_t* pp = &p[0]
    with nogil:
        for i in range(ids.shape[0]):
            n = encode(ids[i], pp, kind, hm, base, mask, rows)
            for r in range(n):
                o[i, r] = rows[r]
    return res
