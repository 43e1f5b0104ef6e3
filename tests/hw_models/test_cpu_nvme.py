"""cpu_nvme: a cpu_dram server plus local NVMe SSDs read through the host's I/O stack."""
import pytest

from embsim.hw_models import BatchLoad, DeviceLoad
from embsim.hw_models.loader import load_system

PRESET = "cpu_2s_spr_nvme"


@pytest.fixture(scope="module")
def nvme():
    return load_system(PRESET)


def over(**kw):
    return load_system(PRESET, {f"params.{k.replace('__', '.')}": v for k, v in kw.items()})


def t(s, row=256, tier="nvme"):
    return s.lookup_cost(s.slot("socket0", tier), row).time_s


def test_it_is_the_cpu_dram_server_plus_drives(nvme):
    base = load_system("cpu_2s_spr_ddr5")
    assert nvme.devices == base.devices
    for row in (64, 256, 512):
        assert nvme.lookup_cost(nvme.slot("socket1", "dram"), row) == base.lookup_cost(base.slot("socket1", "dram"), row)
    slot = nvme.slot("socket0", "nvme")
    assert slot.rank == 1 and slot.granularity_B == 4096 and slot.capacity_B == pytest.approx(4 * 3.84e12)
    assert t(nvme, tier="dram") < t(nvme)


def test_each_bound_binds_where_it_should():
    # the preset: 4 drives x 900K IOPS -> 1 / 3.6M per 4 KiB read
    assert t(over()) == pytest.approx(1 / (4 * 900e3))
    # without the IOPS limit the dies bind: 64 dies / 60 us per drive
    free = dict(nvme__drive__max_read_iops=1e9)
    assert t(over(**free)) == pytest.approx(60e-6 / 64 / 4)
    # a shallow queue: Little's law, (tR + 4 KiB over one channel + software latency) / (QD x drives)
    lat = 60e-6 + 4096 / 1.2e9 + 5e-6
    assert t(over(**free, nvme__io__queue_depth=4)) == pytest.approx(lat / (4 * 4))
    # an expensive stack on few cores: the cores bind
    cores = over(**free, nvme__io__cpu_per_read="20 us", cpu__count=4)
    assert t(cores) == pytest.approx((20e-6 + 5e-9 + 256 / 128e9) / 4)


def test_rows_move_whole_4k_blocks_and_bigger_rows_cost_more(nvme):
    assert t(nvme, 64) == t(nvme, 4096) < t(nvme, 4097)
    bc = nvme.batch_cost(BatchLoad(8, {"socket0": DeviceLoad(table_work=[dict(tier="nvme", row_bytes=256, lookups=1000)])}, 0))
    assert bc.bytes["socket0.nvme"] == 1000 * 4096
    assert sum(v for (p, a), v in bc.actions.items() if a == "page_read") == pytest.approx(1000)
    emb = {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}
    assert emb["socket0"] == pytest.approx(1000 * t(nvme), rel=1e-12)


def test_more_drives_or_a_deeper_queue_is_never_slower():
    for kw in ({}, dict(nvme__drive__max_read_iops=1e9), dict(nvme__io__queue_depth=2)):
        base = t(over(**kw))
        assert t(over(**{**kw, "nvme__drives": 8})) <= base
        assert t(over(**{**kw, "nvme__io__queue_depth": 256})) <= base


def test_lookup_energy_is_the_sum_of_its_actions(nvme):
    c = nvme.lookup_cost(nvme.slot("socket0", "nvme"), 256)
    e = nvme.energy_per_action_J()
    # one 4 KiB read: a page sensed, 4 KiB on the channel and the port, written into DRAM, the row read back,
    # and the core's 1 us of I/O plus its gather loop
    want = (6e-6 + 4096 * e[("socket0.nvme0", "channel_B")] + 4096 * e[("socket0.nvme0.pcie", "transfer_B")]
            + 4096 * e[("socket0.dram", "write_B")] + 256 * e[("socket0.dram", "read_B")]
            + (1e-6 + 5e-9 + 256 / 128e9) * e[("socket0.cpu", "busy_s")])
    assert c.energy_J == pytest.approx(want)
    assert c.energy_J > nvme.lookup_cost(nvme.slot("socket0", "dram"), 256).energy_J


def test_static_power_counts_every_drive_once(nvme):
    static = nvme.static_power_W()
    assert sum(w for p, w in static.items() if ".nvme" in p) == pytest.approx(2 * 4 * 3.5)
