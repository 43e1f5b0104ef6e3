"""Row layouts: the order in which a table's rows sit in memory.

A memory moves whole units (a 64 B line, a 512 B DMA burst, a 16 KiB flash
page), and a small row shares its unit with its neighbours, so which rows sit
together decides how many units a batch reads (:mod:`embsim.sim.coalesce`).
Rec-AD reorders indices so that rows used together sit together; SCRec's
address remapper does the same in hardware.  A layout is, per table, the
position of every row; four are offered:

``identity``
    rows in id order (what a trace's ids say today).
``frequency``
    hottest first, from a profile: rows by falling access count, ties to the
    lower row, rows the profile never saw after them in id order.  Hot rows
    fill few units, so a batch that mostly reads hot rows reads few units.
``coaccess``
    rows that appear together placed together.  From the profile: a graph
    whose nodes are the table's ``COACCESS_MAX_ROWS`` hottest rows and whose
    edge weights count how often two rows are looked up within
    ``COACCESS_WINDOW`` lookups of each other in one (batch, table) segment
    (a bag of a multi-hot sample, or neighbouring samples of a single-hot
    table), clustered with networkx's Louvain community detection (seeded,
    weight = co-access count).  Communities are placed hottest first (by
    their total accesses), rows inside one by falling count; rows outside
    the graph follow as in ``frequency``.  Without co-access structure (a
    trace of independent draws) every row is its own community and the
    layout is ``frequency``.
``random``
    a seeded random permutation (the control: hot rows scattered).

Layouts are mappings ``new_id[old_id]`` per table (a permutation of
``0 .. rows - 1``).  :func:`reorder_trace` applies one to a trace (``embsim
trace reorder``); the simulator applies one inside each shard of a plan.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import InputError
from .trace import Trace

LAYOUTS = ("identity", "frequency", "coaccess", "random")
#: rows of a table the co-access graph keeps (its hottest); Louvain clusters this many in about a second
COACCESS_MAX_ROWS = 4096
#: lookups apart (in one batch and table) that still count as accessed together
COACCESS_WINDOW = 4


def check_layout(name: str, where: str = "layout") -> str:
    if name not in LAYOUTS:
        raise InputError(f"{where}: {name!r}: expected one of {', '.join(LAYOUTS)}")
    return name


def table_counts(trace: Trace, t: int) -> np.ndarray:
    """int64 [rows]: how often each row of table t is looked up in ``trace``."""
    seg = trace.segment_offsets().reshape(-1)
    T = trace.n_tables
    starts, stops = seg[:-1][t::T], seg[1:][t::T]
    sel = _segment_indices(starts, stops)
    return np.bincount(trace.indices[sel], minlength=int(trace.table_rows[t])).astype(np.int64)


def _segment_indices(starts, stops):
    """Positions in ``indices`` of the segments [starts[k], stops[k])."""
    n = stops - starts
    if n.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    rep = np.repeat(starts - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
    return np.arange(int(n.sum()), dtype=np.int64) + rep


def frequency_order(counts: np.ndarray) -> np.ndarray:
    """Rows hottest first: falling count, ties (and never-seen rows) in id order."""
    return np.lexsort((np.arange(counts.size), -np.asarray(counts)))


def coaccess_pairs(trace: Trace, t: int, keep: np.ndarray, window: int = COACCESS_WINDOW):
    """(a, b, weight): how often rows a < b of ``keep`` were looked up within ``window`` lookups in one segment.

    ``a``/``b`` index into ``keep`` (the rows of the graph).
    """
    seg = trace.segment_offsets().reshape(-1)
    T = trace.n_tables
    starts, stops = seg[:-1][t::T], seg[1:][t::T]
    pos = _segment_indices(starts, stops)
    rows = trace.indices[pos]
    segid = np.repeat(np.arange(starts.size), stops - starts)
    node = np.full(int(trace.table_rows[t]), -1, dtype=np.int64)
    node[keep] = np.arange(keep.size)
    nid = node[rows]
    pairs = []
    for d in range(1, window + 1):
        a, b = nid[:-d], nid[d:]
        ok = (segid[:-d] == segid[d:]) & (a >= 0) & (b >= 0) & (a != b)
        lo, hi = np.minimum(a[ok], b[ok]), np.maximum(a[ok], b[ok])
        pairs.append(lo * keep.size + hi)
    key = np.concatenate(pairs) if pairs else np.zeros(0, dtype=np.int64)
    uniq, w = np.unique(key, return_counts=True)
    return uniq // keep.size, uniq % keep.size, w


def coaccess_order(trace: Trace, t: int, counts: Optional[np.ndarray] = None, seed: int = 0,
                   max_rows: int = COACCESS_MAX_ROWS, window: int = COACCESS_WINDOW) -> np.ndarray:
    """Rows of table t in co-access order (see the module docstring)."""
    import networkx as nx
    counts = table_counts(trace, t) if counts is None else counts
    freq = frequency_order(counts)
    keep = freq[:min(max_rows, int((counts > 0).sum()))]
    if keep.size < 2:
        return freq
    a, b, w = coaccess_pairs(trace, t, keep, window)
    g = nx.Graph()
    g.add_nodes_from(range(keep.size))
    g.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist()))
    communities = nx.community.louvain_communities(g, weight="weight", seed=seed)
    c = counts[keep]
    groups = [np.array(sorted(m), dtype=np.int64) for m in communities]
    groups.sort(key=lambda m: (-int(c[m].sum()), int(m.min())))
    inside = np.concatenate([m[frequency_order(c[m])] for m in groups])
    return np.concatenate([keep[inside], freq[keep.size:]])


def layout_order(by: str, trace: Optional[Trace], t: int, rows: int, seed: int = 0) -> np.ndarray:
    """Rows of table t (``rows`` of them) in layout order; ``trace`` is the profile (unused by identity/random)."""
    check_layout(by)
    if by == "identity":
        return np.arange(rows, dtype=np.int64)
    if by == "random":
        return np.random.default_rng([seed, t]).permutation(rows).astype(np.int64)
    if trace is None:
        raise InputError(f"layout {by!r}: needs a profile (a trace of the same tables)")
    counts = table_counts(trace, t)
    if by == "frequency":
        return frequency_order(counts).astype(np.int64)
    return coaccess_order(trace, t, counts, seed=seed).astype(np.int64)


@dataclass
class Mapping:
    """A layout: ``new_id[t][old]`` for every table t, and how it was made."""

    by: str
    seed: int
    new_id: list
    profile: Optional[str] = None

    def save(self, path, force: bool = False) -> None:
        from ..fileio import atomic_output
        arrays = {f"new_id_{t}": a for t, a in enumerate(self.new_id)}
        with atomic_output(path, force=force, mode=None) as tmp:
            np.savez(tmp, by=np.array(self.by), seed=np.array(self.seed),
                     profile=np.array(self.profile or ""), **arrays)


def make_mapping(trace: Trace, by: str, profile: Optional[Trace] = None, seed: int = 0,
                 profile_name: Optional[str] = None) -> Mapping:
    """The layout ``by`` of every table of ``trace``, from ``profile`` (default: the trace itself)."""
    check_layout(by, "--by")
    prof = trace if profile is None else profile
    if profile is not None and (profile.n_tables != trace.n_tables
                                or not np.array_equal(profile.table_rows, trace.table_rows)):
        raise InputError(f"profile {profile_name or ''}: table_rows {profile.table_rows.tolist()[:6]} differ from "
                         f"the trace's {trace.table_rows.tolist()[:6]}; expected a profile of the same tables")
    new_id = []
    for t, R in enumerate(trace.table_rows):
        order = layout_order(by, prof, t, int(R), seed)
        inv = np.empty(int(R), dtype=np.int64)
        inv[order] = np.arange(int(R), dtype=np.int64)
        new_id.append(inv)
    return Mapping(by, int(seed), new_id, profile_name)


def reorder_trace(trace: Trace, mapping: Mapping) -> Trace:
    """The trace with every index replaced by its new id; same lengths, batches and tables."""
    seg = trace.segment_offsets().reshape(-1)
    T = trace.n_tables
    out = trace.indices.copy()
    for t in range(T):
        pos = _segment_indices(seg[:-1][t::T], seg[1:][t::T])
        out[pos] = mapping.new_id[t][trace.indices[pos]]
    meta = dict(trace.meta)
    meta["layout"] = {"by": mapping.by, "seed": mapping.seed, "profile": mapping.profile}
    return Trace(lengths=trace.lengths, indices=out, table_rows=trace.table_rows,
                 timestamps_s=trace.timestamps_s, table_names=trace.table_names, meta=meta)
