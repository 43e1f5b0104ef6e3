"""CPU cores that gather embedding rows: a compute unit plus the costs of a software gather loop.

Physics of one bag of ``L`` rows of ``v`` values stored in ``dtype`` (an
embedding-bag loop: load the index, compute the address, load the row's
lines, widen its values to fp32, add them into the bag)::

    core time of the bag = L x (row_overhead + row_bytes / sum_bandwidth + v x convert[dtype])
                         + (L - 1) x add_overhead          (rows after the first are added, not copied)
                         + (L >= 2) x bag_overhead         (a bag of one row needs no reduction)
    memory time per row  = lines x line / random_bandwidth(cores x lines_in_flight)

so one lookup of a bag of mean pooling ``L`` costs ``core_time_s(row_bytes,
dtype, L)``: the per-row terms, ``(1 - 1/L)`` of the add and ``1/L`` of the
bag's reduction setup.  A caller that does not know the pooling passes
``None``, a long bag (``L`` -> infinity): every row is added, the setup is
amortised away (a mean pooling between 1 and 2 is read as bags of one or
two rows, ``L - 1`` of them with two).  fp32 rows need no conversion; ``convert`` prices every
other storage dtype (``workloads.model.DTYPE_BYTES``), per value, where
``v = row_bytes / bytes per value`` (an int8 row's scale and bias count as
a few more values, a bound on the widening work).

The cores work in parallel, so at full concurrency a socket pays
``core time / cores + memory time`` per row.  ``lines_in_flight`` is the
memory-level parallelism of one core (outstanding misses of a gather loop);
the memory tier's Little's-law bandwidth takes it (see ``memory.py``), so a
gather is bound by latency and misses in flight, never by the streaming peak.

``embsim calibrate`` measures every term on the host it runs on
(``hw_models/calibrate.py``) with numpy's gather and reduce as the kernel.

Energy: the arithmetic of the MLP is charged per FLOP (``op_fp32``); the
gather loop (index loads, address arithmetic, conversions, the adds into
the bag) is charged per core-second busy (``busy_s``), see ``compute.py``.
"""
from typing import Any, ClassVar, Optional

from ...config import Schema
from ...workloads.model import DTYPE_BYTES
from ..params import param
from .compute import ComputeParams, ComputeUnit
from .memory import MemoryTier


class ConvertTime(Schema):
    """Core time per value to widen a stored value to fp32 before the add, by storage dtype (fp32: none)."""

    fp16: param("time", lo_inclusive=True)
    int8: param("time", lo_inclusive=True)
    int4: param("time", lo_inclusive=True)


class CpuParams(ComputeParams):
    lines_in_flight: param("count")                # outstanding misses per core in a gather loop
    row_overhead: param("time")                    # core time per row: index, address, copy or loop step
    sum_bandwidth: param("bandwidth")              # bytes per second one core moves into bags from cache
    add_overhead: param("time", lo_inclusive=True)  # core time per row added into a bag (rows after the first)
    bag_overhead: param("time", lo_inclusive=True)  # core time per bag of two or more rows (the reduction's setup)
    convert: ConvertTime                           # core time per value widened to fp32, by storage dtype


class CpuCores(ComputeUnit):
    kind = "cpu"
    Schema: ClassVar[Any] = CpuParams

    def in_flight(self, cores: Optional[float] = None) -> float:
        """Lines the gathering cores keep outstanding (all cores by default)."""
        return (self.count if cores is None else cores) * self.p.lines_in_flight.value

    def convert_time_s(self, dtype: str) -> float:
        """Core time to widen one value stored in ``dtype`` to fp32 (0 for fp32)."""
        if dtype == "fp32":
            return 0.0
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"{self.name}: unknown storage dtype {dtype!r} (expected one of {', '.join(DTYPE_BYTES)})")
        return getattr(self.p.convert, dtype).value

    def core_time_s(self, row_bytes: float, dtype: str = "fp32", pooling: Optional[float] = None) -> float:
        """One core's own time per lookup of a ``row_bytes`` row in a bag of mean ``pooling`` rows
        (module doc; ``None``: a long bag)."""
        convert = self.convert_time_s(dtype)
        row = self.p.row_overhead.value + row_bytes / self.p.sum_bandwidth.value
        if convert:
            row += row_bytes / DTYPE_BYTES[dtype] * convert
        if pooling is None:
            return row + self.p.add_overhead.value
        if not pooling > 0:
            raise ValueError(f"{self.name}: pooling {pooling} (expected > 0 rows per bag)")
        # A mean below one row per bag (dlrm_datasets tables where most samples lack the
        # feature) is read as empty bags and one-row copies: no add, no reduce.  Assumption:
        # the mean alone cannot tell this from a few long bags among many empty ones, and
        # the one-row reading keeps the cost a lookup pays no lower than a copy's.
        pooling = max(1.0, pooling)
        multi = min(1.0, pooling - 1.0)      # share of bags with two rows or more (bags of 1 or 2 below L = 2)
        return row + (1.0 - 1.0 / pooling) * self.p.add_overhead.value + multi * self.p.bag_overhead.value / pooling

    def gather_time_s(self, row_bytes: float, memory: MemoryTier, lookups: float = 1.0,
                      cores: Optional[float] = None, dtype: str = "fp32", pooling: Optional[float] = None) -> float:
        """Time for ``lookups`` row gathers from ``memory`` by ``cores`` cores (all by default)."""
        c = self.count if cores is None else cores
        return lookups * (self.core_time_s(row_bytes, dtype, pooling) / c
                          + memory.read_time_s(row_bytes, self.in_flight(c)))
