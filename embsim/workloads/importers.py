"""Turn real interaction logs into embsim traces.

Two sources:

``import_movielens(path, batch_size)``
    MovieLens ``u.data`` (no header; tab separated ``user item rating
    timestamp``, integer ids and seconds) or a RecBole atomic ``.inter`` file
    (a header of ``name:type`` fields, e.g. ``user_id:token item_id:token
    rating:float timestamp:float``, then tab separated values; columns are
    found by name, so any order and extra columns are fine; ``user_id``,
    ``item_id`` and ``timestamp`` are required).  The format is told by the
    first line: ``name:type`` fields mean RecBole.

    Interactions are ordered by timestamp, stably (ties keep file order),
    and each becomes one sample of a two-table single-hot trace: table 0
    ``users``, table 1 ``items``.  Ids are remapped to dense rows 0..n-1 in
    order of first appearance *in that time order* (row 0 is the first user
    to act), so ``table_rows`` are the numbers of distinct users and items.
    u.data ids must be non-negative integers; RecBole ids are tokens (any
    text), as RecBole defines them.  ``timestamps_s`` holds each sample's
    timestamp.  A trailing partial batch is dropped (a trace has whole
    batches only) and ``meta["dropped_interactions"]`` says how many.

``import_dlrm_datasets(path, batch_size=None)``
    A Meta dlrm_datasets / FBGEMM ``.pt`` file (plain or gzipped) holding the
    tuple ``(indices, offsets, lengths)``: for T tables and B samples,
    ``lengths`` is [T, B], ``offsets`` has T*B+1 entries, table-major
    (``offsets[t*B + s]`` is where sample s of table t starts in
    ``indices``).  The B samples are cut into batches of ``batch_size``
    (default: all B in one batch; a trailing partial batch is dropped and
    counted in meta) and rewritten batch-major, embsim's layout.  The file
    does not say how many rows a table has: ``table_rows`` is the largest
    index seen plus one (1 for a table never accessed).  Needs PyTorch
    (optional dependency: ``pip install 'embsim[torch]'``).

Every bad input raises one InputError line naming the file, line and field.
"""
import csv
import gzip
import io
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import note_input
from ..progress import progress
from .trace import CHUNK_INDICES, Trace

UDATA_FIELDS = ("user", "item", "rating", "timestamp")
RECBOLE_REQUIRED = ("user_id", "item_id", "timestamp")
RECBOLE_EXAMPLE = "user_id:token item_id:token rating:float timestamp:float"
RECBOLE_TYPES = ("token", "token_seq", "float", "float_seq")
TORCH_HINT = "pip install torch (CPU build is enough) or pip install 'embsim[torch]'"


# u.data ids are read as float64, exact up to 2^53
MAX_EXACT_ID = 2 ** 53


# ============================================================ MovieLens ===
def import_movielens(path, batch_size):
    """Read MovieLens u.data or a RecBole .inter file into a two-table trace (see module docstring)."""
    path = Path(path)
    _check_file(path)
    _check_batch_size(batch_size, path)
    first = _first_line(path)
    if first is None:
        raise InputError(f"{path}: empty file; expected MovieLens u.data lines (user, item, rating, "
                         f"timestamp, tab separated) or a RecBole .inter header ({RECBOLE_EXAMPLE})")
    users, items, ts, fmt, _ = _read_interactions(path, first)
    n = users.size
    if n < batch_size:
        raise InputError(f"{path}: {n} interactions, fewer than one batch of {batch_size}; "
                         f"expected at least batch_size interactions (choose a smaller --batch-size)")
    order = np.argsort(ts, kind="stable")        # ties keep file order
    n_batches = n // batch_size
    keep = n_batches * batch_size
    dropped = n - keep
    order = order[:keep]
    # dense ids in order of first appearance in time order (pandas.factorize keeps appearance order)
    import pandas as pd
    u_codes, u_uniques = pd.factorize(users[order], use_na_sentinel=False)
    i_codes, i_uniques = pd.factorize(items[order], use_na_sentinel=False)
    indices = np.empty(2 * keep, dtype=np.int64)
    # batch-major: batch b holds users of its samples, then items of its samples
    indices.reshape(n_batches, 2, batch_size)[:, 0, :] = u_codes.reshape(n_batches, batch_size)
    indices.reshape(n_batches, 2, batch_size)[:, 1, :] = i_codes.reshape(n_batches, batch_size)
    meta = {"source": str(path), "format": fmt, "importer": "movielens", "interactions": int(n),
            "dropped_interactions": int(dropped), "batch_size": int(batch_size),
            "id_mapping": "dense rows in order of first appearance, after the stable sort by timestamp",
            "tables": {"users": "table 0", "items": "table 1"}}
    return Trace(lengths=np.ones((n_batches, 2, batch_size), dtype=np.int32), indices=indices,
                 table_rows=np.array([len(u_uniques), len(i_uniques)], dtype=np.int64),
                 table_names=["users", "items"],
                 timestamps_s=ts[order].astype(np.float64).reshape(n_batches, batch_size), meta=meta).validate(str(path))


