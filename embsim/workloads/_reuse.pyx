# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""LRU stack kernels: measure stack distances, and generate accesses from them.

Both rest on one idea.  Give every access a time slot 1..n.  A Fenwick (binary
indexed) tree over the slots marks, for each distinct row seen so far, the slot
of its *latest* access.  Then

- the LRU stack depth of a row whose latest access is at slot p is the number
  of marked slots >= p (1 = it was the very last row touched), one prefix sum;
- the row at depth d is the one whose slot is the (m - d + 1)-th marked slot,
  m = rows in the stack, found by a Fenwick descent;

each in O(log n), with no Python object per access.  Touching a row unmarks
its old slot and marks the new one.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport pow, floor, exp, log
from libc.stdint cimport int32_t, int64_t, uint64_t

cnp.import_array()


cdef inline void _add(int32_t[::1] tree, Py_ssize_t n, Py_ssize_t i, int32_t v) noexcept nogil:
    while i <= n:
        tree[i] += v
        i += i & (-i)


cdef inline int64_t _prefix(int32_t[::1] tree, Py_ssize_t i) noexcept nogil:
    cdef int64_t s = 0
    while i > 0:
        s += tree[i]
        i -= i & (-i)
    return s


cdef inline Py_ssize_t _find(int32_t[::1] tree, Py_ssize_t n, Py_ssize_t top, int64_t k) noexcept nogil:
    """Smallest slot i with prefix(i) >= k (k >= 1); ``top`` is the largest power of two <= n."""
    cdef Py_ssize_t pos = 0, step = top
    while step > 0:
        if pos + step <= n and tree[pos + step] < k:
            pos += step
            k -= tree[pos]
        step >>= 1
    return pos + 1


cdef Py_ssize_t _top(Py_ssize_t n):
    cdef Py_ssize_t t = 1
    while t * 2 <= n:
        t *= 2
    return t


def stack_distances(const int64_t[::1] keys, Py_ssize_t n_keys, int64_t[::1] hist, int64_t[::1] out=None):
    """LRU stack depth of every access of ``keys`` (dense ids 0..n_keys-1).

    Depth 1 is an immediate repeat; 0 marks a first access (cold).  Adds to
    ``hist`` (length >= 2): hist[0] counts cold accesses and hist[j], j >= 1,
    depths in (2^(j-2), 2^(j-1)] -- depth 1 in hist[1], 2 in hist[2], 3-4 in
    hist[3], ...; depths past the last bin go to the last bin.  If ``out`` is
    given it receives each access's depth.
    """
    cdef Py_ssize_t n = keys.shape[0], nb = hist.shape[0], i, p, j
    cdef int64_t k, m = 0, d, x
    cdef int32_t[::1] tree = np.zeros(n + 1, dtype=np.int32)
    cdef int64_t[::1] last = np.full(n_keys, -1, dtype=np.int64)
    cdef bint want = out is not None
    if want and out.shape[0] != n:
        raise ValueError("out must have one slot per access")
    with nogil:
        for i in range(n):
            k = keys[i]
            p = last[k]
            if p < 0:
                d = 0
                m += 1
                hist[0] += 1
            else:
                d = m - _prefix(tree, p - 1)
                _add(tree, n, p, -1)
                # bin of depth d: 1 + bit length of (d - 1)
                x = d - 1
                j = 1
                while x > 0:
                    x >>= 1
                    j += 1
                if j >= nb:
                    j = nb - 1
                hist[j] += 1
            if want:
                out[i] = d
            _add(tree, n, i + 1, 1)
            last[k] = i + 1


cdef inline int64_t _depth(double u, int64_t m, double a) noexcept nogil:
    """Inverse CDF of a power law P(d) ~ d^-a on 1..m (continuous, floored)."""
    cdef double x
    if a == 1.0:
        x = exp(u * log(m + 1.0))
    else:
        x = pow(1.0 + u * (pow(m + 1.0, 1.0 - a) - 1.0), 1.0 / (1.0 - a))
    cdef int64_t d = <int64_t>floor(x)
    if d < 1:
        d = 1
    if d > m:
        d = m
    return d


