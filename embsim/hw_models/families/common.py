"""Helpers shared by the families: row-gather groups, CPU row gathers, the all-to-all.

``shard_rows`` reads one device's load as a list of row-gather groups, each of
one row size on one tier, with the hits its cache levels served.  Families
cost each group with their own ``lookup_cost`` / ``cache_hit_cost``, so the
simulator's embedding time is exactly the sum the cost model predicts.
"""
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class RowGroup:
    """``lookups`` row reads of ``row_bytes`` that reached ``tier``; ``hits`` level -> reads served by a cache above it.

    ``reads``: the rows the tier's memory actually serves when the simulator
    coalesces (units read / units per row, at most ``lookups``); the other
    lookups found their unit already read in the batch.  Default ``lookups``.
    ``dtype`` and ``pooling``: the rows' storage dtype and their table's mean
    bag size (None: a long bag), which a CPU's gather loop pays for.
    """

    tier: str
    row_bytes: float
    lookups: float
    hits: dict = field(default_factory=dict)
    reads: Optional[float] = None
    dtype: str = "fp32"
    pooling: Optional[float] = None

    def __post_init__(self):
        self.reads = self.lookups if self.reads is None else min(float(self.reads), self.lookups)


def shard_rows(system, device, load):
    """RowGroups of one DeviceLoad.

    Conventions (documented for the engine and the cost model):

    * ``load.table_work`` (preferred): one dict per table shard with at least
      ``tier``, ``row_bytes`` and ``lookups`` (row reads that reached the tier,
      after any cache), optionally ``cache_hits`` {level: hits}, ``reads``,
      ``dtype`` and ``pooling`` (the simulator gives them; default fp32, a long bag).
    * Without ``table_work``: ``load.lookups[tier]`` reads with a mean row size
      of ``load.bytes[tier] / load.lookups[tier]`` (the bytes the lookups asked
      for); exact when a tier holds one row size.
    * Device-level ``load.cache_hits[level]`` not given per shard are spread
      over the groups in proportion to their lookups.
    """
    tiers = {s.tier for s in system.slots() if s.device == device}
    groups = []
    if load.table_work:
        for w in load.table_work:
            tier = w.get("tier")
            if tier not in tiers:
                raise ValueError(f"{system.name}: {device}: table_work names tier {tier!r}; "
                                 f"this device has {sorted(tiers)}")
            if "row_bytes" not in w or "lookups" not in w:
                raise ValueError(f"{system.name}: {device}: table_work entry {w!r} needs row_bytes and lookups")
            groups.append(RowGroup(tier, float(w["row_bytes"]), float(w["lookups"]),
                                   dict(w.get("cache_hits") or {}), w.get("reads"), w.get("dtype", "fp32"),
                                   w.get("pooling")))
    else:
        for tier, n in load.lookups.items():
            if tier not in tiers:
                raise ValueError(f"{system.name}: {device}: load names tier {tier!r}; this device has {sorted(tiers)}")
            if n <= 0:
                continue
            if tier not in load.bytes:
                raise ValueError(f"{system.name}: {device}.{tier}: lookups without bytes; give table_work "
                                 f"or bytes[tier] so the row size is known")
            groups.append(RowGroup(tier, load.bytes[tier] / n, float(n)))
    # Device-level hits not already given per shard: spread pro rata over lookups.
    for level, hits in (load.cache_hits or {}).items():
        given = sum(g.hits.get(level, 0.0) for g in groups)
        rest = hits - given
        if rest <= 0:
            continue
        total = sum(g.lookups for g in groups)
        if total <= 0:
            raise ValueError(f"{system.name}: {device}: {hits} cache hits at {level!r} but no lookups give their row size")
        for g in groups:
            g.hits[level] = g.hits.get(level, 0.0) + rest * g.lookups / total
    return groups


def cpu_core_only(cpu, row_bytes, lookups=1.0, dtype="fp32", pooling=None):
    """(time_s, actions) of ``lookups`` lookups whose lines a read of the same batch already brought
    (coalescing): the cores' own work (index, address, conversion, adds) only, no memory time."""
    core_s = cpu.core_time_s(row_bytes, dtype, pooling)
    return lookups * core_s / cpu.count, {(cpu.name, "busy_s"): lookups * core_s}


def cpu_row_gather(cpu, memory, row_bytes, lookups=1.0, dtype="fp32", pooling=None):
    """(time_s, actions) of ``lookups`` row gathers of ``dtype`` rows in bags of ``pooling`` from ``memory``
    by all cores of ``cpu`` (see parts/cpu.py).

    Actions: the memory's bytes read (whole lines) and the cores' busy
    core-seconds (index, address, conversion, adds into the bag), keyed by part name.
    """
    t = cpu.gather_time_s(row_bytes, memory, lookups, dtype=dtype, pooling=pooling)
    return t, {(memory.name, "read_B"): lookups * memory.access_B(row_bytes),
               (cpu.name, "busy_s"): lookups * cpu.core_time_s(row_bytes, dtype, pooling)}


def all_to_all(pooled_B, devices):
    """Data-parallel dense: device i keeps 1/N of its pooled vectors and sends the rest evenly.

    Returns {device: (sent_B, received_B)}; every byte sent is received once.
    """
    n = len(devices)
    if n < 2:
        return {d: (0.0, 0.0) for d in devices}
    sent = {d: pooled_B.get(d, 0.0) * (n - 1) / n for d in devices}
    total = sum(sent.values())
    return {d: (sent[d], (total - sent[d]) / (n - 1)) for d in devices}
