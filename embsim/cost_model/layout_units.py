"""Expected units per batch of a row layout, counted on the profile trace laid out as the simulator lays it.

The planner prices a lookup in a slot by the share of a row read the memory
serves (:mod:`.coalescing`).  With only a coverage curve that share follows
from a formula, and ``coaccess`` cannot be told from ``frequency`` (a curve
has no co-access).  With the profile trace itself (``coalescing["profile"]``)
this module measures it instead: the rows of one slot are placed exactly as
``simulate --layout`` places them in a shard (the placement below is the one
:mod:`embsim.sim.layout_plan` uses), the profile's batches are read through
that placement, and the distinct cost units of each batch are counted.

Placement of one shard (rows of part ``p`` at hot ranks ``[lo, hi)``, the hot
rank being the place by falling count in the profile, ties to the lower row,
within the part):

``identity``  by row id (within the part); untouched rows keep their place between them.
``frequency`` by hot rank.
``coaccess``  by the table's co-access order (:func:`embsim.workloads.row_layout.coaccess_order`).
``random``    each touched row at a seeded random place among the shard's ``hi - lo`` rows.

Packing (:func:`embsim.sim.coalesce.row_addresses`): a row of ``L <= g`` bytes
never straddles a ``g`` unit (``floor(g / L)`` rows per unit); a larger row
starts on a unit boundary and takes ``ceil(L / g)`` of them; the shard starts
on a boundary of the slot's cost unit ``S`` (the largest unit size).  A batch
reads a unit once.

The read share of a slot is ``units / units_per_row / lookups`` over the
sampled batches: ``units`` distinct cost units per batch summed, ``lookups``
the sampled lookups whose row the slot holds, ``units_per_row`` =
``ceil(L / S)`` (what one row alone reads), so it is 1 when no two lookups of
a batch share a unit.  When the profile is the simulated trace (``simulate``
solving its own plan) the count is the simulator's; for another profile it is
an estimate from the same distribution.

Held out (``held_out=True``: the simulator ranks rows on a profile and replays another trace), the
whole profile ranks (and is clustered for ``coaccess``) as the simulator ranks it, and each sample
is read as if left out of the profile (:mod:`.leave_one_out`): a row only that sample reads is read
as unseen (after every profiled row, by id, as ``sim/heldout.py`` places it), another row where a
row of its count less one sits; the units the unseen rows add are scaled by how much a batch's new
rows repeat (Good-Toulmin).  No half of the profile is set aside, so the unseen share is the
profile's own (Good-Turing), not a half-size profile's.  Cost: one sort of each table's
profile lookups, then one ``np.unique`` over the sampled lookups (at most
``PROFILE_MAX_LOOKUPS`` per table) per (slot range, row size, unit sizes) (held out: one more lexsort).
"""
import math
from typing import Optional

import numpy as np

from ..errors import InputError
from ..workloads.row_layout import check_layout, coaccess_order
from .leave_one_out import first_samples, left_out_partners, leave_one_out_ranks, repeat_ratio, samples_per_row, table_samples

#: lookups per table whose batches are read through a layout (whole batches, spread over the profile)
PROFILE_MAX_LOOKUPS = 1 << 21


# ----------------------------------------------------------- placement ---
def part_and_index(parts: int, partition, rows: np.ndarray):
    """(row-wise part of each row, its index within the part): hash parts by id mod P, range parts by bounds."""
    if parts == 1:
        return np.zeros(rows.size, dtype=np.int64), rows
    if partition is None or partition.scheme == "hash":
        return rows % parts, rows // parts
    part = partition.part_of(rows)
    return part, rows - np.asarray(partition.bounds, dtype=np.int64)[part]


def hot_ranks(rows_idx: np.ndarray, counts: np.ndarray, part: np.ndarray, parts: int) -> np.ndarray:
    """Hot rank of each touched row within its part (falling count, ties to the lower row)."""
    order = np.lexsort((rows_idx, -counts, part))
    rank = np.empty(rows_idx.size, dtype=np.int64)
    ps = part[order]
    start = np.searchsorted(ps, np.arange(parts))
    rank[order] = np.arange(rows_idx.size) - start[ps]
    return rank


