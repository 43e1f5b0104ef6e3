# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3, initializedcheck=False
"""Logical lookups to the physical rows a row-sharing representation reads (see ``physical.py``).

Per table a kind code and parameters (``spec`` int64 [T, 8]):

    0 identity   row = x
    1 hash       row = h(x, seed) mod m                                   (m = p0)
    2 qr         rows = x // m, q + x % m                                 (m = p0, q = p1)
    3 cafe       hot: its row v from the map; medium (v = -2): base_l + h(x, seed + l) mod m
                 for each of L levels; cold (not in the map): base_1 + h(x, seed + 1) mod m
                                                                          (p0 = hot rows, p1 = m per level, p2 = L)
    4 memrec     k rows h(x, seed + j) mod m_t, then m_t + h(x, seed + 99) mod m_w   (p0 = m_t, p1 = m_w, p2 = k)

``p7`` is the seed.  CAFE's map is open addressing (linear probing) over
``hot_map``, int64 (key, value) pairs side by side so a probe reads one
cache line, from entry ``map_base[t]`` with ``map_mask[t] + 1`` entries (a
power of two), key -1 = empty.
"""
from libc.stdint cimport int64_t, int32_t, uint64_t

DEF HOT_MEDIUM = -2
DEF PREFETCH_AHEAD = 16      # CAFE: the hot-map slot of the lookup this far ahead is prefetched

cdef extern from *:
    """
    #define EMBSIM_PHYS_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
    """
    void EMBSIM_PHYS_PREFETCH(const void *p) noexcept nogil


cdef inline uint64_t mix64(uint64_t x) noexcept nogil:
    x ^= x >> 30
    x *= <uint64_t>0xbf58476d1ce4e5b9
    x ^= x >> 27
    x *= <uint64_t>0x94d049bb133111eb
    x ^= x >> 31
    return x


cdef inline int64_t hrow(int64_t key, uint64_t seed, uint64_t n) noexcept nogil:
    """(high 32 bits of mix64(key + seed * golden)) * n >> 32, in [0, n) for n < 2^32."""
    cdef uint64_t h = mix64(<uint64_t>key + seed * <uint64_t>0x9e3779b97f4a7c15)
    return <int64_t>(((h >> 32) * n) >> 32)


cdef inline int64_t probe(const int64_t* hm, int64_t base, uint64_t mask, int64_t x) noexcept nogil:
    """The map's value of x, or -1 when x is not in it."""
    cdef uint64_t i = mix64(<uint64_t>x) & mask
    cdef int64_t k
    while True:
        k = hm[2 * (base + <int64_t>i)]
        if k == x:
            return hm[2 * (base + <int64_t>i) + 1]
        if k == -1:
            return -1
        i = (i + 1) & mask


def map_insert(int64_t[::1] hm, int64_t base, uint64_t mask, const int64_t[::1] keys, const int64_t[::1] vals):
    """Insert distinct ``keys`` with ``vals`` into the map at entry ``base`` (mask + 1 > len(keys) entries)."""
    cdef Py_ssize_t j
    cdef uint64_t i
    with nogil:
        for j in range(keys.shape[0]):
            i = mix64(<uint64_t>keys[j]) & mask
            while hm[2 * (base + <int64_t>i)] != -1 and hm[2 * (base + <int64_t>i)] != keys[j]:
                i = (i + 1) & mask
            hm[2 * (base + <int64_t>i)] = keys[j]
            hm[2 * (base + <int64_t>i) + 1] = vals[j]


cdef inline int encode(int64_t x, const int64_t* p, int kind, const int64_t* hm, int64_t base, uint64_t mask,
                       int64_t* out) noexcept nogil:
    """Write the physical rows of x to out; return how many."""
    cdef uint64_t seed = <uint64_t>p[7]
    cdef int64_t v, l, base_l
    cdef int j
    if kind == 0:
        out[0] = x
        return 1
    if kind == 1:
        out[0] = hrow(x, seed, <uint64_t>p[0])
        return 1
    if kind == 2:
        out[0] = x // p[0]
        out[1] = p[1] + x % p[0]
        return 2
    if kind == 3:
        v = probe(hm, base, mask, x)
        if v >= 0:
            out[0] = v
            return 1
        if v == HOT_MEDIUM:
            for l in range(p[2]):
                base_l = p[0] + l * p[1]
                out[l] = base_l + hrow(x, seed + 1 + <uint64_t>l, <uint64_t>p[1])
            return <int>p[2]
        out[0] = p[0] + hrow(x, seed + 1, <uint64_t>p[1])
        return 1
    for j in range(p[2]):
        out[j] = hrow(x, seed + <uint64_t>j, <uint64_t>p[0])
    out[p[2]] = p[0] + hrow(x, seed + 99, <uint64_t>p[1])
    return <int>p[2] + 1


def expand(const int64_t[::1] indices, const int32_t[:, :, ::1] lengths, const int64_t[::1] kind,
           const int64_t[:, ::1] spec, const int64_t[::1] hot_map, const int64_t[::1] map_base,
           const int64_t[::1] map_mask,
           int64_t[::1] out, int32_t[:, :, ::1] out_lengths):
    """Rewrite a trace (batch, table, sample order) into physical rows; returns the ids written."""
    cdef Py_ssize_t nb = lengths.shape[0], T = lengths.shape[1], B = lengths.shape[2]
    cdef Py_ssize_t b, t, s, j, pos = 0, w = 0, n_idx = indices.shape[0]
    cdef int64_t rows[16]
    cdef int n, r, k, total
    cdef const int64_t* hm = &hot_map[0]
    with nogil:
        for b in range(nb):
            for t in range(T):
                k = <int>kind[t]
                for s in range(B):
                    total = 0
                    if k == 0:                    # identity: a straight copy
                        for j in range(lengths[b, t, s]):
                            out[w + j] = indices[pos + j]
                        total = lengths[b, t, s]
                        pos += total
                        w += total
                    else:
                        for j in range(lengths[b, t, s]):
                            if k == 3 and pos + PREFETCH_AHEAD < n_idx:
                                EMBSIM_PHYS_PREFETCH(&hm[2 * (map_base[t] + <int64_t>(
                                    mix64(<uint64_t>indices[pos + PREFETCH_AHEAD]) & <uint64_t>map_mask[t]))])
                            n = encode(indices[pos], &spec[t, 0], k, hm, map_base[t], <uint64_t>map_mask[t], rows)
                            for r in range(n):
                                out[w + r] = rows[r]
                            w += n
                            total += n
                            pos += 1
                    out_lengths[b, t, s] = total
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
