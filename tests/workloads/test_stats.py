"""Trace statistics against hand-computed values, brute force, and the locality definition."""
import json
import re

import numpy as np
import pytest
from scipy import stats as sps

from embsim.workloads import stats as stats_mod
from embsim.workloads import trace as trace_mod
from embsim.workloads.locality import BIN_LABELS, reuse_histogram
from embsim.workloads.model import model_from_dict
from embsim.workloads.stats import (COVERAGE_FRACTIONS, TraceStats, hot_order, row_frequencies, stats_from_model,
                                    trace_stats)
from embsim.workloads.trace import Trace


# A tiny trace worked by hand (tables t0: 4 rows, t1: 10 rows; 2 batches of 2 samples):
#   batch 0: t0 sample0 [1, 1], sample1 [2];  t1 sample0 [5], sample1 [5, 5, 0]
#   batch 1: t0 sample0 [1],    sample1 [];   t1 sample0 [7], sample1 [5]
def tiny():
    lengths = np.array([[[2, 1], [1, 3]], [[1, 0], [1, 1]]])
    indices = np.array([1, 1, 2, 5, 5, 5, 0, 1, 7, 5])
    return Trace(lengths, indices, [4, 10], table_names=["t0", "t1"]).validate()


def random_trace(rng, batches=6, rows=(5, 50, 2000, 1), batch_size=16, max_len=4, skew=1.2):
    rows = np.array(rows)
    lengths = rng.integers(0, max_len + 1, (batches, rows.size, batch_size))
    parts = []
    for b in range(batches):
        for t in range(rows.size):
            n = lengths[b, t].sum()
            p = np.arange(1, rows[t] + 1, dtype=float) ** -skew
            parts.append(rng.choice(rows[t], size=n, p=p / p.sum()))
    return Trace(lengths, np.concatenate(parts), rows).validate()


# --------------------------------------------------------------- hand values ---
def test_tiny_counts():
    s = trace_stats(tiny())
    assert s.accesses.tolist() == [4, 6]
    assert s.unique_rows.tolist() == [2, 3]
    assert s.unique_rows_per_batch.tolist() == [1.5, 2.0]
    assert s.n_batches == 2 and s.batch_size == 2 and s.table_names == ["t0", "t1"]
    assert s.accesses_per_batch.tolist() == [2.0, 3.0]


def test_tiny_coverage_breakpoints_and_values():
    s = trace_stats(tiny())
    # t0 counts: row1 3, row2 1 -> groups end at 1 and 2 rows of 4
    x, y = s.coverage_breakpoints("t0")
    assert x.tolist() == [0, 0.25, 0.5, 1.0] and y.tolist() == [0, 0.75, 1.0, 1.0]
    # t1 counts: row5 4, rows 0 and 7 once -> groups end at 1 and 3 rows of 10
    x, y = s.coverage_breakpoints(1)
    assert np.allclose(x, [0, 0.1, 0.3, 1.0]) and np.allclose(y, [0, 4 / 6, 1.0, 1.0])
    assert s.coverage(0.25, "t0") == 0.75
    assert s.coverage(0.125, "t0") == pytest.approx(0.375)
    assert s.coverage(0.2, "t1") == pytest.approx(5 / 6)
    assert s.coverage(np.array([0.0, 2.0]), 0).tolist() == [0.0, 1.0]  # clipped to [0, 1]


def test_tiny_overall_coverage():
    # segments by accesses per row: t1 row5 (4), t0 row1 (3), t0 row2 and t1 rows 0, 7 (1 each)
    s = trace_stats(tiny())
    x, y = s.coverage_breakpoints()
    assert np.allclose(x, [0, 1 / 14, 2 / 14, 5 / 14, 1]) and np.allclose(y, [0, 0.4, 0.7, 1.0, 1.0])