def heldout_coaccess_positions(profile, t, rows, rank, shard, seen):
    """Place in ``shard`` of each of ``rows`` (touched rows of the shard, their hot ``rank``s) in the
    co-access order of a held-out profile ``seen`` = (profiled rows ascending, their counts).

    The shard holds every row of its part with a hot rank in ``[lo, hi)``, touched by the evaluation or
    not: the profiled rows of those ranks, in co-access order, then rows the profile never saw in id
    order (``coaccess_order`` puts unseen rows last by id, and their ranks follow their ids).  A touched
    row's place is its index among all of them, so rows the evaluation does not touch keep their room:
    the layout knows the profile, never which rows the evaluation will read.  ``profile.coaccess_key``
    gives the co-access place of a row.
    """
    prow, pcount = (np.asarray(a, dtype=np.int64) for a in seen)
    if shard.parts > 1:
        prow, pcount = (a[shard.partition.part_of(prow) == shard.part] for a in (prow, pcount))
    by_rank = prow[np.lexsort((prow, -pcount))]           # the part's profiled rows, hot rank 0, 1, ...
    n = by_rank.size
    top = min(shard.hi, n)
    keys = np.sort(profile.coaccess_key(t, by_rank[shard.lo:top])) if top > shard.lo else np.zeros(0, np.int64)
    pos = np.empty(rows.size, dtype=np.int64)
    profiled = rank < n
    pos[profiled] = np.searchsorted(keys, profile.coaccess_key(t, rows[profiled]))
    pos[~profiled] = keys.size + rank[~profiled] - max(shard.lo, n)
    return pos


def _identity_positions(x, sel, lo, hi, touched_sorted):
    """Positions by id in a shard of hot ranks [lo, hi), untouched rows of the part in place between them."""
    k = touched_sorted.size
    mine = np.sort(x[sel])
    before_mine = np.searchsorted(mine, x[sel])
    untouched_below = x[sel] - np.searchsorted(touched_sorted, x[sel])
    a, b = max(lo, k) - k, max(hi - k, 0)
    return before_mine + np.clip(untouched_below - a, 0, max(b - a, 0))


def shard_positions(layout: str, x, sel, rank, shard, touched_sorted, key, seed: int) -> np.ndarray:
    """Place in its shard (0, 1, ...) of each touched row ``sel`` of the shard, by ``layout``.

    ``shard`` has ``table``, ``part``, ``lo`` and ``hi`` (hot ranks); ``x`` the
    rows' indices within their part, ``rank`` their hot ranks, ``touched_sorted``
    the part's touched indices sorted, ``key`` the co-access place of each row.
    """
    if layout == "frequency":
        return rank[sel] - shard.lo
    if layout == "identity":
        return _identity_positions(x, sel, shard.lo, shard.hi, touched_sorted)
    if layout == "random":
        rng = np.random.default_rng([seed, shard.table, shard.part, shard.lo])
        return rng.choice(shard.hi - shard.lo, size=int(sel.size), replace=False).astype(np.int64)
    order = np.argsort(key[sel], kind="stable")           # coaccess
    pos = np.empty(sel.size, dtype=np.int64)
    pos[order] = np.arange(sel.size)
    return pos


