"""Embedding access traces: which rows each sample of each batch looks up.

Layout (the dlrm_datasets / FBGEMM one, batch after batch):

- ``lengths``  int32 [batches, tables, batch_size]: lookups of each sample in
  each table (the pooling factor of that bag);
- ``indices``  int64, flat: the row indices, ordered batch, then table, then
  sample, then position inside the bag;
- ``table_rows`` int64 [tables]: rows of each table, so a row's global id is
  ``row_offsets[table] + index``;
- ``timestamps_s`` optional float64 [batches, batch_size]: arrival time of
  each sample (imported logs have them; generated traces do not);
- ``meta``: a dict (source, generator, seed, ...) stored as JSON.

Access order is the order of ``indices``.  On disk a trace is one ``.npz``.
"""
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..fileio import atomic_output

FORMAT_VERSION = 1


@dataclass
class Trace:
    lengths: np.ndarray
    indices: np.ndarray
    table_rows: np.ndarray
    table_names: Optional[list] = None
    timestamps_s: Optional[np.ndarray] = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.lengths = np.ascontiguousarray(self.lengths, dtype=np.int32)
        self.indices = np.ascontiguousarray(self.indices, dtype=np.int64)
        self.table_rows = np.ascontiguousarray(self.table_rows, dtype=np.int64)
        if self.table_names is None:
            self.table_names = [f"t{i}" for i in range(len(self.table_rows))]
        self.table_names = [str(n) for n in self.table_names]

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
        return np.concatenate([[0], np.cumsum(self.table_rows)[:-1]]).astype(np.int64)

    @property
    def total_rows(self):
        return int(self.table_rows.sum())

    def segment_offsets(self):
        """int64 [batches*tables + 1]: start of each (batch, table) bag group in ``indices``."""
        per = self.lengths.reshape(self.n_batches * self.n_tables, self.batch_size).sum(axis=1, dtype=np.int64)
        return np.concatenate([[0], np.cumsum(per)]).astype(np.int64)

    def batch_bounds(self):
        """int64 [batches + 1]: start of each batch in ``indices``."""
        per = self.lengths.reshape(self.n_batches, -1).sum(axis=1, dtype=np.int64)
        return np.concatenate([[0], np.cumsum(per)]).astype(np.int64)

    def table_of_index(self):
        """int32 per index: the table it belongs to (4 bytes per index)."""
        per = self.lengths.sum(axis=2, dtype=np.int64).ravel()
        tables = np.tile(np.arange(self.n_tables, dtype=np.int32), self.n_batches)
        return np.repeat(tables, per)

    def global_ids(self):
        """int64 per index: ``row_offsets[table] + index``, in access order."""
        out = self.table_of_index().astype(np.int64)
        np.take(self.row_offsets, out, out=out)
        out += self.indices
        return out

    def lookups_per_table(self):
        return self.lengths.sum(axis=(0, 2), dtype=np.int64)

    # ------------------------------------------------------- validation ---
    def validate(self, source="trace"):
        """Raise InputError with the first inconsistency found, naming where it is."""
        if self.lengths.ndim != 3:
            raise InputError(f"{source}: lengths: expected shape [batches, tables, batch_size], got {self.lengths.shape}")
        if self.indices.ndim != 1:
            raise InputError(f"{source}: indices: expected a flat array, got shape {self.indices.shape}")
        if self.table_rows.shape != (self.n_tables,):
            raise InputError(f"{source}: table_rows: {self.table_rows.shape[0]} tables, but lengths has {self.n_tables}")
        if len(self.table_names) != self.n_tables:
            raise InputError(f"{source}: table_names: {len(self.table_names)} names for {self.n_tables} tables")
        if (self.table_rows <= 0).any():
            t = int(np.argmax(self.table_rows <= 0))
            raise InputError(f"{source}: table_rows[{t}] = {self.table_rows[t]}: expected a positive row count")
        if (self.lengths < 0).any():
            b, t, s = np.argwhere(self.lengths < 0)[0]
            raise InputError(f"{source}: lengths[{b},{t},{s}] = {self.lengths[b, t, s]}: expected a count >= 0")
        total = int(self.lengths.sum(dtype=np.int64))
        if total != self.n_indices:
            raise InputError(f"{source}: lengths add up to {total} lookups but indices holds {self.n_indices}")
        if self.timestamps_s is not None and self.timestamps_s.shape != (self.n_batches, self.batch_size):
            raise InputError(f"{source}: timestamps_s: expected shape {(self.n_batches, self.batch_size)}, got {self.timestamps_s.shape}")
        bounds = self.batch_bounds()
        for b in range(self.n_batches):  # batch by batch: memory stays near one batch
            per = self.lengths[b].sum(axis=1, dtype=np.int64)
            tab = np.repeat(np.arange(self.n_tables), per)
            chunk = self.indices[bounds[b]:bounds[b + 1]]
            bad = (chunk < 0) | (chunk >= self.table_rows[tab])
            if bad.any():
                i = int(np.argmax(bad))
                pos, t = int(bounds[b] + i), int(tab[i])
                raise InputError(
                    f"{source}: indices[{pos}] = {self.indices[pos]} is outside table {t} "
                    f"('{self.table_names[t]}', {self.table_rows[t]} rows) in batch {b}; expected 0..{self.table_rows[t] - 1}")
        return self

    # --------------------------------------------------------------- I/O ---
    def save(self, path, force=False):
        """Write the trace to ``path`` (.npz), atomically; refuse to overwrite unless ``force``."""
        path = Path(path)
        if path.suffix != ".npz":
            raise InputError(f"{path}: trace files end in .npz")
        arrays = dict(lengths=self.lengths, indices=self.indices, table_rows=self.table_rows,
                      table_names=np.array(self.table_names, dtype=str),
                      meta=np.array(json.dumps(self.meta, sort_keys=True)),
                      format_version=np.array(FORMAT_VERSION))
        if self.timestamps_s is not None:
            arrays["timestamps_s"] = np.asarray(self.timestamps_s, dtype=np.float64)
        with atomic_output(path, force=force, mode=None) as tmp:
            np.savez(tmp, **arrays)
        return path


def load_trace(path, validate=True):
    """Read a ``.npz`` trace written by ``Trace.save``; InputError names what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such trace file")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("lengths", "indices", "table_rows") if k not in z.files]
            if missing:
                raise InputError(f"{path}: {missing[0]}: missing array (expected an embsim trace .npz)")
            tr = Trace(lengths=z["lengths"], indices=z["indices"], table_rows=z["table_rows"],
                       table_names=list(z["table_names"]) if "table_names" in z.files else None,
                       timestamps_s=z["timestamps_s"] if "timestamps_s" in z.files else None,
                       meta=json.loads(str(z["meta"])) if "meta" in z.files else {})
    except InputError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise InputError(f"{path}: not a readable .npz trace ({e.__class__.__name__}: {e})") from None
    return tr.validate(str(path)) if validate else tr
