"""Steady state: a run says when its window is not one (overload, too short, Little's law off).

Physics checked: below capacity the throughput equals the arrival rate and
Little's law holds; above it the queue grows, the run says so, and the
reported throughput is the capacity (at least the closed loop's peak, never
the falling figure an arrival-window measure gives, 0 queries/s at 1e300).
"""
import json

import pytest

from embsim.hw_models.loader import load_system
from embsim.sim import steady
from embsim.sim.simulate import Simulation

from simtoys import round_robin_plan, small_model, small_trace


@pytest.fixture(scope="module")
def sim():
    m = small_model()
    cpu = load_system("cpu_2s_spr_ddr5")
    return Simulation(m, cpu, round_robin_plan(m, cpu), small_trace(m, batches=8, batch_size=64))


@pytest.fixture(scope="module")
def peak(sim):
    r = sim.run("closed", queries=64 * 400)
    assert r.steady_state, r.steady_state_reason
    return r.qps


def test_below_capacity_is_steady_and_serves_every_query(sim, peak):
    r = sim.run("poisson", qps=0.5 * peak, queries=64 * 400, query_sizes=None)   # one sample per request
    assert r.steady_state, r.steady_state_reason
    assert r.steady_state_reason is None
    assert r.qps == pytest.approx(0.5 * peak, rel=0.05)
    assert r.littles_law["relative_error"] <= steady.LITTLE_TOL


@pytest.mark.parametrize("factor", [3.0, 1e290])
def test_overload_is_reported_and_throughput_is_the_capacity(sim, peak, factor):
    r = sim.run("poisson", qps=factor * peak, queries=64 * 400)
    assert not r.steady_state
    assert r.steady_state_reason.startswith("overloaded")
    assert "\n" not in r.steady_state_reason
    assert r.qps >= 0.95 * peak                      # the capacity, not less
    for k, bw in r.bandwidth_Bps.items():            # a window over completions keeps every figure physical
        if k in r.peak_bandwidth_Bps:
            assert bw <= r.peak_bandwidth_Bps[k] * (1 + 1e-9), k
    assert max(r.utilisation_fraction.values()) <= 1 + 1e-9


def test_more_offered_load_never_lowers_throughput(sim, peak):
    qps = [sim.run("poisson", qps=f * peak, queries=64 * 300).qps for f in (0.3, 0.6, 0.9, 2.0, 10.0, 1e6)]
    assert all(b >= a * 0.97 for a, b in zip(qps, qps[1:])), qps


def test_short_window_is_reported(sim):
    r = sim.run("closed", queries=64 * 10)
    assert not r.steady_state and r.steady_state_reason.startswith("window too short")


def test_default_length_runs_until_steady(sim):
    r = sim.run("closed")
    assert r.steady_state, r.steady_state_reason
    assert r.window["completed_queries"] >= steady.MIN_WINDOW_BATCHES * sim.batch_size


def test_cli_says_so_on_one_line_and_in_json(run_cli, tmp_path, sim):
    (tmp_path / "p.json").write_text(sim.plan.to_json())
    import yaml
    m = sim.model
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({
        "name": m.name, "source": "test model",
        "defaults": {"dim": 16, "pooling": 8, "access": {"kind": "zipf", "alpha": 1.05}},
        "tables": [{"name": t.name, "rows": t.rows} for t in m.tables],
        "dense": {"dense_features": 13, "bottom_mlp": [64, 16], "top_mlp": [64, 1], "interaction": "dot"}}))
    base = ["simulate", "--model", tmp_path / "m.yaml", "--system", "cpu_2s_spr_ddr5", "--plan", tmp_path / "p.json",
            "--batch-size", "64", "--queries", "6400"]
    r = run_cli(*base, "--qps", "1e300")
    assert r.code == 0, r
    lines = [l for l in r.out.splitlines() if "steady state" in l]
    assert len(lines) == 1 and "NO: overloaded" in lines[0]
    r = run_cli(*base, "--qps", "1e300", "--json")
    d = json.loads(r.out)
    assert d["steady_state"] is False and d["steady_state_reason"].startswith("overloaded")
    assert d["throughput"]["queries_per_s"] > 0
