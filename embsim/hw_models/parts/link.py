"""Link: PCIe of a generation and width, NVLink/NVSwitch, UPI, an SSD-to-FPGA peer-to-peer path.

Physics: a transfer of ``B`` bytes in one direction takes

    latency + B / (bandwidth x efficiency)

``bandwidth`` is the per-direction peak (links are full duplex: up and down
are separate resources), ``efficiency`` the share of it that bulk transfers
reach (protocol headers, flow control; an all-to-all's measured bus
bandwidth over the peak), ``latency`` the fixed cost of one transfer (one hop
through a switch, one DMA).  Energy: ``energy`` per bit sent, plus
``static_power`` (0 with a source when the link's idle draw is counted in its
device's).
"""
from typing import Any, ClassVar

from ..params import param
from .base import Part, PartParams


class LinkParams(PartParams):
    bandwidth: param("bandwidth")                  # per direction
    efficiency: param("count", hi=1.0)             # share of the peak bulk transfers reach
    latency: param("time", lo_inclusive=True)      # per transfer
    energy: param("energy_per_bit")


class Link(Part):
    kind = "link"
    Schema: ClassVar[Any] = LinkParams

    @property
    def bandwidth_Bps(self) -> float:
        """Achieved per-direction bandwidth of bulk transfers (peak x efficiency)."""
        return self.p.bandwidth.value * self.p.efficiency.value

    @property
    def peak_Bps(self) -> float:
        return self.p.bandwidth.value

    def transfer_time_s(self, nbytes: float, transfers: int = 1) -> float:
        """``transfers`` transfers moving ``nbytes`` in all, in one direction (0 bytes cost nothing)."""
        if nbytes <= 0:
            return 0.0
        return transfers * self.p.latency.value + nbytes / self.bandwidth_Bps

    def energy_per_action_J(self) -> dict:
        return {"transfer_B": 8 * self.p.energy.value}

    def full_load_rates(self) -> dict:
        return {"transfer_B": 2 * self.peak_Bps}      # both directions at once
