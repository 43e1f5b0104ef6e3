"""Trace statistics: how much locality a trace (or a model's access spec) offers.

``trace_stats(trace)`` measures, per table and over all tables:

- ``accesses``: lookups; ``unique_rows``: distinct rows looked up at least once;
- the **coverage curve**: the share of accesses served by the hottest fraction
  f of the table's rows (rows ranked by their access count over the trace).
  Rows with equal counts form straight segments, so the curve is exactly the
  concave piecewise-linear function through the *breakpoints* where the count
  changes (``coverage_x[t]``: fraction of the table's rows, from 0 to 1;
  ``coverage_y[t]``: share of the table's accesses, from 0 to 1).  Between two
  integer row counts the curve interpolates linearly (a fractional row), which
  is the relaxation a sharding MIP wants.  Rows never accessed form the last,
  flat segment up to (1, 1);
- the **reuse histogram** of Meta's dlrm_datasets ``locality_stats.txt``
  (17 power-of-two bins of how often a row is looked up *within one batch*;
  definition and bins in ``locality.py``), as the share of unique rows and the
  share of accesses per bin;
- **unique rows per batch**: the mean over batches, per table.

``stats_from_model(model, batch_size)`` gives the same object from the access
specs alone (expected values; no trace), and ``hot_order(trace)`` the per-table
order of rows by falling access count that a row map or a static cache uses.

Everything is vectorised numpy and walks the trace in chunks of a few million
indices, so memory stays near the size of the trace.
"""
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

import numpy as np
from scipy import special

from ..progress import progress
from .locality import BIN_LABELS, N_BINS, column_size_bins
from . import trace as _trace
from .store import open_trace

# Fractions of the hottest rows shown in tables and in to_dict()["...coverage"].
COVERAGE_FRACTIONS = (0.0001, 0.001, 0.01, 0.1, 0.5)
# to_dict() keeps at most this many coverage breakpoints per table (chords: a lower bound).
JSON_BREAKPOINTS = 33
# Whole-trace row counts use a dense array when total rows <= indices + this (else sparse).
DENSE_EXTRA_ROWS = 1 << 24
# Sparse row counts: (id, count) pairs held beyond twice the distinct ids before they are merged.
SPARSE_MERGE_PAIRS = 1 << 24
# Tables shown by format_table() before it summarises the rest.
TABLE_ROWS_SHOWN = 40


