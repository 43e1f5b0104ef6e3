"""screc_csd: flash page physics, tiers, p2p ablation, the FPGA resource split, TT cost and energy."""
import functools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from embsim import config
from embsim.errors import InputError
from embsim.hw_models import BatchLoad, DeviceLoad
from embsim.hw_models.families.screc_csd import tt_macs, tt_params
from embsim.hw_models.loader import PRESET_DIR, load_system_data, system_from_dict

PRESET = "screc_4x_smartssd"


RAW = load_system_data(PRESET_DIR / f"{PRESET}.yaml")     # parsed once (part presets expanded)


@functools.lru_cache(maxsize=None)
def system(**overrides):
    """The preset with dotted overrides (``csd__flash__channels=16``), checked as load_system checks them."""
    data = config.apply_overrides(RAW, {f"params.{k.replace('__', '.')}": v for k, v in overrides.items()},
                                  source=PRESET)
    return system_from_dict(data, source=f"{PRESET}.yaml")


@pytest.fixture(scope="module")
def csd():
    return system()


def cost(s, tier, row_bytes, device="csd0"):
    return s.lookup_cost(s.slot(device, tier), row_bytes)


def work(tier, rows, row_bytes, lookups, table="t"):
    return dict(table=table, tier=tier, strategy=None, rows=rows, row_bytes=row_bytes, lookups=lookups,
                unique_rows=None)


# ------------------------------------------------------------------ layout ---
def test_devices_and_slots(csd):
    assert csd.devices == ["host", "csd0", "csd1", "csd2", "csd3"]
    ranks = {(s.device, s.tier): s.rank for s in csd.slots()}
    for k in range(4):
        assert (ranks[(f"csd{k}", "sram")], ranks[(f"csd{k}", "dram")], ranks[(f"csd{k}", "flash")]) == (0, 1, 2)
    assert ranks[("host", "dram")] == 0
    cap = {s.key: s.capacity_B for s in csd.slots()}
    assert cap["csd0.sram"] < cap["csd0.dram"] < cap["csd0.flash"]
    assert cap["csd0.flash"] == 3.84e12 and cap["csd0.dram"] == 4e9
    assert csd.graph.has_edge("csd0.flash", "csd0.p2p") and csd.graph.has_edge("csd0.p2p", "csd0.dram")


# ------------------------------------------------------------------- flash ---
def test_a_128_byte_row_costs_a_whole_page(csd):
    page = 16 * 2**10
    dl = DeviceLoad(table_work=[work("flash", 10**6, 128, 1000)])
    bc = csd.batch_cost(BatchLoad(1, {"csd0": dl}, 0.0))
    assert bc.actions[("csd0.flash", "page_read")] == 1000          # one page sensed per lookup
    assert bc.bytes["csd0.flash"] == 1000 * page                     # the whole page, not 128 B
    assert bc.bytes["csd0.flash_channels"] == 1000 * 4096            # a whole sector over the channel
    # a row of 128 B costs the same time as a row of a full sector: reads come in whole pages/sectors
    assert cost(csd, "flash", 128).time_s == cost(csd, "flash", 4096).time_s
    assert cost(csd, "flash", 128).energy_J > csd.energy_per_action_J()[("csd0.flash", "page_read")]


def test_flash_throughput_hand_computed(csd):
    # 8 channels x 8 dies / 75 us = 853,333 pages/s; channel bus 8 x 800 MB/s / 16 KiB = 48,828 pages/s per
    # ... = 390,625 pages/s for whole pages; for 4 KiB transfers the bus allows 1,562,500/s
    assert csd.flash_pages_per_s() == pytest.approx(8 * 800e6 / 16384)
    assert csd.flash_pages_per_s(4096) == pytest.approx(64 / 75e-6)
    # a lookup is further bounded by the controller's 745,764 IOPS (UG1382) and the 3.94 GB/s P2P link
    assert csd.flash_lookups_per_s(128) == pytest.approx(745764)
    s = system(csd__flash__max_read_iops=10**8)
    assert s.flash_lookups_per_s(128) == pytest.approx(64 / 75e-6)      # without it the dies bind
    s = system(csd__flash__max_read_iops=10**8, csd__flash__dies_per_channel=16)
    assert s.flash_lookups_per_s(128) == pytest.approx(3.94e9 / 4096)   # with twice the dies, the P2P link


