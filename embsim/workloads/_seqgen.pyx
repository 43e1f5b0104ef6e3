# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Zipf rows for sequence traces in one branch-free pass: counter-based random words, alias table, bijection.

The law is ZipfSampler's (zipf.py: an exact head of K ranks, an integral
tail inverted in closed form), cut into *outcomes*: the K head ranks, and
S tail segments of equal mass (``generators.ZipfTable`` builds them).  A
draw takes two 64-bit words of a counter-based splitmix64 stream (draw j
of a call uses the generator's outputs 2j and 2j + 1 after ``seed``, so
any draw can be computed on its own: no state carried from id to id):

1. Walker's alias method (Vose's construction) over the outcomes, padded
   to N = 2^b columns of mass 1/N: the top b bits of word 1 pick a column,
   its low 32 bits against the column's threshold choose between the
   column's own outcome and its alias (a conditional move, no branch);
2. every outcome is a quadratic ``c0 + f (c1 + f c2)`` of a uniform
   fraction f (53 bits of word 2), truncated to an integer rank: a head
   rank k has c0 = k, c1 = c2 = 0; a tail segment interpolates the exact
   continuous inverse through its two ends and its midpoint (``x - 1/2``
   truncated is the nearest rank, 0-based).  So a head draw and a tail
   draw run the same instructions: no branch mispredicted on which of the
   two halves of the mass a draw falls in;
3. the rank -> row permutation, a seeded bijection: ``_affine`` (a r + c
   mod rows, one multiply and a Barrett remainder) below 2^31
   rows, ``_mix`` (two odd multiply-adds and xor-shifts mod 2^bits,
   cycle-walked into 0..rows-1) above.  Both scatter hot ranks over the
   rows; an affine map also spreads consecutive ranks evenly over
   row-wise shards (row mod P).

The tables (N columns of 8 bytes, N outcomes of 24) stay in the L2 cache;
every id is written straight into the output, no array of uniforms, no
Python object per id.
"""
from libc.stdint cimport int64_t, uint64_t

cdef uint64_t GOLDEN = <uint64_t>0x9E3779B97F4A7C15ULL


cdef inline uint64_t _mix64(uint64_t z) noexcept nogil:
    """splitmix64's output function (Steele, Lea and Flood 2014): a bijection of 64-bit words."""
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef extern from *:
    """
    static inline uint64_t embsim_mulhi64(uint64_t a, uint64_t b) { return (uint64_t)(((__uint128_t)a * b) >> 64); }
    """
    uint64_t embsim_mulhi64(uint64_t a, uint64_t b) noexcept nogil


cdef inline int64_t _affine(int64_t r, int64_t a, int64_t c, uint64_t rows, uint64_t m) noexcept nogil:
    """(a r + c) mod rows for rows < 2^31, a coprime to rows: Barrett reduction with m = floor((2^64 - 1) / rows).

    x = a r + c < 2^62, so x m / 2^64 falls short of x / rows by less than
    x / 2^64 < 1/4: the quotient is floor(x / rows) or one less, and one
    subtraction (a branch taken about x / (rows 2^64) of the time) ends it.
    """
    cdef uint64_t x = <uint64_t>(a * r + c)
    cdef uint64_t rem = x - embsim_mulhi64(x, m) * rows
    if rem >= rows:
        rem -= rows
    return <int64_t>rem


cdef inline uint64_t _mix(uint64_t x, const uint64_t* keys, uint64_t mask, uint64_t shift) noexcept nogil:
    """A bijection of 0..mask: odd multiply-add, xor-shift, odd multiply-add, all mod 2^bits."""
    x = (x * keys[0] + keys[1]) & mask
    x ^= x >> shift
    x = (x * keys[2] + keys[3]) & mask
    x ^= x >> shift
    return x


cdef struct Law:
    const uint64_t* cols        # per column: threshold << 32 | alias outcome
    const double* coef          # per outcome: c0, c1, c2
    int shift                   # 64 - b
    int64_t n_ranks, last
    uint64_t mask, mshift, rows
    int64_t a, c
    uint64_t barrett
    int permute
    const uint64_t* keys