# ================================================================ object ===
@dataclass(eq=False)
class TraceStats:
    """Locality statistics per table (index t) and over all tables ("overall").

    Arrays are per table in the trace's table order.  Coverage curves are
    breakpoint arrays (see the module docstring); evaluate them with
    ``coverage()``.  For stats derived from a model (``analytic=True``) the
    counts are expected values (floats) for ``n_batches`` batches.
    """

    table_names: list
    table_rows: np.ndarray            # int64 [T]
    n_batches: int
    batch_size: int
    accesses: np.ndarray              # [T] lookups over all batches
    unique_rows: np.ndarray           # [T] rows accessed at least once
    unique_rows_per_batch: np.ndarray  # float64 [T], mean over batches
    coverage_x: list                  # per table: float64 breakpoints, fraction of the table's rows
    coverage_y: list                  # per table: float64 breakpoints, share of the table's accesses
    overall_coverage_x: np.ndarray    # fraction of all rows (global ids)
    overall_coverage_y: np.ndarray    # share of all accesses
    reuse_row_share: np.ndarray       # float64 [T, 17]: share of (batch, row) pairs per column-size bin
    reuse_access_share: np.ndarray    # float64 [T, 17]: share of accesses per bin
    overall_reuse_row_share: np.ndarray     # [17], rows keyed by global id (locality_stats.txt)
    overall_reuse_access_share: np.ndarray  # [17]
    source: str = ""
    analytic: bool = False
    notes: list = field(default_factory=list)
    # per table (row ids ascending int64, access counts int64) of the rows the trace touched; None for
    # stats derived from a model.  The planner sizes row-wise parts from them (cost_model/partition.py).
    row_counts: Optional[list] = None
    # True when these stats profile a disjoint evaluation trace (held-out profiling): the cost model then
    # extrapolates lookups to the rows the profile never saw (cost_model/coverage.with_unseen_rows).
    held_out: bool = False

    # --------------------------------------------------------- shape ---
    @property
    def n_tables(self):
        return len(self.table_names)

    @property
    def accesses_per_batch(self):
        """float64 [T]: mean lookups per batch."""
        return np.asarray(self.accesses, dtype=np.float64) / max(self.n_batches, 1)

    def table_index(self, table):
        """Index of ``table`` given as an index or a name (KeyError if unknown)."""
        if isinstance(table, (int, np.integer)):
            if not -self.n_tables <= table < self.n_tables:
                raise IndexError(f"table {table}: the stats have {self.n_tables} tables")
            return int(table) % self.n_tables
        try:
            return self.table_names.index(str(table))
        except ValueError:
            raise KeyError(f"no table named {table!r}") from None

    # ------------------------------------------------------ coverage ---
    def coverage_breakpoints(self, table=None, max_points=None):
        """(rows_fraction, accesses_share) breakpoints of a table's curve (None: all tables).

        Both arrays start at 0 and end at 1; x is increasing, the slopes
        falling (concave).  With ``max_points`` a subset of the breakpoints is
        returned (always including both ends): its chords lie on or below the
        exact curve, so a model using it never over-predicts hits.
        """
        if table is None:
            x, y = self.overall_coverage_x, self.overall_coverage_y
        else:
            t = self.table_index(table)
            x, y = self.coverage_x[t], self.coverage_y[t]
        if max_points is not None and x.size > max_points:
            keep = _thin(x, y, max_points)
            x, y = x[keep], y[keep]
        return x.copy(), y.copy()

    def coverage(self, fraction, table=None):
        """Share of accesses served by the hottest ``fraction`` of rows (scalar or array).

        ``table`` is an index or a name; None means all tables together (rows
        keyed by global id).  ``fraction`` is clipped to [0, 1].
        """
        x, y = self.coverage_breakpoints(table)
        out = np.interp(np.clip(fraction, 0.0, 1.0), x, y)
        return float(out) if np.ndim(out) == 0 else out

    def coverage_table(self, fractions=COVERAGE_FRACTIONS):
        """float64 [T, len(fractions)]: ``coverage(f, t)`` for every table and fraction."""
        return np.array([[self.coverage(f, t) for f in fractions] for t in range(self.n_tables)]).reshape(
            self.n_tables, len(fractions))

    # --------------------------------------------------------- output ---
    def to_dict(self, max_breakpoints=JSON_BREAKPOINTS):
        """A JSON-ready dict; every key names its unit (counts, shares in [0, 1], fractions of rows)."""
        fr = list(COVERAGE_FRACTIONS)

        def num(v):  # measured counts are integers; expected (analytic) counts are not
            return float(v) if self.analytic else int(v)

        def curve(table):
            x, y = self.coverage_breakpoints(table, max_points=max_breakpoints)
            return {"rows_fraction": [float(v) for v in x], "accesses_share": [float(v) for v in y]}

        def cov(table):
            return {"hottest_rows_fraction": fr, "accesses_share": [float(self.coverage(f, table)) for f in fr]}

        tables = []
        for t, name in enumerate(self.table_names):
            tables.append({
                "name": name,
                "rows": int(self.table_rows[t]),
                "accesses": num(self.accesses[t]),
                "accesses_per_batch": float(self.accesses_per_batch[t]),
                "unique_rows": num(self.unique_rows[t]),
                "unique_rows_share_of_rows": float(self.unique_rows[t] / self.table_rows[t]),
                "unique_rows_per_batch_mean": float(self.unique_rows_per_batch[t]),
                "coverage": cov(t),
                "coverage_breakpoints": curve(t),
                "reuse_histogram": {"unique_rows_share": [float(v) for v in self.reuse_row_share[t]],
                                    "accesses_share": [float(v) for v in self.reuse_access_share[t]]},
            })
        return {
            "source": self.source,
            "analytic": self.analytic,
            "notes": list(self.notes),
            "batches": int(self.n_batches),
            "batch_size": int(self.batch_size),
            "tables_count": self.n_tables,
            "overall": {
                "rows": int(np.sum(self.table_rows)),
                "accesses": num(np.sum(self.accesses)),
                "unique_rows": num(np.sum(self.unique_rows)),
                "unique_rows_per_batch_mean": float(np.sum(self.unique_rows_per_batch)),
                "coverage": cov(None),
                "coverage_breakpoints": curve(None),
                "reuse_histogram": {"bins_column_size": list(BIN_LABELS),
                                    "unique_rows_share": [float(v) for v in self.overall_reuse_row_share],
                                    "accesses_share": [float(v) for v in self.overall_reuse_access_share]},
            },
            "reuse_histogram_bins_column_size": list(BIN_LABELS),
            "tables": tables,
        }

    def format_table(self, max_tables=TABLE_ROWS_SHOWN):
        """A readable multi-line summary for a terminal."""
        fr = COVERAGE_FRACTIONS
        head = ["table", "rows", "accesses", "unique", "unique %", "uniq/batch"] + [f"top {_pct(f)}" for f in fr]
        order = list(range(self.n_tables))
        hidden = 0
        if self.n_tables > max_tables:  # show the busiest tables, in table order
            busiest = np.argsort(-np.asarray(self.accesses, dtype=np.float64), kind="stable")[:max_tables]
            order, hidden = sorted(int(t) for t in busiest), self.n_tables - max_tables
        cov = self.coverage_table(fr)
        rows = []
        for t in order:
            rows.append([self.table_names[t], _count(self.table_rows[t]), _count(self.accesses[t]),
                         _count(self.unique_rows[t]), f"{100 * self.unique_rows[t] / self.table_rows[t]:.2f}",
                         f"{self.unique_rows_per_batch[t]:.1f}"] + [f"{100 * c:.1f}%" for c in cov[t]])
        rows.append(["ALL", _count(np.sum(self.table_rows)), _count(np.sum(self.accesses)),
                     _count(np.sum(self.unique_rows)),
                     f"{100 * np.sum(self.unique_rows) / np.sum(self.table_rows):.2f}",
                     f"{np.sum(self.unique_rows_per_batch):.1f}"]
                    + [f"{100 * self.coverage(f):.1f}%" for f in fr])
        kind = "expected, from the model's access specs" if self.analytic else "measured"
        out = [f"{self.source}: {self.n_tables} tables, {self.n_batches} batches of {self.batch_size} samples ({kind})",
               "", _grid(head, rows)]
        if hidden:
            out.append(f"... {hidden} quieter tables not shown (ALL counts them; --json lists every table)")
        out += ["", "top x%: share of accesses served by the hottest x% of rows",
                "", "reuse within a batch (dlrm_datasets locality_stats bins, all tables):"]
        last = int(np.max(np.flatnonzero((self.overall_reuse_row_share > 0) | (self.overall_reuse_access_share > 0)),
                          initial=0))
        hrows = [[BIN_LABELS[k], f"{100 * self.overall_reuse_row_share[k]:.2f}%",
                  f"{100 * self.overall_reuse_access_share[k]:.2f}%"] for k in range(last + 1)]
        out.append(_grid(["column size", "unique rows", "accesses"], hrows))
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)


