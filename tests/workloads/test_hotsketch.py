"""HotSketch: the Cython kernel against the pure-Python rule, and its recall on skewed streams."""
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from embsim.errors import InputError
from embsim.workloads.hotsketch import HotSketch, bucket_index, exact_top, sketch_table, sketch_trace
from embsim.workloads.trace import Trace

from hotsketch_reference import ReferenceSketch, hrow


def kernel_state(sk):
    out = {}
    for i in range(sk.buckets):
        for j in range(4):
            if sk.keys[i, j] >= 0:
                out[(i, j)] = (int(sk.keys[i, j]), float(sk.counts[i, j]))
    return out


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.integers(0, 60), min_size=0, max_size=400), buckets=st.integers(1, 6),
       threshold=st.sampled_from([math.inf, 1.0, 3.0, 7.5]), decay=st.sampled_from([1.0, 0.99, 0.5]),
       every=st.integers(0, 40), seed=st.integers(0, 5))
def test_kernel_equals_reference(ids, buckets, threshold, decay, every, seed):
    sk = HotSketch(buckets, threshold=threshold, decay=decay, decay_every=every, seed=seed)
    ref = ReferenceSketch(buckets, threshold, decay, every, seed)
    half = len(ids) // 2
    sk.insert(np.array(ids[:half], dtype=np.int64))       # two calls: the state carries over
    sk.insert(np.array(ids[half:], dtype=np.int64))
    for x in ids:
        ref.insert(x)
    assert kernel_state(sk) == ref.state()
    assert (sk.promotions, sk.demotions, sk.dropped) == (ref.promotions, ref.demotions, ref.dropped)


def test_bucket_hash_matches_reference():
    keys = np.array([0, 1, 2, 12345678901, 2 ** 62], dtype=np.int64)
    assert list(bucket_index(keys, 3, 1000)) == [hrow(int(k), 3, 1000) for k in keys]


def test_slots_stay_in_count_order_and_counts_bound_true_counts():
    rng = np.random.default_rng(1)
    ids = rng.zipf(1.3, 20000) % 5000
    sk = HotSketch(64, decay=1.0, decay_every=0)
    sk.insert(ids)
    assert np.all(np.diff(sk.counts, axis=1) <= 0)
    true = np.bincount(ids, minlength=5000)
    keys, counts = sk.entries()
    assert np.all(counts >= true[keys])              # SpaceSaving never under-counts a tracked key
    assert counts.sum() == ids.size                  # no decay, nothing dropped: every insertion counted once


def test_decay_demotes_a_feature_that_stops_arriving():
    sk = HotSketch(1, threshold=5.0, decay=0.5, decay_every=0)
    sk.insert(np.full(6, 7, dtype=np.int64))
    assert sk.promotions == 1 and list(sk.hot()) == [7]
    sk.decay_every = 1
    sk.insert(np.array([8], dtype=np.int64))         # one insertion, then every count halves: 6 -> 3
    assert sk.demotions == 1 and list(sk.hot()) == []


def test_a_full_bucket_of_hot_features_drops_newcomers():
    sk = HotSketch(1, threshold=2.0, decay=1.0, decay_every=0)
    sk.insert(np.repeat(np.arange(4), 2))
    sk.insert(np.array([9, 9, 9], dtype=np.int64))
    assert sk.dropped == 3 and set(sk.hot()) == {0, 1, 2, 3}


def zipf_ids(n_rows, n, alpha, seed):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_rows + 1) ** alpha
    ids = rng.choice(n_rows, size=n, p=p / p.sum())
    return rng.permutation(n_rows)[ids]                 # hot ids spread over the id space


def test_recall_of_the_top_percent_on_a_zipf_stream():
    """The goal: recall of the exact top 1% >= 0.9 with sketch slots <= 5% of the distinct ids."""
    ids = zipf_ids(200_000, 1_000_000, 1.05, 0)
    distinct = np.unique(ids).size
    slots = int(0.05 * distinct)
    rep, _ = sketch_table(ids, 200_000, slots // 4, threshold=10.0, decay=0.99, top_share=0.01)
    assert rep["sketch_slots"] <= 0.05 * distinct
    assert rep["recall"] >= 0.9
    assert rep["covered_lookup_share"] >= 0.9 * rep["exact_top_k_lookup_share"]


def test_exact_top_ties_count_as_top():
    uniq, counts, kth = exact_top(np.array([1, 1, 2, 2, 3], dtype=np.int64), 10, 1)
    assert list(uniq) == [1, 2, 3] and kth == 2


def test_sketch_trace_reports_per_table_and_overall():
    rng = np.random.default_rng(2)
    B, nb = 64, 20
    lengths = np.ones((nb, 2, B), dtype=np.int32)
    idx = np.stack([rng.zipf(1.4, (nb, B)) % 300, rng.integers(0, 50, (nb, B))], axis=1).reshape(-1)
    tr = Trace(lengths=lengths, indices=idx.astype(np.int64), table_rows=np.array([300, 50]), table_names=["a", "b"])
    rep = sketch_trace(tr, 40)
    assert set(rep["tables"]) == {"a", "b"}
    o = rep["overall"]
    assert o["lookups"] == idx.size and o["sketch_slots"] <= 40
    assert 0.0 <= o["recall"] <= 1.0 and 0.0 <= o["covered_lookup_share"] <= 1.0


@pytest.mark.parametrize("kw, frag", [({"buckets": 0}, "buckets"), ({"buckets": 1, "decay": 1.5}, "--decay"),
                                      ({"buckets": 1, "threshold": 0}, "--threshold")])
def test_bad_parameters(kw, frag):
    with pytest.raises(InputError, match=frag):
        HotSketch(**kw)


MOVIELENS = os.environ.get("EMBSIM_MOVIELENS")


@pytest.mark.skipif(not MOVIELENS, reason="set EMBSIM_MOVIELENS to a MovieLens u.data or RecBole .inter file "
                                          "(its licence forbids shipping it)")
def test_movielens_hot_set_covers_more_than_its_size():
    """On a real import the hot set the sketch finds serves more lookups than its share of the ids."""
    from embsim.workloads.importers import import_movielens
    tr = import_movielens(MOVIELENS, 256)
    distinct = int(tr.table_rows.sum())
    rep = sketch_trace(tr, int(0.05 * distinct), threshold=100.0)
    o = rep["overall"]
    assert o["sketch_slots"] <= 0.05 * distinct
    assert o["covered_lookup_share"] > o["hot_set_size"] / distinct
