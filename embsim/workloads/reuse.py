"""LRU stack (reuse) distances of a trace, in O(n log n).

The stack distance of an access is the LRU stack depth of its row at that
moment: 1 if the row was the last one touched, k if k-1 other distinct rows
were touched since its previous access; a row's first access is *cold*.  A
fully associative LRU cache of C rows hits exactly the accesses of depth
<= C, so the histogram gives the LRU hit rate of every cache size at once.

The kernel (``_reuse.stack_distances``) keeps a Fenwick tree over access
times marking each row's latest access; a depth is one prefix sum.  Rows are
keyed by global id (``row_offsets[table] + index``), as a cache shared by all
tables sees them; pass ``table=t`` for one table alone.

Bins are powers of two, like the column-size bins of ``locality.py``:
bin 0 holds depth 1, bin j >= 1 depths in (2^(j-1), 2^j].
"""
from dataclasses import dataclass

import numpy as np

from ._reuse import stack_distances as _stack_distances
from .trace import Trace

N_DEPTH_BINS = 40   # up to 2^39 rows: more than any trace holds


@dataclass
class ReuseHistogram:
    """Counts of accesses per power-of-two stack-depth bin, plus cold accesses."""

    counts: np.ndarray      # int64 [bins]: bin 0 depth 1, bin j depths (2^(j-1), 2^j]
    cold: int               # first accesses of a row
    accesses: int

    @property
    def upper_depths(self):
        """Largest depth of each bin: 1, 2, 4, 8, ..."""
        return 2 ** np.arange(len(self.counts), dtype=np.int64)

    def lru_hit_rate(self, cache_rows):
        """Hit rate of a fully associative LRU cache of ``cache_rows`` rows (exact at powers of two)."""
        if cache_rows < 1:
            return 0.0
        j = int(np.floor(np.log2(cache_rows)))
        return float(self.counts[: j + 1].sum()) / max(self.accesses, 1)

    def to_dict(self):
        last = int(np.max(np.flatnonzero(self.counts), initial=0))
        return {"accesses": self.accesses, "cold": self.cold,
                "depth_bins_upper": self.upper_depths[: last + 1].tolist(),
                "counts": self.counts[: last + 1].tolist()}


def _dense_keys(ids):
    """Map ids to 0..K-1 (cheaply when they are already small non-negative ints)."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if ids.size == 0:
        return ids, 0
    lo, hi = int(ids.min()), int(ids.max())
    if lo >= 0 and hi < max(4 * ids.size, 1 << 24):
        return ids, hi + 1
    uniq, inv = np.unique(ids, return_inverse=True)
    return inv.astype(np.int64).ravel(), int(uniq.size)


def stack_distances(ids):
    """int64 LRU stack depth of every access of ``ids`` (0 for a cold access)."""
    keys, k = _dense_keys(ids)
    out = np.empty(keys.size, dtype=np.int64)
    hist = np.zeros(N_DEPTH_BINS + 1, dtype=np.int64)
    _stack_distances(keys, k, hist, out)
    return out


def reuse_distance_histogram(trace_or_ids, table=None):
    """ReuseHistogram of a Trace (global ids, or one ``table``) or of a plain id array."""
    if isinstance(trace_or_ids, Trace):
        tr = trace_or_ids
        if table is None:
            ids = tr.global_ids()
        else:
            mask = tr.table_of_index() == int(table)
            ids = tr.indices[mask]
    else:
        if table is not None:
            raise ValueError("table= needs a Trace")
        ids = trace_or_ids
    keys, k = _dense_keys(ids)
    hist = np.zeros(N_DEPTH_BINS + 1, dtype=np.int64)
    _stack_distances(keys, k, hist)
    return ReuseHistogram(counts=hist[1:].copy(), cold=int(hist[0]), accesses=int(keys.size))
