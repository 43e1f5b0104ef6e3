# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""One pass over a trace's indices: the first one outside its table's rows (``Trace.validate``)."""
from libc.stdint cimport int64_t, uint64_t


def first_out_of_range(const int64_t[::1] indices, const int64_t[::1] seg_len, const int64_t[::1] table_rows):
    """Position of the first index outside ``0 .. rows - 1`` of its table, or -1.

    ``seg_len``: lookups of each (batch, table) group in trace order, so
    group k belongs to table ``k % len(table_rows)``.  The groups must add
    up to ``len(indices)``.
    """
    cdef Py_ssize_t k, K = seg_len.shape[0], T = table_rows.shape[0]
    cdef int64_t i, pos = 0, end, bad = -1
    cdef uint64_t rows
    if T == 0:
        return -1
    with nogil:
        for k in range(K):
            rows = <uint64_t> table_rows[k % T]
            end = pos + seg_len[k]
            for i in range(pos, end):
                if <uint64_t> indices[i] >= rows:    # a negative index wraps to a huge unsigned one
                    bad = i
                    break
            if bad >= 0:
                break
            pos = end
    return bad
