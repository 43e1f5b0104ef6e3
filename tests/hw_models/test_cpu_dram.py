"""cpu_dram cost functions on hand-computed cases.

The hand system: 2 sockets of 4 cores at 1 GHz, 8 FLOP/cycle, 2 lines in
flight per core, DRAM latency 100 ns, peak 16 GB/s (2 channels x 1000 MT/s x 8 B).
Random-access bandwidth = min(16 GB/s, 4 x 2 x 64 B / 100 ns = 5.12 GB/s).
A busy core draws 1 GHz x 8 FLOP x 1 pJ = 8 mW of dynamic power.
"""

import pytest

from embsim.errors import InputError
from embsim.hw_models import BatchLoad, DeviceLoad, STAGES

from hand_systems import S, build


HAND = {
    "family": "cpu_dram",
    "name": "hand_cpu",
    "params": {
        "sockets": S(2),
        "cpu": {"count": S(4), "clock": S("1 GHz"), "ops_per_cycle": {"fp32": S(8)}, "op_energy": {"fp32": S("1 pJ")},
                "mlp_dtype": "fp32", "mlp_efficiency": S(0.5), "lines_in_flight": S(2), "row_overhead": S("8 ns"),
                "sum_bandwidth": S("64 GB/s"), "add_overhead": S("0 s"), "bag_overhead": S("0 s"),
                "convert": {"fp16": S("0 s"), "int8": S("0 s"), "int4": S("0 s")}, "static_power": S("10 W")},
        "llc": {"capacity": S("8 MiB"), "granularity": S("64 B"), "latency": S("10 ns"), "concurrency": S(1000),
                "peak_bandwidth": S("100 GB/s"), "read_energy": S("1 pJ/bit"), "write_energy": S("1 pJ/bit"),
                "static_power": S("0 W"), "policy": "lru"},
        "dram": {"capacity": S("16 GB"), "granularity": S("64 B"), "latency": S("100 ns"), "concurrency": S(1000),
                 "peak_bandwidth": S("16 GB/s"), "read_energy": S("10 pJ/bit"), "write_energy": S("10 pJ/bit"),
                 "static_power": S("5 W")},
        "upi": {"bandwidth": S("10 GB/s"), "efficiency": S(1.0), "latency": S("0 s"), "energy": S("5 pJ/bit"),
                "static_power": S("0 W")},
        "host": {"batch_overhead": S("10 us"), "sample_overhead": S("1 us"), "response_per_sample": S("0.5 us"),
                 "static_power": S("20 W")},
    },
}
CORE_W = 1e9 * 8 * 1e-12          # dynamic power of one busy core


def hand(**changes):
    return build(HAND, **changes)


@pytest.fixture
def cpu():
    return hand()


def test_devices_slots_resources(cpu):
    assert cpu.devices == ["socket0", "socket1"]
    slots = cpu.slots()
    assert [(s.device, s.tier, s.capacity_B) for s in slots] == [("socket0", "dram", 16e9), ("socket1", "dram", 16e9)]
    assert cpu.resources() == {"host": 1, "socket0": 1, "socket0.upi": 1, "socket1": 1, "socket1.upi": 1}
    assert cpu.peak_bandwidth_Bps()["socket0.dram"] == pytest.approx(16e9)


def test_random_bandwidth_is_littles_law_capped_by_peak(cpu):
    assert cpu.random_bandwidth_Bps() == pytest.approx(4 * 2 * 64 / 100e-9)          # 5.12 GB/s
    assert cpu.random_bandwidth_Bps(cores=1) == pytest.approx(1.28e9)
    many = hand(cpu__count=64)
    assert many.random_bandwidth_Bps() == pytest.approx(16e9)                        # capped by the channels


