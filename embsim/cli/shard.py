"""``embsim shard``: solve a sharding plan for a model on a system and write it as JSON.

    embsim shard --model dlrm_dcnv2_criteo1tb --system screc_4x_smartssd -o plan.json
    embsim shard --model M --system S --trace T.npz --solver highs --time-limit 30 \\
                 --representations fp32,int8,tt -o plan.json --json

Prints, per device and tier, bytes used against capacity and the predicted
time per batch with the imbalance; per table (the 20 most loaded, all with
``--all-tables``), its placement, representation and hot share per tier; and
the baselines' makespans beside the MIP's.  The planner is the one
``cost_model.planner.plan_for`` picks: on a system with per-core lookup
strategies (an Ascend-style SoC) the core mapping (tables to cores with a
lookup strategy), elsewhere the sharding MIP.  The planner options are those
of every command that plans (``embsim/cli/planning.py``).
"""
import dataclasses
import json
from collections import defaultdict

import click

from . import force_option, json_option
from .options import MAX_BATCH_SIZE, count
from ..errors import InputError
from ..workloads.profile import IN_SAMPLE
from .planning import planner_options
from .profiling import open_profile, profile_options

TABLES_SHOWN = 20


def _gb(b):
    if b >= 1e9:
        return f"{b / 1e9:.2f} GB"
    if b >= 1e6:
        return f"{b / 1e6:.2f} MB"
    return f"{b / 1e3:.1f} kB"


def _us(s):
    """A time per batch in the unit that keeps three significant digits readable."""
    if s is None:
        return "-"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(s) >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def format_plan(plan, system, all_tables=False):
    """The readable report of a plan (list of lines)."""
    out = [f"plan for model '{plan.model}' on system '{plan.system}' (batch of {plan.batch_size} samples)",
           f"  planner {plan.planner or '-'}, method {plan.method}, solver {plan.solver}, status {plan.status}, solve time {plan.solve_time_s:.2f} s"]
    gap = "unknown" if plan.gap is None else f"{plan.gap * 100:.2f}%"
    comm = getattr(plan, "comm_makespan_s", None)
    obj = plan.objective if comm is not None and plan.objective is not None else plan.makespan_s
    what = "objective (lookups + all-to-all)" if comm is not None else "makespan"
    out.append(f"  makespan {_us(plan.makespan_s)} per batch" + (f" + all-to-all {_us(comm)}" if comm is not None else "")
               + f", best bound {_us(plan.best_bound_s)}, gap {gap}")
    if getattr(plan, "bound_rule", ""):
        out.append(f"  bound: {plan.bound_rule}")
    shardings = sorted({t.sharding for t in plan.tables if getattr(t, "sharding", "")})
    if shardings:
        out.append("  sharding types: " + ", ".join(f"{k} x{sum(t.sharding == k for t in plan.tables)}" for k in shardings))
    for name, b in plan.baselines.items():
        if b.get("makespan_s") is None:
            out.append(f"  baseline {name:<12} infeasible: {b.get('infeasible', '')}")
        else:
            ref = b.get("objective") if comm is not None and b.get("objective") else b["makespan_s"]
            gain = 1 - obj / ref if ref else 0.0
            out.append(f"  baseline {name:<12} {what} {_us(ref)}  (plan is {gain * 100:.1f}% lower)")
    out.append("")
    times = plan.device_time_s
    mean = sum(times.values()) / len(times) if times else 0.0
    out.append(f"  {'device':<10} {'tier':<10} {'used':>11} {'capacity':>11}  {'time/batch':>12}  load/mean")
    for s in system.slots():
        used = plan.pool_used_B.get(s.pool_key, 0.0)
        cap = plan.pool_capacity_B.get(s.pool_key, s.capacity_B)
        t = times.get(s.device)
        shared = " (shared)" if s.pool else ""
        first = s.rank == min(x.rank for x in system.slots() if x.device == s.device)
        tcol = f"{_us(t):>12}  {t / mean:.3f}" if first and t is not None and mean > 0 else ""
        out.append(f"  {s.device:<10} {s.tier:<10} {_gb(used):>11} {_gb(cap):>11}{shared}  {tcol}")
    out.append(f"  imbalance (max / mean device time): {plan.makespan_s / mean:.3f}" if mean > 0 else "")
    out.append("")
    rows = []
    for t in plan.tables:
        per_tier = defaultdict(float)
        devs = []
        for s in t.shards:
            key = s.tier if s.core is None else f"{s.tier}:{s.strategy}"
            per_tier[key] += s.access_share
            d = s.device if s.core is None else f"core{s.core}"
            if d not in devs:
                devs.append(d)
        rows.append((t, devs, per_tier))
    shown = rows if all_tables else rows[:TABLES_SHOWN]
    out.append(f"  {'table':<14} {'repr':<9} {'saving':>6}  {'devices':<22} hot share per tier")
    for t, devs, per_tier in shown:
        r = t.representation
        dv = ",".join(devs) if len(devs) <= 3 else f"{devs[0]},... ({len(devs)})"
        tiers = "  ".join(f"{k} {v * 100:.1f}%" for k, v in per_tier.items())
        out.append(f"  {t.table:<14} {r.label:<9} {r.memory_saving * 100:5.1f}%  {dv:<22} {tiers}")
    if len(rows) > len(shown):
        out.append(f"  ... {len(rows) - len(shown)} more tables (--all-tables to list them)")
    for n in plan.notes:
        out.append(f"  note: {n}")
    return out


