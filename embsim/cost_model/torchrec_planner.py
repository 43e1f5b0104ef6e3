"""TorchRec's own planner on an embsim instance: its plan as a baseline, and its estimator on any plan.

Optional: needs ``torchrec`` (``pip install 'embsim[torchrec]'``, or the
recipe in ``.ci/run``); :func:`unavailable` says why it cannot run, and every
caller then goes on without it.

- :func:`torchrec_plan` runs ``EmbeddingShardingPlanner`` on the model's
  tables (rows, dim, dtype, mean pooling as ``ParameterConstraints.
  pooling_factors``) over a ``Topology`` of the system's devices: world size
  = devices, ``hbm_cap`` = the smallest fastest tier, ``ddr_cap`` = the rest
  of the smallest device's memory; bandwidths are TorchRec's defaults (what
  an engineer running TorchRec's planner gets).  It returns per table
  ``{"sharding_type", "compute_kernel", "ranks"}``, the form
  ``torchrec_io.import_plan`` reads.
- The sharding types TorchRec may use are those embsim's own solve was
  offered (:func:`sharding_types`): ``table_wise`` always, ``row_wise``
  when embsim may split tables (``split``), ``data_parallel`` when it may
  replicate (``replicate``, on by default), ``column_wise`` when it may cut
  columns (``columns``, off by default: ``--columns``).  TorchRec's
  ``table_row_wise``, ``table_column_wise`` and ``grid_shard`` are never
  offered (embsim has no plan form for them).  Within a type TorchRec keeps
  its own choice of tables (embsim's rules of which tables it splits, the
  2% cap on replicas, are embsim's limits, not imposed on TorchRec), with
  two exceptions that make a column-wise plan one embsim can simulate, both
  embsim's own column-wise rules: the shard counts are embsim's
  (``instance.COLUMN_SPLITS``, K = 2 and 4; TorchRec's ``min_partition`` =
  dim / K, one enumeration per K, their column-wise options merged; a table
  gets K only where K <= ranks and dim / K is a multiple of 4, TorchRec's
  rule), and the K shards sit on K distinct ranks (every column-wise table
  is placed by TorchRec's own unique-rank partition, which it uses for
  key-value tables; its default one may stack two shards on one rank).
- ``options`` tune TorchRec's search with its own knobs (``proposers``: a
  list of names from ``torchrec_search.PROPOSERS``, default TorchRec's four;
  ``timeout_s``: its planner's ``timeout_seconds``), for the 856-table model
  whose default search takes minutes.
- :func:`placement_of` scores such a plan on embsim's cost model exactly as
  the other baselines are scored: an :class:`.instance.Instance` whose
  row-wise tables are cut in TorchRec's even blocks (each part's share of
  the lookups from the profile's per-row counts, the real load), each part
  on its rank's device, the tier split by the same hot-rows-first fill
  (:func:`.placement.fill_tiers`; TorchRec's ``fused_uvm_caching`` HBM cache
  is the nearest it has to that); a replicated table on every device's
  fastest tier; a column-wise table's K shards each whole in its rank's
  fastest tier (kernel ``fused``) or host DDR (the UVM kernels), as
  ``torchrec_io.import_plan`` reads them.
- :func:`estimate` prices a per-table plan with TorchRec's own
  ``EmbeddingPerfEstimator``: every shard's ``perf.total`` (compute and
  communication) summed per rank (a column-wise table of K ranks as
  TorchRec's K-shard option); the maximum is TorchRec's makespan.  Planner
  and estimator run in TorchRec's inference mode (``is_inference=True``: no
  backward pass, no gradient all-reduce of replicated tables), as embsim
  serves queries.
- Batch: embsim's ``batch_size`` is the samples all devices serve together
  (each GPU runs 1/N of the dense part); TorchRec's is per rank, so TorchRec
  plans with ``batch_size / N`` (:func:`local_batch`).  A row-wise table on
  ``P`` ranks of ``N`` (embsim may cut a table into fewer parts than
  devices, or put two parts on one device; TorchRec's row-wise always uses
  every rank) is priced as TorchRec's row-wise in a ``P``-rank topology
  serving the same global batch (``batch_size / P`` per rank).
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from types import SimpleNamespace

TYPES = ("table_wise", "row_wise", "column_wise", "data_parallel")    # what embsim plans, imports and simulates
_DTYPES = {"fp32": "FP32", "fp16": "FP16", "int8": "INT8", "int4": "INT4"}


def unavailable() -> str | None:
    """None when torchrec imports, else the reason it cannot be used."""
    try:
        with _quiet():
            import torchrec  # noqa: F401
            from torchrec.distributed.planner import EmbeddingShardingPlanner  # noqa: F401
    except Exception as e:          # ImportError, or a torch/fbgemm ABI mismatch raising at import
        return f"torchrec not importable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    return None


@contextlib.contextmanager
def _quiet():
    """TorchRec logs warnings about dry-run topologies on every plan, and its plan check warns through the root
    logger for every data-parallel table (which would also give the root logger a stderr handler): keep both
    out of embsim's output."""
    loggers = [logging.getLogger("torchrec"), logging.getLogger()]
    old = [lg.level for lg in loggers]
    mute = logging.NullHandler()             # logging.warning() adds a stderr handler to a root that has none
    logging.getLogger().addHandler(mute)
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.getLogger().removeHandler(mute)
        for lg, level in zip(loggers, old):
            lg.setLevel(level)


