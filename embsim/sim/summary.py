"""A SimResult from an engine run: throughput, latency, bytes, bandwidth, energy, provenance.

Each figure's scope (window, every batch) is the module docstring of
:mod:`embsim.sim.simulate`; ``config_hash`` hashes the inputs that decide a
result, never its solve's outputs.
"""
import functools
import hashlib
import json
import math
import platform
from dataclasses import asdict

import numpy as np
import simpy

from .. import __version__
from . import steady
from .result import SimResult

def _resource_set(key, resources):
    """The resources whose service moves the bytes of ``key`` (a part, tier or link)."""
    if key in resources:
        return (key,)
    head = key.split(".")[0]
    if head in resources:
        return (head,)
    return None


def _charge_costs(run, resources):
    """Bytes moved (every batch), bytes moved inside the window and actions inside the window, summed
    over the distinct cost objects (a cached batch cost serves many batches) with per-batch window shares."""
    index: dict = {}
    unique, which = [], np.empty(run.n_batches, dtype=np.int64)
    for b, cost in enumerate(run.costs):
        j = index.get(id(cost))
        if j is None:
            j = index[id(cost)] = len(unique)
            unique.append(cost)
        which[b] = j
    n = len(unique)
    count = np.bincount(which, minlength=n).astype(np.float64)
    full = np.bincount(which, weights=run.window_share(None), minlength=n)
    shares: dict = {}
    moved, moved_window, actions = {}, {}, {}
    for j, cost in enumerate(unique):
        for k, v in cost.bytes.items():
            moved[k] = moved.get(k, 0.0) + v * count[j]
            rs = _resource_set(k, resources)
            if rs not in shares:
                shares[rs] = np.bincount(which, weights=run.window_share(rs), minlength=n)
            moved_window[k] = moved_window.get(k, 0.0) + v * shares[rs][j]
        for k, v in cost.actions.items():
            actions[k] = actions.get(k, 0.0) + v * full[j]
    return ({k: float(v) for k, v in moved.items()}, {k: float(v) for k, v in moved_window.items()},
            {k: float(v) for k, v in actions.items()})


def summarise(run, sim, config, seed, notes):
    """SimResult of an EngineRun (see the module docstring for each figure's scope)."""
    system, nt = sim.system, sim.trace.n_batches
    overloaded, arrival_qps, capacity_qps = steady.overload(run)
    if overloaded:                       # measure over the completions: throughput is the capacity
        run.window_override = steady.departure_window(run)
    T = run.duration_s
    t0, t1 = run.window_s
    lat = run.latency_s()
    done = run.completed_in_window()
    n_done = int(run.batch_queries[done].sum())
    trace_batch = np.arange(run.n_batches) % nt
    scale = run.batch_queries / sim.batch_size
    lookups_done = float((sim.batch_lookups[trace_batch] * scale)[done].sum())

    # bytes: requested (replay counters, every simulated batch) and moved (the hardware model)
    c = sim.counters
    requested = {}
    for li, loc in enumerate(sim.locations):
        for lj, lvl in enumerate(c.level_names[li]):
            per = c.bytes[trace_batch, li, lj] * scale
            key = f"{loc.device}.{lvl}"
            requested[key] = requested.get(key, 0.0) + float(per.sum())
    moved, moved_window, actions = _charge_costs(run, system.resources())
    peak = system.peak_bandwidth_Bps()
    bandwidth = {k: v / T for k, v in sorted(moved_window.items())}

    energy = energy_summary(system.energy_J(actions, T), T, n_done)

    L, lam, W = run.mean_in_system(), run.arrival_rate_qps(), float(run.sample_latency_s().mean())
    littles = {"mean_queries_in_system": L, "arrival_rate_qps": lam, "mean_latency_s": W,
               "relative_error": abs(L - lam * W) / (lam * W) if 0 < lam * W < math.inf else 0.0}
    steady_flag, steady_reason = steady.check(run, littles["relative_error"], overloaded, arrival_qps, capacity_qps)
    q = np.quantile(lat, [0.5, 0.95, 0.99])
    result = SimResult(
        model=sim.model.name, system=system.name, family=system.family, config=config,
        window={"start_s": t0, "end_s": t1, "duration_s": T, "warmup_queries": int(run.first_measured_query),
                "warmup_batches": int(run.warmup_batches), "measured_queries": int(lat.size),
                "completed_queries": n_done, "simulated_batches": int(run.n_batches),
                "note": ("figures cover the window from the first measured arrival to the last arrival; "
                         "warm-up excluded, drain excluded from throughput; bytes_B cover every batch")},
        throughput={"queries_per_s": n_done / T, "lookups_per_s": lookups_done / T,
                    "batches_per_s": int(done.sum()) / T},
        latency={"mean_s": W, "p50_s": float(q[0]), "p95_s": float(q[1]), "p99_s": float(q[2]),
                 "max_s": float(lat.max())},
        littles_law=littles,
        steady_state=steady_flag, steady_state_reason=steady_reason,
        stage_time_s=run.stage_time_s(),
        bytes_B={"requested": dict(sorted(requested.items())), "moved": dict(sorted(moved.items()))},
        bandwidth_Bps=bandwidth,
        peak_bandwidth_Bps={k: float(v) for k, v in sorted(peak.items())},
        utilisation_fraction={k: round(v, 12) for k, v in run.utilisation().items()},
        queueing_delay_s=run.queueing_delay_s(),
        quality=sim.quality,
        energy=energy,
        provenance={"seed": seed, "config_hash": config_hash(sim, config, seed),
                    "versions": {"embsim": __version__, "numpy": np.__version__, "simpy": simpy.__version__,
                                 "python": platform.python_version()}},
        notes=notes)
    return result


