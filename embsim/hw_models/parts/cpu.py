"""CPU cores that gather embedding rows: a compute unit plus the costs of a software gather loop.

Physics of one row gather (an FBGEMM-style loop: load the index, compute the
address, load the row's lines, add them into the bag)::

    core time   = row_overhead + row_bytes / sum_bandwidth        (per core)
    memory time = lines x line / random_bandwidth(cores x lines_in_flight)

The cores work in parallel, so at full concurrency a socket pays
``core time / cores + memory time`` per row.  ``lines_in_flight`` is the
memory-level parallelism of one core (outstanding misses of a gather loop);
the memory tier's Little's-law bandwidth takes it (see ``memory.py``), so a
gather is bound by latency and misses in flight, never by the streaming peak.

Energy: the arithmetic of the MLP is charged per FLOP (``op_fp32``); the
gather loop (index loads, address arithmetic, the adds into the bag) is
charged per core-second busy (``busy_s``), see ``compute.py``.
"""
from typing import Any, ClassVar, Optional

from ..params import param
from .compute import ComputeParams, ComputeUnit
from .memory import MemoryTier


class CpuParams(ComputeParams):
    lines_in_flight: param("count")                # outstanding misses per core in a gather loop
    row_overhead: param("time")                    # core time per row besides the memory wait
    sum_bandwidth: param("bandwidth")              # bytes per second one core adds into bags from cache


class CpuCores(ComputeUnit):
    kind = "cpu"
    Schema: ClassVar[Any] = CpuParams

    def in_flight(self, cores: Optional[float] = None) -> float:
        """Lines the gathering cores keep outstanding (all cores by default)."""
        return (self.count if cores is None else cores) * self.p.lines_in_flight.value

    def core_time_s(self, row_bytes: float) -> float:
        """One core's own time for one row gather (index, address, add into the bag)."""
        return self.p.row_overhead.value + row_bytes / self.p.sum_bandwidth.value

    def gather_time_s(self, row_bytes: float, memory: MemoryTier, lookups: float = 1.0,
                      cores: Optional[float] = None) -> float:
        """Time for ``lookups`` row gathers from ``memory`` by ``cores`` cores (all by default)."""
        c = self.count if cores is None else cores
        return lookups * (self.core_time_s(row_bytes) / c + memory.read_time_s(row_bytes, self.in_flight(c)))
