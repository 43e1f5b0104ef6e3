"""Trace replay: where every lookup lands, and what it costs in each cache and tier.

The replay walks the global row-id stream of a trace in access order and, per
batch, counts for every *location* (a (device, tier) slot of a plan, e.g.
``gpu0/hbm`` or ``csd1/flash``) and every *level* of that location (its caches
top first, then the backing tier):

``lookups``
    accesses that reached the level.  Level 0 sees every lookup of a row that
    lives at the location; a lower level sees only the upper level's misses.
``unique_rows``
    distinct rows among those accesses inside the batch (a GPU kernel or an
    FPGA gather unit deduplicates a batch before fetching).
``hits`` / ``misses``
    accesses the level served / passed down.  ``hits + misses == lookups``.
    The backing tier always holds the row: ``hits == lookups``, ``misses == 0``.
``bytes``
    bytes read at the level to serve its hits, at the level's access
    granularity: ``hits x ceil(row_bytes / granularity_B) x granularity_B``
    (summed per table, as row sizes differ).  A miss at level k is fetched
    from the level that serves it, so its bytes appear there, rounded to
    *that* level's granularity (64 B lines, 512 B DMA bursts, 4 KiB flash
    pages).  Fill writes into the caches are not counted in ``bytes``; they
    are ``misses`` x the cache's rounded row bytes if a model needs them.
``units`` (with coalescing, i.e. when ``replay`` is given each row's
address in its tier)
    per batch, location and unit size: the distinct units (lines, sectors,
    bursts, pages) the lookups that reached the backing tier touch, a unit
    read twice in a batch counted once (:mod:`embsim.sim.coalesce`).
    ``unit_bytes`` = ``units`` x the unit size.  The per-row counters above
    are kept as they are.

Cache semantics (policies, fill order, inclusion by back-invalidation, LFU
tie-break, memory per row) are documented in ``embsim/sim/_replay.pyx``; the
pure-Python ``embsim.sim.reference`` implements the same counters and the
tests require them identical.

Units: bytes, rows, counts.  Every counter is int64.
"""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import InputError
from ..progress import progress as progress_bar
from . import _replay  # type: ignore[attr-defined]  # compiled (Cython), no stub
from .coalesce import UnitCounter, ring_unit_ids

POLICIES = ("lru", "lfu", "static", "none")

#: lookups replayed between two progress-bar updates
CHUNK_LOOKUPS = 4_000_000
#: batches a replay can count: the kernels keep a row's last batch as an int32 ``batch << 1 | flag``
MAX_BATCHES = 2 ** 30
#: unit sizes whose ids fit the LRU ring's row state (``ReplayState.unit_ids_in_ring``)
MAX_RING_UNIT_SIZES = 6


@dataclass
class CacheLevel:
    """One cache in front of a tier.

    ``policy``: ``lru`` | ``lfu`` | ``static`` | ``none``.  ``capacity_rows``:
    rows it holds (ignored by ``none``; for ``static`` an upper bound on the
    pinned set).  ``granularity_B``: bytes per access unit of this level's
    memory.  ``pinned``: global row ids pinned by a ``static`` cache.
    """

    name: str
    policy: str
    capacity_rows: int
    granularity_B: int
    pinned: Optional[np.ndarray] = None


@dataclass
class Location:
    """A place rows live: a tier of a device, with its caches top (fastest) first.

    ``granularity_B`` is the backing tier's access granularity.
    ``unit_sizes_B``: the unit sizes coalescing counts at the tier, the
    granularity first (None: the granularity alone); e.g. a flash tier's
    4 KiB sector and 16 KiB page.
    """

    device: str
    tier: str
    granularity_B: int
    caches: list = field(default_factory=list)
    unit_sizes_B: Optional[list] = None

    @property
    def units_counted_B(self):
        return list(self.unit_sizes_B) if self.unit_sizes_B else [int(self.granularity_B)]

    @property
    def name(self):
        return f"{self.device}/{self.tier}"

    @property
    def level_names(self):
        return [c.name for c in self.caches] + [self.tier]


COUNTERS = ("lookups", "unique_rows", "hits", "misses", "bytes")
TABLE_COUNTERS = ("lookups", "hits", "misses")


