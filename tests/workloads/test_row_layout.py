"""Row layouts: permutations, frequency order, co-access clusters, and the reorder command."""
import numpy as np
import pytest

from embsim.errors import InputError
from conftest import assert_input_error
from embsim.workloads.row_layout import (LAYOUTS, check_layout, coaccess_order, frequency_order, make_mapping,
                                         reorder_trace, table_counts)
from embsim.workloads.trace import Trace


def _trace(indices_per_table, batch_size, rows):
    """A trace with fixed bag size per table: ``indices_per_table[t]`` shaped [batches, batch_size, bag]."""
    B = indices_per_table[0].shape[0]
    T = len(indices_per_table)
    lengths = np.zeros((B, T, batch_size), dtype=np.int32)
    parts = []
    for b in range(B):
        for t, ix in enumerate(indices_per_table):
            lengths[b, t, :] = ix.shape[2]
            parts.append(ix[b].reshape(-1))
    return Trace(lengths=lengths, indices=np.concatenate(parts), table_rows=rows)


def _zipf_trace(seed=0, rows=(500, 300)):
    rng = np.random.default_rng(seed)
    ix = [(rng.zipf(1.2, (6, 16, 4)) - 1) % r for r in rows]
    return _trace(ix, 16, np.array(rows))


@pytest.mark.parametrize("by", LAYOUTS)
def test_every_layout_is_a_permutation_and_reorder_keeps_the_trace_shape(by):
    tr = _zipf_trace()
    m = make_mapping(tr, by, seed=3)
    for t, R in enumerate(tr.table_rows):
        assert np.array_equal(np.sort(m.new_id[t]), np.arange(R))
    out = reorder_trace(tr, m)
    assert np.array_equal(out.lengths, tr.lengths) and out.meta["layout"]["by"] == by
    # back through the inverse: the original indices
    seg = tr.segment_offsets()
    for t in range(tr.n_tables):
        inv = np.argsort(m.new_id[t])
        for k in range(t, seg.size - 1, tr.n_tables):
            assert np.array_equal(inv[out.indices[seg[k]:seg[k + 1]]], tr.indices[seg[k]:seg[k + 1]])
    # same counts, relabelled
    for t in range(tr.n_tables):
        assert np.array_equal(np.sort(table_counts(out, t)), np.sort(table_counts(tr, t)))


def test_frequency_puts_the_hottest_rows_first():
    tr = _zipf_trace(1)
    m = make_mapping(tr, "frequency")
    out = reorder_trace(tr, m)
    for t in range(tr.n_tables):
        c = table_counts(out, t)
        assert (np.diff(c) <= 0).all()           # new id order is falling count


def test_random_is_seeded_and_identity_is_the_identity():
    tr = _zipf_trace()
    a, b, c = (make_mapping(tr, "random", seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(x, y) for x, y in zip(a.new_id, b.new_id))
    assert not np.array_equal(a.new_id[0], c.new_id[0])
    assert np.array_equal(make_mapping(tr, "identity").new_id[0], np.arange(tr.table_rows[0]))


def test_coaccess_places_rows_used_together_next_to_each_other():
    """Planted groups of 8 rows always looked up together in one bag end up close together.

    Louvain may merge a few groups into one community (a window crosses bag
    boundaries), so a group lies within a few groups' span, not always in
    exactly 8 places; frequency order scatters the groups.
    """
    rng = np.random.default_rng(0)
    R, groups = 4096, 64
    members = rng.permutation(R)[:groups * 8].reshape(groups, 8)
    # each sample's bag: one whole group (hot groups more often)
    pick = (rng.zipf(1.3, (20, 32)) - 1) % groups
    ix = members[pick]                                   # [batches, batch_size, 8]
    tr = _trace([ix], 32, np.array([R]))
    order = coaccess_order(tr, 0)
    place = np.empty(R, dtype=np.int64)
    place[order] = np.arange(R)
    seen = np.unique(pick)
    spans = [np.ptp(place[members[g]]) for g in seen]
    assert max(spans) < 32 and np.median(spans) == 7
    freq_place = np.empty(R, dtype=np.int64)
    freq_place[frequency_order(table_counts(tr, 0))] = np.arange(R)
    assert np.median([np.ptp(freq_place[members[g]]) for g in seen]) > 32   # frequency alone scatters them


def test_bad_layout_and_profile_are_input_errors():
    tr = _zipf_trace()
    with pytest.raises(InputError, match="expected one of"):
        check_layout("hottest")
    other = _zipf_trace(rows=(500, 301))
    with pytest.raises(InputError, match="profile"):
        make_mapping(tr, "frequency", other)


def test_cli_reorder_writes_trace_and_mapping(tmp_path, run_cli):
    from embsim.workloads.trace import load_trace
    tr = _zipf_trace()
    src = tmp_path / "t.npz"
    tr.save(src)
    out = tmp_path / "t2.npz"
    r = run_cli("trace", "reorder", src, "--by", "frequency", "-o", out)
    assert r.code == 0, r
    back = load_trace(out)
    z = np.load(tmp_path / "t2.mapping.npz")
    assert str(z["by"]) == "frequency"
    assert np.array_equal(back.indices[:16], z["new_id_0"][tr.indices[:16]])
    # a profile of other tables: exit 2, one line, nothing written
    bad = tmp_path / "p.npz"
    _zipf_trace(rows=(500, 301)).save(bad)
    out2 = tmp_path / "t3.npz"
    r = run_cli("trace", "reorder", src, "--by", "frequency", "--profile", bad, "-o", out2)
    assert_input_error(r, "profile", "table_rows")
    assert not out2.exists() and not (tmp_path / "t3.mapping.npz").exists()
