"""Row-wise parts: each part's rows and its predicted share of the lookups from the profile's per-row counts."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from embsim.cost_model import partition as pt
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict
from embsim.workloads.stats import trace_stats


def _profile(rows, n, alpha, seed):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, rows + 1) ** alpha
    ids = rng.permutation(rows)[rng.choice(rows, size=n, p=p / p.sum())]
    u, c = np.unique(ids, return_counts=True)
    return u.astype(np.int64), c.astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(1, 9), st.integers(0, 2 ** 32 - 1))
def test_every_row_is_in_exactly_one_part_and_part_rows_count_them(rows, parts, seed):
    parts = min(parts, rows)
    ids, counts = _profile(rows, 500, 1.2, seed)
    for cut in (pt.hash_partition(rows, parts), pt.even_range(rows, parts), pt.balanced_range(rows, parts, ids, counts)):
        of = cut.part_of(np.arange(rows))
        assert of.min() >= 0 and of.max() < parts
        assert np.array_equal(np.bincount(of, minlength=parts), cut.part_rows())
        sh = pt.predicted_shares(cut, ids, counts)
        assert sh.sum() == pytest.approx(1.0) and (sh >= -1e-15).all()


def test_without_counts_every_part_carries_one_pth():
    cut, shares, why = pt.choose(1000, 8, None)
    assert cut.scheme == "hash" and np.allclose(shares, 1 / 8) and "1/P" in why


def test_with_every_row_seen_the_shares_are_the_profiles_own():
    ids, counts = _profile(200, 50_000, 1.1, 3)
    assert ids.size == 200 and pt.unseen_share(counts, 200) == 0.0
    for cut in (pt.hash_partition(200, 4), pt.even_range(200, 4)):
        want = np.bincount(cut.part_of(ids), weights=counts, minlength=4) / counts.sum()
        assert np.allclose(pt.predicted_shares(cut, ids, counts), want, rtol=0, atol=1e-12)


def test_unseen_rows_get_the_discounted_mass_spread_evenly():
    ids, counts = np.array([0, 1, 2]), np.array([5, 1, 1])      # N1 = 2, N2 = 0: discount D = 1 per seen row
    assert pt.discount(counts, 10) == 1.0
    cut = pt.even_range(10, 2)                                  # ids 0-4 | 5-9; 7 unseen rows, 2 of them in part 0
    sh = pt.predicted_shares(cut, ids, counts)
    m0 = 3 / 7                                                  # D x seen rows / lookups
    assert pt.unseen_share(counts, 10) == pytest.approx(m0)
    assert sh[0] == pytest.approx((5 - 1) / 7 + m0 * 2 / 7)
    assert sh[1] == pytest.approx(m0 * 5 / 7)


def test_the_discounted_estimate_predicts_a_held_out_sample():
    """Rows seen in a profile and rows it never saw: the predicted part shares match a second sample."""
    rows, parts = 200_000, 8
    rng = np.random.default_rng(5)
    p = 1.0 / np.arange(1, rows + 1) ** 1.05
    perm = rng.permutation(rows)
    first = perm[rng.choice(rows, size=40_000, p=p / p.sum())]
    second = perm[rng.choice(rows, size=400_000, p=p / p.sum())]
    u, c = np.unique(first, return_counts=True)
    cut, shares, _ = pt.choose(rows, parts, (u, c))
    measured = np.bincount(cut.part_of(second), minlength=parts) / second.size
    assert np.abs(measured - shares).max() < 0.1 / parts                 # each part within 10% of 1/P
    seen = np.isin(second, u)
    assert abs((~seen).mean() - pt.unseen_share(c, rows)) < 0.02       # the unseen mass, predicted


def test_the_heaviest_part_is_no_lighter_than_its_hottest_row_and_balancing_never_hurts():
    ids, counts = _profile(5000, 20_000, 1.05, 7)
    top = (counts.max() - pt.discount(counts, 5000)) / counts.sum()
    cut, shares, _ = pt.choose(5000, 8, (ids, counts))
    assert shares.max() >= top - 1e-12
    hashed = pt.predicted_shares(pt.hash_partition(5000, 8), ids, counts)
    assert shares.max() <= hashed.max() + 1e-12


def test_balanced_bounds_respect_the_row_cap():
    ids, counts = np.array([0]), np.array([1000])                # one hot row: balancing would make a huge part
    cut, _, _ = pt.choose(1000, 4, (ids, counts), max_rows=300)
    assert cut.part_rows().max() <= 300


TABLE = {"name": "one", "source": "test", "defaults": {"dim": 16, "pooling": 40, "access": {"kind": "zipf", "alpha": 1.2}},
         "tables": [{"name": "hot", "rows": 400}],
         "dense": {"dense_features": 4, "bottom_mlp": [16], "top_mlp": [16, 1]}}


@pytest.fixture(scope="module")
def split_run():
    model = model_from_dict(TABLE, source="test")
    system = load_system("gpu_8x_a100_80g")
    trace = generate_trace(model, batches=8, batch_size=256, seed=1)
    stats = trace_stats(trace)
    plan = solve_plan(model, system, stats, batch_size=256, time_limit_s=5, solver="highs")
    return model, system, trace, stats, plan


def test_the_instance_gives_parts_their_counted_load(split_run):
    model, system, trace, stats, plan = split_run
    inst = instance_for(model, system, stats, batch_size=256)
    items = [it for it in inst.items if it.table == 0]
    assert len(items) > 1
    total = sum(it.accesses for it in items)
    assert total == pytest.approx(stats.accesses_per_batch[0])                 # lookups conserved
    assert max(it.accesses for it in items) > 1.05 * total / len(items)      # not 1/P on a zipf table


def test_the_simulator_measures_the_share_the_plan_predicts(split_run):
    model, system, trace, stats, plan = split_run
    ids, counts = stats.row_counts[0]
    assert ids.size == 400                                   # every row seen: no Good-Turing correction
    tp = plan.table("hot")
    assert tp.part_shares is not None and len(tp.part_shares) == tp.shards[0].parts
    res = Simulation(model, system, plan, trace, profile="in-sample").run(  # the plan was profiled on this trace
        "closed", queries=8 * 256)
    got = res.config["plan"]["part_shares"]["hot"]
    assert np.allclose(got["measured"], got["predicted"], atol=1e-12)
    assert sum(s.access_share for s in tp.shards) == pytest.approx(1.0)
