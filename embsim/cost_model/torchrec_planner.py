"""TorchRec's own planner on an embsim instance: its plan as a baseline, and its estimator on any plan.

Optional: needs ``torchrec`` (``pip install 'embsim[torchrec]'``, or the
recipe in ``.ci/run``); :func:`unavailable` says why it cannot run, and every
caller then goes on without it.

- :func:`torchrec_plan` runs ``EmbeddingShardingPlanner`` on the model's
  tables (rows, dim, dtype, mean pooling as ``ParameterConstraints.
  pooling_factors``) over a ``Topology`` of the system's devices: world size
  = devices, ``hbm_cap`` = the smallest fastest tier, ``ddr_cap`` = the rest
  of the smallest device's memory; bandwidths are TorchRec's defaults (what
  an engineer running TorchRec's planner gets).  The sharding types are
  limited to those embsim plans and simulates: ``table_wise``, ``row_wise``,
  ``data_parallel``.  It returns per table ``{"sharding_type",
  "compute_kernel", "ranks"}``, the form ``torchrec_io.import_plan`` reads.
- :func:`placement_of` scores such a plan on embsim's cost model exactly as
  the other baselines are scored: an :class:`.instance.Instance` whose
  row-wise tables are cut in TorchRec's even blocks (each part's share of
  the lookups from the profile's per-row counts, the real load), each part
  on its rank's device, the tier split by the same hot-rows-first fill
  (:func:`.placement.fill_tiers`; TorchRec's ``fused_uvm_caching`` HBM cache
  is the nearest it has to that).
- :func:`estimate` prices a per-table plan with TorchRec's own
  ``EmbeddingPerfEstimator``: every shard's ``perf.total`` (compute and
  communication)
  summed per rank; the maximum is TorchRec's makespan.  Planner and estimator
  run in TorchRec's inference mode (``is_inference=True``: no backward pass,
  no gradient all-reduce of replicated tables), as embsim serves queries.  A row-wise table on
  ``P`` ranks of a larger world is priced in a ``P``-rank topology (TorchRec's
  row-wise always uses every rank).
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings

TYPES = ("table_wise", "row_wise", "data_parallel")
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
    """TorchRec logs warnings about dry-run topologies on every plan: keep them out of embsim's output."""
    logger = logging.getLogger("torchrec")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(old)


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


def _constraints(model, types=TYPES):
    from torchrec.distributed.planner.types import ParameterConstraints
    return {t.name: ParameterConstraints(sharding_types=list(types), pooling_factors=[float(t.pooling)])
            for t in model.tables}


def _enumerator(topo, cons, batch_size):
    """TorchRec's enumerator with its perf and storage estimators in inference mode (embsim serves queries)."""
    from torchrec.distributed.planner.enumerators import EmbeddingEnumerator
    from torchrec.distributed.planner.shard_estimators import EmbeddingPerfEstimator, EmbeddingStorageEstimator
    return EmbeddingEnumerator(topology=topo, batch_size=batch_size, constraints=cons,
                               estimator=[EmbeddingPerfEstimator(topology=topo, constraints=cons, is_inference=True),
                                          EmbeddingStorageEstimator(topology=topo, constraints=cons,
                                                                    is_inference=True)])


def _topology(system, world_size, batch_size):
    from torchrec.distributed.planner import Topology
    hbm, ddr = _caps(system)
    return Topology(world_size=int(world_size), compute_device="cuda", hbm_cap=hbm, ddr_cap=ddr,
                    local_world_size=int(world_size))


_PLANS: dict = {}       # TorchRec's plan is a function of the tables, the topology and the batch: kept per process


def torchrec_plan(model, system, batch_size: int = 1024) -> dict:
    """TorchRec's EmbeddingShardingPlanner plan of ``model`` on ``system``: table -> {sharding_type,
    compute_kernel, ranks} (module doc).  Raises RuntimeError with TorchRec's reason if it finds none."""
    key = (tuple((t.name, int(t.rows), int(t.dim), t.dtype, float(t.pooling)) for t in model.tables),
           len(_devices(system)), _caps(system), int(batch_size))
    if key not in _PLANS:
        _PLANS[key] = _solve(model, system, batch_size)
    return {name: dict(e, ranks=list(e["ranks"])) for name, e in _PLANS[key].items()}


