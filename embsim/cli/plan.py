"""``embsim plan export`` / ``embsim plan import``: plans to and from TorchRec.

    embsim plan export PLAN.json --format torchrec --system S -o constraints.json
    embsim plan import TORCHREC_PLAN.json --model M --system S -o PLAN.json

See ``embsim/cost_model/torchrec_io.py`` for what maps to what and what is lost.
"""
import json

import click

from ..errors import InputError
from . import force_option


@click.group("plan")
def plan():
    """Export plans as TorchRec constraints; import TorchRec plans to simulate them."""


@plan.command("export")
@click.argument("plan_path", metavar="PLAN.json", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["torchrec"]), default="torchrec", show_default=True)
@click.option("--system", "system_name", default=None, help="System the plan is for (default: the plan's own).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Constraints JSON to write.")
@force_option
def export(plan_path, fmt, system_name, output, force):
    """Write PLAN.json as per-table TorchRec constraints (sharding type, compute kernel, ranks)."""
    from ..cost_model.plan import load_plan
    from ..cost_model.torchrec_io import export_constraints
    from ..fileio import check_output, write_text
    from ..hw_models.loader import load_system
    check_output(output, force)
    p = load_plan(plan_path)
    system = load_system(system_name or p.system)
    if p.system != system.name:
        raise InputError(f"{plan_path}: system: the plan is for '{p.system}', not '{system.name}'")
    out = export_constraints(p, system)
    write_text(output, json.dumps(out, indent=2) + "\n", force=force)
    for n in out["notes"]:
        click.echo(f"note: {n}", err=True)
    click.echo(f"wrote {output} ({len(out['tables'])} tables, world size {out['world_size']})")


@plan.command("import")
@click.argument("source", metavar="TORCHREC_PLAN", type=click.Path(dir_okay=False))
@click.option("--model", "model_name", required=True, help="Model preset name or YAML path.")
@click.option("--system", "system_name", required=True, help="System preset name or YAML path.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="embsim plan JSON to write.")
@force_option
def import_(source, model_name, system_name, batch_size, output, force):
    """Read a TorchRec sharding plan (or exported constraints) into an embsim plan."""
    from ..cost_model.torchrec_io import import_plan
    from ..cost_model.validate import check_plan
    from ..fileio import check_output, read_json_object
    from ..hw_models.loader import load_system
    from ..workloads.model import load_model
    check_output(output, force)
    model, system = load_model(model_name), load_system(system_name)
    p = import_plan(read_json_object(source, "TorchRec plan"), model, system, source=str(source),
                    batch_size=batch_size)
    check_plan(p, system, model)
    p.save(output, force=force)
    click.echo(f"wrote {output} (predicted makespan {p.makespan_s * 1e6:.1f} us per batch of {batch_size})")