def unit_span(pos: np.ndarray, row_bytes: float, sizes) -> tuple:
    """(first, last) cost unit of rows at shard places ``pos``, packed as the module docstring says."""
    g, S = int(sizes[0]), int(sizes[-1])
    length = int(math.ceil(row_bytes - 1e-9))
    if length <= g:
        u = pos // ((g // length) * (S // g))
        return u, u
    a = pos * (-(-length // g) * g)
    return a // S, (a + length - 1) // S


class _Slot:
    """The hot-rank range of one part of one table, as a shard of the simulator has them."""

    def __init__(self, table, part, lo, hi, parts=1, partition=None):
        self.table, self.part, self.lo, self.hi = table, part, lo, hi
        self.parts, self.partition = parts, partition


def _segment_positions(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Positions in ``indices`` of the segments [starts[k], stops[k]), in order."""
    n = stops - starts
    if n.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    rep = np.repeat(starts - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
    return np.arange(int(n.sum()), dtype=np.int64) + rep


class _Table:
    """One table of the profile: its touched rows and counts, and the sampled batches' lookups."""

    def __init__(self, trace, t: int, max_lookups: int, held_out: bool = False):
        seg = trace.segment_offsets()
        T, B = trace.n_tables, trace.n_batches
        starts, stops = seg[:-1][t::T], seg[1:][t::T]                  # per batch
        ids = trace.indices[_segment_positions(starts, stops)]
        self.rows, self.counts = np.unique(ids, return_counts=True)
        # held out: the profile ranks its rows as the simulator does (seen = its rows and counts), and each
        # row is read with its own sample left out (samples reading it; cost_model/leave_one_out.py)
        self.seen: Optional[tuple] = (self.rows, self.counts) if held_out else None
        self.samples: Optional[np.ndarray] = None
        self.first_sample: Optional[np.ndarray] = None
        self.repeat = 1.0       # held out: a batch's new rows repeat inside it, a left-out row never does
        if held_out:
            sample = table_samples(trace, t)
            self.samples = samples_per_row(ids, sample, self.rows)
            self.first_sample = first_samples(ids, sample, self.rows)
            self.repeat = repeat_ratio(self.samples, B * trace.batch_size, trace.batch_size)
        per_batch = max(1.0, ids.size / max(B, 1))
        k = int(max(1, min(B, max_lookups // per_batch)))
        pick = np.unique(np.linspace(0, B - 1, k).round().astype(np.int64)) if B else np.zeros(0, np.int64)
        self.batches = int(pick.size)
        sample = trace.indices[_segment_positions(starts[pick], stops[pick])]
        self.batch = np.repeat(np.arange(pick.size, dtype=np.int64), stops[pick] - starts[pick])
        self.inverse = np.searchsorted(self.rows, sample)
        self.key: Optional[np.ndarray] = None
        self.ranks: dict = {}    # partition -> (part, index within part, rank) of the touched rows
        self.places: dict = {}   # (partition, part, lo, hi) -> place of each touched row in the shard (-1: not in it)


class LayoutProfile:
    """A profile trace seen through one layout: the distinct units per batch of any slot the planner prices.

    ``trace``: the profile (a ``Trace`` of the model's tables, in memory);
    ``layout``: identity | frequency | coaccess | random; ``seed``: the
    seed of the random layout and of the co-access clustering (the
    simulation's seed gives the simulator's placement).
    """

    def __init__(self, trace, layout: str, seed: int = 0, max_lookups: int = PROFILE_MAX_LOOKUPS,
                 held_out: bool = False):
        self.trace, self.layout, self.seed = trace, check_layout(layout), int(seed)
        # module doc: the whole profile ranks, each sample is read left out.  A profile of one batch is read
        # in-sample, as before this estimator (left out, the MIP's own plans disagreed by 10-12% with the
        # replay in tests/sim/test_layout_plan.py, and Good-Toulmin is at the edge of its range, t = 1)
        self.held_out = bool(held_out) and trace.n_batches >= 2
        self.max_lookups = int(max_lookups)
        self._tables: dict = {}
        self._coaccess: dict = {}    # table -> place of every row in its co-access order (Louvain: seconds a table)

    def coaccess_key(self, t: int, rows: np.ndarray) -> np.ndarray:
        """Place of each of ``rows`` in table t's co-access order of the profile (computed once a table)."""
        if t not in self._coaccess:
            full = coaccess_order(self.trace, t, seed=self.seed)
            inv = np.empty(full.size, dtype=np.int64)
            inv[full] = np.arange(full.size)
            self._coaccess[t] = inv
        return self._coaccess[t][rows]

    def check_matches(self, table_rows) -> "LayoutProfile":
        """InputError unless the profile has these tables (count and rows)."""
        rows = [int(r) for r in self.trace.table_rows]
        if rows != [int(r) for r in table_rows]:
            raise InputError(f"coalescing profile: table_rows {rows[:6]}: expected the model's "
                             f"{[int(r) for r in table_rows][:6]} (a trace of the same tables)")
        return self

    def _table(self, t: int) -> _Table:
        if t not in self._tables:
            self._tables[t] = _Table(self.trace, t, self.max_lookups, self.held_out)
        return self._tables[t]

    def _ranks(self, t: int, partition) -> tuple:
        """(part, index within part, hot rank, left-out rank, left-out partner) of table t's profiled rows;
        the last two None unless held out (cost_model/leave_one_out.py)."""
        tab = self._table(t)
        if partition not in tab.ranks:
            P = partition.parts if partition is not None else 1
            p, x = part_and_index(P, partition, tab.rows)
            rank = hot_ranks(x, tab.counts, p, P)
            loo = partner = None
            if tab.samples is not None:
                loo = leave_one_out_ranks(rank, x, tab.samples, p, P)
                partner = np.arange(tab.rows.size, dtype=np.int64)     # identity, random: counts place nothing
                if self.layout in ("frequency", "coaccess"):
                    key = self.coaccess_key(t, tab.rows) if self.layout == "coaccess" else rank
                    together = tab.first_sample if self.layout == "coaccess" else None   # frequency: by id
                    partner = left_out_partners(key, p, tab.counts, tab.samples, together)
            tab.ranks[partition] = (p, x, rank, loo, partner)
        return tab.ranks[partition]

    def _places(self, t: int, partition, part: int, rank_range) -> np.ndarray:
        """Place of every touched row of table t in the shard of ``part`` holding ``rank_range`` (-1: elsewhere);
        held out, the place each row is read at with its sample left out (module doc)."""
        tab = self._table(t)
        p, x, rank, loo, partner = self._ranks(t, partition)
        R = int(partition.part_rows()[part]) if partition is not None else int(self.trace.table_rows[t])
        lo, hi = (min(int(math.floor(f * R + 0.5)), R) for f in rank_range)
        cache = (partition, part, lo, hi)
        if cache not in tab.places:
            slot = _Slot(t, part, lo, hi, partition.parts if partition is not None else 1, partition)
            place = self._shard_places(t, p, x, rank, slot)
            if loo is not None:
                place = np.where(tab.samples == 1, self._shard_places(t, p, x, loo, slot), place[partner])
            tab.places[cache] = place
        return tab.places[cache]

    def _shard_places(self, t: int, p, x, rank, slot: "_Slot") -> np.ndarray:
        """Place in ``slot`` of every profiled row of table t ranked ``rank`` (-1: not in it)."""
        tab = self._table(t)
        if self.layout == "coaccess" and tab.key is None:
            tab.key = self.coaccess_key(t, tab.rows)
        sel = np.flatnonzero((p == slot.part) & (rank >= slot.lo) & (rank < slot.hi))
        place = np.full(tab.rows.size, -1, dtype=np.int64)
        if sel.size and self.layout == "coaccess" and tab.seen is not None:
            place[sel] = heldout_coaccess_positions(self, t, tab.rows[sel], rank[sel], slot, tab.seen)
        elif sel.size:
            place[sel] = shard_positions(self.layout, x, sel, rank, slot, np.sort(x[p == slot.part]),
                                         tab.key, self.seed)
        return place

    def slot_units(self, t: int, partition, part: int, rank_range, row_bytes: float, sizes) -> tuple:
        """(cost units, lookups, batches) the sampled profile batches read from that slot (module docstring)."""
        tab = self._table(t)
        place = self._places(t, partition, part, rank_range)[tab.inverse]
        mine = place >= 0
        n = int(mine.sum())
        if n == 0:
            return 0, 0, tab.batches
        if tab.samples is None:
            return _distinct_units(place[mine], tab.batch[mine], row_bytes, sizes), n, tab.batches
        # held out: the units the new rows (read by one sample only) add beyond the seen rows' are scaled by
        # how much a batch's new rows repeat (Good-Toulmin, cost_model/leave_one_out.repeat_ratio)
        new = (tab.samples == 1)[tab.inverse][mine]
        every = _distinct_units(place[mine], tab.batch[mine], row_bytes, sizes)
        seen = _distinct_units(place[mine][~new], tab.batch[mine][~new], row_bytes, sizes)
        return seen + tab.repeat * (every - seen), n, tab.batches

    def read_share(self, t: int, partition, part: int, rank_range, row_bytes: float, sizes) -> float:
        """Row reads the memory serves per lookup reaching the slot (<= 1): units / units per row / lookups."""
        units, n, _ = self.slot_units(t, partition, part, rank_range, row_bytes, sizes)
        if n == 0:
            return 1.0
        per_row = max(1, -(-int(math.ceil(row_bytes - 1e-9)) // int(sizes[-1])))
        return float(min(1.0, units / per_row / n))


def _distinct_units(place: np.ndarray, batch: np.ndarray, row_bytes: float, sizes) -> int:
    """Distinct (batch, cost unit) pairs the lookups at shard places ``place`` of batches ``batch`` read."""
    if place.size == 0:
        return 0
    first, last = unit_span(place, row_bytes, sizes)
    width = last - first + 1
    if width.max() > 1:                                  # rows of several units: every unit they touch
        batch = np.repeat(batch, width)
        first = np.repeat(first, width) + _offsets_within(width)
    span = int(first.max()) + 1
    return int(np.unique(batch * span + first).size)


def _offsets_within(width: np.ndarray) -> np.ndarray:
    """0, 1, .., w - 1 for every w of ``width``, concatenated."""
    ends = np.cumsum(width)
    return np.arange(int(ends[-1]), dtype=np.int64) - np.repeat(ends - width, width)


def as_profile(profile, layout: str, seed: int = 0) -> Optional[LayoutProfile]:
    """A LayoutProfile of ``profile`` (a Trace or a LayoutProfile of this layout), or None."""
    if profile is None or isinstance(profile, LayoutProfile):
        if profile is not None and profile.layout != layout:
            raise InputError(f"coalescing profile: made for layout {profile.layout!r}, the plan asks for {layout!r}")
        return profile
    return LayoutProfile(profile, layout, seed)
