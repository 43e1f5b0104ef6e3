"""The sharding instance: what the planner's stages (enumerate, estimate, propose, partition) share.

An :class:`Instance` is the model, seen through statistics, laid against the
system, seen through its slots:

- *items*: a table, or one row-wise part of a large or very hot table.  Part
  ``p`` of ``P`` holds the rows of its hash or range partition by id
  (:mod:`.partition`) and carries the share of the lookups the profile's
  per-row counts predict for it (1/P without counts); its hot rows follow
  the table's own coverage curve (a documented approximation: the part
  holding the hottest row is steeper);
- candidate representations per item and their bytes;
- per-lookup time and energy of each (item, representation, slot), from
  ``System.lookup_cost`` and ``System.compute_cost`` (linear in the work,
  so one call per distinct row size is enough).

Column-wise candidates (``columnable``): a whole dense table whose dim K in
``COLUMN_SPLITS`` divides may be cut into K shards of dim/K columns on K
devices, each reading every lookup at row_bytes / K (``col_time``).

Splitting rule (``split=True``): a table is cut into the fewest parts such
that each part of its smallest candidate fits in half of the smallest
device's memory, and each part carries at most half a device's fair share
of the lookups (total / devices); never more parts than rows, and, for load,
never more than the number of devices.  Where devices share a memory pool
(the host DDR every GPU reads over its own PCIe port), the same "fits in
half" holds for each device's *own* memory too, up to one part per device:
a table too big for one GPU's HBM is cut so that its hot rows can sit in
several HBMs and its spilled rows are read over several ports, not one
(TorchRec's planner row-shards such tables over every rank; without this,
DCNv2 with 8 GB of tables per GPU put three 20 GB tables on one GPU each,
spilling over one port: 110 us predicted against TorchRec's 41 us).
"""
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..hw_models.protocols import CoalescedReads
from ..hw_models.system import Cost
from .comm import pooled_bytes, probe as comm_probe
from .coalescing import coalesced_read_shares
from .coverage import table_access
from .partition import choose as choose_partition, even_range, predicted_shares
from .shard_output import output_s_per_B
from .representations import candidates

SPLIT_CAPACITY_SHARE = 0.5
SPLIT_LOAD_FACTOR = 0.5
REPLICA_MAX_SHARE = 0.02     # a table replicated on every device takes at most 2% of the smallest fast tier
_NO_COST = Cost(0.0, 0.0)
COLUMN_SPLITS = (2, 4)       # column-wise: a table's dim cut into K equal column shards on K devices


@dataclass
class Item:
    table: int                 # index in model.tables
    name: str
    part: int
    parts: int
    rows: float                # rows of this part
    accesses: float            # lookups of this part per batch
    curve: object              # CoverageCurve
    reps: list                 # Representation of the whole table
    bytes: list = field(default_factory=list)   # per rep: bytes of this part
    partition: object = None   # RowPartition of the table (cost_model/partition.py)
    share: float = 1.0         # predicted share of the table's lookups this part carries

    @property
    def label(self):
        return self.name if self.parts == 1 else f"{self.name}[{self.part}/{self.parts}]"


