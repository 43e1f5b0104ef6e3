"""Closed-loop throughput against the capacity of the busiest resource.

In steady state a pipeline cannot complete batches faster than its busiest
resource serves them, and in closed loop with enough batches in flight it
should come close.  Checked on real presets with their real cost functions.
"""
import pytest

from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation

from simtoys import round_robin_plan, small_model, small_trace


@pytest.mark.parametrize("preset", ["cpu_2s_spr_ddr5", "gpu_8x_a100_80g", "screc_4x_smartssd"])
def test_closed_loop_throughput_is_bounded_by_and_near_the_bottleneck(preset):
    model = small_model()
    system = load_system(preset)
    trace = small_trace(model, batches=6, batch_size=64)
    sim = Simulation(model, system, round_robin_plan(model, system), trace, seed=0)
    result = sim.run("closed", queries=64 * 60, variability=False)   # the capacity of the mean service times
    busy = {}   # mean service per batch on each resource, over the replayed (evaluation) batches
    n = sim.trace.n_batches
    for b in range(n):
        for w in system.batch_cost(sim.batch_load(b, 64)).work:
            busy[w.resource] = busy.get(w.resource, 0.0) + w.time_s / n
    servers = system.resources()
    capacity_qps = min(64 * servers[r] / t for r, t in busy.items() if t > 0)
    assert result.qps <= capacity_qps * 1.02           # never faster than the bottleneck allows
    assert result.qps >= capacity_qps * 0.98           # and, with batches in flight, at it