def test_lookup_cost_hand_computed(cpu):
    slot = cpu.slot("socket0", "dram")
    # 128-B row: core (8 ns + 128 B / 64 GB/s) / 4 cores = 2.5 ns; 2 lines x 64 B / 5.12 GB/s = 25 ns
    c = cpu.lookup_cost(slot, 128)
    assert c.time_s == pytest.approx(2.5e-9 + 25e-9)
    # energy: the two lines from DRAM plus the core's 10 ns of gather work
    assert c.energy_J == pytest.approx(128 * 8 * 10e-12 + 10e-9 * CORE_W)
    # 48-B row starts at offsets 0, 16, 32, 48 of a line: touches 1, 1, 2, 2 lines -> 1.5 lines = 96 B
    c48 = cpu.lookup_cost(slot, 48)
    assert c48.time_s == pytest.approx((8e-9 + 48 / 64e9) / 4 + 96 / 5.12e9)
    assert c48.energy_J == pytest.approx(96 * 8 * 10e-12 + (8e-9 + 48 / 64e9) * CORE_W)


def test_llc_hit_is_cheaper_than_dram(cpu):
    hit = cpu.cache_hit_cost("socket0", "llc", 128)
    # LLC: min(100 GB/s, 4 x 2 x 64 / 10 ns = 51.2 GB/s)
    assert hit.time_s == pytest.approx(2.5e-9 + 128 / 51.2e9)
    assert hit.time_s < cpu.lookup_cost(cpu.slot("socket0", "dram"), 128).time_s
    assert hit.energy_J == pytest.approx(128 * 8 * 1e-12 + 10e-9 * CORE_W)


def test_compute_cost(cpu):
    c = cpu.compute_cost("socket1", 1e6)
    assert c.time_s == pytest.approx(2e6 / (4 * 1e9 * 8 * 0.5))
    assert c.energy_J == pytest.approx(2e6 * 1e-12)


def test_batch_cost_embedding_time_equals_lookup_costs(cpu):
    work = [dict(table="a", tier="dram", row_bytes=128, lookups=1000),
            dict(table="b", tier="dram", row_bytes=48, lookups=300, cache_hits={"llc": 200})]
    load = BatchLoad(64, {"socket0": DeviceLoad(table_work=work, tt_macs=5e4, pooled_bytes_out=64 * 2 * 512)},
                     dense_macs=2e6)
    bc = cpu.batch_cost(load)
    slot = cpu.slot("socket0", "dram")
    expect = (1000 * cpu.lookup_cost(slot, 128).time_s + 300 * cpu.lookup_cost(slot, 48).time_s
              + 200 * cpu.cache_hit_cost("socket0", "llc", 48).time_s + cpu.compute_cost("socket0", 5e4).time_s)
    emb = {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}
    assert emb["socket0"] == pytest.approx(expect, rel=1e-12)
    assert emb["socket1"] == 0.0
    assert bc.bytes["socket0.dram"] == pytest.approx(1000 * 128 + 300 * 96)
    assert bc.bytes["socket0.llc"] == pytest.approx(200 * 96)
    # energy of the lookups is the lookup costs' energy
    e = cpu.energy_J(bc.actions, 0.0)["dynamic"]
    assert e[("socket0.dram", "read_B")] + e[("socket0.llc", "read_B")] + e[("socket0.cpu", "busy_s")] == \
        pytest.approx(1000 * cpu.lookup_cost(slot, 128).energy_J + 300 * cpu.lookup_cost(slot, 48).energy_J
                      + 200 * cpu.cache_hit_cost("socket0", "llc", 48).energy_J)
    # host, dense, transfer and response by hand
    by = {(w.stage, w.resource): w.time_s for w in bc.work}
    assert by[("host", "host")] == pytest.approx(10e-6 + 64 * 1e-6)
    assert by[("response", "host")] == pytest.approx(64 * 0.5e-6)
    assert by[("dense", "socket0")] == pytest.approx(cpu.compute_cost("socket0", 1e6).time_s)
    # socket0 sends half of its pooled vectors over UPI; socket1 sends nothing but receives that half
    half = 64 * 2 * 512 / 2
    assert by[("transfer", "socket0.upi")] == pytest.approx(half / 10e9)
    assert by[("transfer", "socket1.upi")] == pytest.approx(half / 10e9)
    assert {w.stage for w in bc.work} <= set(STAGES)


