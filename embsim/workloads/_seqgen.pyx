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


cdef inline uint64_t _mix(uint64_t x, const uint64_t[::1] keys, uint64_t mask, uint64_t shift) noexcept nogil:
    """A bijection of 0..mask: odd multiply-add, xor-shift, odd multiply-add, all mod 2^bits."""
    x = (x * keys[0] + keys[1]) & mask
    x ^= x >> shift
    x = (x * keys[2] + keys[3]) & mask
    x ^= x >> shift
    return x


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
    cdef Py_ssize_t i, k
    cdef Py_ssize_t K = head_cdf.shape[0], G = guide.shape[0]
    cdef uint64_t state = seed, y, mask = (<uint64_t>1 << bits) - 1, rows = <uint64_t>n_ranks
    cdef uint64_t shift = bits // 2 + 1
    cdef Py_ssize_t M = tail_x.shape[0] - 1, j
    cdef double u, v, x, t
    cdef double inv_p_head = 1.0 / p_head if p_head > 0 else 0.0
    cdef double inv_tail = 1.0 / (1.0 - p_head) if p_head < 1.0 else 0.0
    cdef int64_t r, aa = <int64_t>keys[0], cc = <int64_t>keys[1]
    cdef double inv_rows = 1.0 / <double>n_ranks
    if permute == 1 and n_ranks >= (<int64_t>1 << 31):
        raise ValueError("affine permutation needs fewer than 2^31 rows")
    with nogil:
        for i in range(out.shape[0]):
            u = (_splitmix(&state) >> 11) * (1.0 / 9007199254740992.0)
            if u < p_head or n_ranks <= K:
                v = u * inv_p_head
                k = <Py_ssize_t>(v * G)
                k = guide[k if k < G else G - 1]
                while k < K - 1 and head_cdf[k] < v:
                    k += 1
                r = k
            else:
                v = (u - p_head) * inv_tail
                t = v * M
                j = <Py_ssize_t>t
                if j >= M:
                    j = M - 1
                x = tail_x[j] + (t - j) * (tail_x[j + 1] - tail_x[j])
                r = <int64_t>floor(x + 0.5)
                if r < K + 1:
                    r = K + 1
                if r > n_ranks:
                    r = n_ranks
                r -= 1
            if permute == 1:
                out[i] = _affine(r, aa, cc, n_ranks, inv_rows)
            elif permute == 2:
                y = _mix(<uint64_t>r, keys, mask, shift)
                while y >= rows:
                    y = _mix(y, keys, mask, shift)
                out[i] = <int64_t>y
            else:
                out[i] = r

