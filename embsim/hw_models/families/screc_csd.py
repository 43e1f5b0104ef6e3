"""screc_csd: SCRec-style computational storage: a host plus K SmartSSD-like devices.

Parts: the host is the same CPU, DRAM and front end as a ``cpu_dram`` socket
(``host.cpu``, ``host.dram``, ``host``: the same part presets give the same
host costs).  Each device ``csd{k}`` (``smartssd.py``) is NAND flash, an FPGA
(memory-centric cores that gather and pool rows, compute-centric cores for
TT rows and MLP layers), its DDR4 and on-chip SRAM, behind one PCIe port, with
a peer-to-peer path from the SSD to the FPGA (``p2p``) that skips the host.

Slots (rank, granularity): ``csd{k}.sram`` (0, 64 B beat, hottest rows),
``csd{k}.dram`` (1, 64 B burst), ``csd{k}.flash`` (2, 4 KiB read, cold rows),
``host.dram`` (0, 64 B line; absent with ``host.tables_in_host_dram: false``,
SCRec's own placement).

A row gather at full device concurrency is bounded by the memory-centric
cores on every tier; DRAM rows by the DRAM's Little's-law bandwidth; flash
rows by the flash's dies, channels and IOPS (``parts/flash.py``), the link
and the FPGA-DRAM landing buffer.  With ``p2p: false`` (the ablation) the
sectors go SSD -> host DRAM -> FPGA, crossing the port both ways in the
embedding stage.  Host rows are CPU gathers, as in ``cpu_dram``.  No
deduplication; a device's embedding time is the sum over its tiers plus its
TT reconstruction, so the cost model and the simulator agree.

Stages: host (front end on ``host.frontend``; indices down each port),
embedding, transfer (pooled vectors up), dense (``dense_on: csd``, SCRec
arXiv:2504.00520: data parallel on the FPGAs; ``host``: the host cores),
response.  ``Cost.energy_J`` is dynamic only; static power is per part.

``csd.parallel: false`` is the device-parallelism ablation: the tables stay on
the K devices (capacity and placement unchanged), but every device item of a
batch runs on one set of device resources (``csd``, ``csd.compute`` ...), so the
devices serve their work one after another (``serialise_devices``).
"""
from typing import Literal, Optional

from ...config import Schema
from ...errors import InputError
from ..params import param
from ..parts import (CpuCores, CpuParams, FlashParams, FpgaParams, FrontEndParams, HostFrontEnd,
                     LinkParams, MemoryParams, MemoryTier)
from ..system import BatchCost, Cost, Slot, StageWork, System, add, register_family
from .common import cpu_core_only, cpu_row_gather
from .pcie_switch import PcieSwitches, SwitchParams
from .smartssd import (SERIAL_DEVICE, TIERS, build_device, check_fpga_split, dense_on_devices,
                       device_embedding_items, device_peaks, flash_read_latency_s, host_dense, host_dram_work,
                       port_work, serialise_devices, tier_work, tt_macs, tt_params)

class Host(Schema):
    cpu: CpuParams
    dram: MemoryParams
    frontend: FrontEndParams
    tables_in_host_dram: bool = True   # false: SCRec's own design (tables on the devices only)


class Links(Schema):
    pcie: LinkParams                   # device port to the host, per direction
    p2p: LinkParams                    # SSD -> FPGA inside the device
    switch: Optional[SwitchParams] = None   # devices behind shared PCIe switch uplinks (none: a port each)


class Csd(Schema):
    count: param("count", integer=True)
    power_limit: param("power")        # the most a device may draw (checked by the tests, not enforced)
    p2p: bool
    dense_on: Literal["csd", "host"]
    parallel: bool = True              # false (the ablation): the devices' hardware serves one device at a time
    sram_table_share: param("count", hi=1.0)   # share of on-chip RAM that holds table rows
    flash: FlashParams
    dram: MemoryParams
    sram: MemoryParams
    fpga: FpgaParams
    links: Links


class ScrecParams(Schema):
    host: Host
    csd: Csd


class ScrecFile(Schema):
    description: str = ""
    family: Literal["screc_csd"]
    name: str
    source: str
    params: ScrecParams


