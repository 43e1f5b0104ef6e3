"""Trace storage in two formats, read and written chunk by chunk: one ``.npz`` file or a ``.trace`` folder.

``T.npz``
    One uncompressed zip of ``.npy`` arrays (``Trace.save`` / ``load_trace``).
    Read and written whole: the trace must fit in memory.

``T.trace/`` (chunked)
    A folder of fixed-size batch chunks and a small JSON manifest, for
    traces larger than memory::

        T.trace/manifest.json
        T.trace/chunk-000000.lengths.npy       int32 [batches, tables, batch_size]
        T.trace/chunk-000000.indices.npy       int64 [lookups of the chunk]
        T.trace/chunk-000000.timestamps_s.npy  float64 [batches, batch_size] (imported traces only)
        T.trace/chunk-000001.lengths.npy ...

    Every chunk holds ``batches_per_chunk`` whole batches (the last one may
    hold fewer), in the layout of ``Trace`` (batch, then table, then sample,
    then position), so chunk k's arrays are ``lengths[k*c:(k+1)*c]`` and the
    matching run of ``indices`` of the whole trace.  Each file is a plain
    ``.npy`` (``numpy.load(f, mmap_mode="r")`` maps it).  The manifest holds
    ``format`` ("embsim-chunked-trace"), ``format_version``, the shape
    (``batches``, ``tables``, ``batch_size``, ``lookups``,
    ``batches_per_chunk``), ``table_rows``, ``table_names``,
    ``lookups_per_table``, ``meta``, and one entry per chunk: its
    ``first_batch``, ``batches``, ``first_index``, ``lookups`` and, per file,
    its name, size in bytes and CRC-32 (``zlib.crc32`` of the whole file;
    embsim computes the same value with ISA-L when ``isal`` is installed).

Reading (:func:`open_trace`) gives a :class:`TraceReader` for either format
(or for a ``Trace`` already in memory); ``reader.chunks()`` yields the trace
a chunk at a time.  A chunked trace is read by a background thread up to
``PREFETCH_CHUNKS`` chunks ahead: it reads the chunk's files straight from the
disk into reused page-aligned buffers (``O_DIRECT``, :mod:`.chunk_io`, which
says why), checks their CRC-32 and shapes against the manifest (a mismatch is
one InputError line naming the file), and hands the chunk over; a chunk's
buffers are reused once the consumer drops it.  So a consumer holds at most
four chunks (the one it works on, two queued, the one being read) and the
pool's spare buffers, whatever the trace's length.

Writing (:func:`open_trace_writer`): ``append(lengths, indices)`` whole
batches at a time, then ``close(meta)``.  The chunked writer writes each
chunk as soon as it is full and keeps at most one chunk and one appended
block in memory; everything goes into a hidden ``.T.trace.*.part`` folder
beside the target, the manifest last, and the folder is renamed to
``T.trace`` only at ``close``: an interrupted write leaves no readable trace
(the hidden folder has no manifest until it is complete).
"""
import json
import os
import queue
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import check_output, note_input, write_text
from .chunk_io import BufferPool, read_checked
from .chunk_io import crc32 as _crc32
from .trace import Trace, check_matches, load_trace


CHUNKED_FORMAT = "embsim-chunked-trace"
CHUNKED_VERSION = 1
MANIFEST = "manifest.json"
CHUNKED_SUFFIX = ".trace"
#: lookups a chunk holds by default (8 bytes each: 64 MB of indices)
CHUNK_TARGET_LOOKUPS = 1 << 23
#: chunks queued ahead by the background reader (besides the one it reads): I/O hides behind the replay
PREFETCH_CHUNKS = 2
_FILES = ("lengths", "indices", "timestamps_s")
_DTYPES = {"lengths": np.dtype(np.int32), "indices": np.dtype(np.int64), "timestamps_s": np.dtype(np.float64)}


@dataclass
class Chunk:
    """Batches ``[first_batch, first_batch + trace.n_batches)`` of a trace, as a Trace of their own.

    ``first_index`` is the position of the chunk's first lookup in the whole
    trace's ``indices``.
    """

    first_batch: int
    first_index: int
    trace: Trace