# ======================================================= from a trace ===
class _RowCounts:
    """Accumulates access counts per global row id, chunk by chunk.

    Dense (a bincount over all rows) when the model has few rows for the
    trace; otherwise sparse (per-chunk unique ids, merged at the end), so that
    a 40M-row table sampled 1M times does not cost 320 MB.
    """

    def __init__(self, total_rows, n_indices):
        self.total_rows = total_rows
        self.dense = total_rows <= n_indices + DENSE_EXTRA_ROWS
        self.counts = np.zeros(total_rows, dtype=np.int64) if self.dense else None
        self.parts = []
        self.held = self.merged = 0       # (id, count) pairs held in parts; distinct ids at the last merge

    def add_ids(self, ids):
        if self.dense:  # add.at: cost per index, not per row of the model
            np.add.at(self.counts, ids, 1)
        else:
            self.add_unique(*np.unique(ids, return_counts=True))

    def add_unique(self, ids, counts):
        if self.dense:
            np.add.at(self.counts, ids, counts)
        else:
            self.parts.append((ids, counts.astype(np.int64)))
            self.held += ids.size
            if self.held > 2 * self.merged + SPARSE_MERGE_PAIRS:
                # merge now: memory stays near the distinct rows, not the (batch, row) pairs of a long trace
                ids, cnt = self.result()
                self.parts, self.held, self.merged = [(ids, cnt)], ids.size, ids.size

    def result(self):
        """(global ids ascending, counts) of the rows accessed at least once."""
        if self.dense:
            ids = np.flatnonzero(self.counts)
            return ids.astype(np.int64), self.counts[ids]
        if not self.parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        ids = np.concatenate([p[0] for p in self.parts])
        cnt = np.concatenate([p[1] for p in self.parts])
        self.parts = []
        order = np.argsort(ids, kind="stable")
        ids, cnt = ids[order], cnt[order]
        del order
        start = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
        return ids[start], np.add.reduceat(cnt, start) if cnt.size else cnt


