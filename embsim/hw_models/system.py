"""The System: a machine model the rest of embsim talks to.

A system is a *family* (cpu_dram, multi_gpu, ascend_soc, screc_csd,
cpu_nvme), picked by name in YAML (``family: screc_csd``) through a registry,
as Ramulator 2 picks its components.  A family composes *parts*
(``hw_models/parts/``: memory tiers, links, compute units, caches, a host
front end), each loaded from a part preset or written out in the system file,
and says how they meet: which slots exist, what a lookup and a batch cost.

The later stages see a system only through the protocols of
``hw_models/protocols.py``:

- ``Placement`` (the cost model): ``slots()`` (the places a table shard can
  live, each with its tier's access granularity) and the per-lookup costs
  ``lookup_cost(slot, row_bytes, dtype, pooling)`` and ``compute_cost(device, macs)``, which
  are linear in the work;
- ``BatchService`` (the simulator): ``resources()`` and ``batch_cost(BatchLoad)``,
  the service time of every (stage, resource) pair of one batch plus the
  action counts that energy is charged on.

``System`` itself holds what every family shares and nothing a family must
override: the parts, energy accounting (dynamic per action, static once per
part over the elapsed time), the graph of parts, descriptions and checks.

Units are SI throughout (see embsim.units).
"""
from dataclasses import dataclass, field
import re
from typing import TYPE_CHECKING, Optional

import networkx as nx

from ..errors import InputError
from pydantic import BaseModel

from ..config import Sourced
from .params import field_kind
from .parts import Part
from .parts.base import PartParams

# "attention": the sequence layers of a generative (HSTU) model, after the embeddings arrive; a DLRM has none
STAGES = ("host", "embedding", "transfer", "attention", "dense", "response")


@dataclass(frozen=True)
class Slot:
    """A place a table shard can live: one memory tier of one device.

    ``rank`` orders the tiers of a device, 0 fastest.  Slots that share one
    physical memory (host DDR reached by every GPU) name the same ``pool``;
    the capacity constraint is on the pool.  ``granularity_B`` is the access
    unit of the tier part behind the slot (64 B line, 32 B sector, 4 KiB flash
    read): the replay counts bytes in whole units of it.  It has no default.
    """

    device: str
    tier: str
    capacity_B: float
    rank: int
    pool: Optional[str] = None
    granularity_B: int = 0

    def __post_init__(self):
        if not (isinstance(self.granularity_B, (int, float)) and self.granularity_B >= 1):
            raise ValueError(f"slot {self.device}.{self.tier}: granularity_B must be a whole number of bytes >= 1, "
                             f"got {self.granularity_B!r} (give the tier part's granularity)")

    @property
    def key(self):
        return f"{self.device}.{self.tier}"

    @property
    def pool_key(self):
        return self.pool or self.key


@dataclass(frozen=True)
class Cost:
    """Time and dynamic energy of some work on one device (per-lookup costs are amortised).

    ``energy_J`` is dynamic energy only, in every family: static power is
    charged once per part over elapsed time (``System.energy_J``), never
    inside the cost of a piece of work.
    """

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
    local_bytes_out: float = 0.0                       # pooled vectors of a data-parallel copy's own samples,
                                                       #   written in place and never sent


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


def register_family(name: str):
    """Class decorator: make a System subclass loadable as ``family: name``."""
    def deco(cls):
        cls.family = name
        FAMILIES[name] = cls
        return cls
    return deco


