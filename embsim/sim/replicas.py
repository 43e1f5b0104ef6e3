"""Data-parallel (replicated) tables: every device holds a copy and serves its own slice of each batch.

A plan's table with ``partition: replicated`` has one shard per copy (part
``c`` of ``parts`` on device ``c``'s slot, rank range [0, 1), each whole
table).  Sample ``s`` of a batch of ``B`` is served by copy ``s * parts // B``
(the batch is split into equal slices, one per device, as data parallelism
splits it), so the replay must see copy ``c``'s lookups as rows of its own.
:func:`replicate_lookups` gives it exactly that: it rewrites the table's ids
to ``id + c * rows`` and the table's row count to ``parts * rows``, so the
copies are the ``parts`` range parts ``[c * rows, (c + 1) * rows)`` and the
rest of the simulator (replay, unique rows per batch, bytes per device) runs
unchanged.  A replicated table sends no pooled vectors in the all-to-all:
each device pools its own samples.
"""
from __future__ import annotations

import numpy as np

REPLICATED = "replicated"


def tables_with_partition(plan, model, partition: str) -> dict:
    """{table index: parts} of the plan's tables cut by ``partition`` (``replicated``, ``column``)."""
    out = {}
    for t, spec in enumerate(model.tables):
        try:
            tp = plan.table(spec.name)
        except KeyError:
            continue
        if getattr(tp, "partition", None) == partition:
            out[t] = int(tp.shards[0].parts)
    return out


def replicated_tables(plan, model) -> dict:
    """{table index: copies} of the plan's data-parallel tables."""
    return tables_with_partition(plan, model, REPLICATED)


def replicate_lookups(trace, copies: dict):
    """The trace with each replicated table's lookups relabelled per copy (module doc); ``trace`` if none."""
    if not copies:
        return trace
    from ..workloads.trace import Trace
    T, B = trace.n_tables, trace.batch_size
    seg = trace.segment_offsets()
    indices = trace.indices.copy()
    rows = trace.table_rows.copy()
    for t, n in copies.items():
        R = int(trace.table_rows[t])
        copy_of_sample = (np.arange(B, dtype=np.int64) * n) // B
        for b in range(trace.n_batches):
            lo, hi = int(seg[b * T + t]), int(seg[b * T + t + 1])
            if hi > lo:
                indices[lo:hi] += np.repeat(copy_of_sample, trace.lengths[b, t]) * R
        rows[t] = R * n
    meta = dict(trace.meta) if isinstance(trace.meta, dict) else {}
    meta["replicated_tables"] = {int(t): int(n) for t, n in copies.items()}
    return Trace(lengths=trace.lengths, indices=indices, table_rows=rows, table_names=trace.table_names,
                 timestamps_s=trace.timestamps_s, meta=meta)


__all__ = ["replicated_tables", "replicate_lookups", "REPLICATED"]
