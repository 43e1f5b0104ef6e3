# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Feistel-network permutation of 0..rows-1, one pass per draw (see generators.RowPermutation)."""
from libc.stdint cimport int64_t, uint64_t


cdef inline uint64_t _rounds(uint64_t x, const uint64_t[::1] keys, uint64_t h, uint64_t mask) noexcept nogil:
    cdef uint64_t left = x >> h, right = x & mask, f, tmp
    cdef Py_ssize_t r
    for r in range(keys.shape[0]):
        f = (right * <uint64_t>0x9E3779B97F4A7C15ULL) ^ keys[r]
        f ^= f >> 29
        f *= <uint64_t>0xBF58476D1CE4E5B9ULL
        f = (f >> 32) & mask
        tmp = right
        right = left ^ f
        left = tmp
    return (left << h) | right


def permute(const int64_t[::1] ranks, int64_t[::1] out, const uint64_t[::1] keys, uint64_t h, uint64_t rows):
    """out[i] = the row of rank ranks[i]: Feistel rounds, re-applied until the value is < rows."""
    cdef Py_ssize_t i
    cdef uint64_t mask = (<uint64_t>1 << h) - 1, y
    with nogil:
        for i in range(ranks.shape[0]):
            y = _rounds(<uint64_t>ranks[i], keys, h, mask)
            while y >= rows:
                y = _rounds(y, keys, h, mask)
            out[i] = <int64_t>y
