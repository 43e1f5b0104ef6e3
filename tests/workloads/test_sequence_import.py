"""Per-user histories from u.data / .inter: chronological, truncated to the maximum, lookups conserved."""
import numpy as np
import pytest

from embsim.errors import InputError
from conftest import assert_input_error
from embsim.workloads.sequence_import import import_movielens_sequences


def random_log(seed, users=23, n=400, ties=True):
    """(user, item, rating, timestamp) rows in a shuffled file order, with ties in time."""
    rng = np.random.default_rng(seed)
    ts = rng.integers(0, 60 if ties else 10**9, size=n)
    return [(int(rng.integers(1, users + 1)), int(rng.integers(100, 140)), int(rng.integers(1, 6)), int(t))
            for t in ts]


def write_udata(path, rows):
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def reference(rows, max_length, batch_size):
    """The importer's contract, written out plainly: per user, (items, ratings) oldest first, the last max_length."""
    order = sorted(range(len(rows)), key=lambda i: rows[i][3])        # stable
    item_row, hist = {}, {}
    for i in order:
        u, it, r, t = rows[i]
        hist.setdefault(u, []).append((item_row.setdefault(it, len(item_row)), r, t))
    values = sorted({r[2] for r in rows})
    first_seen = {}
    for i in order:
        first_seen.setdefault(rows[i][0], len(first_seen))
    users = sorted(hist, key=lambda u: (hist[u][-1][2], first_seen[u]))
    users = users[: len(users) // batch_size * batch_size]
    return [([h[0] for h in hist[u][-max_length:]], [values.index(h[1]) for h in hist[u][-max_length:]],
             hist[u][-1][2], len(hist[u])) for u in users]


@pytest.mark.parametrize("seed,max_length,batch_size", [(0, 5, 4), (1, 1000, 1), (2, 1, 7), (3, 12, 5)])
def test_histories_are_chronological_truncated_and_conserved(tmp_path, seed, max_length, batch_size):
    rows = random_log(seed)
    tr = import_movielens_sequences(write_udata(tmp_path / "u.data", rows), max_length, batch_size)
    ref = reference(rows, max_length, batch_size)
    assert tr.table_names == ["items", "ratings"] and tr.batch_size == batch_size
    assert tr.n_batches * batch_size == len(ref)
    off = tr.segment_offsets()
    for s, (items, ratings, last_t, full) in enumerate(ref):
        b, k = divmod(s, batch_size)
        L = int(tr.lengths[b, 0, k])
        assert L == tr.lengths[b, 1, k] == min(full, max_length) == len(items)
        start = int(tr.lengths[b, 0, :k].sum())
        got_items = tr.indices[off[2 * b] + start: off[2 * b] + start + L]
        got_ratings = tr.indices[off[2 * b + 1] + start: off[2 * b + 1] + start + L]
        assert got_items.tolist() == items and got_ratings.tolist() == ratings
        assert tr.timestamps_s[b, k] == last_t
    assert np.all(np.diff(tr.timestamps_s.ravel()) >= 0)                 # users in the order of their last action
    assert tr.lengths.max() <= max_length
    assert tr.n_indices == 2 * sum(min(r[3], max_length) for r in ref)   # sum of lengths = lookups
    assert tr.meta["truncated_users"] == sum(r[3] > max_length for r in ref)


def test_recbole_without_ratings_has_only_the_item_table(tmp_path):
    p = tmp_path / "x.inter"
    p.write_text("user_id:token\titem_id:token\ttimestamp:float\n"
                 "a\tx\t3\nb\ty\t1\na\tz\t2\nb\tx\t5\na\ty\t9\n")
    tr = import_movielens_sequences(p, 2, 1)
    assert tr.table_names == ["items"]
    # time order: b-y(1) a-z(2) a-x(3) b-x(5) a-y(9): items y=0 z=1 x=2; b last at 5, a at 9
    assert tr.lengths[:, 0, 0].tolist() == [2, 2]
    assert tr.indices.tolist() == [0, 2, 2, 0]       # b: y, x; a: (z dropped) x, y
    assert tr.meta["truncated_users"] == 1


def test_bad_inputs_are_one_line_input_errors(tmp_path):
    p = write_udata(tmp_path / "u.data", random_log(0, users=3, n=10))
    with pytest.raises(InputError, match="fewer than one batch"):
        import_movielens_sequences(p, 10, 50)
    with pytest.raises(InputError, match="max_length 0"):
        import_movielens_sequences(p, 0, 1)
    (tmp_path / "e").write_text("")
    with pytest.raises(InputError, match="empty file"):
        import_movielens_sequences(tmp_path / "e", 10, 1)


def test_cli_sequences_with_a_models_maximum(run_cli, tmp_path):
    rows = random_log(4, users=30, n=2000)
    src = write_udata(tmp_path / "u.data", rows)
    out = tmp_path / "s.npz"
    r = run_cli("trace", "import", str(src), "--format", "movielens", "--sequences", "--model", "hstu_small",
                "--batch-size", "2", "-o", str(out))
    assert r.code == 0, r
    from embsim.workloads.trace import load_trace
    tr = load_trace(out)
    assert tr.meta["max_length"] == 200 and tr.lengths.max() <= 200
    bad = run_cli("trace", "import", str(src), "--format", "movielens", "--sequences", "--model", "rm2",
                  "-o", str(tmp_path / "b.npz"))
    assert_input_error(bad, "no sequence section")
    assert not (tmp_path / "b.npz").exists()
    bad = run_cli("trace", "import", str(src), "--format", "movielens", "--max-length", "5",
                  "-o", str(tmp_path / "b.npz"))
    assert_input_error(bad, "go with --sequences")