def test_tiny_reuse_histograms():
    s = trace_stats(tiny())
    # column sizes: t0 b0 {1: 2, 2: 1}, b1 {1: 1}; t1 b0 {5: 3, 0: 1}, b1 {7: 1, 5: 1}
    assert np.allclose(s.reuse_row_share[0, :3], [2 / 3, 1 / 3, 0])
    assert np.allclose(s.reuse_access_share[0, :3], [0.5, 0.5, 0])
    assert np.allclose(s.reuse_row_share[1, :3], [3 / 4, 0, 1 / 4])
    assert np.allclose(s.reuse_access_share[1, :3], [0.5, 0, 0.5])
    assert np.allclose(s.overall_reuse_row_share[:3], [5 / 7, 1 / 7, 1 / 7])
    assert np.allclose(s.overall_reuse_access_share[:3], [0.5, 0.2, 0.3])
    assert s.reuse_row_share[:, 3:].sum() == 0


def test_tiny_hot_order():
    tr = tiny()
    assert [o.tolist() for o in hot_order(tr)] == [[1, 2], [5, 0, 7]]
    assert [o.tolist() for o in hot_order(tr, complete=True)] == [[1, 2, 0, 3], [5, 0, 7, 1, 2, 3, 4, 6, 8, 9]]


# --------------------------------------------------------------- brute force ---
def test_coverage_matches_sorted_counts_at_every_integer_row(rng):
    tr = random_trace(rng)
    s = trace_stats(tr)
    tab = tr.table_of_index()
    for t in range(tr.n_tables):
        counts = np.bincount(tr.indices[tab == t], minlength=tr.table_rows[t])
        cum = np.concatenate([[0], np.cumsum(np.sort(counts)[::-1])]) / counts.sum()
        k = np.arange(tr.table_rows[t] + 1)
        assert np.allclose(s.coverage(k / tr.table_rows[t], t), cum)
        assert s.unique_rows[t] == np.count_nonzero(counts)
    g = np.bincount(tr.global_ids(), minlength=tr.total_rows)
    cum = np.concatenate([[0], np.cumsum(np.sort(g)[::-1])]) / g.sum()
    assert np.allclose(s.coverage(np.arange(tr.total_rows + 1) / tr.total_rows), cum)


def test_curves_are_concave_increasing_and_end_at_one(rng):
    s = trace_stats(random_trace(rng))
    for t in [None, 0, 1, 2, 3]:
        x, y = s.coverage_breakpoints(t)
        assert x[0] == 0 and y[0] == 0 and x[-1] == 1 and y[-1] == 1
        assert (np.diff(x) > 0).all() and (np.diff(y) >= 0).all()
        slopes = np.diff(y) / np.diff(x)
        assert (np.diff(slopes) <= 1e-9).all()


def test_overall_reuse_equals_locality_definition(rng):
    tr = random_trace(rng, batches=9)
    s = trace_stats(tr)
    rows, acc = reuse_histogram(tr)
    assert np.allclose(rows, s.overall_reuse_row_share) and np.allclose(acc, s.overall_reuse_access_share)
    assert np.allclose(s.reuse_row_share.sum(axis=1), 1) and np.allclose(s.reuse_access_share.sum(axis=1), 1)


def test_per_table_reuse_and_unique_per_batch_brute_force(rng):
    tr = random_trace(rng, batches=5)
    s = trace_stats(tr)
    bounds, tab = tr.batch_bounds(), tr.table_of_index()
    for t in range(tr.n_tables):
        uniq, sizes = [], []
        for b in range(tr.n_batches):
            sel = slice(bounds[b], bounds[b + 1])
            rows_b = tr.indices[sel][tab[sel] == t]
            _, c = np.unique(rows_b, return_counts=True)
            uniq.append(c.size)
            sizes.append(c)
        sizes = np.concatenate(sizes)
        assert s.unique_rows_per_batch[t] == pytest.approx(np.mean(uniq))
        bins = np.minimum(np.ceil(np.log2(sizes)).astype(int), 16)  # (2^(k-1), 2^k]
        assert np.allclose(s.reuse_row_share[t], np.bincount(bins, minlength=17) / sizes.size)
        assert np.allclose(s.reuse_access_share[t], np.bincount(bins, weights=sizes, minlength=17) / sizes.sum())