@dataclass
class ReplayCounters:
    """Counters of one replay.

    Per batch: ``lookups``, ``unique_rows``, ``hits``, ``misses``, ``bytes``,
    int64 arrays shaped ``[batches, locations, max_levels]``; level ``j`` of
    location ``l`` is named ``level_names[l][j]`` (caches top first, then the
    backing tier); levels past a location's last are zero and unnamed.
    Per table (totals over batches): ``table_lookups``, ``table_hits``,
    ``table_misses``, shaped ``[tables, locations, max_levels]``.
    """

    location_names: list
    level_names: list
    table_names: list
    lookups: np.ndarray
    unique_rows: np.ndarray
    hits: np.ndarray
    misses: np.ndarray
    bytes: np.ndarray
    table_lookups: np.ndarray
    table_hits: np.ndarray
    table_misses: np.ndarray
    policies: list = field(default_factory=list)        # per location, per level
    capacities: list = field(default_factory=list)      # per location, per level (None for a tier)
    granularities_B: list = field(default_factory=list)
    units: Optional[np.ndarray] = None                  # [batches, locations, unit sizes], with coalescing
    unit_sizes_B: list = field(default_factory=list)    # per location, the sizes counted (granularity first)

    @property
    def n_batches(self):
        return self.lookups.shape[0]

    def level(self, location, level):
        """(location index, level index) from names or indices."""
        li = self.location_names.index(location) if isinstance(location, str) else int(location)
        lj = self.level_names[li].index(level) if isinstance(level, str) else int(level)
        return li, lj

    def totals(self):
        """{location: {level: {lookups, unique_rows, hits, misses, bytes, hit_rate}}} over all batches.

        ``unique_rows`` here is the sum over batches of the rows deduplicated
        inside each batch.
        """
        sums = {k: getattr(self, k).sum(axis=0) for k in COUNTERS}
        out = {}
        for li, loc in enumerate(self.location_names):
            out[loc] = {}
            for lj, lvl in enumerate(self.level_names[li]):
                d = {k: int(sums[k][li, lj]) for k in COUNTERS}
                d["hit_rate"] = d["hits"] / d["lookups"] if d["lookups"] else 0.0
                out[loc][lvl] = d
            if self.units is not None:
                tier = out[loc][self.level_names[li][-1]]
                tier["units"] = {f"{S}B": int(self.units[:, li, k].sum()) for k, S in enumerate(self.unit_sizes_B[li])}
                tier["unit_bytes"] = int(self.units[:, li, 0].sum()) * int(self.unit_sizes_B[li][0])
        return out

    def per_table(self):
        """{table: {location: {level: {lookups, hits, misses, hit_rate}}}} (levels a table never reached omitted)."""
        out = {}
        for t, name in enumerate(self.table_names):
            per = {}
            for li, loc in enumerate(self.location_names):
                lv = {}
                for lj, lvl in enumerate(self.level_names[li]):
                    d = {k: int(getattr(self, "table_" + k)[t, li, lj]) for k in TABLE_COUNTERS}
                    if d["lookups"]:
                        d["hit_rate"] = d["hits"] / d["lookups"]
                        lv[lvl] = d
                if lv:
                    per[loc] = lv
            out[name] = per
        return out

    def to_dict(self, per_batch=False):
        """A JSON-ready dict: totals per location and level, per table, and optionally per batch."""
        locs = []
        tot = self.totals()
        for li, loc in enumerate(self.location_names):
            levels = []
            for lj, lvl in enumerate(self.level_names[li]):
                d = {"name": lvl, "policy": self.policies[li][lj] if self.policies else None,
                     "capacity_rows": self.capacities[li][lj] if self.capacities else None,
                     "granularity_B": self.granularities_B[li][lj] if self.granularities_B else None}
                d.update(tot[loc][lvl])
                if per_batch:
                    d["per_batch"] = {k: getattr(self, k)[:, li, lj].tolist() for k in COUNTERS}
                    if self.units is not None and lj == len(self.level_names[li]) - 1:
                        d["per_batch"]["units"] = {f"{S}B": self.units[:, li, k].tolist()
                                                   for k, S in enumerate(self.unit_sizes_B[li])}
                levels.append(d)
            locs.append({"name": loc, "levels": levels})
        return {"batches": int(self.n_batches), "locations": locs, "per_table": self.per_table()}


