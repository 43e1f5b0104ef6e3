"""``embsim trace sketch``: CAFE's HotSketch over a trace, against the exact hot ids.

    embsim trace sketch T.npz --memory-rows N [--threshold K] [--decay D] [--top F] [--json]

Runs one HotSketch per table (``embsim.workloads.hotsketch``; the N slots
split over the tables by their distinct ids) over the trace in access order
and reports, per table and overall, the hot set found, its recall and
precision against the exact top F (default 1%) of the distinct ids by
count, the share of lookups the hot set covers, promotions and demotions,
the sketch's speed (ids per second, measured in this run), and the slots
SpaceSaving's error bound needs before the exact top F is sure to be kept
(``guarantee``: a flat trace needs far more than a skewed one).
"""
import json
import math

import click

from ..errors import InputError
from . import json_option


def _fmt(v, pct=False):
    if v is None:
        return "-"
    return f"{v:.1%}" if pct else f"{v:.3g}"


def format_report(rep):
    lines = [f"HotSketch: {rep['memory_rows']} slots, threshold {rep['threshold'] if rep['threshold'] is not None else 'none (top k by count)'}, "
             f"decay {rep['decay']:g}, exact top {rep['top_share']:.2%} of distinct ids",
             f"{'table':<16} {'distinct':>9} {'slots':>7} {'top k':>6} {'hot':>6} {'recall':>7} {'precision':>9} "
             f"{'covered':>8} {'guarantee':>9} {'M ids/s':>8}"]
    rows = list(rep["tables"].items()) + [("overall", rep["overall"])]
    for name, v in rows:
        speed = v["ids_per_s"] / 1e6 if v["ids_per_s"] else None
        lines.append(f"{name[:16]:<16} {v['distinct_ids']:>9} {v['sketch_slots']:>7} {v['top_k']:>6} "
                     f"{v['hot_set_size']:>6} {_fmt(v['recall']):>7} {_fmt(v['precision']):>9} "
                     f"{_fmt(v['covered_lookup_share'], True):>8} {v['guarantee_slots']:>9} {_fmt(speed):>8}")
    return "\n".join(lines)


@click.command("sketch")
@click.argument("trace_file", metavar="T.npz", type=click.Path(path_type=str))
@click.option("--memory-rows", type=int, required=True, help="Sketch slots (key, count) over all tables.")
@click.option("--threshold", type=float, default=None,
              help="Count at which an id is hot (default: none; the hot set is the sketch's top k by count).")
@click.option("--decay", type=float, default=0.99, show_default=True,
              help="Factor applied to every count every 10 x buckets x threshold insertions (CAFE's rule).")
@click.option("--top", "top_share", type=float, default=0.01, show_default=True,
              help="The exact hot set to compare with: this share of each table's distinct ids.")
@json_option
def sketch(trace_file, memory_rows, threshold, decay, top_share, as_json):
    """Find the hot ids of each table of a trace with HotSketch and score them against the exact counts."""
    from ..workloads.hotsketch import sketch_trace
    from ..workloads.trace import load_trace

    if threshold is not None and not (threshold > 0 and math.isfinite(threshold)):
        raise InputError(f"--threshold: {threshold} (expected a count > 0)")
    if not (0.0 < decay <= 1.0):
        raise InputError(f"--decay: {decay} (expected a factor in (0, 1])")
    tr = load_trace(trace_file)
    rep = sketch_trace(tr, memory_rows, threshold=threshold, decay=decay, top_share=top_share)
    rep["trace"] = trace_file
    if as_json:
        click.echo(json.dumps(rep))
    else:
        click.echo(format_report(rep))