def test_conservation(rng):
    tr = random_trace(rng)
    s = trace_stats(tr)
    assert s.accesses.sum() == tr.n_indices
    freq = row_frequencies(tr)
    assert sum(int(c.sum()) for _, c in freq) == tr.n_indices
    assert all((np.diff(r) > 0).all() and (c > 0).all() for r, c in freq)
    assert (s.unique_rows <= s.table_rows).all()
    assert (s.unique_rows_per_batch <= s.unique_rows + 1e-12).all()


def test_hot_order_is_by_count_then_row(rng):
    tr = random_trace(rng)
    tab = tr.table_of_index()
    for t, order in enumerate(hot_order(tr)):
        counts = np.bincount(tr.indices[tab == t], minlength=tr.table_rows[t])
        seen = np.flatnonzero(counts)
        expect = sorted(seen, key=lambda r: (-counts[r], r))
        assert order.tolist() == expect
    full = hot_order(tr, complete=True)
    for t, order in enumerate(full):
        assert sorted(order.tolist()) == list(range(tr.table_rows[t]))


@pytest.mark.parametrize("chunk, dense_extra", [(1, 1 << 24), (7, -10 ** 9), (50, -10 ** 9), (10 ** 6, 1 << 24)])
def test_chunking_and_sparse_counting_change_nothing(rng, monkeypatch, chunk, dense_extra):
    tr = random_trace(rng, batches=7)
    ref = trace_stats(tr)
    ref_order = hot_order(tr)
    monkeypatch.setattr(trace_mod, "CHUNK_INDICES", chunk)
    monkeypatch.setattr(stats_mod, "DENSE_EXTRA_ROWS", dense_extra)
    got = trace_stats(tr)
    assert got.unique_rows.tolist() == ref.unique_rows.tolist()
    assert np.array_equal(got.unique_rows_per_batch, ref.unique_rows_per_batch)
    assert np.array_equal(got.reuse_row_share, ref.reuse_row_share)
    assert np.array_equal(got.reuse_access_share, ref.reuse_access_share)
    for t in range(tr.n_tables):
        assert np.array_equal(got.coverage_x[t], ref.coverage_x[t])
        assert np.array_equal(got.coverage_y[t], ref.coverage_y[t])
    assert all(np.array_equal(a, b) for a, b in zip(hot_order(tr), ref_order))


def test_deterministic(rng):
    tr = random_trace(rng)
    a, b = trace_stats(tr), trace_stats(tr)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())


def test_empty_table_and_empty_trace():
    tr = Trace(np.zeros((2, 2, 3), np.int32), np.zeros(0, np.int64), [5, 6]).validate()
    s = trace_stats(tr)
    assert s.unique_rows.tolist() == [0, 0] and s.accesses.tolist() == [0, 0]
    assert s.coverage(0.5, 0) == 0.5            # no accesses: the diagonal, by convention
    assert s.overall_reuse_row_share.sum() == 0
    json.dumps(s.to_dict())
    assert "ALL" in s.format_table()


# ----------------------------------------------------------- thinned curves ---
def test_thinned_breakpoints_are_a_lower_bound(rng):
    tr = random_trace(rng, rows=(20000,), batches=4, batch_size=400, skew=0.9)
    s = trace_stats(tr)
    x, y = s.coverage_breakpoints(0)
    assert x.size > 20
    tx, ty = s.coverage_breakpoints(0, max_points=10)
    assert tx.size <= 10 and tx[0] == 0 and tx[-1] == 1 and ty[-1] == 1
    assert set(tx.tolist()) <= set(x.tolist())
    grid = np.linspace(0, 1, 2001)
    assert (np.interp(grid, tx, ty) <= np.interp(grid, x, y) + 1e-12).all()


