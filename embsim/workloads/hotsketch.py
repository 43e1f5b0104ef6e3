"""HotSketch: CAFE's streaming finder of hot features, and its report on a trace.

CAFE (Zhang et al., SIGMOD 2024, section 4) keeps, per embedding table, an
array of buckets of four (key, score) slots in score order; a feature whose
score reaches a threshold is hot and gets a unique embedding row; scores
decay by a factor (0.99) periodically so that the sketch follows a drifting
distribution, and a hot feature that falls below the threshold is demoted.
Here the score of a lookup is 1 (frequency; CAFE may use gradient norms,
which a trace does not have).  The kernel is ``_hotsketch.insert_many``
(Cython); its docstring gives the exact update rule.

Defaults: ``decay`` 0.99 and ``decay_every`` = 10 x buckets x threshold
insertions, both as in CAFE's published code (``default_decay_every``).

``sketch_trace(trace, memory_rows, ...)`` runs one sketch per table over the
trace in access order.  The ``memory_rows`` slots are split over the tables
in proportion to their distinct ids (at least one bucket each).  It reports
per table and overall: the hot set (the features at or above ``threshold``
at the end; without a threshold, the sketch's top ``k`` by count, ``k`` =
``top_share`` of the distinct ids), its recall and precision against the
exact top ``k`` by count (ids tied with the ``k``-th count count as top), the
share of lookups the hot set covers, promotions, demotions and the speed.

It also reports what the trace asks of any sketch of this family (SpaceSaving:
a newcomer inherits the smallest count): ``guarantee_slots``, the fewest
slots m for which SpaceSaving's error bound falls below the k-th count, so
that every id of the exact top k is sure to be tracked.  Berinde, Cormode,
Indyk and Strauss (ACM TODS 2010) bound the over-count of every id by
F_res(j) / (m - j) for any j < m, F_res(j) being the lookups outside the j
most frequent ids, so m = min over j of (j + floor(F_res(j) / f_k) + 1).
The bound is for one fully associative array; HotSketch's four-slot buckets
split it into many small ones (each with its own residue), so they need at
least that.  On a skewed trace it is a few percent of the distinct ids (zipf
1.05: 5.6%); on a flat one it is far more (MovieLens-100K: 23% of its users,
16% of its items), and no setting of the threshold or decay gives recall the
slots do not hold (README, "HotSketch").
"""
import math
import time
from typing import Optional

import numpy as np

from ..errors import InputError
from ._hotsketch import buckets_of, insert_many

SLOTS_PER_BUCKET = 4
DEFAULT_DECAY = 0.99
DEFAULT_TOP_SHARE = 0.01
MAX_BUCKETS = 2 ** 32 - 1


def default_decay_every(buckets, threshold):
    """CAFE's code decays once the insertions since the last decay exceed 10 x buckets x threshold;
    without a threshold, 10 x buckets x 4 (assumption: the same rule with the slots for the threshold)."""
    return int(10 * buckets * (threshold if math.isfinite(threshold) else SLOTS_PER_BUCKET))


