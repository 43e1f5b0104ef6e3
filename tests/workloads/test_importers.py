"""Importers: MovieLens u.data, RecBole .inter and dlrm_datasets .pt files written by the tests."""
import gzip
import io
import sys

import numpy as np
import pytest

from embsim.errors import InputError
from embsim.workloads.importers import import_dlrm_datasets, import_movielens

UDATA = [  # user, item, rating, timestamp (file order)
    (196, 242, 3, 881250949),
    (186, 302, 3, 891717742),
    (22, 377, 1, 878887116),
    (196, 51, 2, 880606923),
    (186, 346, 1, 881250949),   # same time as line 1: stays after it
    (244, 51, 2, 880606923),    # same time as line 4: stays after it
]


def write_udata(path, rows=UDATA, sep="\t"):
    path.write_text("".join(sep.join(map(str, r)) + "\n" for r in rows))
    return path


def reference_movielens(rows, batch_size):
    """The importer's contract, written out plainly."""
    order = sorted(range(len(rows)), key=lambda i: rows[i][-1])  # sorted() is stable
    keep = len(rows) // batch_size * batch_size
    order = order[:keep]
    users, items = {}, {}
    u = [users.setdefault(rows[i][0], len(users)) for i in order]
    it = [items.setdefault(rows[i][1], len(items)) for i in order]
    idx = []
    for b in range(keep // batch_size):
        idx += u[b * batch_size:(b + 1) * batch_size] + it[b * batch_size:(b + 1) * batch_size]
    ts = [float(rows[i][-1]) for i in order]
    return idx, [len(users), len(items)], ts


# ------------------------------------------------------------------ MovieLens ---
@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 6])
def test_udata_matches_reference(tmp_path, batch_size):
    tr = import_movielens(write_udata(tmp_path / "u.data"), batch_size)
    idx, rows, ts = reference_movielens(UDATA, batch_size)
    assert tr.indices.tolist() == idx
    assert tr.table_rows.tolist() == rows
    assert tr.timestamps_s.ravel().tolist() == ts
    assert tr.table_names == ["users", "items"]
    assert tr.lengths.shape == (len(UDATA) // batch_size, 2, batch_size) and (tr.lengths == 1).all()
    assert tr.meta["dropped_interactions"] == len(UDATA) % batch_size
    assert tr.meta["interactions"] == len(UDATA) and tr.meta["format"] == "u.data"


def test_udata_by_hand(tmp_path):
    tr = import_movielens(write_udata(tmp_path / "u.data"), 3)
    # time order: 22/377, 196/51, 244/51 | 196/242, 186/346, 186/302
    # users by first appearance: 22->0, 196->1, 244->2, 186->3; items: 377->0, 51->1, 242->2, 346->3, 302->4
    assert tr.indices.tolist() == [0, 1, 2, 0, 1, 1, 1, 3, 3, 2, 3, 4]
    assert np.all(np.diff(tr.timestamps_s.ravel()) >= 0)


def test_udata_blank_lines_and_crlf_are_fine(tmp_path):
    p = tmp_path / "u.data"
    p.write_bytes(b"1\t2\t3\t10\r\n\r\n3\t4\t5\t5\r\n\n")
    tr = import_movielens(p, 1)
    assert tr.indices.tolist() == [0, 0, 1, 1] and tr.timestamps_s.ravel().tolist() == [5.0, 10.0]


def test_recbole_inter_any_column_order_and_token_ids(tmp_path):
    p = tmp_path / "ml.inter"
    p.write_text("item_id:token\ttimestamp:float\tuser_id:token\trating:float\textra:token_seq\n"
                 "i9\t5.5\tu1\t3\ta b\n"
                 "i9\t2\tu2\t3\tc\n"
                 "i3\t2\tu1\t4\t\n"
                 "-7\t1\tNA\t1\tx\n")
    tr = import_movielens(p, 2)
    # time order: (NA, -7, 1), (u2, i9, 2), (u1, i3, 2), (u1, i9, 5.5)
    assert tr.indices.tolist() == [0, 1, 0, 1, 2, 2, 2, 1]
    assert tr.table_rows.tolist() == [3, 3]
    assert tr.timestamps_s.ravel().tolist() == [1.0, 2.0, 2.0, 5.5]
    assert tr.meta["format"] == "recbole .inter"


def test_recbole_matches_udata_on_the_same_interactions(tmp_path):
    write_udata(tmp_path / "u.data")
    p = tmp_path / "x.inter"
    p.write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                 + "".join("\t".join(map(str, r)) + "\n" for r in UDATA))
    a, b = import_movielens(tmp_path / "u.data", 2), import_movielens(p, 2)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.timestamps_s, b.timestamps_s)