# ------------------------------------------------------------------ output ---
def test_to_dict_is_json_with_units_in_keys():
    d = json.loads(json.dumps(trace_stats(tiny()).to_dict()))
    t1 = d["tables"][1]
    assert t1["name"] == "t1" and t1["rows"] == 10 and t1["accesses"] == 6 and t1["unique_rows"] == 3
    assert t1["unique_rows_per_batch_mean"] == 2.0 and t1["unique_rows_share_of_rows"] == 0.3
    assert t1["coverage"]["hottest_rows_fraction"] == list(COVERAGE_FRACTIONS)
    assert t1["coverage_breakpoints"]["rows_fraction"][:2] == [0.0, 0.1]
    assert len(t1["reuse_histogram"]["accesses_share"]) == 17
    assert d["overall"]["reuse_histogram"]["bins_column_size"] == BIN_LABELS
    assert d["overall"]["accesses"] == 10 and d["batches"] == 2 and d["analytic"] is False


def test_format_table_is_readable():
    text = trace_stats(tiny()).format_table()
    lines = text.splitlines()
    assert any(l.startswith("t0 ") for l in lines) and any(l.startswith("ALL ") for l in lines)
    assert "top 1%" in text and "(2, 4]" in text and "(4, 8]" not in text


def test_format_table_summarises_many_tables(rng):
    tr = random_trace(rng, rows=tuple(range(2, 62)), batches=2, batch_size=4)
    text = trace_stats(tr).format_table(max_tables=10)
    assert "50 quieter tables not shown" in text
    shown = [l.split()[0] for l in text.splitlines() if re.match(r"t\d+ ", l)]
    assert len(shown) == 10
    # the busiest tables are shown, in table order
    acc = tr.lookups_per_table()
    assert min(acc[int(n[1:])] for n in shown) >= np.sort(acc)[-10]
    assert shown == sorted(shown, key=lambda n: int(n[1:]))


# ------------------------------------------------------------- from a model ---
def model(tables, name="m"):
    return model_from_dict({"name": name, "source": "test", "tables": tables,
                            "dense": {"dense_features": 4, "bottom_mlp": [4], "top_mlp": [1], "interaction": "cat"}})


def brute_zipf(N, alpha, n):
    """Exact per-rank sums over all N ranks (no quadrature)."""
    p = np.arange(1, N + 1, dtype=float) ** -alpha
    p /= p.sum()
    uniq = np.sum(1 - (1 - p) ** n)
    X = sps.binom(n, p[:, None])  # scipy.stats, not the special functions the code calls
    edges = [0] + [2 ** k for k in range(16)] + [n]
    rows = np.array([np.sum(X.cdf(min(hi, n)) - X.cdf(min(lo, n))) for lo, hi in zip(edges[:-1], edges[1:])])
    return p, uniq, rows


@pytest.mark.parametrize("N, alpha", [(300, 1.05), (50_000, 0.8), (50_000, 1.0), (50_000, 1.3)])
def test_zipf_analytic_stats_match_exact_sums(N, alpha):
    n = 3000
    m = model([{"name": "z", "rows": N, "dim": 4, "pooling": 3, "access": {"kind": "zipf", "alpha": alpha}}])
    s = stats_from_model(m, batch_size=1000)
    p, uniq, rows = brute_zipf(N, alpha, n)
    assert s.accesses[0] == n
    assert s.unique_rows_per_batch[0] == pytest.approx(uniq, rel=1e-4)
    assert np.allclose(s.reuse_row_share[0], rows / rows.sum(), atol=1e-4)
    # coverage: exact at the breakpoints (the hottest k rows serve H(k)/H(N))
    x, y = s.coverage_breakpoints(0)
    k = np.round(x * N).astype(int)
    cum = np.concatenate([[0], np.cumsum(p)])
    assert np.allclose(y, cum[k], atol=1e-7)
    # and chords never over-predict the curve
    grid = np.unique(np.round(np.geomspace(1, N, 500)).astype(int))
    assert (s.coverage(grid / N, 0) <= cum[grid] + 1e-8).all()


