"""TorchRec interop: an embsim plan as TorchRec constraints, and a TorchRec plan as an embsim plan.

Needs no torch: both directions are JSON.

``export_constraints(plan, system)`` writes, per table, what TorchRec's
``ParameterConstraints`` takes (``sharding_types``, ``compute_kernels``)
plus the ``ranks`` that hold it (what a ``ParameterSharding`` names):

- a table whole on one device is ``table_wise`` on that rank; a table cut
  into row-wise parts is ``row_wise`` on the parts' ranks, in part order;
- a replicated table (data parallel) is ``data_parallel`` with kernel ``dense`` on every rank;
- a column-wise table is ``column_wise`` on its shards' ranks, in column order;
- the kernel follows the tiers its shards use: all in the device's fastest
  tier (HBM) ``fused``, none there (host DDR over UVM) ``fused_uvm``, hot
  rows in HBM and the rest in host DDR ``fused_uvm_caching`` (TorchRec's
  HBM cache of a UVM table is the nearest it has to a hot-rows tier).

Ranks are the positions of the devices in ``System.slots()`` order (gpu0 is
rank 0).  What TorchRec cannot say is lost and listed in ``notes``: embsim's
load-balanced row ranges (TorchRec's row-wise blocks are even) and a
row-wise table on a subset of ranks.

``import_plan(data, model, system)`` reads such a file, or a TorchRec
sharding plan dumped per table as ``{"sharding_type", "compute_kernel",
"ranks"}``, into a ShardingPlan: ``row_wise`` becomes even range parts (as
TorchRec cuts them), each predicted to carry 1/P of the lookups (TorchRec's
assumption; ``embsim simulate`` measures the real share).  Its predicted
device times are each shard's lookups times the slot's lookup cost, plus its output write (shard_output.py).
``data_parallel`` (kernel ``dense``, on every rank) is a replicated table.
``column_wise`` on K distinct ranks (K dividing the table's dim) is a
column-wise table, shard c of dim/K columns on ``ranks[c]``, every shard
reading every lookup; ``table_column_wise`` has no embsim plan form yet and
is refused with a one-line error.
"""
from __future__ import annotations

from ..errors import InputError
from .coverage import table_access
from .comm import pooled_bytes
from .partition import even_range
from .plan import Representation, Shard, ShardingPlan, TablePlan
from .shard_output import output_s_per_B

FORMAT = "embsim.torchrec_constraints/1"
KERNELS = ("fused", "fused_uvm", "fused_uvm_caching")
SUPPORTED = ("table_wise", "row_wise", "column_wise", "data_parallel")


def _ranks(system) -> list:
    return list(dict.fromkeys(s.device for s in system.slots()))


def _fast_tier(system, device) -> str:
    return min((s for s in system.slots() if s.device == device), key=lambda s: s.rank).tier


def export_constraints(plan: ShardingPlan, system) -> dict:
    """The TorchRec constraints of ``plan`` (module doc)."""
    ranks = {d: r for r, d in enumerate(_ranks(system))}
    tables, notes = {}, []
    for tp in plan.tables:
        parts = tp.shards[0].parts
        devs = []
        for p in range(parts):
            mine = [s for s in tp.shards if s.part == p]
            d = mine[0].device
            if d not in ranks or any(s.device != d for s in mine):
                raise InputError(f"plan: table '{tp.table}': part {p} spans devices or names one the system lacks")
            devs.append(d)
        fast = [s.tier == _fast_tier(system, s.device) for s in tp.shards]
        kernel = "fused" if all(fast) else ("fused_uvm" if not any(fast) else "fused_uvm_caching")
        kind = "table_wise" if parts == 1 else "row_wise"
        if getattr(tp, "partition", "") == "replicated":
            kind, kernel = "data_parallel", "dense"
        if getattr(tp, "partition", "") == "column":        # shard c on ranks[c], dim / parts columns each
            kind = "column_wise"
        tables[tp.table] = {"sharding_types": [kind], "compute_kernels": [kernel], "ranks": [ranks[d] for d in devs]}
        if parts > 1 and tp.partition == "range" and tp.row_bounds:
            even = list(even_range(int(tp.row_bounds[-1]), parts).bounds or ())
            if [int(b) for b in tp.row_bounds] != even:
                notes.append(f"{tp.table}: embsim's load-balanced row ranges {tp.row_bounds} become TorchRec's even blocks")
        if parts > 1 and tp.partition == "hash" and kind == "row_wise":
            notes.append(f"{tp.table}: embsim's row parts by id mod {parts} become TorchRec's contiguous blocks")
        if parts > 1 and parts != len(ranks) and kind == "row_wise":
            notes.append(f"{tp.table}: row-wise over {parts} of {len(ranks)} ranks (TorchRec's row_wise uses all)")
    return {"format": FORMAT, "model": plan.model, "system": plan.system, "world_size": len(ranks),
            "tables": tables, "notes": notes}


def _one(entry, key, where):
    v = entry.get(key)
    if v is None:
        v = entry.get(key + "s")
        v = v[0] if isinstance(v, list) and v else v
    if not isinstance(v, str):
        raise InputError(f"{where}: {key}: {v!r} (expected a string, e.g. "
                         f"{'table_wise' if key == 'sharding_type' else 'fused'})")
    return v


