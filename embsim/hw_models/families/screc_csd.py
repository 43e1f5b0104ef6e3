"""screc_csd: SCRec-style computational storage: a host plus K SmartSSD-like devices.

Parts: the host is the same CPU, DRAM and front end as a ``cpu_dram``
socket (``host.cpu``, ``host.dram``, ``host``: the same part presets give the
same host costs).  Each device ``csd{k}`` is a NAND SSD (``csd{k}.flash``) and
an FPGA (``csd{k}.fpga``: memory-centric cores that gather and pool rows,
compute-centric cores for tensor-train rows and MLP layers) with its DDR4
(``csd{k}.dram``) and on-chip SRAM (``csd{k}.sram``), behind one PCIe port
(``csd{k}.pcie``); the FPGA's PCIe switch lets the SSD reach it peer to peer
(``csd{k}.p2p``) without crossing the host.

Slots (rank, granularity)::

    csd{k}.sram   0  64 B beat   hottest rows (and TT cores)
    csd{k}.dram   1  64 B burst  warm rows
    csd{k}.flash  2  4 KiB read  cold rows
    host.dram     0  64 B line   the host's DRAM, unless host.tables_in_host_dram
                                 is false (SCRec's own placement: every table on
                                 the devices)

One row gather at full device concurrency (``lookup_cost``), every tier
bounded by the memory-centric cores (``fpga.gather_s``):

- sram:  the gather engines only (block RAM ports are far wider);
- dram:  the row's bursts at the DRAM's Little's-law random bandwidth;
- flash: the largest of the flash's die, channel and IOPS bounds
  (``parts/flash.py``), the sectors over the SSD->FPGA link, and the DRAM
  write + read of the landing buffer.  With ``p2p: false`` (the ablation) a
  flash read goes SSD -> host DRAM -> FPGA: the sectors cross the device's
  PCIe port twice (up, then down) and touch host DRAM twice, and the
  ``pcie_up``/``pcie_down`` resources carry them in the embedding stage;
- host.dram: a CPU gather (``parts/cpu.py``), as in ``cpu_dram``.

No deduplication.  A device's embedding time is the sum over its tiers (the
tiers share the memory-centric cores) plus its TT reconstruction, so the cost
model's makespan and the simulator agree when caches are off.

Stages: host (the front end on ``host.frontend``; indices down each port,
``csd{k}.pcie_down``), embedding (``csd{k}``, ``host``, plus the port in the
p2p-off ablation), transfer (pooled vectors up, ``csd{k}.pcie_up``), dense,
response.  ``dense_on: csd`` (SCRec, arXiv:2504.00520) splits the batch over
the K devices: each gets its share of all pooled vectors over ``pcie_down``,
runs its share of the MLP on its compute-centric cores and returns one fp32
score per sample over ``pcie_up``.  ``dense_on: host`` runs the MLP on the
host cores.  ``Cost.energy_J`` is dynamic only; static power is per part.
"""
from typing import Literal

from ...config import Schema
from ...errors import InputError
from ..params import param
from ..parts import CpuCores, FpgaFabric, HostFrontEnd, Link, MemoryTier, NandFlash
from ..parts.cpu import CpuParams
from ..parts.flash import FlashParams
from ..parts.fpga import FpgaParams
from ..parts.frontend import FrontEndParams
from ..parts.link import LinkParams
from ..parts.memory import MemoryParams
from ..system import BatchCost, Cost, Slot, StageWork, System, add, register_family
from .common import cpu_row_gather
from .screc_tiers import TIERS, flash_work, tier_work, tt_macs, tt_params

INDEX_BYTES = 8.0   # row ids sent to a device are int64, as in the Trace format
SCORE_BYTES = 4.0   # one fp32 score per sample (a model fact, not hardware)


class Host(Schema):
    cpu: CpuParams
    dram: MemoryParams
    frontend: FrontEndParams
    tables_in_host_dram: bool = True   # false: SCRec's own design (tables on the devices only)


class Links(Schema):
    pcie: LinkParams                   # device port to the host, per direction
    p2p: LinkParams                    # SSD -> FPGA inside the device


