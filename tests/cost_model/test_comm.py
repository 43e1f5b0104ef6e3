"""The all-to-all in the planner: probed from the system's own batch cost, exact there, and in the MIP."""
import itertools

import numpy as np
import pytest

from cm_toys import Stats, toy_model, toy_system
from embsim.cost_model.baselines import BASELINES
from embsim.cost_model.comm import probe
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.cost_model.synthetic import SyntheticSystem
from embsim.hw_models.loader import load_system
from embsim.hw_models.system import BatchLoad, DeviceLoad
from test_sharding_mip import device_time


def _linked(n_dev, bandwidth_Bps, latency_s=2e-6, **kw):
    base = toy_system(n_dev, **kw)
    return SyntheticSystem("linked", base.params, links={"latency_s": latency_s, "bandwidth_Bps": bandwidth_Bps})


def _transfer(system, pooled):
    load = BatchLoad(64, {d: DeviceLoad(pooled_bytes_out=b) for d, b in pooled.items()}, 0.0)
    out = {}
    for w in system.batch_cost(load).work:
        if w.stage == "transfer":
            out[w.resource.split(".")[0]] = out.get(w.resource.split(".")[0], 0.0) + w.time_s
    return out


@pytest.mark.parametrize("system", [_linked(4, 5e9), load_system("gpu_8x_a100_80g")], ids=["synthetic", "a100"])
def test_the_probed_model_reproduces_the_systems_own_all_to_all(system, rng):
    devices = list(dict.fromkeys(s.device for s in system.slots()))
    comm = probe(system, devices, 64)
    for _ in range(5):
        pooled = {d: float(rng.uniform(0, 3e6)) * (rng.random() < 0.7) for d in devices}
        want = _transfer(system, pooled)
        got = comm.times(pooled)
        for d in devices:
            assert got[d] == pytest.approx(want.get(d, 0.0), rel=1e-9, abs=1e-15)


def test_a_system_without_links_has_no_all_to_all():
    system = toy_system(3)
    assert probe(system, system.devices, 64) is None
    assert probe(load_system("gpu_8x_a100_80g"), ["gpu0"], 64) is None


def brute_force_with_comm(inst):
    """min over assignments of (slowest device's lookups) + (slowest device's all-to-all)."""
    best = np.inf
    for combo in itertools.product(inst.devices, repeat=len(inst.items)):
        emb = max(device_time(inst, d, [(i, 0, None) for i, dd in enumerate(combo) if dd == d]) for d in inst.devices)
        if not np.isfinite(emb):
            continue
        pooled = {}
        for i, d in enumerate(combo):
            pooled[d] = pooled.get(d, 0.0) + inst.pooled_B[i]
        best = min(best, emb + max(inst.comm.times(pooled).values()))
    return best


@pytest.mark.parametrize("bandwidth_Bps", [2e8, 2e10])
def test_mip_with_the_all_to_all_equals_brute_force(bandwidth_Bps):
    model = toy_model(5, 11)
    stats = Stats(model, 11)
    total = sum(t.bytes for t in model.tables)
    system = _linked(3, bandwidth_Bps, fast_B=0.1 * total / 3, slow_B=0.8 * total)
    inst = instance_for(model, system, stats, batch_size=64, split=False, replicate=False)
    assert inst.comm is not None
    opt = brute_force_with_comm(inst)
    plan = solve_plan(model, system, stats, batch_size=64, solver="highs", split=False, time_limit_s=30,
                      gap_rel=1e-9, method="full", replicate=False)
    assert plan.objective == pytest.approx(opt, rel=1e-6)
    assert plan.objective == pytest.approx(plan.makespan_s + plan.comm_makespan_s, rel=1e-9)
    assert plan.best_bound_s <= plan.objective * (1 + 1e-9)
    for name, b in plan.baselines.items():
        if b.get("objective") is not None and name in BASELINES:   # TorchRec's plan may split where the MIP may not
            assert plan.objective <= b["objective"] * (1 + 1e-9)


def test_a_slow_fabric_trades_lookup_time_for_all_to_all_time():
    """The plan that ignores the links sends more over them than the plan that counts them, and costs more."""
    model = toy_model(6, 5)
    stats = Stats(model, 5)
    total = sum(t.bytes for t in model.tables)
    kw = dict(fast_B=0.1 * total / 3, slow_B=0.8 * total)
    linked, bare = _linked(3, 1e8, **kw), toy_system(3, **kw)
    inst = instance_for(model, linked, stats, batch_size=64, split=False)
    counted = solve_plan(model, linked, stats, batch_size=64, solver="highs", split=False, time_limit_s=20,
                         gap_rel=1e-9, method="full", replicate=False)
    blind = solve_plan(model, bare, stats, batch_size=64, solver="highs", split=False, time_limit_s=20,
                       gap_rel=1e-9, method="full", replicate=False)
    pooled = {}
    for tp, t in zip(blind.tables, model.tables):
        d = tp.shards[0].device
        pooled[d] = pooled.get(d, 0.0) + 64 * t.dim * 4.0
    blind_total = blind.makespan_s + max(inst.comm.times(pooled).values())
    assert counted.objective <= blind_total * (1 + 1e-9)
    assert counted.makespan_s >= blind.makespan_s * (1 - 1e-9)        # the blind plan's lookups are optimal


def test_the_probe_loading_the_producer_alone_equals_loading_every_device():
    """The probe loads only the producing device (a batch cost over N loaded devices made 2N probes O(N^3));
    an absent device has no work, so the transfer times equal those of every device loaded, idle ones empty."""
    from embsim.cost_model.comm import _transfer_s
    from embsim.hw_models.loader import load_system
    from embsim.hw_models.system import BatchLoad, DeviceLoad
    for name in ("gpu_8x_a100_80g", "gpu_8x_a100_nvme", "screc_4x_smartssd", "cpu_2s_spr_ddr5"):
        system = load_system(name)
        devices = list(dict.fromkeys(s.device for s in system.slots()))
        for producer in devices[:2]:
            load = BatchLoad(1024, {d: DeviceLoad(pooled_bytes_out=1e6 if d == producer else 0.0)
                                    for d in devices}, 0.0)
            full = {d: sum(w.time_s for w in system.batch_cost(load).work if w.stage == "transfer"
                           and (w.resource == d or w.resource.startswith(d + "."))) for d in devices}
            assert _transfer_s(system, devices, 1024, producer, 1e6) == pytest.approx(full, rel=1e-12, abs=0)