# ------------------------------------------------------------------ checks ---
def _check_levels(locations, total_rows):
    if not locations:
        raise InputError("replay: locations: empty; expected at least one Location")
    for li, loc in enumerate(locations):
        where = f"replay: locations[{li}] ({loc.device}/{loc.tier})"
        if not isinstance(loc.granularity_B, (int, np.integer)) or loc.granularity_B <= 0:
            raise InputError(f"{where}: granularity_B = {loc.granularity_B!r}: expected a positive integer of bytes")
        for ci, c in enumerate(loc.caches):
            w = f"{where}: caches[{ci}] ({c.name})"
            if c.policy not in POLICIES:
                raise InputError(f"{w}: policy = {c.policy!r}: expected one of {', '.join(POLICIES)}")
            if not isinstance(c.capacity_rows, (int, np.integer)) or c.capacity_rows < 0:
                raise InputError(f"{w}: capacity_rows = {c.capacity_rows!r}: expected an integer >= 0")
            if not isinstance(c.granularity_B, (int, np.integer)) or c.granularity_B <= 0:
                raise InputError(f"{w}: granularity_B = {c.granularity_B!r}: expected a positive integer of bytes")
            if c.policy == "static":
                if c.pinned is None:
                    raise InputError(f"{w}: policy 'static' needs pinned (global row ids of the hot set)")
                pin = np.asarray(c.pinned)
                if pin.ndim != 1 or (pin.size and not np.issubdtype(pin.dtype, np.integer)):
                    raise InputError(f"{w}: pinned: expected a flat array of integer global row ids")
                if len(np.unique(pin)) > c.capacity_rows:
                    raise InputError(f"{w}: pinned holds {len(np.unique(pin))} rows but capacity_rows = {c.capacity_rows}")
                if pin.size and (pin.min() < 0 or pin.max() >= total_rows):
                    raise InputError(f"{w}: pinned: ids {pin.min()}..{pin.max()} outside 0..{total_rows - 1}")
            elif c.pinned is not None:
                raise InputError(f"{w}: pinned is only for policy 'static', not {c.policy!r}")


def _rounded(row_bytes, gran):
    return (np.ceil(row_bytes / gran) * gran).astype(np.int64)


def rounded_access_bytes(row_bytes, locations, n_levels):
    """Bytes one access moves, per (table, location, level): the row rounded up to the level's granule
    (each cache's, then the backing tier's)."""
    cost = np.zeros((len(row_bytes), len(locations), n_levels), dtype=np.int64)
    for li, loc in enumerate(locations):
        grans = [c.granularity_B for c in loc.caches] + [loc.granularity_B]
        for lj, gr in enumerate(grans):
            cost[:, li, lj] = _rounded(row_bytes, gr)
    return cost


def _checked_tables(row_bytes, row_offsets):
    """(bytes per row, first row per table) as arrays, or an InputError naming what is wrong."""
    rb = np.asarray(row_bytes, dtype=np.float64).reshape(-1)
    offs = np.ascontiguousarray(row_offsets, dtype=np.int64).reshape(-1)
    if offs.size < 1 or offs[0] != 0 or (np.diff(offs) <= 0).any():
        raise InputError("replay: row_offsets: expected increasing offsets starting at 0 (every table has rows)")
    if rb.shape != offs.shape:
        raise InputError(f"replay: row_bytes: {rb.size} values for {offs.size} tables")
    if not np.isfinite(rb).all() or (rb <= 0).any():
        raise InputError(f"replay: row_bytes: expected positive bytes per row, got {rb.tolist()[:8]}")
    return rb, offs


def _checked_row_location(row_location, total_rows, n_locations, last_offset):
    """(row -> location as int32 or None, total rows), or an InputError naming what is wrong."""
    rowloc = None
    if row_location is not None:
        rowloc = np.ascontiguousarray(row_location, dtype=np.int32)
        if rowloc.ndim != 1:
            raise InputError(f"replay: row_location: expected a flat array, got shape {rowloc.shape}")
        if total_rows is None:
            total_rows = rowloc.shape[0]
        if rowloc.shape[0] != total_rows:
            raise InputError(f"replay: row_location: {rowloc.shape[0]} entries for {total_rows} rows")
        if rowloc.size and (rowloc.min() < 0 or rowloc.max() >= n_locations):
            raise InputError(f"replay: row_location: values {rowloc.min()}..{rowloc.max()} but only "
                             f"{n_locations} locations (expected 0..{n_locations - 1})")
    if total_rows is None:
        raise InputError("replay: total_rows: required (rows of all tables)")
    total_rows = int(total_rows)
    if total_rows <= last_offset:
        raise InputError(f"replay: total_rows = {total_rows} but the last table starts at row {last_offset}")
    return rowloc, total_rows