class HotSketch:
    """One table's sketch: ``buckets`` x 4 slots; ``insert`` a stream, read ``entries`` and ``hot``."""

    def __init__(self, buckets: int, threshold: float = math.inf, decay: float = DEFAULT_DECAY,
                 decay_every: Optional[int] = None, seed: int = 0):
        if not 1 <= int(buckets) <= MAX_BUCKETS:
            raise InputError(f"sketch buckets: {buckets} (expected 1..{MAX_BUCKETS})")
        if not 0.0 < float(decay) <= 1.0:
            raise InputError(f"--decay: {decay} (expected a factor in (0, 1])")
        if not float(threshold) > 0:
            raise InputError(f"--threshold: {threshold} (expected a count > 0)")
        self.buckets = int(buckets)
        self.threshold, self.decay, self.seed = float(threshold), float(decay), int(seed)
        if decay_every is None:
            decay_every = default_decay_every(self.buckets, self.threshold)
        self.decay_every = int(decay_every)
        if self.decay_every < 0:
            raise InputError(f"decay interval: {decay_every} (expected >= 0 insertions; 0 = never)")
        self.keys = np.full((self.buckets, SLOTS_PER_BUCKET), -1, dtype=np.int64)
        self.counts = np.zeros((self.buckets, SLOTS_PER_BUCKET), dtype=np.float64)
        self.stats = np.zeros(5, dtype=np.int64)      # insertions, promotions, demotions, decays, dropped

    @property
    def slots(self) -> int:
        return self.buckets * SLOTS_PER_BUCKET

    def insert(self, ids) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        insert_many(ids, self.keys, self.counts, self.stats, self.seed, self.threshold, self.decay,
                    self.decay_every)

    def entries(self):
        """(keys, counts) of the occupied slots, by falling count, ties to the lower key."""
        k, c = self.keys.ravel(), self.counts.ravel()
        live = k >= 0
        k, c = k[live], c[live]
        order = np.lexsort((k, -c))
        return k[order], c[order]

    def hot(self, k: Optional[int] = None) -> np.ndarray:
        """The hot features: at or above the threshold, or (``k`` given) the top ``k`` entries."""
        keys, counts = self.entries()
        return keys[:k] if k is not None else keys[counts >= self.threshold]

    @property
    def promotions(self):
        return int(self.stats[1])

    @property
    def demotions(self):
        return int(self.stats[2])

    @property
    def dropped(self):
        return int(self.stats[4])


def bucket_index(keys, seed, buckets):
    """The bucket of each key (as the kernel computes it)."""
    return buckets_of(np.ascontiguousarray(keys, dtype=np.int64), int(seed), int(buckets))


