"""ShardingPlan: where each table lives, in which representation, and what that costs.

Rows of a table are ordered by *hot rank* (most accessed first).  A shard
holds the rows whose hot rank, as a fraction of the table's rows, lies in
``[rank_lo, rank_hi)``, on one (device, tier) slot, and serves
``access_share`` of the table's lookups.  A table sharded row-wise over
devices has ``parts`` > 1: part ``p`` holds the rows whose id is ``p`` mod
``parts`` (``partition: hash``) or the ids in ``[row_bounds[p], row_bounds[p+1])``
(``partition: range``), and carries ``part_shares[p]`` of the table's lookups
(predicted from the profile's per-row counts, ``cost_model/partition.py``);
its shards' hot ranks are ranks within the part.  A data-parallel table
(``partition: replicated``) has one whole copy per device (part ``c`` on
device ``c``), each serving its device's 1/parts of every batch's samples.
A column-wise table (``partition: column``) has one shard per column range
(part ``c`` holds columns ``[columns[c], columns[c+1])`` of every row, a
rank range [0, 1)), each reading every lookup of the table.  So "the hottest 1% of rows of t3 in
SRAM of csd0" is ``Shard("csd0", "sram", 0.0, 0.01, 0.31)``.  For an SoC a
shard also names the core and the single-core lookup strategy.

JSON keeps units in keys (``makespan_s``, ``bytes``).
"""
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Optional

from ..errors import InputError
from ..fileio import read_json_object, write_text


@dataclass
class Representation:
    """How a table is stored: dense in a dtype, tensor-train with ranks, or rows shared by hashing
    (hash, qr, cafe, memrec: see ``cost_model.compressed``)."""

    kind: str = "dense"              # dense | tt | hash | qr | cafe | memrec
    dtype: str = "fp32"              # dense dtype (fp32, fp16, int8, int4); TT cores' dtype
    tt_ranks: Optional[list] = None  # [1, r1, r2, 1] for kind == "tt"
    tt_row_factors: Optional[list] = None
    tt_dim_factors: Optional[list] = None
    bytes: float = 0.0               # whole table in this representation
    row_bytes: float = 0.0           # bytes read per lookup
    macs_per_lookup: float = 0.0     # reconstruction work per lookup (TT)
    memory_saving: float = 0.0       # 1 - bytes / bytes of the table in its own dtype
    ratio: Optional[float] = None    # row-sharing kinds: the compression ratio asked for
    physical_rows: Optional[list] = None   # row-sharing kinds: rows of each physical table
    reads_per_lookup: float = 1.0    # physical rows a lookup reads (mean); row_bytes covers all of them
    collision_share: float = 0.0     # predicted share of lookups indistinguishable from another feature
    rel_error_bound: float = 0.0     # per-element bound the format implies (int8/int4: of the row's range)
    params: Optional[dict] = None    # kind-specific structure (CAFE levels and hot rows, Mem-Rec k, QR sizes)

    @property
    def label(self):
        if self.kind == "tt":
            return f"tt(r={self.tt_ranks[1]})"
        if self.kind in ("hash", "qr", "cafe", "memrec"):
            extra = (self.params or {}).get("levels" if self.kind == "cafe" else "k")
            show = (self.kind == "cafe" and extra and extra > 1) or self.kind == "memrec"
            return f"{self.kind}:{self.ratio:g}" + (f":{extra}" if show else "")
        return self.dtype

    @property
    def shares_rows(self):
        """True for the kinds whose lookups read hashed or combined physical rows (the replay sees them)."""
        return self.kind in ("hash", "qr", "cafe", "memrec")


@dataclass
class Shard:
    device: str
    tier: str
    rank_lo: float
    rank_hi: float
    access_share: float
    core: Optional[int] = None
    strategy: Optional[str] = None
    part: int = 0                    # row-wise part: rows with id % parts == part (hot ranks within the part)
    parts: int = 1


@dataclass
class TablePlan:
    table: str
    representation: Representation
    shards: list
    partition: str = "hash"                # hash (id mod parts) | range (row_bounds) | replicated | column
    sharding: str = ""                     # table_wise | row_wise | data_parallel | column_wise
    row_bounds: Optional[list] = None      # range: parts + 1 ascending row ids, 0 ... rows
    part_shares: Optional[list] = None     # predicted share of the table's lookups per part
    columns: Optional[list] = None         # column: parts + 1 ascending column ids 0 ... dim (shard c: [c, c+1))


