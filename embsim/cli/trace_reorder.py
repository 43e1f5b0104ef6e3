"""``embsim trace reorder``: lay a trace's rows out by frequency, co-access or at random.

    embsim trace reorder T.npz --by frequency|coaccess|random|identity [--profile P.npz] [--seed S] -o T2.npz [--force]

Writes the remapped trace ``T2.npz`` (every index replaced by the row's new
id; ``meta.layout`` says how) and its mapping ``T2.mapping.npz``
(``new_id_<t>``: the new id of every old row of table t, with ``by``,
``seed`` and ``profile``).  The profile defaults to the trace itself.
"""
from pathlib import Path

import click

from ..errors import InputError
from ..fileio import check_output
from . import force_option


def mapping_path(output: str) -> Path:
    """Where the mapping of the trace written to ``output`` goes: ``T2.npz`` -> ``T2.mapping.npz``."""
    p = Path(output)
    return p.with_name(p.stem + ".mapping.npz")


@click.command("reorder")
@click.argument("trace_file", metavar="T.npz", type=click.Path(dir_okay=False, path_type=str))
@click.option("--by", required=True, type=click.Choice(["frequency", "coaccess", "random", "identity"]),
              help="frequency: hottest rows first; coaccess: rows used together placed together "
                   "(Louvain on the co-access graph); random: a seeded permutation (the control).")
@click.option("--profile", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Trace whose access counts and co-accesses decide the layout (default: T.npz itself).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random and of the Louvain clustering.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Remapped trace to write (.npz); its mapping goes beside it as NAME.mapping.npz.")
@force_option
def reorder(trace_file, by, profile, seed, output, force):
    """Write T.npz with its rows laid out by a layout, and the mapping."""
    from ..workloads.row_layout import make_mapping, reorder_trace
    from ..workloads.trace import load_trace

    if not output.endswith(".npz"):
        raise InputError(f"{output}: trace files end in .npz")
    mpath = mapping_path(output)
    check_output(output, force)
    check_output(mpath, force)
    tr = load_trace(trace_file)
    prof = load_trace(profile) if profile else None
    mapping = make_mapping(tr, by, prof, seed=seed, profile_name=profile or trace_file)
    out = reorder_trace(tr, mapping)
    # both files or neither: the trace goes in last, the mapping is removed if it fails
    mapping.save(mpath, force=force)
    try:
        out.save(output, force=force)
    except BaseException:
        mpath.unlink(missing_ok=True)
        raise
    click.echo(f"wrote {output} and {mpath}: {by} layout of {tr.n_tables} tables ({tr.n_indices} indices)", err=True)
