"""Shared parts are queues (families/pcie_switch.py and the shared host DDR): devices behind one uplink,
GPUs reading host-resident rows, never move more together than the part they share can carry."""
import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))

from embsim.hw_models.loader import load_system_data, system_from_dict  # noqa: E402
from embsim.sim.simulate import Simulation  # noqa: E402
from simtoys import round_robin_plan, small_model, small_trace  # noqa: E402

TOL = 1e-6


def S(v, src="test: contention case"):
    return {"value": v, "source": src}


def _with(preset, edit):
    data = copy.deepcopy(load_system_data(preset))
    edit(data["params"])
    return system_from_dict(data, source=f"{preset}+test.yaml")


def _smartssds(behind_one_uplink):
    """Two SmartSSDs, flash reads through the host (p2p off: every sector crosses the port twice)."""
    def edit(p):
        p["csd"]["count"] = S(2)
        p["csd"]["p2p"] = False
        if behind_one_uplink:
            p["csd"]["links"]["switch"] = {"devices_per_uplink": S(2), "uplink": copy.deepcopy(p["csd"]["links"]["pcie"])}
    return _with("screc_4x_smartssd", edit)


@pytest.fixture(scope="module")
def rows():
    m = small_model(tables=8, rows=200_000, dim=128, pooling=20)    # a table per GPU
    return m, small_trace(m, batches=6, batch_size=128)


def _run(system, rows, tier):
    model, trace = rows
    plan = round_robin_plan(model, system, tier=tier)
    if system.family == "screc_csd":      # tables on the devices only, never on the host
        for i, tp in enumerate(plan.tables):
            tp.shards[0].device = f"csd{i % system.n_devices}"
    return Simulation(model, system, plan, trace).run("closed", queries=40 * trace.batch_size)


def test_two_smartssds_behind_one_gen3x4_uplink_move_at_most_its_bandwidth(rows):
    shared = _smartssds(behind_one_uplink=True)
    up = shared.peak_bandwidth_Bps()["switch0.up"]
    r = _run(shared, rows, "flash")
    together = sum(r.bandwidth_Bps.get(f"csd{k}.pcie_up", 0.0) for k in range(2))
    assert together <= up * (1 + TOL)
    assert r.bandwidth_Bps["switch0.up"] <= up * (1 + TOL)
    assert r.queueing_delay_s["switch0.up"] > 0            # the devices wait for each other there
    alone = _run(_smartssds(behind_one_uplink=False), rows, "flash")
    apart = sum(alone.bandwidth_Bps.get(f"csd{k}.pcie_up", 0.0) for k in range(2))
    assert apart > up                                      # with a port each they exceed one uplink: the cap binds
    assert r.qps < alone.qps


def _gpus(ddr_Bps, switch=False):
    def edit(p):
        p["host_ddr"]["peak_bandwidth"] = S(ddr_Bps)
        if switch:
            p["pcie_switch"] = {"devices_per_uplink": S(2), "uplink": copy.deepcopy(p["pcie"])}
    return _with("gpu_8x_a100_80g", edit)


def test_eight_gpus_reading_host_rows_share_the_host_ddr(rows):
    """Every table in host DDR: the GPUs together read at most the DDR's peak, and queue for it."""
    slow = _gpus(40e9)                       # below 8 GPUs x their UVM port rate: the DDR is the shared limit
    r = _run(slow, rows, "host_ddr")
    assert r.bandwidth_Bps["host.ddr"] <= 40e9 * (1 + TOL)
    assert r.queueing_delay_s["host.ddr"] > 0
    fast = _run(_gpus(4e12), rows, "host_ddr")
    assert fast.bandwidth_Bps["host.ddr"] > 40e9 and fast.qps > r.qps


def test_gpus_behind_one_switch_share_its_uplink(rows):
    s = _gpus(4e12, switch=True)
    up = s.peak_bandwidth_Bps()["switch0.down"]
    r = _run(s, rows, "host_ddr")
    for j in range(4):
        pair = sum(r.bandwidth_Bps.get(f"gpu{2 * j + k}.pcie", 0.0) for k in range(2))
        assert pair <= up * (1 + TOL)
        assert r.bandwidth_Bps[f"switch{j}.down"] <= up * (1 + TOL)


def test_host_mlp_and_bounced_flash_sectors_share_the_host_dram(rows):
    """p2p off and the MLP on the host: flash sectors through host DRAM and the MLP's weights queue for one
    DRAM; with a slow DRAM it binds (at most its peak, a queue forms) and the machine is slower."""
    def system(ddr_Bps):
        def edit(p):
            p["csd"]["count"] = S(2)
            p["csd"]["p2p"] = False
            p["csd"]["dense_on"] = "host"
            p["host"]["dram"] = {"preset": "ddr5_4800", "peak_bandwidth": S(ddr_Bps)}
        return _with("screc_4x_smartssd", edit)
    slow = _run(system(2e9), rows, "flash")
    assert slow.bandwidth_Bps["host.dram"] <= 2e9 * (1 + TOL)
    assert slow.utilisation_fraction["host.dram"] > 0.5
    assert slow.queueing_delay_s["host.dram"] > 0
    stages = {w.stage for w in slow_cost(system(2e9), rows) if w.resource == "host.dram"}
    assert stages == {"embedding", "dense"}                 # both the bounced sectors and the MLP hold it
    fast = _run(system(300e9), rows, "flash")
    assert fast.qps > slow.qps


def slow_cost(system, rows):
    model, trace = rows
    plan = round_robin_plan(model, system, tier="flash")
    for i, tp in enumerate(plan.tables):
        tp.shards[0].device = f"csd{i % system.n_devices}"
    sim = Simulation(model, system, plan, trace)
    return sim.batch_cost(sim.batch_load(0)).work
