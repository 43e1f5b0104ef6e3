"""Leaving one sample out of a profile: the Good-Turing unseen share, Good-Toulmin's new rows, and the partners."""
import numpy as np
import pytest

from embsim.cost_model.leave_one_out import (left_out_partners, new_rows_per_batch, samples_per_row,
                                             unseen_lookup_share, unseen_shares)
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict


def _incidence(ids):
    """(rows, counts, samples per row) of single-hot draws ``ids`` (each draw its own sample)."""
    rows, counts = np.unique(ids, return_counts=True)
    return rows, counts, samples_per_row(ids, np.arange(ids.size), rows)


def test_unseen_share_is_the_true_held_out_share_of_a_uniform_table():
    """Uniform over G rows, n draws: the share of later draws to rows never drawn is (1 - 1/G)^n, known;
    the estimate from the profile alone and the share measured on an evaluation both meet it."""
    G, n = 4000, 8000
    rng = np.random.default_rng(0)
    profile, evaluation = rng.integers(0, G, n), rng.integers(0, G, n)
    rows, counts, samples = _incidence(profile)
    true = (1 - 1 / G) ** n
    measured = float(np.mean(~np.isin(evaluation, rows)))
    assert unseen_lookup_share(counts, samples) == pytest.approx(true, rel=0.10)
    assert measured == pytest.approx(true, rel=0.10)


def test_unseen_share_falls_as_the_profile_grows():
    m = model_from_dict({
        "name": "z", "source": "test", "defaults": {"dim": 16, "dtype": "fp16", "pooling": 16,
                                                    "access": {"kind": "zipf", "alpha": 1.05}},
        "tables": [{"name": "t0", "rows": 1_000_000}],
        "dense": {"dense_features": 13, "bottom_mlp": [32, 16], "top_mlp": [32, 1], "interaction": "dot"}},
        source="test")
    tr = generate_trace(m, batches=16, batch_size=256, seed=0)
    shares = []
    for b in (2, 4, 8, 16):
        ids = tr.indices[:int(tr.lengths[:b].sum())]
        sample = np.repeat(np.arange(b * 256), tr.lengths[:b, 0, :].reshape(-1))
        rows, counts = np.unique(ids, return_counts=True)
        shares.append(unseen_lookup_share(counts, samples_per_row(ids, sample, rows)))
    assert all(a > b for a, b in zip(shares, shares[1:])), shares
    assert 0 < shares[-1] < shares[0] < 1


def test_good_toulmin_new_rows_per_batch_on_a_uniform_table():
    """Distinct rows a batch of m new draws reads that n profile draws never saw: G (1-1/G)^n (1-(1-1/G)^m)."""
    G, n, m = 4000, 8000, 2000
    _, _, samples = _incidence(np.random.default_rng(1).integers(0, G, n))
    true = G * (1 - 1 / G) ** n * (1 - (1 - 1 / G) ** m)
    assert new_rows_per_batch(samples, n, m) == pytest.approx(true, rel=0.10)


def test_partners_are_distinct_rows_of_one_count_less():
    rng = np.random.default_rng(2)
    counts = np.minimum(rng.zipf(1.6, 5000), 50)
    samples = counts.copy()
    key = rng.permutation(counts.size)
    part = rng.integers(0, 2, counts.size)
    partner = left_out_partners(key, part, counts, samples)
    moved = partner != np.arange(counts.size)
    assert moved.any()
    assert np.all(counts[partner[moved]] == counts[moved] - 1) and np.all(part[partner[moved]] == part[moved])
    assert np.unique(partner[samples >= 2]).size == int((samples >= 2).sum())    # never two rows read as one
    assert not moved[samples == 1].any()


def _trace_of(ids_per_batch, rows):
    """A one-table single-hot trace whose batch b reads ``ids_per_batch[b]``."""
    from embsim.workloads.trace import Trace
    ids = np.asarray(ids_per_batch, dtype=np.int64)
    return Trace(lengths=np.ones((ids.shape[0], 1, ids.shape[1]), dtype=np.int32), indices=ids.reshape(-1),
                 table_rows=np.array([rows]), table_names=["t0"])


def test_unseen_shares_meet_on_an_exchangeable_trace_and_part_on_a_drifting_one():
    """Draws of one distribution: estimate and measurement agree.  An evaluation whose ids all lie above the
    profile's (a log whose later half brings new rows): measured 1, far above the estimate."""
    G, B = 4000, 1000
    rng = np.random.default_rng(1)
    profile = _trace_of(rng.integers(0, G, (8, B)), 2 * G)
    same = _trace_of(rng.integers(0, G, (8, B)), 2 * G)
    (s,) = unseen_shares(profile, same)
    assert s["measured"] == pytest.approx(s["predicted"], rel=0.10)
    assert s["measured"] == pytest.approx((1 - 1 / G) ** (8 * B), rel=0.10)
    (d,) = unseen_shares(profile, _trace_of(rng.integers(G, 2 * G, (8, B)), 2 * G))
    assert d["measured"] == 1.0 and d["predicted"] == s["predicted"]
