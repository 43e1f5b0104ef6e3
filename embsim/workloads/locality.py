"""Reuse histograms in the definition of Meta's dlrm_datasets ``locality_stats.txt``.

Within one batch, a row's *column size* is how many times the batch looks it
up (over all tables; rows are keyed by global id).  Column sizes fall into 17
power-of-two bins: (0,1], (1,2], (2,4], ..., (16384,32768], (32768,inf).
The file reports, per bin, the share of unique rows ("Histogram of col
sizes") and the share of accesses ("Ratio of index distribution").
Several batches are pooled: counts are summed over batches, then normalised.
"""
import numpy as np

N_BINS = 17
BIN_LABELS = ["(0, 1]"] + [f"({2**(i - 1)}, {2**i}]" for i in range(1, 16)] + ["(32768+"]


def column_size_bins(counts):
    """Bin index (0..16) of each column size: ceil(log2(count)), capped at 16."""
    counts = np.asarray(counts, dtype=np.int64)
    bins = np.zeros(counts.shape, dtype=np.int64)
    big = counts > 1
    # ceil(log2(c)) for c >= 2 is the bit length of (c - 1)
    bins[big] = np.floor(np.log2(counts[big] - 1)).astype(np.int64) + 1
    return np.minimum(bins, N_BINS - 1)


def reuse_histogram(trace, batches=None):
    """(row_share[17], access_share[17]) of a Trace, pooled over ``batches`` (default: all)."""
    bounds = trace.batch_bounds()
    offsets = trace.row_offsets
    rows = np.zeros(N_BINS, dtype=np.float64)
    acc = np.zeros(N_BINS, dtype=np.float64)
    for b in (range(trace.n_batches) if batches is None else batches):
        per = trace.lengths[b].sum(axis=1, dtype=np.int64)
        ids = trace.indices[bounds[b]:bounds[b + 1]] + np.repeat(offsets, per)
        _, counts = np.unique(ids, return_counts=True)
        bins = column_size_bins(counts)
        rows += np.bincount(bins, minlength=N_BINS)
        acc += np.bincount(bins, weights=counts, minlength=N_BINS)
    return rows / max(rows.sum(), 1.0), acc / max(acc.sum(), 1.0)
