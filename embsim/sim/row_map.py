"""Where each looked-up row lives: the plan's shards ranked by hot order, rows relabelled compactly.

``Simulation`` maps every row a trace touches to one replay location (a
shard, or the cache in front of it) before the replay.  The rules are the
module docstring's "Hot order" and "Locations" of :mod:`embsim.sim.simulate`:
a shard holds a range of hot ranks of its table's part; ranks come from the
profile's counts (falling), ties to the lower row.
"""
import numpy as np

from ..cost_model.partition import RowPartition
from ..errors import InputError
from ._compact import label_segments
from .columns import COLUMN
from .heldout import locate_heldout
from .replicas import REPLICATED

def per_read(spec, rep, row_bytes):
    """(rows, bytes per read, MACs per read) of a table: for a row-sharing representation its
    physical rows, and the lookup's bytes and MACs spread over its reads (the replay counts reads)."""
    macs = float(rep.macs_per_lookup or 0.0)
    if not getattr(rep, "shares_rows", False):
        return spec.rows, row_bytes, macs
    reads = float(rep.reads_per_lookup or 1.0)
    return int(sum(rep.physical_rows)), row_bytes / reads, macs / reads


def row_partition(tp, spec, rows, parts):
    """The RowPartition of a plan's table over its ``rows`` physical rows (range bounds scaled to them)."""
    bounds = tp.row_bounds
    if tp.partition in (REPLICATED, COLUMN):   # copy / shard c: rows [c * rows, (c + 1) * rows) of the relabelled trace
        return RowPartition("range", parts, rows * parts, tuple(c * rows for c in range(parts + 1)))
    if (tp.partition or "hash") == "range":
        if not bounds or len(bounds) != parts + 1:
            raise InputError(f"plan: table '{spec.name}': row_bounds {bounds}: expected {parts + 1} row ids for "
                             f"{parts} range parts")
        if rows != spec.rows:      # a row-sharing table: the bounds were cut on logical ids
            bounds = [int(b) * rows // spec.rows for b in bounds]
        return RowPartition("range", parts, rows, tuple(int(b) for b in bounds))
    return RowPartition("hash", parts, rows)


def part_rows(rows, part, parts):
    """Rows of a table of ``rows`` rows whose id is ``part`` mod ``parts``."""
    return (rows - part + parts - 1) // parts


def hot_order_of(rows, counts, part, parts, table_rows):
    """Indices that sort rows by part, then falling count, ties to the lower row.

    One int64 key and one sort where the key fits (it always does for tables
    under a few billion rows x lookups), else numpy's three-key lexsort.
    """
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    top = int(counts.max())
    if parts * (top + 1) * table_rows < 2 ** 62:
        key = (part * (top + 1) + (top - counts)) * table_rows + rows
        return np.argsort(key)
    return np.lexsort((rows, -counts, part))


def _locate(rows, counts, shards, P, table_rows):
    """Location of each distinct row: rank it by hot order within its part, find the shard holding the rank.

    No sort of all rows: rows of equal (part, count) hold a contiguous run of
    ranks, which a histogram of counts places; only a run that a shard
    boundary cuts needs its rows in increasing order (ties go to the lower
    row), and there are at most as many such runs as shards.  The result
    equals ranking with ``hot_order_of``.
    """
    cut = shards[0].partition
    part = (rows % P if cut is None else cut.part_of(rows)) if P > 1 else None
    where = np.empty(rows.size, dtype=np.int32)
    for p in range(P):
        sh = [s for s in shards if s.part == p]
        his = np.array([s.hi for s in sh], dtype=np.int64)
        locs = np.array([s.location for s in sh], dtype=np.int32)
        sel = np.flatnonzero(part == p) if P > 1 else None
        r = rows if sel is None else rows[sel]
        c = counts if sel is None else counts[sel]
        if r.size == 0:
            continue
        down = int(c.max()) - c                          # 0 for the hottest count
        size = np.bincount(down)                         # rows per count, hottest first
        start = np.cumsum(size) - size                   # first rank of each count's run
        first = start[down]
        lo_shard = np.searchsorted(his, first, side="right")
        hi_shard = np.searchsorted(his, first + size[down] - 1, side="right")
        out = locs[lo_shard]
        cut = np.flatnonzero(np.bincount(down[lo_shard != hi_shard], minlength=1))
        for d in cut:                                    # runs a shard boundary cuts
            m = np.flatnonzero(down == d)
            rank = start[d] + np.searchsorted(np.sort(r[m]), r[m])
            out[m] = locs[np.searchsorted(his, rank, side="right")]
        if sel is None:
            where[:] = out
        else:
            where[sel] = out
    return where


def compact_rows(trace, shards_by_table, labels=None, part_shares=None, place=None):
    """Relabel the rows a trace touches with compact ids, and place each on its shard's location.

    Returns ``(compact, row_location, offsets)``: ``compact`` int64 per lookup
    in access order; ``row_location`` int32 per compact row; ``offsets`` the
    first compact id of each table.  Table t's accessed rows get ids
    ``offsets[t] ..`` in order of first touch, plus one spare id so every
    table owns at least one.  A row's hot rank is its place by falling access
    count in the trace, ties to the lower row; the shard whose hot-rank range
    ``[lo, hi)`` holds that rank holds the row.  A table split row-wise into
    ``parts`` parts ranks its rows within their part (by id: hash or range, ``cost_model.partition``);
    ``part_shares``, if a dict, receives per such table the measured share of its lookups per part.  The relabelling is one-to-one
    within the trace, so a replay over compact ids counts exactly what a
    replay over global ids would, with memory for the touched rows only.

    Cost: one Cython pass per lookup (``_compact.label_segments``: a hash map
    sized to the table's distinct rows in the trace, not to its rows; no
    sort, no copy of the lookups), then a histogram of the distinct rows'
    counts per table (see ``_locate``).  ``labels``, if a list, receives per
    table (table row of each label, its lookups) for a layout.
    """
    T = trace.n_tables
    seg = trace.segment_offsets()                        # start of each (batch, table) group of lookups
    starts = np.ascontiguousarray(seg[:-1].reshape(trace.n_batches, T).T)   # [table, batch]
    stops = np.ascontiguousarray(seg[1:].reshape(trace.n_batches, T).T)
    compact = np.empty(trace.n_indices, dtype=np.int64)
    row_location, offsets, base = [], [], 0
    place = place or place_table_rows
    for t in range(T):
        rows, counts = label_segments(trace.indices, starts[t], stops[t], int(trace.table_rows[t]), base, compact)
        row_location.append(place(rows, counts, shards_by_table[t], int(trace.table_rows[t]), labels, part_shares))
        offsets.append(base)
        base += rows.size + 1
    return compact, np.concatenate(row_location), np.array(offsets, dtype=np.int64)


def place_table_rows(rows, counts, mine, table_rows, labels=None, part_shares=None, seen=None):
    """int32 location of each labelled row of one table (and of its spare row, last), from its counts,
    or, given ``seen`` (the profile's rows ascending and counts), from the profile (``sim/heldout.py``)."""
    if seen is not None and labels is not None:     # a layout packs rows by the profile's ranks
        where = np.empty(rows.size + 1, dtype=np.int32)
        where[:-1], rank, ident = locate_heldout(rows, seen, mine, mine[0].parts, layout=True)
        where[-1] = mine[0].location
        labels.append((rows, _profile_counts(rows, seen), rank, ident, seen))
        if part_shares is not None and mine[0].parts > 1 and counts.sum() > 0:
            per = np.bincount(mine[0].partition.part_of(rows), weights=counts, minlength=mine[0].parts)
            part_shares[mine[0].table_name] = [float(x) for x in per / per.sum()]
        return where
    if labels is not None:
        labels.append((rows, counts))
    if part_shares is not None and mine[0].parts > 1 and counts.sum() > 0:   # measured share of each part
        per = np.bincount(mine[0].partition.part_of(rows), weights=counts, minlength=mine[0].parts)
        part_shares[mine[0].table_name] = [float(x) for x in per / per.sum()]
    if len({s.location for s in mine}) == 1:          # one place for the whole table: no ranking needed
        return np.full(rows.size + 1, mine[0].location, dtype=np.int32)
    where = np.empty(rows.size + 1, dtype=np.int32)
    where[:-1] = (_locate(rows, counts, mine, mine[0].parts, table_rows) if seen is None else
                  locate_heldout(rows, seen, mine, mine[0].parts))
    where[-1] = mine[0].location                      # the spare row
    return where


def _profile_counts(rows, seen):
    """The profile's count of each of ``rows`` (0 for a row it never saw)."""
    prow, pcount = seen
    idx = np.minimum(np.searchsorted(prow, rows), max(prow.size - 1, 0))
    hit = (prow[idx] == rows) if prow.size else np.zeros(rows.size, dtype=bool)
    return np.where(hit, pcount[idx] if prow.size else 0, 0).astype(np.int64)
