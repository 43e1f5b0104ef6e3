"""``embsim replay``: one shared cache in front of all tables, hit rates per table.

    embsim replay T.npz|T.trace --cache-rows N --policy lru|lfu|static|none [--json] [--row-bytes B]

The cache holds ``--cache-rows`` rows of any table, keyed by global row id
(``row_offset[table] + index``), and sees every lookup of the trace in
access order.  ``static`` pins the N most accessed rows of this very trace
(an oracle hot set: it knows the future, so it bounds what any static
placement of N rows can reach; ties go to the lower global id).  ``none``
never hits.  Policy semantics: ``embsim.sim.replay`` / ``_replay.pyx``.

``--row-bytes B`` adds bytes: ``hit_bytes`` (served by the cache) and
``miss_bytes`` (fetched from memory), ``B`` bytes per lookup; without it no
byte figures are printed, as a trace does not know its rows' width.
"""
import json

import click
import numpy as np

from ..errors import InputError
from ..sim.replay import CacheLevel, Location, replay_trace
from ..workloads.store import open_trace
from . import json_option
from .options import FiniteFloat, count

POLICIES = ("lru", "lfu", "static", "none")


def top_rows(counts, n):
    """Global ids of the n most accessed rows (ties to the lower id), in O(rows)."""
    n = min(n, int(np.count_nonzero(counts)))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(counts, counts.size - n)[counts.size - n]   # n-th largest count
    above = np.flatnonzero(counts > kth)
    ties = np.flatnonzero(counts == kth)[: n - above.size]
    return np.sort(np.concatenate([above, ties])).astype(np.int64)


def summarize(res, trace, policy, cache_rows, row_bytes):
    """The JSON object of the command."""
    look, hit, miss = (int(getattr(res, k)[:, 0, 0].sum()) for k in ("lookups", "hits", "misses"))
    out = {"trace": None, "policy": policy, "cache_rows": cache_rows,
           "batches": trace.n_batches, "tables": trace.n_tables, "total_rows": trace.total_rows,
           "accesses": look, "hits": hit, "misses": miss, "hit_rate": hit / look if look else 0.0,
           "unique_rows_per_batch_mean": float(res.unique_rows[:, 0, 0].mean()) if trace.n_batches else 0.0}
    if row_bytes is not None:
        out["row_bytes"] = row_bytes
        out["hit_bytes"] = hit * row_bytes
        out["miss_bytes"] = miss * row_bytes
    per = {}
    for t, name in enumerate(trace.table_names):
        a, h, m = (int(getattr(res, "table_" + k)[t, 0, 0]) for k in ("lookups", "hits", "misses"))
        per[name] = {"accesses": a, "hits": h, "misses": m, "hit_rate": h / a if a else 0.0}
    out["per_table"] = per
    if policy == "static":
        out["note"] = "static pins the most accessed rows of this trace (an oracle hot set)"
    return out


def table_text(d):
    lines = [f"{d['trace']}: {d['accesses']:,} lookups in {d['batches']:,} batches, {d['tables']} tables, "
             f"{d['total_rows']:,} rows",
             f"cache: {d['policy']}, {d['cache_rows']:,} rows shared by all tables"
             + (" (pinned: the trace's most accessed rows, an oracle)" if d["policy"] == "static" else ""),
             f"hits {d['hits']:,}  misses {d['misses']:,}  hit rate {d['hit_rate']:.4f}"]
    if "hit_bytes" in d:
        lines.append(f"bytes at {d['row_bytes']:g} B/row: from cache {d['hit_bytes']:,.0f}, "
                     f"from memory {d['miss_bytes']:,.0f}")
    w = max([5] + [len(n) for n in d["per_table"]])
    lines.append("")
    lines.append(f"{'table':<{w}}  {'accesses':>12}  {'hits':>12}  {'misses':>12}  {'hit rate':>8}")
    for name, t in d["per_table"].items():
        lines.append(f"{name:<{w}}  {t['accesses']:>12,}  {t['hits']:>12,}  {t['misses']:>12,}  {t['hit_rate']:>8.4f}")
    return "\n".join(lines)


@click.command("replay")
@click.argument("trace_path", metavar="T.npz|T.trace", type=click.Path(path_type=str))
@click.option("--cache-rows", type=count(0, 2 ** 31 - 1), required=True, help="Rows the shared cache holds (any table).")
@click.option("--policy", required=True, help="lru | lfu | static (oracle hot set of the trace) | none.")
@click.option("--row-bytes", type=FiniteFloat(0, min_open=True), default=None, help="Bytes per row, to report bytes served and fetched.")
@json_option
def replay(trace_path, cache_rows, policy, row_bytes, as_json):
    """Replay a trace through one cache shared by all tables and count hits and misses."""
    if policy not in POLICIES:
        raise InputError(f"--policy {policy!r}: expected one of {', '.join(POLICIES)}")
    if cache_rows < 0:
        raise InputError(f"--cache-rows {cache_rows}: expected a number of rows >= 0")
    if row_bytes is not None and not (row_bytes > 0 and np.isfinite(row_bytes)):
        raise InputError(f"--row-bytes {row_bytes}: expected a positive number of bytes")
    trace = open_trace(trace_path)           # read chunk by chunk: memory is the replay state, not the trace
    pinned = None
    if policy == "static":
        counts = np.zeros(trace.total_rows, dtype=np.int64)
        for chunk in trace.chunks():
            counts += np.bincount(chunk.trace.global_ids(), minlength=trace.total_rows)
        pinned = top_rows(counts, cache_rows)
        del counts
    level = CacheLevel("cache", policy, cache_rows, 1, pinned)
    loc = Location("host", "memory", 1, [level])
    res = replay_trace(trace, [loc], row_bytes=row_bytes or 1.0, progress=None)
    d = summarize(res, trace, policy, cache_rows, row_bytes)
    d["trace"] = str(trace_path)
    click.echo(json.dumps(d, indent=2) if as_json else table_text(d))
    return 0