def _read_interactions(path, first):
    """(users, items, timestamps, format, ratings or None) of a u.data or RecBole .inter file."""
    return _read_recbole(path, first) if ":" in first else _read_udata(path)


def _read_udata(path):
    """u.data: four tab separated numbers per line, no header."""
    df = _read_table(path, header_lines=0, names=UDATA_FIELDS, str_columns=(),
                     hint=f" as in MovieLens u.data, or a RecBole header ({RECBOLE_EXAMPLE})")
    lines = df.index.to_numpy() + 1
    cols = {}
    for name in UDATA_FIELDS:
        v = _numeric(path, df[name], name, lines)
        if name in ("user", "item"):
            frac = v != np.floor(v)
            if frac.any():
                i = int(np.argmax(frac))
                raise InputError(f"{path}: line {lines[i]}: {name}: {_show(df[name].iloc[i])}; expected an integer id")
            neg = v < 0
            if neg.any():
                i = int(np.argmax(neg))
                raise InputError(f"{path}: line {lines[i]}: {name}: {_show(df[name].iloc[i])}; expected an id >= 0")
            big = v >= MAX_EXACT_ID
            if big.any():   # read as float64: larger ids lose digits, and different ids would merge
                i = int(np.argmax(big))
                raise InputError(f"{path}: line {lines[i]}: {name}: {_show(df[name].iloc[i])}; expected an id "
                                 f"below 2^53 = {MAX_EXACT_ID} (or use a RecBole .inter file, whose ids are tokens)")
            v = v.astype(np.int64)
        cols[name] = v
    return cols["user"], cols["item"], cols["timestamp"].astype(np.float64), "u.data", cols["rating"]


def _read_recbole(path, header):
    """RecBole atomic .inter: a 'name:type' header, then tab separated values."""
    fields = header.rstrip("\r\n").split("\t")
    names = []
    for j, f in enumerate(fields):
        name, sep, typ = f.strip().partition(":")
        if not sep or not name or typ not in RECBOLE_TYPES:
            raise InputError(f"{path}: line 1: header field {j + 1} {f!r}; expected name:type with type one of "
                             f"{', '.join(RECBOLE_TYPES)} (a RecBole header like {RECBOLE_EXAMPLE})")
        names.append(name)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"{path}: line 1: header field {dup!r} appears twice")
    missing = [n for n in RECBOLE_REQUIRED if n not in names]
    if missing:
        raise InputError(f"{path}: line 1: header has no {missing[0]!r} field (got {', '.join(fields)}); "
                         f"expected {RECBOLE_EXAMPLE}")
    df = _read_table(path, header_lines=1, names=names, str_columns=("user_id", "item_id"))
    lines = df.index.to_numpy() + 2
    if df.shape[0] == 0:
        raise InputError(f"{path}: no interactions after the header line")
    for key in ("user_id", "item_id"):
        empty = (df[key] == "").to_numpy()
        if empty.any():
            i = int(np.argmax(empty))
            raise InputError(f"{path}: line {lines[i]}: {key}: empty; expected a token")
    ts = _numeric(path, df["timestamp"], "timestamp", lines)
    ratings = _numeric(path, df["rating"], "rating", lines) if "rating" in df.columns else None
    return df["user_id"].to_numpy(dtype=object), df["item_id"].to_numpy(dtype=object), ts, "recbole .inter", ratings


