"""The System: a machine model the rest of embsim talks to.

A system is one of four *families* (cpu_dram, multi_gpu, ascend_soc,
screc_csd), picked by name in YAML (``family: screc_csd``) through a registry,
as Ramulator 2 picks its components.  A family is a subclass of ``System``
with its own parameter schema; presets in ``hw_models/presets/`` give every
number with its source.

Two narrow interfaces face the later stages:

- the cost model sees hardware only through ``slots()`` (the places a table
  shard can live) and the per-lookup costs ``lookup_cost(slot, row_bytes)``
  and ``compute_cost(device, macs)``, which are linear in the work;
- the simulator hands ``batch_cost(BatchLoad)`` the counters of one batch
  (from the replay) and gets back the service time of every (stage,
  resource) pair plus the action counts that energy is charged on.

Units are SI throughout (see embsim.units).
"""
from dataclasses import dataclass, field
from typing import Optional

import networkx as nx

from ..errors import InputError

# "attention": the sequence layers of a generative (HSTU) model, after the embeddings arrive; a DLRM has none
STAGES = ("host", "embedding", "transfer", "attention", "dense", "response")


@dataclass(frozen=True)
class Slot:
    """A place a table shard can live: one memory tier of one device.

    ``rank`` orders the tiers of a device, 0 fastest.  Slots that share one
    physical memory (host DDR reached by every GPU) name the same ``pool``;
    the capacity constraint is on the pool.
    """

    device: str
    tier: str
    capacity_B: float
    rank: int
    pool: Optional[str] = None

    @property
    def key(self):
        return f"{self.device}.{self.tier}"

    @property
    def pool_key(self):
        return self.pool or self.key


@dataclass(frozen=True)
class Cost:
    """Time and energy of some work on one device (per-lookup costs are amortised)."""

    time_s: float
    energy_J: float


@dataclass
class DeviceLoad:
    """What one device does for one batch, from the replay counters.

    Keys of the per-tier dicts are tier names of ``System.slots()``; cache
    levels (an HBM software cache, an LLC) are keyed by the cache's name.
    """

    lookups: dict = field(default_factory=dict)        # tier -> row reads that reached it
    unique_rows: dict = field(default_factory=dict)    # tier -> distinct rows read in the batch
    bytes: dict = field(default_factory=dict)          # tier -> bytes moved at the tier's granularity
    cache_hits: dict = field(default_factory=dict)     # cache level -> hits
    cache_lookups: dict = field(default_factory=dict)  # cache level -> lookups
    table_work: list = field(default_factory=list)     # per table shard: dict(table, tier, strategy, rows,
                                                       #   row_bytes, lookups, unique_rows); Ascend strategies
                                                       #   cost by table size, not only by lookups
    tt_macs: float = 0.0                               # tensor-train reconstruction work
    pooled_bytes_out: float = 0.0                      # pooled vectors sent to the dense stage


@dataclass
class BatchLoad:
    """All the work of one batch."""

    batch_size: int
    devices: dict                 # device name -> DeviceLoad
    dense_macs: float             # dense MLP + interaction, whole batch
    attention_flops: float = 0.0  # sequence (HSTU) layers, whole batch (workloads.sequence)


@dataclass
class StageWork:
    """``time_s`` of service on ``resource`` during ``stage`` of one batch."""

    stage: str
    resource: str
    time_s: float


@dataclass
class BatchCost:
    """Service times and action counts of one batch, as the family models them."""

    work: list                                     # StageWork, several per stage run in parallel
    actions: dict = field(default_factory=dict)    # (part, action) -> count
    bytes: dict = field(default_factory=dict)      # "part.tier" or link name -> bytes moved


# ----------------------------------------------------------- registry ---
FAMILIES: dict[str, type] = {}


def register_family(name):
    """Class decorator: make a System subclass loadable as ``family: name``."""
    def deco(cls):
        cls.family = name
        FAMILIES[name] = cls
        return cls
    return deco


