"""The planner options every command that plans accepts, declared once.

    @click.command("shard")
    @planner_options
    def shard(..., planner):          # planner: dict of the options given, for cost_model.plan_for

``embsim shard``, ``simulate``, ``explore`` and ``demo`` all plan through
``cost_model.planner.plan_for``, so they share one set of options with one
meaning: ``--solver``, ``--time-limit``, ``--representations``,
``--objective``, ``--energy-weight``, ``--max-collision-share``, ``--columns`` and
``--no-torchrec-baseline``.  The command receives them as one
keyword ``planner``: a dict holding only the options given on the command
line (keys as ``plan_for`` spells them), so each command keeps its own
defaults (a design space's ``plan:`` settings, the demo's per-system
representations) for the rest.  ``--energy-weight`` without ``--objective``
means ``--objective makespan+energy``.
"""
from __future__ import annotations

import functools
import math

import click

from ..errors import InputError

SOLVERS = ("cbc", "highs")
OBJECTIVES = ("makespan", "makespan+energy")
FLAGS = {"solver": "--solver", "time_limit_s": "--time-limit", "representations": "--representations",
         "objective": "--objective", "energy_weight": "--energy-weight",
         "max_collision_share": "--max-collision-share", "columns": "--columns",
         "torchrec_baseline": "--no-torchrec-baseline"}

_OPTIONS = (
    click.option("--solver", type=click.Choice(SOLVERS), default=None,
                 help="MIP solver (default cbc; CBC ships with PuLP, HiGHS is the alternative)."),
    click.option("--time-limit", "time_limit_s", type=float, default=None,
                 help="Seconds for the whole solve (default 60; a design space's plan.time_limit_s)."),
    click.option("--representations", default=None,
                 help="Allowed representations, comma separated: fp32,fp16,int8,int4,tt and the row-sharing "
                      "hash:R, qr:R, cafe:R[:LEVELS], memrec:R[:K] with a compression ratio 0 < R < 1 (default: "
                      "each table's own dtype; others change accuracy, which embsim does not model).  The core "
                      "mapping of an SoC takes one dense dtype."),
    click.option("--objective", type=click.Choice(OBJECTIVES), default=None,
                 help="What the planner minimises (default makespan)."),
    click.option("--energy-weight", "energy_weight", type=float, default=None,
                 help="Seconds per joule added to the makespan (implies --objective makespan+energy)."),
    click.option("--max-collision-share", "max_collision_share", type=float, default=None,
                 help="No table may take a row-sharing representation (hash, qr, cafe, memrec) whose predicted "
                      "share of lookups colliding with another feature exceeds this (0..1; a quality proxy)."),
    click.option("--columns", "columns", is_flag=True, default=None,
                 help="Let the sharding MIP also cut whole dense tables column-wise (dim/K columns on each of K = 2 "
                      "or 4 devices, every shard reading every lookup); off by default.  Multi-device systems "
                      "planned by the sharding MIP only (not an SoC's core mapping)."),
    click.option("--no-torchrec-baseline", "no_torchrec_baseline", is_flag=True, default=None,
                 help="Do not plan TorchRec's own sharding as a baseline beside embsim's (done after the solve, "
                      "outside --time-limit, when torchrec is installed: minutes on hundreds of tables).  An SoC's "
                      "core mapping has no such baseline."),
)


def planner_settings(solver=None, time_limit_s=None, representations=None, objective=None,
                     energy_weight=None, max_collision_share=None, columns=None,
                     no_torchrec_baseline=None) -> dict:
    """The options given, checked, as ``plan_for`` keywords (InputError naming the option)."""
    if time_limit_s is not None and not (time_limit_s > 0 and math.isfinite(time_limit_s)):
        raise InputError(f"--time-limit: {time_limit_s} (expected a finite number of seconds > 0)")
    if energy_weight is not None:
        if not (energy_weight >= 0 and math.isfinite(energy_weight)):
            raise InputError(f"--energy-weight: {energy_weight} (expected seconds per joule >= 0)")
        if objective == "makespan" and energy_weight > 0:
            raise InputError(f"--energy-weight {energy_weight:g}: only with --objective makespan+energy "
                             "(--objective makespan ignores energy)")
        if objective is None:
            objective = "makespan+energy"
    if max_collision_share is not None and not 0.0 <= max_collision_share <= 1.0:
        raise InputError(f"--max-collision-share: {max_collision_share} (expected a share of lookups in [0, 1])")
    given = {"solver": solver, "time_limit_s": time_limit_s, "representations": representations,
             "objective": objective, "energy_weight": energy_weight, "max_collision_share": max_collision_share,
             "columns": True if columns else None,
             "torchrec_baseline": False if no_torchrec_baseline else None}
    return {k: v for k, v in given.items() if v is not None}


def planner_options(command):
    """Decorator: add the planner options; the command gets them as ``planner`` (see module doc)."""
    @functools.wraps(command)
    def wrapper(*args, solver, time_limit_s, representations, objective, energy_weight, max_collision_share,
                columns, no_torchrec_baseline, **kwargs):
        planner = planner_settings(solver, time_limit_s, representations, objective, energy_weight,
                                   max_collision_share, columns, no_torchrec_baseline)
        return command(*args, planner=planner, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def refuse_with_plan(planner: dict, plan_path) -> None:
    """A command given a finished plan cannot also take planner options: say so instead of ignoring them."""
    if plan_path is not None and planner:
        names = ", ".join(FLAGS[k] for k in planner)
        raise InputError(f"{names}: planner options apply only without --plan (the plan {plan_path} is already made)")
