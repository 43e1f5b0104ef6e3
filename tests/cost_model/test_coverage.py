"""Coverage curves: zipf against exact sums, concavity, measured points, statistics adapters."""
import numpy as np
import pytest

from cm_toys import toy_model
from embsim.cost_model.coverage import (CoverageCurve, curve_from_points, harmonic, table_access, uniform_curve,
                                        zipf_curve)
from embsim.errors import InputError


@pytest.mark.parametrize("rows,alpha", [(50, 0.8), (10_000, 1.05), (300_000, 1.3)])
def test_zipf_curve_matches_exact_sums_at_integer_breakpoints(rows, alpha):
    w = np.arange(1, rows + 1, dtype=float) ** -alpha
    exact = np.cumsum(w) / w.sum()
    c = zipf_curve(rows, alpha)
    for f, v in zip(c.f[1:], c.c[1:]):
        n = f * rows
        if abs(n - round(n)) < 1e-9:
            assert v == pytest.approx(exact[int(round(n)) - 1], rel=1e-6)


def test_harmonic_tail_approximation():
    n = np.array([5000.0, 123456.0])
    for a in (0.9, 1.0, 1.2):
        exact = [np.sum(np.arange(1, int(k) + 1, dtype=float) ** -a) for k in n]
        assert harmonic(n, a) == pytest.approx(exact, rel=1e-7)


def test_curves_are_concave_and_bounded():
    for c in (zipf_curve(10**7, 1.05), zipf_curve(10, 2.0), uniform_curve()):
        s = c.slopes
        assert np.all(np.diff(s) <= 1e-9 * s.max())
        x = np.linspace(0, 1, 101)
        assert np.all(c(x) >= x - 1e-12)          # hottest rows serve at least their share
        # tangents describe the curve: coverage = min over lines
        lines = np.array([[a * xi + b for a, b in c.tangents()] for xi in x])
        assert np.allclose(lines.min(axis=1), c(x))


def test_non_concave_curve_is_refused():
    with pytest.raises(InputError, match="concave"):
        CoverageCurve((0, 0.5, 1), (0, 0.2, 1))


def test_measured_points_become_their_upper_hull():
    c = curve_from_points([0.1, 0.2, 0.5], [0.5, 0.55, 0.95])     # 0.2 lies under the hull
    assert 0.2 not in c.f
    assert c(0.1) == pytest.approx(0.5)


def test_accesses_follow_batch_size_and_stats_objects():
    m = toy_model(3, 0)
    acc = table_access(m, None, 256)
    assert [a.accesses for a in acc] == [t.pooling * 256 for t in m.tables]
    stats = type("S", (), {"tables": [{"accesses": 10.0, "coverage": ([0.5], [0.9])}] * 3})()
    acc = table_access(m, stats, 256)
    assert acc[0].accesses == 10.0 and acc[0].coverage(0.5) == pytest.approx(0.9)


def test_trace_stats_are_used_by_name_and_scaled_to_the_batch():
    from embsim.workloads.stats import stats_from_model
    m = toy_model(3, 0)
    st = stats_from_model(m, 128)
    acc = table_access(m, st, 256)
    for a, t in zip(acc, m.tables):
        assert a.accesses == pytest.approx(round(t.pooling * 128) * 2, rel=1e-9)
        assert a.coverage(0.1) == pytest.approx(st.coverage(0.1, t.name), abs=0.02)