def batches_per_chunk_for(lookups_per_batch, target=None):
    """Whole batches per chunk so that a chunk holds about ``target`` (default ``CHUNK_TARGET_LOOKUPS``) lookups."""
    target = CHUNK_TARGET_LOOKUPS if target is None else target
    return max(1, int(target // max(1.0, float(lookups_per_batch))))


# ================================================================ readers ===
class TraceReader:
    """A trace read chunk by chunk; the same surface for a Trace in memory, a ``.npz`` and a ``.trace``.

    Shape and metadata are attributes (``n_batches``, ``n_tables``,
    ``batch_size``, ``n_indices``, ``table_rows``, ``table_names``, ``meta``,
    ``has_timestamps``, ``source``); :meth:`chunks` yields :class:`Chunk`
    objects in order; :meth:`load` returns the whole Trace in memory.
    """

    source = "trace"
    n_tables: int

    @property
    def row_offsets(self):
        """int64 [tables]: global id of each table's row 0."""
        return np.concatenate([[0], np.cumsum(self.table_rows)[:-1]]).astype(np.int64)

    @property
    def total_rows(self):
        return int(np.sum(self.table_rows))

    def check_matches(self, model, source="trace"):
        """InputError unless this trace has the tables (count and rows) of ``model``; returns self."""
        return check_matches(self, model, source)

    def lookups_per_table(self):
        """int64 [tables]: accesses of each table over the whole trace."""
        return np.asarray(self._lookups_per_table, dtype=np.int64).copy()

    def lookups_per_table_in(self, b0: int, b1: int) -> np.ndarray:
        """int64 [tables]: accesses of each table in batches ``[b0, b1)``, from the lengths alone.

        Readers override this to skip the indices (a chunked store reads only its lengths files);
        this fallback walks the chunks.
        """
        per_table = np.zeros(self.n_tables, dtype=np.int64)
        for c in self.chunks():
            lo, hi = max(b0, c.first_batch), min(b1, c.first_batch + c.trace.n_batches)
            if lo < hi:
                L = c.trace.lengths[lo - c.first_batch:hi - c.first_batch]
                per_table += L.sum(axis=(0, 2), dtype=np.int64)
        return per_table

    def chunks(self):
        raise NotImplementedError

    @property
    def timestamps_s(self):
        """float64 [batches, batch_size] arrival times (8 bytes per sample), or None."""
        if not self.has_timestamps:
            return None
        return np.concatenate([c.trace.timestamps_s for c in self.chunks()])

    def load(self):
        """The whole trace as one in-memory Trace (8 bytes per lookup), filled chunk by chunk."""
        lengths = np.empty((self.n_batches, self.n_tables, self.batch_size), dtype=np.int32)
        indices = np.empty(self.n_indices, dtype=np.int64)
        ts = np.empty((self.n_batches, self.batch_size)) if self.has_timestamps else None
        for c in self.chunks():
            tr, b, i = c.trace, c.first_batch, c.first_index
            lengths[b:b + tr.n_batches] = tr.lengths
            indices[i:i + tr.n_indices] = tr.indices
            if ts is not None:
                ts[b:b + tr.n_batches] = tr.timestamps_s
        return Trace(lengths=lengths, indices=indices, table_rows=self.table_rows, table_names=self.table_names,
                     timestamps_s=ts, meta=self.meta)

    def __repr__(self):
        return (f"{type(self).__name__}({self.source}: {self.n_batches} batches x {self.n_tables} tables x "
                f"batch size {self.batch_size}, {self.n_indices} lookups)")


class MemoryTraceReader(TraceReader):
    """A Trace already in memory, handed out as views of about ``chunk_lookups`` lookups (whole batches)."""

    def __init__(self, trace, source=None, chunk_lookups=CHUNK_TARGET_LOOKUPS):
        self.trace = trace
        self.source = source or (trace.meta.get("source", "trace") if isinstance(trace.meta, dict) else "trace")
        self.n_batches, self.n_tables, self.batch_size = trace.n_batches, trace.n_tables, trace.batch_size
        self.n_indices, self.table_rows, self.table_names = trace.n_indices, trace.table_rows, trace.table_names
        self.meta, self.has_timestamps = trace.meta, trace.timestamps_s is not None
        self._lookups_per_table = trace.lookups_per_table()
        self.chunk_lookups = int(chunk_lookups)

    def chunks(self):
        tr = self.trace
        bounds = tr.batch_bounds()
        b, B = 0, tr.n_batches
        while b < B:
            e = int(np.searchsorted(bounds, bounds[b] + self.chunk_lookups, side="right")) - 1
            e = min(max(e, b + 1), B)
            yield Chunk(b, int(bounds[b]), tr.batch_slice(b, e, bounds))
            b = e

    def lookups_per_table_in(self, b0: int, b1: int) -> np.ndarray:
        return self.trace.lengths[b0:b1].sum(axis=(0, 2), dtype=np.int64)

    def load(self):
        return self.trace

    @property
    def timestamps_s(self):
        return self.trace.timestamps_s


class ChunkedTraceReader(TraceReader):
    """A ``.trace`` folder: the manifest is read and checked at once, the chunks as they are needed."""

    def __init__(self, path, validate=True):
        self.path = Path(path)
        self.source = str(path)
        self.validate = validate
        note_input(self.path)
        m = _read_manifest(self.path)
        self.manifest = m
        self.n_batches, self.n_tables, self.batch_size = m["batches"], m["tables"], m["batch_size"]
        self.n_indices, self.batches_per_chunk = m["lookups"], m["batches_per_chunk"]
        self.table_rows = np.asarray(m["table_rows"], dtype=np.int64)
        self.table_names = list(m["table_names"])
        self.meta, self.has_timestamps = m["meta"], m["timestamps"]
        self._lookups_per_table = m["lookups_per_table"]

    @property
    def timestamps_s(self):
        if not self.has_timestamps:
            return None
        files = [c["files"]["timestamps_s"] for c in self.manifest["chunks"]]   # those files alone
        return np.concatenate([read_checked(self.path / f["name"], f, _DTYPES["timestamps_s"]) for f in files])

    @property
    def n_chunks(self):
        return len(self.manifest["chunks"])

    def lookups_per_table_in(self, b0: int, b1: int) -> np.ndarray:
        """Only the lengths files of the chunks that overlap ``[b0, b1)`` are read (and checked)."""
        per_table = np.zeros(self.n_tables, dtype=np.int64)
        for c in self.manifest["chunks"]:
            first, nb = c["first_batch"], c["batches"]
            lo, hi = max(b0, first), min(b1, first + nb)
            if lo >= hi:
                continue
            f = c["files"]["lengths"]
            L = read_checked(self.path / f["name"], f, _DTYPES["lengths"])
            L = L.reshape(nb, self.n_tables, self.batch_size)[lo - first:hi - first]
            per_table += L.sum(axis=(0, 2), dtype=np.int64)
        return per_table

    def read_chunk(self, k, pool=None):
        """Chunk ``k``, its files read and checked (CRC-32, dtype, shape) against the manifest.

        ``pool``: a :class:`~.chunk_io.BufferPool` whose buffers the files are
        read into (reused once the chunk is dropped), or None for new ones.
        """
        c = self.manifest["chunks"][k]
        arrays = {}
        for name in _FILES:
            if name not in c["files"]:
                continue
            f = c["files"][name]
            arrays[name] = read_checked(self.path / f["name"], f, _DTYPES[name], pool)
        where = self.path / c["files"]["lengths"]["name"]
        L = arrays["lengths"]
        if L.shape != (c["batches"], self.n_tables, self.batch_size):
            raise InputError(f"{where}: shape {L.shape}; the manifest says "
                             f"{(c['batches'], self.n_tables, self.batch_size)} (batches, tables, batch size)")
        n = int(L.sum(dtype=np.int64))
        if n != c["lookups"] or arrays["indices"].shape != (n,):
            raise InputError(f"{self.path / c['files']['indices']['name']}: {arrays['indices'].shape[0]} lookups, "
                             f"lengths add up to {n}, the manifest says {c['lookups']}; expected all three equal")
        ts = arrays.get("timestamps_s")
        tr = Trace(lengths=L, indices=arrays["indices"], table_rows=self.table_rows, table_names=self.table_names,
                   timestamps_s=ts, meta=self.meta)
        if self.validate:
            tr.validate(str(self.path / c["files"]["indices"]["name"]))
        return Chunk(c["first_batch"], c["first_index"], tr)

    def chunks(self):
        """The chunks in order, each read and checked by a background thread ``PREFETCH_CHUNKS`` ahead."""
        q = queue.Queue(maxsize=PREFETCH_CHUNKS)
        stop = threading.Event()
        pool = BufferPool()

        def work():
            try:
                for k in range(self.n_chunks):
                    if stop.is_set():
                        return
                    q.put(("chunk", self.read_chunk(k, pool)))
            except BaseException as e:  # handed to the consumer, raised there
                q.put(("error", e))
                return
            q.put(("end", None))

        worker = threading.Thread(target=work, name="embsim-trace-reader", daemon=True)
        worker.start()
        try:
            while True:
                kind, item = q.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise item
                yield item
                item = None   # drop the chunk before waiting for the next one
        finally:
            stop.set()
            while worker.is_alive():      # unblock a worker waiting to put
                try:
                    q.get(timeout=0.05)
                except queue.Empty:
                    pass
            worker.join()


def _read_manifest(path):
    """The checked manifest of a ``.trace`` folder (InputError naming the field that is wrong)."""
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise InputError(f"{path}: is a folder without {MANIFEST}; expected a .npz trace file or a chunked "
                         f".trace folder written by embsim (an interrupted write leaves no manifest)")
    try:
        m = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{mpath}: not valid JSON ({e})") from None
    if not isinstance(m, dict) or m.get("format") != CHUNKED_FORMAT:
        raise InputError(f"{mpath}: format: expected {CHUNKED_FORMAT!r}")
    if not isinstance(m.get("format_version"), int) or m["format_version"] > CHUNKED_VERSION:
        raise InputError(f"{mpath}: format_version: {m.get('format_version')!r}; this embsim reads up to "
                         f"{CHUNKED_VERSION} (upgrade embsim)")
    for k in ("batches", "tables", "batch_size", "lookups", "batches_per_chunk"):
        if not isinstance(m.get(k), int) or m[k] < (1 if k in ("batches_per_chunk", "batch_size") else 0):
            raise InputError(f"{mpath}: {k}: {m.get(k)!r}; expected a non-negative integer")
    T = m["tables"]
    for k in ("table_rows", "table_names", "lookups_per_table"):
        if not isinstance(m.get(k), list) or len(m[k]) != T:
            raise InputError(f"{mpath}: {k}: expected a list of {T} entries (one per table)")
    if any(not isinstance(r, int) or r <= 0 for r in m["table_rows"]):
        raise InputError(f"{mpath}: table_rows: expected positive integers")
    if not isinstance(m.get("meta"), dict):
        raise InputError(f"{mpath}: meta: expected a JSON object")
    m["timestamps"] = bool(m.get("timestamps", False))
    chunks = m.get("chunks")
    if not isinstance(chunks, list):
        raise InputError(f"{mpath}: chunks: expected a list")
    b = i = 0
    for k, c in enumerate(chunks):
        where = f"{mpath}: chunks[{k}]"
        if not isinstance(c, dict) or not isinstance(c.get("files"), dict):
            raise InputError(f"{where}: expected an object with files")
        if c.get("first_batch") != b or c.get("first_index") != i:
            raise InputError(f"{where}: starts at batch {c.get('first_batch')}, lookup {c.get('first_index')}; "
                             f"the chunks before it end at batch {b}, lookup {i}")
        nb, n = c.get("batches"), c.get("lookups")
        last = k == len(chunks) - 1
        if not isinstance(nb, int) or not isinstance(n, int) or n < 0 or nb < 1 or nb > m["batches_per_chunk"] \
                or (not last and nb != m["batches_per_chunk"]):
            raise InputError(f"{where}: {nb!r} batches, {n!r} lookups; expected {m['batches_per_chunk']} batches "
                             f"per chunk (fewer only in the last) and a lookup count")
        need = ("lengths", "indices") + (("timestamps_s",) if m["timestamps"] else ())
        for name in need:
            f = c["files"].get(name)
            if not isinstance(f, dict) or not isinstance(f.get("name"), str) or "/" in f["name"] \
                    or not isinstance(f.get("bytes"), int) or not isinstance(f.get("crc32"), int):
                raise InputError(f"{where}: files.{name}: expected {{name, bytes, crc32}}")
        b, i = b + nb, i + n
    if b != m["batches"] or i != m["lookups"]:
        raise InputError(f"{mpath}: the chunks hold {b} batches and {i} lookups; the manifest says "
                         f"{m['batches']} batches and {m['lookups']} lookups")
    if sum(m["lookups_per_table"]) != m["lookups"]:
        raise InputError(f"{mpath}: lookups_per_table add up to {sum(m['lookups_per_table'])}, "
                         f"not the {m['lookups']} lookups")
    return m


def open_trace(trace, validate=True):
    """A :class:`TraceReader` for a path (``.npz`` file or ``.trace`` folder), a Trace, or a reader."""
    if isinstance(trace, TraceReader):
        return trace
    if isinstance(trace, Trace):
        return MemoryTraceReader(trace)
    path = Path(trace)
    if path.is_dir():
        return ChunkedTraceReader(path, validate=validate)
    if not path.exists():
        raise InputError(f"{path}: no such trace file or folder")
    return MemoryTraceReader(load_trace(path, validate=validate), source=str(path))


def read_trace(path, validate=True):
    """The whole trace at ``path`` (either format) in memory."""
    return open_trace(path, validate=validate).load()


# ================================================================ writers ===
def check_trace_output(path, force=False, inputs=()):
    """InputError unless ``path`` names a trace output that may be written (``.npz`` or ``.trace``).

    ``inputs``: the command's inputs, which the output may never replace (``fileio.check_output``).
    """
    path = Path(path)
    if path.suffix not in (".npz", CHUNKED_SUFFIX):
        raise InputError(f"{path}: trace outputs end in .npz (one file) or .trace (a folder of chunks)")
    check_output(path, force, inputs, folder=path.suffix == CHUNKED_SUFFIX)
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; choose another name or pass --force to replace it")
    if not path.parent.exists():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    if path.suffix == ".npz" and path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file name")
    if path.suffix == CHUNKED_SUFFIX and path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file; a .trace output is a folder")
    return path


class _Shape:
    """The fixed part of a trace being written: tables, rows, names, batch size, timestamps or not."""

    def __init__(self, table_rows, table_names, batch_size, timestamps):
        self.table_rows = np.ascontiguousarray(table_rows, dtype=np.int64).reshape(-1)
        T = self.table_rows.size
        self.table_names = [str(n) for n in table_names] if table_names is not None else [f"t{i}" for i in range(T)]
        if len(self.table_names) != T:
            raise InputError(f"trace writer: {len(self.table_names)} table names for {T} tables")
        self.batch_size, self.timestamps = int(batch_size), bool(timestamps)

    def check(self, lengths, indices, timestamps_s, where):
        lengths = np.ascontiguousarray(lengths, dtype=np.int32)
        indices = np.ascontiguousarray(indices, dtype=np.int64).reshape(-1)
        T, B = self.table_rows.size, self.batch_size
        if lengths.ndim != 3 or lengths.shape[1:] != (T, B):
            raise InputError(f"{where}: lengths shape {lengths.shape}; expected [batches, {T}, {B}]")
        n = int(lengths.sum(dtype=np.int64))
        if n != indices.size:
            raise InputError(f"{where}: lengths add up to {n} lookups but {indices.size} indices were given")
        if (timestamps_s is not None) != self.timestamps:
            raise InputError(f"{where}: timestamps_s {'missing' if self.timestamps else 'given'}; the writer was "
                             f"opened {'with' if self.timestamps else 'without'} timestamps")
        if timestamps_s is not None:
            timestamps_s = np.ascontiguousarray(timestamps_s, dtype=np.float64)
            if timestamps_s.shape != (lengths.shape[0], B):
                raise InputError(f"{where}: timestamps_s shape {timestamps_s.shape}; expected {(lengths.shape[0], B)}")
        return lengths, indices, timestamps_s


def _meta_json(meta, where):
    try:
        return json.loads(json.dumps(dict(meta or {}), sort_keys=True))
    except (TypeError, ValueError) as e:
        raise InputError(f"{where}: meta: not JSON-serialisable ({e})") from None


class NpzTraceWriter:
    """The one-file writer: collects the appended batches and saves one ``.npz`` at ``close`` (in memory)."""

    def __init__(self, path, table_rows, table_names=None, batch_size=1, timestamps=False, force=False):
        self.path, self.force = check_trace_output(path, force), force
        self.shape = _Shape(table_rows, table_names, batch_size, timestamps)
        self._parts = []

    def append(self, lengths, indices, timestamps_s=None):
        self._parts.append(self.shape.check(lengths, indices, timestamps_s, str(self.path)))

    def close(self, meta=None):
        s, p = self.shape, self._parts
        tr = Trace(lengths=np.concatenate([x[0] for x in p]) if p else np.zeros((0, s.table_rows.size, s.batch_size)),
                   indices=np.concatenate([x[1] for x in p]) if p else np.zeros(0, np.int64),
                   table_rows=s.table_rows, table_names=s.table_names,
                   timestamps_s=np.concatenate([x[2] for x in p]) if s.timestamps and p else None,
                   meta=_meta_json(meta, str(self.path)))
        self._parts = []
        return tr.save(self.path, force=self.force)

    def abort(self):
        self._parts = []

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            self.abort()
        return False


class ChunkedTraceWriter:
    """Writes a ``.trace`` folder a chunk at a time (see the module docstring).

    ``batches_per_chunk`` defaults to about ``CHUNK_TARGET_LOOKUPS`` lookups
    per chunk, judged from the first appended block.
    """

    def __init__(self, path, table_rows, table_names=None, batch_size=1, timestamps=False, force=False,
                 batches_per_chunk=None):
        self.path, self.force = check_trace_output(path, force), force
        self.shape = _Shape(table_rows, table_names, batch_size, timestamps)
        self.batches_per_chunk = None if batches_per_chunk is None else int(batches_per_chunk)
        if self.batches_per_chunk is not None and self.batches_per_chunk < 1:
            raise InputError(f"{path}: batches_per_chunk {batches_per_chunk}: expected a positive integer")
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent))
        self._pending, self._pending_batches = [], 0
        self._chunks, self._batches, self._lookups = [], 0, 0
        self._per_table = np.zeros(self.shape.table_rows.size, dtype=np.int64)
        self._closed = False

    def append(self, lengths, indices, timestamps_s=None):
        """Add whole batches (``lengths`` [batches, tables, batch_size] and their ``indices``)."""
        lengths, indices, ts = self.shape.check(lengths, indices, timestamps_s, str(self.path))
        nb = lengths.shape[0]
        if nb == 0:
            return
        if self.batches_per_chunk is None:
            self.batches_per_chunk = batches_per_chunk_for(indices.size / nb)
        self._per_table += lengths.sum(axis=(0, 2), dtype=np.int64)
        self._pending.append((lengths, indices, ts))
        self._pending_batches += nb
        while self._pending_batches >= self.batches_per_chunk:
            self._write_chunk(self.batches_per_chunk)

    def _take(self, nb):
        """Remove the first ``nb`` pending batches and return them joined."""
        got, parts = 0, []
        while got < nb:
            L, I, ts = self._pending[0]
            k = min(nb - got, L.shape[0])
            if k == L.shape[0]:
                parts.append(self._pending.pop(0))
            else:
                cut = int(L[:k].sum(dtype=np.int64))
                parts.append((L[:k], I[:cut], None if ts is None else ts[:k]))
                self._pending[0] = (L[k:], I[cut:], None if ts is None else ts[k:])
            got += k
        self._pending_batches -= nb
        join = (lambda xs: xs[0]) if len(parts) == 1 else np.concatenate
        return (join([p[0] for p in parts]), join([p[1] for p in parts]),
                None if parts[0][2] is None else join([p[2] for p in parts]))

    def _write_chunk(self, nb):
        L, I, ts = self._take(nb)
        k = len(self._chunks)
        files = {}
        for name, arr in (("lengths", L), ("indices", I), ("timestamps_s", ts)):
            if arr is None:
                continue
            fname = f"chunk-{k:06d}.{name}.npy"
            with open(self.tmp / fname, "wb") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)
            files[name] = {"name": fname, "bytes": (self.tmp / fname).stat().st_size,
                           "crc32": _file_crc32(self.tmp / fname)}
        self._chunks.append({"first_batch": self._batches, "batches": int(L.shape[0]),
                             "first_index": self._lookups, "lookups": int(I.size), "files": files})
        self._batches += int(L.shape[0])
        self._lookups += int(I.size)

    def close(self, meta=None):
        """Write the last chunk and the manifest, then move the folder into place; return the path."""
        if self._closed:
            raise InputError(f"{self.path}: writer already closed")
        try:
            meta = _meta_json(meta, str(self.path))
            if self._pending_batches:
                self._write_chunk(self._pending_batches)
            s = self.shape
            manifest = {"format": CHUNKED_FORMAT, "format_version": CHUNKED_VERSION,
                        "batches": self._batches, "tables": int(s.table_rows.size), "batch_size": s.batch_size,
                        "lookups": self._lookups, "batches_per_chunk": self.batches_per_chunk or 1,
                        "timestamps": s.timestamps, "table_rows": [int(r) for r in s.table_rows],
                        "table_names": s.table_names, "lookups_per_table": [int(v) for v in self._per_table],
                        "meta": meta, "chunks": self._chunks}
            write_text(self.tmp / MANIFEST, json.dumps(manifest, indent=1))
            _move_into_place(self.tmp, self.path, self.force)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self):
        """Drop everything written so far (the target is left as it was)."""
        self._pending = []
        self._closed = True
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            self.abort()
        return False


