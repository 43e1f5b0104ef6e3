"""A simulation's map and replay of a trace too large for memory, read chunk by chunk.

``simulate`` maps every lookup to its shard's location through compact row
ids (``row_map.compact_rows``): first-touch labels per table, the rows
ranked by their access counts.  For a trace in memory that is one pass that
keeps a compact id per lookup.  For a streamed trace (a ``TraceReader``)
it is two passes over the chunks, with nothing kept per lookup:

1. :func:`label_stream`: per table, a :class:`~embsim.sim._compact.RowLabeller`
   labels the rows in first-touch order and counts their lookups, chunk
   after chunk (the labels are those of one pass over the whole trace, as
   chunks are whole batches in order); then each table's rows are placed
   on their shards (``row_map.place_table_rows``).
2. :func:`replay_stream`: every chunk is labelled again (lookup only) into
   compact ids and fed to a :class:`~embsim.sim.replay.Replayer`.

Same labels, same row map, same ids in the same order: the counters are
those of the in-memory path, bit for bit.  Memory: the labellers (16-32
bytes per distinct row), the row map (4 bytes per distinct row), the
replay state, and one chunk's compact ids (8 bytes per lookup of a chunk).
"""
import hashlib

import numpy as np

from ..progress import progress as progress_bar
from ._compact import RowLabeller
from .replay import Replayer


def _segments(tr):
    """[table, batch] starts and stops of the (batch, table) groups of a chunk's lookups."""
    seg = tr.segment_offsets()
    T, nb = tr.n_tables, tr.n_batches
    return (np.ascontiguousarray(seg[:-1].reshape(nb, T).T), np.ascontiguousarray(seg[1:].reshape(nb, T).T))


def label_stream(reader, shards_by_table, place, labels=None, part_shares=None, progress=False):
    """Pass 1: ``(labellers, row_location, offsets, batch_lookups)`` of a streamed trace.

    ``place(rows, counts, shards, table_rows, labels, part_shares)`` places
    one table's labelled rows (``row_map.place_table_rows``).
    ``batch_lookups``: float64 [batches], logical lookups per batch.
    """
    T = reader.n_tables
    labellers = [RowLabeller(int(reader.table_rows[t]), 0) for t in range(T)]
    batch_lookups = np.zeros(reader.n_batches, dtype=np.float64)
    with progress_bar(total=reader.n_indices, desc="row map", unit="lookup", enabled=progress) as bar:
        for chunk in reader.chunks():
            tr = chunk.trace
            starts, stops = _segments(tr)
            scratch = np.empty(tr.n_indices, dtype=np.int64)
            for t in range(T):
                labellers[t].label(tr.indices, starts[t], stops[t], scratch)
            batch_lookups[chunk.first_batch:chunk.first_batch + tr.n_batches] = \
                tr.lengths.sum(axis=(1, 2), dtype=np.int64)
            bar.update(tr.n_indices)
    row_location, offsets, base = [], [], 0
    for t in range(T):
        rows, counts = labellers[t].rows(), labellers[t].counts()
        row_location.append(place(rows, counts, shards_by_table[t], int(reader.table_rows[t]), labels, part_shares))
        labellers[t].set_base(base)
        offsets.append(base)
        base += rows.size + 1
    return labellers, np.concatenate(row_location), np.array(offsets, dtype=np.int64), batch_lookups


def replay_stream(reader, labellers, row_bytes, offsets, locations, row_location, row_address_B=None,
                  row_length_B=None, progress=False):
    """Pass 2: the ReplayCounters of the streamed trace over compact ids (see :func:`label_stream`)."""
    rep = Replayer(reader.n_batches, row_bytes, offsets, locations, row_location=row_location,
                   total_rows=row_location.size, table_names=reader.table_names,
                   row_address_B=row_address_B, row_length_B=row_length_B)
    with progress_bar(total=reader.n_indices, desc="replay", unit="lookup", enabled=progress) as bar:
        for chunk in reader.chunks():
            tr = chunk.trace
            starts, stops = _segments(tr)
            compact = np.empty(tr.n_indices, dtype=np.int64)
            for t, lab in enumerate(labellers):
                lab.label(tr.indices, starts[t], stops[t], compact, insert=False)
            bar.update(rep.feed(compact, tr.batch_bounds()))
    return rep.result()


def stream_digest(reader):
    """blake2b-128 of lengths, then indices, then table_rows: the digest of the same trace in memory."""
    h = hashlib.blake2b(digest_size=16)
    for name in ("lengths", "indices"):
        for chunk in reader.chunks():
            h.update(np.ascontiguousarray(getattr(chunk.trace, name)).view(np.uint8))
    h.update(np.ascontiguousarray(reader.table_rows, dtype=np.int64).view(np.uint8))
    return h.hexdigest()