def test_movielens_round_trips_through_npz(tmp_path):
    from embsim.workloads.trace import load_trace
    tr = import_movielens(write_udata(tmp_path / "u.data"), 2)
    tr.save(tmp_path / "t.npz")
    back = load_trace(tmp_path / "t.npz")
    assert np.array_equal(back.indices, tr.indices) and back.meta == tr.meta


@pytest.mark.parametrize("content, fragments", [
    ("", ["empty file"]),
    ("\n\n  \n", ["empty file"]),
    ("1\t2\t3\n", ["line 1", "3 tab separated fields", "expected 4"]),
    ("1 2 3 4\n", ["line 1", "1 tab separated fields"]),
    ("1\t2\t3\t4\n5\t6\t7\t8\t9\n", ["line 2", "5 tab separated fields", "expected 4"]),
    ("1\t2\t3\t4\n5\t6\t7\n", ["line 2", "timestamp: missing"]),
    ("1\t2\t3\t4\n\n5\tabc\t7\t8\n", ["line 3", "item: 'abc'", "expected a finite number"]),
    ("1\t2\tgood\t4\n", ["line 1", "rating: 'good'"]),
    ("1\t2\t3\tnan\n", ["line 1", "timestamp: 'nan'"]),
    ("1\t2\t3\t4\n-5\t6\t7\t8\n", ["line 2", "user: '-5'", "expected an id >= 0"]),
    ("1.5\t2\t3\t4\n", ["line 1", "user: '1.5'", "expected an integer id"]),
    ("user_id:token\titem:token\ttimestamp:float\n", ["line 1", "no 'item_id' field"]),
    ("user_id:token\titem_id:token\trating:float\n", ["line 1", "no 'timestamp' field"]),
    ("user_id\titem_id:token\ttimestamp:float\n", ["line 1", "header field 1 'user_id'", "name:type"]),
    ("user_id:tok\titem_id:token\ttimestamp:float\n", ["header field 1 'user_id:tok'"]),
    ("user_id:token\tuser_id:token\titem_id:token\ttimestamp:float\n", ["appears twice"]),
    ("user_id:token\titem_id:token\ttimestamp:float\n", ["no interactions after the header"]),
    ("user_id:token\titem_id:token\ttimestamp:float\nu\ti\tlate\n", ["line 2", "timestamp: 'late'"]),
    ("user_id:token\titem_id:token\ttimestamp:float\nu\ti\t1\nu\ti\n", ["line 3", "timestamp: missing"]),
    ("user_id:token\titem_id:token\ttimestamp:float\nu\ti\t1\t9\n", ["line 2", "4 tab separated fields",
                                                                     "expected 3 (user_id, item_id, timestamp)"]),
    ("user_id:token\titem_id:token\ttimestamp:float\n\ti\t1\n", ["line 2", "user_id: empty"]),
])
def test_bad_movielens_files(tmp_path, content, fragments):
    p = tmp_path / "bad.data"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        import_movielens(p, 1)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(p))
    for f in fragments:
        assert f in msg, (f, msg)


def test_movielens_not_utf8(tmp_path):
    p = tmp_path / "u.data"
    p.write_bytes(b"1\t2\t3\t4\n\xff\xfe\t2\t3\t4\n")
    with pytest.raises(InputError, match="not UTF-8|'"):
        import_movielens(p, 1)


