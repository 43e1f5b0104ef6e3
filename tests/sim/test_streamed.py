"""A simulation of a stored trace read chunk by chunk gives the result of the same trace in memory."""
import numpy as np
import pytest

from embsim.hw_models.loader import load_system
from embsim.sim import simulate as simulate_mod
from embsim.sim.simulate import Simulation
from embsim.workloads.store import open_trace, save_trace

from simtoys import round_robin_plan, row_parts_plan, small_model, small_trace


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def trace(model):
    return small_trace(model, batches=14)


def _result(sim, **kw):
    d = sim.run(queries=sim.trace.n_batches * sim.batch_size, **kw).to_dict()
    for k in ("trace", "profile"):            # where the trace came from (a path, or memory) differs
        d["config"][k].pop("source")
    return d


@pytest.mark.parametrize("system, plan, caches", [
    ("gpu_8x_a100_80g", "hot", None),
    ("cpu_2s_spr_ddr5", "parts", None),
    ("cpu_2s_spr_ddr5", "rr", {"dram": [{"name": "llc", "policy": "lru", "capacity_rows": 3000, "granularity_B": 64}]}),
])
def test_streamed_equals_in_memory(tmp_path, monkeypatch, model, trace, system, plan, caches):
    sys_ = load_system(system)
    p = {"hot": lambda: round_robin_plan(model, sys_, hot_split=0.05),
         "parts": lambda: row_parts_plan(model, sys_, parts=2),
         "rr": lambda: round_robin_plan(model, sys_)}[plan]()
    mem = Simulation(model, sys_, p, trace, caches=caches)
    folder = save_trace(trace, tmp_path / "t.trace", batches_per_chunk=3)
    npz = save_trace(trace, tmp_path / "t.npz")
    monkeypatch.setattr(simulate_mod, "STREAM_ABOVE_LOOKUPS", 0)          # stream even this small trace
    streamed = Simulation(model, sys_, p, open_trace(folder), caches=caches)
    assert streamed.streamed and not hasattr(streamed.trace, "indices")
    from_npz = Simulation(model, sys_, p, open_trace(npz), caches=caches)
    for k in ("lookups", "unique_rows", "hits", "misses", "bytes", "table_lookups"):
        np.testing.assert_array_equal(getattr(streamed.counters, k), getattr(mem.counters, k), err_msg=k)
    want = _result(mem)
    assert _result(streamed) == want
    assert _result(from_npz) == want
