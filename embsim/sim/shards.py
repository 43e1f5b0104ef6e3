"""The plan's shards as the simulator uses them, and the caches a system file declares."""
from dataclasses import dataclass
from typing import Optional


@dataclass
class ShardInfo:
    """One shard of the plan as the simulator uses it."""

    table: int
    table_name: str
    device: str
    tier: str
    lo: int                 # hot-rank range [lo, hi) in rows
    hi: int
    row_bytes: float
    macs_per_lookup: float
    strategy: Optional[str] = None
    core: Optional[int] = None
    part: int = 0           # row-wise part: rows with id % parts == part; lo/hi are ranks within it
    parts: int = 1
    location: int = -1
    partition: object = None    # cost_model.partition.RowPartition of the table (hash or range by id)
    dtype: str = "fp32"         # the representation's storage dtype (a CPU widens it per value)
    pooling: Optional[float] = None   # the table's mean lookups per bag (a CPU's per-bag work)

    @property
    def rows(self):
        return self.hi - self.lo


def granularity_B(system, device, tier):
    """Access granularity of a tier: the one its slot declares (from its tier part; no guessing)."""
    return int(system.slot(device, tier).granularity_B)


def granularities_B(system) -> dict:
    """{(device, tier): access granularity} of every slot, built once (``System.slot`` walks the
    family's slots, which the family builds anew on every call)."""
    return {(s.device, s.tier): int(s.granularity_B) for s in system.slots()}


def caches_from_system(system, policy="lru"):
    """The caches a system file declares (``System.cache_levels()``: an LLC, an HBM software
    cache), as the ``caches`` argument of ``simulate``: each replayed with ``policy`` in front of
    the tier it caches, at that tier's access granularity."""
    out = {}
    for c in system.cache_levels():
        key = f"{c['device']}.{c['above_tier']}"
        out.setdefault(key, []).append({"name": c["level"], "policy": policy, "capacity_B": c["capacity_B"],
                                        "granularity_B": granularity_B(system, c["device"], c["above_tier"])})
    return out
