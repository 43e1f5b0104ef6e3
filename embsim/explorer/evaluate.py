"""The real evaluator: one design point -> model, system, sharding plan, simulation -> flat metrics.

    metrics = evaluate(point.config)

``config`` is a point's JSON configuration (``DesignSpace.configuration``):
the base model and system YAML content with the point's dotted overrides,
the simulation settings and the plan settings.  It is self-contained, so a
Dask worker on another machine needs embsim but no files.

Steps: build the ModelSpec and System (overrides checked: a bad path or
value is an InputError, so the point is stored as *infeasible* with the
message); plan with ``cost_model.planner.plan_for`` (the core mapping on an
SoC with per-core strategies, the sharding MIP elsewhere, as ``embsim shard``
does) when ``plan.mode`` is ``solve`` (the plan depends on the point's hardware and model, so it is
solved per point; an instance that does not fit is infeasible too); run
``simulate``; flatten the SimResult (``metrics.sim_metrics``) and add:

- ``plan_makespan_s``, ``plan_gap``, ``plan_status``, ``plan_planner`` and each baseline's
  ``plan_baseline.<name>_makespan_s`` (the MIP's own prediction);
- ``capacity_B`` (the system's memory over all shard pools, each pool once),
  ``n_devices``, ``embedding_bytes_B`` (the model's tables at their dtype),
  ``capacity_ratio`` (capacity / embedding bytes).

The plan and the full SimResult go to ``artifacts`` (stored beside the
metrics, used by the report).  The plan's wall-clock solve time is left out
of the metrics so that equal configurations give equal rows.
"""
# Imported at module level (not lazily) so that forked pool workers inherit them ready.
from .. import config as cfg
from ..cost_model.planner import plan_for as make_plan
from ..errors import InputError
from ..hw_models.loader import system_from_dict
from ..sim.simulate import generated_batches, simulate
from ..workloads.generators import generate_trace
from ..workloads.store import open_trace
from ..workloads.model import model_from_dict
from .metrics import sim_metrics
from .space import config_key


# What the evaluator's rows hold: canonical names, its own figures, and the flattened SimResult groups.
OWN_METRICS = ("capacity_B", "n_devices", "embedding_bytes_B", "capacity_ratio", "plan_makespan_s", "plan_gap",
               "plan_status")


def is_metric(name):
    """Whether ``evaluate`` can produce a metric called ``name`` (objectives are checked against this)."""
    from dataclasses import fields

    from ..sim.result import SimResult
    from .metrics import CANONICAL, NOT_METRICS
    groups = [f.name for f in fields(SimResult) if f.name not in NOT_METRICS]
    return (name in CANONICAL or name in OWN_METRICS or name.startswith("plan_baseline.")
            or any(name == g or name.startswith(g + ".") for g in groups))


def build(config):
    """(ModelSpec, System) of a point configuration, overrides applied and checked."""
    m, s = config["model"], config["system"]
    mdata = cfg.apply_overrides(m["data"], config.get("model_overrides"), source=f"model '{m['name']}'")
    sdata = cfg.apply_overrides(s["data"], config.get("system_overrides"), source=f"system '{s['name']}'")
    return (model_from_dict(mdata, source=f"model '{m['name']}'"),
            system_from_dict(sdata, source=f"system '{s['name']}'", name=s["data"].get("name", s["name"])))


def plan_for(model, system, plan_settings, batch_size):
    """The point's sharding plan (None when ``mode`` is ``none``)."""
    p = plan_settings
    if p["mode"] == "none":
        return None
    reps = p.get("representations")
    if p.get("tt_rank"):
        reps = ",".join(x for x in ((reps or "fp32"), f"tt{p['tt_rank']}") if x)
    extra = {k: p[k] for k in ("columns", "max_collision_share") if p.get(k) not in (None, False)}   # sharding MIP only
    if p.get("torchrec_baseline") is False:
        extra["torchrec_baseline"] = False
    return make_plan(model, system, solver=p["solver"], time_limit_s=p["time_limit_s"], objective=p["objective"],
                     energy_weight=p["energy_weight"], representations=reps, batch_size=batch_size, **extra)