@settings(max_examples=40, deadline=None)
@given(ch=st.integers(1, 32), dies=st.integers(1, 16), tr=st.sampled_from(["25 us", "50 us", "75 us", "106 us"]),
       rate=st.sampled_from(["200 MB/s", "800 MB/s", "1.6 GB/s"]), row=st.sampled_from([64, 128, 4096, 20000]))
def test_flash_throughput_is_bounded_by_channels_dies_and_tR(ch, dies, tr, rate, row):
    s = system(csd__flash__channels=ch, csd__flash__dies_per_channel=dies, csd__flash__read_latency=tr,
               csd__flash__channel_rate=rate, csd__flash__max_read_iops=10**9)
    fl = s.p.csd.flash
    pages = s.flash_pages_per_s()
    assert pages <= ch * dies / fl.read_latency.value * (1 + 1e-12)
    assert pages <= ch * fl.channel_rate.value / fl.page.value * (1 + 1e-12)
    assert pages == pytest.approx(min(ch * dies / fl.read_latency.value, ch * fl.channel_rate.value / fl.page.value))
    per_row = s.flash_lookups_per_s(row)
    assert per_row * s.flash.pages_per_read(row) <= ch * dies / fl.read_latency.value * (1 + 1e-9)
    assert per_row * s.flash.transfer_B(row) <= ch * fl.channel_rate.value * (1 + 1e-9)
    # more channels, more dies, a faster bus or a shorter tR is never slower
    for more in (dict(csd__flash__channels=ch + 1), dict(csd__flash__dies_per_channel=dies + 1),
                 dict(csd__flash__channel_rate="3.2 GB/s"), dict(csd__flash__read_latency="20 us")):
        faster = system(**{**dict(csd__flash__channels=ch, csd__flash__dies_per_channel=dies,
                                  csd__flash__read_latency=tr, csd__flash__channel_rate=rate,
                                  csd__flash__max_read_iops=10**9), **more})
        assert cost(faster, "flash", row).time_s <= cost(s, "flash", row).time_s


def test_littles_law_for_flash_reads(csd):
    """A read takes at least tR; to keep every die busy at the die-bound rate, channels x dies reads must be
    in flight (L = lambda x W), and a lone read never beats its own latency."""
    fl = csd.p.csd.flash
    dies = fl.channels.value * fl.dies_per_channel.value
    die_bound = system(csd__flash__max_read_iops=10**8)          # the dies, not the controller, bind here
    for row in (64, 128, 4096):
        lat = die_bound.flash_read_latency_s(row)
        assert lat >= fl.read_latency.value
        assert die_bound.flash_lookups_per_s(row) == pytest.approx(dies / fl.read_latency.value)
        assert die_bound.flash_reads_in_flight(row) >= dies
        assert cost(die_bound, "flash", row).time_s <= lat        # amortised cost below one read's latency
    assert system(csd__p2p=False).flash_read_latency_s(128) > csd.flash_read_latency_s(128)


@pytest.mark.parametrize("row", [32, 64, 128, 256, 512, 1024])
def test_sram_faster_than_dram_faster_than_flash(csd, row):
    t = [cost(csd, tier, row).time_s for tier in ("sram", "dram", "flash")]
    assert t[0] < t[1] < t[2]
    e = [cost(csd, tier, row).energy_J for tier in ("sram", "dram", "flash")]
    assert e[0] < e[1] < e[2]


