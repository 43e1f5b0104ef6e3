"""Several models on one server (co-location, as in Hera, PACT 2025): interference measured, not assumed.

``simulate_colocated(system, tenants)`` runs every tenant (a model with its
own Poisson request stream, batch size and p99 target) on one server in one
engine run, and reports per tenant a full ``SimResult`` and its slowdown
against running alone on the whole server.

What the tenants share
----------------------
* **Cores** (``cores``): ``shared``: every tenant's batches queue for the
  same device resources (``socketN``, ``host``: the whole socket serves one
  batch at a time, FIFO across tenants); ``partitioned``: each tenant gets
  ``Tenant.cores`` cores of every socket, its own copies of the device and
  host resources (named ``socketN@tenant``), and its batches are priced on
  a system with that many cores (fewer cores, fewer misses in flight, a
  slower gather).  Links (UPI) stay shared.
* **Last-level cache** (``llc``): ``shared``: the tenants' lookups are
  replayed through one LLC per socket, their batches interleaved in the
  order they leave their batchers (dispatch time; ties by tenant order), the
  rows of different tenants distinct; the replay's counters, split back per
  tenant, price each tenant's batches.  The LLC's capacity in rows is its
  bytes over the lookup-weighted mean row size of the tenants' shards
  there (the replay counts rows).  ``partitioned`` (cache ways, Intel CAT):
  each tenant replays alone through ``Tenant.llc_share`` of the LLC.
* **Memory bandwidth** (``memory``): with more than one tenant, every
  device memory tier with a peak (``socketN.dram``) becomes a queue each
  batch holds for its bytes there / the peak, beside its gather (the
  shared-parts rule of the contention work: alone, a gather's own time,
  which already pays the random-access bandwidth, is never shorter, so the
  queue bites only when the tenants' demand together nears the peak).
  ``partitioned`` (Intel MBA): each tenant its own queue at its share of
  the peak (its share of the cores).  One tenant alone gets no queue: its
  figures are ``simulate``'s, bit for bit.

Figures: each tenant's figures come from its own view of the run (its
batches, its queries, the resources it used under their names in its
system) through the same ``summarise`` as ``simulate``, so throughput,
p50/p95/p99, utilisation (its share of each resource), bytes and energy
mean what they mean there (static energy is the whole server's in every
tenant's figures).  ``slowdown_p99`` = p99 co-located / p99 alone on the
whole server with the same trace, arrivals and seed.
"""
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..errors import InputError
from ..hw_models.families.service_profiles import service_variability
from ..hw_models.loader import load_system, system_from_dict
from ..hw_models.system import BatchCost, StageWork
from ..workloads.generators import generate_trace
from ..workloads.model import load_model
from .engine import EngineRun, form_batches, run_engine
from .replay import CacheLevel, Location, replay
from .shards import caches_from_system
from .simulate import DEFAULT_QUERY_SIZES, DEFAULT_WARMUP, Simulation, poisson_requests
from .summary import summarise

MODES = ("shared", "partitioned")


class _TenantSimulation(Simulation):
    keep_replay_inputs = True

    def __init__(self, *args, profile="in-sample", **kwargs):   # a tenant's trace is replayed whole (no split)
        super().__init__(*args, profile=profile, **kwargs)


@dataclass
class Tenant:
    """One model on the server: its arrival rate (samples/s, Poisson requests), batching and p99 target."""

    name: str
    model: object                         # ModelSpec, preset name or YAML path
    qps: float
    p99_target_s: float
    batch_size: int = 256
    batches: int = 60                     # batches simulated (a generated trace holds exactly these)
    batch_timeout_s: Optional[float] = None
    cores: Optional[int] = None           # partitioned cores: cores of every socket
    llc_share: Optional[float] = None     # partitioned LLC: share of every socket's LLC
    plan: object = None
    trace: object = None
    seed: Optional[int] = None


