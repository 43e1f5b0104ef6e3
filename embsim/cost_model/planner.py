"""plan_for: the one planner entry point, which picks the planner from what the system offers.

    plan = plan_for(model, system)                                  # stats from the model's distributions
    plan = plan_for(model, system, stats, representations="fp32,int8", solver="highs", time_limit_s=10)
    plan.planner                                                    # "sharding_mip" or "core_mapping"

A system that offers per-core lookup strategies (``hw_models.protocols.
PerCoreStrategies``: an Ascend-style SoC) is planned by the core-mapping MIP
(:mod:`.core_mapping`: tables to cores, each with a strategy); every other
system by the sharding MIP (:func:`.solve.solve_plan`: tables and hot rows to
devices and tiers).  The choice is by type, never by family name, so a new
family that offers the protocol is mapped core by core without touching this
file.  Every caller (``embsim shard``, ``simulate``, ``explore``, the demo,
the notebooks) plans through here, so the same inputs give the same plan
whichever command asks, and the plan records the planner that made it.

Planner options (the same for every command, see ``embsim/cli/planning.py``):
``solver`` (cbc | highs), ``time_limit_s``, ``representations`` (None, a
comma string or list), ``objective`` (makespan | makespan+energy),
``energy_weight`` (s/J), ``batch_size``.  The core mapping minimises the
makespan only and stores every table in one dense dtype; asking it for an
energy weight is refused with a one-line InputError, not ignored.
"""
from __future__ import annotations

import math

from ..errors import InputError
from ..hw_models.protocols import PerCoreStrategies
from .plan import ShardingPlan

DEFAULT_BATCH_SIZE = 1024
DEFAULT_TIME_LIMIT_S = 60.0
PLANNERS = ("sharding_mip", "core_mapping")
# options only the sharding MIP has (Python API; the CLI does not expose them)
MIP_ONLY = ("method", "split", "max_collision_share", "coalescing", "replicate", "columns", "torchrec_baseline")
# options only the core mapping has (Python API; its ablations: the default split only, fewer strategies)
CORE_ONLY = ("asymmetric", "strategies")


def planner_for(system) -> str:
    """The planner ``plan_for`` uses on ``system``: "core_mapping" or "sharding_mip"."""
    return "core_mapping" if isinstance(system, PerCoreStrategies) else "sharding_mip"


def plan_for(model, system, stats=None, *, solver: str = "cbc", time_limit_s: float = DEFAULT_TIME_LIMIT_S,
             representations=None, objective: str = "makespan", energy_weight: float = 0.0,
             batch_size: int = DEFAULT_BATCH_SIZE, gap_rel: float | None = None, **mip_options) -> ShardingPlan:
    """The plan of ``model`` on ``system`` by the planner the system's protocols call for (module doc)."""
    if not (isinstance(time_limit_s, (int, float)) and time_limit_s > 0 and math.isfinite(time_limit_s)):
        raise InputError(f"time limit: {time_limit_s} s (expected a finite number of seconds > 0)")
    if not (isinstance(batch_size, int) and batch_size > 0):
        raise InputError(f"batch size: {batch_size} (expected a positive integer)")
    planner = planner_for(system)
    options: dict = {}
    if planner == "core_mapping":
        if objective != "makespan" and energy_weight:
            raise InputError(f"objective {objective} (energy weight {energy_weight:g} s/J): the core mapping of "
                             f"system '{system.name}' minimises the makespan only; omit --objective/--energy-weight")
        mip_options.pop("torchrec_baseline", None)     # nothing to skip: TorchRec plans no SoC cores
        core_options = {k: mip_options.pop(k) for k in CORE_ONLY if k in mip_options}
        options.update(core_options)
        unknown = sorted(set(mip_options))
        if unknown:
            raise InputError(f"planner options {', '.join(unknown)}: only the sharding MIP has them, and system "
                             f"'{system.name}' is planned by the core mapping")
        plan = _core_mapping(model, system, stats, representations, solver=solver, time_limit_s=time_limit_s,
                             batch_size=batch_size, **({} if gap_rel is None else {"gap_rel": gap_rel}), **options)
    else:
        bad = sorted(set(mip_options) - set(MIP_ONLY))
        if bad:
            raise InputError(f"planner options {', '.join(bad)}: unknown (expected solver, time_limit_s, "
                             f"representations, objective, energy_weight, batch_size, gap_rel, method, split, "
                             f"max_collision_share)")
        from .solve import solve_plan
        plan = solve_plan(model, system, stats=stats, objective=objective, energy_weight=energy_weight,
                          solver=solver, time_limit_s=time_limit_s, representations=representations,
                          batch_size=batch_size, gap_rel=gap_rel, **mip_options)
    plan.planner = planner
    return plan


def _core_mapping(model, system, stats, representations, time_limit_s, **options) -> ShardingPlan:
    """The core mapping; with several dense dtypes allowed, one solve per dtype, the fastest kept.

    The core mapping stores every table in one dense dtype, so "fp32,int8"
    means: map the model at fp32 and at int8 (the time limit shared between
    the solves) and keep the lower makespan; a dtype under which the tables
    do not fit global memory is skipped (its reason kept for the error).
    """
    from .core_mapping import solve_core_mapping
    from .representations import parse_allowed
    from ..workloads.model import DTYPE_BYTES
    allowed = parse_allowed(representations)
    if len(allowed) == 1:
        return solve_core_mapping(model, system, stats=stats, time_limit_s=time_limit_s,
                                  representations=representations, **options)
    other = [a for a in allowed if a != "own" and a not in DTYPE_BYTES]
    if other:
        raise InputError(f"representations: {','.join(other)}: the core mapping of system '{system.name}' serves "
                         "every table in one dense dtype (give fp32, fp16, int8 or int4)")
    plans, refused = [], []
    share_s = time_limit_s / len(allowed)
    for a in allowed:
        try:
            plans.append(solve_core_mapping(model, system, stats=stats, time_limit_s=share_s,
                                            representations=None if a == "own" else a, **options))
        except InputError as e:
            refused.append(f"{a}: {e}")
    if not plans:
        raise InputError(refused[-1])
    best = min(plans, key=lambda p: p.makespan_s)
    best.solve_time_s = sum(p.solve_time_s for p in plans)
    best.notes.append(f"core mapping solved once per allowed dtype ({', '.join(allowed)}), "
                      f"{share_s:.3g} s each; kept {best.tables[0].representation.label}, the lowest makespan"
                      + ("".join(f"; skipped {r}" for r in refused)))
    return best


__all__ = ["plan_for", "planner_for", "PLANNERS"]