def _file_crc32(fpath, block=1 << 24):
    crc = 0
    with open(fpath, "rb") as f:
        while True:
            b = f.read(block)
            if not b:
                return crc
            crc = _crc32(b, crc)


def _move_into_place(tmp, path, force):
    """Rename the finished folder ``tmp`` to ``path``; an old ``path`` (force) is moved aside, then removed."""
    old = None
    if path.exists():
        if not force:
            raise InputError(f"{path}: already exists; choose another name or pass --force to replace it")
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.rmdir(old)
        os.rename(path, old)
    os.rename(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def open_trace_writer(path, table_rows, table_names=None, batch_size=1, timestamps=False, force=False,
                      batches_per_chunk=None):
    """A writer for ``path``: chunked for ``.trace``, one file for ``.npz`` (collected in memory)."""
    if Path(path).suffix == CHUNKED_SUFFIX:
        return ChunkedTraceWriter(path, table_rows, table_names, batch_size, timestamps, force, batches_per_chunk)
    return NpzTraceWriter(path, table_rows, table_names, batch_size, timestamps, force)


def save_trace(trace, path, force=False, batches_per_chunk=None):
    """Write a Trace (or any reader's trace) to ``path`` in the format its suffix names; return the path."""
    reader = open_trace(trace)
    if Path(path).suffix == ".npz" and isinstance(reader, MemoryTraceReader):
        check_trace_output(path, force)
        return reader.trace.save(path, force=force)
    with open_trace_writer(path, reader.table_rows, reader.table_names, reader.batch_size,
                           reader.has_timestamps, force, batches_per_chunk) as w:
        for c in reader.chunks():
            w.append(c.trace.lengths, c.trace.indices, c.trace.timestamps_s)
        return w.close(reader.meta)
