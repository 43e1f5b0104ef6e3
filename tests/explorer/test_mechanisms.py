"""Each mechanism switch of `embsim reproduce` is real: switched off, the mechanism's own physics changes
(bytes move elsewhere, work serialises, the menu shrinks) and the candidate's result moves the way the
mechanism implies, on a small model where the mechanism is exercised."""
import pytest

from embsim.cost_model.planner import plan_for
from embsim.explorer.mechanisms import MECHANISMS, Case, switched_off
from embsim.explorer.reproduce import Runner
from embsim.explorer.experiment import RunSize, skewed_model
from embsim.workloads.model import load_model, model_from_dict

# Devices with 2 MB of FPGA DRAM and little SRAM: more distinct rows than the fast tiers hold are read, so
# lookups reach flash and every SCRec path is used.
SMALL_CSD = {"params.host.tables_in_host_dram": False,
             "params.csd.dram.capacity": {"value": "2 MB", "source": "test: a small FPGA DRAM, flash holds the rest"},
             "params.csd.sram_table_share": {"value": 0.01, "source": "test: little SRAM for rows"}}


def _model():
    return model_from_dict({
        "name": "mech_test", "source": "test: eight skewed tables of 1M rows (256 B rows)",
        "defaults": {"dim": 64, "pooling": 32, "access": {"kind": "zipf", "alpha": 1.1}},
        "tables": [{"name": f"t{i}", "rows": 1_000_000} for i in range(8)],
        "dense": {"dense_features": 13, "bottom_mlp": [64, 64], "top_mlp": [64, 1]}})


@pytest.fixture(scope="module")
def runner():
    return Runner(_model(), RunSize(batch_size=128, batches=3, run_batches=12, time_limit_s=5), seed=0,
                  echo=lambda *_: None)


@pytest.fixture(scope="module")
def screc():
    return Case("SCRec", "screc_4x_smartssd", dict(SMALL_CSD))


def _flash_B(result):
    return sum(v for k, v in result.bytes_B["moved"].items() if k.endswith(".flash"))


def test_statistical_sharding_off_sends_hot_rows_to_flash(runner, screc):
    full, off = runner.result(screc), runner.result(switched_off(screc, "statistical_sharding"))
    assert _flash_B(full) > 0
    assert _flash_B(off) > 2 * _flash_B(full)            # rows by id: hot rows land in flash too
    assert off.qps <= full.qps * 1.01


def test_p2p_off_bounces_flash_sectors_through_the_host_port(runner, screc):
    full, off = runner.result(screc), runner.result(switched_off(screc, "p2p_flash"))
    port = lambda r: sum(v for k, v in r.bytes_B["moved"].items() if ".pcie_" in k)   # noqa: E731
    assert port(off) > 2 * port(full)          # the flash sectors cross the host port (down and up)
    # Not asserted: lower throughput.  The bounce's time is charged to the port resources, which run beside
    # the memory-centric cores, so where those cores are the bottleneck the ablation can even be faster;
    # the reproduce report says so when it happens (explorer/reproduce.py: _driver_sentence).


def test_device_parallelism_off_serialises_the_devices(runner, screc):
    full, off = runner.result(screc), runner.result(switched_off(screc, "device_parallelism"))
    assert "csd" in off.utilisation_fraction and "csd0" not in off.utilisation_fraction
    assert off.stage_time_s["embedding"] > 2 * full.stage_time_s["embedding"]   # 4 devices' work in turn
    assert off.qps < full.qps
    assert runner.simulation(switched_off(screc, "device_parallelism")).plan is runner.plan(screc)   # same plan


def test_near_data_mlp_off_runs_the_mlp_on_the_host(runner, screc):
    full, off = runner.result(screc), runner.result(switched_off(screc, "near_data_mlp"))
    busy = lambda r, res: r.utilisation_fraction.get(res, 0.0)   # noqa: E731
    assert busy(off, "host") > busy(full, "host")
    assert all(busy(off, f"csd{k}.compute") < busy(full, f"csd{k}.compute") for k in range(4))


def test_tt_compression_off_leaves_no_tensor_train(runner):
    case = Case("SCRec", "screc_4x_smartssd", dict(SMALL_CSD), representations="fp32,tt")
    off = switched_off(case, "tt_compression")
    assert off.representations == "fp32"
    assert all(tp.representation.kind != "tt" for tp in runner.plan(off).tables)


@pytest.mark.parametrize("name", ["asymmetric_mapping", "l1_preloading"])
def test_core_mapping_switches_shrink_the_menu(name):
    from embsim.hw_models.loader import load_system
    model = skewed_model(load_model("criteo_kaggle"), 2.0, 0)
    soc = load_system("ascend_910")
    full = plan_for(model, soc, batch_size=64, time_limit_s=5)
    off_case = switched_off(Case("x", "ascend_910"), name)
    off = plan_for(model, soc, batch_size=64, time_limit_s=5, **off_case.planner)
    default = plan_for(model, soc, batch_size=64, time_limit_s=5, asymmetric=False, strategies=("GM",))
    strategies = {s.strategy for tp in off.tables for s in tp.shards}
    if name == "l1_preloading":
        assert not strategies & {"L1", "L1-UB"}
    else:
        assert all(len(tp.shards) == min(32, t.rows) for tp, t in zip(off.tables, model.tables))
    # the full menu holds the switched-off one (and it is the full mapping's warm start): never slower
    assert full.makespan_s <= off.makespan_s * (1 + 1e-6) or name == "l1_preloading"
    assert off.makespan_s <= default.makespan_s * (1 + 1e-6)
    assert default.makespan_s == pytest.approx(default.baselines["default_gm_even"]["makespan_s"], rel=1e-6)


def test_every_mechanism_has_a_switch():
    assert set(MECHANISMS) == {"statistical_sharding", "tt_compression", "p2p_flash", "device_parallelism",
                               "near_data_mlp", "asymmetric_mapping", "l1_preloading"}