# --------------------------------------------------------------- p2p ablation ---
@pytest.mark.parametrize("row", [64, 128, 4096, 16384])
def test_p2p_off_is_never_faster_and_costs_more_energy(row):
    on, off = system(), system(csd__p2p=False)
    assert on.p2p and not off.p2p
    assert cost(off, "flash", row).time_s >= cost(on, "flash", row).time_s
    assert cost(off, "flash", row).energy_J > cost(on, "flash", row).energy_J
    # with a host port slower than the internal link, the detour through the host is strictly slower
    slow_off = system(csd__p2p=False, csd__links__pcie__bandwidth="1 GB/s", csd__flash__max_read_iops=10**8)
    slow_on = system(csd__links__pcie__bandwidth="1 GB/s", csd__flash__max_read_iops=10**8)
    assert cost(slow_off, "flash", row).time_s > cost(slow_on, "flash", row).time_s
    # tiers that never touch flash do not care
    for tier in ("sram", "dram"):
        assert cost(off, tier, row) == cost(on, tier, row)


def test_p2p_off_puts_flash_reads_on_the_host_port_twice():
    off = system(csd__p2p=False, csd__dense_on="host")    # MLP on the host: the ports carry only lookups
    dl = DeviceLoad(table_work=[work("flash", 10**6, 128, 1000)], pooled_bytes_out=8192.0)
    bc = off.batch_cost(BatchLoad(64, {"csd1": dl}, 0.0))
    assert bc.bytes["csd1.pcie_up"] == 1000 * 4096 + 8192        # SSD -> host, and pooled vectors
    assert bc.bytes["csd1.pcie_down"] == 1000 * 4096 + 1000 * 8  # host -> FPGA, and the indices
    assert bc.bytes["host.dram"] == 2 * 1000 * 4096              # written, then read back
    emb = {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}
    assert emb["csd1.pcie_up"] <= emb["csd1"] and emb["csd1.pcie_down"] <= emb["csd1"]
    on = system(csd__dense_on="host").batch_cost(BatchLoad(64, {"csd1": dl}, 0.0))
    assert "host.dram" not in on.bytes and on.bytes["csd1.p2p"] == 1000 * 4096
    assert "csd1.pcie_up" not in {w.resource for w in on.work if w.stage == "embedding"}


# --------------------------------------------------------- FPGA resource split ---
def test_compute_share_trades_gather_rate_against_mac_rate():
    shares = [0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9]
    systems = [system(csd__fpga__compute_share=x) for x in shares]
    gather = [s.gather_rate_Bps() for s in systems]
    macs = [s.mac_rate() for s in systems]
    assert all(a >= b for a, b in zip(gather, gather[1:])) and gather[0] > gather[-1]
    assert all(a <= b for a, b in zip(macs, macs[1:])) and macs[0] < macs[-1]
    sram = [cost(s, "sram", 512).time_s for s in systems]
    tt = [s.compute_cost("csd0", 1e6).time_s for s in systems]
    assert all(a <= b for a, b in zip(sram, sram[1:]))       # fewer memory cores: slower gathers
    assert all(a >= b for a, b in zip(tt, tt[1:]))           # more DSPs: faster TT reconstruction
    # hand-computed at 0.5: 150K LUTs / 25K = 6 memory cores x 64 B x 300 MHz; 984 DSPs / 3 = 328 MACs x 300 MHz
    s = system(csd__fpga__compute_share=0.5)
    assert s.memory_cores == 6 and s.gather_rate_Bps() == pytest.approx(6 * 64 * 300e6)
    assert s.mac_rate() == pytest.approx(328 * 300e6)


def test_a_split_that_starves_one_kind_of_core_is_refused():
    with pytest.raises(InputError, match="compute_share.*memory-centric"):
        system(csd__fpga__compute_share=0.95)
    with pytest.raises(InputError, match="compute_share"):
        system(csd__fpga__compute_share=1.0)


