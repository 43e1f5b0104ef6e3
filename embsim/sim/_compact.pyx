# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, language_level=3
"""Label the distinct rows of a lookup stream by first touch (the hot loop of simulate's row map).

One pass, O(1) per lookup, no sort: ``label_of[row]`` is -1 for a row not
yet seen, else its label; a new row gets the next label.  The caller resets
the touched entries (``label_of[rows] = -1``) before the next table, so one
int32 array the size of the largest table serves every table: 4 bytes per
row, filled once, sequentially (random first touches of fresh pages would
cost a page fault each).
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t


def label_rows(const int64_t[::1] idx, int32_t[::1] label_of, int64_t[::1] out):
    """``out[i]`` = label of ``idx[i]``; returns (row of each label, lookups of each label).

    Labels run 0.. in order of first touch.  ``label_of`` has one entry per
    row of the table (at least), all -1 on entry; on return the touched rows
    hold their labels.
    """
    cdef Py_ssize_t i, n = idx.shape[0], R = label_of.shape[0]
    cdef int64_t r
    cdef int32_t lab, nxt = 0
    if n >= 2 ** 31 - 1:
        raise ValueError(f"{n} lookups in one table: more than int32 labels allow")
    rows = np.empty(n, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    cdef int64_t[::1] rv = rows
    cdef int64_t[::1] cv = counts
    with nogil:
        for i in range(n):
            r = idx[i]
            if r < 0 or r >= R:
                with gil:
                    raise IndexError(f"row {r} at position {i} outside 0..{R - 1}")
            lab = label_of[r]
            if lab < 0:
                lab = nxt
                label_of[r] = lab
                rv[lab] = r
                nxt += 1
            cv[lab] += 1
            out[i] = lab
    return rows[:nxt], counts[:nxt]
