"""``embsim explore`` and ``embsim report``."""
from pathlib import Path

import click

from . import force_option
from .options import MAX_POINTS, MAX_WORKERS, SEED, count
from .planning import planner_options


@click.command("explore")
@click.argument("space_file", metavar="SPACE.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite result store; created if absent, resumed if present.")
@click.option("--workers", type=count(1, MAX_WORKERS), default=None,
              help="Local worker processes (default: all cores; 1 runs in this process).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Dask scheduler address (tcp://host:8786): run on that cluster instead of locally.")
@click.option("--sampler", type=click.Choice(["grid", "random", "lhs"]), default=None,
              help="Override the space's sampler.")
@click.option("-n", "n", type=count(1, MAX_POINTS), default=None, help="Override the number of points (random, lhs).")
@click.option("--seed", type=SEED, default=None, help="Override the sampler's seed.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the HTML report of the whole store here.")
@click.option("--export", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also export the whole store as .csv or .json (by the suffix).")
@click.option("--evaluator", default=None, metavar="MODULE:FUNCTION",
              help="Evaluate points with your own function(config) -> metrics dict (default: simulate).")
@planner_options
@force_option
def explore(space_file, db, workers, scheduler, sampler, n, seed, report_path, csv_path, evaluator, force, planner):
    """Sweep the design space SPACE.yaml into the result store --db.

    Every finished point is committed at once; re-running the same command
    skips stored points, so a killed sweep resumes where it stopped.  The
    planner options replace the space's ``plan:`` settings for every point.
    """
    from ..explorer.sweep import explore_file
    summary = explore_file(space_file, db, workers=workers, scheduler=scheduler, report=report_path, export=csv_path,
                           force=force, evaluate=evaluator, sampler=sampler, n=n, seed=seed,
                           plan=planner)
    click.echo(summary.line(), err=True)
    if summary.errors:
        last = summary.first_error.strip().splitlines()[-1] if summary.first_error else ""
        click.echo(f"warning: {summary.errors} points failed (re-run to retry them); first: {last}", err=True)
    if report_path is not None:
        click.echo(f"report: {report_path}", err=True)
    return 1 if summary.errors else 0


@click.command("report")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML report to write.")
@click.option("--title", default="embsim design report", help="Title of the report.")
@force_option
def report(inputs, output, title, force):
    """Write one self-contained HTML report from result stores (.sqlite) and SimResult / plan JSON files."""
    from ..explorer.report import write_report
    write_report(list(inputs), output, force=force, title=title)
    click.echo(f"report: {output}", err=True)