@dataclass
class TenantResult:
    name: str
    result: object                        # SimResult co-located
    alone: object                         # SimResult alone on the whole server (None if not asked)
    p99_target_s: float

    @property
    def p99_s(self):
        return self.result.latency["p99_s"]

    @property
    def slowdown_p99(self):
        return self.p99_s / self.alone.latency["p99_s"] if self.alone is not None else None

    @property
    def meets_sla(self):
        # the reason reads "overloaded: queries arrive at ..." (sim.steady): an overloaded tenant never meets it
        return self.p99_s <= self.p99_target_s and not (self.result.steady_state_reason or "").startswith("overloaded")

    def to_dict(self):
        r = self.result
        return {"tenant": self.name, "model": r.model, "throughput_qps": r.throughput["queries_per_s"],
                "p50_s": r.latency["p50_s"], "p95_s": r.latency["p95_s"], "p99_s": self.p99_s,
                "p99_target_s": self.p99_target_s, "meets_sla": bool(self.meets_sla),
                "p99_alone_s": self.alone.latency["p99_s"] if self.alone is not None else None,
                "slowdown_p99": self.slowdown_p99, "steady_state": r.steady_state}


@dataclass
class ColocationResult:
    system: str
    cores: str
    llc: str
    memory: str
    tenants: list
    utilisation_fraction: dict            # the server's resources over the common window, all tenants
    window_s: tuple                       # the common window: every tenant measured
    utilisation_by_tenant: dict           # tenant -> resource -> its share of the resource in that window

    def tenant(self, name):
        return next(t for t in self.tenants if t.name == name)

    def to_dict(self):
        return {"system": self.system, "cores": self.cores, "llc": self.llc, "memory": self.memory,
                "window_s": list(self.window_s), "utilisation_fraction": self.utilisation_fraction,
                "utilisation_by_tenant": self.utilisation_by_tenant,
                "tenants": [t.to_dict() for t in self.tenants]}


# ------------------------------------------------------------------ inputs ---
def _check(system, tenants, cores, llc, memory):
    for what, mode in (("cores", cores), ("llc", llc), ("memory", memory)):
        if mode not in MODES:
            raise InputError(f"{what}: {mode!r}: expected one of {', '.join(MODES)}")
    if not tenants:
        raise InputError("tenants: none given; expected at least one model")
    names = [t.name for t in tenants]
    if len(set(names)) != len(names):
        raise InputError(f"tenants: names {names} repeat; expected one name per tenant")
    for t in tenants:
        if not t.qps > 0:
            raise InputError(f"tenant '{t.name}': qps {t.qps!r}: expected an arrival rate > 0 samples/s")
        if not t.p99_target_s > 0:
            raise InputError(f"tenant '{t.name}': p99_target_s {t.p99_target_s!r}: expected a time > 0 s")
    if cores == "partitioned" or memory == "partitioned":
        total = _cores_per_socket(system)
        given = [t.cores for t in tenants]
        if any(c is None or c < 1 for c in given) or sum(given) > total:
            raise InputError(f"tenants: cores {given}: partitioned cores need a positive count per tenant, "
                             f"{total} cores per socket in all")
    if llc == "partitioned":
        shares = [t.llc_share for t in tenants]
        if any(s is None or not 0 < s <= 1 for s in shares) or sum(shares) > 1 + 1e-9:
            raise InputError(f"tenants: llc_share {shares}: a partitioned LLC needs a share in (0, 1] per tenant, "
                             "at most 1 in all")


def _cores_per_socket(system):
    cpu = getattr(system.params.params, "cpu", None)
    if cpu is None:
        raise InputError(f"system '{system.name}': partitioned cores need a CPU family (cpu_dram, cpu_nvme)")
    return int(cpu.count.value)


