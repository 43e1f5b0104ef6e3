"""The row-to-shard map of a held-out profile: ranks from the profile, rows from the evaluation trace.

A shard of a plan holds hot ranks ``[lo, hi)`` of its table (of one row-wise
part).  Under a profile the whole table is ranked once, independently of the
trace replayed:

1. rows the profile saw, by falling profile count, ties to the lower row;
2. then every row the profile never saw, in increasing row order.

So a shard holds exactly ``hi - lo`` rows of the table, as a deployment that
loads the profile's hot rows into the fast tiers and fills the rest in id
order would.  A row the evaluation touches gets its rank in that order:

* seen in the profile: its place among the profile's rows (a sort of the
  profile's distinct rows, not of the table);
* unseen: ``n_seen + (its index within its part) - (seen rows of its part
  with a lower id)``, the index within the part being ``id // parts`` for a
  hash partition, ``id - bound`` for a range one.

Memory: the profile's distinct rows (16 bytes each) and the evaluation's
distinct rows; nothing per row of the table.  With the evaluation trace as
its own profile this equals ``row_map._locate`` (every touched row is seen).
"""
from __future__ import annotations

import numpy as np

from ..cost_model.leave_one_out import unseen_shares
from ..workloads.stats import row_frequencies


def profile_rows(profile) -> list:
    """Per table: (rows ascending, access counts) of the rows the profile trace touches."""
    return row_frequencies(profile)


def _within_part(rows: np.ndarray, cut, part: int, parts: int) -> np.ndarray:
    """Index of each row of part ``part`` among that part's rows, in id order."""
    if parts == 1 or cut is None or cut.scheme == "hash":
        return rows // parts
    return rows - int(cut.bounds[part])


def locate_heldout(rows: np.ndarray, seen: tuple, shards: list, parts: int, layout: bool = False):
    """int32 location of each of ``rows`` (one table's rows the evaluation touches) under the profile
    ``seen`` = (profiled rows ascending, their counts) (module doc).  With ``layout``, returns
    ``(location, rank, identity)``: each row's hot rank within its part and its place by id among
    its shard's rows (what ``layout_plan`` packs by)."""
    prow, pcount = (np.asarray(a, dtype=np.int64) for a in seen)
    cut = shards[0].partition
    part_e = cut.part_of(rows) if parts > 1 else None
    part_p = cut.part_of(prow) if parts > 1 else None
    where = np.empty(rows.size, dtype=np.int32)
    rank_all = np.zeros(rows.size, dtype=np.int64)          # filled only for a layout
    ident = np.zeros(rows.size, dtype=np.int64)
    for p in range(parts):
        sh = [s for s in shards if s.part == p]
        his = np.array([s.hi for s in sh], dtype=np.int64)
        locs = np.array([s.location for s in sh], dtype=np.int32)
        sel = np.flatnonzero(part_e == p) if parts > 1 else np.arange(rows.size)
        r = rows[sel]
        if r.size == 0:
            continue
        if len(sh) == 1 and not layout:
            where[sel] = locs[0]
            continue
        pr = prow if parts == 1 else prow[part_p == p]
        pc = pcount if parts == 1 else pcount[part_p == p]
        rank_of = np.empty(pr.size, dtype=np.int64)
        rank_of[np.lexsort((pr, -pc))] = np.arange(pr.size, dtype=np.int64)
        idx = np.searchsorted(pr, r)                      # profiled rows of the part with a lower id
        found = idx < pr.size
        found[found] = pr[idx[found]] == r[found]
        unseen_index = _within_part(r, cut, p, parts) - idx
        rank = np.where(found, rank_of[np.minimum(idx, max(pr.size - 1, 0))] if pr.size else 0,
                        pr.size + unseen_index)
        k = np.minimum(np.searchsorted(his, rank, side="right"), locs.size - 1)
        where[sel] = locs[k]
        if layout:
            rank_all[sel] = rank
            ident[sel] = _identity(k, r, unseen_index, sh, pr, rank_of)
    return (where, rank_all, ident) if layout else where


def _identity(k, r, unseen_index, shards, pr, rank_of):
    """Place by id of each row among the rows of its shard ``shards[k]``: the shard's profiled rows
    below it plus the shard's unseen rows below it (unseen rows hold ranks ``n_seen + u``)."""
    out = np.empty(r.size, dtype=np.int64)
    for j, s in enumerate(shards):
        m = k == j
        if not m.any():
            continue
        mine = np.sort(pr[(rank_of >= s.lo) & (rank_of < s.hi)])
        u0, u1 = max(s.lo - pr.size, 0), max(s.hi - pr.size, 0)
        out[m] = np.searchsorted(mine, r[m]) + np.clip(unseen_index[m] - u0, 0, u1 - u0)
    return out


def placer(seen_by_table, place_table_rows):
    """``place_table_rows`` with each table's profile bound (``seen_by_table`` from :func:`profile_rows`),
    or ``place_table_rows`` itself when there is no held-out profile (None)."""
    if seen_by_table is None:
        return place_table_rows

    def place(rows, counts, mine, table_rows, labels=None, part_shares=None):
        return place_table_rows(rows, counts, mine, table_rows, labels, part_shares,
                                seen=seen_by_table[mine[0].table])
    return place


def unseen_share_report(profile, evaluation) -> dict | None:
    """Per table, the share of the evaluation's lookups to rows the profile never saw, Good-Turing's estimate
    from the profile beside the share measured (``cost_model.leave_one_out.unseen_shares``); None for traces
    not in memory (a streamed trace would need a pass of its own).  Where measured stands well above
    predicted, the trace drifts and the plan's held-out figures are optimistic by as much."""
    if not (hasattr(profile, "indices") and hasattr(evaluation, "indices")):
        return None
    shares = unseen_shares(profile, evaluation)
    return {"tables": list(evaluation.table_names), "predicted": [round(s["predicted"], 6) for s in shares],
            "measured": [round(s["measured"], 6) for s in shares]}
