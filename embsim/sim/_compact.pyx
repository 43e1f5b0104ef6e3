# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, language_level=3
"""Label the distinct rows of a lookup stream by first touch (the hot loop of simulate's row map).

One pass, O(1) per lookup, no sort: ``stamp[row] == epoch`` says the row
already has a label in this pass (``label_of[row]``); a new row gets the
next label.  Reusing ``stamp`` across tables with a new ``epoch`` each time
avoids clearing it.  Memory: 12 bytes per row of the largest table
(``stamp`` int32, ``label_of`` int64), touched only where rows are accessed.
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t


def label_rows(const int64_t[::1] idx, int32_t[::1] stamp, int64_t[::1] label_of, int32_t epoch,
               int64_t[::1] out):
    """``out[i]`` = label of ``idx[i]``; returns (row of each label, lookups of each label).

    Labels run 0.. in order of first touch.  ``stamp`` and ``label_of`` have
    one entry per row of the table (at least); ``stamp`` must hold no
    ``epoch`` entry from an earlier pass.
    """
    cdef Py_ssize_t i, n = idx.shape[0], R = stamp.shape[0]
    cdef int64_t r, lab, nxt = 0
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
            if stamp[r] != epoch:
                stamp[r] = epoch
                label_of[r] = nxt
                rv[nxt] = r
                nxt += 1
            lab = label_of[r]
            cv[lab] += 1
            out[i] = lab
    return rows[:nxt], counts[:nxt]