@pytest.mark.parametrize("N, alpha, n", [(300, 1.05, 900), (3000, 1.1, 400)])
def test_zipf_analytic_access_share_matches_binomial_pmf(N, alpha, n):
    """Access share per bin from the full Binomial(n, p_r) pmf, summed over every rank and column size."""
    m = model([{"name": "z", "rows": N, "dim": 4, "pooling": n / 100, "access": {"kind": "zipf", "alpha": alpha}}])
    s = stats_from_model(m, batch_size=100)
    p = np.arange(1, N + 1, dtype=float) ** -alpha
    p /= p.sum()
    c = np.arange(1, n + 1)
    pmf = sps.binom.pmf(c[None, :], n, p[:, None])
    bins = np.minimum(np.ceil(np.log2(c)).astype(int), 16)
    acc = np.bincount(bins, weights=(pmf * c).sum(axis=0), minlength=17)
    # rows with p < 1e-3 use the Poisson law (documented: shares exact to ~1e-3; here much closer)
    assert np.abs(s.reuse_access_share[0] - acc / acc.sum()).max() < 2e-4


def test_zipf_analytic_stats_agree_with_a_sampled_trace():
    """The model's meaning: i.i.d. zipf draws, pooling x batch size per batch."""
    rng = np.random.default_rng(7)
    N, alpha, B, pool, batches = 5000, 1.1, 200, 4, 40
    m = model([{"name": "z", "rows": N, "dim": 4, "pooling": pool, "access": {"kind": "zipf", "alpha": alpha}}])
    s = stats_from_model(m, batch_size=B, batches=batches)
    p = np.arange(1, N + 1, dtype=float) ** -alpha
    idx = rng.choice(N, size=batches * B * pool, p=p / p.sum())
    tr = Trace(np.full((batches, 1, B), pool), idx, [N]).validate()
    t = trace_stats(tr)
    assert t.unique_rows_per_batch[0] == pytest.approx(s.unique_rows_per_batch[0], rel=0.02)
    assert t.unique_rows[0] == pytest.approx(s.unique_rows[0], rel=0.02)
    assert 0.5 * np.abs(t.reuse_row_share[0] - s.reuse_row_share[0]).sum() < 0.02
    # access shares of the top bins hinge on where a few hot rows' counts fall: noisier
    assert 0.5 * np.abs(t.reuse_access_share[0] - s.reuse_access_share[0]).sum() < 0.05
    assert t.coverage(0.01, 0) == pytest.approx(s.coverage(0.01, 0), abs=0.02)


def test_uniform_model_is_the_diagonal_and_expected_unique():
    m = model([{"name": "u", "rows": 1000, "dim": 4, "pooling": 2, "access": {"kind": "uniform"}}])
    s = stats_from_model(m, batch_size=100)
    assert s.coverage_breakpoints(0)[0].tolist() == [0.0, 1.0]
    assert s.coverage(0.3, 0) == pytest.approx(0.3)
    assert s.unique_rows_per_batch[0] == pytest.approx(1000 * (1 - (1 - 1 / 1000) ** 200), rel=1e-9)
    assert s.analytic and s.notes == []


def test_model_overall_curve_merges_tables():
    m = model([{"name": "hot", "rows": 100, "dim": 4, "pooling": 10, "access": {"kind": "zipf", "alpha": 1.2}},
               {"name": "flat", "rows": 10000, "dim": 4, "pooling": 1, "access": {"kind": "uniform"}}])
    s = stats_from_model(m, batch_size=50)
    # the 100 rows of 'hot' carry 10/11 of all accesses: the hottest 100/10100 rows serve at least that
    assert s.coverage(100 / 10100) >= 10 / 11 - 1e-9
    x, y = s.coverage_breakpoints()
    assert x[-1] == 1 and y[-1] == pytest.approx(1) and (np.diff(np.diff(y) / np.diff(x)) <= 1e-9).all()


def test_temporal_kinds_are_approximated_and_say_so():
    m = model([{"name": "s", "rows": 1000, "dim": 4, "pooling": 1,
                "access": {"kind": "stackdist", "alpha": 1.0, "stack_alpha": 1.2, "reuse_p": 0.5}},
               {"name": "d", "rows": 1000, "dim": 4, "pooling": 1,
                "access": {"kind": "drift", "alpha": 1.0, "drift_every": 2, "drift_fraction": 0.5}},
               {"name": "z", "rows": 1000, "dim": 4, "pooling": 1, "access": {"kind": "zipf", "alpha": 1.0}}])
    s = stats_from_model(m, batch_size=64)
    assert any("stackdist" in n for n in s.notes) and any("drift" in n for n in s.notes)
    assert s.coverage(0.01, "s") == s.coverage(0.01, "z") == s.coverage(0.01, "d")
    assert "note: " in s.format_table()


