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
``map_keys``/``map_vals`` from ``map_base[t]`` with ``map_mask[t] + 1``
slots (a power of two), key -1 = empty.
"""
from libc.stdint cimport int64_t, int32_t, uint64_t

DEF HOT_MEDIUM = -2


cdef inline uint64_t mix64(uint64_t x) nogil:
    x ^= x >> 30
    x *= <uint64_t>0xbf58476d1ce4e5b9
    x ^= x >> 27
    x *= <uint64_t>0x94d049bb133111eb
    x ^= x >> 31
    return x


cdef inline int64_t hrow(int64_t key, uint64_t seed, uint64_t n) nogil:
    """(high 32 bits of mix64(key + seed * golden)) * n >> 32, in [0, n) for n < 2^32."""
    cdef uint64_t h = mix64(<uint64_t>key + seed * <uint64_t>0x9e3779b97f4a7c15)
    return <int64_t>(((h >> 32) * n) >> 32)


cdef inline int64_t probe(const int64_t* mk, const int64_t* mv, int64_t base, uint64_t mask,
                          int64_t x) nogil:
    """The map's value of x, or -1 when x is not in it."""
    cdef uint64_t i = mix64(<uint64_t>x) & mask
    cdef int64_t k
    while True:
        k = mk[base + <int64_t>i]
        if k == x:
            return mv[base + <int64_t>i]
        if k == -1:
            return -1
        i = (i + 1) & mask


def map_insert(int64_t[::1] mk, int64_t[::1] mv, int64_t base, uint64_t mask, const int64_t[::1] keys,
               const int64_t[::1] vals):
    """Insert distinct ``keys`` with ``vals`` into the map at ``base`` (size mask + 1 > len(keys))."""
    cdef Py_ssize_t j
    cdef uint64_t i
    with nogil:
        for j in range(keys.shape[0]):
            i = mix64(<uint64_t>keys[j]) & mask
            while mk[base + <int64_t>i] != -1 and mk[base + <int64_t>i] != keys[j]:
                i = (i + 1) & mask
            mk[base + <int64_t>i] = keys[j]
            mv[base + <int64_t>i] = vals[j]


cdef inline int encode(int64_t x, const int64_t* p, int kind, const int64_t* mk,
                       const int64_t* mv, int64_t base, uint64_t mask, int64_t* out) nogil:
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
        v = probe(mk, mv, base, mask, x)
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
           const int64_t[:, ::1] spec, const int64_t[::1] mk, const int64_t[::1] mv,
           const int64_t[::1] map_base, const int64_t[::1] map_mask,
           int64_t[::1] out, int32_t[:, :, ::1] out_lengths):
    """Rewrite a trace (batch, table, sample order) into physical rows; returns the ids written."""
    cdef Py_ssize_t nb = lengths.shape[0], T = lengths.shape[1], B = lengths.shape[2]
    cdef Py_ssize_t b, t, s, j, pos = 0, w = 0
    cdef int64_t rows[16]
    cdef int n, r, k, total
    cdef const int64_t* mkp = &mk[0]
    cdef const int64_t* mvp = &mv[0]
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
                            n = encode(indices[pos], &spec[t, 0], k, mkp, mvp, map_base[t], <uint64_t>map_mask[t], rows)
                            for r in range(n):
                                out[w + r] = rows[r]
                            w += n
                            total += n
                            pos += 1
                    out_lengths[b, t, s] = total
    return w


def encode_many(const int64_t[::1] ids, int kind, const int64_t[::1] p, const int64_t[::1] mk,
                const int64_t[::1] mv, int64_t base, uint64_t mask, int64_t width):
    """Physical rows of each id as an int64 [len(ids), width] array, -1 past its reads."""
    import numpy as np
    res = np.full((ids.shape[0], width), -1, dtype=np.int64)
    cdef int64_t[:, ::1] o = res
    cdef int64_t rows[16]
    cdef Py_ssize_t i
    cdef int n, r
    cdef const int64_t* mkp = &mk[0]
    cdef const int64_t* mvp = &mv[0]
    cdef const int64_t* pp = &p[0]
    with nogil:
        for i in range(ids.shape[0]):
            n = encode(ids[i], pp, kind, mkp, mvp, base, mask, rows)
            for r in range(n):
                o[i, r] = rows[r]
    return res
