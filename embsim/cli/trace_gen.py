"""``embsim trace gen`` and ``embsim trace fit``.

The ``trace`` group (``trace.py``) maps its ``gen`` and ``fit`` subcommands to
the two click commands here.
"""
import json

import click

from ..errors import InputError
from . import force_option, json_option
from .options import MAX_BATCH_SIZE, MAX_BATCHES, SEED, FiniteFloat, count


def _number(value, name, lo=None):
    if value is None:
        return None
    try:
        v = float(value)
    except ValueError:
        raise InputError(f"--{name} {value!r}: expected a number") from None
    if v != v or (lo is not None and v < lo):
        raise InputError(f"--{name} {value!r}: expected a number >= {lo}")
    return v


@click.command("gen")
@click.option("--model", "-m", "model_name", required=True, help="Model preset name or YAML path.")
@click.option("--batches", "-n", required=True, type=count(1, MAX_BATCHES), help="Number of batches (> 0).")
@click.option("--batch-size", "-b", required=True, type=count(1, MAX_BATCH_SIZE), help="Samples per batch (> 0).")
@click.option("--generator", "-g", type=click.Choice(["uniform", "zipf", "stackdist", "drift"]), default=None,
              help="One generator for every table (default: each table's own access.kind).")
@click.option("--alpha", type=FiniteFloat(0), default=None, help="Zipf exponent for every table (overrides the model).")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Random seed.")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Output trace: T.npz (one file, built in memory) or T.trace (a folder of chunks, written as generated).")
@force_option
def gen(model_name, batches, batch_size, generator, alpha, seed, output, force):
    """Generate a synthetic trace of a model."""
    from ..workloads.generators import write_generated_trace
    from ..workloads.model import load_model
    from ..workloads.store import check_trace_output

    if batches <= 0:
        raise InputError(f"--batches {batches}: expected a positive integer (> 0)")
    if batch_size <= 0:
        raise InputError(f"--batch-size {batch_size}: expected a positive integer (> 0)")
    alpha = _number(alpha, "alpha", lo=0.0)
    check_trace_output(output, force, inputs=(model_name,))    # refuse before spending time generating
    model = load_model(model_name)
    if not str(output).endswith(".trace"):       # a .npz trace is built in memory first
        from ..limits import check_allocation
        lookups = float(batches) * batch_size * model.lookups_per_sample
        check_allocation(lookups * 8 + float(batches) * batch_size * model.n_tables * 4,
                         f"--batches {batches} x --batch-size {batch_size}: {lookups:.3g} lookups of {model.name} "
                         f"(a .npz trace is built in memory; a .trace folder is written chunk by chunk)")
    tr = write_generated_trace(output, model, batches, batch_size, generator=generator, alpha=alpha, seed=seed,
                               progress=True, force=force)
    click.echo(f"wrote {output}: {tr.n_indices:,} lookups, {tr.n_batches} batches x {tr.batch_size} samples, "
               f"{tr.n_tables} tables ({model.name}, generator {tr.meta['generator']}, seed {seed})", err=True)


@click.command("fit")
@click.argument("locality_stats", type=click.Path(dir_okay=False))
@click.option("--generator", "-g", type=click.Choice(["stackdist", "zipf", "mixture"]), default="stackdist",
              show_default=True, help="Generator whose parameters are fitted (mixture: several kinds of tables, "
                                      "fitted to access and row shares).")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Random seed.")
@json_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Sample trace (>= 10M lookups) made with the fitted parameters: T.npz or T.trace.")
@force_option
def fit(locality_stats, generator, seed, as_json, output, force):
    """Fit generator parameters to a dlrm_datasets locality_stats.txt and write a sample trace."""
    from ..workloads.fit import fit_locality
    from ..workloads.locality import BIN_LABELS

    from ..workloads.store import check_trace_output, save_trace
    check_trace_output(output, force, inputs=(locality_stats,))
    res = fit_locality(locality_stats, generator=generator, seed=seed, progress=True)
    save_trace(res.trace, output, force=force)
    d = res.to_dict()
    d["output"] = str(output)
    if as_json:
        click.echo(json.dumps(d, sort_keys=True))
        return
    p = res.params
    click.echo(f"fit of {generator} to {locality_stats} ({res.blocks} block(s) averaged, "
               f"{res.evaluations} trial traces)")
    if generator == "mixture":
        kinds = p["components"]
        click.echo(f"mixture: {len(kinds)} kinds of tables, {sum(c['tables'] for c in kinds)} tables, "
                   f"{d['lookups_per_batch']:,} lookups per batch of {d['batch_size']}")
        for c in kinds:
            click.echo(f"  {c['tables']:5d} x table of {c['rows']:>9,} rows, zipf {c['alpha']}, "
                       f"{c['lookups_per_table']:,} lookups per batch")
    else:
        click.echo("parameters: " + ", ".join(f"{k}={v}" for k, v in p.items() if k != "kind")
                   + f"  (one table, {d['batch_size']} samples x pooling {d['pooling']} = "
                     f"{d['lookups_per_batch']:,} lookups per batch)")
    click.echo(f"{'column size':>16} {'target':>8} {'achieved':>9}")
    for lab, a, b in zip(BIN_LABELS, res.target, res.achieved):
        click.echo(f"{lab:>16} {a:8.3f} {b:9.3f}")
    click.echo(f"total variation distance: {res.tvd:.4f} (on the sample trace)")
    click.echo(f"wrote {output}: {res.trace.n_indices:,} lookups")
