"""The simpy engine on toy cost functions: queueing theory, bookkeeping, physics."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from embsim.errors import InputError
from embsim.hw_models.system import BatchCost, StageWork
from embsim.sim.engine import form_batches, poisson_arrivals, run_engine, trace_arrivals


def exponential_server(mu, seed):
    """One resource, exponential service of rate mu per batch (an M/M/1 server when batches hold one query)."""
    rng = np.random.default_rng(seed)
    return lambda b, n: BatchCost([StageWork("embedding", "server", rng.exponential(1.0 / mu))])


def pipeline(times, per_query=False):
    """Fixed work: stage -> list of (resource, time); several items in a stage run in parallel."""
    def cost(b, n):
        k = n if per_query else 1
        return BatchCost([StageWork(stage, r, t * k) for stage, items in times.items() for r, t in items])
    return cost


PIPE = {"host": [("host", 0.2)], "embedding": [("d0", 1.0), ("d1", 0.6)],
        "transfer": [("link", 0.3)], "dense": [("host", 0.4)]}
PIPE_RES = {"host": 1, "d0": 1, "d1": 1, "link": 1}


def test_mm1_mean_latency_matches_analytic():
    mu, lam, n = 1.0, 0.5, 50_000
    run = run_engine({"server": 1}, exponential_server(mu, seed=2), queries=n, batch_size=1,
                     arrival_s=poisson_arrivals(n, lam, np.random.default_rng(1)), warmup_queries=1000)
    mean = run.latency_s().mean()
    assert mean == pytest.approx(1.0 / (mu - lam), rel=0.05)
    # The server is busy lambda/mu of the time.
    assert run.utilisation()["server"] == pytest.approx(lam / mu, rel=0.03)


@pytest.mark.parametrize("timeout", [None, 2.0])
def test_littles_law_open_loop(timeout):
    """L = lambda W over the window, with batches, parallel stages and random service."""
    n, qps = 40_000, 3.0
    rng = np.random.default_rng(7)

    def cost(b, k):
        return BatchCost([StageWork("host", "host", 0.05 * k), StageWork("embedding", "d0", rng.exponential(1.0)),
                          StageWork("embedding", "d1", 0.5 + 0.05 * k), StageWork("dense", "host", 0.1 * k)])

    run = run_engine({"host": 2, "d0": 1, "d1": 1}, cost, queries=n, batch_size=4, batch_timeout_s=timeout,
                     arrival_s=poisson_arrivals(n, qps, np.random.default_rng(8)), warmup_queries=2000)
    L, lam, W = run.mean_in_system(), run.arrival_rate_qps(), run.latency_s().mean()
    assert L == pytest.approx(lam * W, rel=0.02)


def test_same_seed_same_run_bit_for_bit():
    def once():
        n = 3000
        run = run_engine({"server": 1}, exponential_server(1.0, 3), queries=n, batch_size=2,
                         arrival_s=poisson_arrivals(n, 1.5, np.random.default_rng(4)), warmup_queries=100)
        return run.latency_s(), run.done_s, run.busy_end_s
    for a, b in zip(once(), once()):
        assert np.array_equal(a, b)


def test_closed_loop_reaches_the_bottleneck_rate():
    """A deterministic pipeline in closed loop runs at 1 / (busiest resource's time per batch)."""
    run = run_engine(PIPE_RES, pipeline(PIPE), queries=400 * 8, batch_size=8, warmup_queries=40 * 8)
    # host does 0.2 + 0.4 = 0.6 s per batch, d0 1.0 s: d0 is the bottleneck.
    assert run.throughput_qps() == pytest.approx(8 / 1.0, rel=0.01)
    util = run.utilisation()
    assert util["d0"] == pytest.approx(1.0, abs=0.01)
    assert util["host"] == pytest.approx(0.6, rel=0.02)
    assert all(u <= 1.0 + 1e-12 for u in util.values())


def test_one_batch_in_flight_has_no_queueing():
    run = run_engine(PIPE_RES, pipeline(PIPE), queries=50, batch_size=5, in_flight=1, warmup_queries=5)
    lat = run.latency_s()
    assert np.allclose(lat, 0.2 + 1.0 + 0.3 + 0.4)       # stages in series, embedding = slowest device
    st_ = run.stage_time_s()
    assert st_["embedding"] == pytest.approx(1.0) and st_["response"] == 0.0


@settings(max_examples=25, deadline=None)
@given(st.floats(0.1, 2.0), st.floats(0.1, 2.0), st.floats(0.1, 2.0), st.integers(1, 8))
def test_utilisation_never_above_one(t0, t1, t2, in_flight):
    times = {"embedding": [("a", t0), ("b", t1)], "transfer": [("a", t2)], "dense": [("c", t1 + t2)]}
    run = run_engine({"a": 1, "b": 1, "c": 2}, pipeline(times), queries=120, batch_size=3,
                     in_flight=in_flight, warmup_queries=9)
    assert all(0.0 <= u <= 1.0 + 1e-12 for u in run.utilisation().values())


@pytest.mark.parametrize("arrival", ["closed", "poisson"])
def test_faster_bottleneck_never_lowers_throughput(arrival):
    def throughput(speed):
        times = {"host": [("host", 0.1)], "embedding": [("d0", 1.0 / speed), ("d1", 0.5)], "dense": [("host", 0.2)]}
        n = 4000
        arr = None if arrival == "closed" else poisson_arrivals(n, 6.0, np.random.default_rng(5))
        return run_engine({"host": 1, "d0": 1, "d1": 1}, pipeline(times), queries=n, batch_size=4,
                          arrival_s=arr, warmup_queries=400).throughput_qps()
    rates = [throughput(s) for s in (1.0, 2.0, 4.0)]
    assert rates[0] <= rates[1] * (1 + 1e-9) and rates[1] <= rates[2] * (1 + 1e-9)
    if arrival == "closed":
        assert rates[1] > rates[0] * 1.5        # the bottleneck moved: real gain


def test_p99_rises_as_load_approaches_capacity():
    mu, n = 1.0, 15_000
    p99 = []
    for rho in (0.3, 0.6, 0.9):
        run = run_engine({"server": 1}, exponential_server(mu, 11), queries=n, batch_size=1,
                         arrival_s=poisson_arrivals(n, rho * mu, np.random.default_rng(12)), warmup_queries=1000)
        p99.append(np.quantile(run.latency_s(), 0.99))
    assert p99[0] < p99[1] < p99[2]
    # M/M/1 sojourn is exponential with rate mu - lambda: p99 = ln(100) / (mu - lambda).
    assert p99[1] == pytest.approx(np.log(100) / (mu - 0.6), rel=0.15)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 5), min_size=1, max_size=60), st.integers(1, 7),
       st.one_of(st.none(), st.floats(0.01, 3.0)))
