"""The splitting rule: a table too big for half of one device's own memory, where devices share a pool
(host DDR over every GPU's PCIe port), is cut over several devices, so its spilled rows cross several ports."""
import math

import pytest

from embsim.cost_model.solve import instance_for, solve_plan
from embsim.hw_models.loader import load_system
from embsim.workloads.model import model_from_dict

BIG_ROWS = 40_000_000          # dim 128 fp32: 20.48 GB, DCNv2's largest tables


def _model():
    tables = [{"name": "big", "rows": BIG_ROWS}] + [{"name": f"s{i}", "rows": 1000} for i in range(20)]
    return model_from_dict({
        "name": "one_big", "source": "test", "tables": tables,
        "defaults": {"dim": 128, "dtype": "fp32", "pooling": 1, "access": {"kind": "zipf", "alpha": 1.05}},
        "dense": {"dense_features": 13, "bottom_mlp": [64, 128], "top_mlp": [64, 1], "interaction": "dot"}},
        source="test")


def _parts(system):
    inst = instance_for(_model(), system, None, batch_size=1024)
    return [it for it in inst.items if it.name == "big"], inst


def test_a_table_that_fits_half_of_one_hbm_stays_whole():
    items, _ = _parts(load_system("gpu_8x_a100_80g"))           # 72 GB of tables per GPU
    assert len(items) == 1


def test_a_table_too_big_for_one_hbm_is_cut_so_each_part_fits_half_of_one():
    system = load_system("gpu_8x_a100_80g", overrides={"params.hbm.capacity": "16 GB"})   # 8 GB of tables
    items, inst = _parts(system)
    own = min(inst._device_capacity(d, own=True) for d in inst.devices)
    assert len(items) == math.ceil(items[0].reps[0].bytes / (0.5 * own)) <= len(inst.devices)
    assert all(it.bytes[0] <= 0.5 * own for it in items)
    assert sum(it.rows for it in items) == BIG_ROWS
    assert sum(it.accesses for it in items) == pytest.approx(1024.0)     # lookups conserved


def test_the_plan_spreads_the_cut_table_over_as_many_gpus():
    system = load_system("gpu_8x_a100_80g", overrides={"params.hbm.capacity": "16 GB"})
    items, _ = _parts(system)
    plan = solve_plan(_model(), system, None, batch_size=1024, time_limit_s=5, solver="highs")
    assert len({s.device for s in plan.table("big").shards}) == len(items)
