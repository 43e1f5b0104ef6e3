"""``embsim colocate``: size a fleet of models on one server type, with co-location.

    embsim colocate examples/fleets/deeprecsys_cpu.yaml -o fleet_plan.json
    embsim colocate FLEET.yaml --json -o fleet_plan.json

Decides which models share a server, how its cores and LLC ways are split
and how many servers of each group are needed (``explorer.colocation_plan``:
a MIP over candidate groups whose capacity comes from the simulator), beside
the baselines (one model per server, round robin pairs, random pairs,
Hera-style pairs), every chosen group validated in simulation.  Prints the
fleet table: method, servers, effective utilisation, worst p99 / SLA.
"""
import json
import logging

import click

from . import force_option, json_option


def format_table(plan) -> list:
    out = [f"fleet '{plan['fleet']}' on {plan['system']} ({plan['simulations']} simulations)",
           f"  {'method':<16} {'servers':>7} {'utilisation':>11} {'worst p99/SLA':>13}  all meet SLA  groups"]
    for name, m in plan["methods"].items():
        groups = ", ".join(f"{g['servers']}x {'+'.join(g['group'])}" + (f" [{g['split']}]" if len(g["group"]) > 1 else "")
                           for g in m["groups"])
        out.append(f"  {name:<16} {m['servers']:>7} {m['utilisation'] * 100:>10.1f}% {m['worst_p99_over_sla']:>13.3f}"
                   f"  {'yes' if m['all_meet_sla'] else 'NO':<12}  {groups}")
    return out


@click.command("colocate")
@click.argument("fleet_path", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Fleet plan JSON to write.")
@click.option("--triples", is_flag=True, help="Also consider groups of three models (more simulations).")
@force_option
@json_option
def colocate(fleet_path, output, triples, force, as_json):
    """Size a fleet of models on one server type, with co-location."""
    from ..explorer.colocation_plan import plan_fleet
    from ..explorer.fleet import load_fleet
    from ..fileio import check_output, write_text

    check_output(output, force, inputs=(fleet_path,))        # before simulating
    fleet = load_fleet(fleet_path)
    logging.getLogger().setLevel(logging.ERROR)              # torchrec's planner warns per table
    plan = plan_fleet(fleet, triples=triples)
    write_text(output, json.dumps(plan, indent=2, sort_keys=False) + "\n", force=force)
    if as_json:
        click.echo(json.dumps({"plan": output, "methods": {k: {x: v[x] for x in ("servers", "utilisation",
                               "worst_p99_over_sla", "all_meet_sla")} for k, v in plan["methods"].items()}}, indent=2))
    else:
        for line in format_table(plan):
            click.echo(line)
        click.echo(f"wrote {output}")
