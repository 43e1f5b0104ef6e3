"""plan_for: one entry point; the planner follows the system's protocols and is recorded in the plan."""
import pytest

from embsim.cost_model.core_mapping import solve_core_mapping
from embsim.cost_model.plan import ShardingPlan
from embsim.cost_model.planner import plan_for, planner_for
from embsim.cost_model.solve import solve_plan
from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.hw_models.protocols import PerCoreStrategies
from embsim.workloads.model import model_from_dict

TINY = {"name": "tiny", "source": "test model",
        "defaults": {"dim": 32, "pooling": 4, "access": {"kind": "zipf", "alpha": 1.1}},
        "tables": [{"name": "a", "rows": 100000}, {"name": "b", "rows": 20000, "pooling": 20},
                   {"name": "c", "rows": 5000}],
        "dense": {"dense_features": 13, "bottom_mlp": [64, 32], "top_mlp": [64, 1]}}


@pytest.fixture(scope="module")
def tiny():
    return model_from_dict(TINY, source="tiny")


@pytest.mark.parametrize("preset", ["ascend_910", "cpu_2s_spr_ddr5", "gpu_8x_a100_80g", "screc_4x_smartssd"])
def test_the_planner_follows_the_protocol_not_the_family_name(preset):
    system = load_system(preset)
    want = "core_mapping" if isinstance(system, PerCoreStrategies) else "sharding_mip"
    assert planner_for(system) == want
    assert (want == "core_mapping") == (preset == "ascend_910")


def test_an_soc_gets_the_core_mapping_and_the_plan_says_so(tiny):
    soc = load_system("ascend_910")
    plan = plan_for(tiny, soc, solver="highs", time_limit_s=10, batch_size=64)
    direct = solve_core_mapping(tiny, soc, solver="highs", time_limit_s=10, batch_size=64)
    assert plan.planner == "core_mapping" and plan.method in ("core_mapping", "baseline")
    assert plan.makespan_s == pytest.approx(direct.makespan_s, rel=1e-9)
    again = ShardingPlan.from_dict(plan.to_dict())
    assert again.planner == "core_mapping"


def test_other_systems_get_the_sharding_mip(tiny):
    cpu = load_system("cpu_2s_spr_ddr5")
    plan = plan_for(tiny, cpu, solver="highs", time_limit_s=10, batch_size=64, split=False)
    direct = solve_plan(tiny, cpu, solver="highs", time_limit_s=10, batch_size=64, split=False)
    assert plan.planner == "sharding_mip"
    assert plan.makespan_s == pytest.approx(direct.makespan_s, rel=1e-6)


def test_several_dtypes_on_an_soc_keep_the_fastest_single_dtype(tiny):
    soc = load_system("ascend_910")
    each = {d: plan_for(tiny, soc, solver="highs", time_limit_s=10, batch_size=64, representations=d).makespan_s
            for d in ("fp32", "int8")}
    both = plan_for(tiny, soc, solver="highs", time_limit_s=20, batch_size=64, representations="fp32,int8")
    assert both.makespan_s == pytest.approx(min(each.values()), rel=1e-9)
    assert len({tp.representation.dtype for tp in both.tables}) == 1       # one dtype for every table


@pytest.mark.parametrize("kwargs, fragment", [
    ({"objective": "makespan+energy", "energy_weight": 1.0}, "makespan only"),
    ({"representations": "fp32,tt"}, "one dense dtype"),
    ({"split": False}, "only the sharding MIP"),
    ({"time_limit_s": 0}, "time limit"),
    ({"batch_size": 0}, "batch size"),
])
def test_options_the_core_mapping_cannot_honour_are_refused(tiny, kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        plan_for(tiny, load_system("ascend_910"), **{"solver": "highs", "time_limit_s": 5, **kwargs})


def test_a_model_too_large_for_the_soc_names_the_dtype_option():
    from embsim.workloads.model import load_model
    with pytest.raises(InputError, match=r"--representations int8"):
        plan_for(load_model("dlrm_dcnv2_criteo1tb"), load_system("ascend_910"))
