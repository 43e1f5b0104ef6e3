"""max_qps_under_sla: bisection on the Poisson rate against a p99 target."""
import pytest

from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.sim.sla import max_qps_under_sla

from simtoys import round_robin_plan, small_model, small_trace


@pytest.fixture(scope="module")
def sim():
    model = small_model()
    cpu = load_system("cpu_2s_spr_ddr5")
    return Simulation(model, cpu, round_robin_plan(model, cpu), small_trace(model, batches=12, batch_size=64))


def test_rate_found_meets_the_target_and_a_faster_one_does_not(sim):
    closed = sim.run("closed")
    target = 4 * closed.latency["p50_s"]
    ans = max_qps_under_sla(None, None, p99_target_s=target, sim=sim, queries=64 * 40)
    assert 0 < ans.qps <= ans.peak_qps
    assert ans.p99_s <= target
    # The bracket closed: a rate just above the answer misses the target (or the answer is the peak).
    if ans.qps < ans.peak_qps:
        above = min(q for q, p in ans.probes if q > ans.qps)
        assert dict(ans.probes)[above] > target
        assert above <= ans.qps * 1.03
    # Probes agree with a fresh run at the answer (same seed, same rate).
    again = sim.run("poisson", qps=ans.qps, queries=64 * 40, batch_timeout_s=ans.batch_timeout_s, seed=0)
    assert again.p99_s == ans.p99_s


def test_a_looser_target_never_gives_a_lower_rate(sim):
    base = sim.run("closed").latency["p50_s"]
    rates = [max_qps_under_sla(None, None, p99_target_s=k * base, sim=sim, queries=64 * 30, rel_tol=0.05).qps
             for k in (2, 4, 8)]
    assert rates[0] <= rates[1] <= rates[2]


def test_impossible_target_gives_zero(sim):
    ans = max_qps_under_sla(None, None, p99_target_s=1e-9, sim=sim, queries=64 * 20, batch_timeout_s=1e-4)
    assert ans.qps == 0.0 and ans.result is None


def test_bad_target(sim):
    with pytest.raises(InputError, match="p99_target_s"):
        max_qps_under_sla(None, None, p99_target_s=-1, sim=sim)


def test_a_default_probe_measures_enough_requests_for_its_p99():
    """probe_queries: at least TAIL_SAMPLES measured requests lie above the p99 of a probe of that length."""
    from embsim.sim.sla import TAIL_SAMPLES, probe_queries
    model = small_model()
    cpu = load_system("cpu_2s_spr_ddr5")
    s = Simulation(model, cpu, round_robin_plan(model, cpu), small_trace(model, batches=4, batch_size=1024))
    n = probe_queries(s)
    assert n % 1024 == 0
    r = s.run("poisson", qps=0.5 * s.run("closed").qps, queries=n, batch_timeout_s=1e-3)
    assert r.window["measured_queries"] * (1 - 0.99) >= TAIL_SAMPLES
