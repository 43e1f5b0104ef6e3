"""The alias table of the sequence kernel: Vose's pairing, the law it encodes, and the kernel's draws from it."""
import numpy as np
import pytest
from scipy import stats

from embsim.workloads._seqgen import zipf_rows
from embsim.workloads.zipf import ZipfSampler
from embsim.workloads.zipf_table import outcome_probabilities, vose, zipf_table

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def implied_rank_pmf(table):
    """Per-rank probability of the table's law, computed exactly (no sampling): head ranks as they are,
    each tail segment's quadratic inverted at the integer boundaries of the ranks it spans."""
    n, K, S = table.n_ranks, table.head, table.segments
    p_out = outcome_probabilities(table)
    pmf = np.zeros(n)
    pmf[:K] += p_out[:K]
    for j in range(S):
        c0, c1, c2 = table.coef[K + j]
        lo, hi = int(np.floor(c0)), int(np.floor(c0 + c1 + c2))
        t = np.arange(lo, hi + 2, dtype=np.float64) - c0            # boundaries lo..hi+1, relative to c0
        t = np.clip(t, 0.0, None)
        f = np.clip(2 * t / (c1 + np.sqrt(c1 * c1 + 4 * c2 * t)), 0.0, 1.0)
        share = np.diff(f)
        ranks = np.minimum(np.arange(lo, hi + 1), n - 1)
        np.add.at(pmf, ranks, p_out[K + j] * share)
    return pmf


def mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def reference_ranks(table, seed, n):
    """The kernel's ranks (permute=0) in plain numpy, draw j from the words at seed + (2j+1) and (2j+2) golden."""
    with np.errstate(over="ignore"):
        ctr = np.uint64(seed) + GOLDEN * (np.arange(n, dtype=np.uint64) * np.uint64(2) + np.uint64(1))
        w1, w2 = mix64(ctr), mix64(ctr + GOLDEN)
    b = (table.cols.size - 1).bit_length()
    col = (w1 >> np.uint64(64 - b)).astype(np.int64)
    entry = table.cols[col]
    own = (w1 & np.uint64(0xFFFFFFFF)) < (entry >> np.uint64(32))
    o = np.where(own, col, (entry & np.uint64(0xFFFFFFFF)).astype(np.int64))
    f = (w2 >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    c = table.coef[o]
    r = (c[:, 0] + f * (c[:, 1] + f * c[:, 2])).astype(np.int64)
    return np.minimum(r, table.n_ranks - 1)


def test_vose_pairs_columns_into_the_asked_probabilities():
    rng = np.random.default_rng(0)
    for N in (2, 8, 1024):
        p = rng.dirichlet(np.full(N, 0.3))
        thr, alias = vose(p)
        assert np.all((thr >= 0) & (thr <= 1 + 1e-12)) and np.all((alias >= 0) & (alias < N))
        got = (np.where(alias == np.arange(N), 1.0, thr)
               + np.bincount(alias, weights=np.where(alias == np.arange(N), 0.0, 1 - thr), minlength=N)) / N
        assert got == pytest.approx(p, abs=1e-12)


@pytest.mark.parametrize("rows,alpha", [(1, 1.0), (16, 0.8), (4096, 1.2), (50_000, 1.0), (300_000, 0.8),
                                        (200_000, 1.6)])
def test_the_table_encodes_the_samplers_law(rows, alpha):
    s = ZipfSampler(rows, alpha)
    table = zipf_table(s)
    N = table.cols.size
    assert N >= 2 and N & (N - 1) == 0                                    # 2^b columns
    assert outcome_probabilities(table) == pytest.approx(table.probs, abs=2.0 ** -32)
    pmf = implied_rank_pmf(table)
    want = s.pmf(np.arange(rows))
    want /= want.sum()
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert 0.5 * np.abs(pmf - want).sum() < 1e-6                        # total variation distance
    K = table.head
    assert np.abs(pmf[:K] - want[:K]).max() < 1e-9                       # the head is exact


@pytest.mark.parametrize("rows,alpha", [(7, 0.5), (50_000, 1.0)])
def test_kernel_draws_are_the_numpy_reference_bit_for_bit(rows, alpha):
    table = zipf_table(ZipfSampler(rows, alpha))
    keys = np.array([1, 0, 1, 0], dtype=np.uint64)
    out = np.empty(30_000, dtype=np.int64)
    zipf_rows(out, 12345, table.cols, table.coef, rows, keys, 1, 0)
    assert np.array_equal(out, reference_ranks(table, 12345, out.size))


def test_kernel_draws_fit_the_law_by_a_chi_square_test():
    rows = 20_000
    table = zipf_table(ZipfSampler(rows, 1.0))
    out = np.empty(2_000_000, dtype=np.int64)
    zipf_rows(out, 99, table.cols, table.coef, rows, np.array([1, 0, 1, 0], dtype=np.uint64), 1, 0)
    pmf = implied_rank_pmf(table)
    # bins: the 200 hottest ranks one by one, then geometric bins of the tail (every bin expects >= 100)
    edges = np.unique(np.concatenate([np.arange(201), np.geomspace(201, rows, 60).astype(int), [rows]]))
    obs = np.add.reduceat(np.bincount(out, minlength=rows), edges[:-1])
    exp = np.add.reduceat(pmf, edges[:-1]) * out.size
    assert exp.min() > 100
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-3