def test_movielens_batch_size_checks(tmp_path):
    p = write_udata(tmp_path / "u.data")
    with pytest.raises(InputError, match="fewer than one batch of 7"):
        import_movielens(p, 7)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InputError, match="expected a positive integer"):
            import_movielens(p, bad)


def test_movielens_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        import_movielens(tmp_path / "nope", 1)
    with pytest.raises(InputError, match="is a folder"):
        import_movielens(tmp_path, 1)


# --------------------------------------------------------------- dlrm_datasets ---
def table_major(rng, T=3, B=7, rows=20, max_len=4):
    lengths = rng.integers(0, max_len + 1, (T, B))
    offsets = np.concatenate([[0], np.cumsum(lengths.ravel())])
    indices = rng.integers(0, rows, offsets[-1])
    return indices, offsets, lengths


def save_pt(path, tensors, gz=False):
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save(tuple(torch.as_tensor(t) for t in tensors) if isinstance(tensors, tuple) else tensors, buf)
    path.write_bytes(gzip.compress(buf.getvalue()) if gz else buf.getvalue())
    return path


@pytest.mark.torch
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("batch_size", [None, 1, 2, 3, 7])
def test_dlrm_datasets_to_batch_major(tmp_path, rng, gz, batch_size):
    indices, offsets, lengths = table_major(rng)
    T, B = lengths.shape
    p = save_pt(tmp_path / ("d.pt.gz" if gz else "d.pt"), (indices, offsets, lengths), gz=gz)
    tr = import_dlrm_datasets(p, batch_size)
    b = batch_size or B
    nb = B // b
    # reference: walk batches, then tables, then samples, reading each bag from the table-major file
    ref, ref_len = [], np.zeros((nb, T, b), dtype=int)
    for k in range(nb):
        for t in range(T):
            for s in range(k * b, (k + 1) * b):
                ref += indices[offsets[t * B + s]:offsets[t * B + s + 1]].tolist()
                ref_len[k, t, s - k * b] = lengths[t, s]
    assert tr.indices.tolist() == ref
    assert np.array_equal(tr.lengths, ref_len)
    assert tr.meta["dropped_samples"] == B - nb * b
    expect_rows = [int(indices[offsets[t * B]:offsets[(t + 1) * B]].max(initial=-1)) + 1 for t in range(T)]
    assert tr.table_rows.tolist() == [max(r, 1) for r in expect_rows]


@pytest.mark.torch
def test_dlrm_datasets_int32_tensors_and_big_chunks(tmp_path, rng, monkeypatch):
    from embsim.workloads import importers
    monkeypatch.setattr(importers, "CHUNK_INDICES", 3)
    indices, offsets, lengths = table_major(rng, T=4, B=9)
    p = save_pt(tmp_path / "d.pt", (indices.astype(np.int32), offsets.astype(np.int32), lengths.astype(np.int32)))
    small = import_dlrm_datasets(p, 3)
    monkeypatch.setattr(importers, "CHUNK_INDICES", 1 << 22)
    big = import_dlrm_datasets(p, 3)
    assert np.array_equal(small.indices, big.indices) and small.indices.dtype == np.int64