def energy_summary(energy, elapsed_s, queries):
    """SimResult.energy from ``System.energy_J``: totals, per query, per part (static and dynamic, with
    the part's preset and the source of its static power) and per action."""
    total, static, dynamic = float(energy["total_J"]), float(energy["static_J"]), float(energy["dynamic_J"])
    per = (lambda j: j / queries) if queries else (lambda j: None)
    by_part = {p: {"static_J": float(v["static_J"]), "dynamic_J": float(v["dynamic_J"]), "preset": v["preset"],
                   "static_power_source": v["static_power_source"]} for p, v in sorted(energy["by_part"].items())}
    return {"total_J": total, "static_J": static, "dynamic_J": dynamic,
            "per_query_J": per(total), "static_per_query_J": per(static), "dynamic_per_query_J": per(dynamic),
            "average_power_W": total / elapsed_s, "by_part": by_part,
            "by_action_J": {f"{p}:{a}": float(j) for (p, a), j in sorted(energy["dynamic"].items())}}


# Fields of a plan that record how its solve went (outputs), not what was asked: never hashed.
PLAN_OUTPUT_FIELDS = ("solve_time_s", "notes")


def _hashed_config(config):
    """The run settings that decide a result: the config without the plan's record and without the
    traces' sources (a path names a file; the digests stand for its content)."""
    out = {k: v for k, v in config.items() if k != "plan"}
    for k in ("trace", "profile"):
        if isinstance(out.get(k), dict):
            out[k] = {f: v for f, v in out[k].items() if f != "source"}
    return out


@functools.lru_cache(maxsize=8)
def _model_record(model) -> dict:
    """``asdict`` of a (frozen, so hashable) ModelSpec, once per model: a sweep or `embsim reproduce`
    hashes the same 856-table model hundreds of times.  Read only: ``json.dumps`` never edits it."""
    return asdict(model)


def config_hash(sim, config, seed):
    """sha256 of the inputs that decide the result: model, system, plan, trace, run settings, seed.

    Inputs only: a plan given to the simulation is hashed without its solve's wall time and notes;
    a plan the simulation solved itself is represented by the planner settings it was solved with
    (a solve is an output, and a time-limited one may differ between runs); the config's record of
    the plan's status and predicted makespan is left out for the same reason.
    """
    params = sim.system.params
    solved_with = getattr(sim, "solved_with", None)
    plan = ({"solved_with": solved_with, "batch_size": int(sim.batch_size)} if solved_with is not None else
            sim.plan_record)
    blob = {"model": _model_record(sim.model), "system": params.model_dump(mode="json") if hasattr(params, "model_dump") else repr(params),
            "plan": plan, "trace": sim.trace_digest.value, "config": _hashed_config(config),
            "profile": None if getattr(sim, "profile_digest", None) is None else sim.profile_digest.value,
            "seed": seed}
    text = json.dumps(blob, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()
