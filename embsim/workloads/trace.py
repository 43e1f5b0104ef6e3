"""Embedding access traces: which rows each sample of each batch looks up.

Layout (the dlrm_datasets / FBGEMM one, batch after batch):

- ``lengths``  int32 [batches, tables, batch_size]: lookups of each sample in
  each table (the pooling factor of that bag);
- ``indices``  int64, flat: the row indices, ordered batch, then table, then
  sample, then position inside the bag;
- ``table_rows`` int64 [tables]: rows of each table, so a row's global id is
  ``row_offsets[table] + index``;
- ``table_names`` list of str [tables] (default ``t0``, ``t1``, ...);
- ``timestamps_s`` optional float64 [batches, batch_size]: arrival time of
  each sample (imported logs have them; generated traces do not);
- ``meta``: a dict (source, generator, seed, ...) stored as JSON.

Access order is the order of ``indices``.  On disk a trace is one
uncompressed ``.npz`` (a zip of ``.npy`` files, readable with plain numpy);
the arrays above plus ``format_version``.

Memory: the arrays themselves, plus work buffers of a few million entries.
Validation and the helpers that walk the trace go chunk by chunk
(``iter_segment_chunks``), so a 100M-index trace (800 MB of indices) is
checked with ~100 MB of scratch.  ``table_of_index`` and ``global_ids`` build
one value per index (4 and 8 bytes each); prefer the chunked walk for big
traces.
"""
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..fileio import atomic_output, note_input
from ._check import first_out_of_range  # compiled (Cython), no stub
from ..limits import MAX_TABLE_ROWS, MAX_TOTAL_ROWS

FORMAT_VERSION = 1
# Indices handled at once when walking a trace in chunks (8 bytes each).
CHUNK_INDICES = 1 << 22


