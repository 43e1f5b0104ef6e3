"""``embsim trace``: generate, import, fit and inspect embedding access traces.

    embsim trace import FILE --format movielens|dlrm-datasets [--batch-size B] -o T.npz|T.trace [--force]
    embsim trace import FILE --format movielens --sequences [--max-length L | --model M] [--batch-size B] -o T.npz
    embsim trace stats T.npz|T.trace [--json]
    embsim trace sketch T.npz --memory-rows N [--threshold K] [--decay D] [--top F] [--json]

``gen`` and ``fit`` live in ``trace_gen.py`` and, like every subcommand, are
imported only when invoked (``embsim trace stats`` does not load the
generators, nor ``import`` torch unless the format needs it).
"""
import json

import click

from ..errors import InputError
from . import LazyGroup, force_option, json_option
from .options import MAX_BATCH_SIZE, count

# subcommand -> (module under embsim.cli, attribute, one-line help)
SUBCOMMANDS = {
    "gen": ("trace_gen", "gen", "Generate a synthetic trace for a model (uniform, zipf, stackdist, drift)."),
    "import": ("trace", "import_cmd", "Import MovieLens / RecBole or dlrm_datasets logs as a trace."),
    "stats": ("trace", "stats", "Print a trace's locality: coverage, reuse histogram, unique rows."),
    "fit": ("trace_gen", "fit", "Fit generator parameters to a dlrm_datasets locality_stats.txt."),
    "reorder": ("trace_reorder", "reorder", "Lay rows out by frequency, co-access or at random; write the mapping."),
    "sketch": ("trace_sketch", "sketch", "Find hot ids with CAFE's HotSketch; recall against the exact top ids."),
}

# default --batch-size when the user gives none
MOVIELENS_BATCH_SIZE = 256
# --sequences without --max-length or --model: the longest history of HSTU (Zhai et al., ICML 2024)
DEFAULT_MAX_LENGTH = 8192


class LazyTraceGroup(LazyGroup):
    """The trace subcommands, imported on first use like the top-level ones."""

    table = SUBCOMMANDS


@click.group(cls=LazyTraceGroup)
def trace():
    """Generate, import, fit and inspect embedding access traces (.npz file or .trace folder)."""


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--format", "fmt", required=True, type=click.Choice(["movielens", "dlrm-datasets"]),
              help="movielens: u.data or RecBole .inter; dlrm-datasets: FBGEMM (indices, offsets, lengths) .pt[.gz].")
@click.option("--batch-size", type=count(1, MAX_BATCH_SIZE), default=None,
              help=f"Samples per batch (movielens default {MOVIELENS_BATCH_SIZE}; dlrm-datasets default: "
                   f"all samples of the file in one batch). A trailing partial batch is dropped.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=str),
              help="Trace to write: T.npz (one file) or T.trace (a folder of chunks).")
@click.option("--sequences", is_flag=True,
              help="movielens: one sample per user, the user's chronological history (items, and ratings "
                   "as an action table), truncated to the most recent --max-length interactions.")
@click.option("--max-length", type=int, default=None,
              help=f"--sequences: longest history kept (default: the --model's maximum, else {DEFAULT_MAX_LENGTH}).")
@click.option("--model", "model_name", default=None,
              help="--sequences: a sequence model (preset or YAML) whose maximum history length truncates.")
@force_option
def import_cmd(file, fmt, batch_size, output, force, sequences, max_length, model_name):
    """Import a log FILE as an embsim trace."""
    from ..workloads import importers

    if batch_size is not None and batch_size <= 0:
        raise InputError(f"--batch-size: {batch_size}; expected a positive number of samples")
    if (max_length is not None or model_name is not None) and not sequences:
        raise InputError("--max-length and --model go with --sequences")
    if sequences and fmt != "movielens":
        raise InputError(f"--sequences: with --format movielens only (got {fmt})")
    if max_length is not None and max_length <= 0:
        raise InputError(f"--max-length: {max_length}; expected a positive number of positions")
    from ..workloads.store import check_trace_output, save_trace
    check_trace_output(output, force, inputs=(file,))  # refuse early, before a long import
    if fmt == "dlrm-datasets" and output.endswith(".trace"):   # streamed from the mapped file into chunks
        tr = importers.import_dlrm_datasets_to(file, output, batch_size, force=force)
    else:
        if sequences:
            tr = _import_sequences(file, batch_size, max_length, model_name)
        elif fmt == "movielens":
            tr = importers.import_movielens(file, MOVIELENS_BATCH_SIZE if batch_size is None else batch_size)
        else:
            tr = importers.import_dlrm_datasets(file, batch_size)
        save_trace(tr, output, force=force)
    click.echo(f"wrote {output}: {tr.n_batches} batches x {tr.n_tables} tables x batch size {tr.batch_size}, "
               f"{tr.n_indices} indices, rows {', '.join(map(str, tr.table_rows[:8]))}"
               f"{' ...' if tr.n_tables > 8 else ''}", err=True)


def _import_sequences(file, batch_size, max_length, model_name):
    from ..workloads.model import load_model
    from ..workloads.sequence_import import import_movielens_sequences

    if model_name is not None:
        model = load_model(model_name)
        if model.sequence is None:
            raise InputError(f"--model {model_name}: model '{model.name}' has no sequence section; "
                             f"expected a sequence model (e.g. hstu_small, hstu_large)")
        if max_length is not None and max_length != model.sequence.max_length:
            raise InputError(f"--max-length {max_length}: model '{model.name}' truncates at "
                             f"{model.sequence.max_length}; give one of the two")
        max_length = model.sequence.max_length
    return import_movielens_sequences(file, DEFAULT_MAX_LENGTH if max_length is None else max_length,
                                      MOVIELENS_BATCH_SIZE if batch_size is None else batch_size)


@click.command("stats")
@click.argument("trace_file", metavar="T.npz|T.trace", type=click.Path(path_type=str))
@json_option
def stats(trace_file, as_json):
    """Print the locality statistics of a trace: per table and over all tables."""
    from ..workloads.stats import trace_stats
    from ..workloads.store import open_trace

    tr = open_trace(trace_file)              # read chunk by chunk
    st = trace_stats(tr)
    st.source = trace_file
    if as_json:
        out = st.to_dict()
        out["trace_meta"] = tr.meta
        click.echo(json.dumps(out))
    else:
        click.echo(st.format_table())
