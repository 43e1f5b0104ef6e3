"""The narrow interfaces the later stages see a machine through.

As simpy asks a resource for two hooks, each stage asks a system for only
what it needs; a family is any object that offers them.  The protocols are
``typing.Protocol``s, checked with ``isinstance`` (``runtime_checkable``),
so a caller asks "can this system be planned core by core?" by type, never
by probing attribute names.  The loader checks every family it builds
offers ``Placement`` and ``BatchService``.

- ``Placement``: what the sharding planner needs, the places a shard can live
  (each with its capacity and access granularity) and the cost of a lookup
  or of compute there.
- ``BatchService``: what the simulator needs, the resources (servers), the
  service time of one batch on each of them, and the energy of what it did.
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

    def lookup_cost(self, slot, row_bytes: float): ...

    def compute_cost(self, device: str, macs: float): ...


@runtime_checkable
class BatchService(Protocol):
    """Resources, the cost of one batch, and its energy: all the engine knows of the hardware."""

    def resources(self) -> dict: ...

    def batch_cost(self, load): ...

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

    def strategy_feasible(self, strategy: str, rows: int, row_bytes: float) -> bool: ...

    def strategy_cost(self, strategy: str, rows: int, row_bytes: float, lookups: float,
                      unique_rows: float | None = None): ...


@runtime_checkable
class VariableService(Protocol):
    """A system whose resources serve a batch in a varying time (``hw_models.variability``)."""

    def service_variability(self) -> dict: ...
