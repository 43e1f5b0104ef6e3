"""BatchCosts (sim/batch_costs.py): partial batches priced by a checked line agree with the family's own price."""
import pytest

from embsim.cost_model.planner import plan_for
from embsim.hw_models.loader import load_system
from embsim.hw_models.system import BatchCost, StageWork
from embsim.sim.batch_costs import BatchCosts
from embsim.sim.simulate import Simulation
from embsim.workloads.stats import trace_stats

from simtoys import round_robin_plan, small_model, small_trace

B = 256


@pytest.fixture(scope="module")
def model_trace():
    m = small_model(tables=4, rows=20_000, dim=16, pooling=8)
    return m, small_trace(m, batches=3, batch_size=B)


def _close(a: BatchCost, b: BatchCost, rel=1e-8):
    assert [(w.stage, w.resource) for w in a.work] == [(w.stage, w.resource) for w in b.work]
    for x, y in zip(a.work, b.work):
        assert x.time_s == pytest.approx(y.time_s, rel=rel, abs=1e-15)
    for d, e in ((a.bytes, b.bytes), (a.actions, b.actions)):
        assert set(d) == set(e)
        for k in d:
            assert d[k] == pytest.approx(e[k], rel=rel, abs=1e-12)


@pytest.mark.parametrize("preset", ["cpu_2s_spr_ddr5", "gpu_8x_a100_80g", "ascend_910", "screc_4x_smartssd"])
def test_partial_batches_cost_what_the_family_says(model_trace, preset):
    model, trace = model_trace
    system = load_system(preset)
    if preset == "ascend_910":         # planned core by core, with a lookup strategy per table
        plan = plan_for(model, system, stats=trace_stats(trace), batch_size=B, time_limit_s=2)
    else:
        plan = round_robin_plan(model, system)
    if preset == "screc_4x_smartssd":  # every tier of the devices, flash included
        for i, tp in enumerate(plan.tables):
            tp.shards[0].device, tp.shards[0].tier = f"csd{i % 4}", ("sram", "dram", "flash", "flash")[i % 4]
    sim = Simulation(model, system, plan, trace)

    def exact(k, n):
        return sim.batch_cost(sim.batch_load(k, n))

    costs = BatchCosts(exact, B)
    for k in range(trace.n_batches):
        for n in (B, 3, 77, 130, 255):
            _close(costs(k, n), exact(k, n))
    assert costs(0, 77) is costs(0, 77)                       # priced once
    assert costs.exact_calls <= 4 * trace.n_batches + 5 * trace.n_batches


def test_a_cost_with_a_kink_is_priced_exactly():
    """max(fixed, per-query) bends inside the range: the line fails its check and every size is exact."""
    def price(k, n):
        return BatchCost([StageWork("embedding", "r", max(1e-3, 2e-5 * n))], bytes={"r": 10.0 * n}, actions={("r", "op"): n})

    costs = BatchCosts(price, B)
    for n in (5, 60, 100, 200):
        assert costs(0, n).work[0].time_s == price(0, n).work[0].time_s
    assert costs.lines[0] is None


def test_an_affine_cost_needs_four_exact_prices_only():
    calls = []

    def price(k, n):
        calls.append(n)
        return BatchCost([StageWork("host", "h", 1e-4 + 3e-6 * n)], bytes={"h": 8.0 * n})

    costs = BatchCosts(price, B)
    got = [costs(0, n) for n in range(1, B + 1)]
    assert sorted(calls) == sorted({1, B // 4, B // 2, B})
    for n, cost in zip(range(1, B + 1), got):
        assert cost.work[0].time_s == pytest.approx(1e-4 + 3e-6 * n, rel=1e-12)
        assert cost.bytes["h"] == pytest.approx(8.0 * n, rel=1e-12)