cdef class StackGenerator:
    """State of one table's LRU stack while its access stream is generated.

    ``step(u_reuse, u_depth, cold_rows, out)`` writes one chunk of rows.  For
    access i: if the stack is empty or ``u_reuse[i] >= reuse_p`` the access is
    *cold* and takes the next row of ``cold_rows`` (drawn by the caller from
    the table's popularity law, one per cold access: the caller counts them
    first, so no draw is wasted on re-uses); otherwise it re-uses the row at LRU depth
    d ~ d^-stack_alpha on 1..m (m = distinct rows in the stack so far), drawn
    from ``u_depth[i]`` by inverse CDF.  Either way the row moves to the top.
    Chunks continue the same stream, so memory for randomness stays one chunk.
    """
    cdef int32_t[::1] tree
    cdef int64_t[::1] row_at
    cdef int64_t[::1] last      # direct: slot of each row; hashed: slot per hash cell
    cdef int64_t[::1] hkeys     # hashed mode: row held by each cell (-1 empty)
    cdef bint hashed
    cdef uint64_t hmask
    cdef Py_ssize_t n, top
    cdef int64_t t, m
    cdef double reuse_p, a

    def __init__(self, Py_ssize_t total, int64_t rows, double reuse_p, double stack_alpha):
        self.n = total
        self.top = _top(max(total, 1))
        self.tree = np.zeros(total + 1, dtype=np.int32)
        self.row_at = np.zeros(total + 1, dtype=np.int64)
        # A row's latest slot (0 = not in the stack): a direct array when the
        # table is not much larger than the stream, else an open-addressing
        # hash table sized to the stream (a 10^9-row table must not cost 8 GB).
        cdef uint64_t cap = 1
        self.hashed = rows > 4 * total + 1024
        if self.hashed:
            while cap < <uint64_t>(2 * total + 16):
                cap <<= 1
            self.hmask = cap - 1
            self.last = np.zeros(cap, dtype=np.int64)
            self.hkeys = np.full(cap, -1, dtype=np.int64)
        else:
            self.last = np.zeros(rows, dtype=np.int64)
            self.hkeys = np.zeros(1, dtype=np.int64)
        self.t = 0
        self.m = 0
        self.reuse_p = reuse_p
        self.a = stack_alpha

    cdef inline Py_ssize_t _cell(self, int64_t row) noexcept nogil:
        """Index into ``last`` for ``row`` (inserting it into the hash table if new)."""
        cdef uint64_t h
        if not self.hashed:
            return row
        h = (<uint64_t>row * <uint64_t>0x9E3779B97F4A7C15ULL) >> 17
        h &= self.hmask
        while self.hkeys[h] != row and self.hkeys[h] != -1:
            h = (h + 1) & self.hmask
        self.hkeys[h] = row
        return h

    def step(self, const double[::1] u_reuse, const double[::1] u_depth, const int64_t[::1] cold_rows,
             int64_t[::1] out):
        cdef Py_ssize_t i, c = out.shape[0], slot, ci = 0, nc = cold_rows.shape[0], done = 0
        cdef int64_t row, p, d
        cdef Py_ssize_t cell
        if self.t + c > self.n:
            raise ValueError("more accesses than the generator was sized for")
        with nogil:
            for i in range(c):
                if self.m == 0 or u_reuse[i] >= self.reuse_p:
                    if ci >= nc:
                        break
                    row = cold_rows[ci]
                    ci += 1
                else:
                    d = _depth(u_depth[i], self.m, self.a)
                    slot = _find(self.tree, self.n, self.top, self.m - d + 1)
                    row = self.row_at[slot]
                cell = self._cell(row)
                p = self.last[cell]
                if p > 0:
                    _add(self.tree, self.n, p, -1)
                else:
                    self.m += 1
                self.t += 1
                _add(self.tree, self.n, self.t, 1)
                self.row_at[self.t] = row
                self.last[cell] = self.t
                out[i] = row
                done += 1
        if ci != nc or done != c:
            raise ValueError(f"cold_rows holds {nc} rows but the chunk has a different number of cold accesses")

    @property
    def distinct(self):
        return self.m