def _table_plan(t, entry, devices, system, where):
    kind = _one(entry, "sharding_type", where)
    kernel = _one(entry, "compute_kernel", where)
    if kind not in SUPPORTED:
        raise InputError(f"{where}: sharding_type '{kind}': embsim plans {' and '.join(SUPPORTED)} only")
    if kind == "data_parallel":
        if sorted(entry.get("ranks") or range(len(devices))) != list(range(len(devices))):
            raise InputError(f"{where}: ranks {entry.get('ranks')}: a data_parallel table is on every rank")
        N = len(devices)
        rep = Representation(kind="dense", dtype=t.dtype, bytes=float(t.bytes), row_bytes=float(t.row_bytes))
        shards = [Shard(d, _fast_tier(system, d), 0.0, 1.0, 1.0 / N, part=c, parts=N) for c, d in enumerate(devices)]
        return TablePlan(t.name, rep, shards, partition="replicated", sharding="data_parallel"), "dense"
    if kernel not in KERNELS:
        raise InputError(f"{where}: compute_kernel '{kernel}' (expected one of {', '.join(KERNELS)})")
    ranks = entry.get("ranks")
    if not isinstance(ranks, list) or not ranks or not all(isinstance(r, int) and 0 <= r < len(devices)
                                                            for r in ranks):
        raise InputError(f"{where}: ranks {ranks!r} (expected a list of ranks 0..{len(devices) - 1})")
    if kind == "table_wise" and len(ranks) != 1:
        raise InputError(f"{where}: ranks {ranks}: a table_wise table lives on one rank")
    if kind == "column_wise" and (len(set(ranks)) != len(ranks) or t.dim % len(ranks)):
        raise InputError(f"{where}: ranks {ranks}: embsim's column_wise puts dim/K columns on K distinct ranks "
                         f"(K must divide dim {t.dim})")
    rep = Representation(kind="dense", dtype=t.dtype, bytes=float(t.bytes), row_bytes=float(t.row_bytes))
    P = len(ranks)
    shards = []
    for p, r in enumerate(ranks):
        d = devices[r]
        tiers = sorted((s for s in system.slots() if s.device == d), key=lambda s: s.rank)
        tier = tiers[0].tier if kernel == "fused" else tiers[-1].tier
        shards.append(Shard(d, tier, 0.0, 1.0, 1.0 if kind == "column_wise" else 1.0 / P, part=p, parts=P))
    extra = {}
    if kind == "column_wise":         # every shard reads every lookup
        extra = {"partition": "column", "columns": [p * t.dim // P for p in range(P + 1)]}
    elif P > 1:
        extra = {**even_range(t.rows, P).to_plan(), "part_shares": [1.0 / P] * P}
    return TablePlan(t.name, rep, shards, sharding=kind, **extra), kernel


def import_plan(data: dict, model, system, source: str = "torchrec plan", batch_size: int = 1024) -> ShardingPlan:
    """An embsim ShardingPlan from a TorchRec plan or constraints file (module doc)."""
    per = data.get("tables", data) if isinstance(data, dict) else None
    if not isinstance(per, dict):
        raise InputError(f"{source}: expected an object of tables (or {{'tables': {{...}}}})")
    devices = _ranks(system)
    tables, notes = [], [f"imported from {source} (TorchRec); row-wise parts predicted at 1/P of the lookups"]
    for t in model.tables:
        entry = per.get(t.name)
        if not isinstance(entry, dict):
            raise InputError(f"{source}: tables.{t.name}: missing (model '{model.name}' has it)")
        tp, kernel = _table_plan(t, entry, devices, system, f"{source}: tables.{t.name}")
        if kernel == "fused_uvm_caching":
            notes.append(f"{t.name}: fused_uvm_caching read as host DDR; give the system an HBM cache "
                         "(params.hbm_cache.capacity) and --caches lru to replay it")
        tables.append(tp)
    extra = sorted(set(per) - {t.name for t in model.tables} - {"format", "model", "system", "world_size", "notes"})
    if extra:
        raise InputError(f"{source}: tables.{extra[0]}: not a table of model '{model.name}'")
    dev_t = {d: 0.0 for d in devices}
    write_s_per_B = output_s_per_B(system, devices)
    for tp, spec, acc in zip(tables, model.tables, table_access(model, None, batch_size)):
        rep = tp.representation
        width = len(tp.shards) if tp.partition == "column" else 1      # a column shard reads row_bytes / K
        for s in tp.shards:
            slot = next(x for x in system.slots() if x.device == s.device and x.tier == s.tier)
            cost = system.lookup_cost(slot, rep.row_bytes / width, rep.dtype, spec.pooling)
            dev_t[s.device] += acc.accesses * s.access_share * cost.time_s
            # the shard writes its pooled vectors; a copy those of its own 1/N of the samples (shard_output.py)
            share = 1.0 / len(devices) if tp.partition == "replicated" else 1.0 / width
            dev_t[s.device] += write_s_per_B[s.device] * pooled_bytes(spec, batch_size) * share
    return ShardingPlan(model=model.name, system=system.name, tables=tables, device_time_s=dev_t,
                        makespan_s=max(dev_t.values()), solver="torchrec", status="imported", notes=notes,
                        batch_size=batch_size, method="imported", planner="torchrec")


__all__ = ["export_constraints", "import_plan", "FORMAT"]
