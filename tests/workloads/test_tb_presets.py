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
