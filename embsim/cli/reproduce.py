"""``embsim reproduce``: the seeds' headline experiments with their drivers and sensitivity.

    embsim reproduce [--only NAME] [--quick] [--json] -o DIR [--force]

Writes ``DIR/reproduce.json`` ({"experiments": [{name, published, measured_ratio, drivers,
sensitivity}]}) and ``DIR/reproduce.html`` (plotly.js inline: opens offline); prints a summary
(or, with ``--json``, the JSON).  The work is ``explorer/reproduce.py``.
"""
import json
import os
import sys
import time
from pathlib import Path

import click

from ..errors import InputError
from ..fileio import check_output, write_text
from . import force_option, json_option


def _outputs(out_dir, force):
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file, expected a folder for reproduce's outputs")
    if out.exists() and not force:
        raise InputError(f"{out}: exists; give --force to replace its reproduce.json and reproduce.html")
    if not out.exists():
        check_output(out)
    targets = [out / "reproduce.json", out / "reproduce.html"]
    for t in targets:
        if t.parent.is_dir():
            check_output(t, force)
    return out, targets


@click.command("reproduce")
@click.option("--only", "only", default=None, metavar="NAME", help="Run one experiment (default: all).")
@click.option("--quick", is_flag=True, help="Short trace, short solves: minutes, rough figures.")
@json_option
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=True), help="Folder for the outputs.")
@force_option
def reproduce(only, quick, as_json, out_dir, force):
    """Re-run the published headline experiments: measured ratio, drivers, sensitivity."""
    from ..cost_model.solvers import DETERMINISTIC_ENV
    from ..explorer.experiment import experiment_names, load_experiment
    from ..explorer.reproduce import reproduce as run, to_json
    from ..explorer.reproduce_report import render, top_drivers
    names = [only] if only else experiment_names()
    for n in names:
        load_experiment(n)                    # an unknown name is one line before any work
    out, (json_path, html_path) = _outputs(out_dir, force)
    os.environ.setdefault(DETERMINISTIC_ENV, "1")
    echo = (lambda *a, **k: click.echo(*a, err=True, **k)) if as_json else click.echo
    t0 = time.perf_counter()
    entries = run(names, quick, echo)
    run_s = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    doc = to_json(entries)
    text = json.dumps(doc, indent=2) + "\n"
    write_text(json_path, text, force=True)
    write_text(html_path, render(entries, quick, run_s), force=True)
    if as_json:
        sys.stdout.write(text)
    else:
        for e in entries:
            click.echo(f"\n{e['name']}: published {e['published']['text']}; measured {e['measured_ratio']:.4g}x")
            click.echo("  top drivers: " + "; ".join(f"{d['mechanism']} -> {d['ratio_without']:.4g}x"
                                                     for d in top_drivers(e)))
            click.echo("  top assumptions: " + "; ".join(f"{s['parameter']} {s['ratio_low']:.3g}x..{s['ratio_high']:.3g}x"
                                                         for s in e["sensitivity"][:3]))
            for s in e["details"]["explanation"]:
                click.echo(f"  - {s}")
        click.echo(f"\nwrote {json_path} and {html_path} in {run_s:.0f} s")
    return 0
