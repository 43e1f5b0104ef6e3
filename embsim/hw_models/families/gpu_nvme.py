"""gpu_nvme: a multi_gpu node whose tables may also live on the host's NVMe SSDs, behind host DDR.

A composition, as ``cpu_nvme`` composes NVMe onto ``cpu_dram``: everything of
``multi_gpu`` (HBM, host DDR over PCIe, the GPU fabric, any PCIe switches),
plus ``nvme.drives`` NVMe SSDs in the host (``host.nvmeK``, a ``flash`` part),
each on its own PCIe port to the host (``host.nvmeK.pcie``), read through the
host's I/O stack (``host.io``) by the host's cores (``host.cpu``, a compute
part: the stack's CPU time per read).

Slots per GPU: ``hbm`` (rank 0), ``host_ddr`` (rank 1) and ``nvme`` (rank 2,
the stack's 4 KiB read; capacity: all the drives).  All ``nvme`` slots name
the pool ``"host.nvme"``: one capacity for all GPUs, as ``host.ddr``.

A row on ``nvme`` is read by the host into host DDR (the 4 KiB blocks
written, ``nvme_read.py``: drive, queue, link, cores and memory bounds over
all drives and host cores), then the GPU reads it from host DDR over its
PCIe port exactly as a ``host_ddr`` row (UVM reads, its switch uplink).  The
planner assumes all GPUs read at once: a row costs the larger of N times the
host side and the ``host_ddr`` row.  The simulator queues the host side on
``host.nvme`` and the blocks' DDR writes on ``host.ddr`` beside the GPUs'
reads, so the GPUs share the drives and the DDR by queueing.  No page cache:
a lookup whose block another lookup of the batch already brought costs
nothing more (the batch's coalesced reads, as for every tier).
"""
from typing import Literal

from ...config import Schema
from ..params import param
from ..parts import (ComputeParams, ComputeUnit, FlashParams, IoStack, IoStackParams, Link, LinkParams,
                     NandFlash)
from ..system import Slot, StageWork, add, register_family
from .common import shard_rows
from .multi_gpu import MultiGpu, MultiGpuParams
from .nvme_read import nvme_row_read


class HostNvmeParams(Schema):
    drives: param("count", integer=True)          # in the host, shared by all GPUs
    drive: FlashParams
    link: LinkParams                              # each drive's own port
    io: IoStackParams
    cpu: ComputeParams                            # the host cores that run the I/O stack


class GpuNvmeParams(MultiGpuParams):
    nvme: HostNvmeParams


class GpuNvmeFile(Schema):
    family: Literal["gpu_nvme"]
    name: str
    description: str = ""
    params: GpuNvmeParams


@register_family("gpu_nvme")
class GpuNvme(MultiGpu):
    """A multi-GPU node with host NVMe SSDs behind host DDR.  See the module docstring for the model."""

    Schema = GpuNvmeFile
    NVME_POOL = "host.nvme"

    def __init__(self, name, params, source_file=None):
        super().__init__(name, params, source_file)
        n = self.p.nvme
        self.io = self.add_part(IoStack("host.io", n.io))
        self.host_cpu = self.add_part(ComputeUnit("host.cpu", n.cpu))
        self.drives = [self.add_part(NandFlash(f"host.nvme{k}", n.drive)) for k in range(int(n.drives.value))]
        self.ports = [self.add_part(Link(f"host.nvme{k}.pcie", n.link)) for k in range(int(n.drives.value))]

    def connections(self):
        return super().connections() + [(f"host.nvme{k}.pcie", self.HOST_POOL) for k in range(len(self.drives))]

    def slots(self):
        cap = sum(f.capacity_B for f in self.drives)
        return super().slots() + [Slot(d, "nvme", cap, 2, pool=self.NVME_POOL, granularity_B=self.io.read_size_B)
                                  for d in self.devices]

    def resources(self):
        return {**super().resources(), self.NVME_POOL: 1}

    def peak_bandwidth_Bps(self):
        return {**super().peak_bandwidth_Bps(),
                self.NVME_POOL: sum(min(f.peak_Bps, port.peak_Bps) for f, port in zip(self.drives, self.ports))}

    def _host_read(self, row_bytes, lookups=1.0, read_B=0.0):
        """(time_s, actions) of ``lookups`` rows read from the drives into host DDR (``read_B``: DDR read back, priced)."""
        return nvme_row_read(self.drives, self.ports, self.io, self.host_cpu, self.host_ddr, self.host_ddr.peak_Bps,
                             row_bytes, lookups, read_B=read_B)

    def _row_work(self, device, tier, row_bytes, port_only=False):
        """As multi_gpu's; ``nvme``: with ``port_only`` the GPU's part (a host_ddr row; the simulator adds the host
        side in batch_cost), else all GPUs at once: max(N x host side, host_ddr row), every action."""
        if tier != "nvme":
            return super()._row_work(device, tier, row_bytes, port_only)
        gpu_s, gpu_acts = super()._row_work(device, "host_ddr", row_bytes, port_only)
        if port_only:
            return gpu_s, gpu_acts
        host_s, acts = self._host_read(row_bytes, read_B=self._host_B(row_bytes))
        acts[(f"{device}.pcie", "transfer_B")] = gpu_acts[(f"{device}.pcie", "transfer_B")]
        return max(len(self.devices) * host_s, gpu_s), acts

    def batch_cost(self, load):
        """multi_gpu's batch, plus the host side of the nvme rows on ``host.nvme`` and their DDR writes on ``host.ddr``."""
        out = super().batch_cost(load)
        host_s, write_B = 0.0, 0.0
        for dev, dl in load.devices.items():
            for g in shard_rows(self, dev, dl):
                if g.tier != "nvme" or g.reads <= 0:
                    continue
                t, acts = self._host_read(g.row_bytes, g.reads)
                host_s += t
                write_B += acts[(self.HOST_POOL, "write_B")]
                for k, v in acts.items():
                    add(out.actions, k, v)
        if host_s:
            out.work.append(StageWork("embedding", self.NVME_POOL, host_s))
            out.work.append(StageWork("embedding", self.HOST_POOL, write_B / self.host_ddr.peak_Bps))
            add(out.bytes, self.NVME_POOL, write_B)
            add(out.bytes, self.HOST_POOL, write_B)
        return out

    def derived_figures(self):
        d = self.devices[0]
        t = self.lookup_cost(self.slot(d, "nvme"), 256).time_s
        return super().derived_figures() + [
            ("nvme", "lookup_time_256B", t, "time",
             "max(gpus x host side (drive, queue, link, cores, DDR bounds over all drives), host_ddr row), one 256-B row"),
            ("nvme", "lookups_per_s_256B", len(self.devices) / t, "rate", "all GPUs together"),
        ]
