"""FPGA fabric split into memory-centric cores (row gathers) and compute-centric cores (TT, MLP).

Physics: ``compute_share`` of the user LUTs and DSP slices goes to the
compute-centric cores, the rest to memory-centric cores:

    memory cores   = floor((1 - share) x luts / luts_per_memory_core)
    gather rate    = memory cores x memory_core_beat x clock      (bytes/s)
    MACs per cycle = floor(share x dsps / dsps_per_mac)
    MAC rate       = MACs per cycle x clock

A row gather takes ``ceil(row / beat)`` beats, one per cycle, spread over
all memory cores.  Energy: ``mac_energy`` per multiply-add, ``gather_energy``
per byte through a memory core (read, add into the bag), ``static_power``
(the whole device's idle draw when the device's flash and DRAM list 0 W).
At full load both halves run at once: static + gather rate x gather_energy +
MAC rate x mac_energy.
"""
import math
from typing import Any, ClassVar

from ..params import param
from .base import LoadPower, Part, PartParams


class FpgaParams(PartParams, LoadPower):
    clock: param("frequency")
    luts: param("count")                           # LUTs available to user kernels
    dsps: param("count")
    luts_per_memory_core: param("count")
    memory_core_beat: param("bytes")               # bytes a memory core moves per cycle
    dsps_per_mac: param("count")
    compute_share: param("count", hi=0.999)        # design choice: share of LUTs/DSPs for compute cores
    mac_energy: param("energy")
    gather_energy: param("energy_per_byte")


class FpgaFabric(Part):
    kind = "fpga"
    Schema: ClassVar[Any] = FpgaParams

    @property
    def memory_cores(self) -> int:
        p = self.p
        return math.floor((1 - p.compute_share.value) * p.luts.value / p.luts_per_memory_core.value + 1e-9)

    @property
    def macs_per_cycle(self) -> int:
        p = self.p
        return math.floor(p.compute_share.value * p.dsps.value / p.dsps_per_mac.value + 1e-9)

    def gather_rate_Bps(self) -> float:
        return self.memory_cores * self.p.memory_core_beat.value * self.p.clock.value

    def mac_rate(self) -> float:
        return self.macs_per_cycle * self.p.clock.value

    def beats_B(self, row_bytes: float) -> float:
        """Bytes a memory core moves for one row: whole beats."""
        b = self.p.memory_core_beat.value
        return math.ceil(row_bytes / b - 1e-9) * b

    def gather_s(self, row_bytes: float) -> float:
        """Memory-core time of one row, amortised over all memory cores."""
        return self.beats_B(row_bytes) / self.p.memory_core_beat.value / (self.memory_cores * self.p.clock.value)

    def mac_time_s(self, macs: float) -> float:
        return macs / self.mac_rate()

    def energy_per_action_J(self) -> dict:
        return {"mac": self.p.mac_energy.value, "op_B": self.p.gather_energy.value}

    def busy_power_W(self) -> dict:
        e = self.energy_per_action_J()
        return {"all": self.static_power_W + self.mac_rate() * e["mac"] + self.gather_rate_Bps() * e["op_B"]}
