"""Column-wise tables: K shards of dim/K columns each, on K devices, every shard reading every lookup.

A plan's table with ``partition: column`` has one shard per column range
(part ``c`` of ``parts``, rank range [0, 1), all rows, ``columns[c]`` to
``columns[c + 1]``).  Every lookup of the table reads its row in every shard,
each read ``row_bytes / parts`` wide.  :func:`column_lookups` gives the replay
exactly that, as :mod:`.replicas` does for copies: each lookup ``id`` of the
table becomes ``parts`` lookups ``id + c * rows`` (c = 0 .. parts-1) in the same
sample's bag, and the table's row count becomes ``parts * rows``, so the shards
are the range parts ``[c * rows, (c + 1) * rows)`` and the rest of the
simulator (replay, unique rows, bytes per device) runs unchanged.  Logical
lookups (throughput) are counted on the trace before this rewrite.  Each shard
sends dim/parts of the table's pooled vector in the all-to-all.
"""
from __future__ import annotations

import numpy as np

from .replicas import tables_with_partition

COLUMN = "column"


def column_tables(plan, model) -> dict:
    """{table index: shards} of the plan's column-wise tables."""
    return tables_with_partition(plan, model, COLUMN)


def column_lookups(trace, shards: dict):
    """The trace with each column-wise table's lookups repeated once per shard (module doc); ``trace`` if none."""
    if not shards:
        return trace
    from ..workloads.trace import Trace
    T, B = trace.n_tables, trace.batch_size
    seg = trace.segment_offsets()
    lengths = trace.lengths.copy()
    rows = trace.table_rows.copy()
    pieces = []
    for b in range(trace.n_batches):
        for t in range(T):
            lo, hi = int(seg[b * T + t]), int(seg[b * T + t + 1])
            ids = trace.indices[lo:hi]
            K = shards.get(t)
            if K is None or hi == lo:
                pieces.append(ids)
                continue
            R = int(trace.table_rows[t])
            sample = np.repeat(np.arange(B, dtype=np.int64), trace.lengths[b, t])
            copies = np.concatenate([ids + c * R for c in range(K)])
            order = np.argsort(np.tile(sample, K), kind="stable")    # each sample's bag: shard 0's ids, 1's, ...
            pieces.append(copies[order].astype(trace.indices.dtype, copy=False))
    for t, K in shards.items():
        lengths[:, t] *= K
        rows[t] = int(trace.table_rows[t]) * K
    meta = dict(trace.meta) if isinstance(trace.meta, dict) else {}
    meta["column_tables"] = {int(t): int(K) for t, K in shards.items()}
    indices = np.concatenate(pieces) if pieces else trace.indices.copy()
    return Trace(lengths=lengths, indices=indices, table_rows=rows, table_names=trace.table_names,
                 timestamps_s=trace.timestamps_s, meta=meta)


__all__ = ["column_tables", "column_lookups", "COLUMN"]