def _read_table(path, header_lines, names, str_columns, hint=""):
    """Tab separated values with pandas' C parser, columns ``names``; blank lines skipped.

    The frame's index is the 0-based line number after the header, so that
    errors name file lines.  Columns in ``str_columns`` stay text (tokens);
    the others are parsed as numbers where they can be (checked later).
    """
    import pandas as pd
    pos = {c: j for j, c in enumerate(names)}
    try:
        df = pd.read_csv(path, sep="\t", header=None, skiprows=header_lines,
                         dtype={pos[c]: str for c in str_columns} or None,
                         skip_blank_lines=False, quoting=csv.QUOTE_NONE, keep_default_na=False,
                         na_values={j: [""] for c, j in pos.items() if c not in str_columns},
                         engine="c", encoding="utf-8", encoding_errors="strict")
    except pd.errors.ParserError as e:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if m:  # pandas counts lines from the first one it read, after the header
            msg = f"line {int(m.group(2)) + header_lines}: {m.group(3)} tab separated fields"
        else:
            msg = str(e).split("C error: ")[-1].strip().rstrip(".")
        raise InputError(f"{path}: {msg}; expected {len(names)} ({', '.join(names)}) per line{hint}") from None
    except pd.errors.EmptyDataError:
        after = " after the header line" if header_lines else ""
        raise InputError(f"{path}: no interactions{after}; expected tab separated lines of "
                         f"{', '.join(names)}") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text at byte {e.start}; expected a tab separated text file") from None
    text = [pos[c] for c in str_columns if pos[c] < df.shape[1]]
    for j in text:
        df[j] = df[j].fillna("")
    blank = df.drop(columns=text).isna().all(axis=1)
    for j in text:
        blank &= df[j] == ""
    df = df[~blank.to_numpy()]
    if df.shape[1] != len(names) and df.shape[0]:
        # pandas takes the width from the first line; later lines that differ are caught above
        line = int(df.index[0]) + 1 + header_lines
        raise InputError(f"{path}: line {line}: {df.shape[1]} tab separated fields; expected {len(names)} "
                         f"({', '.join(names)}){hint}")
    df.columns = list(names)
    return df


def _numeric(path, col, name, lines):
    """float64 values of a column; InputError naming the first missing or non-numeric field."""
    import pandas as pd
    v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.argmax(bad))
        raw = col.iloc[i]
        if raw is None or (isinstance(raw, float) and np.isnan(raw)):
            raise InputError(f"{path}: line {lines[i]}: {name}: missing; expected a number "
                             f"(is a tab separated field missing?)")
        raise InputError(f"{path}: line {lines[i]}: {name}: {_show(raw)}; expected a finite number")
    return v


# ======================================================= dlrm_datasets ===
def import_dlrm_datasets(path, batch_size=None):
    """Read a dlrm_datasets / FBGEMM ``(indices, offsets, lengths)`` .pt file into a Trace (see module docstring)."""
    path = Path(path)
    arrays, _ = _load_dlrm(path, batch_size)
    lay = _dlrm_layout(path, arrays["indices"], arrays["offsets"], arrays["lengths"], batch_size)
    blocks = list(_dlrm_blocks(lay, arrays["indices"], lay["n_batches"]))
    return Trace(lengths=blocks[0][0], indices=blocks[0][1], table_rows=lay["table_rows"],
                 table_names=[f"t{t}" for t in range(lay["T"])], meta=_dlrm_meta(path, lay)).validate(str(path))