class System:
    """What every family shares: its parts, energy accounting, the graph, checks.

    A family sets ``Schema`` (its file's pydantic schema) and builds its
    parts in ``__init__`` (``self.parts``: name -> Part, one entry per
    physical instance, e.g. ``socket0.dram``), then offers the methods of
    the ``Placement`` and ``BatchService`` protocols (the loader checks).
    """

    family: str = ""
    Schema: Optional[type] = None

    if TYPE_CHECKING:        # what every family provides (the Placement protocol); no run-time stand-ins
        @property
        def devices(self) -> list: ...

        def slots(self) -> list: ...

    def __init__(self, name: str, params, source_file: Optional[str] = None):
        self.name = name
        self.params = params            # validated family schema
        self.source_file = source_file
        self.parts: dict = {}
        self._energy_table: Optional[dict] = None    # energy_per_action_J, made once (parts are fixed after init)

    # -- parts ---------------------------------------------------------------
    def add_part(self, part: Part) -> Part:
        if part.name in self.parts:
            raise ValueError(f"{self.name}: two parts named {part.name!r}")
        self.parts[part.name] = part
        self._energy_table = None
        return part

    def attention_work(self, load) -> tuple:
        """(list[StageWork], actions) of the batch's ``attention_flops`` on the family's compute part.

        A narrow hook beside ``batch_cost`` (which leaves attention out): the
        simulator adds its items to the batch's cost.  Families that model no
        attention say so.
        """
        if load.attention_flops:
            raise InputError(f"system '{self.name}': family {self.family} does not model the attention of "
                             f"sequence models (multi_gpu and ascend_soc do)")
        return [], {}

    def cache_levels(self) -> list:
        """dict(device, level, capacity_B, above_tier, policy): caches the replay simulates (none unless a family has some)."""
        return []

    def coalesced_lookup_cost(self, slot: Slot, row_bytes: float, dtype: str = "fp32",
                              pooling: Optional[float] = None) -> Cost:
        """Cost of a lookup whose unit (line, sector, page) a read of the same batch already brought:
        the per-row work left (gathering, pooling).  Nothing by default (a family whose lookup is all memory)."""
        return Cost(0.0, 0.0)

    # -- energy --------------------------------------------------------------
    def energy_per_action_J(self) -> dict:
        """(part, action) -> joules per action, from every part (the only energy table)."""
        return dict(self._energy())

    def _energy(self) -> dict:
        """The energy table, made on first use: the planner prices ~1e5 lookups per 64-GPU instance, and
        remaking it from every part per lookup was most of a 4-minute Instance build."""
        table = getattr(self, "_energy_table", None)
        if table is None:
            table = self._energy_table = {(name, a): j for name, part in self.parts.items()
                                          for a, j in part.energy_per_action_J().items()}
        return table

    def static_power_W(self) -> dict:
        """part -> static power, every part once."""
        return {name: part.static_power_W for name, part in self.parts.items()}

    def dynamic_J(self, actions: dict) -> float:
        """Joules of ``actions`` ((part, action) -> count); an action without an energy figure is a bug."""
        table = self._energy()
        total = 0.0
        for key, count in actions.items():
            if key not in table:
                raise KeyError(f"system '{self.name}': no energy figure for action {key}")
            total += count * table[key]
        return total

    def energy_J(self, actions: dict, elapsed_s: float) -> dict:
        """Energy by part and action: counts x energy per action, plus static power x time, once per part.

        Returns {"dynamic": {(part, action): J}, "static": {part: J}, "by_part": {part: {static_J,
        dynamic_J, preset}}, "dynamic_J", "static_J", "total_J"}.
        """
        table = self.energy_per_action_J()
        dynamic = {}
        for key, count in actions.items():
            if key not in table:
                raise KeyError(f"system '{self.name}': no energy figure for action {key}")
            dynamic[key] = count * table[key]
        static = {part: w * elapsed_s for part, w in self.static_power_W().items()}
        by_part = {name: {"static_J": static[name], "dynamic_J": 0.0, "preset": p.preset,
                          "static_power_source": p.p.static_power.source}
                   for name, p in self.parts.items()}
        for (part, _), j in dynamic.items():
            by_part[part]["dynamic_J"] += j
        d, s = sum(dynamic.values()), sum(static.values())
        return {"dynamic": dynamic, "static": static, "by_part": by_part,
                "dynamic_J": d, "static_J": s, "total_J": d + s}

    # -- description -----------------------------------------------------------
    def describe(self) -> list:
        """Rows (part, parameter, value, unit kind, source) for 'embsim hw show': every part, then settings."""
        rows = [(name, r["parameter"], r["value"], r["unit_kind"], r["source"])
                for name, part in self._distinct_parts().items() for r in part.parameters()]
        return rows + _own_numbers(self.params.params) + list(self.settings())

    def settings(self) -> list:
        """Rows of the family's flags and choices (not numbers, not of a part); none by default."""
        return []

    def _distinct_parts(self) -> dict:
        """One part per distinct parameter set, named by its instances ('socketN.dram' for both sockets)."""
        seen, out = set(), {}
        for name, part in self.parts.items():
            key = (type(part), id(part.p))
            if key not in seen:
                seen.add(key)
                out[re.sub(r"(?<=[a-z])\d+(?=\.|$)", "N", name)] = part
        return out

    def parts_summary(self) -> list:
        """Every distinct part as 'hw show --json' lists it: name (``socketN.dram`` for all sockets'),
        kind, preset, parameters with sources, and the instances it stands for."""
        out = []
        for name, part in self._distinct_parts().items():
            d = part.summary()
            d["name"] = name
            d["instances"] = [n for n, q in self.parts.items() if q.p is part.p and type(q) is type(part)]
            out.append(d)
        return out

    def derived_figures(self) -> list:
        """Rows (part, figure, value, unit kind, formula) that follow from the parameters; none by default."""
        return []

    @property
    def graph(self) -> nx.DiGraph:
        """Devices and parts as nodes (kind, numbers); a device contains the parts named after it."""
        g = nx.DiGraph()
        for d in self.devices:
            g.add_node(d, kind="device")
        for name, part in self.parts.items():
            g.add_node(name, kind=part.kind, preset=part.preset or "",
                       **{r["parameter"]: r["value"] for r in part.parameters()})
            owner = name.split(".")[0]
            if owner in self.devices and owner != name:
                g.add_edge(owner, name, kind="contains")
        for a, b in self.connections():
            g.add_edge(a, b, kind="link")
        return g

    def connections(self) -> list:
        """(node, node) pairs joined by a link, for the graph; none by default."""
        return []

    # -- checks ------------------------------------------------------------------
    def _check_devices(self, names) -> None:
        """ValueError (a bug in the caller, not user input) if any of ``names`` is not a device."""
        unknown = sorted(set(names) - set(self.devices))
        if unknown:
            raise ValueError(f"{self.name}: no device {unknown[0]!r}: unknown devices {unknown} "
                             f"(devices: {', '.join(self.devices)})")

    def slot(self, device: str, tier: str) -> Slot:
        for s in self.slots():
            if s.device == device and s.tier == tier:
                return s
        raise InputError(f"system '{self.name}': no slot {device}.{tier} (slots: {', '.join(s.key for s in self.slots())})")

    def check_fits(self, placed_B: dict, tables: Optional[dict] = None) -> None:
        """Raise InputError unless the bytes placed in each slot (and pool) fit its capacity.

        ``placed_B`` maps ``(device, tier)`` or ``"device.tier"`` to bytes;
        ``tables`` optionally maps the same keys to the table names placed
        there, for the message.  Slots sharing a pool are checked together.
        """
        slots = {s.key: s for s in self.slots()}
        per_pool: dict = {}
        names: dict = {}
        cap: dict = {}
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


def _own_numbers(params, prefix: str = "") -> list:
    """describe rows of the sourced numbers of a family schema that are not inside a part."""
    rows = []
    for name in type(params).model_fields:
        v = getattr(params, name)
        if isinstance(v, Sourced):
            rows.append((prefix or "system", name, v.value, field_kind(type(params), name) or "count", v.source))
        elif isinstance(v, BaseModel) and not isinstance(v, PartParams):
            rows += _own_numbers(v, f"{prefix}.{name}" if prefix else name)
    return rows


def add(d: dict, key, value: float) -> None:
    """d[key] += value, skipping zeros (action and byte counters of a batch)."""
    if value:
        d[key] = d.get(key, 0.0) + value
