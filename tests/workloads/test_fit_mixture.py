"""The mixture fit: expected component histograms, the fit, and leave-one-block-out cross-validation."""
from pathlib import Path

import numpy as np
import pytest

from embsim.workloads import fit_mixture as fm
from embsim.workloads.fit import fit_locality, read_locality_stats, tvd
from embsim.workloads.locality import reuse_histogram

DATA = Path(__file__).parents[2] / "embsim" / "workloads" / "data" / "dlrm_datasets_2021_locality_stats.txt"


@pytest.mark.parametrize("c", [fm.Component(1, 0.0, 1 << 12), fm.Component(16, 0.0, 1 << 12),
                               fm.Component(1024, 1.1, 1 << 16), fm.Component(4 ** 8, 0.6, 1 << 14),
                               fm.Component(4 ** 10, 1.4, 1 << 12)])
def test_expected_histogram_matches_a_generated_trace(c):
    acc, rows, U = fm.component_histogram(c)
    assert acc.sum() == pytest.approx(1.0) and rows.sum() == pytest.approx(1.0)
    assert 1.0 <= U <= min(c.rows, c.lookups) + 1e-6
    _, _, tr = fm.measure([(c, 32)], batches=2, seed=1)
    got_rows, got_acc = reuse_histogram(tr)
    assert tvd(acc, got_acc) < 0.01 and tvd(rows, got_rows) < 0.01
    # the unique rows per table per batch, as the binomial expectation says
    assert np.unique(tr.global_ids()[: 32 * c.lookups]).size / 32 == pytest.approx(U, rel=0.02)


def test_one_row_table_puts_everything_in_the_bin_of_its_lookups():
    acc, rows, U = fm.component_histogram(fm.Component(1, 0.0, 1 << 14))
    assert U == pytest.approx(1.0)
    assert np.argmax(acc) == 14 and acc[14] == pytest.approx(1.0)     # 16384 in (8192, 16384]


def test_rounding_keeps_the_total_and_whole_tables():
    comps, A, R, U = fm.cached_dictionary()
    frac = np.zeros(len(comps))
    frac[3], frac[40], frac[100] = 10.4, 7.7, 0.9
    copies = fm._round(frac, comps)
    n = np.array([c.lookups for c in comps])
    assert copies @ n == fm.FIT_LOOKUPS
    assert np.all(copies >= np.floor(frac)) and copies.dtype.kind == "i"


def test_a_mixture_is_recovered_from_its_own_histogram():
    """Fit the expected histogram of a known mixture: the refit must reproduce it closely."""
    comps, A, R, U = book = fm.cached_dictionary()
    truth = np.zeros(len(comps), dtype=np.int64)
    small = [k for k, c in enumerate(comps) if c.lookups == 1 << 12]
    truth[small[5]], truth[small[30]], truth[small[50]] = 300, 500, 224
    acc, rows = fm.predicted(truth, comps, A, R, U)
    mix = fm.fit_mixture(acc, rows, book=book)
    got_acc, got_rows, _ = fm.measure(mix, batches=1, seed=2)
    assert tvd(got_acc, acc) < 0.03 and tvd(got_rows, rows) < 0.03
    assert sum(c.lookups * k for c, k in mix) == fm.FIT_LOOKUPS


def test_fit_locality_mixture_on_the_2021_file():
    r = fit_locality(DATA, generator="mixture", seed=0)
    assert r.trace.n_indices >= 10_000_000
    rows, acc = reuse_histogram(r.trace)
    assert tvd(acc, r.target) == pytest.approx(r.tvd)
    assert r.tvd <= 0.05 and tvd(rows, r.target_rows) <= 0.05
    assert r.model.n_tables == sum(c["tables"] for c in r.params["components"])
    again = fit_locality(DATA, generator="mixture", seed=0, sample=False)
    assert again.params == r.params                  # deterministic: an LP, no time-limited search


@pytest.mark.slow
def test_leave_one_block_out_meets_the_goal():
    st = read_locality_stats(DATA)
    cv = fm.cross_validate(st, batches=1, seed=0)
    assert len(cv) == len(st.blocks) == 17
    print("\nheld-out block                 access TVD  row TVD  (train access TVD)")
    for h in cv:
        print(f"{h.block:30s} {h.access_tvd:10.4f} {h.row_tvd:8.4f}  ({h.train_access_tvd:.4f}, {h.kinds} kinds)")
    acc = np.array([h.access_tvd for h in cv])
    print(f"mean {acc.mean():.4f}, max {acc.max():.4f}")
    assert acc.mean() <= 0.08 and acc.max() <= 0.12
