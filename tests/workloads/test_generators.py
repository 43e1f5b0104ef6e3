"""Each generator's distribution, pooling, determinism and ranges."""
import numpy as np
import pytest

from embsim.errors import InputError
from embsim.workloads.generators import GENERATORS, RowPermutation, generate_trace
from embsim.workloads.model import model_from_dict
from embsim.workloads.reuse import stack_distances
from embsim.workloads.zipf import ZipfSampler


def one_table(rows=100_000, pooling=1, dist="fixed", sigma=0.5, **access):
    access = {"kind": "zipf", **access}
    return model_from_dict({"name": "one", "source": "test",
                            "tables": [{"name": "t", "rows": rows, "dim": 8, "pooling": pooling,
                                        "pooling_dist": dist, "pooling_sigma": sigma, "access": access}],
                            "dense": {"dense_features": 1, "bottom_mlp": [1], "top_mlp": [1], "interaction": "cat"}})


def mixed():
    return model_from_dict({"name": "mixed", "source": "test", "defaults": {"dim": 8, "pooling": 3},
                            "tables": [{"name": "u", "rows": 7, "access": {"kind": "uniform"}},
                                       {"name": "z", "rows": 1000, "pooling_dist": "poisson"},
                                       {"name": "s", "rows": 5000, "access": {"kind": "stackdist"}},
                                       {"name": "d", "rows": 300, "access": {"kind": "drift"}}],
                            "dense": {"dense_features": 1, "bottom_mlp": [1], "top_mlp": [1], "interaction": "cat"}})


@pytest.mark.parametrize("alpha", [0.8, 1.2])
def test_zipf_rank_frequency_slope(alpha):
    tr = generate_trace(one_table(), 1, 400_000, generator="zipf", alpha=alpha, seed=1)
    freq = np.sort(np.bincount(tr.indices))[::-1].astype(float)
    ranks = np.arange(1, 301)
    slope = np.polyfit(np.log(ranks), np.log(freq[:300]), 1)[0]
    print(f"zipf alpha {alpha}: fitted rank-frequency slope {slope:.3f}")
    assert abs(slope + alpha) < 0.08


def test_zipf_sampler_matches_its_pmf_in_head_and_tail():
    rng = np.random.default_rng(0)
    s = ZipfSampler(10**7, 1.0)
    r = s.sample(rng, 2_000_000)
    assert r.min() >= 0 and r.max() < 10**7
    # mass of ranks past the exact head, and of rank 0, agree with the law
    for lo, hi in [(0, 1), (1, 10), (65536, 10**7)]:
        expect = s.pmf(np.arange(lo, min(hi, lo + 10**6))).sum() if hi - lo < 10**6 else \
            1 - s.pmf(np.arange(0, 65536)).sum()
        got = np.mean((r >= lo) & (r < hi))
        assert abs(got - expect) < 4 * np.sqrt(expect * (1 - expect) / r.size) + 1e-4


def test_hot_rows_are_scattered_and_permutation_is_a_bijection():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 1000, 12345, 2**20 + 7):
        perm = RowPermutation(n, rng)
        p = perm(np.arange(n))
        assert np.array_equal(np.sort(p), np.arange(n))
        assert np.array_equal(p, perm.reference(np.arange(n)))     # kernel == numpy reference
    tr = generate_trace(one_table(), 1, 50_000, generator="zipf", seed=2)
    hot = np.argsort(np.bincount(tr.indices))[::-1][:20]
    assert hot.max() > 1000        # the 20 hottest rows are not rows 0..19


def test_stackdist_reuse_distances_follow_the_asked_law():
    reuse_p, a = 0.6, 1.5
    # uniform fresh draws over 10^9 rows: a fresh draw is (almost) never in the stack
    tr = generate_trace(one_table(rows=10**9, reuse_p=reuse_p, stack_alpha=a), 1, 300_000,
                        generator="stackdist", alpha=0.0, seed=4)
    d = stack_distances(tr.indices)
    assert abs(np.mean(d > 0) - reuse_p) < 0.005
    late = d[150_000:]
    late = late[late > 0]            # the stack holds >= 50k rows here: truncation is negligible
    # asked law: floor of a continuous power law x^-a on [1, m+1); P(d in bin j) by its CDF
    edges = np.array([1, 2, 3, 5, 9, 17, 33, 65])
    cdf = lambda x: 1 - x ** (1 - a)
    expect = np.diff(cdf(edges.astype(float)))
    got = np.array([np.mean((late >= lo) & (late < hi)) for lo, hi in zip(edges[:-1], edges[1:])])
    print("stackdist depth bins asked", np.round(expect, 4), "measured", np.round(got, 4))
    assert np.abs(got - expect).max() < 0.01


