# cython: language_level=3
"""The one 64-bit hash of embsim's kernels (HotSketch buckets, the row-sharing transform, CAFE's hot map).

Inline C functions, cimported as ``from embsim.workloads._hash cimport mix64, hrow``
by ``workloads/_hotsketch.pyx`` and ``sim/_physical.pyx`` (sim may use
workloads, not the other way), so both compute the same rows from the same
key and seed.  ``tests/workloads/hotsketch_reference.py`` is their pure-Python
twin.
"""
from libc.stdint cimport int64_t, uint64_t


cdef inline uint64_t mix64(uint64_t x) noexcept nogil:
    """splitmix64's finaliser (Steele, Lea and Flood, OOPSLA 2014): a fast 64-bit mixer."""
    x ^= x >> 30
    x *= <uint64_t>0xbf58476d1ce4e5b9
    x ^= x >> 27
    x *= <uint64_t>0x94d049bb133111eb
    x ^= x >> 31
    return x


cdef inline uint64_t hkey(int64_t key, uint64_t seed) noexcept nogil:
    """mix64(key + seed * golden ratio): the seeded hash whose high and low bits the kernels use."""
    return mix64(<uint64_t>key + seed * <uint64_t>0x9e3779b97f4a7c15)


cdef inline int64_t hscale(uint64_t h, uint64_t n) noexcept nogil:
    """(high 32 bits of h) * n >> 32: a row in [0, n) for n < 2^32 (Lemire's multiply-shift, no division)."""
    return <int64_t>(((h >> 32) * n) >> 32)


cdef inline int64_t hrow(int64_t key, uint64_t seed, uint64_t n) noexcept nogil:
    """The row in [0, n) of key under seed: hscale(hkey(key, seed), n)."""
    return hscale(hkey(key, seed), n)