class Csd(Schema):
    count: param("count", integer=True)
    power_limit: param("power")        # the most a device may draw (checked by the tests, not enforced)
    p2p: bool
    dense_on: Literal["csd", "host"]
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
        self.dev = {}
        for d in self.devices[1:]:
            self.dev[d] = {"flash": self.add_part(NandFlash(f"{d}.flash", p.csd.flash)),
                           "dram": self.add_part(MemoryTier(f"{d}.dram", p.csd.dram)),
                           "sram": self.add_part(MemoryTier(f"{d}.sram", p.csd.sram)),
                           "fpga": self.add_part(FpgaFabric(f"{d}.fpga", p.csd.fpga)),
                           "pcie": self.add_part(Link(f"{d}.pcie", p.csd.links.pcie)),
                           "p2p": self.add_part(Link(f"{d}.p2p", p.csd.links.p2p))}
        fpga = self.dev["csd0"]["fpga"]
        where = f"{source_file or name}: params.csd.fpga.compute_share: {p.csd.fpga.compute_share.value:g}"
        if fpga.memory_cores < 1:
            raise InputError(f"{where} leaves no LUTs for one memory-centric core "
                             f"({p.csd.fpga.luts_per_memory_core.value:g} LUTs)")
        if fpga.macs_per_cycle < 1:
            raise InputError(f"{where} leaves too few DSP slices for one MAC ({p.csd.fpga.dsps_per_mac.value:g} DSPs)")
        self._devs = frozenset(self.devices)

    # -- figures ---------------------------------------------------------
    @property
    def n_devices(self):
        return int(self.p.csd.count.value)

    @property
    def p2p(self):
        return self.p.csd.p2p

    @property
    def devices(self):
        return ["host"] + [f"csd{k}" for k in range(int(self.params.params.csd.count.value))]

    @property
    def fpga(self):
        return self.dev["csd0"]["fpga"]

    @property
    def flash(self):
        return self.dev["csd0"]["flash"]

    @property
    def memory_cores(self):
        return self.fpga.memory_cores

    def gather_rate_Bps(self):
        return self.fpga.gather_rate_Bps()

    def mac_rate(self):
        return self.fpga.mac_rate()

    def host_mac_rate(self):
        return self.cpu.mlp_ops_per_s() / 2.0

    def flash_pages_per_s(self, transfer_B=None):
        return self.flash.pages_per_s(transfer_B)

    def flash_lookups_per_s(self, row_bytes):
        """Rows per second one device serves from flash at full concurrency."""
        return 1.0 / tier_work(self, "csd0", "flash", row_bytes)[0]

    def flash_read_latency_s(self, row_bytes):
        """One flash row read with nothing queued: sense, shift out, cross the link (twice without p2p)."""
        fl, links = self.flash, self.dev["csd0"]
        xfer = fl.transfer_B(row_bytes)
        hops = links["p2p"].transfer_time_s(xfer) if self.p2p else 2 * links["pcie"].transfer_time_s(xfer)
        return fl.read_latency_s(row_bytes) + hops

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

    def _lookup_work(self, device, tier, row_bytes):
        """(time_s, actions, moved) of ONE row gather from ``tier`` of ``device``; this system's part names."""
        self._check_device(device)
        if device == "host":
            if tier != "dram":
                raise InputError(f"system '{self.name}': the host has only tier 'dram', not '{tier}'")
            t, acts = cpu_row_gather(self.cpu, self.host_dram, row_bytes)
            return t, acts, {"host.dram": acts[("host.dram", "read_B")]}
        return tier_work(self, device, tier, row_bytes)

    def lookup_cost(self, slot, row_bytes):
        t, actions, _ = self._lookup_work(slot.device, slot.tier, row_bytes)
        return Cost(t, self.dynamic_J(actions))

    def compute_cost(self, device, macs):
        """``macs`` multiply-adds on the compute-centric cores of a csd (or the host's cores)."""
        self._check_device(device)
        if device == "host":
            return Cost(self.cpu.mac_time_s(macs), self.dynamic_J({("host.cpu", "op_fp32"): 2.0 * macs}))
        return Cost(self.fpga.mac_time_s(macs), self.dynamic_J({(f"{device}.fpga", "mac"): macs}))

    # -- BatchService --------------------------------------------------------
    def device_embedding_work(self, device, dl):
        """(time_s, actions, moved) of one device's embedding stage."""
        time_s, actions, moved = 0.0, {}, {}
        rows = ([(w["tier"], w["row_bytes"], w["lookups"]) for w in dl.table_work] if dl.table_work else
                [(tier, dl.bytes.get(tier, 0.0) / n, n) for tier, n in dl.lookups.items() if n > 0])
        for tier, row_bytes, n in rows:
            if not n:
                continue
            if row_bytes <= 0:
                raise InputError(f"system '{self.name}': {device}.{tier}: {n} lookups but no bytes; "
                                 "give bytes per tier or table_work")
            t, acts, mv = self._lookup_work(device, tier, row_bytes)
            time_s += n * t
            for k, v in acts.items():
                add(actions, k, n * v)
            for k, v in mv.items():
                add(moved, k, n * v)
        if dl.tt_macs:
            time_s += self.compute_cost(device, dl.tt_macs).time_s
            key = ("host.cpu", "op_fp32") if device == "host" else (f"{device}.fpga", "mac")
            add(actions, key, 2.0 * dl.tt_macs if device == "host" else dl.tt_macs)
        return time_s, actions, moved

    def batch_cost(self, load):
        work = [StageWork("host", "host.frontend", self.frontend.host_time_s(load.batch_size))]
        actions, moved = {}, {}
        for device, dl in load.devices.items():
            self._check_device(device)
            t, acts, mv = self.device_embedding_work(device, dl)
            work.append(StageWork("embedding", device, t))
            for k, v in acts.items():
                add(actions, k, v)
            for k, v in mv.items():
                add(moved, k, v)
            if device == "host":
                continue
            pcie = self.dev[device]["pcie"]
            if not self.p2p:   # the ablation: flash sectors bounce through host DRAM on the port
                for direction in ("pcie_up", "pcie_down"):
                    if mv.get(f"{device}.{direction}"):
                        work.append(StageWork("embedding", f"{device}.{direction}",
                                              pcie.transfer_time_s(mv[f"{device}.{direction}"])))
            n_idx = sum(w["lookups"] for w in dl.table_work) if dl.table_work else sum(dl.lookups.values())
            idx_B = n_idx * INDEX_BYTES
            work.append(StageWork("host", f"{device}.pcie_down", pcie.transfer_time_s(idx_B)))
            work.append(StageWork("transfer", f"{device}.pcie_up", pcie.transfer_time_s(dl.pooled_bytes_out)))
            add(actions, (f"{device}.pcie", "transfer_B"), idx_B + dl.pooled_bytes_out)
            add(moved, f"{device}.pcie_down", idx_B)
            add(moved, f"{device}.pcie_up", dl.pooled_bytes_out)
        self._dense(load, work, actions, moved)
        work.append(StageWork("response", "host.frontend", self.frontend.response_time_s(load.batch_size)))
        return BatchCost(work=work, actions=actions, bytes=moved)

    def _dense(self, load, work, actions, moved):
        if self.p.csd.dense_on == "host":
            work.append(StageWork("dense", "host", self.cpu.mac_time_s(load.dense_macs)))
            add(actions, ("host.cpu", "op_fp32"), 2.0 * load.dense_macs)
            return
        k = self.n_devices
        scatter_B = sum(dl.pooled_bytes_out for dl in load.devices.values()) / k
        macs, score_B = load.dense_macs / k, load.batch_size * SCORE_BYTES / k
        for d, parts in self.dev.items():
            t_scatter = parts["pcie"].transfer_time_s(scatter_B)
            work.append(StageWork("dense", d, t_scatter + parts["fpga"].mac_time_s(macs)))
            work.append(StageWork("dense", f"{d}.pcie_down", t_scatter))
            work.append(StageWork("response", f"{d}.pcie_up", parts["pcie"].transfer_time_s(score_B)))
            add(actions, (f"{d}.fpga", "mac"), macs)
            add(actions, (f"{d}.pcie", "transfer_B"), scatter_B + score_B)
            add(moved, f"{d}.pcie_down", scatter_B)
            add(moved, f"{d}.pcie_up", score_B)

    def resources(self):
        out = {"host": 1, "host.frontend": 1}
        for d in self.dev:
            out.update({d: 1, f"{d}.pcie_up": 1, f"{d}.pcie_down": 1})
        return out

    def peak_bandwidth_Bps(self):
        out = {"host.dram": self.host_dram.peak_Bps}
        for d, parts in self.dev.items():
            fl = parts["flash"]
            out.update({f"{d}.flash": fl.dies / fl.p.read_latency.value * fl.p.page.value,
                        f"{d}.flash_channels": fl.peak_Bps, f"{d}.dram": parts["dram"].peak_Bps,
                        f"{d}.sram": parts["fpga"].gather_rate_Bps(), f"{d}.p2p": parts["p2p"].peak_Bps,
                        f"{d}.pcie_up": parts["pcie"].peak_Bps, f"{d}.pcie_down": parts["pcie"].peak_Bps})
        return out

    def settings(self):
        c = self.p.csd
        return [("csd", "p2p", c.p2p, "flag", "setting: flash reaches the FPGA peer to peer (false: the ablation)"),
                ("csd", "dense_on", c.dense_on, "choice", "setting: where the MLP runs (csd: SCRec's design; host)"),
                ("host", "tables_in_host_dram", self.p.host.tables_in_host_dram, "flag",
                 "setting: host DRAM is a slot (false: SCRec's own placement)"),
                ("csd", "count", c.count.value, "count", c.count.source),
                ("csd", "power_limit", c.power_limit.value, "power", c.power_limit.source),
                ("csd", "sram_table_share", c.sram_table_share.value, "count", c.sram_table_share.source)]