def _view(system, tenant, cores):
    """The system a tenant's batches are priced on: the server, or the server with its partition's cores."""
    if cores == "shared":
        return system

    def strip(node):           # the expanded parameters, without the part preset names they came from
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "preset"}
        return [strip(v) for v in node] if isinstance(node, list) else node

    data = strip(system.params.model_dump(mode="json", exclude_none=True))
    data["params"]["cpu"]["count"] = {"value": int(tenant.cores),
                                      "source": f"co-location: tenant '{tenant.name}' partition of the socket's cores"}
    return system_from_dict(data, source=f"{system.name} (partition of tenant '{tenant.name}')")


def _caches(system, tenant, llc):
    caches = caches_from_system(system)
    if llc == "partitioned":
        caches = {k: [{**c, "capacity_B": c["capacity_B"] * float(tenant.llc_share)} for c in v]
                  for k, v in caches.items()}
    return caches


# ----------------------------------------------------------- interleaving ---
def _merged_locations(sims):
    """Locations of the interleaved replay: cached (device, tier) pairs shared, the others per tenant."""
    locs, index, maps, members = [], {}, [], {}
    for i, sim in enumerate(sims):
        m = []
        for li, loc in enumerate(sim.locations):
            key = (loc.device, loc.tier) if loc.caches else (i, li)
            if key not in index:
                index[key] = len(locs)
                locs.append(loc)
            members.setdefault(index[key], []).append((i, li))
            m.append(index[key])
        maps.append(np.array(m, dtype=np.int32))
    for j, who in members.items():
        if len(who) > 1:                  # shared: capacity from bytes over the tenants' mean row size
            locs[j] = _shared_location(sims, who)
    return locs, maps


def _shared_location(sims, who):
    i0, l0 = who[0]
    base = sims[i0].locations[l0]
    row_B = np.array([sh.row_bytes for i, li in who for sh in sims[i].shards if sh.location == li])
    weight = np.array([sims[i].counters.table_lookups[sh.table, li, 0] for i, li in who
                       for sh in sims[i].shards if sh.location == li], dtype=np.float64)
    mean_B = float((row_B * weight).sum() / weight.sum()) if weight.sum() > 0 else float(row_B.mean())
    spec = sims[i0].caches.get(f"{base.device}.{base.tier}", sims[i0].caches.get(base.tier))
    levels = [CacheLevel(c["name"], c.get("policy", "lru"), int(c["capacity_B"] / mean_B), int(lv.granularity_B))
              for c, lv in zip(spec, base.caches)]
    return Location(base.device, base.tier, base.granularity_B, levels)


def interleaved_replay(sims, order_tenant, order_batch):
    """Replay the tenants' lookups through shared caches, batches in merged order; each sim's counters
    become its share (its batches, its locations, its tables).  Returns the merged ReplayCounters."""
    locs, maps = _merged_locations(sims)
    pieces, row_loc, offsets, row_B, names, base, table0 = [], [], [], [], [], 0, [0]
    for i, sim in enumerate(sims):
        compact, _, rloc, offs, rb = sim.replay_inputs
        row_loc.append(maps[i][rloc])
        offsets.append(offs + base)
        row_B.append(rb)
        names += [f"{i}:{n}" for n in sim.trace.table_names]
        table0.append(table0[-1] + offs.size)
        base += rloc.size
    bases = np.cumsum([0] + [s.replay_inputs[2].size for s in sims])
    for i, k in zip(order_tenant.tolist(), order_batch.tolist()):
        compact, bb = sims[i].replay_inputs[:2]
        pieces.append(compact[bb[k]:bb[k + 1]] + bases[i])
    ids = np.concatenate(pieces)
    bounds = np.concatenate([[0], np.cumsum([p.size for p in pieces])]).astype(np.int64)
    c = replay(ids, bounds, np.concatenate(row_B), np.concatenate(offsets), locs,
               row_location=np.concatenate(row_loc).astype(np.int32), total_rows=int(base), table_names=names)
    for i, sim in enumerate(sims):
        b = np.flatnonzero(order_tenant == i)
        sim.counters = _slice_counters(c, b, maps[i], np.arange(table0[i], table0[i + 1]), sim.counters.lookups.shape[2])
        sim._loads()
    return c