@register_family("screc_csd")
class ScrecCSD(System):
    """Host + K SmartSSD-like devices with statistical sharding over SRAM, DRAM and flash."""

    Schema = ScrecFile
    TIERS = TIERS
    tt_macs = staticmethod(tt_macs)
    tt_params = staticmethod(tt_params)

    def __init__(self, name, params, source_file=None):
        super().__init__(name, params, source_file)
        p = self.p = params.params
        self.cpu = self.add_part(CpuCores("host.cpu", p.host.cpu))
        self.host_dram = self.add_part(MemoryTier("host.dram", p.host.dram))
        self.frontend = self.add_part(HostFrontEnd("host", p.host.frontend))
        self.dev = {d: build_device(self, d, p.csd) for d in self.devices[1:]}
        self.switches = PcieSwitches(self, list(self.dev), p.csd.links.switch)
        check_fpga_split(self.dev["csd0"]["fpga"], f"{source_file or name}: params.csd.fpga.compute_share")
        self._devs = frozenset(self.devices)

    # -- figures ---------------------------------------------------------
    n_devices = property(lambda self: int(self.p.csd.count.value))
    p2p = property(lambda self: self.p.csd.p2p, doc="flash reaches the FPGA peer to peer (false: the ablation)")

    @property
    def devices(self):
        return ["host"] + [f"csd{k}" for k in range(int(self.params.params.csd.count.value))]

    fpga = property(lambda self: self.dev["csd0"]["fpga"], doc="csd0's FPGA (every device has the same)")
    flash = property(lambda self: self.dev["csd0"]["flash"], doc="csd0's flash (every device has the same)")
    memory_cores = property(lambda self: self.fpga.memory_cores)

    gather_rate_Bps = property(lambda self: self.fpga.gather_rate_Bps)      # bound methods of csd0's parts
    mac_rate = property(lambda self: self.fpga.mac_rate)
    flash_pages_per_s = property(lambda self: self.flash.pages_per_s)

    def host_mac_rate(self):
        return self.cpu.mlp_ops_per_s() / 2.0

    def flash_lookups_per_s(self, row_bytes):
        """Rows per second one device serves from flash at full concurrency."""
        return 1.0 / tier_work(self, "csd0", "flash", row_bytes)[0]

    def flash_read_latency_s(self, row_bytes):
        """One flash row read with nothing queued: sense, shift out, cross the link (twice without p2p)."""
        return flash_read_latency_s(self, "csd0", row_bytes)

    def flash_reads_in_flight(self, row_bytes):
        """Reads a device keeps outstanding to reach ``flash_lookups_per_s`` (Little's law)."""
        return self.flash_lookups_per_s(row_bytes) * self.flash_read_latency_s(row_bytes)

    def connections(self):
        out = []
        for d in self.devices[1:]:
            out += [("host", f"{d}.pcie"), (f"{d}.flash", f"{d}.p2p"), (f"{d}.p2p", f"{d}.dram")]
        return out

    # -- Placement ---------------------------------------------------------
    def slots(self):
        out = []
        if self.p.host.tables_in_host_dram:
            out.append(Slot("host", "dram", self.host_dram.capacity_B, 0, granularity_B=self.host_dram.granularity_B))
        sram_B = self.p.csd.sram.capacity.value * self.p.csd.sram_table_share.value
        for d, parts in self.dev.items():
            out += [Slot(d, "sram", sram_B, 0, granularity_B=parts["sram"].granularity_B),
                    Slot(d, "dram", parts["dram"].capacity_B, 1, granularity_B=parts["dram"].granularity_B),
                    Slot(d, "flash", parts["flash"].capacity_B, 2, granularity_B=parts["flash"].granularity_B)]
        return out

    def _check_device(self, device):
        if device not in self._devs:
            raise InputError(f"system '{self.name}': no device '{device}' (devices: {', '.join(self.devices)})")

    def _lookup_work(self, device, tier, row_bytes, dtype="fp32", pooling=None):
        """(time_s, actions, moved) of ONE row gather from ``tier`` of ``device`` (dtype, pooling: host cores only)."""
        self._check_device(device)
        if device == "host":
            if tier != "dram":
                raise InputError(f"system '{self.name}': the host has only tier 'dram', not '{tier}'")
            t, acts = cpu_row_gather(self.cpu, self.host_dram, row_bytes, 1.0, dtype, pooling)
            return t, acts, {"host.dram": acts[("host.dram", "read_B")]}
        return tier_work(self, device, tier, row_bytes)

    def lookup_cost(self, slot, row_bytes, dtype="fp32", pooling=None):
        t, actions, _ = self._lookup_work(slot.device, slot.tier, row_bytes, dtype, pooling)
        return Cost(t, self.dynamic_J(actions))

    def _gather_only(self, device, row_bytes, dtype="fp32", pooling=None):
        """(time_s, actions, moved) of a lookup whose unit a read of the same batch already brought."""
        self._check_device(device)
        if device == "host":
            return (*cpu_core_only(self.cpu, row_bytes, 1.0, dtype, pooling), {})
        fpga = self.dev[device]["fpga"]
        return fpga.gather_s(row_bytes), {(fpga.name, "op_B"): row_bytes}, {}

    def coalesced_lookup_cost(self, slot, row_bytes, dtype="fp32", pooling=None):
        t, actions, _ = self._gather_only(slot.device, row_bytes, dtype, pooling)
        return Cost(t, self.dynamic_J(actions))

    def compute_cost(self, device, macs):
        """``macs`` multiply-adds on the compute-centric cores of a csd (or the host's cores)."""
        self._check_device(device)
        if device == "host":
            return Cost(self.cpu.mac_time_s(macs), self.dynamic_J({("host.cpu", "op_fp32"): 2.0 * macs}))
        return Cost(self.fpga.mac_time_s(macs), self.dynamic_J({(f"{device}.fpga", "mac"): macs}))

    # -- BatchService --------------------------------------------------------
    def device_embedding_work(self, device, dl):
        """(time_s, actions, moved) of one device's embedding stage, every part's time summed (the planner's view)."""
        items, actions, moved, serial_s = device_embedding_items(self, device, dl)
        return serial_s, actions, moved

    def batch_cost(self, load):
        cost = self._batch_cost(load)
        if not self.p.csd.parallel:
            cost.work = serialise_devices(cost.work)
        return cost

    def _batch_cost(self, load):
        work = [StageWork("host", "host.frontend", self.frontend.host_time_s(load.batch_size))]
        actions, moved = {}, {}
        for device, dl in load.devices.items():
            self._check_device(device)
            items, acts, mv, _ = device_embedding_items(self, device, dl)
            work += [StageWork("embedding", r, t) for r, t in items.items()]
            host_dram_work(self, "embedding", mv.get("host.dram", 0.0), work)   # host rows, bounced sectors
            for k, v in acts.items():
                add(actions, k, v)
            for k, v in mv.items():
                add(moved, k, v)
            if device == "host":
                continue
            port_work(self, device, dl, mv, work, actions, moved)
        self._dense(load, work, actions, moved)
        work.append(StageWork("response", "host.frontend", self.frontend.response_time_s(load.batch_size)))
        return BatchCost(work=work, actions=actions, bytes=moved)

    def _dense(self, load, work, actions, moved):
        if self.p.csd.dense_on == "csd":
            return dense_on_devices(self, load, work, actions, moved)
        host_dense(self, load, work, actions, moved)

    def resources(self):
        devices = list(self.dev) if self.p.csd.parallel else [SERIAL_DEVICE]
        return {"host": 1, "host.frontend": 1, "host.dram": 1, **self.switches.resources(),
                **{f"{d}{r}": 1 for d in devices
                   for r in ("", ".compute", ".flash_dies", ".flash_channels", ".pcie_up", ".pcie_down")}}

    def peak_bandwidth_Bps(self):
        out = {"host.dram": self.host_dram.peak_Bps}
        for d, parts in self.dev.items():
            out.update(device_peaks(d, parts))
        out.update(self.switches.peaks())
        return out

    def settings(self):
        c = self.p.csd
        return [("csd", "p2p", c.p2p, "flag", "setting: flash reaches the FPGA peer to peer (false: the ablation)"),
                ("csd", "dense_on", c.dense_on, "choice", "setting: where the MLP runs (csd: SCRec's design; host)"),
                ("csd", "parallel", c.parallel, "flag",
                 "setting: the devices work in parallel (false: the ablation, one device's hardware in turn)"),
                ("host", "tables_in_host_dram", self.p.host.tables_in_host_dram, "flag",
                 "setting: host DRAM is a slot (false: SCRec's own placement)")]
