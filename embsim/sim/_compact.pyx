# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, language_level=3
"""Label the distinct rows of one table's lookups by first touch (the hot loop of simulate's row map).

One pass, O(1) per lookup, no sort, memory for the rows the trace touches
only: an open-addressing hash map (linear probing, Fibonacci hashing) from
row to label, at most half full, doubled when it fills.  A 40M-row table
read 3M times in a trace with 0.8M distinct rows needs a 2M-slot map
(32 MB), not a 40M-entry array (160 MB of page faults the first time).

The loop is bound by one random memory access per lookup, so it prefetches
the map slot of the lookup ``PREFETCH`` places ahead, as the replay does.
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free

cdef extern from *:
    """
    #define EMBSIM_PREFETCH(p) __builtin_prefetch((const void *)(p), 1, 3)
    """
    void EMBSIM_PREFETCH(const void *p) noexcept nogil

cdef struct Slot:
    int64_t row
    int64_t label        # label + 1; 0 = empty (so calloc gives an empty map)

DEF PREFETCH = 16
DEF MIN_BITS = 10

cdef inline uint64_t slot_of(int64_t r, int shift) noexcept nogil:
    return (<uint64_t>r * <uint64_t>0x9E3779B97F4A7C15) >> shift


cdef Slot *grow(Slot *old, int64_t old_size, int bits) noexcept nogil:
    """A map of 2**bits slots holding the entries of ``old`` (freed); NULL if out of memory."""
    cdef int64_t size = (<int64_t>1) << bits, mask = size - 1, i
    cdef uint64_t h
    cdef Slot *new = <Slot *>calloc(size, sizeof(Slot))
    if new == NULL:
        free(old)
        return NULL
    for i in range(old_size):
        if old[i].label:
            h = slot_of(old[i].row, 64 - bits)
            while new[h].label:
                h = (h + 1) & mask
            new[h] = old[i]
    free(old)
    return new


def label_segments(const int64_t[::1] indices, const int64_t[::1] starts, const int64_t[::1] stops,
                   int64_t table_rows, int64_t base, int64_t[::1] out):
    """Label table rows in first-touch order over the segments ``indices[starts[k]:stops[k]]``.

    ``out[i]`` = ``base`` + label of ``indices[i]`` for every i inside a
    segment (other entries untouched).  Returns (row of each label, lookups
    of each label), int64.  A row outside ``0 .. table_rows - 1`` is an
    IndexError.
    """
    cdef Py_ssize_t k, K = starts.shape[0]
    cdef int64_t i, a, b, r, n = 0, nxt = 0, lab, cap_rows, bad = -1
    cdef int bits = MIN_BITS
    cdef uint64_t h, hp
    cdef int64_t size, mask
    cdef Slot *m
    for k in range(K):
        n += max(0, stops[k] - starts[k])
    cap_rows = min(n, table_rows)                  # distinct rows can be no more than this
    rows = np.empty(max(cap_rows, 1), dtype=np.int64)
    counts = np.zeros(max(cap_rows, 1), dtype=np.int64)
    cdef int64_t[::1] rv = rows
    cdef int64_t[::1] cv = counts
    # start at a quarter of the bound (the map grows if the trace has more distinct rows)
    while bits < 40 and ((<int64_t>1) << bits) < cap_rows // 2:
        bits += 1
    m = <Slot *>calloc((<int64_t>1) << bits, sizeof(Slot))
    if m == NULL:
        raise MemoryError("row map")
    size = (<int64_t>1) << bits
    mask = size - 1
    try:
        with nogil:
            for k in range(K):
                a, b = starts[k], stops[k]
                for i in range(a, b):
                    if i + PREFETCH < b:
                        hp = slot_of(indices[i + PREFETCH], 64 - bits)
                        EMBSIM_PREFETCH(&m[hp])
                    r = indices[i]
                    if r < 0 or r >= table_rows:
                        bad = i
                        break
                    h = slot_of(r, 64 - bits)
                    while m[h].label and m[h].row != r:
                        h = (h + 1) & mask
                    if m[h].label:
                        lab = m[h].label - 1
                    else:
                        lab = nxt
                        nxt += 1
                        m[h].row = r
                        m[h].label = lab + 1
                        rv[lab] = r
                        if 2 * nxt > size:                 # keep the map at most half full
                            m = grow(m, size, bits + 1)
                            if m == NULL:
                                break
                            bits += 1
                            size = (<int64_t>1) << bits
                            mask = size - 1
                    cv[lab] += 1
                    out[i] = base + lab
                if bad >= 0 or m == NULL:
                    break
    finally:
        free(m)
    if m == NULL:
        raise MemoryError("row map")
    if bad >= 0:
        raise IndexError(f"row {indices[bad]} at position {bad} outside 0..{table_rows - 1}")
    return rows[:nxt], counts[:nxt]


cdef class RowLabeller:
    """``label_segments`` over a stream of chunks: the map and the labels persist from call to call.

    ``label(indices, starts, stops, out, insert)`` labels the rows of the
    segments of one chunk, first touch first, continuing the numbering of
    the chunks before; with ``insert=False`` every row must already have a
    label (a second pass over the same trace) and counts are not changed.
    ``rows()``/``counts()``: the row of each label and its lookups so far.
    Memory: the map (at most half full, 16 bytes a slot) and 16 bytes per
    label, for the distinct rows of the table seen so far.
    """
    cdef Slot *m
    cdef int bits
    cdef int64_t size, mask, nxt, table_rows, base
    cdef object _rows, _counts

    def __cinit__(self):
        self.m = NULL

    def __init__(self, int64_t table_rows, int64_t base):
        self.table_rows, self.base, self.nxt = table_rows, base, 0
        self.bits = MIN_BITS
        self.size = (<int64_t>1) << self.bits
        self.mask = self.size - 1
        self.m = <Slot *>calloc(self.size, sizeof(Slot))
        if self.m == NULL:
            raise MemoryError("row map")
        self._rows = np.empty(1024, dtype=np.int64)
        self._counts = np.zeros(1024, dtype=np.int64)

    def __dealloc__(self):
        free(self.m)

    def rows(self):
        return self._rows[:self.nxt]

    def counts(self):
        return self._counts[:self.nxt]

    def _reserve(self, int64_t n):
        """Room for ``n`` more labels in the row and count arrays."""
        cap = self._rows.shape[0]
        if self.nxt + n > cap:
            new = max(2 * cap, self.nxt + n)
            r, c = np.empty(new, dtype=np.int64), np.zeros(new, dtype=np.int64)
            r[:self.nxt] = self._rows[:self.nxt]
            c[:self.nxt] = self._counts[:self.nxt]
            self._rows, self._counts = r, c

    def label(self, const int64_t[::1] indices, const int64_t[::1] starts, const int64_t[::1] stops,
              int64_t[::1] out, bint insert=True):
        """``out[i]`` = base + label of ``indices[i]`` inside the segments; IndexError for a row out of range
        (or, without ``insert``, a row never labelled)."""
        cdef Py_ssize_t k, K = starts.shape[0]
        cdef int64_t i, a, b, r, n = 0, lab, bad = -1, nxt = self.nxt, base = self.base, rows = self.table_rows
        cdef uint64_t h, hp
        cdef bint missing = False
        for k in range(K):
            n += max(0, stops[k] - starts[k])
        if insert:
            self._reserve(min(n, rows))
        cdef int64_t[::1] rv = self._rows
        cdef int64_t[::1] cv = self._counts
        cdef Slot *m = self.m
        cdef int bits = self.bits
        cdef int64_t size = self.size, mask = self.mask
        with nogil:
            for k in range(K):
                a, b = starts[k], stops[k]
                for i in range(a, b):
                    if i + PREFETCH < b:
                        hp = slot_of(indices[i + PREFETCH], 64 - bits)
                        EMBSIM_PREFETCH(&m[hp])
                    r = indices[i]
                    if r < 0 or r >= rows:
                        bad = i
                        break
                    h = slot_of(r, 64 - bits)
                    while m[h].label and m[h].row != r:
                        h = (h + 1) & mask
                    if m[h].label:
                        lab = m[h].label - 1
                    elif not insert:
                        bad = i
                        missing = True
                        break
                    else:
                        lab = nxt
                        nxt += 1
                        m[h].row = r
                        m[h].label = lab + 1
                        rv[lab] = r
                        if 2 * nxt > size:                 # keep the map at most half full
                            m = grow(m, size, bits + 1)
                            if m == NULL:
                                break
                            bits += 1
                            size = (<int64_t>1) << bits
                            mask = size - 1
                    if insert:
                        cv[lab] += 1
                    out[i] = base + lab
                if bad >= 0 or m == NULL:
                    break
        self.m, self.bits, self.size, self.mask, self.nxt = m, bits, size, mask, nxt
        if m == NULL:
            raise MemoryError("row map")
        if bad >= 0:
            what = "never labelled" if missing else f"outside 0..{rows - 1}"
            raise IndexError(f"row {indices[bad]} at position {bad} {what}")

    def set_base(self, int64_t base):
        """The id of label 0 in ``out`` from now on (the table's offset among all tables' labels)."""
        self.base = base