@click.command("shard")
@click.option("--model", "model_name", required=True, help="Model preset name or YAML path.")
@click.option("--system", "system_name", required=True, help="System preset name or YAML path.")
@click.option("--trace", "trace_path", type=click.Path(path_type=str), default=None,
              help="Trace (.npz or .trace) whose measured statistics replace the model's access distributions.")
@click.option("--batch-size", type=count(1, MAX_BATCH_SIZE), default=None, help="Samples per batch (default: the trace's, else 1024).")
@click.option("--all-tables", is_flag=True, help="List every table, not only the first 20.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Plan JSON to write.")
@planner_options
@profile_options
@force_option
@json_option
def shard(model_name, system_name, trace_path, batch_size, all_tables, output, force, as_json, planner, profile):
    """Solve a sharding plan for a model on a system."""
    from ..cost_model.planner import DEFAULT_BATCH_SIZE, plan_for
    from ..cost_model.validate import check_plan
    from ..fileio import check_output
    from ..hw_models.loader import load_system
    from ..workloads.model import load_model

    check_output(output, force, inputs=(model_name, system_name, trace_path, profile["profile"]))   # before solving
    model = load_model(model_name)
    system = load_system(system_name)
    stats, note = None, None
    prof = open_profile(profile, model)
    if prof == IN_SAMPLE and trace_path is None:
        raise InputError("--profile in-sample: needs --trace (the trace that is its own profile)")
    if trace_path is not None or prof is not None:
        from ..workloads.profile import profile_stats, split
        from ..workloads.stats import trace_stats
        from ..workloads.store import open_trace
        from ..workloads.trace import check_matches
        trace = None
        if trace_path is not None:
            trace = check_matches(open_trace(trace_path), model, trace_path)   # as simulate checks the same pair
        held = split(trace, prof, profile["share"], source=trace_path) if trace is not None else None
        source = held.profile if held is not None else prof
        # read chunk by chunk; held out unless in-sample (the plan predicts another trace: extrapolate unseen rows)
        stats = profile_stats(held) if held is not None else dataclasses.replace(trace_stats(source), held_out=True)
        info = held.profile_info if held is not None else {"source": profile["profile"], "kind": "file",
                                                           "batches": [0, source.n_batches]}
        note = (f"profile: {info['source']} batches [{info['batches'][0]}, {info['batches'][1]}) "
                f"({info['kind']}); the plan's coverage curves come from it")
        if batch_size is None:
            batch_size = int(trace.batch_size if trace is not None else stats.batch_size)
    batch_size = batch_size or DEFAULT_BATCH_SIZE
    plan = plan_for(model, system, stats, batch_size=batch_size, **planner)
    if note:
        plan.notes.append(note)
    check_plan(plan, system, model)
    plan.save(output, force=force)
    if as_json:
        click.echo(json.dumps({"plan": output, "makespan_s": plan.makespan_s, "best_bound_s": plan.best_bound_s,
                               "gap": plan.gap, "status": plan.status, "solver": plan.solver,
                               "solve_time_s": plan.solve_time_s, "method": plan.method, "planner": plan.planner,
                               "device_time_s": plan.device_time_s, "baselines": plan.baselines,
                               "notes": plan.notes}, indent=2))
    else:
        for line in format_plan(plan, system, all_tables):
            click.echo(line)
        click.echo(f"wrote {output}")