@pytest.mark.parametrize("share", [0.2, 0.5, 0.8])
def test_the_mlp_runs_data_parallel_on_the_compute_cores(share):
    s = system(csd__fpga__compute_share=share)
    loads = {f"csd{k}": DeviceLoad(table_work=[work("sram", 1000, 128, 100)], pooled_bytes_out=32768.0)
             for k in range(4)}
    bc = s.batch_cost(BatchLoad(256, loads, 4e8))
    dense = {w.resource: w.time_s for w in bc.work if w.stage == "dense"}
    scatter = 4 * 32768.0 / 4 / (3.94e9 * 0.85)              # a quarter of all pooled vectors, at the measured DMA rate
    for k in range(4):
        assert dense[f"csd{k}.compute"] == pytest.approx(scatter + 1e8 / s.mac_rate())   # compute-centric cores
        assert dense[f"csd{k}.pcie_down"] == pytest.approx(scatter)
    assert sum(v for (part, a), v in bc.actions.items() if a == "mac") == pytest.approx(4e8)   # MACs conserved
    host = system(csd__fpga__compute_share=share, csd__dense_on="host").batch_cost(BatchLoad(256, loads, 4e8))
    assert [w.time_s for w in host.work if w.stage == "dense" and w.resource == "host"] == [pytest.approx(4e8 / s.host_mac_rate())]
    assert bc.actions[("csd0.fpga", "mac")] == 1e8 and ("host.cpu", "op_fp32") in host.actions


# ---------------------------------------------------------------- tensor train ---
@pytest.mark.parametrize("r,d1,d2,d3", [(1, 2, 3, 4), (4, 4, 4, 8), (8, 5, 2, 3), (16, 4, 8, 4)])
def test_tt_row_reconstruction_cost(r, d1, d2, d3, rng):
    """Rebuild one TT row with two matrix products, counting MACs, and check the formula and the result."""
    g1 = rng.standard_normal((d1, r))            # slices of the three cores for the row's index digits
    g2 = rng.standard_normal((r, d2, r))
    g3 = rng.standard_normal((r, d3))
    step1 = g1 @ g2.reshape(r, d2 * r)           # (d1 x r) @ (r x d2 r): d1 * r * d2 r MACs
    macs = d1 * r * (d2 * r)
    row = step1.reshape(d1 * d2, r) @ g3         # (d1 d2 x r) @ (r x d3): d1 d2 * r * d3 MACs
    macs += d1 * d2 * r * d3
    assert tt_macs(r, d1, d2, d3) == macs == r * d1 * d2 * (r + d3)
    assert tt_params(r, d1, d2, d3) == g1.size + g2.size + g3.size
    np.testing.assert_allclose(row.reshape(-1), np.einsum("ia,ajb,bk->ijk", g1, g2, g3).reshape(-1), rtol=1e-10)


def test_compute_cost_runs_on_the_compute_cores(csd):
    m = tt_macs(16, 4, 8, 4) * 1000
    c = csd.compute_cost("csd2", m)
    assert c.time_s == pytest.approx(m / csd.mac_rate())
    assert c.energy_J == pytest.approx(m * 5e-12)           # dynamic only: static power is charged per part
    assert csd.compute_cost("csd2", 2 * m).time_s == pytest.approx(2 * c.time_s)


# ------------------------------------------------------------ batch bookkeeping ---
def _random_load(s, rng, device):
    tiers = ("sram", "dram", "flash") if device != "host" else ("dram",)
    tw = [work(tiers[i % len(tiers)], 10**5, int(rng.choice([64, 128, 512, 5000])), int(rng.integers(0, 3000)),
               table=f"t{i}") for i in range(6)]
    return DeviceLoad(table_work=tw, tt_macs=float(rng.integers(0, 10**7)) if device != "host" else 0.0,
                      pooled_bytes_out=float(rng.integers(0, 10**6)))