def test_batches_cover_every_query_in_order(gaps, size, timeout):
    a = np.cumsum(gaps)
    bounds, dispatch = form_batches(a, size, timeout)
    assert bounds[0] == 0 and bounds[-1] == a.size
    sizes = np.diff(bounds)
    assert (sizes >= 1).all() and (sizes <= size).all()
    assert (np.diff(dispatch) >= 0).all()
    last = a[bounds[1:] - 1]
    assert (dispatch >= last).all()                         # a batch never leaves before its last query
    if timeout is not None:
        assert (dispatch <= a[bounds[:-1]] + timeout + 1e-12).all()   # nor later than its timeout
        full = sizes == size
        assert np.array_equal(dispatch[full], last[full])   # a full batch leaves at once


def test_trace_arrivals_shift_and_cycle():
    ts = np.array([[10.0, 11.0], [11.0, 13.0]])
    a = trace_arrivals(ts, 6)
    assert a.tolist() == [0.0, 1.0, 1.0, 3.0, 4.0, 5.0]
    with pytest.raises(InputError, match=r"timestamps_s\[2\]"):
        trace_arrivals(np.array([[0.0, 2.0], [1.0, 3.0]]), 4)


def test_bad_inputs_are_explained():
    with pytest.raises(InputError, match="qps"):
        poisson_arrivals(10, 0.0, np.random.default_rng(0))
    with pytest.raises(InputError, match="warm up"):
        run_engine(PIPE_RES, pipeline(PIPE), queries=10, batch_size=5, warmup_queries=5)
    with pytest.raises(ValueError, match="resource 'nope'"):
        run_engine({"a": 1}, lambda b, n: BatchCost([StageWork("embedding", "nope", 1.0)]),
                   queries=10, batch_size=1)