def capacity_metrics(model, system):
    pools = {}
    for s in system.slots():
        pools[s.pool_key] = s.capacity_B
    cap = float(sum(pools.values()))
    emb = float(model.embedding_bytes)
    return {"capacity_B": cap, "n_devices": len(system.devices), "embedding_bytes_B": emb,
            "capacity_ratio": cap / emb if emb else float("nan")}


_TRACES: dict = {}   # per worker process: (model, batch, queries, seed) -> Trace; see trace_for


def trace_for(model, config):
    """The synthetic trace ``simulate`` would generate, cached per worker process.

    Points that differ only in hardware share one trace, and generating it
    (a random row permutation per table) can cost more than the simulation.
    The call is the one ``simulate`` makes itself, so results are identical.
    """
    sim = config["sim"]
    if sim.get("trace"):                  # a stored trace: one reader per worker, read chunk by chunk
        if sim["trace"] not in _TRACES:
            _TRACES[sim["trace"]] = open_trace(sim["trace"])
        return _TRACES[sim["trace"]]
    size = int(sim["batch_size"])
    batches = generated_batches(model, size, sim["queries"])   # as simulate generates: the first half profiles
    key = config_key({"model": config["model"], "model_overrides": config.get("model_overrides"),
                      "batches": batches, "batch_size": size, "seed": sim["seed"]})
    if key not in _TRACES:
        if len(_TRACES) >= 2:
            _TRACES.pop(next(iter(_TRACES)))
        _TRACES[key] = generate_trace(model, batches=batches, batch_size=size, seed=sim["seed"])
    return _TRACES[key]


def caches_of(sim):
    """simulate's ``caches`` from the settings, with ``cache_rows`` applied to every listed cache."""
    caches = sim.get("caches")
    if not caches:
        if sim.get("cache_rows"):
            raise InputError("sim.cache_rows: set simulation.caches to say which tier the cache sits in front of")
        return None
    if sim.get("cache_rows"):
        caches = {where: [{**{k: v for k, v in c.items() if k != "capacity_B"}, "capacity_rows": sim["cache_rows"]}
                          for c in levels] for where, levels in caches.items()}
    return caches


def evaluate(config):
    """Flat metrics of one design point (see the module docstring); InputError if it cannot run."""
    model, system = build(config)
    sim = config["sim"]
    trace = trace_for(model, config)
    batch = trace.batch_size if sim.get("trace") else sim["batch_size"]
    plan = plan_for(model, system, config["plan"], batch)
    kwargs = dict(arrival=sim["arrival"], queries=sim["queries"], batch_size=None if sim.get("trace") else batch,
                  seed=sim["seed"],
                  in_flight=sim.get("in_flight"), batch_timeout_s=sim.get("batch_timeout_s"), caches=caches_of(sim))
    if sim.get("qps") is not None:
        kwargs["qps"] = sim["qps"]
    elif sim["arrival"] == "poisson":
        raise InputError("sim.qps: poisson arrivals need a rate (set simulation.qps or a sim.qps knob)")
    result = simulate(model, system, plan=plan, trace=trace, **kwargs)
    d = result.to_dict()
    out = sim_metrics(d)
    out.update(capacity_metrics(model, system))
    artifacts = {"sim_result": d}
    if plan is not None:
        pd_ = plan.to_dict()
        artifacts["plan"] = pd_
        out["plan_makespan_s"] = pd_.get("makespan_s")
        out["plan_gap"] = pd_.get("gap")
        out["plan_status"] = pd_.get("status")
        out["plan_planner"] = pd_.get("planner")
        for name, b in (pd_.get("baselines") or {}).items():
            if isinstance(b, dict) and b.get("makespan_s") is not None:
                out[f"plan_baseline.{name}_makespan_s"] = b["makespan_s"]
    out["artifacts"] = artifacts
    return out