def _devices(system) -> list:
    return list(dict.fromkeys(s.device for s in system.slots()))


def _caps(system):
    """(hbm_cap, ddr_cap) bytes per rank: the smallest fastest tier and the rest of the smallest device."""
    from .instance import Instance
    devs = _devices(system)
    slots = list(system.slots())
    fast = {d: min((s for s in slots if s.device == d), key=lambda s: s.rank) for d in devs}
    shell = Instance.__new__(Instance)          # only the capacity helper: no lookup costs needed
    shell.slots, shell.pools = slots, {s.pool_key: float(s.capacity_B) for s in slots}
    shell.pool_slots = {p: [k for k, s in enumerate(slots) if s.pool_key == p] for p in shell.pools}
    shell.dev_slots = {d: [k for k, s in enumerate(slots) if s.device == d] for d in devs}
    hbm = min(float(fast[d].capacity_B) for d in devs)
    ddr = min(shell._device_capacity(d) - float(fast[d].capacity_B) for d in devs)
    return int(hbm), int(max(0.0, ddr))


def _module(model, torch):
    from torchrec import EmbeddingBagCollection, EmbeddingBagConfig
    from torchrec.modules.embedding_configs import DataType
    cfgs = [EmbeddingBagConfig(name=t.name, embedding_dim=int(t.dim), num_embeddings=int(t.rows),
                               feature_names=[f"f_{t.name}"], data_type=getattr(DataType, _DTYPES[t.dtype]))
            for t in model.tables]
    return EmbeddingBagCollection(tables=cfgs, device=torch.device("meta"))


def sharding_types(split: bool = True, replicate: bool = True, columns: bool = False) -> tuple:
    """The TorchRec sharding types matching what embsim's solve is offered (module doc); the defaults are
    ``solve_plan``'s: table-wise, row-wise and data-parallel, column-wise only with ``columns``."""
    on = {"table_wise": True, "row_wise": split, "column_wise": columns, "data_parallel": replicate}
    return tuple(k for k in TYPES if on[k])


DEFAULT_TYPES = sharding_types()


def _topology(system, world_size, batch_size):
    from torchrec.distributed.planner import Topology
    hbm, ddr = _caps(system)
    return Topology(world_size=int(world_size), compute_device="cuda", hbm_cap=hbm, ddr_cap=ddr,
                    local_world_size=int(world_size))


_PLANS: dict = {}       # TorchRec's plan is a function of the tables, the topology, the batch and the options: kept


def torchrec_plan(model, system, batch_size: int = 1024, types=DEFAULT_TYPES, proposers=None,
                  timeout_s: float | None = None) -> dict:
    """TorchRec's EmbeddingShardingPlanner plan of ``model`` on ``system``: table -> {sharding_type,
    compute_kernel, ranks} (module doc).  ``types``: the sharding types offered (:func:`sharding_types`);
    ``proposers``, ``timeout_s``: TorchRec's search options.  RuntimeError with TorchRec's reason if no plan."""
    types = tuple(types)
    bad = [k for k in types if k not in TYPES]
    if bad or not types:
        raise ValueError(f"sharding types {list(types)} (expected some of {', '.join(TYPES)})")
    key = (tuple((t.name, int(t.rows), int(t.dim), t.dtype, float(t.pooling)) for t in model.tables),
           len(_devices(system)), _caps(system), int(batch_size), types, tuple(proposers or ()), timeout_s)
    if key not in _PLANS:
        _PLANS[key] = _solve(model, system, batch_size, types, proposers, timeout_s)
    return {name: dict(e, ranks=list(e["ranks"])) for name, e in _PLANS[key].items()}


