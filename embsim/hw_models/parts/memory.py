"""Memory tier: DDR DRAM, HBM, FPGA-attached DRAM, on-chip SRAM (L1, UB, block RAM).

Physics
-------
A tier serves reads in whole units of ``granularity`` bytes (a 64 B cache
line, a 32 B GPU sector, a 64 B DDR4 burst, a 32 B DMA block).  A row of
``r`` bytes packed back to back touches ``expected_lines(r, granularity)``
units on average, so a 96 B row costs two 64 B lines, a 48 B row 1.5.

Random reads are bound by the requests in flight, not by the streaming
peak.  With ``n`` requests outstanding, each taking ``latency`` (the loaded
random-read latency), Little's law gives

    random bandwidth = min(peak_bandwidth, min(n, concurrency) x granularity / latency)

``concurrency`` is what the tier itself can keep in flight (banks of all
channels and ranks; for HBM and FPGA DRAM, what the requesters of this
design reach); a requester passes its own ``n`` (cores x misses per core),
and the lesser wins.  No figure ever exceeds ``peak_bandwidth``.

Energy: ``read_energy`` / ``write_energy`` per bit moved (whole units are
moved, so a 48 B row read from a 64 B-line tier is charged 1.5 lines), plus
``static_power`` x time (refresh, I/O termination, idle).  At full load (reads
at the peak) the tier draws ``static + peak x 8 x read_energy``, which must
lie in the source's ``load_power_min .. load_power_max``.
"""
from typing import Any, ClassVar, Optional

from ..params import expected_lines, param
from .base import LoadPower, Part, PartParams


class MemoryParams(PartParams, LoadPower):
    capacity: param("bytes")
    granularity: param("bytes", integer=True)      # access unit: line, sector, burst, DMA block
    latency: param("time")                         # loaded random-read latency
    concurrency: param("count")                    # requests the tier can have in flight
    peak_bandwidth: param("bandwidth")             # streaming peak (all channels / stacks)
    read_energy: param("energy_per_bit")
    write_energy: param("energy_per_bit")


class MemoryTier(Part):
    """One memory tier.  See the module docstring for the physics."""

    kind = "memory"
    Schema: ClassVar[Any] = MemoryParams

    @property
    def capacity_B(self) -> float:
        return self.p.capacity.value

    @property
    def granularity_B(self) -> int:
        return int(self.p.granularity.value)

    @property
    def peak_Bps(self) -> float:
        return self.p.peak_bandwidth.value

    def access_B(self, row_bytes: float) -> float:
        """Bytes moved to read one row: whole units, ``expected_lines`` of them on average."""
        return expected_lines(row_bytes, self.granularity_B) * self.granularity_B

    def random_bandwidth_Bps(self, in_flight: Optional[float] = None) -> float:
        """Little's law: min(peak, min(in_flight, concurrency) x granularity / latency)."""
        n = self.p.concurrency.value if in_flight is None else min(in_flight, self.p.concurrency.value)
        return min(self.peak_Bps, n * self.granularity_B / self.p.latency.value)

    def read_time_s(self, row_bytes: float, in_flight: Optional[float] = None) -> float:
        """Time of one row read at full concurrency (amortised): its units over the random bandwidth."""
        return self.access_B(row_bytes) / self.random_bandwidth_Bps(in_flight)

    def energy_per_action_J(self) -> dict:
        return {"read_B": 8 * self.p.read_energy.value, "write_B": 8 * self.p.write_energy.value}

    def full_load_rates(self) -> dict:
        return {"read_B": self.peak_Bps}
