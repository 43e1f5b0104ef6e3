"""The narrow interfaces the later stages see a machine through.

As simpy asks a resource for two hooks, each stage asks a system for only
what it needs; a family is any object that offers them.  The protocols are
``typing.Protocol``s, checked with ``isinstance`` (``runtime_checkable``),
so a caller asks "can this system be planned core by core?" by type, never
by probing attribute names.  The loader checks every family it builds
offers ``Placement`` and ``BatchService``.

- ``Placement``: what the sharding planner needs, the places a shard can live
  (each with its capacity and access granularity) and the cost of a lookup
  or of compute there.  A lookup is of a row of ``row_bytes`` stored in
  ``dtype``, in a bag of mean ``pooling`` rows (None: a long bag); a family
  whose costs depend on neither (the accelerators' DMA gathers) ignores them.
- ``BatchService``: what the simulator needs, the resources (servers), the
  service time of one batch on each of them, and the energy of what it did.
- ``CostsBatches``: the cost of a batch alone (the planner's all-to-all probe),
  of which ``BatchService`` is the full form.
- ``ShardOutput``: the time a device's shards take to write their pooled vectors
  (the planner prices it as the family's ``batch_cost`` charges it).
- ``CoalescedReads``: the cost of a lookup whose unit another read of the batch
  already brought (the coalescing planner).
- ``PerCoreStrategies``: what an SoC with per-core lookup strategies adds, so
  that the core-mapping planner can assign (table, strategy) pairs to cores.
- ``VariableService``: resource name -> ``ServiceVariability`` (distribution,
  coefficient of variation, floor, source) for the simulator's service times.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Placement(Protocol):
    """Slots and linear costs: all the sharding MIP knows of the hardware."""

    name: str

    @property
    def devices(self) -> list: ...

    def slots(self) -> list: ...

    def lookup_cost(self, slot, row_bytes: float, dtype: str = "fp32", pooling: float | None = None): ...

    def compute_cost(self, device: str, macs: float): ...


@runtime_checkable
class CoalescedReads(Protocol):
    """A lookup whose unit (line, sector, page) a read of the same batch already brought costs its
    per-row work only (``System`` offers it, 0 by default): what the coalescing planner prices."""

    def coalesced_lookup_cost(self, slot, row_bytes: float, dtype: str = "fp32",
                              pooling: float | None = None): ...


@runtime_checkable
class ShardOutput(Protocol):
    """Seconds ``device``'s shards take to write ``pooled_bytes`` of pooled output (linear in the bytes);
    a family without it charges no such write (``cost_model/shard_output.py``)."""

    def shard_output_time_s(self, device: str, pooled_bytes: float) -> float: ...


@runtime_checkable
class CostsBatches(Protocol):
    """The cost of one batch, stage by stage (what the all-to-all probe of the planner asks)."""

    def batch_cost(self, load): ...


@runtime_checkable
class BatchService(CostsBatches, Protocol):
    """Resources, the cost of one batch, and its energy: all the engine knows of the hardware."""

    def resources(self) -> dict: ...

    def peak_bandwidth_Bps(self) -> dict: ...

    def energy_J(self, actions: dict, elapsed_s: float) -> dict: ...


@runtime_checkable
class PerCoreStrategies(Protocol):
    """An SoC whose cores each pick a lookup strategy (GM, L1, GM-UB, L1-UB)."""

    STRATEGIES: tuple

    @property
    def n_cores(self) -> int: ...

    @property
    def l1_capacity_B(self) -> float: ...

    def aligned_row_B(self, row_bytes: float) -> float: ...

    def strategy_feasible(self, strategy: str, rows: int, row_bytes: float) -> bool: ...

    def strategy_cost(self, strategy: str, rows: int, row_bytes: float, lookups: float,
                      unique_rows: float | None = None): ...


@runtime_checkable
class VariableService(Protocol):
    """A system whose resources serve a batch in a varying time (``hw_models.variability``)."""

    def service_variability(self) -> dict: ...
