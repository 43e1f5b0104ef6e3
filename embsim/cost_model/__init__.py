"""Cost model: sharding plans (tables and hot rows to devices and tiers) and SoC core mappings.

Public API:

    plan_for(model, system, stats=None, **planner_options) -> ShardingPlan
        the entry point every caller uses: the core mapping on an SoC with per-core strategies,
        the sharding MIP elsewhere; plan.planner says which
    solve_plan(model, system, stats=None, objective="makespan", energy_weight=0.0, solver="cbc",
               time_limit_s=60, representations=None, batch_size=1024, method="auto") -> ShardingPlan
    solve_core_mapping(model, system, stats=None, solver="cbc", time_limit_s=60, batch_size=1024) -> ShardingPlan
    check_plan(plan, system, model=None) / plan_problems(...)     independent validator
    ShardingPlan, TablePlan, Shard, Representation, load_plan     the plan format (JSON)
    BASELINES                                                     round_robin, size_greedy, lpt
"""
from .plan import Representation, Shard, ShardingPlan, TablePlan, load_plan


def __getattr__(name):
    # solve_plan and friends import PuLP; keep 'import embsim.cost_model' light for plan readers
    if name in ("plan_for", "planner_for"):
        from . import planner as module
        return getattr(module, name)
    if name in ("solve_plan", "instance_for"):
        from . import solve
        return getattr(solve, name)
    if name == "solve_core_mapping":
        from .core_mapping import solve_core_mapping
        return solve_core_mapping
    if name in ("check_plan", "plan_problems"):
        from . import validate
        return getattr(validate, name)
    if name == "BASELINES":
        from .baselines import BASELINES
        return BASELINES
    raise AttributeError(name)


__all__ = ["plan_for", "planner_for", "solve_plan", "solve_core_mapping", "check_plan", "plan_problems", "instance_for", "BASELINES",
           "ShardingPlan", "TablePlan", "Shard", "Representation", "load_plan"]