def import_dlrm_datasets_to(path, output, batch_size=None, force=False, scratch_dir=None):
    """Stream a dlrm_datasets .pt file into a trace at ``output`` (``.trace``: chunk by chunk); return its reader.

    The tensors are memory-mapped (``torch.load(mmap=True)``, which needs
    the zip format that ``torch.save`` writes since PyTorch 1.6), so the
    indices are read from the file a chunk of batches at a time and the
    pages already read are handed back (``madvise(MADV_PAGEOUT)``): memory is the
    per-sample ``offsets`` and ``lengths`` (16 bytes per bag, which this
    layout needs whole to find every bag) plus one chunk.  A gzipped file is
    first decompressed to a temporary file in ``scratch_dir`` (default: the
    output's folder; disk: the uncompressed size).  A legacy (pre-zip)
    ``.pt`` cannot be mapped: torch reads it whole (memory: the file).
    """
    from .store import open_trace, open_trace_writer
    path, output = Path(path), Path(output)
    arrays, scratch = _load_dlrm(path, batch_size, mmap_dir=Path(scratch_dir or output.parent))
    try:
        ind = arrays["indices"]
        lay = _dlrm_layout(path, ind, arrays["offsets"], arrays["lengths"], batch_size, drop=True)
        T, b = lay["T"], lay["b"]
        per_batch = max(1.0, lay["seg_len"].sum() / max(lay["n_batches"], 1))
        from .store import batches_per_chunk_for
        block = batches_per_chunk_for(per_batch)
        with open_trace_writer(output, lay["table_rows"], [f"t{t}" for t in range(T)], b, force=force,
                               batches_per_chunk=block) as w:
            for lengths, out in _dlrm_blocks(lay, ind, block):
                w.append(lengths, out)
                _drop_pages(ind)        # those pages are not read again (the cursors only move forward)
            w.close(_dlrm_meta(path, lay))
    finally:
        del arrays
        if scratch is not None:
            scratch.unlink(missing_ok=True)
    return open_trace(output)


def _load_dlrm(path, batch_size, mmap_dir=None):
    """The (indices, offsets, lengths) numpy arrays of a .pt file, and a scratch file to delete (or None).

    ``mmap_dir`` given: map the tensors instead of reading them (a gzipped
    file is decompressed into a scratch file there first).
    """
    _check_file(path)
    if batch_size is not None:
        _check_batch_size(batch_size, path)
    try:
        import torch
    except ImportError:
        raise InputError(f"{path}: reading dlrm_datasets .pt files needs PyTorch, which is not installed; "
                         f"{TORCH_HINT}") from None
    with open(path, "rb") as f:
        head = f.read(2)
    if not head:
        raise InputError(f"{path}: empty file; expected a torch .pt file holding (indices, offsets, lengths)")
    scratch, source = None, None
    if mmap_dir is None:
        raw = path.read_bytes()
        if head == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as e:
                raise InputError(f"{path}: gzip data is damaged ({e}); expected a gzipped torch .pt file") from None
        source = io.BytesIO(raw)
    elif head == b"\x1f\x8b":
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".pt", dir=mmap_dir)
        scratch = Path(name)
        try:
            with gzip.open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 24)
        except (OSError, EOFError) as e:
            scratch.unlink(missing_ok=True)
            raise InputError(f"{path}: gzip data is damaged ({e}); expected a gzipped torch .pt file") from None
        source = scratch
    else:
        source = path
    try:
        obj = _torch_load(torch, source, mmap=mmap_dir is not None)
    except Exception as e:  # torch raises many kinds (UnpicklingError, RuntimeError, KeyError, EOFError ...)
        if scratch is not None:
            scratch.unlink(missing_ok=True)
        raise InputError(f"{path}: not a readable torch .pt file of tensors ({_torch_reason(e)}); expected the "
                         f"tuple (indices, offsets, lengths) saved with torch.save") from None
    if not isinstance(obj, (tuple, list)) or len(obj) != 3 or not all(isinstance(a, torch.Tensor) for a in obj):
        what = f"a {type(obj).__name__}" + (f" of {len(obj)} items" if isinstance(obj, (tuple, list)) else "")
        raise InputError(f"{path}: holds {what}; expected a tuple of three tensors (indices, offsets, lengths)")
    arrays = {}
    for name, t in zip(("indices", "offsets", "lengths"), obj):
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            raise InputError(f"{path}: {name}: dtype {t.dtype}; expected an integer tensor")
        arrays[name] = t.detach().cpu().numpy()
    return arrays, scratch