# ------------------------------------------------------------------ replay ---
class Replayer:
    """A replay fed chunk by chunk: the caches and counters of every location, and the next batch.

    Build it with the whole replay's settings (``n_batches`` and everything
    :func:`replay` takes but the ids), then call :meth:`feed` with
    consecutive pieces of the id stream, whole batches each, and
    :meth:`result` once at the end.  Memory: the row state, the caches and
    the per-batch counters (see ``_replay.pyx``), never the id stream.
    """

    def __init__(self, n_batches, row_bytes, row_offsets, locations, row_location=None, total_rows=None,
                 table_names=None, row_address_B=None, row_length_B=None):
        rb, offs = _checked_tables(row_bytes, row_offsets)
        rowloc, total_rows = _checked_row_location(row_location, total_rows, len(locations), int(offs[-1]))
        _check_levels(locations, total_rows)
        if int(n_batches) >= MAX_BATCHES:
            raise InputError(f"replay: n_batches = {int(n_batches)}: expected fewer than 2^30 "
                             "(the kernel stamps a row's last batch as an int32 batch << 1)")
        self.n_batches, self.total_rows, self.locations = int(n_batches), total_rows, locations
        self.table_names = list(table_names) if table_names is not None else [f"t{i}" for i in range(offs.size)]
        self.next_batch = 0
        # flatten the cache levels for the kernel
        policies, caps, depths, loc_of, pinned = [], [], [], [], []
        for li, loc in enumerate(locations):
            for d, c in enumerate(loc.caches):
                policies.append(_replay.POLICY_CODES[c.policy])
                caps.append(int(c.capacity_rows) if c.policy in ("lru", "lfu", "static") else 0)
                depths.append(d)
                loc_of.append(li)
                pinned.append(None if c.pinned is None else np.unique(np.asarray(c.pinned, dtype=np.int64)))
        n_cache = np.array([len(loc.caches) for loc in locations], dtype=np.int32)
        max_levels = int(n_cache.max()) + 1
        rbytes = rounded_access_bytes(rb, locations, max_levels)
        self._state = _replay.ReplayState(self.n_batches, rowloc, total_rows, offs, rbytes,
                                          policies, caps, depths, loc_of, n_cache, pinned)
        self._done = False
        # coalescing: the LRU ring counts the units on its misses from unit ids kept in its row state;
        # any other loop records which lookups reached the tier, and a UnitCounter counts them per chunk
        self._rows = _coalescing_inputs(locations, rowloc, total_rows, row_address_B, row_length_B)
        self._record_reach = self._rows is not None and n_cache.max() > 0
        self._counter = None
        self._units_in_ring = False
        self.units = None
        if self._rows is not None:
            K = max(len(loc.units_counted_B) for loc in locations)
            self.units = np.zeros((self.n_batches, len(locations), K), dtype=np.int64)
            if len(locations) == 1 and self._state.lru_queue and K <= MAX_RING_UNIT_SIZES:
                self._units_in_ring = self._ring_counts_units()

    def _ring_counts_units(self):
        """Put every row's unit ids in the LRU ring's row state; False (state restored) if a shared entry
        spans several units (rows larger than a unit, not aligned to it), which the ring does not count."""
        _, addr, length, sizes = self._rows
        shared = ring_unit_ids(addr, length, sizes[0], self._state.unit_ids_in_ring(len(sizes[0])))
        if shared is None:
            self._state.unit_ids_in_ring(0)
            return False
        self._ring_stamps = np.full(max(shared, 1), -1, dtype=np.int32)
        self._state.count_units_in_ring(self._ring_stamps, self.units)
        return True

    def _unit_counter(self):
        """The UnitCounter of the loops that record the reach (built at their first chunk)."""
        if self._counter is None:
            self._counter = UnitCounter(*self._rows)
        return self._counter

    def feed(self, global_ids, batch_bounds, where="replay: global_ids"):
        """Replay the next batches: ``global_ids`` int64, ``batch_bounds`` int64 [k+1] from 0 to its length.

        Long pieces are replayed ``CHUNK_LOOKUPS`` at a time (the caller's
        progress bar moves between them).  Returns the number of lookups.
        """
        gids = np.ascontiguousarray(global_ids, dtype=np.int64)
        bounds = np.ascontiguousarray(batch_bounds, dtype=np.int64)
        n = gids.shape[0]
        if gids.ndim != 1:
            raise InputError(f"{where}: expected a flat array, got shape {gids.shape}")
        if bounds.ndim != 1 or bounds.size < 1 or bounds[0] != 0 or bounds[-1] != n or (np.diff(bounds) < 0).any():
            raise InputError(f"replay: batch_bounds: expected a non-decreasing int64 array from 0 to {n} (the number of ids)")
        k = bounds.size - 1
        if self.next_batch + k > self.n_batches:
            raise InputError(f"replay: {self.next_batch + k} batches fed, the replay was built for {self.n_batches}")
        b = 0
        while b < k:
            e = int(np.searchsorted(bounds, bounds[b] + CHUNK_LOOKUPS, side="right")) - 1
            e = min(max(e, b + 1), k)
            lo, hi = int(bounds[b]), int(bounds[e])
            ids, piece = gids[lo:hi], bounds[b:e + 1] - lo
            reach = None
            in_ring = self._units_in_ring and self._state.lru_queue   # the ring counts the units itself
            if self._record_reach and not in_ring:
                reach = np.zeros(hi - lo, dtype=np.uint8)
                self._state.record_reach(reach)
            bad = self._state.run(ids, piece, self.next_batch + b)
            if bad >= 0:
                raise InputError(f"{where}: value {ids[bad]} at position {lo + bad} outside 0..{self.total_rows - 1}")
            if self._rows is not None and not in_ring:
                self.units[self.next_batch + b:self.next_batch + e] = self._unit_counter().count(
                    ids, piece, self.next_batch + b, reach)
            b = e
        self.next_batch += k
        return n

    def result(self):
        """The ReplayCounters (call once, after the last batch was fed)."""
        if self.next_batch != self.n_batches:
            raise InputError(f"replay: {self.next_batch} of {self.n_batches} batches fed")
        state, locations = self._state, self.locations
        if not self._done:
            state.finish()
            self._done = True
        return ReplayCounters(
            location_names=[loc.name for loc in locations],
            level_names=[loc.level_names for loc in locations],
            table_names=list(self.table_names),
            lookups=state.lookups, unique_rows=state.unique_rows, hits=state.hits,
            misses=state.misses, bytes=state.bytes_,
            table_lookups=state.t_lookups, table_hits=state.t_hits, table_misses=state.t_misses,
            policies=[[c.policy for c in loc.caches] + ["tier"] for loc in locations],
            capacities=[[int(c.capacity_rows) for c in loc.caches] + [None] for loc in locations],
            granularities_B=[[int(c.granularity_B) for c in loc.caches] + [int(loc.granularity_B)] for loc in locations],
            units=self.units, unit_sizes_B=[loc.units_counted_B for loc in locations],
        )


