"""The TB-scale dlrm_datasets-like presets: sizes, preserved spread, and where they do not fit."""
import numpy as np
import pytest

from embsim.cost_model.solve import solve_plan
from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.workloads.model import load_model


@pytest.mark.parametrize("name, target_B", [("dlrm_datasets_like_1tb", 1e12), ("dlrm_datasets_like_4tb", 4e12)])
def test_tb_preset_scales_rows_only(name, target_B):
    base, big = load_model("dlrm_datasets_like"), load_model(name)
    assert big.n_tables == base.n_tables == 856
    assert abs(big.embedding_bytes - target_B) < big.n_tables * 256      # within one row per table
    factor = target_B / base.embedding_bytes
    ratio = np.array(big.table_rows) / np.array(base.table_rows)
    assert np.allclose(ratio, factor, rtol=0.01)                         # one common factor: spread kept
    assert [t.pooling for t in big.tables] == [t.pooling for t in base.tables]
    assert big.lookups_per_sample == base.lookups_per_sample


def test_4tb_does_not_fit_cpu_dram_one_line_with_sizes():
    model, system = load_model("dlrm_datasets_like_4tb"), load_system("cpu_2s_spr_ddr5")
    with pytest.raises(InputError) as e:
        solve_plan(model, system, batch_size=64, time_limit_s=5)
    msg = str(e.value)
    assert "\n" not in msg
    assert "4000.0 GB" in msg and "1024.0 GB" in msg and "cpu_2s_spr_ddr5" in msg


@pytest.fixture
def no_torchrec_baseline(monkeypatch):
    """TorchRec's own planner (an optional baseline solve_plan adds) takes minutes on 856 tables; these
    tests check embsim's plan, so they switch it off."""
    from embsim.cost_model import torchrec_planner
    monkeypatch.setattr(torchrec_planner, "unavailable", lambda: "switched off in this test")


def _spilled_B(plan, fast_tiers):
    return sum(b for pool, b in plan.pool_used_B.items() if pool.rsplit(".", 1)[-1] not in fast_tiers)


@pytest.mark.slow
@pytest.mark.parametrize("name, system, fast", [
    ("dlrm_datasets_like_4tb", "cpu_2s_spr_nvme", {"dram"}),        # 4 TB > 1024 GB DRAM: NVMe holds the rest
    ("dlrm_datasets_like_4tb", "screc_4x_smartssd", {"dram", "sram"}),
    ("dlrm_datasets_like_1tb", "gpu_8x_a100_80g", {"hbm"}),          # 1 TB > 8 x 80 GB HBM: UVM host DDR
])
def test_tb_model_plans_where_it_spills(no_torchrec_baseline, name, system, fast):
    model = load_model(name)
    plan = solve_plan(model, load_system(system), batch_size=64, time_limit_s=5)
    used = sum(plan.pool_used_B.values())
    assert used >= model.embedding_bytes * 0.999                         # every table placed somewhere
    assert _spilled_B(plan, fast) > 0                                     # the capacity tier is used
    # the MIP solver's feasibility tolerance lets a full pool overrun by ~1 kB in 512 GB (2.5e-9)
    assert all(plan.pool_used_B[p] <= plan.pool_capacity_B[p] * (1 + 1e-8) for p in plan.pool_used_B)
    assert plan.makespan_s > 0


def test_4tb_does_not_fit_gpus_with_uvm_one_line(no_torchrec_baseline):
    with pytest.raises(InputError) as e:
        solve_plan(load_model("dlrm_datasets_like_4tb"), load_system("gpu_8x_a100_80g"), batch_size=64,
                   time_limit_s=5)
    msg = str(e.value)
    assert "\n" not in msg and "4000.0 GB" in msg and "2576.0 GB" in msg and "gpu_8x_a100_80g" in msg


def test_4tb_runs_on_gpus_with_host_nvme_behind_host_ddr(no_torchrec_baseline):
    """8 x 72 GB of HBM and 2 TB of host DDR hold 2576 GB; the host's NVMe drives take the rest, and only then."""
    model, system = load_model("dlrm_datasets_like_4tb"), load_system("gpu_8x_a100_nvme")
    plan = solve_plan(model, system, batch_size=64, time_limit_s=3)
    assert sum(plan.pool_used_B.values()) >= model.embedding_bytes * 0.999
    assert plan.pool_used_B["host.nvme"] >= (model.embedding_bytes - 2576e9) * 0.999
    assert plan.pool_used_B["host.ddr"] >= 2e12 * 0.999                 # the faster tiers fill first
    assert all(plan.pool_used_B[p] <= plan.pool_capacity_B[p] * (1 + 1e-8) for p in plan.pool_used_B)
