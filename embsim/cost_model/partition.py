"""Row-wise parts of a table: which rows each part holds and what share of the lookups it carries.

A table split row-wise into ``P`` parts is partitioned by row id in one of two ways:

- ``hash``: part ``p`` holds the rows whose id is ``p`` mod ``P`` (every part
  has the same number of rows, +-1);
- ``range``: part ``p`` holds the ids ``bounds[p] <= id < bounds[p + 1]``
  (TorchRec's row-wise sharding, with ``bounds`` at multiples of ``R / P``;
  embsim may also move the bounds so that the parts' loads balance).

The share of the lookups a part carries is *not* ``1 / P`` when a few rows are
hot: on a zipf table the hottest row alone can carry several percent, and the
part holding it is slower than the rest.  With a profile's per-row counts
(``TraceStats.row_counts``) the share of part ``p`` is predicted as

    share_p = (1 - m0) * seen_p / N  +  m0 * unseen_rows_p / unseen_rows

where ``seen_p`` are the profile's lookups of rows in part ``p``, ``N`` all of
them, and ``m0 = N1 / N`` the Good-Turing estimate of the share of future
lookups that go to rows the profile never saw (``N1``: rows seen exactly
once), spread evenly over those rows.  Without counts (stats from a model's
distributions) which rows are hot is unknown, and every part gets ``1 / P``.

``choose`` picks, per table, the partition whose most loaded part is the
lightest: hash, even range, or range with load-balanced bounds (the bounds at
the quantiles of the predicted cumulative load by id, accepted only if no
part then holds more than ``max_rows`` rows).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PARTITIONS = ("hash", "range")


@dataclass(frozen=True)
class RowPartition:
    """How the ``rows`` ids of a table are split into ``parts`` row-wise parts."""

    scheme: str                     # hash | range
    parts: int
    rows: int
    bounds: tuple | None = None     # range: parts + 1 ascending ids, 0 ... rows

    def part_of(self, ids: np.ndarray) -> np.ndarray:
        """The part of each row id."""
        ids = np.asarray(ids, dtype=np.int64)
        if self.parts == 1:
            return np.zeros(ids.size, dtype=np.int64)
        if self.scheme == "hash":
            return ids % self.parts
        return np.searchsorted(np.asarray(self.bounds, dtype=np.int64), ids, side="right") - 1

    def part_rows(self) -> np.ndarray:
        """Rows held by each part."""
        P = self.parts
        if self.scheme == "hash":
            return np.array([(self.rows - p + P - 1) // P for p in range(P)], dtype=np.int64)
        return np.diff(np.asarray(self.bounds, dtype=np.int64))

    def to_plan(self) -> dict:
        """The TablePlan fields that record this partition."""
        return {"partition": self.scheme, "row_bounds": None if self.bounds is None else [int(b) for b in self.bounds]}


def hash_partition(rows: int, parts: int) -> RowPartition:
    return RowPartition("hash", int(parts), int(rows))


def even_range(rows: int, parts: int) -> RowPartition:
    """TorchRec's row-wise blocks: ``ceil(R / P)`` ids per part, the last one shorter."""
    block = -(-int(rows) // int(parts))
    bounds = tuple(min(int(rows), p * block) for p in range(parts + 1))
    return RowPartition("range", int(parts), int(rows), bounds)


def unseen_share(counts: np.ndarray, rows: int) -> float:
    """Good-Turing estimate of the share of future lookups to rows the profile never saw."""
    n = float(counts.sum())
    if n <= 0 or counts.size >= rows:
        return 0.0 if n > 0 else 1.0
    return float(np.count_nonzero(counts == 1)) / n


def predicted_shares(part: RowPartition, ids: np.ndarray | None, counts: np.ndarray | None) -> np.ndarray:
    """Predicted share of the table's lookups per part (module doc); ``1 / P`` each without counts."""
    P = part.parts
    if ids is None or counts is None or float(np.sum(counts)) <= 0:
        return np.full(P, 1.0 / P)
    counts = np.asarray(counts, dtype=np.float64)
    of = part.part_of(ids)
    seen = np.bincount(of, weights=counts, minlength=P)
    m0 = unseen_share(counts, part.rows)
    unseen_rows = part.part_rows() - np.bincount(of, minlength=P)
    total_unseen = float(unseen_rows.sum())
    spread = unseen_rows / total_unseen if total_unseen > 0 else np.zeros(P)
    share = (1.0 - m0) * seen / counts.sum() + m0 * spread
    return share / share.sum()


def balanced_range(rows: int, parts: int, ids: np.ndarray, counts: np.ndarray) -> RowPartition:
    """Range bounds at the quantiles of the predicted cumulative load by id (module doc)."""
    ids = np.asarray(ids, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    m0 = unseen_share(counts, rows)
    unseen_total = rows - ids.size
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    a = (1.0 - m0) / counts.sum()
    b = m0 / unseen_total if unseen_total > 0 else 0.0

    def load_below(x: int) -> float:          # predicted share of the ids < x
        k = int(np.searchsorted(ids, x, side="left"))
        return a * cum[k] + b * (x - k)

    bounds = [0]
    for q in range(1, parts):
        lo, hi = bounds[-1], rows
        while lo < hi:                        # smallest x whose load below reaches q / parts
            mid = (lo + hi) // 2
            if load_below(mid) >= q / parts:
                hi = mid
            else:
                lo = mid + 1
        bounds.append(max(lo, bounds[-1]))
    bounds.append(int(rows))
    return RowPartition("range", int(parts), int(rows), tuple(int(x) for x in bounds))


def choose(rows: int, parts: int, row_counts=None, max_rows: float | None = None):
    """(RowPartition, predicted shares, why): the candidate whose most loaded part is the lightest.

    ``row_counts``: (ids, counts) of the profile, or None.  Ties keep the
    earlier candidate: hash, even range, balanced range.
    """
    if parts == 1:
        return hash_partition(rows, 1), np.ones(1), "one part"
    if row_counts is None or float(np.sum(row_counts[1])) <= 0:
        return hash_partition(rows, parts), np.full(parts, 1.0 / parts), "no per-row counts: 1/P per part"
    ids, counts = row_counts
    cands = [hash_partition(rows, parts), even_range(rows, parts)]
    bal = balanced_range(rows, parts, ids, counts)
    if max_rows is None or int(bal.part_rows().max()) <= max_rows:
        cands.append(bal)
    best, best_share = cands[0], predicted_shares(cands[0], ids, counts)
    for c in cands[1:]:
        sh = predicted_shares(c, ids, counts)
        if sh.max() < best_share.max() - 1e-12:
            best, best_share = c, sh
    kind = "balanced range" if best is bal else ("even range" if best.scheme == "range" else "hash")
    return best, best_share, f"{kind}: heaviest part {best_share.max() * parts:.3f}x of 1/P"


__all__ = ["RowPartition", "PARTITIONS", "hash_partition", "even_range", "balanced_range", "predicted_shares",
           "choose", "unseen_share"]