@dataclass(eq=False)
class Trace:
    lengths: np.ndarray
    indices: np.ndarray
    table_rows: np.ndarray
    table_names: Optional[list] = None
    timestamps_s: Optional[np.ndarray] = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        # asarray with the target dtype: no copy when the caller already has it right
        self.lengths = np.ascontiguousarray(self.lengths, dtype=np.int32)
        self.indices = np.ascontiguousarray(self.indices, dtype=np.int64)
        self.table_rows = np.ascontiguousarray(self.table_rows, dtype=np.int64)
        if self.table_names is None:
            self.table_names = [f"t{i}" for i in range(self.table_rows.size)]
        self.table_names = [str(n) for n in self.table_names]
        if self.timestamps_s is not None:
            self.timestamps_s = np.ascontiguousarray(self.timestamps_s, dtype=np.float64)
        self.meta = dict(self.meta or {})

    def __repr__(self):
        return (f"Trace({self.n_batches} batches x {self.n_tables} tables x batch size {self.batch_size}, "
                f"{self.n_indices} indices, {self.total_rows} rows, meta={self.meta})")

    # ------------------------------------------------------------ shape ---
    @property
    def n_batches(self):
        return self.lengths.shape[0]

    @property
    def n_tables(self):
        return self.lengths.shape[1]

    @property
    def batch_size(self):
        return self.lengths.shape[2]

    @property
    def n_indices(self):
        return int(self.indices.shape[0])

    @property
    def row_offsets(self):
        """int64 [tables]: global id of each table's row 0."""
        return np.concatenate([[0], np.cumsum(self.table_rows)[:-1]]).astype(np.int64)

    @property
    def total_rows(self):
        return int(self.table_rows.sum())

    def segment_lengths(self):
        """int64 [batches*tables]: lookups of each (batch, table) group, in trace order."""
        return self.lengths.reshape(self.n_batches * self.n_tables, self.batch_size).sum(axis=1, dtype=np.int64)

    def segment_offsets(self):
        """int64 [batches*tables + 1]: start of each (batch, table) bag group in ``indices``."""
        return np.concatenate([[0], np.cumsum(self.segment_lengths())]).astype(np.int64)

    def batch_bounds(self):
        """int64 [batches + 1]: start of each batch in ``indices``."""
        per = self.lengths.reshape(self.n_batches, -1).sum(axis=1, dtype=np.int64)
        return np.concatenate([[0], np.cumsum(per)]).astype(np.int64)

    def table_of_index(self):
        """int32 per index: the table it belongs to (4 bytes per index)."""
        tables = np.tile(np.arange(self.n_tables, dtype=np.int32), self.n_batches)
        return np.repeat(tables, self.segment_lengths())

    def global_ids(self):
        """int64 per index: ``row_offsets[table] + index``, in access order (one table: a read-only view)."""
        if self.n_tables == 1:          # row offset 0: the indices are the global ids
            out = self.indices.view()
            out.flags.writeable = False
            return out
        out = np.repeat(np.tile(self.row_offsets, self.n_batches), self.segment_lengths())
        out += self.indices
        return out

    def batch_slice(self, b0, b1, bounds=None):
        """Batches ``[b0, b1)`` as a Trace of views (no copy); ``bounds``: ``batch_bounds()`` if known."""
        bounds = self.batch_bounds() if bounds is None else bounds
        return Trace(lengths=self.lengths[b0:b1], indices=self.indices[bounds[b0]:bounds[b1]],
                     table_rows=self.table_rows, table_names=self.table_names,
                     timestamps_s=None if self.timestamps_s is None else self.timestamps_s[b0:b1], meta=self.meta)

    def lookups_per_table(self):
        """int64 [tables]: accesses of each table over the whole trace."""
        return self.lengths.sum(axis=(0, 2), dtype=np.int64)

    def iter_segment_chunks(self, max_indices=None):
        """Walk the trace in pieces of about ``max_indices`` indices (default ``CHUNK_INDICES``).

        Yields ``(start, stop, table)``: ``indices[start:stop]`` and the int32
        table of each of those indices.  Pieces end on (batch, table) group
        boundaries, except that one huge group is cut into several pieces.
        """
        max_indices = int(max_indices or CHUNK_INDICES)
        seg_len = self.segment_lengths()
        seg_off = np.concatenate([[0], np.cumsum(seg_len)])
        n_seg = seg_len.size
        s = 0
        while s < n_seg:
            # last group that still ends within max_indices of this piece's start
            e = int(np.searchsorted(seg_off, seg_off[s] + max_indices, side="right")) - 1
            e = max(e, s + 1)
            start, stop = int(seg_off[s]), int(seg_off[e])
            if stop - start <= max_indices or e - s > 1:
                tab = np.repeat((np.arange(s, e) % self.n_tables).astype(np.int32), seg_len[s:e])
                yield start, stop, tab
            else:  # one group larger than a chunk: cut it
                t = np.int32(s % self.n_tables)
                for a in range(start, stop, max_indices):
                    b = min(a + max_indices, stop)
                    yield a, b, np.full(b - a, t, dtype=np.int32)
            s = e

    # ------------------------------------------------------- validation ---
    def validate(self, source="trace"):
        """Raise InputError with the first inconsistency found, naming where it is; return self."""
        if self.lengths.ndim != 3:
            raise InputError(f"{source}: lengths: expected shape [batches, tables, batch_size], got {self.lengths.shape}")
        if self.indices.ndim != 1:
            raise InputError(f"{source}: indices: expected a flat array, got shape {self.indices.shape}")
        if self.table_rows.shape != (self.n_tables,):
            raise InputError(f"{source}: table_rows: shape {self.table_rows.shape}, but lengths "
                             f"{tuple(self.lengths.shape)} has {self.n_tables} tables; expected one row count per table")
        if len(self.table_names) != self.n_tables:
            raise InputError(f"{source}: table_names: {len(self.table_names)} names for {self.n_tables} tables")
        if self.table_rows.size and (self.table_rows <= 0).any():
            t = int(np.argmax(self.table_rows <= 0))
            raise InputError(f"{source}: table_rows[{t}] ('{self.table_names[t]}') = {self.table_rows[t]}: "
                             f"expected a positive row count")
        if self.lengths.size and self.lengths.min() < 0:
            b, t, s = np.argwhere(self.lengths < 0)[0]
            raise InputError(f"{source}: lengths[{b},{t},{s}] = {self.lengths[b, t, s]}: expected a count >= 0")
        total = int(self.lengths.sum(dtype=np.int64))
        if total != self.n_indices:
            raise InputError(f"{source}: lengths add up to {total} lookups ({self.n_batches} batches x "
                             f"{self.n_tables} tables x batch size {self.batch_size}) but indices holds "
                             f"{self.n_indices}; the two arrays must describe the same lookups")
        if self.timestamps_s is not None:
            if self.timestamps_s.shape != (self.n_batches, self.batch_size):
                raise InputError(f"{source}: timestamps_s: expected shape [batches, batch_size] = "
                                 f"{(self.n_batches, self.batch_size)}, got {self.timestamps_s.shape}")
            if self.timestamps_s.size and not np.isfinite(self.timestamps_s).all():
                b, s = np.argwhere(~np.isfinite(self.timestamps_s))[0]
                raise InputError(f"{source}: timestamps_s[{b},{s}] = {self.timestamps_s[b, s]}: expected a finite time")
        if not isinstance(self.meta, dict):
            raise InputError(f"{source}: meta: expected a mapping, got {type(self.meta).__name__}")
        seen = set()
        for t, name in enumerate(self.table_names):
            if name in seen:
                raise InputError(f"{source}: table_names[{t}]: '{name}' appears twice; expected one name per table "
                                 f"(per-table figures would merge the two)")
            seen.add(name)
        if self.table_rows.size and int(self.table_rows.max()) > MAX_TABLE_ROWS:
            t = int(np.argmax(self.table_rows))
            raise InputError(f"{source}: table_rows[{t}] = {self.table_rows[t]}: expected at most 2^48 rows per table")
        if sum(int(r) for r in self.table_rows) > MAX_TOTAL_ROWS:
            raise InputError(f"{source}: table_rows: {sum(int(r) for r in self.table_rows)} rows in all; expected at "
                             f"most 2^62 (global row ids are int64)")
        rows = self.table_rows
        pos = first_out_of_range(self.indices, self.segment_lengths(), rows) if self.n_indices else -1
        if pos >= 0:
            seg = int(np.searchsorted(self.segment_offsets(), pos, side="right")) - 1
            t, b = seg % self.n_tables, seg // self.n_tables
            raise InputError(
                f"{source}: indices[{pos}] = {self.indices[pos]} is outside table {t} "
                f"('{self.table_names[t]}', {rows[t]} rows) in batch {b}; expected 0..{rows[t] - 1}")
        return self

    def check_matches(self, model, source="trace"):
        """InputError unless this trace has the tables (count and rows) of ``model``; returns self."""
        return check_matches(self, model, source)

    # --------------------------------------------------------------- I/O ---
    def save(self, path, force=False):
        """Write the trace to ``path`` (.npz), atomically; refuse to overwrite unless ``force``."""
        path = Path(path)
        if path.suffix != ".npz":
            raise InputError(f"{path}: trace files end in .npz")
        try:
            meta = json.dumps(self.meta, sort_keys=True)
        except (TypeError, ValueError) as e:
            raise InputError(f"{path}: meta: not JSON-serialisable ({e})") from None
        arrays = dict(lengths=self.lengths, indices=self.indices, table_rows=self.table_rows,
                      table_names=np.array(self.table_names, dtype=str),
                      meta=np.array(meta),
                      format_version=np.array(FORMAT_VERSION))
        if self.timestamps_s is not None:
            arrays["timestamps_s"] = self.timestamps_s
        with atomic_output(path, force=force, mode=None) as tmp:
            np.savez(tmp, **arrays)  # uncompressed: written and read at disk speed
        return path


