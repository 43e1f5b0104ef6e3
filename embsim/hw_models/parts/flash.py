"""NAND flash behind an SSD controller: channels of dies, pages, sectors, an IOPS limit.

Physics of a random read of a row of ``r`` bytes:

* the die senses whole pages into its register: ``ceil(r / page)`` pages,
  each ``read_latency`` (tR); ``channels x dies_per_channel`` dies sense in
  parallel, so the dies serve ``dies / (pages x tR)`` reads per second;
* the channel bus moves the read unit, the row rounded up to whole
  ``sector`` bytes (4 KiB: NAND can shift out part of a page register):
  ``channels x channel_rate / transfer`` reads per second;
* the controller serves at most ``max_read_iops`` commands per second.

A read at full concurrency costs the largest of the three (amortised);
``random_bandwidth_Bps`` is the same in bytes of sectors: Little's law with
the dies as the requests in flight and tR as the latency, capped by the
channels' peak and by the IOPS.  One read with nothing queued waits
``pages x tR + transfer / channel_rate``.

Energy: ``page_read_energy`` per page sensed, ``channel_energy`` per bit on
the channel bus, ``static_power`` (0 when the device's idle draw is counted
in another part, with a source saying so).
"""
import math
from typing import Any, ClassVar, Optional

from ..params import param, whole_units
from .base import LoadPower, Part, PartParams


class FlashParams(PartParams, LoadPower):
    capacity: param("bytes")
    channels: param("count", integer=True)
    dies_per_channel: param("count", integer=True)
    page: param("bytes")
    read_latency: param("time")                    # tR: sense one page into the die's register
    channel_rate: param("bandwidth")               # per channel bus
    sector: param("bytes")                         # read unit moved over the channel and beyond
    max_read_iops: param("count")                  # controller limit, reads per second
    page_read_energy: param("energy")
    channel_energy: param("energy_per_bit")


class NandFlash(Part):
    kind = "flash"
    Schema: ClassVar[Any] = FlashParams

    @property
    def capacity_B(self) -> float:
        return self.p.capacity.value

    @property
    def granularity_B(self) -> int:
        return int(self.p.sector.value)

    @property
    def dies(self) -> int:
        return int(self.p.channels.value * self.p.dies_per_channel.value)

    @property
    def peak_Bps(self) -> float:
        """Channel buses, all at once: no read stream moves more."""
        return self.p.channels.value * self.p.channel_rate.value

    def pages_per_read(self, row_bytes: float) -> int:
        """Pages sensed for one row (rows are packed so they do not straddle a page)."""
        return math.ceil(row_bytes / self.p.page.value - 1e-9)

    def transfer_B(self, row_bytes: float) -> float:
        """Bytes one row read moves over the channel and beyond: the row in whole sectors."""
        return whole_units(row_bytes, self.p.sector.value)

    def read_time_s(self, row_bytes: float) -> float:
        """One row read at full concurrency: the slowest of dies, channels and controller."""
        die_s = self.pages_per_read(row_bytes) * self.p.read_latency.value / self.dies
        chan_s = self.transfer_B(row_bytes) / self.peak_Bps
        return max(die_s, chan_s, 1.0 / self.p.max_read_iops.value)

    def read_latency_s(self, row_bytes: float) -> float:
        """One read with nothing queued: sense the pages, shift the sectors out over one channel."""
        return (self.pages_per_read(row_bytes) * self.p.read_latency.value
                + self.transfer_B(row_bytes) / self.p.channel_rate.value)

    def random_bandwidth_Bps(self) -> float:
        """Sector reads: min(dies x sector / tR, channel peak, IOPS x sector)."""
        s = self.p.sector.value
        return min(self.dies * s / self.p.read_latency.value, self.peak_Bps, self.p.max_read_iops.value * s)

    def pages_per_s(self, transfer_B: Optional[float] = None) -> float:
        """Page reads per second: min(dies / tR, channel peak / transfer) (transfer: a whole page by default)."""
        t = self.p.page.value if transfer_B is None else transfer_B
        return min(self.dies / self.p.read_latency.value, self.peak_Bps / t)

    def energy_per_action_J(self) -> dict:
        return {"page_read": self.p.page_read_energy.value, "channel_B": 8 * self.p.channel_energy.value}

    def busy_power_W(self) -> dict:
        """Every die sensing and the channels carrying the sectors it reads, at once."""
        e = self.energy_per_action_J()
        reads = min(self.dies / self.p.read_latency.value, self.p.max_read_iops.value,
                    self.peak_Bps / self.p.sector.value)
        return {"read": self.static_power_W + reads * (e["page_read"] + self.p.sector.value * e["channel_B"])}
