"""Trace object and .npz format: round trip, helpers, every validation error, safe saving."""
import json
import zipfile

import numpy as np
import pytest

from embsim.errors import InputError
from embsim.workloads import trace as trace_mod
from embsim.workloads.trace import Trace, load_trace


def make_trace(rng, batches=4, rows=(7, 300, 1), batch_size=5, max_len=3, timestamps=True):
    rows = np.array(rows)
    lengths = rng.integers(0, max_len + 1, (batches, rows.size, batch_size))
    idx = [rng.integers(0, rows[t], lengths[b, t].sum()) for b in range(batches) for t in range(rows.size)]
    ts = np.sort(rng.random(batches * batch_size)).reshape(batches, batch_size) if timestamps else None
    return Trace(lengths, np.concatenate(idx), rows, table_names=[f"tab{t}" for t in range(rows.size)],
                 timestamps_s=ts, meta={"source": "test", "seed": 3, "nested": {"a": [1, 2]}})


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def good_arrays(rng):
    tr = make_trace(rng)
    return dict(lengths=tr.lengths, indices=tr.indices, table_rows=tr.table_rows,
                table_names=np.array(tr.table_names), meta=np.array(json.dumps(tr.meta)),
                timestamps_s=tr.timestamps_s, format_version=np.array(1))


# ----------------------------------------------------------------- round trip ---
def test_round_trip_is_bit_for_bit(tmp_path, rng):
    tr = make_trace(rng)
    tr.save(tmp_path / "t.npz")
    back = load_trace(tmp_path / "t.npz")
    for name in ("lengths", "indices", "table_rows", "timestamps_s"):
        a, b = getattr(tr, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), name
    assert back.table_names == tr.table_names
    assert back.meta == tr.meta
    assert back.lengths.dtype == np.int32 and back.indices.dtype == np.int64


def test_round_trip_without_timestamps_or_names(tmp_path, rng):
    tr = make_trace(rng, timestamps=False)
    tr = Trace(tr.lengths, tr.indices, tr.table_rows)
    tr.save(tmp_path / "t.npz")
    back = load_trace(tmp_path / "t.npz")
    assert back.timestamps_s is None
    assert back.table_names == ["t0", "t1", "t2"]
    assert back.meta == {}


def test_saving_same_trace_twice_gives_identical_files(tmp_path, rng):
    tr = make_trace(rng)
    tr.save(tmp_path / "a.npz")
    load_trace(tmp_path / "a.npz").save(tmp_path / "b.npz")
    a, b = (np.load(tmp_path / n) for n in ("a.npz", "b.npz"))
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        assert a[k].tobytes() == b[k].tobytes(), k


# -------------------------------------------------------------------- helpers ---
def reference_walk(tr):
    """Per index: (batch, table), by a plain Python walk over the layout."""
    out = []
    for b in range(tr.n_batches):
        for t in range(tr.n_tables):
            out += [(b, t)] * int(tr.lengths[b, t].sum())
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def test_layout_helpers_match_a_plain_walk(rng):
    tr = make_trace(rng, batches=6)
    walk = reference_walk(tr)
    assert np.array_equal(tr.table_of_index(), walk[:, 1])
    assert np.array_equal(tr.global_ids(), tr.row_offsets[walk[:, 1]] + tr.indices)
    assert np.array_equal(tr.batch_bounds(), np.searchsorted(walk[:, 0], np.arange(tr.n_batches + 1)))
    seg = walk[:, 0] * tr.n_tables + walk[:, 1]
    assert np.array_equal(tr.segment_offsets(), np.searchsorted(seg, np.arange(tr.n_batches * tr.n_tables + 1)))
    assert np.array_equal(tr.lookups_per_table(), np.bincount(walk[:, 1], minlength=tr.n_tables))
    assert tr.row_offsets.tolist() == [0, 7, 307]
    assert tr.total_rows == 308


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1000])
def test_segment_chunks_cover_the_trace_once_in_order(rng, chunk):
    tr = make_trace(rng, batches=5)
    _starts, tables = [], []
    pos = 0
    for start, stop, tab in tr.iter_segment_chunks(max_indices=chunk):
        assert start == pos and stop > start and stop - start == tab.size
        assert stop - start <= chunk or np.unique(tab).size == 1
        pos = stop
        tables.append(tab)
    assert pos == tr.n_indices
    assert np.array_equal(np.concatenate(tables), tr.table_of_index())


def test_repr_is_short(rng):
    tr = make_trace(rng)
    assert len(repr(tr)) < 300 and "4 batches" in repr(tr)