def test_batch_cost_charges_each_shard_its_dtype_and_pooling_as_lookup_cost_does():
    """The simulator's table_work names each shard's dtype and pooling; the batch pays what the planner's
    lookup_cost(slot, row_bytes, dtype, pooling) says, and those terms are really there."""
    cpu = hand(cpu__add_overhead="3 ns", cpu__bag_overhead="40 ns", cpu__convert__fp16="1.5 ns")
    work = [dict(table="a", tier="dram", row_bytes=128, lookups=1000, dtype="fp16", pooling=1.0),
            dict(table="b", tier="dram", row_bytes=256, lookups=800, dtype="fp32", pooling=20.0)]
    bc = cpu.batch_cost(BatchLoad(40, {"socket0": DeviceLoad(table_work=work)}, dense_macs=0))
    slot = cpu.slot("socket0", "dram")
    a, b = cpu.lookup_cost(slot, 128, "fp16", 1.0), cpu.lookup_cost(slot, 256, "fp32", 20.0)
    emb = {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}
    assert emb["socket0"] == pytest.approx(1000 * a.time_s + 800 * b.time_s, rel=1e-12)
    # per core and lookup: fp16 widens 64 values; a bag of 20 adds 19 rows and sets up once
    assert a.time_s - cpu.lookup_cost(slot, 128, "fp32", 1.0).time_s == pytest.approx(64 * 1.5e-9 / 4)
    assert b.time_s - cpu.lookup_cost(slot, 256, "fp32", 1.0).time_s == pytest.approx((19 / 20 * 3e-9 + 40e-9 / 20) / 4)


def test_without_table_work_uses_mean_row_bytes(cpu):
    load = BatchLoad(8, {"socket1": DeviceLoad(lookups={"dram": 500}, bytes={"dram": 500 * 256.0})}, dense_macs=0)
    bc = cpu.batch_cost(load)
    emb = {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}
    assert emb["socket1"] == pytest.approx(500 * cpu.lookup_cost(cpu.slot("socket1", "dram"), 256).time_s)


def test_more_channels_or_lines_in_flight_never_slower(cpu):
    slot = cpu.slot("socket0", "dram")
    base = cpu.lookup_cost(slot, 512).time_s
    assert hand(cpu__lines_in_flight=8).lookup_cost(slot, 512).time_s < base
    assert hand(dram__peak_bandwidth="32 GB/s").lookup_cost(slot, 512).time_s == base   # latency-bound here
    capped = hand(cpu__count=64)
    assert hand(cpu__count=64, dram__peak_bandwidth="32 GB/s").lookup_cost(slot, 512).time_s < \
        capped.lookup_cost(slot, 512).time_s


def test_single_socket_has_no_transfer():
    one = hand(sockets=1)
    bc = one.batch_cost(BatchLoad(8, {"socket0": DeviceLoad(lookups={"dram": 10}, bytes={"dram": 640.0},
                                                            pooled_bytes_out=1e4)}, dense_macs=10))
    assert not [w for w in bc.work if w.stage == "transfer"]
    assert "upi" not in one.peak_bandwidth_Bps()


def test_bad_loads_are_errors(cpu):
    with pytest.raises(ValueError, match="unknown devices"):
        cpu.batch_cost(BatchLoad(1, {"socket9": DeviceLoad()}, 0))
    with pytest.raises(ValueError, match="tier 'hbm'"):
        cpu.batch_cost(BatchLoad(1, {"socket0": DeviceLoad(lookups={"hbm": 1}, bytes={"hbm": 64.0})}, 0))
    with pytest.raises(ValueError, match="cache level"):
        cpu.batch_cost(BatchLoad(1, {"socket0": DeviceLoad(table_work=[dict(tier="dram", row_bytes=64, lookups=1,
                                                                              cache_hits={"l2": 1})])}, 0))


def test_table_larger_than_socket_dram_is_refused(cpu):
    with pytest.raises(InputError, match=r"socket0\.dram holds 16 GB, but the placement puts 20 GB there \(tables: big\)"):
        cpu.check_fits({("socket0", "dram"): 20e9}, tables={("socket0", "dram"): ["big"]})
    cpu.check_fits({("socket0", "dram"): 15e9, ("socket1", "dram"): 16e9})


def test_cache_levels_are_the_llcs(cpu):
    assert [(c["device"], c["level"], c["capacity_B"], c["above_tier"]) for c in cpu.cache_levels()] == \
        [("socket0", "llc", 8 * 2**20, "dram"), ("socket1", "llc", 8 * 2**20, "dram")]