def _top(ids, k=50):
    return set(np.argsort(np.bincount(ids, minlength=100_000))[::-1][:k].tolist())


def test_drift_moves_the_hot_set_while_zipf_and_uniform_do_not():
    overlap = {}
    for g in ("zipf", "drift"):
        tr = generate_trace(one_table(drift_every=1, drift_fraction=0.5), 4, 40_000, generator=g, seed=6)
        bb = tr.batch_bounds()
        first, last = tr.indices[bb[0]:bb[1]], tr.indices[bb[3]:bb[4]]
        overlap[g] = len(_top(first) & _top(last)) / 50
    print("top-50 overlap batch 0 vs 3:", overlap)
    assert overlap["zipf"] >= 0.7
    assert overlap["drift"] <= 0.35
    # uniform: no hot set to keep or move; counts per row stay flat in every batch
    tr = generate_trace(one_table(rows=100), 2, 20_000, generator="uniform", seed=6)
    c = np.bincount(tr.indices, minlength=100)
    assert c.max() / c.mean() < 1.2


def test_drift_every_keeps_the_hot_set_between_moves():
    tr = generate_trace(one_table(drift_every=4, drift_fraction=1.0), 4, 40_000, generator="drift", seed=7)
    bb = tr.batch_bounds()
    assert len(_top(tr.indices[bb[0]:bb[1]]) & _top(tr.indices[bb[3]:bb[4]])) / 50 >= 0.7


@pytest.mark.parametrize("dist,mean", [("fixed", 3), ("fixed", 2.25), ("poisson", 6.0), ("lognormal", 6.0)])
def test_pooling_means_and_dispersion(dist, mean):
    tr = generate_trace(one_table(pooling=mean, dist=dist, sigma=0.8), 2, 50_000, generator="uniform", seed=8)
    L = tr.lengths.astype(float)
    assert abs(L.mean() - mean) < 0.03 * mean
    if dist == "fixed":
        assert set(np.unique(L)) <= {np.floor(mean), np.ceil(mean)}
    elif dist == "poisson":
        assert abs(L.var() / L.mean() - 1) < 0.05
    else:  # lognormal(sigma 0.8) is far more dispersed than Poisson
        assert L.var() / L.mean() > 3


def test_determinism_ranges_and_shapes():
    m = mixed()
    a = generate_trace(m, 3, 64, seed=11)
    b = generate_trace(m, 3, 64, seed=11)
    c = generate_trace(m, 3, 64, seed=12)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.lengths, b.lengths)
    assert not np.array_equal(a.indices, c.indices)
    assert a.lengths.shape == (3, 4, 64) and a.lengths.dtype == np.int32
    assert a.n_indices == int(a.lengths.sum())
    a.validate()                      # every index inside its table
    assert [t["kind"] for t in a.meta["tables"]] == ["uniform", "zipf", "stackdist", "drift"]
    assert a.meta["seed"] == 11


@pytest.mark.parametrize("g", GENERATORS)
def test_every_generator_stays_in_range(g):
    tr = generate_trace(mixed(), 2, 200, generator=g, seed=1)
    tr.validate()
    assert tr.meta["generator"] == g


def test_bad_arguments():
    for kw in ({"batches": 0}, {"batches": -1}, {"batch_size": 0}):
        args = {"batches": 1, "batch_size": 4, **kw}
        with pytest.raises(InputError):
            generate_trace(mixed(), args["batches"], args["batch_size"])
    with pytest.raises(InputError, match="generator"):
        generate_trace(mixed(), 1, 4, generator="pareto")
    with pytest.raises(InputError, match="alpha"):
        generate_trace(mixed(), 1, 4, alpha="abc")