def _solve(model, system, batch_size):
    with _quiet():
        import torch
        from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
        from torchrec.distributed.planner import EmbeddingShardingPlanner
        world = len(_devices(system))
        topo = _topology(system, world, batch_size)
        planner = EmbeddingShardingPlanner(topology=topo, batch_size=batch_size, constraints=_constraints(model),
                                           enumerator=_enumerator(topo, _constraints(model), batch_size))
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
    inst = Instance(model, system, stats, batch_size, parse_allowed(representations), split=False,
                    replicate=False, row_parts=parts)
    devices = inst.devices
    rep = [0] * len(inst.items)
    dev = []
    replicated = set()
    for it in inst.items:
        e = plan[it.name]
        if e["sharding_type"] == "data_parallel":
            replicated.add(it.table)
            dev.append(devices[0])
        else:
            dev.append(devices[e["ranks"][it.part]])
    keep = [i for i, it in enumerate(inst.items) if it.table not in replicated]
    pl = fill_tiers(inst, rep, dev, reserve=_after_replicas(inst, replicated), subset=keep)
    return inst, Placement(pl.rep, pl.device, pl.ranges, replicated)


def _after_replicas(inst, replicated):
    from .placement import replica_slots
    left = dict(inst.pools)
    for it in inst.items:
        if it.table in replicated:
            for k in replica_slots(inst):
                left[inst.slots[k].pool_key] -= it.bytes[0]
    return left


def estimate(plan: dict, model, system, batch_size: int = 1024) -> dict:
    """TorchRec's estimator on a per-table plan: {"makespan_s", "rank_s": [...]} (module doc)."""
    world = len(_devices(system))
    rank_s = [0.0] * world
    options = {}
    for name, e in plan.items():
        kind, kernel, ranks = e["sharding_type"], e["compute_kernel"], list(e["ranks"])
        w = len(ranks) if kind == "row_wise" else world
        if w not in options:
            options[w] = _enumerate(model, system, w, batch_size)
        opt = options[w].get((name, kind, kernel))
        if opt is None:
            raise ValueError(f"TorchRec has no {kind}/{kernel} option for table '{name}'")
        shard_ranks = range(world) if kind == "data_parallel" else ranks
        for r, shard in zip(shard_ranks, opt.shards):
            rank_s[r] += float(shard.perf.total) / 1e3       # TorchRec's perf is in ms
    return {"makespan_s": max(rank_s), "rank_s": rank_s}


def _enumerate(model, system, world, batch_size):
    """TorchRec's sharding options with estimated perf, by (table, sharding type, kernel)."""
    with _quiet():
        import torch
        from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
        topo = _topology(system, world, batch_size)
        opts = _enumerator(topo, _constraints(model, TYPES), batch_size).enumerate(_module(model, torch), [EmbeddingBagCollectionSharder()])
    return {(o.name, o.sharding_type, o.compute_kernel): o for o in opts}





def baseline(model, system, stats=None, batch_size: int = 1024, energy_weight: float = 0.0) -> dict:
    """TorchRec's plan as a baseline entry of ``ShardingPlan.baselines``, scored on embsim's cost model
    (:func:`placement_of`); ``{"makespan_s": None, "infeasible": why}`` when TorchRec finds no plan."""
    from ..errors import InputError
    from .placement import comm_times, evaluate, objective
    try:
        plan = torchrec_plan(model, system, batch_size)
        inst, pl = placement_of(plan, model, system, stats, batch_size)
    except (RuntimeError, InputError) as e:
        return {"makespan_s": None, "infeasible": str(e)}
    dev_t, energy_J, m = evaluate(inst, pl)
    comm = comm_times(inst, pl)
    mean = sum(dev_t.values()) / len(dev_t)
    types: dict = {}
    for entry in plan.values():
        key = f"{entry['sharding_type']}/{entry['compute_kernel']}"
        types[key] = types.get(key, 0) + 1
    return {"makespan_s": float(m), "energy_J": float(energy_J), "imbalance": float(m / mean) if mean > 0 else 1.0,
            "comm_makespan_s": float(max(comm.values())) if comm else None,
            "objective": float(objective(inst, pl, energy_weight)), "tables_by_type": dict(sorted(types.items())),
            "scored": "embsim's cost model; row-wise parts in TorchRec's even blocks at their counted load"}
__all__ = ["unavailable", "torchrec_plan", "placement_of", "estimate", "baseline", "TYPES"]