class Instance:
    """Items x representations x slots with per-lookup costs, ready for the baselines and the MIP."""

    def __init__(self, model, system, stats=None, batch_size=1, representations=None, split=True,
                 max_collision_share=None, coalescing=None, replicate=True, row_parts=None,
                 columns=False):
        self.model, self.system, self.batch_size = model, system, batch_size
        self.slots = list(system.slots())
        if not self.slots:
            raise InputError(f"system '{system.name}': has no slots to place tables in")
        self.devices = list(dict.fromkeys(s.device for s in self.slots))
        self.dev_index = {d: k for k, d in enumerate(self.devices)}
        # slots of each device, fastest first
        self.dev_slots = {d: sorted([k for k, s in enumerate(self.slots) if s.device == d],
                                    key=lambda k: self.slots[k].rank) for d in self.devices}
        self.pools = {}
        for s in self.slots:
            if s.pool_key in self.pools and abs(self.pools[s.pool_key] - s.capacity_B) > 1e-6 * s.capacity_B:
                raise InputError(f"system '{system.name}': pool {s.pool_key} has slots with different capacities")
            self.pools[s.pool_key] = float(s.capacity_B)
        self.pool_slots = {p: [k for k, s in enumerate(self.slots) if s.pool_key == p] for p in self.pools}
        access = table_access(model, stats, batch_size)
        self.stats = stats
        self.partition_notes = {}      # table -> how its row-wise parts were cut
        self.max_collision_share = max_collision_share
        self.distinct = _distinct_rows(model, stats)
        self.row_parts = dict(row_parts or {})     # table -> parts in TorchRec's even blocks (overrides the rule)
        self.items = self._make_items(access, representations, split)
        # the all-to-all of pooled vectors (None: the system has no transfer stage), bytes each item sends
        self.comm = comm_probe(system, self.devices, batch_size)
        self.pooled_B = [pooled_bytes(model.tables[it.table], batch_size) for it in self.items]
        self.output_s_per_B = output_s_per_B(system, self.devices)   # each shard writes its pooled_B (shard_output.py)
        # no replicas under a row layout: the coalescing estimate prices whole tables on one device
        self.replicable = self._replicable() if replicate and not coalescing else []
        # column-wise candidates {table: [K, ...]} (none under a row layout, for the same reason)
        self.columnable = self._columnable() if columns and not coalescing else {}
        # with a row layout, a lookup costs the share of a row read the memory serves (coalescing.py)
        self.coalesced = coalesced_read_shares(self, coalescing, stats) if coalescing else None
        self._cost_cache = {}
        self.time = []      # per item: array [reps, slots] seconds per lookup (inf where no such slot)
        self.energy = []
        by_table = {}       # the parts of one table share their costs unless a row layout prices each part
        for i, it in enumerate(self.items):
            if self.coalesced is None and it.table in by_table:
                t, e = by_table[it.table]
            else:
                t, e = self._item_costs(i, it)
                by_table[it.table] = (t, e)
            self.time.append(t)
            self.energy.append(e)
        self._classes = None
        self.col_time, self.col_energy = self._column_costs()

    def _item_costs(self, i, it):
        """Arrays [reps, slots] of the time and energy of one lookup of item ``i``."""
        t = np.zeros((len(it.reps), len(self.slots)))
        e = np.zeros_like(t)
        pooling = self.model.tables[it.table].pooling     # a lookup's bag: its table's mean pooling
        for r, rep in enumerate(it.reps):
            reads = rep.reads_per_lookup if rep.shares_rows else 1.0    # each physical read is a lookup
            for k, s in enumerate(self.slots):
                c = self._lookup(k, rep.row_bytes / reads, rep.dtype, pooling)
                cc = self._compute(s.device, rep.macs_per_lookup)
                served = reads * (1.0 if self.coalesced is None else self.coalesced[(i, r, k)])
                t[r, k] = served * c.time_s + cc.time_s
                e[r, k] = served * c.energy_J + cc.energy_J
                if served < reads and isinstance(self.system, CoalescedReads):
                    # the other lookups found their unit already read: their per-row work only
                    g = self.system.coalesced_lookup_cost(s, rep.row_bytes / reads, rep.dtype, pooling)
                    t[r, k] += (reads - served) * g.time_s
                    e[r, k] += (reads - served) * g.energy_J
        return t, e

        self.col_time, self.col_energy = self._column_costs()

    # ----------------------------------------------------------- estimate
    def _lookup(self, k, row_bytes, dtype="fp32", pooling=None):
        key = ("l", k, row_bytes, dtype, pooling)
        if key not in self._cost_cache:
            c = self.system.lookup_cost(self.slots[k], row_bytes, dtype, pooling)
            if not (c.time_s >= 0 and math.isfinite(c.time_s)):
                raise InputError(f"system '{self.system.name}': slot {self.slots[k].key}: lookup time {c.time_s} "
                                 f"(expected a finite time >= 0)")
            self._cost_cache[key] = c
        return self._cost_cache[key]

    def _compute(self, device, macs):
        if macs == 0:
            return _NO_COST
        key = ("c", device, macs)
        if key not in self._cost_cache:
            self._cost_cache[key] = self.system.compute_cost(device, macs)
        return self._cost_cache[key]

    def _device_capacity(self, d, own=False):
        """Memory a device can call its own: its private slots plus its share of shared pools (``own``:
        its private slots only)."""
        total = 0.0
        for k in self.dev_slots[d]:
            p = self.slots[k].pool_key
            sharers = {self.slots[j].device for j in self.pool_slots[p]}
            if not (own and len(sharers) > 1):
                total += self.pools[p] / len(sharers)
        return total

    def has_shared_pool(self):
        """Whether some memory pool is shared by several devices (host DDR over every GPU's UVM port)."""
        return any(len({self.slots[j].device for j in ks}) > 1 for ks in self.pool_slots.values())

    def _make_items(self, access, allowed, split):
        tables = self.model.tables
        total_acc = sum(a.accesses for a in access) or 1.0
        n_dev = len(self.devices)
        min_cap = min(self._device_capacity(d) for d in self.devices)
        min_own = min(self._device_capacity(d, own=True) for d in self.devices) if self.has_shared_pool() else 0.0
        items = []
        for ti, (t, a) in enumerate(zip(tables, access)):
            reps = candidates(t, allowed, self.distinct[ti], a.coverage, self.max_collision_share)
            parts = 1
            if split and n_dev > 1:
                smallest = min(r.bytes for r in reps if r.kind == "dense") if any(r.kind == "dense" for r in reps) \
                    else min(r.bytes for r in reps)
                by_cap = math.ceil(smallest / (SPLIT_CAPACITY_SHARE * min_cap)) if min_cap > 0 else 1
                by_load = min(n_dev, math.ceil(a.accesses / (SPLIT_LOAD_FACTOR * total_acc / n_dev)))
                by_own = min(n_dev, math.ceil(smallest / (SPLIT_CAPACITY_SHARE * min_own))) if min_own > 0 else 1
                parts = int(max(1, min(t.rows, max(by_cap, by_load, by_own))))
            if t.name in self.row_parts:
                parts = int(self.row_parts[t.name])
                part, shares, why = self._even(t, parts)
            else:
                part, shares, why = self._partition(t, parts, reps, min_cap)
            if parts > 1:
                self.partition_notes[t.name] = why
            part_rows = part.part_rows()
            for p in range(parts):
                # TT cores are shared by all rows: a part of a TT table still needs all of them
                # (a row-sharing table splits by physical row id, like a dense one)
                frac = float(part_rows[p]) / t.rows
                b = [r.bytes if r.kind == "tt" else r.bytes * frac for r in reps]
                items.append(Item(ti, t.name, p, parts, float(part_rows[p]), a.accesses * float(shares[p]),
                                  a.coverage, reps, b, part, float(shares[p])))
        return items

    def _row_counts(self, table, parts):
        """The profile's per-row counts of ``table`` (None: one part, or a profile without them)."""
        if parts <= 1 or getattr(self.stats, "row_counts", None) is None:
            return None
        try:
            return self.stats.row_counts[self.stats.table_index(table.name)]
        except (KeyError, IndexError):
            return None

    def _partition(self, table, parts, reps, min_cap):
        """The table's row-wise partition and each part's predicted share (cost_model/partition.py)."""
        counts = self._row_counts(table, parts)
        per_row = min(r.bytes for r in reps if r.kind == "dense") / table.rows \
            if any(r.kind == "dense" for r in reps) else 0.0
        even = -(-table.rows // parts)
        cap_rows = SPLIT_CAPACITY_SHARE * min_cap / per_row if per_row > 0 else float("inf")
        return choose_partition(table.rows, parts, counts, max_rows=max(even, min(2 * even, cap_rows)))

    def _even(self, table, parts):
        """TorchRec's even row blocks, each part's share from the per-row counts (1/P without them)."""
        part = even_range(table.rows, parts)
        counts = self._row_counts(table, parts)
        shares = predicted_shares(part, *(counts if counts is not None else (None, None)))
        return part, shares, "even range (given)"

    def _replicable(self):
        """Tables the MIP may replicate data parallel: whole (one item), dense in their first candidate, and
        small: at most REPLICA_MAX_SHARE of the smallest fastest tier (a copy on every device)."""
        if len(self.devices) < 2:
            return []
        fast = min(self.slots[self.dev_slots[d][0]].capacity_B for d in self.devices)
        out = []
        for ti in range(len(self.model.tables)):
            mine = [i for i, it in enumerate(self.items) if it.table == ti]
            it = self.items[mine[0]]
            if len(mine) == 1 and it.reps[0].kind == "dense" and it.bytes[0] <= REPLICA_MAX_SHARE * fast:
                out.append(ti)
        return out

    def _columnable(self):
        """Tables the MIP may cut column-wise: whole (one item), dense in their first candidate, dim divisible
        by K, K <= devices; {table: [K, ...]} (a K-way cut puts dim/K columns on each of K devices)."""
        out = {}
        for ti, t in enumerate(self.model.tables):
            mine = [it for it in self.items if it.table == ti]
            if len(mine) != 1 or mine[0].reps[0].kind != "dense":
                continue
            ks = [K for K in COLUMN_SPLITS if K <= len(self.devices) and t.dim % K == 0]
            if ks:
                out[ti] = ks
        return out

    def _column_costs(self):
        """Per (table, K): arrays over slots of the time and energy of one lookup of a dim/K column shard
        (the table's first candidate, rows of row_bytes / K)."""
        times, energies = {}, {}
        for ti, ks in self.columnable.items():
            i = self.column_item(ti)
            rep, pooling = self.items[i].reps[0], self.model.tables[ti].pooling
            for K in ks:
                t, e = np.zeros(len(self.slots)), np.zeros(len(self.slots))
                for k, s in enumerate(self.slots):
                    c = self._lookup(k, rep.row_bytes / K, rep.dtype, pooling)
                    cc = self._compute(s.device, rep.macs_per_lookup / K)
                    t[k], e[k] = c.time_s + cc.time_s, c.energy_J + cc.energy_J
                times[ti, K], energies[ti, K] = t, e
        return times, energies

    def column_item(self, ti):
        """The index of table ``ti``'s one item (a column-wise table is whole)."""
        return next(j for j, it in enumerate(self.items) if it.table == ti)

    # ---------------------------------------------------------- helpers
    @property
    def total_accesses(self):
        return sum(it.accesses for it in self.items)

    def describe_capacity(self):
        return sum(self.pools.values())


def _distinct_rows(model, stats):
    """Distinct features accessed per table: the trace's (``stats.unique_rows``), else every row."""
    unique = getattr(stats, "unique_rows", None) if stats is not None else None
    if unique is None or len(unique) != len(model.tables) or getattr(stats, "analytic", False):
        return [float(t.rows) for t in model.tables]
    return [float(u) for u in unique]
