"""TorchRec interop: exported constraints round-trip through import; what cannot map is refused in one line."""
import json

import pytest
import yaml

from embsim.cost_model.plan import load_plan
from embsim.cost_model.planner import plan_for
from embsim.cost_model.torchrec_io import export_constraints, import_plan
from embsim.cost_model.validate import plan_problems
from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.workloads.model import model_from_dict
from conftest import assert_input_error

MODEL = {"name": "five", "source": "test", "defaults": {"dim": 32, "pooling": 8, "access": {"kind": "zipf", "alpha": 1.1}},
         "tables": [{"name": f"t{i}", "rows": 20000 * (i + 1)} for i in range(4)] + [{"name": "big", "rows": 400000,
                                                                                       "pooling": 300}],
         "dense": {"dense_features": 4, "bottom_mlp": [64, 32], "top_mlp": [16, 1]}}


@pytest.fixture(scope="module")
def planned():
    model = model_from_dict(MODEL, source="test")
    system = load_system("gpu_8x_a100_80g")
    plan = plan_for(model, system, batch_size=256, solver="highs", time_limit_s=10)
    return model, system, plan


def _placement(plan):
    return {tp.table: [(s.part, s.parts, s.device, s.tier) for s in sorted(tp.shards, key=lambda s: s.part)]
            for tp in plan.tables}


def test_exported_constraints_round_trip_through_import(planned):
    model, system, plan = planned
    out = export_constraints(plan, system)
    assert out["world_size"] == 8 and set(out["tables"]) == {t.name for t in model.tables}
    assert any(e["sharding_types"] == ["row_wise"] for e in out["tables"].values())      # 'big' is split
    back = import_plan(json.loads(json.dumps(out)), model, system, batch_size=256)
    assert _placement(back) == _placement(plan)
    assert plan_problems(back, system, model) == []
    assert export_constraints(back, system)["tables"] == out["tables"]                   # a fixed point


def test_an_imported_table_wise_plan_predicts_what_the_cost_model_does(planned):
    model, system, plan = planned
    tw = {t.name: {"sharding_type": "table_wise", "compute_kernel": "fused", "ranks": [i % 8]}
          for i, t in enumerate(model.tables)}
    back = import_plan(tw, model, system, batch_size=256)
    from embsim.cost_model.coverage import table_access
    acc = {a.name: a.accesses for a in table_access(model, None, 256)}
    slot = next(s for s in system.slots() if s.device == "gpu0" and s.tier == "hbm")
    want = acc["t0"] * system.lookup_cost(slot, model.tables[0].row_bytes).time_s \
        + system.shard_output_time_s("gpu0", 256 * model.tables[0].dim * 4.0)   # and its pooled-output write
    assert back.device_time_s["gpu0"] == pytest.approx(want, rel=1e-12)     # t0 alone on rank 0
    assert back.planner == "torchrec"


@pytest.mark.parametrize("entry, fragment", [
    ({"sharding_type": "table_column_wise", "compute_kernel": "fused", "ranks": [0, 1]}, "table_column_wise"),
    ({"sharding_type": "column_wise", "compute_kernel": "fused", "ranks": [0, 1, 2]}, "divide dim"),
    ({"sharding_type": "table_wise", "compute_kernel": "dense", "ranks": [0]}, "compute_kernel"),
    ({"sharding_type": "table_wise", "compute_kernel": "fused", "ranks": [9]}, "ranks"),
    ({"sharding_type": "table_wise", "compute_kernel": "fused", "ranks": [0, 1]}, "one rank"),
])
def test_what_embsim_cannot_plan_is_refused(planned, entry, fragment):
    model, system, _ = planned
    data = {t.name: {"sharding_type": "table_wise", "compute_kernel": "fused", "ranks": [0]} for t in model.tables}
    data["t0"] = entry
    with pytest.raises(InputError, match=fragment):
        import_plan(data, model, system)


def test_cli_export_then_import(run_cli, planned, tmp_path):
    model, system, plan = planned
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(MODEL))
    plan.save(tmp_path / "p.json")
    r = run_cli("plan", "export", tmp_path / "p.json", "--format", "torchrec", "-o", tmp_path / "c.json")
    assert r.code == 0, r
    r = run_cli("plan", "import", tmp_path / "c.json", "--model", tmp_path / "m.yaml", "--system", "gpu_8x_a100_80g",
                "--batch-size", 256, "-o", tmp_path / "back.json")
    assert r.code == 0, r
    assert _placement(load_plan(tmp_path / "back.json")) == _placement(plan)
    r = run_cli("plan", "import", tmp_path / "c.json", "--model", "rm1", "--system", "gpu_8x_a100_80g",
                "-o", tmp_path / "x.json")
    assert_input_error(r, "missing")
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("entry", [
    {"sharding_type": "table_wise", "compute_kernel": "fused", "ranks": [3]},
    {"sharding_type": "table_wise", "compute_kernel": "fused_uvm", "ranks": [5]},
    {"sharding_type": "row_wise", "compute_kernel": "fused", "ranks": list(range(8))},
    {"sharding_type": "row_wise", "compute_kernel": "fused_uvm", "ranks": [6, 2, 4]},
    {"sharding_type": "column_wise", "compute_kernel": "fused", "ranks": [1, 7]},
    {"sharding_type": "column_wise", "compute_kernel": "fused_uvm", "ranks": [0, 2, 4, 6]},
    {"sharding_type": "data_parallel", "compute_kernel": "dense", "ranks": list(range(8))},
], ids=lambda e: f"{e['sharding_type']}-{e['compute_kernel']}-{len(e['ranks'])}")
def test_every_sharding_type_round_trips_through_export_and_import(planned, entry):
    """A TorchRec plan with the table under test in each sharding type: import, export, import again gives the
    same shards, the same constraints (a fixed point) and a valid plan; the type survives both ways."""
    model, system, _ = planned
    data = {t.name: {"sharding_type": "table_wise", "compute_kernel": "fused", "ranks": [i % 8]}
            for i, t in enumerate(model.tables)}
    data["t1"] = entry
    first = import_plan(data, model, system, batch_size=256)
    assert plan_problems(first, system, model) == []
    assert first.table("t1").sharding == entry["sharding_type"]
    out = export_constraints(first, system)
    got = out["tables"]["t1"]
    assert (got["sharding_types"], got["compute_kernels"], got["ranks"]) == \
        ([entry["sharding_type"]], [entry["compute_kernel"]], entry["ranks"])
    back = import_plan(json.loads(json.dumps(out)), model, system, batch_size=256)
    assert _placement(back) == _placement(first)
    assert back.device_time_s == pytest.approx(first.device_time_s, rel=1e-12)
    assert export_constraints(back, system)["tables"] == out["tables"]
