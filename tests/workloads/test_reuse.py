"""The O(n log n) stack-distance kernel against a brute-force LRU stack."""
import numpy as np
from hypothesis import given, settings, strategies as st

from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict
from embsim.workloads.reuse import reuse_distance_histogram, stack_distances


def brute_depths(ids):
    """LRU stack depth of each access by walking a Python list (0 = cold)."""
    stack, out = [], []
    for x in ids:
        if x in stack:
            d = stack.index(x) + 1
            stack.remove(x)
        else:
            d = 0
        stack.insert(0, x)
        out.append(d)
    return out


def brute_lru_hits(ids, capacity):
    stack, hits = [], 0
    for x in ids:
        if x in stack:
            hits += 1
            stack.remove(x)
        stack.insert(0, x)
        del stack[capacity:]
    return hits


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=300))
def test_depths_match_brute_force(ids):
    assert stack_distances(np.array(ids, dtype=np.int64)).tolist() == brute_depths(ids)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-10**12, 10**12), min_size=1, max_size=200), st.integers(0, 7))
def test_sparse_large_ids_and_lru_hit_rate(ids, log_cap):
    # values far apart force the np.unique path; repeat them so there is reuse
    ids = np.array(ids * 3, dtype=np.int64)
    h = reuse_distance_histogram(ids)
    assert h.cold == len(set(ids.tolist()))
    assert h.cold + int(h.counts.sum()) == h.accesses == ids.size      # every access counted once
    cap = 2 ** log_cap
    assert round(h.lru_hit_rate(cap) * h.accesses) == brute_lru_hits(ids.tolist(), cap)


def test_bins_are_powers_of_two():
    # depths 1, 2, 3, 4, 5: bins 0, 1, 2, 2, 3
    ids = np.array([0, 0, 1, 0, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 10, 0])
    d = stack_distances(ids)
    assert d.tolist() == [0, 1, 0, 2, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 5]
    h = reuse_distance_histogram(ids)
    assert h.counts[:4].tolist() == [1, 1, 2, 1]


def test_trace_uses_global_ids_and_single_tables():
    m = model_from_dict({"name": "two", "source": "test", "defaults": {"dim": 4, "pooling": 2},
                         "tables": [{"name": "a", "rows": 50}, {"name": "b", "rows": 50}],
                         "dense": {"dense_features": 1, "bottom_mlp": [1], "top_mlp": [1], "interaction": "cat"}})
    tr = generate_trace(m, 3, 20, generator="uniform", seed=3)
    g = reuse_distance_histogram(tr)
    assert g.accesses == tr.n_indices
    assert g.cold == len(np.unique(tr.global_ids()))
    a, b = reuse_distance_histogram(tr, table=0), reuse_distance_histogram(tr, table=1)
    assert a.accesses + b.accesses == tr.n_indices
    # a larger LRU never hits less
    rates = [g.lru_hit_rate(2 ** k) for k in range(10)]
    assert all(x <= y for x, y in zip(rates, rates[1:]))
