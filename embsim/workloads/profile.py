"""Held-out profiling: the trace a plan and a row map are made from, apart from the trace they are measured on.

SCRec's Data Statistic Analyzer profiles the access history and places rows
for the traffic that follows; a simulator that ranks hot rows from the very
trace it replays measures an oracle (every hot row is known in advance, and
the cold tiers are read only by rows the trace itself ranks cold).  embsim
therefore keeps two traces apart:

* the **profile** trace: hot-row rankings, the plan's coverage curves and the
  simulator's row-to-tier map come from it;
* the **evaluation** trace: the one replayed and measured.

Where they come from (:func:`split`):

* an explicit profile (``--profile P.npz|P.trace``): the profile is that
  trace, the evaluation the whole ``--trace`` (or the generated one);
* by default, the first ``DEFAULT_PROFILE_SHARE`` (50%) of the trace's
  batches, rounded down and at least one batch, profile; the remaining
  batches, at least one, are the evaluation.  The split is in time order, as a
  deployment profiles yesterday and serves today; a trace of one batch cannot
  be split (an InputError asks for ``--profile``);
* ``IN_SAMPLE`` (``"in-sample"``): the evaluation trace is its own profile,
  the oracle embsim measured before held-out profiling (kept for studies that
  ask how much a perfect profile is worth).

:func:`describe` is the record ``SimResult.config`` keeps of each trace
(``kind``, ``source``, ``batches`` as ``[first, stop)`` of the source,
``lookups``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .store import Chunk, TraceReader, open_trace
from .trace import Trace

#: share of a trace's batches that profile when no profile trace is given
DEFAULT_PROFILE_SHARE = 0.5
IN_SAMPLE = "in-sample"
KINDS = ("split", "file", IN_SAMPLE)


@dataclass
class Split:
    """A profile trace and an evaluation trace, with the record of where each came from."""

    profile: object          # Trace or TraceReader
    evaluation: object       # Trace or TraceReader
    kind: str                # split | file | in-sample
    profile_info: dict
    evaluation_info: dict


def _source(trace, default: str) -> str:
    src = getattr(trace, "source", None)
    if src is None and isinstance(getattr(trace, "meta", None), dict):
        src = trace.meta.get("source")
    return str(src or default)


def describe(trace, kind: str, source: str, first_batch: int = 0) -> dict:
    """The record of one trace: kind, source, batches [first, stop) of the source, lookups."""
    return {"kind": kind, "source": source, "batches": [int(first_batch), int(first_batch + trace.n_batches)],
            "lookups": int(trace.n_indices)}


def split_batch(n_batches: int, share: float = DEFAULT_PROFILE_SHARE) -> int:
    """The first evaluation batch of a trace of ``n_batches``: ``floor(share x n)``, kept in [1, n - 1]."""
    if not 0.0 < share < 1.0:
        raise InputError(f"profile share: {share}: expected a share of the batches strictly between 0 and 1")
    if n_batches < 2:
        raise InputError(f"trace: {n_batches} batch: cannot split into a profile and a disjoint evaluation part; "
                         "give a profile trace (--profile P.npz) or a trace of at least 2 batches")
    return min(max(1, int(np.floor(share * n_batches))), n_batches - 1)


def split(trace, profile=None, share: float = DEFAULT_PROFILE_SHARE, source: str | None = None) -> Split:
    """Profile and evaluation of ``trace`` (a Trace or TraceReader) given ``profile`` (module doc).

    ``profile``: None (split ``trace`` at ``share`` of its batches), ``IN_SAMPLE``, or a trace
    (Trace, TraceReader or path) whose tables match ``trace``'s.
    """
    src = source or _source(trace, "trace")
    if isinstance(profile, str) and profile == IN_SAMPLE:
        info = describe(trace, IN_SAMPLE, src)
        return Split(trace, trace, IN_SAMPLE, dict(info), info)
    if profile is not None:
        prof = open_trace(profile) if isinstance(profile, (str, Path)) else profile
        where = str(profile) if isinstance(profile, (str, Path)) else _source(prof, "profile")
        if (prof.n_tables != trace.n_tables or list(np.asarray(prof.table_rows)) != list(np.asarray(trace.table_rows))):
            raise InputError(f"{where}: profile trace has {prof.n_tables} tables with other row counts than the "
                             f"evaluation trace ({trace.n_tables} tables); expected the same tables")
        return Split(prof, trace, "file", describe(prof, "file", where), describe(trace, "evaluation", src))
    k = split_batch(trace.n_batches, share)
    prof, ev = batch_range(trace, 0, k), batch_range(trace, k, trace.n_batches)
    return Split(prof, ev, "split", describe(prof, "split", src, 0), describe(ev, "evaluation", src, k))


def profile_stats(held: Split, profile=None):
    """The statistics a plan is made from: the profile's (``profile``, default ``held.profile``), marked
    ``held_out`` (coverage curves then extrapolate the rows the profile never saw) unless the profile
    is the evaluation itself."""
    from dataclasses import replace
    from .stats import trace_stats
    stats = trace_stats(held.profile if profile is None else profile)
    return stats if held.kind == IN_SAMPLE else replace(stats, held_out=True)


def batch_range(trace, b0: int, b1: int):
    """Batches ``[b0, b1)`` of a Trace (views, no copy) or of a TraceReader (a reader of those batches)."""
    if isinstance(trace, Trace):
        return trace.batch_slice(b0, b1)
    return BatchRangeReader(trace, b0, b1)


class BatchRangeReader(TraceReader):
    """Batches ``[b0, b1)`` of another reader, chunk by chunk (a chunk the range cuts is sliced)."""

    def __init__(self, reader, b0: int, b1: int):
        if not 0 <= b0 < b1 <= reader.n_batches:
            raise InputError(f"trace: batches [{b0}, {b1}): expected a range inside [0, {reader.n_batches})")
        self.reader, self.b0, self.b1 = reader, int(b0), int(b1)
        self.source = reader.source
        self.n_batches, self.n_tables, self.batch_size = b1 - b0, reader.n_tables, reader.batch_size
        self.table_rows, self.table_names = reader.table_rows, reader.table_names
        self.meta, self.has_timestamps = reader.meta, reader.has_timestamps
        self._lookups_per_table = reader.lookups_per_table_in(self.b0, self.b1)   # lengths only, no indices
        self.n_indices = int(self._lookups_per_table.sum())

    def lookups_per_table_in(self, b0: int, b1: int) -> np.ndarray:
        return self.reader.lookups_per_table_in(self.b0 + b0, self.b0 + min(b1, self.n_batches))

    def _clipped(self):
        first = 0
        for c in self.reader.chunks():
            tr, b = c.trace, c.first_batch
            lo, hi = max(self.b0, b), min(self.b1, b + tr.n_batches)
            if hi <= lo:
                if b >= self.b1:
                    return
                continue
            part = tr if (lo, hi) == (b, b + tr.n_batches) else tr.batch_slice(lo - b, hi - b)
            yield Chunk(lo - self.b0, first, part)
            first += part.n_indices

    def chunks(self):
        yield from self._clipped()
