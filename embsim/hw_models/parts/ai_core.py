"""Ascend-style AI cores: DMA engines and a vector unit, with four single-core lookup strategies.

Each of ``count`` cores has a private L1 buffer and a Unified Buffer (UB,
the scratchpad the vector unit works on), both memory tiers (``memory.py``),
DMA engines that move data between global memory (GM = HBM), L1 and UB in
``granularity`` blocks of the UB, and a vector unit (a compute unit: fp16
MACs for tensor-train reconstruction, ``vector_B_per_cycle`` for adds).

The four strategies (Ruggeri et al., ICCD 2025, arXiv:2507.01676; the cost
functions are this model's, built from the CANN platform figures).  ``a``
is the row rounded up to the DMA block, ``f`` the clock:

GM      row by row from GM, double buffered: a row costs
        ``dma_setup + max(a/rate, (latency + a/rate)/buffers)``, overlapped
        with the vector add that pools it (``ceil(a/vector_B)/f``).
L1      the same from a part preloaded in L1 (L1 -> UB rate, L1 latency);
        feasible only if the part fits L1.
GM-UB   stream the whole part from GM into UB in chunks (two chunk buffers
        sharing ``ub_table_share`` of UB); per chunk, scan the batch's index
        list and gather the rows in it with the vector unit.  Time =
        latency + max(DMA of the part + per-chunk setup, vector work).
        Feasible if one row fits a chunk buffer.
L1-UB   the same from L1 (the part must fit L1).

Per-core GM rate: ``min(gm_read_B_per_cycle x f, hbm peak / cores)``: costs
are amortised at full device concurrency, so no sum over cores exceeds the
HBM peak.  A part with zero lookups costs nothing.  Energy is dynamic only:
bytes read from GM or L1, bytes through UB, vector bytes and MACs, and
``busy_s`` core-seconds of DMA issue (``dma_setup`` per DMA).
"""
import math
from typing import Any, ClassVar, Optional

from ..params import param, whole_units
from .compute import ComputeParams, ComputeUnit
from .memory import MemoryTier

STRATEGIES = ("GM", "L1", "GM-UB", "L1-UB")


class AiCoreParams(ComputeParams):
    gm_read_B_per_cycle: param("count")            # ini ddr_rate
    l1_to_ub_B_per_cycle: param("count")           # ini l1_to_ub_rate
    ub_to_gm_B_per_cycle: param("count")           # ini ub_to_ddr_rate
    dma_setup: param("time")                       # scalar issue + descriptor per DMA instruction
    gm_buffers: param("count", lo=0.99)            # buffers in flight (2 = double buffering)
    ub_table_share: param("count", hi=1.0)         # share of UB holding table chunks
    vector_B_per_cycle: param("count")
    gather_B_per_cycle: param("count")
    index_bytes: param("bytes")
    index_scan_ops: param("count")                 # vector ops per index per chunk (compare, select)
    vector_op_energy: param("energy_per_byte")     # per byte through a vector add, compare or select


class AiCores(ComputeUnit):
    """The AI cores of one SoC, with their L1, UB and the HBM they read (``attach``)."""

    kind = "ai_core"
    Schema: ClassVar[Any] = AiCoreParams

    def attach(self, l1: MemoryTier, ub: MemoryTier, hbm: MemoryTier) -> "AiCores":
        self.l1, self.ub, self.hbm = l1, ub, hbm
        return self

    @property
    def clock_Hz(self) -> float:
        return self.p.clock.value

    @property
    def gm_rate_Bps(self) -> float:
        return min(self.p.gm_read_B_per_cycle.value * self.clock_Hz, self.hbm.peak_Bps / self.count)

    @property
    def l1_rate_Bps(self) -> float:
        return self.p.l1_to_ub_B_per_cycle.value * self.clock_Hz

    @property
    def chunk_B(self) -> float:
        """Bytes of one UB chunk buffer (the table share of UB over the buffers in flight)."""
        return self.ub.capacity_B * self.p.ub_table_share.value / self.p.gm_buffers.value

    def aligned_row_B(self, row_bytes: float) -> float:
        return whole_units(row_bytes, self.ub.granularity_B)

    def strategy_feasible(self, strategy: str, rows: int, row_bytes: float) -> bool:
        check_strategy(strategy)
        a = self.aligned_row_B(row_bytes)
        fits_l1 = rows * a <= self.l1.capacity_B
        fits_chunk = a <= self.chunk_B
        return {"GM": True, "L1": fits_l1, "GM-UB": fits_chunk, "L1-UB": fits_l1 and fits_chunk}[strategy]

    def strategy_work(self, strategy: str, rows: int, row_bytes: float, lookups: float,
                      unique_rows: Optional[float] = None, reads: Optional[float] = None) -> tuple:
        """(time_s, actions) of one table part on one core; actions keyed (hbm|l1|ub|vector, action).

        ``reads`` (GM and L1 only; default ``lookups``): the row DMAs left when the
        simulator coalesces lookups whose block a DMA of the same batch already
        brought; the vector unit still pools every lookup.
        """
        check_strategy(strategy)
        if rows < 0 or row_bytes <= 0 or lookups < 0 or (lookups > 0 and rows < 1):
            raise ValueError(f"need rows >= 1 (0 only without lookups), row_bytes > 0, lookups >= 0; "
                             f"got rows={rows}, row_bytes={row_bytes}, lookups={lookups}")
        if unique_rows is not None and not 0 <= unique_rows <= min(lookups, rows):
            raise ValueError(f"unique_rows {unique_rows} outside [0, min(lookups={lookups}, rows={rows})]")
        if not self.strategy_feasible(strategy, rows, row_bytes):
            return math.inf, {}
        if lookups == 0:
            return 0.0, {}
        p, f = self.p, self.clock_Hz
        a = self.aligned_row_B(row_bytes)
        src, rate, lat = (("hbm", self.gm_rate_Bps, self.hbm.p.latency.value) if strategy.startswith("GM")
                          else ("l1", self.l1_rate_Bps, self.l1.p.latency.value))
        add_s = math.ceil(a / p.vector_B_per_cycle.value) / f
        if strategy in ("GM", "L1"):
            copy_s = a / rate
            dma_s = p.dma_setup.value + max(copy_s, (lat + copy_s) / p.gm_buffers.value)
            r = lookups if reads is None else min(float(reads), lookups)
            return max(r * dma_s, lookups * add_s), {(src, "read_B"): r * a, ("ub", "read_B"): (r + lookups) * a,
                                                     ("vector", "op_B"): lookups * a,
                                                     ("vector", "busy_s"): r * p.dma_setup.value}
        rows_per_chunk = math.floor(self.chunk_B / a)
        chunks = math.ceil(rows / rows_per_chunk)
        stream_B = rows * a
        dma_s = stream_B / rate + chunks * p.dma_setup.value
        scan_B = chunks * lookups * p.index_bytes.value * p.index_scan_ops.value
        gather_s = lookups * (math.ceil(a / p.gather_B_per_cycle.value) / f + add_s)
        vec_s = scan_B / p.vector_B_per_cycle.value / f + gather_s
        ub_B = stream_B + chunks * lookups * p.index_bytes.value + 2 * lookups * a
        return lat + max(dma_s, vec_s), {(src, "read_B"): stream_B, ("ub", "read_B"): ub_B,
                                         ("vector", "op_B"): scan_B + 2 * lookups * a,
                                         ("vector", "busy_s"): chunks * p.dma_setup.value}

    def energy_per_action_J(self) -> dict:
        out = super().energy_per_action_J()
        out["op_B"] = self.p.vector_op_energy.value
        return out


def check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown lookup strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})")
