"""_compact.label_segments: first-touch labels of a table's rows through a hash map sized to the trace."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embsim.sim._compact import label_segments


def reference(indices, starts, stops, base):
    """Labels by first touch over the segments in order, with numpy (np.unique's first index)."""
    idx = np.concatenate([indices[a:b] for a, b in zip(starts, stops)] + [np.zeros(0, np.int64)])
    rows, first, inv, counts = np.unique(idx, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first)                      # distinct rows in order of first touch
    label = np.empty(rows.size, np.int64)
    label[order] = np.arange(rows.size)
    return base + label[inv], rows[order], counts[order]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=0, max_size=3000), st.integers(1, 6), st.integers(0, 99),
       st.integers(0, 2 ** 40))
def test_labels_equal_first_touch_reference(values, n_seg, base, seed):
    rng = np.random.default_rng(seed)
    table_rows = 5001
    indices = np.array(values, dtype=np.int64)
    cuts = np.sort(rng.integers(0, indices.size + 1, size=2 * n_seg))
    starts, stops = cuts[0::2].copy(), cuts[1::2].copy()
    perm = rng.permutation(n_seg)                  # segments need not be in stream order
    starts, stops = starts[perm], stops[perm]
    out = np.full(indices.size, -7, dtype=np.int64)
    rows, counts = label_segments(indices, starts, stops, table_rows, base, out)
    want_out, want_rows, want_counts = reference(indices, starts, stops, base)
    inside = np.zeros(indices.size, bool)
    for a, b in zip(starts, stops):
        inside[a:b] = True
    assert np.array_equal(np.concatenate([out[a:b] for a, b in zip(starts, stops)] + [np.zeros(0, np.int64)]),
                          want_out)
    assert (out[~inside] == -7).all()              # outside the segments: untouched
    assert np.array_equal(rows, want_rows) and np.array_equal(counts, want_counts)
    assert counts.sum() == inside.sum()            # every lookup counted once


def test_map_grows_past_its_first_size():
    """Far more distinct rows than the map's first guess (a quarter of the bound) still label one to one."""
    rng = np.random.default_rng(1)
    indices = rng.permutation(np.unique(rng.integers(0, 40_000_000, 201_000)))[:200_000]  # distinct, sparse
    indices = np.concatenate([indices, indices[::-1]])                    # each read twice
    out = np.empty(indices.size, np.int64)
    rows, counts = label_segments(indices, np.array([0]), np.array([indices.size]), 40_000_000, 0, out)
    assert np.array_equal(rows, indices[:200_000]) and (counts == 2).all()
    assert np.array_equal(out[:200_000], np.arange(200_000)) and np.array_equal(out[200_000:], np.arange(200_000)[::-1])


@pytest.mark.parametrize("bad", [-1, 10])
def test_row_outside_the_table_is_an_index_error(bad):
    indices = np.array([1, 2, bad, 3], dtype=np.int64)
    with pytest.raises(IndexError, match=f"row {bad} at position 2 outside 0..9"):
        label_segments(indices, np.array([0]), np.array([4]), 10, 0, np.empty(4, np.int64))
