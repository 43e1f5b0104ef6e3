"""``embsim simulate``: queries through a system, with throughput, tail latency, bandwidth and energy.

    embsim simulate --model M --system S [--plan PLAN.json] [--trace T.npz]
                    [--qps Q | --closed-loop] [--queries N] [--batch-size B] [--seed S]
                    [--representations R] [--solver cbc|highs] [--time-limit SEC]
                    [--layout identity|frequency|coaccess|random] [--json] [-o R.json] [--force]

The plan (when solved here) and the row-to-tier map come from a profile trace,
the figures from a disjoint evaluation trace: ``--profile P.npz`` names it, by
default the first half of the trace's batches profile (``cli/profiling.py``).
Without ``--plan`` the cost model solves one (``cost_model.planner.plan_for``:
the core mapping on an SoC with per-core strategies, the sharding MIP
elsewhere) with the planner options every planning command shares
(``--solver``, ``--time-limit``, ``--representations``, ``--objective``,
``--energy-weight``); without ``--trace`` a trace is
generated from the model's access distributions (seeded).  ``--qps`` gives
Poisson arrivals at that rate; the default, ``--closed-loop``, keeps a fixed
number of batches in flight and finds the peak throughput.  A trace with
timestamps can drive arrivals with ``--arrival trace``.
"""
import json

import click

from ..errors import InputError
from ..fileio import check_output
from . import force_option, json_option
from .options import MAX_BATCH_SIZE, MAX_IN_FLIGHT, MAX_QUERIES, SEED, FiniteFloat, count
from .planning import planner_options, refuse_with_plan
from .profiling import open_profile, profile_options


# Memory one simulated query takes: its arrival, completion and latency times and the arrays around them.
BYTES_PER_QUERY = 64


def _si(x, unit):
    """A number with an SI prefix: 1.23 G{unit}."""
    if x is None:
        return "n/a"
    for scale, p in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {p}{unit}"
    return f"{x:.3g} {unit}"


def _quality_lines(q):
    """One line of quality proxies when a table is compressed (row sharing or a narrower dtype)."""
    if not q or not (q.get("collision_share") or q.get("max_rel_error_bound")):
        return []
    return [f"  quality      collision share {q['collision_share']:.1%} of lookups, error bound "
            f"{q['max_rel_error_bound']:.3g} (proxies: accuracy is not simulated)"]


def _trace_lines(c):
    """Where the profile and the evaluation trace came from (kind, source, batches, lookups)."""
    p, t = c.get("profile"), c.get("trace")
    if not p or not t:
        return []
    def one(d):
        return f"{d['source']} batches [{d['batches'][0]}, {d['batches'][1]}), {d['lookups']:,} lookups"
    if p["kind"] == "in-sample":
        return [f"  profile      in-sample (the replayed trace ranks its own rows): {one(t)}"]
    return [f"  profile      {one(p)}", f"  evaluation   {one(t)}"]


def summary_text(r):
    """A readable summary of a SimResult."""
    c, w = r.config, r.window
    arrival = (f"closed loop, {c['in_flight_batches']} batches in flight" if c["arrival"] == "closed"
               else f"Poisson at {c['qps_target']:g} queries/s" if c["arrival"] == "poisson" else "trace timestamps")
    lines = [
        f"{r.model} on {r.system} ({r.family}): {c['queries']} queries in batches of {c['batch_size']}, {arrival}",
        *_trace_lines(c),
        f"  window {_si(w['duration_s'], 's')} after {w['warmup_queries']} warm-up queries; "
        f"{w['completed_queries']} queries completed in it",
        f"  throughput   {_si(r.throughput['queries_per_s'], 'queries/s')}   {_si(r.throughput['lookups_per_s'], 'lookups/s')}",
        "  latency      " + "   ".join(f"{k[:-2]} {_si(r.latency[k], 's')}" for k in ("p50_s", "p95_s", "p99_s", "max_s")),
        "  stage time   " + "   ".join(f"{k} {_si(v, 's')}" for k, v in r.stage_time_s.items() if v > 0),
        f"  energy       {_si(r.energy['per_query_J'], 'J')}/query   average power {_si(r.energy['average_power_W'], 'W')}",
        *_quality_lines(r.quality),
        "",
        f"  {'part / link':<22} {'moved':>12} {'bandwidth':>14} {'peak':>14} {'share':>7}",
    ]
    peak = r.peak_bandwidth_Bps
    for k, bw in r.bandwidth_Bps.items():
        p = peak.get(k)
        share = f"{bw / p:7.1%}" if p else "       "
        lines.append(f"  {k:<22} {_si(r.bytes_B['moved'][k], 'B'):>12} {_si(bw, 'B/s'):>14} "
                     f"{_si(p, 'B/s') if p else '':>14} {share}")
    lines += ["", f"  {'resource':<22} {'utilisation':>11}"]
    for k, u in sorted(r.utilisation_fraction.items(), key=lambda kv: -kv[1])[:12]:
        lines.append(f"  {k:<22} {u:>11.1%}")
    if len(r.utilisation_fraction) > 12:
        lines.append(f"  ... {len(r.utilisation_fraction) - 12} more resources (see --json)")
    lines.append("")
    lines.append(f"  bottleneck: {r.bottleneck[0]} ({r.bottleneck[1]:.1%} busy)")
    lines.append("  steady state: yes" if r.steady_state else f"  steady state: NO: {r.steady_state_reason}")
    for n in r.notes:
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def _checked_arrival(qps, closed_loop, arrival, queries, batch_size, in_flight, batch_timeout):
    """The arrival process the options ask for, or an InputError naming the options that clash."""
    if qps is not None and closed_loop:
        raise InputError("--qps and --closed-loop: choose one (Poisson arrivals at a rate, or a closed loop)")
    if arrival is None:
        arrival = "poisson" if qps is not None else "closed"
    if arrival == "poisson" and qps is None:
        raise InputError("--arrival poisson: needs --qps (queries per second)")
    if arrival != "poisson" and qps is not None:
        raise InputError(f"--qps: only with Poisson arrivals, not --arrival {arrival}")
    if closed_loop and arrival != "closed":
        raise InputError(f"--closed-loop and --arrival {arrival}: choose one")
    for name, v in (("--queries", queries), ("--batch-size", batch_size), ("--in-flight", in_flight)):
        if v is not None and v < 1:
            raise InputError(f"{name}: {v}: expected a positive integer")
    if qps is not None and not qps > 0:
        raise InputError(f"--qps: {qps}: expected an arrival rate > 0 queries/s")
    if batch_timeout is not None and not batch_timeout > 0:
        raise InputError(f"--batch-timeout: {batch_timeout}: expected a time > 0 s")
    return arrival