def replay(global_ids, batch_bounds, row_bytes, row_offsets, locations, row_location=None,
           progress=False, total_rows=None, table_names=None, row_address_B=None, row_length_B=None):
    """Replay a global row-id stream through the caches of every location.

    global_ids: int64 [n], in access order.  batch_bounds: int64 [B+1], start
    of each batch in ``global_ids`` (0 first, n last).  row_bytes: float64
    [tables], bytes read per lookup of each table.  row_offsets: int64
    [tables], global id of each table's row 0.  locations: list of
    :class:`Location`.  row_location: int32 [total_rows], the location index
    of every row (None: every row at location 0).  progress: True draws a
    bar, None draws it only on a terminal.  total_rows: rows of all tables
    (default: ``len(row_location)``, else ``max(global_ids) + 1``).
    table_names: names for the per-table counters (default ``t0, t1, ...``).
    A stream too long for memory goes through :class:`Replayer` chunk by chunk.
    row_address_B, row_length_B: int64 [total_rows], each row's byte address
    in its location's tier and its length (:func:`embsim.sim.coalesce.row_addresses`);
    given, the replay also counts ``units`` (coalescing), else ``units`` is None.
    """
    gids = np.ascontiguousarray(global_ids, dtype=np.int64)
    bounds = np.ascontiguousarray(batch_bounds, dtype=np.int64)
    n = gids.shape[0]
    if gids.ndim != 1:
        raise InputError(f"replay: global_ids: expected a flat array, got shape {gids.shape}")
    if bounds.ndim != 1 or bounds.size < 1 or bounds[0] != 0 or bounds[-1] != n or (np.diff(bounds) < 0).any():
        raise InputError(f"replay: batch_bounds: expected a non-decreasing int64 array from 0 to {n} (the number of ids)")
    if total_rows is None and row_location is None:
        offs = np.asarray(row_offsets, dtype=np.int64).reshape(-1)
        total_rows = int(gids.max()) + 1 if n else int(offs[-1]) + 1 if offs.size else 1
    rep = Replayer(bounds.size - 1, row_bytes, row_offsets, locations, row_location=row_location,
                   total_rows=total_rows, table_names=table_names, row_address_B=row_address_B,
                   row_length_B=row_length_B)
    with progress_bar(total=n, desc="replay", unit="lookup", enabled=progress) as bar:
        b, B = 0, bounds.size - 1
        while b < B:
            # the next chunk: batches up to about CHUNK_LOOKUPS lookups (at least one batch)
            e = int(np.searchsorted(bounds, bounds[b] + CHUNK_LOOKUPS, side="right")) - 1
            e = min(max(e, b + 1), B)
            bar.update(rep.feed(gids[bounds[b]:bounds[e]], bounds[b:e + 1] - bounds[b]))
            b = e
        if B == 0:
            rep.feed(gids[:0], bounds[:1])
    return rep.result()


