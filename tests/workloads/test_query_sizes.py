"""Candidates per request (workloads/query_sizes.py): the capped mean, the draws, the cut into requests."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from embsim.errors import InputError
from embsim.workloads.query_sizes import QuerySizes


@pytest.mark.parametrize("q", [QuerySizes(), QuerySizes(mean=40, sigma=1.2, max=200), QuerySizes(kind="fixed", mean=8)])
def test_capped_mean_is_the_mean_of_the_clipped_draws(q):
    x = q.draw(400_000, np.random.default_rng(0))
    assert x.min() >= 1 and x.max() <= q.max
    assert x.mean() == pytest.approx(q.capped_mean(), rel=0.01)
    assert q.capped_mean() <= q.mean + 1e-9          # clipping at the cap only lowers the mean (mean >> 1 here)


def test_deeprecsys_default_is_lognormal_mean_165_capped_at_1024():
    q = QuerySizes()
    assert (q.kind, q.mean, q.max) == ("lognormal", 165.0, 1024)
    x = q.draw(200_000, np.random.default_rng(1))
    assert 0.0005 < np.mean(x >= 1024) < 0.002            # the cap sits near the 99.9th percentile (sigma's rule)


@settings(max_examples=30, deadline=None)
@given(samples=st.integers(1, 20_000), seed=st.integers(0, 1000))
def test_requests_cover_every_sample_once(samples, seed):
    b = QuerySizes().request_bounds(samples, np.random.default_rng(seed))
    assert b[0] == 0 and b[-1] == samples
    assert np.all(np.diff(b) >= 1) and np.all(np.diff(b) <= 1024)


def test_bad_sizes_are_refused():
    for bad in (dict(kind="zipf"), dict(mean=0.5), dict(sigma=-1), dict(mean=100, max=10)):
        with pytest.raises(InputError):
            QuerySizes(**bad)