def _segment_runs(trace, max_indices=None):
    """Yield (s0, s1, start, stop): runs of whole (batch, table) groups of about max_indices indices.

    A group larger than max_indices is a run of its own (its column sizes
    need all of it).  Runs are also capped so that (group in run) x (rows of
    the largest table) fits an int64 key.
    """
    max_indices = int(max_indices or _trace.CHUNK_INDICES)
    seg_off = trace.segment_offsets()
    n_seg = seg_off.size - 1
    max_groups = max(1, (1 << 62) // max(int(trace.table_rows.max(initial=1)), 1))
    s = 0
    while s < n_seg:
        e = int(np.searchsorted(seg_off, seg_off[s] + max_indices, side="right")) - 1
        e = min(max(e, s + 1), s + max_groups, n_seg)
        yield s, e, int(seg_off[s]), int(seg_off[e])
        s = e


def _run_keys(trace, s0, s1, start, stop):
    """Per index of the run: key = (group in run) * max_rows + row, and max_rows."""
    m = int(trace.table_rows.max(initial=1))
    seg_len = trace.lengths.reshape(-1, trace.batch_size)[s0:s1].sum(axis=1, dtype=np.int64)
    key = np.repeat(np.arange(s1 - s0, dtype=np.int64) * m, seg_len)
    key += trace.indices[start:stop]
    return key, m


def row_frequencies(trace, show_progress=None):
    """Per table: (rows ascending, access counts) of the rows accessed at least once.

    ``trace``: a Trace, a TraceReader or a path; read chunk by chunk.
    """
    reader = open_trace(trace)
    offsets = reader.row_offsets
    T = reader.n_tables
    acc = _RowCounts(reader.total_rows, reader.n_indices)
    with progress(total=reader.n_indices, desc="counting rows", unit="idx", enabled=show_progress) as bar:
        for chunk in reader.chunks():
            ct = chunk.trace
            for s0, s1, start, stop in _segment_runs(ct):
                key, m = _run_keys(ct, s0, s1, start, stop)
                group = key // m
                key -= group * m                        # the row
                key += offsets[(group + s0) % T]        # the global id
                acc.add_ids(key)
                bar.update(stop - start)
    return _split_by_table(*acc.result(), offsets)


def _split_by_table(gids, counts, offsets):
    cuts = np.searchsorted(gids, offsets)
    cuts = np.append(cuts, gids.size)
    return [(gids[cuts[t]:cuts[t + 1]] - offsets[t], counts[cuts[t]:cuts[t + 1]]) for t in range(offsets.size)]


def hot_order(trace, complete=False, show_progress=None):
    """Per table: its rows by falling access count over the trace (ties: lower row first).

    Returns a list of int64 arrays, one per table; ``order[t][k]`` is the row
    of table t with hot rank k.  By default only rows accessed at least once
    are listed; rows never accessed rank after them in increasing row order,
    and ``complete=True`` appends them (a full permutation of the table's rows,
    8 bytes per row).  Deterministic: the same trace gives the same order.
    """
    out = []
    table_rows = open_trace(trace).table_rows
    for t, (rows, counts) in enumerate(row_frequencies(trace, show_progress)):
        order = rows[np.argsort(-counts, kind="stable")]  # rows ascending, so ties keep row order
        if complete:
            unseen = np.ones(int(table_rows[t]), dtype=bool)
            unseen[rows] = False
            order = np.concatenate([order, np.flatnonzero(unseen).astype(np.int64)])
        out.append(order)
    return out


def _curve_from_counts(counts, n_rows):
    """Exact coverage breakpoints from a table's per-row access counts (any order)."""
    total = counts.sum(dtype=np.int64) if counts.size else 0
    if total == 0:  # no accesses: no information, take the diagonal (uniform)
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    c = np.sort(counts)[::-1]
    ends = np.append(np.flatnonzero(c[1:] != c[:-1]) + 1, c.size)   # ends of equal-count groups
    x = np.concatenate([[0.0], ends / float(n_rows)])
    y = np.concatenate([[0.0], np.cumsum(c, dtype=np.int64)[ends - 1] / float(total)])
    y[-1] = 1.0
    if c.size < n_rows:
        x, y = np.append(x, 1.0), np.append(y, 1.0)
    return x, y


def _merge_curves(xs, ys, rows, accesses):
    """Coverage over the union of tables: pool every segment, steepest (hottest rows) first.

    A segment of table t holds dx * rows[t] rows and dy * accesses[t]
    accesses, all with the same accesses per row; ranking all segments by
    that density gives exactly the curve of the rows pooled by global id.
    """
    rows = np.asarray(rows, dtype=np.float64)
    accesses = np.asarray(accesses, dtype=np.float64)
    seg_rows, seg_acc = [], []
    for x, y, n, a in zip(xs, ys, rows, accesses):
        seg_rows.append(np.diff(x) * n)
        seg_acc.append(np.diff(y) * a)
    seg_rows, seg_acc = np.concatenate(seg_rows), np.concatenate(seg_acc)
    total_rows, total_acc = rows.sum(), seg_acc.sum()
    if total_acc <= 0 or total_rows <= 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    keep = seg_rows > 0
    seg_rows, seg_acc = seg_rows[keep], seg_acc[keep]
    density = seg_acc / seg_rows
    order = np.lexsort((np.arange(density.size), -density))
    x = np.concatenate([[0.0], np.cumsum(seg_rows[order]) / total_rows])
    y = np.concatenate([[0.0], np.cumsum(seg_acc[order]) / total_acc])
    # segments of equal density (to rounding) are collinear: keep their ends only
    d = density[order]
    last = np.append(~np.isclose(d[1:], d[:-1], rtol=1e-12, atol=0), True)
    x, y = np.concatenate([[0.0], x[1:][last]]), np.concatenate([[0.0], y[1:][last]])
    x[-1], y[-1] = 1.0, 1.0
    return x, y


def trace_stats(trace, show_progress=None):
    """Measure a Trace: per-table and overall locality (a TraceStats).

    One pass over the trace in runs of whole (batch, table) groups of a few
    million indices: np.unique on (group, row) gives each row's column size
    in its batch (the reuse histogram and unique rows per batch; tables
    never share a global id, so a batch's column sizes are its groups'), and
    the run's (id, count) pairs accumulate into whole-trace counts (the
    coverage curves).  ``trace`` is a Trace, a TraceReader or a path (either
    format), read chunk by chunk.  Memory: one chunk (three while a chunked
    trace is read ahead), a few times the largest run, and the whole-trace
    counts: 8 bytes per row of the model (dense, when the model has fewer
    rows than the trace has lookups plus 16M), else 16 bytes per distinct row
    (sparse pairs, merged whenever they exceed twice that plus 16M pairs).
    """
    reader = open_trace(trace)
    T, nb = reader.n_tables, reader.n_batches
    offsets = reader.row_offsets
    rows_hist = np.zeros((T, N_BINS), dtype=np.float64)
    acc_hist = np.zeros((T, N_BINS), dtype=np.float64)
    uniq_batch = np.zeros(T, dtype=np.float64)
    counter = _RowCounts(reader.total_rows, reader.n_indices)
    with progress(total=reader.n_indices, desc="trace stats", unit="idx", enabled=show_progress) as bar:
        for chunk in reader.chunks():
            ct = chunk.trace
            for s0, s1, start, stop in _segment_runs(ct):
                # a row's column size in its batch = its count within its (batch, table) group,
                # since tables are disjoint in global ids
                key, m = _run_keys(ct, s0, s1, start, stop)
                key, cnt = np.unique(key, return_counts=True)
                group = key // m
                tab = (group + s0) % T
                gid = key - group * m + offsets[tab]
                del key, group
                uniq_batch += np.bincount(tab, minlength=T)
                k = tab * N_BINS + column_size_bins(cnt)
                rows_hist += np.bincount(k, minlength=T * N_BINS).reshape(T, N_BINS)
                acc_hist += np.bincount(k, weights=cnt, minlength=T * N_BINS).reshape(T, N_BINS)
                del tab, k
                # whole-trace counts: the same row in several batches of the run is merged later
                counter.add_unique(gid, cnt)
                bar.update(stop - start)
    per_table = _split_by_table(*counter.result(), offsets)
    accesses = reader.lookups_per_table()
    xs, ys = zip(*[_curve_from_counts(c, int(reader.table_rows[t])) for t, (_, c) in enumerate(per_table)]) \
        if T else ((), ())
    # overall: the same exact construction over every row's count, keyed by global id
    ox, oy = _curve_from_counts(np.concatenate([c for _, c in per_table]) if T else np.zeros(0, np.int64),
                                max(reader.total_rows, 1))
    src = reader.meta.get("source", "trace") if isinstance(reader.meta, dict) else "trace"
    return TraceStats(
        table_names=list(reader.table_names), table_rows=np.array(reader.table_rows, dtype=np.int64),
        n_batches=nb, batch_size=reader.batch_size,
        accesses=accesses, unique_rows=np.array([r.size for r, _ in per_table], dtype=np.int64),
        unique_rows_per_batch=uniq_batch / max(nb, 1),
        coverage_x=list(xs), coverage_y=list(ys), overall_coverage_x=ox, overall_coverage_y=oy,
        reuse_row_share=_normalise_rows(rows_hist), reuse_access_share=_normalise_rows(acc_hist),
        overall_reuse_row_share=_normalise(rows_hist.sum(axis=0)),
        overall_reuse_access_share=_normalise(acc_hist.sum(axis=0)),
        source=str(src), analytic=False, row_counts=per_table)


# ======================================================= from a model ===
# Ranks up to _EXACT are summed term by term; beyond, in geometric bins of
# ratio _RATIO, each integrated with Gauss-Legendre nodes (the midpoint rule
# sum_{r=a}^{b-1} g(r) ~ integral_{a-1/2}^{b-1/2} g; g is smooth in r there).
_EXACT = 512          # exact terms of the harmonic numbers
_GRID_EXACT = 128     # exact ranks of the rank grid (the midpoint rule errs by ~1/(24 r^2) beyond)
_RATIO = 1.05
# Rows with a smaller draw probability use the Poisson law for their column size.
_POISSON_P = 1e-3
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(3)
# Coverage breakpoints of an analytic curve: hottest-row counts on a log grid.
_MODEL_BREAKPOINTS = 64


@lru_cache(maxsize=256)
def _rank_grid(n_rows):
    """(ranks, weights): sum_{r=1}^{N} g(r) ~ sum_j weights[j] * g(ranks[j]) for smooth g."""
    head = np.arange(1, min(n_rows, _GRID_EXACT) + 1, dtype=np.float64)
    if n_rows <= _GRID_EXACT:
        return head, np.ones_like(head)
    lo = _GRID_EXACT + 0.5
    edges = np.unique(np.round(np.geomspace(lo, n_rows + 0.5,
                                            int(np.ceil(np.log((n_rows + 0.5) / lo) / np.log(_RATIO))) + 1)) + 0.5)
    edges[0], edges[-1] = lo, n_rows + 0.5
    a, b = edges[:-1], edges[1:]
    mid, half = (a + b) / 2, (b - a) / 2
    ranks = (mid[:, None] + half[:, None] * _GL_NODES[None, :]).ravel()
    weights = (half[:, None] * _GL_WEIGHTS[None, :]).ravel()
    return np.concatenate([head, ranks]), np.concatenate([np.ones_like(head), weights])


def _harmonic(k, alpha):
    """Generalised harmonic number H(k, alpha) = sum_{r=1}^{k} r^-alpha, for k >= 0 (scalar or array).

    Exact terms up to rank 512, then the midpoint rule in closed form
    (integral of r^-alpha from 512.5 to k + 0.5), whose error is below 1e-9.
    """
    scalar = np.ndim(k) == 0
    k = np.atleast_1d(np.asarray(k, dtype=np.float64))
    head = np.concatenate([[0.0], np.cumsum(np.arange(1, _EXACT + 1, dtype=np.float64) ** -alpha)])
    out = head[np.minimum(k, _EXACT).astype(np.int64)]
    big = k > _EXACT
    if big.any():
        lo, hi = _EXACT + 0.5, k[big] + 0.5
        tail = np.log(hi / lo) if alpha == 1.0 else (hi ** (1 - alpha) - lo ** (1 - alpha)) / (1 - alpha)
        out[big] += tail
    return float(out[0]) if scalar else out


def _reuse_bins(p, w, n):
    """Expected (batch, row) pairs and accesses per column-size bin, rows drawn n times with probabilities p.

    A row's column size is X ~ Binomial(n, p).  Bin k holds sizes in
    (lo, hi], so its rows are F(hi) - F(lo) and its accesses
    E[X; lo < X <= hi] = n p (G(hi - 1) - G(lo - 1)), F the cdf of X and G
    that of Binomial(n - 1, p).  Rows with p < _POISSON_P use Poisson(n p)
    instead (Le Cam: within p in total variation; the binomial cdf is slow
    for large n), so shares are exact to about 1e-3.
    """
    rows_bins, acc_bins = np.zeros(N_BINS), np.zeros(N_BINS)
    if n <= 0:
        return rows_bins, acc_bins
    edges = np.array([0] + [2 ** k for k in range(N_BINS - 1)], dtype=np.float64)   # 0, 1, 2, 4, ..., 32768
    f_at = np.minimum(edges, n)[None, :]
    g_at = np.minimum(edges - 1, n - 1)[None, :]       # -1, 0, 1, 3, ..., 32767
    exact = p >= _POISSON_P
    laws = ((exact, lambda k, m, q: special.bdtr(k, m, q)), (~exact, lambda k, m, q: special.pdtr(k, m * q)))
    for sel, cdf in laws:
        idx = np.flatnonzero(sel)
        for b in range(0, idx.size, 128):
            # a block's cdf is 1 (to ~1e-20) past mean + 10 sd + 40: evaluate only the edges below that
            blk = idx[b:b + 128]
            q = p[blk][:, None]
            lam = n * float(q.max())
            ncol = max(1, int(np.searchsorted(edges, lam + 10 * np.sqrt(lam) + 40, side="right")))
            F = np.ones((q.shape[0], N_BINS + 1))
            F[:, :ncol] = cdf(f_at[:, :ncol], n, q)
            rows_p = np.diff(F, axis=1)
            if n > 1:
                G = np.ones((q.shape[0], N_BINS + 1))
                G[:, 0] = 0.0                                   # G(-1) = 0
                G[:, 1:ncol] = cdf(g_at[:, 1:ncol], n - 1, q)
                acc_p = n * q * np.diff(G, axis=1)
            else:
                acc_p = np.zeros_like(rows_p)
                acc_p[:, 0] = q[:, 0]
            rows_bins += w[blk] @ rows_p
            acc_bins += w[blk] @ acc_p
    return np.clip(rows_bins, 0, None), np.clip(acc_bins, 0, None)


@lru_cache(maxsize=1024)
def _zipf_table(n_rows, alpha, draws_per_batch, batches):
    """Expected stats of one table whose rows are drawn i.i.d. with p_r proportional to r^-alpha."""
    ranks, w = _rank_grid(n_rows)
    p = ranks ** -alpha / _harmonic(n_rows, alpha)
    n = draws_per_batch
    # unique rows: E sum_r 1{row r drawn at least once} = sum_r 1 - (1 - p_r)^n
    uniq_batch = float(np.sum(w * -np.expm1(n * np.log1p(-np.minimum(p, 1 - 1e-16))))) if n else 0.0
    uniq_all = float(np.sum(w * -np.expm1(n * batches * np.log1p(-np.minimum(p, 1 - 1e-16))))) if n else 0.0
    if n_rows == 1:
        uniq_batch, uniq_all = float(n > 0), float(n > 0)
    rows_bins, acc_bins = _reuse_bins(p, w, n)
    # coverage: the hottest k rows take H(k)/H(N) of the accesses
    k = np.unique(np.concatenate([[0], np.round(np.geomspace(1, n_rows, _MODEL_BREAKPOINTS)), [n_rows]]))
    y = _harmonic(k, alpha) / _harmonic(n_rows, alpha)
    x = k / n_rows
    y[-1] = 1.0
    return uniq_batch, uniq_all, rows_bins, acc_bins, x, y


def stats_from_model(model, batch_size, batches=1, measure_temporal=False, seed=0):
    """Expected TraceStats of ``batches`` batches of ``batch_size`` samples, from the access specs.

    Each table's lookups are taken as i.i.d. draws from its long-run row
    popularity, ``round(pooling * batch_size)`` per batch:

    - ``uniform``: every row 1/N; the coverage curve is the diagonal;
    - ``zipf(alpha)``: the row of hot rank r has probability r^-alpha / H(N, alpha),
      H the generalised harmonic number, so the hottest k rows serve
      H(k, alpha) / H(N, alpha) of the accesses (breakpoints at 64
      log-spaced k, exact values there; chords in between under-estimate
      slightly, never over).  This is the law ``generate_trace`` draws;
    - ``stackdist`` and ``drift`` (temporal locality): by default, zipf with
      the table's ``access.alpha`` as well, which is only an approximation,
      and ``notes`` says so.  Drift keeps the zipf shape and moves which rows
      hold the hot ranks, so one window between moves is zipf, but a static
      hot set over many moves sees a flatter curve.  Stackdist mixes fresh
      zipf draws with re-uses picked by LRU stack *depth*, i.e. among distinct
      recent rows whatever their popularity, which flattens the head while
      re-using rows within a batch far more (measured with generate_trace,
      alpha 1, reuse_p 0.5, stack_alpha 1.5, 20k rows, 300 batches of 256 x 4
      lookups: the hottest 0.1% serve 29% of accesses against zipf's 34%,
      and a batch has 37% fewer unique rows).
      With ``measure_temporal=True`` those tables are measured instead:
      ``generate_trace`` makes ``batches`` batches of just those tables
      (seeded with ``seed``) and ``trace_stats`` measures them; exact for that
      sample, at the cost of generating it.

    Expected unique rows are sum_r 1 - (1 - p_r)^n; a row's column size in a
    batch is Binomial(n, p_r), which gives the reuse histogram.  Sums over
    millions of ranks use exact terms for the hottest 512 ranks and
    Gauss-Legendre quadrature over geometric rank bins beyond (relative error
    below 1e-6 against exact sums).  The pooling distribution enters through
    its mean only.
    """
    if batch_size <= 0 or batches <= 0:
        raise ValueError("stats_from_model: batch_size and batches must be positive")
    T = model.n_tables
    rows = model.table_rows
    accesses = np.zeros(T)
    ub, ua = np.zeros(T), np.zeros(T)
    rh, ah = np.zeros((T, N_BINS)), np.zeros((T, N_BINS))
    xs, ys, notes = [], [], []
    temporal = [t for t, spec in enumerate(model.tables) if spec.access.kind in ("stackdist", "drift")]
    for t, spec in enumerate(model.tables):
        n = int(round(spec.pooling * batch_size))
        alpha = 0.0 if spec.access.kind == "uniform" else float(spec.access.alpha)
        u1, uall, rb, abins, x, y = _zipf_table(int(spec.rows), alpha, n, int(batches))
        accesses[t] = n * batches
        ub[t], ua[t] = u1, uall
        rh[t], ah[t] = rb * batches, abins * batches
        if alpha == 0.0:
            x, y = np.array([0.0, 1.0]), np.array([0.0, 1.0])
        xs.append(x)
        ys.append(y)
    if temporal and measure_temporal:
        from .generators import generate_trace
        sub = model.with_tables([model.tables[t] for t in temporal])
        m = trace_stats(generate_trace(sub, batches, batch_size, seed=seed))
        for j, t in enumerate(temporal):
            accesses[t], ua[t], ub[t] = m.accesses[j], m.unique_rows[j], m.unique_rows_per_batch[j]
            rh[t] = m.reuse_row_share[j] * m.unique_rows_per_batch[j] * m.n_batches  # (batch, row) pairs
            ah[t] = m.reuse_access_share[j] * m.accesses[j]
            xs[t], ys[t] = m.coverage_x[j], m.coverage_y[j]
        notes.append(f"{', '.join(model.tables[t].name for t in temporal[:3])}"
                     f"{' ...' if len(temporal) > 3 else ''}: stackdist/drift tables measured on a generated "
                     f"sample of {batches} batches (seed {seed})")
    else:
        for kind in sorted({model.tables[t].access.kind for t in temporal}):
            notes.append(f"{kind} tables: approximated by zipf(access.alpha); their temporal locality is not "
                         f"modelled (stackdist re-uses more rows within a batch and has a flatter head; "
                         f"pass measure_temporal=True to measure a generated sample)")
    ox, oy = _merge_curves(xs, ys, rows, accesses) if T else (np.array([0.0, 1.0]),) * 2
    return TraceStats(
        table_names=[t.name for t in model.tables], table_rows=rows.copy(),
        n_batches=int(batches), batch_size=int(batch_size), accesses=accesses,
        unique_rows=ua, unique_rows_per_batch=ub,
        coverage_x=xs, coverage_y=ys, overall_coverage_x=ox, overall_coverage_y=oy,
        reuse_row_share=_normalise_rows(rh), reuse_access_share=_normalise_rows(ah),
        overall_reuse_row_share=_normalise(rh.sum(axis=0)), overall_reuse_access_share=_normalise(ah.sum(axis=0)),
        source=f"model {model.name}", analytic=True, notes=notes)


# =============================================================== helpers ===
def _normalise(v):
    s = v.sum()
    return v / s if s > 0 else np.zeros_like(v, dtype=np.float64)


def _normalise_rows(m):
    s = m.sum(axis=1, keepdims=True)
    return np.divide(m, s, out=np.zeros_like(m, dtype=np.float64), where=s > 0)


def _thin(x, y, max_points):
    """Indices of at most max_points breakpoints: both ends, log-spaced in x, even in y."""
    max_points = max(int(max_points), 2)
    n_log = (max_points - 2) // 2
    n_lin = max_points - 2 - n_log
    pos = x[x > 0]
    picks = [0, x.size - 1]
    if n_log > 0 and pos.size:
        grid = np.geomspace(pos[0], 1.0, n_log)
        picks += list(np.searchsorted(x, grid).clip(0, x.size - 1))
    if n_lin > 0:
        grid = np.linspace(0, 1, n_lin + 2)[1:-1]
        picks += list(np.searchsorted(y, grid).clip(0, x.size - 1))
    return np.unique(picks)


def _pct(f):
    return f"{100 * f:g}%"


def _count(v):
    v = float(v)
    if v.is_integer():
        return f"{int(v):,}"
    return f"{v:,.1f}"


def _grid(head, rows):
    """Left-aligned first column, right-aligned numbers."""
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])