def _coalescing_inputs(locations, rowloc, total_rows, row_address_B, row_length_B):
    """(row locations or None, addresses, lengths, unit sizes per location): what coalescing counts from, or None."""
    if row_address_B is None and row_length_B is None:
        return None
    if row_address_B is None or row_length_B is None:
        raise InputError("replay: row_address_B and row_length_B: give both (coalescing) or neither")
    addr = np.ascontiguousarray(row_address_B, dtype=np.int64)
    length = np.ascontiguousarray(row_length_B, dtype=np.int64)
    if addr.shape != (total_rows,) or length.shape != (total_rows,):
        raise InputError(f"replay: row_address_B / row_length_B: {addr.size} / {length.size} entries "
                         f"for {total_rows} rows")
    return rowloc, addr, length, [loc.units_counted_B for loc in locations]


def trace_row_bytes(trace, row_bytes):
    """Bytes per lookup of each table of ``trace`` from a number, a per-table sequence or a ModelSpec.

    A trace does not know its tables' widths, so the caller must say: one
    number for every table, one per table, or the ``ModelSpec`` the trace was
    made for (its tables' ``row_bytes``, matched by position; the table counts
    must agree).
    """
    if row_bytes is None:
        raise InputError("replay: row_bytes: required (a trace does not know its rows' width); "
                         "give bytes per row, one per table, or the ModelSpec")
    if hasattr(row_bytes, "tables"):
        if len(row_bytes.tables) != trace.n_tables:
            raise InputError(f"replay: model {getattr(row_bytes, 'name', '?')} has {len(row_bytes.tables)} tables "
                             f"but the trace has {trace.n_tables}")
        return np.array([t.row_bytes for t in row_bytes.tables], dtype=np.float64)
    rb = np.asarray(row_bytes, dtype=np.float64)
    if rb.ndim == 0:
        return np.full(trace.n_tables, float(rb))
    if rb.shape != (trace.n_tables,):
        raise InputError(f"replay: row_bytes: {rb.size} values for {trace.n_tables} tables")
    return rb