def test_model_stats_output_and_errors():
    m = model([{"name": "a", "rows": 10, "dim": 4, "pooling": 1.5}])
    s = stats_from_model(m, batch_size=3)
    assert s.accesses[0] == round(1.5 * 3)
    d = json.loads(json.dumps(s.to_dict()))
    assert d["analytic"] is True and d["source"] == "model m"
    with pytest.raises(ValueError):
        stats_from_model(m, batch_size=0)


def test_table_lookup_by_name_and_index():
    s = trace_stats(tiny())
    assert s.table_index("t1") == 1 and s.table_index(-1) == 1
    with pytest.raises(KeyError):
        s.coverage(0.1, "nope")
    with pytest.raises(IndexError):
        s.coverage(0.1, 5)
    assert s.coverage_table().shape == (2, len(COVERAGE_FRACTIONS))
    assert isinstance(s, TraceStats)


def test_analytic_stats_match_the_zipf_generator():
    """stats_from_model describes what generate_trace draws (same zipf law, pooling x batch size per batch)."""
    gen = pytest.importorskip("embsim.workloads.generators")
    m = model([{"name": "z", "rows": 20_000, "dim": 4, "pooling": 3, "access": {"kind": "zipf", "alpha": 0.9}},
               {"name": "u", "rows": 500, "dim": 4, "pooling": 1, "access": {"kind": "uniform"}}])
    tr = gen.generate_trace(m, 20, 256, seed=3)
    got, want = trace_stats(tr), stats_from_model(m, 256, batches=20)
    assert got.unique_rows_per_batch == pytest.approx(want.unique_rows_per_batch, rel=0.02)
    assert got.unique_rows == pytest.approx(want.unique_rows, rel=0.02)
    for t in (0, 1):
        assert 0.5 * np.abs(got.reuse_row_share[t] - want.reuse_row_share[t]).sum() < 0.02
    # the hottest rows have large counts, so their empirical share is close to the law
    # (an empirical top-k over sparse counts is biased up, hence small fractions only)
    assert got.coverage(0.001, 0) == pytest.approx(want.coverage(0.001, 0), abs=0.02)
    assert got.coverage(0.01, 0) == pytest.approx(want.coverage(0.01, 0), abs=0.02)


def test_temporal_tables_measured_on_request():
    gen = pytest.importorskip("embsim.workloads.generators")
    stack = {"name": "s", "rows": 20_000, "dim": 4, "pooling": 4,
             "access": {"kind": "stackdist", "alpha": 1.0, "reuse_p": 0.5, "stack_alpha": 1.5}}
    zipf = {"name": "z", "rows": 3000, "dim": 4, "pooling": 2, "access": {"kind": "zipf", "alpha": 1.0}}
    m = model([zipf, stack])
    approx = stats_from_model(m, 256, batches=10)
    measured = stats_from_model(m, 256, batches=10, measure_temporal=True, seed=4)
    ref = trace_stats(gen.generate_trace(model([stack]), 10, 256, seed=4))
    assert measured.unique_rows[1] == ref.unique_rows[0]
    assert np.array_equal(measured.coverage_x[1], ref.coverage_x[0])
    assert np.allclose(measured.reuse_access_share[1], ref.reuse_access_share[0])
    # the zipf table is untouched; the note says what was done
    assert measured.unique_rows[0] == approx.unique_rows[0]
    assert any("measured on a generated sample" in n for n in measured.notes)
    # the documented direction of the approximation: stackdist re-uses more within a batch, flatter head
    assert ref.unique_rows_per_batch[0] < approx.unique_rows_per_batch[1]
    assert ref.coverage(0.001, 0) < approx.coverage(0.001, 1)