@pytest.mark.parametrize("p2p", [True, False])
def test_embedding_time_is_the_sum_of_lookup_costs(p2p, rng):
    s = system(csd__p2p=p2p)
    loads = {d: _random_load(s, rng, d) for d in s.devices}
    bc = s.batch_cost(BatchLoad(256, loads, 5e7))
    emb = {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}
    for d, dl in loads.items():
        want = sum(w["lookups"] * cost(s, w["tier"], w["row_bytes"], device=d).time_s for w in dl.table_work)
        want += s.compute_cost(d, dl.tt_macs).time_s if dl.tt_macs else 0.0
        assert s.device_embedding_work(d, dl)[0] == pytest.approx(want, rel=1e-12)     # the planner's sum
        # the engine's items (gather engine, TT engine, flash dies, flash channels) overlap: the slowest
        # of them is at most the sum, and together they do at least its work
        mine = [t for r, t in emb.items() if r == d or (r.startswith(d + ".") and "pcie" not in r and r != "host.dram")]
        assert max(mine) <= want * (1 + 1e-12) <= sum(mine) * (1 + 1e-12) + 1e-18
    assert {w.resource for w in bc.work} <= set(s.resources())
    assert {w.stage for w in bc.work} == {"host", "embedding", "transfer", "dense", "response"}


@pytest.mark.parametrize("p2p", [True, False])
def test_no_achieved_bandwidth_above_peak(p2p, rng):
    s = system(csd__p2p=p2p)
    peak = s.peak_bandwidth_Bps()
    for _ in range(5):
        loads = {d: _random_load(s, rng, d) for d in s.devices}
        bc = s.batch_cost(BatchLoad(256, loads, 0.0))
        busy = {}
        for w in bc.work:
            busy[w.resource] = busy.get(w.resource, 0.0) + w.time_s
        makespan = max(w.time_s for w in bc.work if w.stage == "embedding")
        stage = {}      # per device: its embedding stage (its gather, TT and flash items overlap)
        for w in bc.work:
            if w.stage == "embedding" and "pcie" not in w.resource:
                dev = w.resource.split(".")[0]
                stage[dev] = max(stage.get(dev, 0.0), w.time_s)
        for key, nbytes in bc.bytes.items():
            device = key.split(".")[0]
            # a port over its own busy time; a device's memory over the device's stage; host DRAM (which the
            # p2p-off bounce shares) over the embedding stage's makespan
            t = busy[key] if key in busy else (makespan if key == "host.dram" else stage[device])
            assert nbytes / t <= peak[key] * (1 + 1e-9), key


def test_energy_is_actions_times_energy_plus_static_times_time(csd, rng):
    loads = {d: _random_load(csd, rng, d) for d in csd.devices}
    bc = csd.batch_cost(BatchLoad(256, loads, 5e7))
    table = csd.energy_per_action_J()
    elapsed = 1e-3
    e = csd.energy_J(bc.actions, elapsed)
    # static power once per part: host CPU 100 W, its DDR5 32 W, the chassis 150 W, each SmartSSD 18 W
    assert sum(csd.static_power_W().values()) == pytest.approx(100.0 + 32.0 + 150.0 + 4 * 18.0)
    assert e["total_J"] == pytest.approx(sum(n * table[k] for k, n in bc.actions.items())
                                         + elapsed * (100.0 + 32.0 + 150.0 + 4 * 18.0))
    # a lookup's Cost is its dynamic energy only
    dl = DeviceLoad(table_work=[work("flash", 10**6, 128, 500)])
    one = csd.batch_cost(BatchLoad(1, {"csd3": dl}, 0.0))
    dyn = sum(n * table[k] for k, n in one.actions.items() if k != ("csd3.pcie", "transfer_B"))  # not the indices
    c = cost(csd, "flash", 128, device="csd3")
    assert 500 * c.energy_J == pytest.approx(dyn)