def replay_trace(trace, locations, row_location=None, row_bytes=None, progress=False):
    """Replay a trace (see :func:`replay`), chunk by chunk: a ``Trace`` in memory or a reader of a stored one.

    ``trace``: a :class:`~embsim.workloads.trace.Trace`, a
    :class:`~embsim.workloads.store.TraceReader` or a trace path (either
    format).  ``row_bytes`` is required: bytes per row for all tables, a
    per-table sequence, or a ``ModelSpec`` (see :func:`trace_row_bytes`).
    Memory: one chunk of global ids at a time besides the replay state.
    """
    from ..workloads.store import open_trace
    reader = open_trace(trace)
    rb = trace_row_bytes(reader, row_bytes)
    rep = Replayer(reader.n_batches, rb, reader.row_offsets, locations, row_location=row_location,
                   total_rows=reader.total_rows, table_names=reader.table_names)
    with progress_bar(total=reader.n_indices, desc="replay", unit="lookup", enabled=progress) as bar:
        for chunk in reader.chunks():
            tr = chunk.trace
            bar.update(rep.feed(tr.global_ids(), tr.batch_bounds(), where=f"{reader.source}: global ids"))
    return rep.result()


# --------------------------------------------------------------- plan map ---
def row_location_from_plan(plan, table_names, table_rows, hot_order, locations):
    """int32 [total_rows]: the location index of every row under ``plan``.

    Tables are laid out in the order of ``table_names`` (global id =
    offset of the table + row index).  ``hot_order[t]`` lists table t's row
    indices hottest first.  A shard with hot-rank range ``[rank_lo, rank_hi)``
    holds the rows at hot ranks ``[floor(rank_lo x R + 0.5), floor(rank_hi x R
    + 0.5))`` of a table of R rows (rounded to the nearest row, so adjacent
    shards meet without gap or overlap), at the location whose
    ``(device, tier)`` is ``(shard.device, shard.tier)``.  Every row must be
    covered by exactly one shard (InputError otherwise).
    """
    index = {}
    for li, loc in enumerate(locations):
        index.setdefault((loc.device, loc.tier), li)
    table_rows = np.asarray(table_rows, dtype=np.int64)
    if len(table_names) != len(table_rows) or len(hot_order) != len(table_rows):
        raise InputError(f"plan map: {len(table_names)} table names, {len(table_rows)} row counts, "
                         f"{len(hot_order)} hot orders; expected one each per table")
    offs = np.concatenate([[0], np.cumsum(table_rows)[:-1]]).astype(np.int64)
    out = np.full(int(table_rows.sum()), -1, dtype=np.int32)
    for t, name in enumerate(table_names):
        R = int(table_rows[t])
        try:
            tp = plan.table(name)
        except KeyError:
            raise InputError(f"plan {plan.model}/{plan.system}: table {name!r}: not in the plan") from None
        order = np.asarray(hot_order[t], dtype=np.int64)
        if order.shape != (R,):
            raise InputError(f"plan map: hot_order[{t}] ({name}): {order.size} entries for {R} rows")
        seen = np.zeros(R, dtype=np.int32)
        for si, s in enumerate(tp.shards):
            key = (s.device, s.tier)
            if key not in index:
                raise InputError(f"plan: table {name!r}: shards[{si}]: location {s.device}/{s.tier} "
                                 f"is not among the replay's locations ({', '.join(l.name for l in locations)})")
            if not (0.0 <= s.rank_lo <= s.rank_hi <= 1.0 + 1e-9):
                raise InputError(f"plan: table {name!r}: shards[{si}]: rank range [{s.rank_lo}, {s.rank_hi}) "
                                 "outside [0, 1] or reversed")
            lo = min(int(np.floor(s.rank_lo * R + 0.5)), R)
            hi = min(int(np.floor(s.rank_hi * R + 0.5)), R)
            rows = order[lo:hi]
            seen[lo:hi] += 1
            out[offs[t] + rows] = index[key]
        if (seen != 1).any():
            bad = int(np.argmax(seen != 1))
            what = "no shard" if seen[bad] == 0 else f"{seen[bad]} shards"
            raise InputError(f"plan: table {name!r}: hot rank {bad} of {R} (fraction {bad / R:.6g}) is held by "
                             f"{what}; expected the shards to cover [0, 1) exactly once")
        if np.unique(order).size != R or order.min() < 0 or order.max() >= R:
            raise InputError(f"plan map: hot_order[{t}] ({name}): expected a permutation of 0..{R - 1}")
    return out