def _torch_load(torch, source, mmap):
    with warnings.catch_warnings():  # torch warns about pickle protocols on stderr: keep the CLI to one line
        warnings.simplefilter("ignore")
        # weights_only: tensors and containers only, never arbitrary code from a pickle
        if mmap:
            try:
                return torch.load(str(source), map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as e:
                if "mmap" not in str(e).lower():
                    raise
                # a legacy (pre-zip) file cannot be mapped: read it whole
        return torch.load(source if not isinstance(source, Path) else str(source), map_location="cpu",
                          weights_only=True)


def _drop_pages(a):
    """Ask the kernel to reclaim the pages of ``a`` (Linux ``madvise(MADV_PAGEOUT)``; elsewhere nothing).

    For a file-mapped array the clean pages are dropped (read again from the
    file if touched again); anonymous memory is never lost (without swap it
    simply stays).
    """
    try:
        import ctypes
        import mmap
        libc = ctypes.CDLL(None, use_errno=True)
        page = mmap.PAGESIZE
        start = a.ctypes.data - a.ctypes.data % page
        libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(a.ctypes.data + a.nbytes - start), 21)  # MADV_PAGEOUT
    except (OSError, AttributeError, ValueError):
        pass


def _dlrm_layout(path, indices, offsets, lengths, batch_size, drop=False):
    """Check table-major (indices, offsets [T*B+1], lengths [T, B]); the batch-major layout as a dict."""
    if lengths.ndim != 2:
        raise InputError(f"{path}: lengths: shape {lengths.shape}; expected [tables, samples] (2-D)")
    T, B = lengths.shape
    if indices.ndim != 1 or offsets.ndim != 1:
        bad = "indices" if indices.ndim != 1 else "offsets"
        raise InputError(f"{path}: {bad}: shape {(indices if bad == 'indices' else offsets).shape}; "
                         f"expected a flat tensor")
    if offsets.size != T * B + 1:
        raise InputError(f"{path}: offsets: {offsets.size} entries; expected tables x samples + 1 = "
                         f"{T} x {B} + 1 = {T * B + 1} (table-major FBGEMM layout)")
    if T == 0 or B == 0:
        raise InputError(f"{path}: lengths: shape {lengths.shape}; expected at least one table and one sample")
    offsets = offsets.astype(np.int64, copy=False)
    lengths = lengths.astype(np.int64, copy=False)
    if offsets[0] != 0 or offsets[-1] != indices.size:
        raise InputError(f"{path}: offsets: run from {offsets[0]} to {offsets[-1]}; expected 0 to "
                         f"{indices.size} (the number of indices)")
    seg = np.diff(offsets)
    if (seg != lengths.ravel()).any():
        k = int(np.argmax(seg != lengths.ravel()))
        raise InputError(f"{path}: lengths[{k // B}, {k % B}] = {lengths.ravel()[k]} but offsets give "
                         f"{seg[k]} for that bag; expected lengths = diff(offsets)")
    del seg
    if (lengths < 0).any():
        t, s = np.argwhere(lengths < 0)[0]
        raise InputError(f"{path}: lengths[{t}, {s}] = {lengths[t, s]}; expected a count >= 0")
    if lengths.max() > np.iinfo(np.int32).max:
        raise InputError(f"{path}: lengths: a bag of {lengths.max()} lookups; expected < 2^31")
    b = B if batch_size is None else int(batch_size)
    if b > B:
        raise InputError(f"{path}: {B} samples, fewer than one batch of {b}; choose a smaller --batch-size")
    n_batches = B // b
    # rows per table: largest index + 1 (the file does not say); negative indices are errors
    table_rows = np.ones(T, dtype=np.int64)
    for t in range(T):
        for lo_i in range(int(offsets[t * B]), int(offsets[(t + 1) * B]), CHUNK_INDICES):
            part = indices[lo_i:min(lo_i + CHUNK_INDICES, int(offsets[(t + 1) * B]))]
            lo = int(part.min())
            if lo < 0:
                i = int(np.argmax(part < 0))
                raise InputError(f"{path}: indices[{lo_i + i}] = {lo} in table {t}; expected a row >= 0")
            table_rows[t] = max(table_rows[t], int(part.max()) + 1)
            if drop:             # a mapped file: its pages read so far need not stay resident
                _drop_pages(part)
    # segment (batch k, table t) = indices[offsets[t*B + k*b] : offsets[t*B + (k+1)*b]], in batch-major order
    starts = offsets[(np.arange(T)[None, :] * B + np.arange(n_batches)[:, None] * b)].ravel()
    ends = offsets[(np.arange(T)[None, :] * B + np.arange(1, n_batches + 1)[:, None] * b)].ravel()
    return {"T": T, "B": B, "b": b, "n_batches": n_batches, "lengths": lengths, "table_rows": table_rows,
            "starts": starts, "seg_len": ends - starts}