def test_saturated_flash_reads_stay_within_the_device_power_budget(csd):
    """Dynamic power at the flash lookup rate plus idle power must fit the 25 W the SmartSSD may draw."""
    for row in (64, 128, 4096):
        c = cost(csd, "flash", row)
        idle = sum(p.static_power_W for n, p in csd.parts.items() if n.startswith("csd0."))
        power = idle + c.energy_J / c.time_s   # idle + dynamic, per second of saturated lookups
        assert idle == 18.0 and idle < power <= csd.p.csd.power_limit.value


def test_time_and_energy_scale_linearly_with_lookups():
    csd = system(csd__dense_on="host")      # no per-batch score traffic: everything scales with lookups
    for tier in ("sram", "dram", "flash"):
        a = csd.batch_cost(BatchLoad(1, {"csd0": DeviceLoad(table_work=[work(tier, 10**5, 256, 700)])}, 0.0))
        b = csd.batch_cost(BatchLoad(1, {"csd0": DeviceLoad(table_work=[work(tier, 10**5, 256, 2100)])}, 0.0))
        ta = [w.time_s for w in a.work if w.stage == "embedding"][0]
        tb = [w.time_s for w in b.work if w.stage == "embedding"][0]
        assert tb == pytest.approx(3 * ta)
        assert csd.energy_J(b.actions, 0)["total_J"] == pytest.approx(3 * csd.energy_J(a.actions, 0)["total_J"])


def test_unknown_devices_and_tiers_are_clear_errors(csd):
    with pytest.raises(InputError, match="no device 'csd4'"):
        csd.batch_cost(BatchLoad(1, {"csd4": DeviceLoad()}, 0.0))
    with pytest.raises(InputError, match="no tier 'hbm'"):
        csd.batch_cost(BatchLoad(1, {"csd0": DeviceLoad(table_work=[work("hbm", 10, 64, 1)])}, 0.0))
    with pytest.raises(InputError, match="only tier 'dram'"):
        csd.lookup_cost(type(csd.slot("host", "dram"))("host", "flash", 1.0, 0, granularity_B=4096), 64)


# ----------------------------------------------------------------- preset ---
def _leaves(d):
    if isinstance(d, dict) and "source" in d:
        return 1
    return sum(_leaves(v) for v in d.values()) if isinstance(d, dict) else 0


def test_preset_lists_a_source_for_every_number(csd):
    rows = csd.describe()
    raw = load_system_data(PRESET_DIR / f"{PRESET}.yaml")
    numbers = [r for r in rows if r[3] not in ("flag", "choice")]
    assert len(numbers) == _leaves(raw["params"])
    for part, param, _value, _kind, source in rows:
        assert source.strip(), (part, param)
    # the NAND internals are not published for the SmartSSD: the preset must say they are assumptions
    flash = {r[1]: r[4] for r in rows if r[0] == "csdN.flash"}
    for param in ("channels", "dies_per_channel", "page", "read_latency", "channel_rate"):
        assert "assumption" in flash[param], param
    assert "assumption" in [r[4] for r in rows if r[1] == "page_read_energy"][0]
    assert all(w >= 0 for w in csd.static_power_W().values())


def test_a_missing_figure_is_an_error():
    data = load_system_data(PRESET_DIR / f"{PRESET}.yaml")
    flash = data["params"]["csd"]["flash"]
    del flash["preset"], flash["page_read_energy"]              # written out, one figure missing
    with pytest.raises(InputError, match="csd.flash.page_read_energy: missing required field"):
        system_from_dict(data, source="bad.yaml")


def test_tables_in_host_dram_switch_removes_the_host_slot():
    from embsim.hw_models.loader import load_system as _load
    on = _load("screc_4x_smartssd")
    off = _load("screc_4x_smartssd", overrides={"params.host.tables_in_host_dram": False})
    assert ("host", "dram") in {(s.device, s.tier) for s in on.slots()}
    assert all(s.device.startswith("csd") for s in off.slots())
    assert len(off.slots()) == len(on.slots()) - 1
