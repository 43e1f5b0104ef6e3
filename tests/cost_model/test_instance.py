"""The instance: row-wise parts of large or hot tables conserve rows, lookups and bytes."""
import math

import pytest

from cm_toys import toy_model, toy_system
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.cost_model.synthetic import SyntheticSystem, uniform_devices
from embsim.hw_models.loader import load_system
from embsim.workloads.model import DenseSpec, ModelSpec, TableSpec, model_from_dict


def test_parts_conserve_rows_lookups_and_bytes():
    tables = (TableSpec("hot", 50000, 32, "fp32", 200.0), TableSpec("big", 400000, 32, "fp32", 1.0),
              TableSpec("small", 100, 32, "fp32", 1.0))
    model = ModelSpec("m", tables, DenseSpec(13, (16,), (16, 1)), "t")
    system = SyntheticSystem("s", uniform_devices(4, [dict(tier="dram", capacity_B=20e6, per_lookup_s=1e-8,
                                                           bandwidth_Bps=1e10)]))
    inst = instance_for(model, system, batch_size=10)
    for ti, t in enumerate(tables):
        parts = [it for it in inst.items if it.table == ti]
        assert sum(p.rows for p in parts) == pytest.approx(t.rows)
        assert sum(p.accesses for p in parts) == pytest.approx(t.pooling * 10)
        assert sum(p.bytes[0] for p in parts) == pytest.approx(t.bytes)
    assert len([it for it in inst.items if it.name == "hot"]) > 1        # hot: split for load
    assert len([it for it in inst.items if it.name == "big"]) >= 4       # 51 MB vs 20 MB devices: split to fit
    assert len([it for it in inst.items if it.name == "small"]) == 1


def test_costs_come_from_the_system():
    inst = instance_for(toy_model(2, 0), toy_system(2), split=False)
    it = inst.items[0]
    k = inst.dev_slots["dev0"][0]
    c = inst.system.lookup_cost(inst.slots[k], it.reps[0].row_bytes)
    assert inst.time[0][0, k] == c.time_s


def test_a_lookup_is_priced_with_its_representation_dtype_and_table_pooling():
    """On a CPU system a lookup pays its dtype's widening and its table's per-bag work (parts/cpu.py)."""
    from embsim.hw_models.loader import load_system
    from embsim.workloads.model import AccessSpec
    system = load_system("cpu_2s_spr_ddr5")
    tables = (TableSpec("one", 100_000, 64, "fp16", 1.0, access=AccessSpec("uniform")),
              TableSpec("many", 100_000, 64, "fp16", 40.0, access=AccessSpec("uniform")))
    model = ModelSpec("m", tables, DenseSpec(13, (16,), (16, 1)), "test")
    inst = instance_for(model, system, split=False)
    k = 0
    for i, it in enumerate(inst.items):
        rep = it.reps[0]
        c = system.lookup_cost(inst.slots[k], rep.row_bytes, rep.dtype, tables[it.table].pooling)
        assert inst.time[i][0, k] == c.time_s
    one, many = (system.lookup_cost(inst.slots[k], 128, "fp16", p).time_s for p in (1.0, 40.0))
    assert one != many and one > system.lookup_cost(inst.slots[k], 128, "fp32", 1.0).time_s


# The splitting rule: a table too big for half of one device's own memory, where devices share a pool (host DDR
# over every GPU's PCIe port), is cut over several devices, so its spilled rows cross several ports.
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