def _dlrm_blocks(lay, indices, block_batches):
    """Yield (lengths int32 [k, T, b], indices int64) of ``block_batches`` batches at a time, batch-major."""
    T, b, nb = lay["T"], lay["b"], lay["n_batches"]
    with progress(total=int(lay["seg_len"].sum()), desc="reordering", unit="idx") as bar:
        for k0 in range(0, nb, block_batches):
            k1 = min(nb, k0 + block_batches)
            lengths = np.ascontiguousarray(lay["lengths"][:, k0 * b:k1 * b].reshape(T, k1 - k0, b)
                                           .transpose(1, 0, 2)).astype(np.int32)
            starts, seg_len = lay["starts"][k0 * T:k1 * T], lay["seg_len"][k0 * T:k1 * T]
            seg_out = np.concatenate([[0], np.cumsum(seg_len)])
            out = np.empty(int(seg_out[-1]), dtype=np.int64)
            # gather a few million indices at a time
            s = 0
            while s < seg_len.size:
                e = max(int(np.searchsorted(seg_out, seg_out[s] + CHUNK_INDICES, side="right")) - 1, s + 1)
                # input position = segment start + (output position - segment's output start)
                pos = np.repeat(starts[s:e] - seg_out[s:e], seg_len[s:e]) + np.arange(seg_out[s], seg_out[e])
                out[seg_out[s]:seg_out[e]] = indices[pos]
                bar.update(int(seg_out[e] - seg_out[s]))
                s = e
            yield lengths, out


def _dlrm_meta(path, lay):
    return {"source": str(path), "format": "dlrm_datasets .pt (indices, offsets, lengths), table-major",
            "importer": "dlrm-datasets", "samples": int(lay["B"]),
            "dropped_samples": int(lay["B"] - lay["n_batches"] * lay["b"]), "batch_size": int(lay["b"]),
            "table_rows": "largest index seen + 1 per table (the file does not store row counts)"}


# ============================================================== helpers ===
def _check_file(path):
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: is a folder; expected a file")
    note_input(path)


def _check_batch_size(batch_size, path):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise InputError(f"{path}: batch size {batch_size!r}; expected a positive integer")


def _torch_reason(e):
    """The useful part of a torch.load error, on one short line."""
    text = str(e)
    m = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\s*\n|Check the documentation|$)", text, re.S)
    if m:
        return "unpickling refused: " + " ".join(m.group(1).split())[:120]
    first = " ".join(text.split())[:120]
    return f"{e.__class__.__name__}: {first}" if first else e.__class__.__name__


def _show(value):
    """A field value as the user wrote it: '12', '-3', 'abc' (no numpy reprs)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return repr(str(value))


def _first_line(path):
    """First non-blank line of a text file, or None if there is none."""
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", errors="replace")
            if line.strip():
                return line
    return None