def check_matches(trace, model, source="trace"):
    """InputError unless ``trace`` (a Trace or a reader of one) has the tables, count and rows, of ``model``.

    The one check of a (trace, model) pair: ``shard --trace`` and ``simulate`` use it alike.
    """
    m = model
    rows = np.asarray(trace.table_rows, dtype=np.int64)
    if trace.n_tables != m.n_tables:
        raise InputError(f"{source}: {trace.n_tables} tables, but model '{m.name}' has {m.n_tables}")
    if not np.array_equal(rows, m.table_rows):
        t = int(np.argmax(rows != m.table_rows))
        raise InputError(f"{source}: table {t} has {rows[t]} rows, but model '{m.name}' "
                         f"table '{m.tables[t].name}' has {m.tables[t].rows}")
    return trace


_INTEGER_ARRAYS = ("lengths", "indices", "table_rows")


def load_trace(path, validate=True):
    """Read a whole trace into memory: a ``.npz`` written by ``Trace.save``, or a chunked ``.trace`` folder.

    InputError names what is wrong.  For traces larger than memory use
    ``embsim.workloads.store.open_trace`` and read them chunk by chunk.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such trace file")
    if path.is_dir():  # a chunked trace folder (embsim.workloads.store), read whole
        from .store import ChunkedTraceReader
        tr = ChunkedTraceReader(path, validate=validate).load()
        return tr
    note_input(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        what = "an empty file" if not magic else "not a zip archive"
        raise InputError(f"{path}: {what}; expected an embsim trace .npz (written by 'embsim trace gen/import')")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _INTEGER_ARRAYS if k not in z.files]
            if missing:
                raise InputError(f"{path}: {missing[0]}: missing array (expected an embsim trace .npz "
                                 f"with {', '.join(_INTEGER_ARRAYS)})")
            version = int(z["format_version"]) if "format_version" in z.files else FORMAT_VERSION
            if version > FORMAT_VERSION:
                raise InputError(f"{path}: format_version: {version}; this embsim reads traces up to "
                                 f"version {FORMAT_VERSION} (upgrade embsim)")
            arrays = {}
            for k in _INTEGER_ARRAYS:
                a = z[k]
                if a.dtype.kind not in "iu":
                    raise InputError(f"{path}: {k}: dtype {a.dtype}; expected integers")
                arrays[k] = a
            if arrays["lengths"].size and arrays["lengths"].max() > np.iinfo(np.int32).max:
                raise InputError(f"{path}: lengths: a bag of {arrays['lengths'].max()} lookups; expected < 2^31")
            ts = z["timestamps_s"] if "timestamps_s" in z.files else None
            if ts is not None and ts.dtype.kind not in "iuf":
                raise InputError(f"{path}: timestamps_s: dtype {ts.dtype}; expected numbers (seconds)")
            names = [str(n) for n in z["table_names"].reshape(-1)] if "table_names" in z.files else None
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    except InputError:
        raise
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: meta: not valid JSON ({e})") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not a readable .npz trace ({e.__class__.__name__}: {e})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: meta: expected a JSON object, got {type(meta).__name__}")
    tr = Trace(timestamps_s=ts, table_names=names, meta=meta, **arrays)
    return tr.validate(str(path)) if validate else tr