def _slice_counters(c, batches, locs, tables, levels):
    def per_batch(a):
        return np.ascontiguousarray(a[batches][:, locs, :levels])

    def per_table(a):
        return np.ascontiguousarray(a[tables][:, locs, :levels])

    pick = [int(x) for x in locs]
    return replace(c, location_names=[c.location_names[j] for j in pick], level_names=[c.level_names[j] for j in pick],
                   table_names=[c.table_names[t].split(":", 1)[1] for t in tables],
                   lookups=per_batch(c.lookups), unique_rows=per_batch(c.unique_rows), hits=per_batch(c.hits),
                   misses=per_batch(c.misses), bytes=per_batch(c.bytes), table_lookups=per_table(c.table_lookups),
                   table_hits=per_table(c.table_hits), table_misses=per_table(c.table_misses),
                   policies=[c.policies[j] for j in pick] if c.policies else [],
                   capacities=[c.capacities[j] for j in pick] if c.capacities else [],
                   granularities_B=[c.granularities_B[j] for j in pick] if c.granularities_B else [],
                   units=None, unit_sizes_B=[c.unit_sizes_B[j] for j in pick] if c.unit_sizes_B else [])


# --------------------------------------------------------- resources, costs ---
def _resources(system, tenants, cores, memory):
    """(engine resources, per tenant {its name: engine name} for private copies, per tenant memory queues
    {bytes key: (engine name, peak B/s)})."""
    base = system.resources()
    res = dict(base)
    rename: list = [{} for _ in tenants]
    if cores == "partitioned":
        for r in [d for d in system.devices if d in base] + (["host"] if "host" in base else []):
            del res[r]
            for i, t in enumerate(tenants):
                rename[i][r] = f"{r}@{t.name}"
                res[rename[i][r]] = base[r]
    queues: list = [{} for _ in tenants]
    if len(tenants) > 1:
        peaks = system.peak_bandwidth_Bps()
        total = _cores_per_socket(system) if memory == "partitioned" else 1
        for key in dict.fromkeys(f"{s.device}.{s.tier}" for s in system.slots()):
            if key not in peaks or key in base:
                continue
            for i, t in enumerate(tenants):
                name = key if memory == "shared" else f"{key}@{t.name}"
                peak = peaks[key] if memory == "shared" else peaks[key] * t.cores / total
                res[name] = 1
                queues[i][key] = (name, float(peak))
    return res, rename, queues


def _tenant_cost(cost, rename, queues):
    """A tenant's BatchCost on the shared server: its private resources renamed, its memory queues added."""
    if not rename and not queues:
        return cost
    work = [StageWork(w.stage, rename.get(w.resource, w.resource), w.time_s) for w in cost.work]
    for key, (name, peak) in queues.items():
        nbytes = cost.bytes.get(key, 0.0)
        if nbytes > 0:
            work.append(StageWork("embedding", name, nbytes / peak))
    return BatchCost(work, cost.actions, cost.bytes)


def _local_names(system, res, rename, queues):
    """Engine name -> the tenant's own name, for every resource the tenant can use."""
    out = {rename.get(r, r): r for r in system.resources() if rename.get(r, r) in res}
    out.update({name: key for key, (name, _) in queues.items()})
    return out