def _solve(model, system, batch_size, types, proposer_names, timeout_s):
    from . import torchrec_search as search
    with _quiet():
        import torch
        from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
        from torchrec.distributed.planner import EmbeddingShardingPlanner
        world = len(_devices(system))
        local = local_batch(batch_size, world)
        topo = _topology(system, world, local)
        planner = EmbeddingShardingPlanner(
            topology=topo, batch_size=local, constraints=search.constraints(model, types, world),
            enumerator=search.enumerator(topo, model, types, world, local), partitioner=search.partitioner(),
            proposer=search.proposers(proposer_names),
            timeout_seconds=None if timeout_s is None else max(1, int(timeout_s)))
        try:
            plan = planner.plan(_module(model, torch), [EmbeddingBagCollectionSharder()])
        except Exception as e:       # PlannerError and friends: no plan fits
            raise RuntimeError(f"TorchRec's planner found no plan: {str(e).splitlines()[0][:200]}") from e
    out = {}
    for per in plan.plan.values():
        for name, ps in per.items():
            ranks = list(ps.ranks) if ps.ranks is not None else list(range(world))
            out[name] = {"sharding_type": ps.sharding_type, "compute_kernel": ps.compute_kernel, "ranks": ranks}
    return out


def placement_of(plan: dict, model, system, stats=None, batch_size: int = 1024, representations=None):
    """(Instance, Placement) of a per-table TorchRec plan on embsim's cost model (module doc)."""
    from .instance import Instance
    from .placement import Placement, fill_tiers
    from .representations import parse_allowed
    parts = {t: len(e["ranks"]) for t, e in plan.items() if e["sharding_type"] == "row_wise"}
    columns = any(e["sharding_type"] == "column_wise" for e in plan.values())
    inst = Instance(model, system, stats, batch_size, parse_allowed(representations), split=False,
                    replicate=False, row_parts=parts, columns=columns)
    devices = inst.devices
    dev, replicated, cols = [], set(), {}
    for it in inst.items:
        e = plan[it.name]
        if e["sharding_type"] == "data_parallel":
            replicated.add(it.table)
        elif e["sharding_type"] == "column_wise":
            cols[it.table] = _column_slots(inst, it, e)
        dev.append(devices[e["ranks"][it.part if e["sharding_type"] == "row_wise" else 0]]
                   if e["sharding_type"] != "data_parallel" else devices[0])
    keep = [i for i, it in enumerate(inst.items) if it.table not in replicated and it.table not in cols]
    pl = fill_tiers(inst, [0] * len(inst.items), dev, reserve=_reserved(inst, replicated, cols), subset=keep)
    return inst, Placement(pl.rep, pl.device, pl.ranges, replicated, cols)


def _column_slots(inst, it, entry):
    """The slot of each column shard of a column_wise table: its rank's fastest tier (``fused``) or slowest."""
    K = len(entry["ranks"])
    if K not in inst.columnable.get(it.table, []) or len(set(entry["ranks"])) != K:
        raise RuntimeError(f"TorchRec's plan cuts '{it.name}' column-wise on ranks {entry['ranks']}: embsim's "
                           f"column-wise puts dim/K columns on K distinct ranks, K in {inst.columnable.get(it.table)}")
    pick = 0 if entry["compute_kernel"] == "fused" else -1
    return [inst.dev_slots[inst.devices[r]][pick] for r in entry["ranks"]]


def _reserved(inst, replicated, columns):
    """Pool bytes left once the replicas and the column shards (placed whole, not by fill_tiers) are in."""
    from .placement import replica_slots
    left = dict(inst.pools)
    for it in inst.items:
        if it.table in replicated:
            for k in replica_slots(inst):
                left[inst.slots[k].pool_key] -= it.bytes[0]
        for k in columns.get(it.table, []):
            left[inst.slots[k].pool_key] -= it.bytes[0] / len(columns[it.table])
    return left