# ----------------------------------------------------------------- validation ---
def test_validate_returns_the_trace(rng):
    tr = make_trace(rng)
    assert tr.validate() is tr


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_out_of_range_index_names_table_and_position(rng, position):
    tr = make_trace(rng)
    tab = tr.table_of_index()
    cand = np.flatnonzero(tab == 1)
    pos = int({"first": cand[0], "middle": cand[cand.size // 2], "last": cand[-1]}[position])
    tr.indices[pos] = 300
    b = int(np.searchsorted(tr.batch_bounds(), pos, side="right") - 1)
    with pytest.raises(InputError) as e:
        tr.validate("x.npz")
    msg = str(e.value)
    assert f"indices[{pos}] = 300" in msg and "table 1" in msg and "'tab1'" in msg
    assert f"batch {b}" in msg and "0..299" in msg and msg.startswith("x.npz: ")


def test_negative_index_is_named(rng):
    tr = make_trace(rng)
    tr.indices[-1] = -4
    with pytest.raises(InputError, match=rf"indices\[{tr.n_indices - 1}\] = -4 is outside table"):
        tr.validate()


def test_out_of_range_found_across_chunks(rng, monkeypatch):
    monkeypatch.setattr(trace_mod, "CHUNK_INDICES", 2)
    tr = make_trace(rng)
    tr.indices[tr.n_indices - 1] = 10 ** 9
    with pytest.raises(InputError, match=rf"indices\[{tr.n_indices - 1}\]"):
        tr.validate()
    assert sum(1 for _ in tr.iter_segment_chunks(2)) > 3


@pytest.mark.parametrize("mutate, fragments", [
    (lambda tr: setattr(tr, "indices", tr.indices[:-2]), ["lengths add up to", "indices holds", "same lookups"]),
    (lambda tr: setattr(tr, "indices", np.concatenate([tr.indices, [0]])), ["lengths add up to"]),
    (lambda tr: setattr(tr, "table_rows", tr.table_rows[:2]), ["table_rows: shape (2,)", "3 tables"]),
    (lambda tr: setattr(tr, "table_names", ["a"]), ["table_names: 1 names for 3 tables"]),
    (lambda tr: tr.table_rows.__setitem__(1, 0), ["table_rows[1] ('tab1') = 0", "positive row count"]),
    (lambda tr: tr.table_rows.__setitem__(2, -5), ["table_rows[2] ('tab2') = -5"]),
    (lambda tr: tr.lengths.__setitem__((1, 2, 3), -1), ["lengths[1,2,3] = -1", "count >= 0"]),
    (lambda tr: setattr(tr, "lengths", tr.lengths[0]), ["lengths: expected shape [batches, tables, batch_size]"]),
    (lambda tr: setattr(tr, "indices", tr.indices.reshape(1, -1)), ["indices: expected a flat array"]),
    (lambda tr: setattr(tr, "timestamps_s", tr.timestamps_s[:2]), ["timestamps_s: expected shape"]),
    (lambda tr: tr.timestamps_s.__setitem__((0, 1), np.nan), ["timestamps_s[0,1] = nan", "finite"]),
    (lambda tr: setattr(tr, "meta", [1]), ["meta: expected a mapping"]),
])
def test_every_validation_error(rng, mutate, fragments):
    tr = make_trace(rng)
    mutate(tr)
    with pytest.raises(InputError) as e:
        tr.validate("f.npz")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("f.npz: ")
    for f in fragments:
        assert f in msg, (f, msg)


# ---------------------------------------------------------------- bad files ---
def test_load_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such trace file"):
        load_trace(tmp_path / "nope.npz")


def test_load_folder(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        load_trace(tmp_path)


@pytest.mark.parametrize("content, fragment", [
    (b"", "an empty file"),
    (b"hello, I am text", "not a zip archive"),
    (b"\x93NUMPY\x01\x00", "not a zip archive"),
])
def test_load_not_an_npz(tmp_path, content, fragment):
    p = tmp_path / "t.npz"
    p.write_bytes(content)
    with pytest.raises(InputError, match=fragment):
        load_trace(p)


def test_load_plain_npy_renamed(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    with pytest.raises(InputError, match="not a zip archive"):
        load_trace(tmp_path / "a.npz")


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_load_truncated_npz(tmp_path, rng, cut):
    make_trace(rng).save(tmp_path / "t.npz")
    data = (tmp_path / "t.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(InputError, match="not a readable .npz trace"):
        load_trace(tmp_path / "t.npz")


def test_load_corrupted_member(tmp_path, rng):
    make_trace(rng).save(tmp_path / "t.npz")
    data = bytearray((tmp_path / "t.npz").read_bytes())
    i = data.index(b"NUMPY", 200)  # inside a later member, past its header
    data[i + 120:i + 140] = b"\xff" * 20
    (tmp_path / "t.npz").write_bytes(bytes(data))
    with pytest.raises(InputError):
        load_trace(tmp_path / "t.npz")


@pytest.mark.parametrize("change, fragment", [
    (lambda a: a.pop("indices"), "indices: missing array"),
    (lambda a: a.pop("lengths"), "lengths: missing array"),
    (lambda a: a.update(indices=a["indices"].astype(np.float64)), "indices: dtype float64; expected integers"),
    (lambda a: a.update(table_rows=np.array(["a", "b", "c"])), "table_rows: dtype <U1; expected integers"),
    (lambda a: a.update(meta=np.array("{not json")), "meta: not valid JSON"),
    (lambda a: a.update(meta=np.array("[1, 2]")), "meta: expected a JSON object"),
    (lambda a: a.update(format_version=np.array(99)), "format_version: 99"),
    (lambda a: a.update(timestamps_s=np.array(["x"] * a["timestamps_s"].size)), "timestamps_s: dtype"),
    (lambda a: a.update(table_names=np.array([{"a": 1}], dtype=object)), "not a readable .npz trace"),
    (lambda a: a.update(table_rows=a["table_rows"][:1]), "table_rows: shape (1,)"),
    (lambda a: a.update(indices=a["indices"][:-1]), "lengths add up to"),
])
def test_load_bad_contents(tmp_path, rng, change, fragment):
    arrays = good_arrays(rng)
    change(arrays)
    p = write_npz(tmp_path / "t.npz", **arrays)
    with pytest.raises(InputError) as e:
        load_trace(p)
    assert fragment in str(e.value) and str(e.value).startswith(str(p))


def test_load_without_validation_accepts_inconsistent_trace(tmp_path, rng):
    arrays = good_arrays(rng)
    arrays["indices"] = arrays["indices"] + 10 ** 6
    p = write_npz(tmp_path / "t.npz", **arrays)
    with pytest.raises(InputError, match="outside table"):
        load_trace(p)
    assert load_trace(p, validate=False).n_indices == arrays["indices"].size


def test_trace_written_by_plain_numpy_loads(tmp_path, rng):
    """The format is plain numpy: a trace written without embsim loads (names and meta optional)."""
    a = good_arrays(rng)
    p = write_npz(tmp_path / "t.npz", lengths=a["lengths"].astype(np.int64), indices=a["indices"].astype(np.int32),
                  table_rows=a["table_rows"])
    tr = load_trace(p)
    assert tr.lengths.dtype == np.int32 and tr.indices.dtype == np.int64
    assert np.array_equal(tr.indices, a["indices"])


# --------------------------------------------------------------------- saving ---
def test_save_refuses_to_overwrite_without_force(tmp_path, rng):
    p = tmp_path / "t.npz"
    p.write_bytes(b"user data")
    with pytest.raises(InputError, match="already exists"):
        make_trace(rng).save(p)
    assert p.read_bytes() == b"user data"
    make_trace(rng).save(p, force=True)
    assert load_trace(p).n_tables == 3


def test_save_needs_npz_suffix(tmp_path, rng):
    with pytest.raises(InputError, match="end in .npz"):
        make_trace(rng).save(tmp_path / "t.zip")
    assert list(tmp_path.iterdir()) == []


def test_save_is_atomic(tmp_path, rng, monkeypatch):
    """A crash while writing leaves neither the target nor a temporary file."""
    def boom(path, **arrays):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 half")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        make_trace(rng).save(tmp_path / "t.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_meta_that_is_not_json(tmp_path, rng):
    tr = make_trace(rng)
    tr.meta["bad"] = object()
    with pytest.raises(InputError, match="meta: not JSON-serialisable"):
        tr.save(tmp_path / "t.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_into_missing_folder(tmp_path, rng):
    with pytest.raises(InputError, match="does not exist"):
        make_trace(rng).save(tmp_path / "no" / "t.npz")


def test_empty_trace_round_trips(tmp_path):
    tr = Trace(np.zeros((2, 1, 3), np.int32), np.zeros(0, np.int64), [5]).validate()
    tr.save(tmp_path / "e.npz")
    back = load_trace(tmp_path / "e.npz")
    assert back.n_indices == 0 and back.n_batches == 2
    assert zipfile.is_zipfile(tmp_path / "e.npz")


def test_saved_trace_has_the_usual_permissions(tmp_path, rng):
    """Outputs are not left private (mode 0600) by the temporary-file dance."""
    import os
    umask = os.umask(0o022)
    try:
        make_trace(rng).save(tmp_path / "t.npz")
    finally:
        os.umask(umask)
    assert (tmp_path / "t.npz").stat().st_mode & 0o777 == 0o644