# ------------------------------------------------------------------ views ---
def _tenant_view(run, positions, stream, local, warmup_q, timeout_s):
    """The EngineRun of one tenant: its batches (``positions`` in the merged run), queries and resources."""
    arrival, requests, bounds, _ = stream
    inv = np.full(run.n_batches, -1, dtype=np.int64)
    inv[positions] = np.arange(positions.size)
    names = list(run.resources)
    remap = np.full(len(names), -1, dtype=np.int64)
    view_res = {}
    for j, n in enumerate(names):
        if n in local:
            remap[j] = len(view_res)
            view_res[local[n]] = run.resources[n]
    keep = (inv[run.busy_batch] >= 0) & (remap[run.busy_resource] >= 0)
    return EngineRun(
        resources=view_res, arrival_s=arrival, bounds=bounds, dispatch_s=run.dispatch_s[positions],
        done_s=run.done_s[positions], stage_start_s=run.stage_start_s[positions],
        stage_end_s=run.stage_end_s[positions], busy_batch=inv[run.busy_batch[keep]],
        busy_resource=remap[run.busy_resource[keep]], busy_start_s=run.busy_start_s[keep],
        busy_end_s=run.busy_end_s[keep], busy_wait_s=run.busy_wait_s[keep],
        costs=[run.costs[p] for p in positions], warmup_batches=int(np.searchsorted(bounds, warmup_q, side="left")),
        arrival="open", batch_timeout_s=timeout_s, request_bounds=requests)


# -------------------------------------------------------------------- run ---
def _stream(t, seed, query_sizes):
    """(arrival_s, request_bounds, batch bounds, dispatch_s) of a tenant, seeded as ``simulate`` seeds them."""
    queries = int(t.batches) * int(t.batch_size)
    arrival, requests = poisson_requests(queries, t.qps, seed, query_sizes)
    bounds, dispatch = form_batches(arrival, t.batch_size, t.batch_timeout_s)
    return arrival, requests, bounds, dispatch


def _simulation(t, system, caches, seed, batches, planner):
    model = load_model(t.model) if isinstance(t.model, str) else t.model
    trace = t.trace if t.trace is not None else generate_trace(model, batches, int(t.batch_size), seed=seed)
    if trace.n_batches < batches:
        raise InputError(f"tenant '{t.name}': trace holds {trace.n_batches} batches, the run needs {batches}; "
                         "expected a longer trace (co-located traces do not cycle)")
    # co-located traces do not cycle and are replayed whole: ranked in-sample (workloads.profile), held-out
    # profiling of tenants is not built
    return _TenantSimulation(model, system, t.plan, trace, seed=seed, caches=caches, planner=planner,
                             profile="in-sample")


def _merged_order(streams):
    tenant = np.concatenate([np.full(s[3].size, i) for i, s in enumerate(streams)])
    batch = np.concatenate([np.arange(s[3].size) for s in streams])
    order = np.lexsort((batch, tenant, np.concatenate([s[3] for s in streams])))
    return tenant[order], batch[order]


def _merged_queries(streams, order_tenant, order_batch):
    """(arrival_s, bounds, dispatch_s) of the merged run: each merged batch's queries in turn."""
    arrivals, sizes, dispatch = [], [], []
    for i, k in zip(order_tenant.tolist(), order_batch.tolist()):
        arrival, _, bounds, disp = streams[i]
        arrivals.append(arrival[bounds[k]:bounds[k + 1]])
        sizes.append(bounds[k + 1] - bounds[k])
        dispatch.append(disp[k])
    return np.concatenate(arrivals), np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), np.array(dispatch)