@pytest.mark.torch
@pytest.mark.parametrize("make, fragments", [
    (lambda i, o, l: (i, o[:-1], l), ["offsets: 21 entries", "3 x 7 + 1 = 22"]),
    (lambda i, o, l: (i[:-1], o, l), ["offsets: run from 0 to", "the number of indices"]),
    (lambda i, o, l: (i, o, l.ravel()), ["lengths: shape", "[tables, samples]"]),
    (lambda i, o, l: (i.reshape(1, -1), o, l), ["indices: shape", "flat"]),
    (lambda i, o, l: (i, o, l + np.eye(3, 7, dtype=l.dtype)), ["lengths[0, 0]", "diff(offsets)"]),
    (lambda i, o, l: (np.where(np.arange(i.size) == 5, -3, i), o, l), ["indices[5] = -3", "expected a row >= 0"]),
    (lambda i, o, l: (i.astype(np.float32), o, l), ["indices: dtype torch.float32", "integer tensor"]),
    (lambda i, o, l: (i, o), ["holds a tuple of 2 items", "three tensors"]),
])
def test_bad_dlrm_datasets_contents(tmp_path, rng, make, fragments):
    torch = pytest.importorskip("torch")
    parts = make(*table_major(rng))
    p = tmp_path / "d.pt"
    buf = io.BytesIO()
    torch.save(tuple(torch.as_tensor(np.ascontiguousarray(a)) for a in parts), buf)
    p.write_bytes(buf.getvalue())
    with pytest.raises(InputError) as e:
        import_dlrm_datasets(p)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(p))
    for f in fragments:
        assert f in msg, (f, msg)


@pytest.mark.torch
def test_bad_dlrm_datasets_files(tmp_path, rng):
    torch = pytest.importorskip("torch")
    cases = {
        "empty.pt": (b"", "empty file"),
        "text.pt": (b"hello", "not a readable torch .pt file"),
        "bad.pt.gz": (b"\x1f\x8b\x08\x00broken", "gzip data is damaged"),
    }
    for name, (data, fragment) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError, match=fragment):
            import_dlrm_datasets(tmp_path / name)
    buf = io.BytesIO()
    torch.save({"indices": torch.zeros(3)}, buf)
    (tmp_path / "dict.pt").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="holds a dict"):
        import_dlrm_datasets(tmp_path / "dict.pt")
    good = save_pt(tmp_path / "good.pt", table_major(rng))
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputError, match="not a readable torch .pt file"):
        import_dlrm_datasets(tmp_path / "cut.pt")
    with pytest.raises(InputError, match="fewer than one batch of 8"):
        import_dlrm_datasets(good, 8)
    with pytest.raises(InputError, match="positive integer"):
        import_dlrm_datasets(good, 0)


def test_dlrm_datasets_without_torch(tmp_path, monkeypatch):
    p = tmp_path / "d.pt"
    p.write_bytes(b"anything")
    monkeypatch.setitem(sys.modules, "torch", None)   # 'import torch' now raises ImportError
    with pytest.raises(InputError) as e:
        import_dlrm_datasets(p)
    msg = str(e.value)
    assert "needs PyTorch" in msg and "pip install torch" in msg and "embsim[torch]" in msg and "\n" not in msg


def test_dlrm_datasets_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        import_dlrm_datasets(tmp_path / "nope.pt")


@pytest.mark.torch
@pytest.mark.parametrize("gz", [False, True])
def test_dlrm_datasets_streamed_into_chunks(tmp_path, rng, monkeypatch, gz):
    """The streamed import (mapped tensors, a chunk of batches at a time) writes the in-memory import's trace."""
    from embsim.workloads import importers, store
    from embsim.workloads.store import read_trace
    monkeypatch.setattr(store, "CHUNK_TARGET_LOOKUPS", 40)      # several chunks even for this small file
    monkeypatch.setattr(importers, "CHUNK_INDICES", 7)
    indices, offsets, lengths = table_major(rng, T=4, B=40, rows=50)
    p = save_pt(tmp_path / ("d.pt.gz" if gz else "d.pt"), (indices, offsets, lengths), gz=gz)
    mem = import_dlrm_datasets(p, 3)
    r = importers.import_dlrm_datasets_to(p, tmp_path / "d.trace", 3)
    assert r.n_chunks > 2
    back = read_trace(tmp_path / "d.trace")
    np.testing.assert_array_equal(back.indices, mem.indices)
    np.testing.assert_array_equal(back.lengths, mem.lengths)
    np.testing.assert_array_equal(back.table_rows, mem.table_rows)
    assert back.meta == mem.meta
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted([p.name, "d.trace"])   # no scratch file left
