"""cpu_nvme: a CPU-DRAM server whose tables may also live on local NVMe SSDs.

A composition: everything of ``cpu_dram`` (per socket CPU cores, LLC, DDR
DRAM; UPI; the host front end), plus per socket ``drives`` NVMe SSDs
(``socketN.nvmeK``, a ``flash`` part), each on its own PCIe port
(``socketN.nvmeK.pcie``), read through the host's I/O stack (``io``, an
``io_stack`` part: 4 KiB reads, queue depth, CPU time per read).

Slots per socket: ``dram`` (rank 0, 64 B lines) and ``nvme`` (rank 1, the
stack's 4 KiB read; capacity: all the socket's drives).  A table shard on
``nvme`` is striped over the socket's drives.

One row read from NVMe at full concurrency (amortised over D drives and C
cores; ``nvme_read.py``, shared with ``gpu_nvme``) costs the largest of

    drive:    the flash's die, channel and IOPS bound (parts/flash.py) / D
    queue:    (drive read latency + software latency) / (queue depth x D)
    link:     the blocks over one drive's PCIe port / D
    cores:    (cpu_per_read x reads + the gather loop's own time) / C
    memory:   the blocks written into DRAM and the row read back, at the
              DRAM's Little's-law bandwidth

(the reads are asynchronous, so the bounds overlap).  Energy: the flash's
page reads and channel bytes, the PCIe bytes, the DRAM writes and reads,
and the cores' busy time.  No page cache: every lookup reads the drive
(a DRAM-resident hot set is what the ``dram`` slot is for).
"""
from typing import Literal

from ...config import Schema
from ..params import param
from ..parts import FlashParams, IoStack, IoStackParams, Link, LinkParams, NandFlash
from ..system import Cost, Slot, register_family
from .cpu_dram import CpuDram, CpuDramParams
from .nvme_read import nvme_row_read


class NvmeParams(Schema):
    drives: param("count", integer=True)          # per socket
    drive: FlashParams
    link: LinkParams                              # each drive's own port
    io: IoStackParams


class CpuNvmeParams(CpuDramParams):
    nvme: NvmeParams


class CpuNvmeFile(Schema):
    family: Literal["cpu_nvme"]
    name: str
    description: str = ""
    params: CpuNvmeParams


@register_family("cpu_nvme")
class CpuNvme(CpuDram):
    """A CPU-DRAM server with local NVMe SSDs.  See the module docstring for the model."""

    Schema = CpuNvmeFile

    def __init__(self, name, params, source_file=None):
        super().__init__(name, params, source_file)
        n = self.p.nvme
        self.io = self.add_part(IoStack("io", n.io))
        self.drives = {d: [self.add_part(NandFlash(f"{d}.nvme{k}", n.drive)) for k in range(int(n.drives.value))]
                       for d in self.devices}
        self.ports = {d: [self.add_part(Link(f"{d}.nvme{k}.pcie", n.link)) for k in range(int(n.drives.value))]
                      for d in self.devices}

    def slots(self):
        return super().slots() + [Slot(d, "nvme", sum(f.capacity_B for f in self.drives[d]), 1,
                                       granularity_B=self.io.read_size_B) for d in self.devices]

    def peak_bandwidth_Bps(self):
        out = super().peak_bandwidth_Bps()
        for d in self.devices:
            out[f"{d}.nvme"] = sum(min(f.peak_Bps, port.peak_Bps) for f, port in zip(self.drives[d], self.ports[d]))
        return out

    def _nvme_read(self, device, row_bytes, lookups=1.0, dtype="fp32", pooling=None):
        """(time_s, actions) of ``lookups`` row reads from ``device``'s drives (see the module docstring)."""
        cpu, dram = self.cpu[device], self.dram[device]
        return nvme_row_read(self.drives[device], self.ports[device], self.io, cpu, dram,
                             dram.random_bandwidth_Bps(cpu.in_flight()), row_bytes, lookups,
                             core_s=cpu.core_time_s(row_bytes, dtype, pooling), read_B=dram.access_B(row_bytes))

    def _gather(self, device, level, row_bytes, lookups=1.0, dtype="fp32", pooling=None):
        if level == "nvme":
            self._check_devices([device])
            return self._nvme_read(device, row_bytes, lookups, dtype, pooling)
        return super()._gather(device, level, row_bytes, lookups, dtype, pooling)

    def _moved_B(self, device, level, row_bytes):
        if level == "nvme":
            return self.io.reads_per_row(row_bytes) * self.io.read_size_B
        return super()._moved_B(device, level, row_bytes)

    def lookup_cost(self, slot, row_bytes, dtype="fp32", pooling=None):
        if slot.tier != "nvme":
            return super().lookup_cost(slot, row_bytes, dtype, pooling)
        t, acts = self._gather(slot.device, "nvme", row_bytes, 1.0, dtype, pooling)
        return Cost(t, self.dynamic_J(acts))

    def derived_figures(self):
        d = self.devices[0]
        return super().derived_figures() + [
            ("nvme", "lookup_time_256B", self._nvme_read(d, 256)[0], "time",
             "max of drive, queue (Little), link, cores and memory bounds, one 256-B row, all drives"),
            ("nvme", "lookups_per_s_256B", 1.0 / self._nvme_read(d, 256)[0], "rate", "per socket"),
        ]