@dataclass
class ShardingPlan:
    model: str
    system: str
    tables: list
    device_time_s: dict = field(default_factory=dict)
    makespan_s: float = 0.0
    best_bound_s: Optional[float] = None
    gap: Optional[float] = None
    objective: Optional[float] = None
    solver: str = ""
    solve_time_s: float = 0.0
    status: str = ""
    baselines: dict = field(default_factory=dict)    # name -> {"makespan_s": ...}
    notes: list = field(default_factory=list)
    batch_size: int = 1                                # times are per batch of this many samples
    method: str = ""                                   # full | decomposed | core_mapping | baseline
    planner: str = ""                                  # sharding_mip | core_mapping (plan_for); "" otherwise
    energy_J: Optional[float] = None                   # predicted lookup energy per batch
    pool_used_B: dict = field(default_factory=dict)    # memory pool ("device.tier" or shared pool) -> bytes
    pool_capacity_B: dict = field(default_factory=dict)
    comm_time_s: dict = field(default_factory=dict)    # device -> all-to-all of pooled vectors per batch
    comm_makespan_s: Optional[float] = None            # slowest device's all-to-all (None: not modelled)
    bound_rule: str = ""                               # the problem the best bound holds for

    def table(self, name):
        for t in self.tables:
            if t.table == name:
                return t
        raise KeyError(name)

    def to_dict(self):
        return asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def save(self, path, force=False):
        write_text(path, self.to_json() + "\n", force=force)

    @classmethod
    def from_dict(cls, d, source="plan"):
        _check_types(d, f"{source}: not a valid sharding plan;")
        try:
            tables = [TablePlan(table=t["table"], representation=Representation(**t["representation"]),
                                shards=[Shard(**s) for s in t["shards"]],
                                **{k: t[k] for k in ("partition", "row_bounds", "part_shares", "sharding", "columns") if k in t})
                      for t in d["tables"]]
            rest = {k: v for k, v in d.items() if k != "tables"}
            return cls(tables=tables, **rest)
        except (KeyError, TypeError) as e:
            raise InputError(f"{source}: not a valid sharding plan ({e.__class__.__name__}: {e})") from None


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


_SHARD_FIELDS = {"rank_lo": "a number in [0, 1]", "rank_hi": "a number in [0, 1]", "access_share": "a number in [0, 1]"}


def _check_types(d, source):
    """The types a plan's fields must have, so that a wrong one is named instead of breaking a check later."""
    tables = d.get("tables")
    if not isinstance(tables, list):
        raise InputError(f"{source}: tables: expected a list of tables, got {type(tables).__name__}")
    for i, t in enumerate(tables):
        where = f"{source}: tables[{i}]"
        if not isinstance(t, dict) or not isinstance(t.get("table"), str) or not isinstance(t.get("shards"), list):
            raise InputError(f"{where}: expected an object with 'table' (a name), 'representation' and 'shards' (a list)")
        rep = t.get("representation")
        if not isinstance(rep, dict):
            raise InputError(f"{where}.representation: expected an object")
        for k in ("bytes", "row_bytes", "macs_per_lookup", "memory_saving"):
            if k in rep and not _is_number(rep[k]):
                raise InputError(f"{where}.representation.{k}: {rep[k]!r}; expected a finite number")
        ranks = rep.get("tt_ranks")
        if rep.get("kind", "dense") not in ("dense", "tt"):
            raise InputError(f"{where}.representation.kind: {rep.get('kind')!r}; expected 'dense' or 'tt'")
        if rep.get("kind") == "tt" and not (isinstance(ranks, list) and len(ranks) >= 2 and all(
                isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in ranks)):
            raise InputError(f"{where}.representation.tt_ranks: {ranks!r}; expected a list of whole ranks >= 1")
        for j, sh in enumerate(t["shards"]):
            w = f"{where}.shards[{j}]"
            if not isinstance(sh, dict):
                raise InputError(f"{w}: expected an object")
            for k in ("device", "tier"):
                if not isinstance(sh.get(k), str):
                    raise InputError(f"{w}.{k}: {sh.get(k)!r}; expected a name")
            for k, want in _SHARD_FIELDS.items():
                if not _is_number(sh.get(k)):
                    raise InputError(f"{w}.{k}: {sh.get(k)!r}; expected {want}")
            for k, lo in (("part", 0), ("parts", 1), ("core", 0)):
                v = sh.get(k)
                if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < lo):
                    raise InputError(f"{w}.{k}: {v!r}; expected a whole number >= {lo}")
            if sh.get("strategy") is not None and not isinstance(sh["strategy"], str):
                raise InputError(f"{w}.strategy: {sh['strategy']!r}; expected a name")


def load_plan(path):
    """Read a plan JSON written by ShardingPlan.save."""
    return ShardingPlan.from_dict(read_json_object(path, "plan"), source=str(path))
