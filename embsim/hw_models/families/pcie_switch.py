"""A PCIe switch: devices behind one uplink to the host share that uplink's bandwidth.

In a real server several devices often sit behind one PCIe switch whose
uplink to the root complex is no wider than one device's port (a DGX A100
puts two GPUs behind each of four Gen4 x16 switches; a storage shelf puts
several SSDs behind one uplink).  Each device keeps its own port; every byte
it sends to or receives from the host also crosses its switch's uplink in
that direction.  In the simulator an uplink is one simpy resource per
direction (``switch{j}.up``, ``switch{j}.down``): a transfer holds the
device's port and the uplink at once (two items of the same stage), so the
devices behind one switch queue for it and together move at most its
bandwidth.  Devices are assigned to switches in order, ``devices_per_uplink``
to each.
"""
from typing import Optional

from ...config import Schema
from ..params import param
from ..parts import Link, LinkParams
from ..system import StageWork, add

DIRECTIONS = ("up", "down")


class SwitchParams(Schema):
    devices_per_uplink: param("count", integer=True)
    uplink: LinkParams


class PcieSwitches:
    """Which switch each device sits behind, the uplink part, and the work a port transfer adds."""

    def __init__(self, system, devices: list, p: Optional[SwitchParams]):
        self.of: dict = {}
        self.uplinks: dict = {}
        if p is None:
            return
        per = int(p.devices_per_uplink.value)
        for i, d in enumerate(devices):
            name = f"switch{i // per}"
            self.of[d] = name
            if name not in self.uplinks:
                self.uplinks[name] = system.add_part(Link(name, p.uplink))

    def resources(self) -> dict:
        return {f"{s}.{d}": 1 for s in self.uplinks for d in DIRECTIONS}

    def peaks(self) -> dict:
        return {f"{s}.{d}": link.peak_Bps for s, link in self.uplinks.items() for d in DIRECTIONS}

    def transfer(self, work: list, stage: str, device: str, direction: str, nbytes: float, port_s: float,
                 moved: dict) -> None:
        """A port transfer of ``nbytes`` taking ``port_s`` on the device's port; behind a switch, the
        same bytes on the uplink in the same stage (``direction``: "up" to the host, "down" from it)."""
        work.append(StageWork(stage, f"{device}.pcie_{direction}", port_s))
        switch = self.of.get(device)
        if switch is None or nbytes <= 0:
            return
        work.append(StageWork(stage, f"{switch}.{direction}", self.uplinks[switch].transfer_time_s(nbytes)))
        add(moved, f"{switch}.{direction}", nbytes)

    def transfer_one(self, work: list, stage: str, device: str, nbytes: float, moved: dict) -> None:
        """The uplink share of a transfer whose port item the caller adds itself (a GPU's ``gpuN.pcie``
        carries both directions; host-bound reads and index copies both cross the uplink "down" to the GPU)."""
        switch = self.of.get(device)
        if switch is None or nbytes <= 0:
            return
        work.append(StageWork(stage, f"{switch}.down", self.uplinks[switch].transfer_time_s(nbytes)))
        add(moved, f"{switch}.down", nbytes)