def _checked_plan(plan_path, model, system):
    """The plan at ``plan_path``, checked against the model and system by shard's own validator."""
    from ..cost_model.plan import load_plan
    from ..cost_model.validate import plan_problems
    plan = load_plan(plan_path)
    if plan.model != model.name:
        raise InputError(f"{plan_path}: model: the plan is for '{plan.model}', not '{model.name}'")
    if plan.system != system.name:
        raise InputError(f"{plan_path}: system: the plan is for '{plan.system}', not '{system.name}'")
    problems = plan_problems(plan, system, model)          # the validator shard uses, before any work
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise InputError(f"{plan_path}: {problems[0]}{more}")
    return plan


@click.command("simulate")
@click.option("--model", "model_name", required=True, help="Model preset name or YAML file.")
@click.option("--system", "system_name", required=True, help="System preset name or YAML file.")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), default=None,
              help="Sharding plan JSON (embsim shard); solved with the cost model if omitted.")
@click.option("--trace", "trace_path", type=click.Path(path_type=str), default=None,
              help="Trace .npz or .trace (read chunk by chunk); generated from the model if omitted.")
@click.option("--qps", type=FiniteFloat(0, min_open=True), default=None, help="Poisson arrivals at this rate (queries/s).")
@click.option("--closed-loop", is_flag=True, help="A fixed number of batches in flight: peak throughput (default).")
@click.option("--arrival", type=click.Choice(["closed", "poisson", "trace"]), default=None,
              help="Arrival process; 'trace' uses the trace's timestamps.")
@click.option("--in-flight", type=count(1, MAX_IN_FLIGHT), default=None, help="Batches in flight in closed loop (default: one per stage).")
@click.option("--queries", type=count(1, MAX_QUERIES), default=None, help="Queries to simulate (default: 32 batches, or the whole trace).")
@click.option("--batch-size", type=count(1, MAX_BATCH_SIZE), default=None, help="Queries per batch (default 1024, or the trace's).")
@click.option("--batch-timeout", type=FiniteFloat(0, min_open=True), default=None,
              help="Seconds a batch waits for more queries before it leaves (default: wait until full).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the trace and the arrivals.")
@click.option("--caches", "cache_policy", type=click.Choice(["none", "lru", "lfu"]), default="none", show_default=True,
              help="Replay the caches the system declares (an LLC, an HBM software cache) with this policy.")
@click.option("--layout", type=click.Choice(["identity", "frequency", "coaccess", "random"]), default=None,
              help="Order of the rows inside every shard; counts the lines, sectors, bursts and pages each batch "
                   "reads (a unit read twice in a batch is read once). Off by default: every lookup reads its own units.")
@planner_options
@profile_options
@json_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the SimResult JSON here.")
@force_option
def simulate(model_name, system_name, plan_path, trace_path, qps, closed_loop, arrival, in_flight, queries,
             batch_size, batch_timeout, seed, cache_policy, layout, as_json, output, force, planner, profile):
    """Simulate queries through a system; print throughput, latency, bandwidth and energy."""
    arrival = _checked_arrival(qps, closed_loop, arrival, queries, batch_size, in_flight, batch_timeout)
    refuse_with_plan(planner, plan_path)
    if queries is not None:
        from ..limits import check_allocation
        check_allocation(queries * BYTES_PER_QUERY, f"--queries {queries}: the arrival, latency and completion "
                         f"times of every query")
    if output:
        check_output(output, force, inputs=(model_name, system_name, plan_path, trace_path, profile["profile"]))

    from ..hw_models.loader import load_system
    from ..sim.shards import caches_from_system
    from ..sim.simulate import simulate as run_simulation
    from ..workloads.model import load_model
    from ..workloads.store import open_trace
    from ..workloads.trace import check_matches

    model = load_model(model_name)
    system = load_system(system_name)
    plan = _checked_plan(plan_path, model, system) if plan_path else None
    trace = open_trace(trace_path) if trace_path else None
    if trace is not None:
        check_matches(trace, model, trace_path)
    prof = open_profile(profile, model)
    result = run_simulation(model, system, plan=plan, trace=trace, arrival=arrival, qps=qps, queries=queries,
                            batch_size=batch_size, seed=seed, batch_timeout_s=batch_timeout, in_flight=in_flight,
                            planner=planner, progress=None, layout=layout, profile=prof, profile_share=profile["share"],
                            caches=caches_from_system(system, cache_policy) if cache_policy != "none" else None)
    if output:
        result.save(output, force=force)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(summary_text(result))
        if output:
            click.echo(f"\nwrote {output}")
    return 0
