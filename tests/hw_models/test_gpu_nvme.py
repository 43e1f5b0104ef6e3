"""gpu_nvme: a multi_gpu node plus host NVMe SSDs behind host DDR (read into DDR, then by the GPU over PCIe)."""
import pytest

from embsim.hw_models import BatchLoad, DeviceLoad
from embsim.hw_models.loader import load_system

PRESET = "gpu_8x_a100_nvme"


@pytest.fixture(scope="module")
def node():
    return load_system(PRESET)


def over(**kw):
    return load_system(PRESET, {f"params.{k.replace('__', '.')}": v for k, v in kw.items()})


def cost(s, tier, row=256, dev="gpu0"):
    return s.lookup_cost(s.slot(dev, tier), row)


def test_it_is_the_gpu_node_plus_host_drives(node):
    base = load_system("gpu_8x_a100_80g")
    assert node.devices == base.devices
    for tier in ("hbm", "host_ddr"):
        for row in (64, 256, 1024):
            assert cost(node, tier, row) == cost(base, tier, row)
    slot = node.slot("gpu3", "nvme")
    assert (slot.rank, slot.pool, slot.granularity_B) == (2, "host.nvme", 4096)
    assert slot.capacity_B == pytest.approx(8 * 3.84e12)
    assert set(base.resources()) | {"host.nvme"} == set(node.resources())


@pytest.mark.parametrize("row", [64, 256, 1024, 8192])
def test_each_tier_costs_more_than_the_one_above_it(node, row):
    hbm, ddr, nvme = (cost(node, t, row) for t in ("hbm", "host_ddr", "nvme"))
    assert hbm.time_s < ddr.time_s < nvme.time_s
    assert hbm.energy_J < ddr.energy_J < nvme.energy_J


def test_the_drives_bind_and_more_of_them_are_never_slower(node):
    # 8 GPUs share 8 drives x 900K IOPS: one 4 KiB read per GPU costs 8 / 7.2M s
    assert cost(node, "nvme").time_s == pytest.approx(8 / (8 * 900e3))
    times = [cost(over(nvme__drives=d), "nvme").time_s for d in (1, 2, 8, 32, 128)]
    assert all(a >= b for a, b in zip(times, times[1:]))
    # with drives to spare the host DDR binds: 8 GPUs x (the 4 KiB block written + the 256-B row read) / 409.6 GB/s,
    # above the host cores (8 x 1 us / 128 cores) and the GPU's own UVM read of the row
    assert times[-1] == pytest.approx(8 * (4096 + 256) / 409.6e9)
    assert times[-1] > max(8 * 1e-6 / 128, cost(node, "host_ddr").time_s)


def test_nvme_lookup_energy_is_the_sum_of_its_actions(node):
    _, acts = node._row_work("gpu0", "nvme", 256)
    kinds = {(p.split(".")[0] if p.startswith("gpu") else p.rstrip("0123456789"), a) for p, a in acts}
    assert {("host.nvme", "page_read"), ("host.nvme", "channel_B"), ("host.ddr", "write_B"), ("host.ddr", "read_B"),
            ("host.cpu", "busy_s"), ("gpu0", "transfer_B")} <= kinds
    assert sum(v for (p, a), v in acts.items() if a == "page_read") == pytest.approx(1.0)    # one 16 KiB page per 4 KiB
    assert acts[("host.ddr", "write_B")] == 4096 and acts[("host.ddr", "read_B")] == 256
    assert cost(node, "nvme").energy_J == pytest.approx(node.dynamic_J(acts))


def test_a_batch_queues_the_host_side_on_the_drives_and_the_ddr_writes_on_host_ddr(node):
    rows = 1000.0
    load = BatchLoad(64, {d: DeviceLoad(table_work=[{"tier": "nvme", "row_bytes": 256, "lookups": rows}])
                          for d in ("gpu0", "gpu5")}, 0.0)
    bc = node.batch_cost(load)
    host = [w for w in bc.work if w.resource == "host.nvme"]
    assert len(host) == 1 and host[0].time_s == pytest.approx(2 * rows / (8 * 900e3))
    assert bc.bytes["host.nvme"] == 2 * rows * 4096
    assert bc.bytes["host.ddr"] == 2 * rows * (4096 + 256)          # blocks written, rows read by the GPUs
    assert bc.actions[("host.cpu", "busy_s")] == pytest.approx(2 * rows * 1e-6)
    ddr = sum(w.time_s for w in bc.work if w.resource == "host.ddr")
    assert ddr == pytest.approx(2 * rows * (4096 + 256) / 409.6e9)
