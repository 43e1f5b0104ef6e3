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
(``TraceStats.row_counts``) the share of part ``p`` is predicted with
absolute discounting (the Kneser-Ney estimate of the discount):

    share_p = sum_{seen rows in p} (c - D) / N  +  m0 * unseen_rows_p / unseen_rows
    D = N1 / (N1 + 2 N2),   m0 = D * seen_rows / N

``N`` is the profile's lookups, ``N1``/``N2`` the rows it saw once/twice.
Every seen row gives up ``D`` of its count to the rows the profile never saw,
spread evenly over them (their ids are unknown, so uniform by id).  A hot
row keeps almost all of its share, a singleton most of nothing: scaling every
row by the same factor instead (plain Good-Turing mass) takes 29% off the
hottest row of a 40M-row zipf table and predicts the part holding it 19%
too light (measured on DCNv2, bench/planner.py).  Without counts (stats from
a model's distributions) which rows are hot is unknown, and every part gets
``1 / P``.

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


def discount(counts: np.ndarray, rows: int) -> float:
    """The absolute discount D each seen row gives to unseen rows (0 when the profile saw every row)."""
    if counts.size >= rows or counts.size == 0:
        return 0.0
    n1, n2 = float(np.count_nonzero(counts == 1)), float(np.count_nonzero(counts == 2))
    return n1 / (n1 + 2.0 * n2) if n1 > 0 else 0.0


def unseen_share(counts: np.ndarray, rows: int) -> float:
    """Predicted share of future lookups to rows the profile never saw (module doc)."""
    n = float(counts.sum())
    if n <= 0:
        return 1.0
    return discount(counts, rows) * counts.size / n


def predicted_shares(part: RowPartition, ids: np.ndarray | None, counts: np.ndarray | None) -> np.ndarray:
    """Predicted share of the table's lookups per part (module doc); ``1 / P`` each without counts."""
    P = part.parts
    if ids is None or counts is None or float(np.sum(counts)) <= 0:
        return np.full(P, 1.0 / P)
    counts = np.asarray(counts, dtype=np.float64)
    D = discount(counts, part.rows)
    of = part.part_of(ids)
    seen = np.bincount(of, weights=counts - D, minlength=P)
    m0 = unseen_share(counts, part.rows)
    unseen_rows = part.part_rows() - np.bincount(of, minlength=P)
    total_unseen = float(unseen_rows.sum())
    spread = unseen_rows / total_unseen if total_unseen > 0 else np.zeros(P)
    share = seen / counts.sum() + m0 * spread
    return share / share.sum()


def balanced_range(rows: int, parts: int, ids: np.ndarray, counts: np.ndarray) -> RowPartition:
    """Range bounds at the quantiles of the predicted cumulative load by id (module doc)."""
    ids = np.asarray(ids, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    m0 = unseen_share(counts, rows)
    unseen_total = rows - ids.size
    cum = np.concatenate([[0.0], np.cumsum(counts - discount(counts, rows))])
    a = 1.0 / counts.sum()
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