cdef inline int64_t _draw(const Law* L, uint64_t counter) noexcept nogil:
    """The row (or rank) of the draw whose first word is the stream's output at ``counter``."""
    cdef uint64_t w1 = _mix64(counter)
    cdef uint64_t w2 = _mix64(counter + GOLDEN)
    cdef uint64_t col = w1 >> L.shift
    cdef uint64_t entry = L.cols[col]
    cdef uint64_t o = col if (w1 & <uint64_t>0xFFFFFFFF) < (entry >> 32) else (entry & <uint64_t>0xFFFFFFFF)
    cdef const double* c = L.coef + 3 * o
    cdef double f = <double>(w2 >> 11) * (1.0 / 9007199254740992.0)
    cdef int64_t r = <int64_t>(c[0] + f * (c[1] + f * c[2]))
    r = r if r < L.last else L.last
    cdef uint64_t y
    if L.permute == 1:
        return _affine(r, L.a, L.c, L.rows, L.barrett)
    if L.permute == 2:
        y = _mix(<uint64_t>r, L.keys, L.mask, L.mshift)
        while y >= L.rows:
            y = _mix(y, L.keys, L.mask, L.mshift)
        return <int64_t>y
    return r


cdef Law _law(const uint64_t[::1] cols, const double[:, ::1] coef, int64_t n_ranks,
              const uint64_t[::1] keys, uint64_t bits, int permute) except *:
    cdef Law L
    cdef Py_ssize_t i, N = cols.shape[0]
    cdef int b = 0
    while (<Py_ssize_t>1 << b) < N:
        b += 1
    if N < 2 or (<Py_ssize_t>1 << b) != N or b > 32:
        raise ValueError("alias table: expected 2^b columns, 1 <= b <= 32")
    if coef.shape[0] != N or coef.shape[1] != 3:
        raise ValueError("alias table: expected one (c0, c1, c2) row per column")
    if permute == 1 and n_ranks >= (<int64_t>1 << 31):
        raise ValueError("affine permutation needs fewer than 2^31 rows")
    for i in range(N):
        if (cols[i] & <uint64_t>0xFFFFFFFF) >= <uint64_t>N:
            raise ValueError("alias table: an alias falls outside the table")
    L.cols, L.coef, L.shift = &cols[0], &coef[0, 0], 64 - b
    L.n_ranks, L.last, L.rows = n_ranks, n_ranks - 1, <uint64_t>n_ranks
    L.mask, L.mshift = (<uint64_t>1 << bits) - 1, bits // 2 + 1
    L.a, L.c = <int64_t>keys[0], <int64_t>keys[1]
    L.barrett = (<uint64_t>0xFFFFFFFFFFFFFFFFULL) // <uint64_t>n_ranks
    L.permute, L.keys = permute, &keys[0]
    return L


def zipf_rows(int64_t[::1] out, uint64_t seed, const uint64_t[::1] cols, const double[:, ::1] coef,
              int64_t n_ranks, const uint64_t[::1] keys, uint64_t bits, int permute):
    """Fill ``out`` with rows (``permute``) or 0-based ranks of the law of the alias table (``cols``, ``coef``).

    ``permute``: 0 ranks; 1 rows by ``_affine`` (``keys[0]`` = a coprime
    to n_ranks, ``keys[1]`` = c; n_ranks < 2^31); 2 rows by ``_mix`` on the
    smallest power-of-two domain 2^bits >= n_ranks, re-applied until the
    value is below n_ranks (cycle walking; ``keys`` four uint64, the first
    and third odd).  Draw j uses the splitmix64 outputs at
    ``seed + (2j + 1) golden`` and ``seed + (2j + 2) golden``.
    """
    cdef Law L = _law(cols, coef, n_ranks, keys, bits, permute)
    cdef Py_ssize_t i
    cdef uint64_t ctr = seed + GOLDEN
    with nogil:
        for i in range(out.shape[0]):
            out[i] = _draw(&L, ctr)
            ctr += 2 * GOLDEN


def zipf_rows_into(int64_t[::1] out, const int64_t[::1] starts, const int64_t[::1] counts, uint64_t seed,
                   const uint64_t[::1] cols, const double[:, ::1] coef, int64_t n_ranks,
                   const uint64_t[::1] keys, uint64_t bits, int permute):
    """``zipf_rows`` written straight into segments ``out[starts[s]:starts[s] + counts[s]]``, in order.

    The draws are those of ``zipf_rows`` on sum(counts) ids with the same
    seed, cut into the segments: no intermediate array, no copy.
    """
    cdef Law L = _law(cols, coef, n_ranks, keys, bits, permute)
    cdef Py_ssize_t s, i
    cdef int64_t base, k
    cdef uint64_t ctr = seed + GOLDEN
    for s in range(starts.shape[0]):
        if starts[s] < 0 or counts[s] < 0 or starts[s] + counts[s] > out.shape[0]:
            raise ValueError("zipf_rows_into: a segment falls outside out")
    with nogil:
        for s in range(starts.shape[0]):
            base, k = starts[s], counts[s]
            for i in range(k):
                out[base + i] = _draw(&L, ctr)
                ctr += 2 * GOLDEN
