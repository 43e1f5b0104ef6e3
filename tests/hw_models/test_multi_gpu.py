"""multi_gpu cost functions on hand-computed cases.

The hand system: 2 GPUs, 10 GB HBM at 1000 GB/s reaching 50% on gathers in
32-B sectors (Little's law: 1562.5 sectors in flight over 100 ns), 1 GB reserved; PCIe 10 GB/s per direction at 50% in 64-B reads;
host DDR 8 GB/s shared (4 GB/s per GPU under load); NVLink 100 GB/s at 80%.
"""

import pytest

from embsim.errors import InputError
from embsim.hw_models import BatchLoad, DeviceLoad

from hand_systems import S, build


HAND = {
    "family": "multi_gpu",
    "name": "hand_gpu",
    "params": {
        "gpus": S(2),
        # 500 GB/s random = 1562.5 sectors of 32 B in flight over 100 ns (half the 1000 GB/s peak)
        "hbm": {"capacity": S("10 GB"), "granularity": S("32 B"), "latency": S("100 ns"), "concurrency": S(1562.5),
                "peak_bandwidth": S("1000 GB/s"), "read_energy": S("4 pJ/bit"), "write_energy": S("5 pJ/bit"),
                "static_power": S("0 W")},
        "hbm_reserved": S("1 GB"),
        "hbm_cache": {"capacity": S("0 GB")},
        "gpu": {"count": S(1), "clock": S("1 GHz"), "ops_per_cycle": {"tf32": S(1e5)}, "op_energy": {"tf32": S("1 pJ")},
                "mlp_dtype": "tf32", "mlp_efficiency": S(0.5), "static_power": S("50 W")},
        "pcie": {"bandwidth": S("10 GB/s"), "efficiency": S(1.0), "latency": S("0 s"), "energy": S("6 pJ/bit"),
                 "static_power": S("0 W")},
        "uvm": {"efficiency": S(0.5), "access_bytes": S("64 B")},
        "link": {"bandwidth": S("100 GB/s"), "efficiency": S(0.8), "latency": S("1 us"), "energy": S("5 pJ/bit"),
                 "static_power": S("15 W")},
        "host_ddr": {"capacity": S("100 GB"), "granularity": S("64 B"), "latency": S("100 ns"), "concurrency": S(1000),
                     "peak_bandwidth": S("8 GB/s"), "read_energy": S("20 pJ/bit"), "write_energy": S("20 pJ/bit"),
                     "static_power": S("10 W")},
        "host": {"batch_overhead": S("10 us"), "sample_overhead": S("1 us"), "response_per_sample": S("0.5 us"),
                 "static_power": S("100 W")},
        "index_bytes": S("8 B"),
    },
}


def hand(**changes):
    return build(HAND, **changes)


@pytest.fixture
def gpu():
    return hand()


def test_slots_share_the_host_pool(gpu):
    slots = {s.key: s for s in gpu.slots()}
    assert slots["gpu0.hbm"].capacity_B == pytest.approx(9e9) and slots["gpu0.hbm"].rank == 0
    assert slots["gpu1.host_ddr"].rank == 1
    assert slots["gpu0.host_ddr"].pool_key == slots["gpu1.host_ddr"].pool_key == "host.ddr"
    # one pool: 60 GB on each GPU's host_ddr slot is 120 GB of a 100 GB host
    gpu.check_fits({("gpu0", "host_ddr"): 50e9, ("gpu1", "host_ddr"): 50e9})
    with pytest.raises(InputError, match=r"host\.ddr holds 100 GB, but the placement puts 120 GB"):
        gpu.check_fits({("gpu0", "host_ddr"): 60e9, ("gpu1", "host_ddr"): 60e9})
    with pytest.raises(InputError, match=r"gpu1\.hbm holds 9 GB"):
        gpu.check_fits({"gpu1.hbm": 9.5e9})


def test_software_cache_takes_hbm_from_the_slot():
    assert hand(hbm_cache__capacity="4 GB").slot("gpu0", "hbm").capacity_B == pytest.approx(5e9)
    with pytest.raises(InputError, match="leave no HBM for tables"):
        hand(hbm_cache__capacity="9 GB")


def test_hbm_lookup_cost_in_sectors(gpu):
    # a 100-B row at offsets 0, 4, ..., 28 of a sector always touches 4 sectors = 128 B
    c = gpu.lookup_cost(gpu.slot("gpu0", "hbm"), 100)
    assert c.time_s == pytest.approx(128 / 500e9)
    assert c.energy_J == pytest.approx(128 * 8 * 4e-12)
    assert gpu.lookup_cost(gpu.slot("gpu0", "hbm"), 128).time_s == pytest.approx(128 / 500e9)


def test_host_lookup_cost_over_pcie(gpu):
    # 100-B row in 64-B reads: 2 reads at offsets 0..28, 3 at 32..60 -> 2.5 reads = 160 B
    # per-GPU rate = min(10 GB/s x 0.5, 8 GB/s / 2 GPUs) = 4 GB/s
    c = gpu.lookup_cost(gpu.slot("gpu1", "host_ddr"), 100)
    assert c.time_s == pytest.approx(160 / 4e9)
    assert c.energy_J == pytest.approx(160 * 8 * (20e-12 + 6e-12))
    # with one GPU the PCIe link binds: 5 GB/s
    assert hand(gpus=1).lookup_cost(hand(gpus=1).slot("gpu0", "host_ddr"), 100).time_s == pytest.approx(160 / 5e9)


