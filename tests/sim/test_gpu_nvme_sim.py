"""A model larger than HBM + host DDR on gpu_nvme: the plan puts the coldest rows on the host's NVMe, and a
held-out simulation reads them there, within the drives' bandwidth, and pays their energy."""
import pytest

from embsim.cost_model.solve import solve_plan
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import simulate

from simtoys import small_model, small_trace

# 8 x 0.5 MB of HBM and 4 MB of host DDR for a 12.8 MB model: about 4.8 MB must go to the drives
SMALL = {"params.hbm_reserved": "0 GB", "params.hbm.capacity": "0.5 MB", "params.host_ddr.capacity": "4 MB"}


@pytest.fixture(scope="module")
def setup():
    model, system = small_model(), load_system("gpu_8x_a100_nvme", SMALL)
    return model, system, solve_plan(model, system, batch_size=64, time_limit_s=5)


def test_the_plan_puts_the_coldest_rows_on_nvme(setup):
    model, _, plan = setup
    assert plan.pool_used_B["host.nvme"] >= model.embedding_bytes - 8 * 0.5e6 - 4e6 - 1
    on_nvme = 0
    for t in plan.tables:
        for s in t.shards:
            if s.tier != "nvme":
                continue
            on_nvme += 1
            assert s.rank_hi == pytest.approx(1.0)                    # the cold end of its part's ranking
            warmer = [o for o in t.shards if o.part == s.part and o.tier != "nvme"]
            assert all(o.rank_hi <= s.rank_lo + 1e-9 for o in warmer)
    assert on_nvme > 0


def test_a_heldout_simulation_reads_nvme_within_the_drives_peak_and_pays_for_it(setup):
    model, system, plan = setup
    r = simulate(model, system, plan=plan, trace=small_trace(model, batches=24), queries=1024)
    assert r.bytes_B["moved"]["host.nvme"] > 0
    assert 0 < r.bandwidth_Bps["host.nvme"] <= r.peak_bandwidth_Bps["host.nvme"] == pytest.approx(8 * 7.88e9)
    by_action = r.energy["by_action_J"]
    for action in ("page_read", "channel_B"):
        assert sum(j for k, j in by_action.items() if k.startswith("host.nvme") and k.endswith(action)) > 0
    assert by_action["host.cpu:busy_s"] > 0 and by_action["host.ddr:write_B"] > 0
