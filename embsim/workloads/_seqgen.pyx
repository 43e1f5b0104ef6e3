# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Zipf rows for sequence traces in one pass: random number, inverse CDF, Feistel permutation.

The law is ZipfSampler's (zipf.py: an exact head of K ranks, an integral
tail inverted in closed form).  What differs from ``generators._Zipf`` is
the random stream, a splitmix64 generator inside the loop seeded from the
caller's numpy Generator (no array of uniforms, no Python object per id),
and the rank -> row permutation, cheaper seeded bijections than the
Feistel one: ``_affine`` (a r + c mod rows, one multiply and a
reciprocal-based remainder, no branch to mispredict) below 2^31 rows,
``_mix`` (two odd multiply-adds and xor-shifts mod 2^bits, cycle-walked
into 0..rows-1) above.  Both scatter hot ranks over the rows; an affine
map also spreads consecutive ranks evenly over row-wise shards (row mod P).
The head is searched through a guide table (Chen and Asau 1974): guide[j]
is the first rank whose CDF reaches j / G, so a draw starts its linear
search at the right rank and takes O(1) steps on average.
"""
from libc.math cimport floor
from libc.stdint cimport int32_t, int64_t, uint64_t


cdef inline uint64_t _splitmix(uint64_t* state) noexcept nogil:
    state[0] += <uint64_t>0x9E3779B97F4A7C15ULL
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline int64_t _affine(int64_t r, int64_t a, int64_t c, int64_t rows, double inv_rows) noexcept nogil:
    """(a r + c) mod rows, for rows < 2^31 (the product stays below 2^62); a coprime to rows."""
    cdef int64_t x = a * r + c
    cdef int64_t q = <int64_t>(<double>x * inv_rows)
    cdef int64_t rem = x - q * rows
    while rem < 0:
        rem += rows
    while rem >= rows:
        rem -= rows
    return rem


cdef inline uint64_t _mix(uint64_t x, const uint64_t* keys, uint64_t mask, uint64_t shift) noexcept nogil:
    """A bijection of 0..mask: odd multiply-add, xor-shift, odd multiply-add, all mod 2^bits."""
    x = (x * keys[0] + keys[1]) & mask
    x ^= x >> shift
    x = (x * keys[2] + keys[3]) & mask
    x ^= x >> shift
    return x


cdef struct Law:
    const double* head_cdf
    const int32_t* guide
    const double* tail_x
    Py_ssize_t K, G, M
    double p_head, inv_p_head, inv_tail
    int64_t n_ranks
    uint64_t mask, shift, rows
    int64_t a, c
    double inv_rows
    int permute
    const uint64_t* keys


cdef inline int64_t _draw(Law* L, uint64_t* state) noexcept nogil:
    """One row (or rank) of the law."""
    cdef double u, v, x, t
    cdef Py_ssize_t k, j
    cdef int64_t r
    cdef uint64_t y
    u = (_splitmix(state) >> 11) * (1.0 / 9007199254740992.0)
    if u < L.p_head or L.n_ranks <= L.K:
        v = u * L.inv_p_head
        k = <Py_ssize_t>(v * L.G)
        k = L.guide[k if k < L.G else L.G - 1]
        while k < L.K - 1 and L.head_cdf[k] < v:
            k += 1
        r = k
    else:
        v = (u - L.p_head) * L.inv_tail
        t = v * L.M
        j = <Py_ssize_t>t
        if j >= L.M:
            j = L.M - 1
        x = L.tail_x[j] + (t - j) * (L.tail_x[j + 1] - L.tail_x[j])
        r = <int64_t>floor(x + 0.5)
        if r < L.K + 1:
            r = L.K + 1
        if r > L.n_ranks:
            r = L.n_ranks
        r -= 1
    if L.permute == 1:
        return _affine(r, L.a, L.c, L.n_ranks, L.inv_rows)
    if L.permute == 2:
        y = _mix(<uint64_t>r, L.keys, L.mask, L.shift)
        while y >= L.rows:
            y = _mix(y, L.keys, L.mask, L.shift)
        return <int64_t>y
    return r


cdef Law _law(const double[::1] head_cdf, const int32_t[::1] guide, double p_head, int64_t n_ranks,
              const double[::1] tail_x, const uint64_t[::1] keys, uint64_t bits, int permute) except *:
    cdef Law L
    if permute == 1 and n_ranks >= (<int64_t>1 << 31):
        raise ValueError("affine permutation needs fewer than 2^31 rows")
    L.head_cdf, L.guide, L.tail_x = &head_cdf[0], &guide[0], &tail_x[0]
    L.K, L.G, L.M = head_cdf.shape[0], guide.shape[0], tail_x.shape[0] - 1
    L.p_head = p_head
    L.inv_p_head = 1.0 / p_head if p_head > 0 else 0.0
    L.inv_tail = 1.0 / (1.0 - p_head) if p_head < 1.0 else 0.0
    L.n_ranks, L.rows = n_ranks, <uint64_t>n_ranks
    L.mask, L.shift = (<uint64_t>1 << bits) - 1, bits // 2 + 1
    L.a, L.c = <int64_t>keys[0], <int64_t>keys[1]
    L.inv_rows = 1.0 / <double>n_ranks
    L.permute, L.keys = permute, &keys[0]
    return L


def zipf_rows(int64_t[::1] out, uint64_t seed, const double[::1] head_cdf, const int32_t[::1] guide,
              double p_head, int64_t n_ranks, const double[::1] tail_x,
              const uint64_t[::1] keys, uint64_t bits, int permute):
    """Fill ``out`` with rows (``permute``) or 0-based ranks of a Zipf(alpha) law over ``n_ranks``.

    Tail: ``tail_x[j]`` is the exact continuous inverse of the tail at
    v = j / (len - 1); a draw interpolates linearly between two of them and
    rounds to the nearest rank (with 2^14 segments the interpolated point
    is within a fraction of a rank of the exact inverse for tables up to
    tens of millions of rows; the tests bound the law's distance).

    ``permute``: 0 ranks; 1 rows by ``_affine`` (``keys[0]`` = a coprime
    to n_ranks, ``keys[1]`` = c; n_ranks < 2^31); 2 rows by ``_mix`` on the
    smallest power-of-two domain 2^bits >= n_ranks, re-applied until the
    value is below n_ranks (cycle walking; ``keys`` four uint64, the first
    and third odd).
    """
    cdef Law L = _law(head_cdf, guide, p_head, n_ranks, tail_x, keys, bits, permute)
    cdef uint64_t state = seed
    cdef Py_ssize_t i
    with nogil:
        for i in range(out.shape[0]):
            out[i] = _draw(&L, &state)


def zipf_rows_into(int64_t[::1] out, const int64_t[::1] starts, const int64_t[::1] counts, uint64_t seed,
                   const double[::1] head_cdf, const int32_t[::1] guide, double p_head, int64_t n_ranks,
                   const double[::1] tail_x, const uint64_t[::1] keys, uint64_t bits, int permute):
    """``zipf_rows`` written straight into segments ``out[starts[s]:starts[s] + counts[s]]``, in order.

    The draws are those of ``zipf_rows`` on sum(counts) ids with the same
    seed, cut into the segments: no intermediate array, no copy.
    """
    cdef Law L = _law(head_cdf, guide, p_head, n_ranks, tail_x, keys, bits, permute)
    cdef uint64_t state = seed
    cdef Py_ssize_t s, i
    cdef int64_t base
    for s in range(starts.shape[0]):
        if starts[s] < 0 or counts[s] < 0 or starts[s] + counts[s] > out.shape[0]:
            raise ValueError("zipf_rows_into: a segment falls outside out")
    with nogil:
        for s in range(starts.shape[0]):
            base = starts[s]
            for i in range(counts[s]):
                out[base + i] = _draw(&L, &state)