def test_batch_cost_by_hand(gpu):
    work = [dict(table="a", tier="hbm", row_bytes=128, lookups=1000),
            dict(table="b", tier="host_ddr", row_bytes=256, lookups=10)]
    load = BatchLoad(32, {"gpu0": DeviceLoad(table_work=work, pooled_bytes_out=1e6),
                          "gpu1": DeviceLoad(table_work=[dict(table="c", tier="hbm", row_bytes=64, lookups=50)],
                                             pooled_bytes_out=2e5)},
                     dense_macs=1e9)
    bc = gpu.batch_cost(load)
    by = {(w.stage, w.resource): w.time_s for w in bc.work}
    # host rows at gpu0's own UVM port rate (10 GB/s x 0.5); the shared host DDR (8 GB/s) is its own resource;
    # then the pooled output written to HBM at its 1000 GB/s peak
    assert by[("embedding", "gpu0")] == pytest.approx(1000 * 128 / 500e9 + 10 * 256 / 5e9 + 1e6 / 1000e9)
    assert by[("embedding", "host.ddr")] == pytest.approx(10 * 256 / 8e9)
    assert by[("embedding", "gpu1")] == pytest.approx(50 * 64 / 500e9 + 2e5 / 1000e9)
    # indices: 1010 x 8 B over gpu0's PCIe in the host stage
    assert by[("host", "gpu0.pcie")] == pytest.approx(1010 * 8 / 10e9)
    # all-to-all: gpu0 sends 0.5 MB and receives 0.1 MB; gpu1 the reverse
    assert by[("transfer", "gpu0.link")] == pytest.approx(1e-6 + 0.5e6 / 80e9)
    assert by[("transfer", "gpu1.link")] == pytest.approx(1e-6 + 0.5e6 / 80e9)
    assert by[("dense", "gpu1.sm")] == pytest.approx(1e9 / (100e12 * 0.5))   # on the SMs, beside the next lookups
    assert bc.bytes["gpu0.hbm"] == pytest.approx(128000 + 1e6)
    assert bc.actions[("gpu0.hbm", "write_B")] == pytest.approx(1e6)
    assert bc.bytes["host.ddr"] == pytest.approx(10 * 256)
    assert bc.actions[("gpu0.link", "transfer_B")] == pytest.approx(0.5e6)
    e = gpu.energy_J(bc.actions, 1.0)
    assert e["static"]["gpu0.sm"] == pytest.approx(50.0) and e["static"]["gpu0.link"] == pytest.approx(15.0)


def test_software_cache_hits_and_misses():
    g = hand(hbm_cache__capacity="2 GB")
    # 100 reads of 256-B rows resident in host DDR: 70 hit the HBM cache, 30 go to host DDR and are filled
    w = [dict(table="t", tier="host_ddr", row_bytes=256, lookups=30, cache_hits={"hbm_cache": 70})]
    bc = g.batch_cost(BatchLoad(8, {"gpu0": DeviceLoad(table_work=w)}, 0))
    emb = {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}
    hit = 256 / 500e9
    assert emb["gpu0"] == pytest.approx(70 * hit + 30 * (256 / 5e9 + hit))
    assert emb["host.ddr"] == pytest.approx(30 * 256 / 8e9)      # only the misses reach the host
    assert bc.actions[("gpu0.hbm", "write_B")] == pytest.approx(30 * 256)
    assert bc.actions[("gpu0.hbm", "read_B")] == pytest.approx(70 * 256)
    assert g.cache_hit_cost("gpu0", "hbm_cache", 256).time_s < g.lookup_cost(g.slot("gpu0", "host_ddr"), 256).time_s
    # hits without a cache are a bug in the caller
    with pytest.raises(ValueError, match="no cache"):
        hand().batch_cost(BatchLoad(8, {"gpu0": DeviceLoad(table_work=w)}, 0))


def test_faster_links_never_slower(gpu):
    load = BatchLoad(32, {"gpu0": DeviceLoad(table_work=[dict(tier="host_ddr", row_bytes=512, lookups=100),
                                                         dict(tier="hbm", row_bytes=512, lookups=1000)],
                                             pooled_bytes_out=1e6)}, dense_macs=1e8)
    base = {(w.stage, w.resource): w.time_s for w in gpu.batch_cost(load).work}
    for faster in (hand(pcie__bandwidth="20 GB/s"), hand(link__bandwidth="200 GB/s"),
                   hand(hbm__concurrency=3125), hand(host_ddr__peak_bandwidth="16 GB/s")):
        new = {(w.stage, w.resource): w.time_s for w in faster.batch_cost(load).work}
        assert all(new[k] <= base[k] + 1e-18 for k in base)
        assert sum(new.values()) < sum(base.values())


def test_cache_levels_follow_the_cache_capacity(gpu):
    assert gpu.cache_levels() == []
    cached = hand(hbm_cache__capacity="2 GB")
    assert [(c["device"], c["level"], c["capacity_B"], c["above_tier"]) for c in cached.cache_levels()] == \
        [("gpu0", "hbm_cache", 2e9, "host_ddr"), ("gpu1", "hbm_cache", 2e9, "host_ddr")]


def test_output_write_is_priced_as_the_planner_asks(gpu):
    """The embedding stage's output write is shard_output_time_s; merging two shards' outputs on one GPU
    never costs more than the two written apart, and more bytes never take less time."""
    def emb(pooled_B):
        bc = gpu.batch_cost(BatchLoad(32, {"gpu0": DeviceLoad(pooled_bytes_out=pooled_B)}, 0.0))
        return {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}["gpu0"]
    a, b = 3e5, 7e5
    assert emb(a) == pytest.approx(gpu.shard_output_time_s("gpu0", a)) == pytest.approx(a / 1000e9)
    assert emb(a + b) <= emb(a) + emb(b) * (1 + 1e-12)
    assert emb(0.0) <= emb(a) <= emb(a + b)