def simulate_colocated(system, tenants, *, cores="shared", llc="shared", memory="shared", seed=0,
                       warmup=DEFAULT_WARMUP, query_sizes=DEFAULT_QUERY_SIZES, variability=True, alone=True,
                       planner=None) -> ColocationResult:
    """Run ``tenants`` (``Tenant``) together on ``system`` (a System or preset name); see the module docstring."""
    system = load_system(system) if isinstance(system, str) else system
    tenants = list(tenants)
    _check(system, tenants, cores, llc, memory)
    seeds = [int(t.seed) if t.seed is not None else int(seed) + i for i, t in enumerate(tenants)]
    streams = [_stream(t, s, query_sizes) for t, s in zip(tenants, seeds)]
    sims = [_simulation(t, _view(system, t, cores), _caches(system, t, llc), s, st[3].size, planner)
            for t, s, st in zip(tenants, seeds, streams)]
    warm = [int(round(warmup * st[0].size)) if warmup < 1 else int(warmup) for st in streams]
    solo = [_alone(t, sim, system, s, w, query_sizes, variability, planner, cores == "shared" and llc == "shared")
            if alone else None for t, sim, s, w in zip(tenants, sims, seeds, warm)]
    order_tenant, order_batch = _merged_order(streams)
    if llc == "shared" and len(tenants) > 1:
        interleaved_replay(sims, order_tenant, order_batch)
    res, rename, queues = _resources(system, tenants, cores, memory)
    base = service_variability(system) if variability else {}
    service = {n: base[r] for r in base for n in [r] + [m[r] for m in rename if r in m] if n in res}
    cost_cache: dict = {}

    def cost_of(b, n):
        i, k = int(order_tenant[b]), int(order_batch[b])
        key = (i, k, n)
        if key not in cost_cache:
            cost_cache[key] = _tenant_cost(sims[i].batch_cost(sims[i].batch_load(k, n)), rename[i], queues[i])
        return cost_cache[key]

    arrival, bounds, dispatch = _merged_queries(streams, order_tenant, order_batch)
    run = run_engine(res, cost_of, queries=arrival.size, batch_size=max(int(t.batch_size) for t in tenants),
                     arrival_s=arrival, batches=(bounds, dispatch), service=service, service_seed=int(seed))
    out, windows = [], []
    for i, t in enumerate(tenants):
        local = _local_names(system, res, rename[i], queues[i])
        view = _tenant_view(run, np.flatnonzero(order_tenant == i), streams[i], local, warm[i], t.batch_timeout_s)
        own = {local[n]: v for n, v in service.items() if n in local}
        config = sims[i].run_config("poisson", t.qps, int(streams[i][0].size),
                                    query_sizes if streams[i][1] is not None else None, own, t.batch_timeout_s,
                                    None, warm[i])
        config["colocation"] = {"tenant": t.name, "tenants": [x.name for x in tenants], "cores": cores, "llc": llc,
                                "memory": memory, "cores_per_socket": t.cores, "llc_share": t.llc_share}
        result = summarise(view, sims[i], config, seeds[i], list(sims[i].notes))
        windows.append(view.window_s)
        out.append(TenantResult(t.name, result, solo[i], float(t.p99_target_s)))
    run.window_override = (max(w[0] for w in windows), min(w[1] for w in windows))
    util = run.utilisation() if run.duration_s > 0 else {}
    return ColocationResult(system.name, cores, llc, memory, out, {k: round(v, 12) for k, v in util.items()},
                            run.window_override, _utilisation_by_tenant(run, order_tenant, tenants))


def _utilisation_by_tenant(run, order_tenant, tenants):
    """Per tenant and resource: its busy server-seconds in the common window / (servers x window)."""
    if run.duration_s <= 0:
        return {}
    names = list(run.resources)
    servers = np.array([run.resources[n] for n in names], dtype=np.float64)
    overlap, owner = run._overlap(), order_tenant[run.busy_batch]
    out = {}
    for i, t in enumerate(tenants):
        m = owner == i
        busy = np.bincount(run.busy_resource[m], weights=overlap[m], minlength=len(names))
        out[t.name] = {n: round(float(u), 12) for n, u in zip(names, busy / (servers * run.duration_s)) if u > 0}
    return out


def _alone(t, sim, system, seed, warmup_q, query_sizes, variability, planner, same):
    """The tenant alone on the whole server: same trace, arrivals and seed (``same``: its own simulation is
    already that one, run before any interleaving)."""
    if not same:
        full = Simulation(sim.model, system, t.plan, sim.trace, seed=seed, caches=caches_from_system(system),
                          planner=planner, profile="in-sample")
    else:
        full = sim
    return full.run("poisson", t.qps, int(t.batches) * int(t.batch_size), batch_timeout_s=t.batch_timeout_s,
                    warmup=warmup_q, seed=seed, query_sizes=query_sizes, variability=variability)