def table_ids(trace, t):
    """Table ``t``'s lookups in access order (a copy)."""
    seg = trace.segment_offsets()
    T = trace.n_tables
    parts = [trace.indices[seg[b * T + t]:seg[b * T + t + 1]] for b in range(trace.n_batches)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def exact_top(ids, rows, k):
    """(counts per id, the k-th largest count, distinct ids) of a stream of ids < rows."""
    counts = np.bincount(ids, minlength=rows) if rows <= 4 * max(ids.size, 1) + 1024 else None
    if counts is None:
        uniq, c = np.unique(ids, return_counts=True)
    else:
        uniq = np.flatnonzero(counts)
        c = counts[uniq]
    if k <= 0 or uniq.size == 0:
        return uniq, c, math.inf
    kth = np.partition(c, c.size - k)[c.size - k] if k <= c.size else c.min()
    return uniq, c, kth


def guarantee_slots(counts, k):
    """The fewest SpaceSaving slots whose error bound (Berinde et al. 2010) is below the k-th largest of
    ``counts`` (one per distinct id): min over j of j + floor(F_res(j) / f_k) + 1 (module docstring)."""
    if k <= 0 or counts.size == 0:
        return 0
    c = np.sort(np.asarray(counts, dtype=np.int64))[::-1]
    fk = int(c[k - 1])
    residue = int(c.sum()) - np.concatenate([[0], np.cumsum(c[:-1])])        # F_res(j), j = 0 .. distinct - 1
    return int(min(c.size, np.min(np.arange(c.size) + residue // fk + 1)))


def _split_slots(memory_rows, distinct):
    total = float(sum(distinct)) or 1.0
    return [max(1, int(memory_rows * d / total) // SLOTS_PER_BUCKET) for d in distinct]


def sketch_table(ids, rows, buckets, threshold, decay, top_share, seed=0):
    """One table's report (dict) and its sketch."""
    sk = HotSketch(buckets, threshold=threshold if threshold is not None else math.inf, decay=decay, seed=seed)
    t0 = time.perf_counter()
    sk.insert(ids)
    elapsed = time.perf_counter() - t0
    uniq, c, _ = exact_top(ids, rows, 0)
    k = max(1, int(math.ceil(top_share * uniq.size))) if uniq.size else 0
    kth = (np.partition(c, c.size - k)[c.size - k] if k else math.inf)
    hot = sk.hot() if threshold is not None else sk.hot(k)
    true_count = np.zeros(hot.size, dtype=np.int64)
    if uniq.size and hot.size:
        pos = np.searchsorted(uniq, hot)
        ok = (pos < uniq.size) & (uniq[np.minimum(pos, uniq.size - 1)] == hot)
        true_count[ok] = c[pos[ok]]
    correct = int(np.count_nonzero(true_count >= kth)) if k else 0
    report = {"lookups": int(ids.size), "distinct_ids": int(uniq.size), "sketch_slots": sk.slots,
              "sketch_share_of_distinct": sk.slots / uniq.size if uniq.size else None,
              "top_k": k, "hot_set_size": int(hot.size),
              "recall": min(1.0, correct / k) if k else None,
              "precision": correct / hot.size if hot.size else None,
              "covered_lookup_share": float(true_count.sum()) / ids.size if ids.size else 0.0,
              "exact_top_k_lookup_share": float(np.sort(c)[::-1][:k].sum()) / ids.size if ids.size else 0.0,
              "guarantee_slots": guarantee_slots(c, k),
              "promotions": sk.promotions, "demotions": sk.demotions,
              "seconds": elapsed, "ids_per_s": ids.size / elapsed if elapsed > 0 else None}
    return report, sk


def sketch_trace(trace, memory_rows, threshold=None, decay=DEFAULT_DECAY, top_share=DEFAULT_TOP_SHARE, seed=0):
    """Per table and overall HotSketch report of ``trace`` (see the module docstring)."""
    if not (isinstance(memory_rows, (int, np.integer)) and memory_rows >= SLOTS_PER_BUCKET):
        raise InputError(f"--memory-rows: {memory_rows} (expected an integer >= {SLOTS_PER_BUCKET}: sketch slots)")
    if not 0.0 < top_share < 1.0:
        raise InputError(f"--top: {top_share} (expected a share of the distinct ids in (0, 1))")
    ids = [table_ids(trace, t) for t in range(trace.n_tables)]
    distinct = [exact_top(x, int(r), 0)[0].size for x, r in zip(ids, trace.table_rows)]
    buckets = _split_slots(memory_rows, distinct)
    names = trace.table_names or [f"t{t}" for t in range(trace.n_tables)]
    per = {}
    for t, (x, b) in enumerate(zip(ids, buckets)):
        per[names[t]], _ = sketch_table(x, int(trace.table_rows[t]), b, threshold, decay, top_share, seed)
    return {"tables": per, "overall": _overall(per), "memory_rows": int(memory_rows),
            "threshold": threshold, "decay": decay, "top_share": top_share}


def _overall(per):
    vals = list(per.values())
    lookups = sum(v["lookups"] for v in vals)
    k = sum(v["top_k"] for v in vals)
    hot = sum(v["hot_set_size"] for v in vals)
    correct_r = sum((v["recall"] or 0.0) * v["top_k"] for v in vals)
    correct_p = sum((v["precision"] or 0.0) * v["hot_set_size"] for v in vals)
    secs = sum(v["seconds"] for v in vals)
    distinct = sum(v["distinct_ids"] for v in vals)
    slots = sum(v["sketch_slots"] for v in vals)
    need = sum(v["guarantee_slots"] for v in vals)
    return {"guarantee_slots": need, "lookups": lookups, "distinct_ids": distinct, "sketch_slots": slots,
            "sketch_share_of_distinct": slots / distinct if distinct else None, "top_k": k, "hot_set_size": hot,
            "recall": correct_r / k if k else None, "precision": correct_p / hot if hot else None,
            "covered_lookup_share": sum(v["covered_lookup_share"] * v["lookups"] for v in vals) / lookups
            if lookups else 0.0,
            "promotions": sum(v["promotions"] for v in vals), "demotions": sum(v["demotions"] for v in vals),
            "seconds": secs, "ids_per_s": lookups / secs if secs > 0 else None}
