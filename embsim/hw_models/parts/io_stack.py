"""Host I/O stack: how a CPU reads table rows from local NVMe drives (io_uring, libaio, SPDK).

Physics of one row read of ``r`` bytes from a drive behind this stack:

* the host asks for whole ``read_size`` blocks (4 KiB: the page cache and
  O_DIRECT both read the row's logical blocks), ``ceil(r / read_size)`` of
  them;
* every read costs a core ``cpu_per_read`` (submission, completion, the
  syscall or ring doorbell, interrupt or poll), spread over the cores that
  issue reads;
* each drive has at most ``queue_depth`` reads outstanding, each taking the
  drive's own read latency plus ``software_latency`` (the kernel block layer,
  completion delivery), so by Little's law a drive serves at most
  ``queue_depth / (drive latency + software latency)`` reads per second;
  its IOPS limit and dies bound it too (``flash.py``).

The stack has no energy of its own: its CPU time is charged on the cores
(``busy_s``) and its bytes on the link and the DRAM the blocks land in.
"""
import math
from typing import Any, ClassVar

from ..params import param
from .base import Part, PartParams


class IoStackParams(PartParams):
    read_size: param("bytes")                     # the block a read asks the drive for
    queue_depth: param("count")                   # outstanding reads per drive
    cpu_per_read: param("time")                   # core time to submit and complete one read
    software_latency: param("time", lo_inclusive=True)   # block layer and completion, per read


class IoStack(Part):
    kind = "io_stack"
    Schema: ClassVar[Any] = IoStackParams

    @property
    def read_size_B(self) -> int:
        return int(self.p.read_size.value)

    def reads_per_row(self, row_bytes: float) -> int:
        return math.ceil(row_bytes / self.p.read_size.value - 1e-9)

    def reads_per_s(self, drive_latency_s: float) -> float:
        """Little's law for one drive: queue depth over the time a read is outstanding."""
        return self.p.queue_depth.value / (drive_latency_s + self.p.software_latency.value)