class System:
    """Base of the four families.  Subclasses set ``Schema`` and implement the methods below."""

    family: Optional[str] = None
    Schema: Optional[type] = None

    def __init__(self, name, params, source_file=None):
        self.name = name
        self.params = params            # validated family schema
        self.source_file = source_file
        self.graph = self.build_graph()

    # -- to implement in every family -----------------------------------
    def build_graph(self) -> nx.DiGraph:
        """Parts as nodes (kind, parameters), links and containment as edges."""
        raise NotImplementedError

    @property
    def devices(self):
        """Names of the devices that hold shards and look rows up in parallel."""
        raise NotImplementedError

    def slots(self):
        """list[Slot]: every (device, tier) a shard may be placed in."""
        raise NotImplementedError

    def lookup_cost(self, slot, row_bytes):
        """Cost of one row gather from ``slot``, amortised at the device's full concurrency."""
        raise NotImplementedError

    def compute_cost(self, device, macs):
        """Cost of ``macs`` multiply-adds on ``device``'s compute units (TT reconstruction)."""
        raise NotImplementedError

    def batch_cost(self, load):
        """BatchCost of one BatchLoad."""
        raise NotImplementedError

    def resources(self):
        """dict resource name -> number of servers (simpy Resource capacity)."""
        raise NotImplementedError

    def peak_bandwidth_Bps(self):
        """dict "part.tier" or link name -> peak bandwidth; no reported figure may exceed it."""
        raise NotImplementedError

    def energy_per_action_J(self):
        """dict (part, action) -> joules per action; every action batch_cost counts is here."""
        raise NotImplementedError

    def static_power_W(self):
        """dict part -> static power."""
        raise NotImplementedError

    def describe(self):
        """Rows (part, parameter, value, unit kind, source) for 'embsim hw show'."""
        raise NotImplementedError

    # -- optional: families that run the attention of sequence models --------
    def attention_work(self, load):
        """(list[StageWork], actions) of the batch's ``attention_flops`` on the family's compute part.

        A narrow hook beside ``batch_cost`` (which leaves attention out): the
        simulator adds its items to the batch's cost.  Families that model no
        attention say so.
        """
        if load.attention_flops:
            raise InputError(f"system '{self.name}': family {self.family} does not model the attention of "
                             f"sequence models (multi_gpu and ascend_soc do)")
        return [], {}

    # -- optional: families with hardware- or software-managed caches ------
    def cache_levels(self):
        """list of dict(device, level, capacity_B, above_tier): caches the replay simulates (none by default)."""
        return []

    def coalesced_lookup_cost(self, slot, row_bytes):
        """Cost of a lookup whose unit (line, sector, page) a read of the same batch already brought:
        the per-row work left (gathering, pooling).  None by default (a family whose lookup is all memory)."""
        return Cost(0.0, 0.0)

    def cache_hit_cost(self, device, level, row_bytes):
        """Cost of one row read served by cache ``level`` of ``device`` (families with caches override)."""
        raise ValueError(f"system '{self.name}': no cache {device}.{level}")

    # -- shared ----------------------------------------------------------
    def _check_devices(self, names):
        """ValueError (a bug in the caller, not user input) if any of ``names`` is not a device."""
        unknown = sorted(set(names) - set(self.devices))
        if unknown:
            raise ValueError(f"{self.name}: no device {unknown[0]!r}: unknown devices {unknown} "
                             f"(devices: {', '.join(self.devices)})")

    def slot(self, device, tier):
        for s in self.slots():
            if s.device == device and s.tier == tier:
                return s
        raise InputError(f"system '{self.name}': no slot {device}.{tier} (slots: {', '.join(s.key for s in self.slots())})")

    def energy_J(self, actions, elapsed_s):
        """Energy by part and action: counts x energy per action, plus static power x time.

        Returns {"dynamic": {(part, action): J}, "static": {part: J}, "total_J": J}.
        A counted action without an energy figure is an error, never zero.
        """
        table = self.energy_per_action_J()
        dynamic = {}
        for key, count in actions.items():
            if key not in table:
                raise KeyError(f"system '{self.name}': no energy figure for action {key}")
            dynamic[key] = count * table[key]
        static = {part: w * elapsed_s for part, w in self.static_power_W().items()}
        return {"dynamic": dynamic, "static": static,
                "total_J": sum(dynamic.values()) + sum(static.values())}

    def check_fits(self, placed_B, tables=None):
        """Raise InputError unless the bytes placed in each slot (and pool) fit its capacity.

        ``placed_B`` maps ``(device, tier)`` or ``"device.tier"`` to bytes;
        ``tables`` optionally maps the same keys to the table names placed
        there, for the message.  Slots sharing a pool are checked together.
        """
        slots = {s.key: s for s in self.slots()}
        per_pool, names, cap = {}, {}, {}
        for key, b in placed_B.items():
            k = key if isinstance(key, str) else f"{key[0]}.{key[1]}"
            if k not in slots:
                raise InputError(f"system '{self.name}': no slot {k} (slots: {', '.join(slots)})")
            pool = slots[k].pool_key
            per_pool[pool] = per_pool.get(pool, 0.0) + b
            cap[pool] = slots[k].capacity_B
            names.setdefault(pool, []).extend((tables or {}).get(key, []))
        for pool, b in per_pool.items():
            if b > cap[pool]:
                which = f" (tables: {', '.join(map(str, names[pool]))})" if names[pool] else ""
                raise InputError(f"system '{self.name}': {pool} holds {cap[pool] / 1e9:.4g} GB, but the placement "
                                 f"puts {b / 1e9:.4g} GB there{which}")
