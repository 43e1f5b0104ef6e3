"""The instance: row-wise parts of large or hot tables conserve rows, lookups and bytes."""
import pytest

from cm_toys import toy_model, toy_system
from embsim.cost_model.solve import instance_for
from embsim.cost_model.synthetic import SyntheticSystem, uniform_devices
from embsim.workloads.model import DenseSpec, ModelSpec, TableSpec


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