def estimate(plan: dict, model, system, batch_size: int = 1024) -> dict:
    """TorchRec's estimator on a per-table plan: {"makespan_s", "rank_s": [...]} per batch of ``batch_size``
    samples over all ranks (module doc)."""
    world = len(_devices(system))
    rank_s = [0.0] * world
    spec = {t.name: t for t in model.tables}
    width = {name: len(e["ranks"]) if e["sharding_type"] == "row_wise" else world for name, e in plan.items()}
    options: dict = {}
    for w in sorted(set(width.values())):         # each world size priced on the tables that need it only
        part = SimpleNamespace(tables=[spec[n] for n in plan if width[n] == w and n in spec])
        options[w] = _shard_seconds(part, system, w, batch_size)
    for name, e in plan.items():
        kind, kernel, ranks = e["sharding_type"], e["compute_kernel"], list(e["ranks"])
        shards = options[width[name]].get((name, kind, kernel, len(ranks) if kind == "column_wise" else None))
        if shards is None:
            raise ValueError(f"TorchRec has no {kind}/{kernel} option for table '{name}'"
                             + (f" in {len(ranks)} column shards" if kind == "column_wise" else ""))
        for r, s in zip(range(world) if kind == "data_parallel" else ranks, shards):
            rank_s[r] += s
    return {"makespan_s": max(rank_s), "rank_s": rank_s}


def _shard_seconds(model, system, world, batch_size):
    """TorchRec's estimated seconds of every shard of every option on ``world`` ranks sharing a batch of
    ``batch_size`` samples, by (table, sharding type, kernel, column shards).

    TorchRec's batch is per rank: the options are enumerated at ``batch_size`` per rank and each shard's
    perf divided by ``world`` (its estimate is linear in the batch; ``tests/cost_model/
    test_torchrec_planner.py`` checks it against a direct enumeration), so a row-wise table on P of N
    ranks, priced on P ranks, serves the same global batch as the rest of the plan."""
    from . import torchrec_search as search
    with _quiet():
        import torch
        from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
        topo = _topology(system, world, batch_size)
        opts = search.enumerator(topo, model, TYPES, world, batch_size).enumerate(
            _module(model, torch), [EmbeddingBagCollectionSharder()])
    return {(o.name, o.sharding_type, o.compute_kernel, len(o.shards) if o.sharding_type == "column_wise" else None):
            [float(s.perf.total) / 1e3 / world for s in o.shards] for o in opts}      # TorchRec's perf is in ms


def local_batch(batch_size: int, world: int) -> int:
    """TorchRec's per-rank batch for embsim's batch of ``batch_size`` samples over ``world`` ranks (at least 1)."""
    return max(1, round(batch_size / world))


def baseline(model, system, stats=None, batch_size: int = 1024, energy_weight: float = 0.0,
             types=DEFAULT_TYPES, **options) -> dict:
    """TorchRec's plan as a baseline entry of ``ShardingPlan.baselines``, scored on embsim's cost model
    (:func:`placement_of`); ``{"makespan_s": None, "infeasible": why}`` when TorchRec finds no plan.
    ``types``: the sharding types embsim's solve was offered (:func:`sharding_types`); ``options``:
    :func:`torchrec_plan`'s search options."""
    from ..errors import InputError
    from .placement import comm_times, evaluate, objective
    try:
        plan = torchrec_plan(model, system, batch_size, types, **options)
        inst, pl = placement_of(plan, model, system, stats, batch_size)
    except (RuntimeError, InputError) as e:
        return {"makespan_s": None, "infeasible": str(e), "sharding_types": list(types)}
    dev_t, energy_J, m = evaluate(inst, pl)
    comm = comm_times(inst, pl)
    mean = sum(dev_t.values()) / len(dev_t)
    kinds: dict = {}
    for entry in plan.values():
        key = f"{entry['sharding_type']}/{entry['compute_kernel']}"
        kinds[key] = kinds.get(key, 0) + 1
    return {"makespan_s": float(m), "energy_J": float(energy_J), "imbalance": float(m / mean) if mean > 0 else 1.0,
            "comm_makespan_s": float(max(comm.values())) if comm else None,
            "objective": float(objective(inst, pl, energy_weight)), "tables_by_type": dict(sorted(kinds.items())),
            "sharding_types": list(types),
            "scored": "embsim's cost model; row-wise parts in TorchRec's even blocks at their counted load"}


__all__ = ["unavailable", "torchrec_plan", "placement_of", "estimate", "baseline", "sharding_types", "local_batch",
           "TYPES", "DEFAULT_TYPES"]
