"""screc_csd: SCRec-style computational storage: a host plus K SmartSSD-like devices.

What is modelled
----------------
A host CPU with DRAM, and K devices ``csd0`` .. ``csd{K-1}``, each a NAND SSD
and an FPGA behind one PCIe Gen3 x4 port (the FPGA carries a PCIe switch, so
the SSD reaches the FPGA peer to peer without crossing the host).  On the
FPGA: on-chip SRAM (block RAM + UltraRAM), FPGA-attached DDR4, *memory-centric
cores* that gather and pool rows, and *compute-centric cores* that rebuild
tensor-train (TT) rows and can run MLP layers.  ``compute_share`` splits the
FPGA's user resources (LUTs and DSP slices) between the two: a larger share
buys MAC rate and costs gather throughput.

Slots (the places a shard can live)::

    csd{k}.sram   rank 0   hottest rows (and TT cores)
    csd{k}.dram   rank 1   warm rows
    csd{k}.flash  rank 2   cold rows
    host.dram     rank 0   the host's own DRAM (device "host"), unless
                           ``host.tables_in_host_dram: false``: the
                           conventional placement SCRec is compared with;
                           looked up by host cores.  SCRec itself keeps
                           every table on the devices (set it false).

Cost of one row gather at full device concurrency (``lookup_cost``); every
tier is bounded by the memory-centric cores (``gather_s``: the row's beats of
``memory_core_beat`` bytes, one per cycle, over all memory-centric cores) and
by its memory:

- sram:  the gather engines only (block RAM ports are far wider).
- dram:  the row in 64 B DDR4 bursts at ``peak * random_efficiency``.
- flash: reads cost whole pages.  A die senses a whole page per read (tR) and
  the channel moves the read unit (the row rounded up to the 4 KiB sector;
  NAND can shift out part of a page register), so a lookup takes the max of
  ``pages*tR/(channels*dies)``, ``transfer/(channels*channel_rate)``, one IO
  of the controller's IOPS, the transfer over the SSD->FPGA link, and the
  DRAM write + read of the landing buffer.  ``flash_pages_per_s`` gives
  ``min(channels*dies/tR, channels*channel_rate/read unit)``.
  With ``p2p: false`` (the ablation) a flash read goes SSD -> host DRAM ->
  FPGA: the sector crosses the device's PCIe port twice (up, then down; the
  link is full duplex, so each direction carries it once), touches host DRAM
  twice, and the ``pcie_up``/``pcie_down`` resources carry it in the
  embedding stage, where it competes with indices and pooled vectors.

No deduplication: every lookup is read (``unique_rows`` is not used),
unless the simulator coalesces (a layout is given): then a table_work entry's
``reads`` rows are read from the tier and the other lookups, whose page,
sector or burst a read of the same batch brought, cost only their gather.  The
embedding time of a device is the sum over its tiers (flash, DRAM and SRAM
gathers share the memory-centric cores) of lookups x lookup_cost plus
``compute_cost(device, tt_macs)``, so the cost model's makespan and the
simulator agree when caches are off.

Stages (``batch_cost``): host (indices down each device's port,
``csd{k}.pcie_down``), embedding (``csd{k}``, ``host``, plus the port in the
p2p-off ablation), transfer (pooled vectors up, ``csd{k}.pcie_up``), dense,
response.  Where the MLP runs is the setting ``dense_on``:

- ``csd`` (SCRec's design, arXiv:2504.00520: TT and MLP cores on the FPGA):
  the batch is split evenly over the K devices (data parallel); each gets
  its share of all pooled vectors back over ``pcie_down`` and runs its share
  of the MLP on its compute-centric cores (the same resource, ``csd{k}``,
  as its TT reconstruction), then returns one fp32 score per sample over
  ``pcie_up`` (response stage).
- ``host``: the MLP runs on the host cores (resource ``host``); no response
  work (the client network is not part of these presets).

``Cost.energy_J`` = dynamic energy + the device's static power x time.
Static power is charged per device (the SmartSSD's 18 W idle covers its
flash, FPGA and DRAM) and per host.
"""
import math
from typing import Literal

import networkx as nx

from ...config import Schema
from ...errors import InputError
from ..system import BatchCost, Cost, StageWork, Slot, System, register_family
from ._sourced_params import describe_rows, num

INDEX_BYTES = 8.0   # row ids sent to a device are int64, as in the Trace format
SCORE_BYTES = 4.0   # one fp32 score per sample (a model fact, not hardware)
TIERS = ("sram", "dram", "flash")


def tt_macs(rank, d1, d2, d3):
    """Multiply-adds to rebuild one row of a 3-core TT table, ranks [1, r, r, 1], dim factors d1 d2 d3.

    (d1 x r) @ (r x d2*r) costs d1*d2*r*r, then (d1*d2 x r) @ (r x d3) costs
    d1*d2*r*d3: in all r*d1*d2*(r + d3).
    """
    return rank * d1 * d2 * (rank + d3)


def tt_params(rank, d1, d2, d3):
    """Parameters read to rebuild one TT row: one slice of each core, d1*r + r*d2*r + r*d3."""
    return d1 * rank + rank * d2 * rank + rank * d3


# ----------------------------------------------------------------- schema ---
class Host(Schema):
    cores: num("count")
    clock: num("frequency")
    macs_per_cycle_per_core: num("count")
    dense_efficiency: num("count", le=1)
    dram_capacity: num("bytes")
    dram_bandwidth: num("bandwidth")
    dram_random_efficiency: num("count", le=1)
    cache_line: num("bytes")
    # true lets the planner use host DRAM as one more slot; false is SCRec's own design (tables on the devices).
    tables_in_host_dram: bool = True


class Flash(Schema):
    capacity: num("bytes")
    channels: num("count")
    dies_per_channel: num("count")
    page: num("bytes")
    read_latency: num("time")          # tR: sense one page into the die's register
    channel_rate: num("bandwidth")     # per channel bus
    sector: num("bytes")               # read unit moved over the channel and PCIe
    max_read_iops: num("count")        # controller limit, IOs per second


class FpgaDram(Schema):
    capacity: num("bytes")
    bandwidth: num("bandwidth")
    burst: num("bytes")
    random_efficiency: num("count", le=1)


class Sram(Schema):
    capacity: num("bytes")
    table_share: num("count", le=1)


class Fpga(Schema):
    clock: num("frequency")
    luts: num("count")                 # LUTs available to user kernels
    dsps: num("count")
    luts_per_memory_core: num("count")
    memory_core_beat: num("bytes")     # bytes a memory-centric core moves per cycle
    dsps_per_mac: num("count")
    compute_share: num("count", le=0.999)


class Links(Schema):
    pcie: num("bandwidth")             # device port to the host, per direction
    p2p: num("bandwidth")              # SSD -> FPGA inside the device


class Csd(Schema):
    count: num("count")
    power_limit: num("power")    # the most a device may draw (a bound the tests check, not enforced)
    p2p: bool
    dense_on: Literal["csd", "host"]
    flash: Flash
    dram: FpgaDram
    sram: Sram
    fpga: Fpga
    links: Links


class Energy(Schema):
    flash_page_read: num("energy")
    flash_channel: num("energy_per_bit")
    fpga_dram: num("energy_per_bit")
    sram: num("energy_per_bit")
    fpga_add: num("energy_per_byte")
    fpga_mac: num("energy")
    pcie: num("energy_per_bit")
    host_dram: num("energy_per_bit")
    host_add: num("energy_per_byte")
    host_mac: num("energy")


class StaticPower(Schema):
    csd: num("power")
    host: num("power")


class ScrecParams(Schema):
    host: Host
    csd: Csd
    energy: Energy
    static_power: StaticPower


class ScrecFile(Schema):
    description: str = ""
    family: Literal["screc_csd"]
    name: str
    source: str
    params: ScrecParams


# ----------------------------------------------------------------- system ---
@register_family("screc_csd")
class ScrecCSD(System):
    """Host + K SmartSSD-like devices with statistical sharding over SRAM, DRAM and flash."""

    Schema = ScrecFile
    TIERS = TIERS
    tt_macs = staticmethod(tt_macs)
    tt_params = staticmethod(tt_params)

    def __init__(self, name, params, source_file=None):
        self.p = params.params
        src = source_file or name
        for path, v in (("csd.count", self.p.csd.count.value), ("host.cores", self.p.host.cores.value),
                        ("csd.flash.channels", self.p.csd.flash.channels.value),
                        ("csd.flash.dies_per_channel", self.p.csd.flash.dies_per_channel.value)):
            if v != int(v):
                raise InputError(f"{src}: params.{path}: expected a whole number, got {v:g}")
        if self.memory_cores < 1:
            raise InputError(f"{src}: params.csd.fpga.compute_share: {self.p.csd.fpga.compute_share.value:g} leaves "
                             "no LUTs for one memory-centric core "
                             f"({self.p.csd.fpga.luts_per_memory_core.value:g} LUTs)")
        if self.macs_per_cycle < 1:
            raise InputError(f"{src}: params.csd.fpga.compute_share: {self.p.csd.fpga.compute_share.value:g} leaves "
                             f"too few DSP slices for one MAC ({self.p.csd.fpga.dsps_per_mac.value:g} DSPs)")
        super().__init__(name, params, source_file)
        self._devs = frozenset(self.devices)

    # -- derived figures -------------------------------------------------
    @property
    def n_devices(self):
        return int(self.p.csd.count.value)

    @property
    def p2p(self):
        return self.p.csd.p2p

    @property
    def memory_cores(self):
        """Memory-centric cores that fit in the LUTs left after the compute share."""
        f = self.p.csd.fpga
        return math.floor((1 - f.compute_share.value) * f.luts.value / f.luts_per_memory_core.value + 1e-9)

    @property
    def macs_per_cycle(self):
        """MACs per cycle of the compute-centric cores (their share of the DSP slices)."""
        f = self.p.csd.fpga
        return math.floor(f.compute_share.value * f.dsps.value / f.dsps_per_mac.value + 1e-9)

    def gather_rate_Bps(self):
        """Bytes per second the memory-centric cores of one device can gather and pool."""
        f = self.p.csd.fpga
        return self.memory_cores * f.memory_core_beat.value * f.clock.value

    def mac_rate(self):
        """MACs per second of the compute-centric cores of one device."""
        return self.macs_per_cycle * self.p.csd.fpga.clock.value

    def host_mac_rate(self):
        h = self.p.host
        return h.cores.value * h.macs_per_cycle_per_core.value * h.clock.value * h.dense_efficiency.value

    def flash_pages_per_s(self, transfer_B=None):
        """Page reads per second of one device's flash: min(channels*dies/tR, channel bus / transfer).

        ``transfer_B`` is what each read moves over the channel (default: the whole page).
        """
        fl = self.p.csd.flash
        t = fl.page.value if transfer_B is None else transfer_B
        ch = fl.channels.value
        return min(ch * fl.dies_per_channel.value / fl.read_latency.value, ch * fl.channel_rate.value / t)

    def pages_per_row(self, row_bytes):
        """Pages sensed to read one row (rows are packed so they do not straddle a page)."""
        return math.ceil(row_bytes / self.p.csd.flash.page.value - 1e-9)

    def flash_transfer_B(self, row_bytes):
        """Bytes one flash row read moves over the channel and PCIe: the row in whole sectors."""
        s = self.p.csd.flash.sector.value
        return math.ceil(row_bytes / s - 1e-9) * s

    def dram_burst_B(self, row_bytes):
        b = self.p.csd.dram.burst.value
        return math.ceil(row_bytes / b - 1e-9) * b

    def flash_lookups_per_s(self, row_bytes):
        """Rows per second one device serves from flash at full concurrency."""
        return 1.0 / self._tier_work("flash", row_bytes)[0]

    def flash_read_latency_s(self, row_bytes):
        """Latency of ONE flash row read with nothing queued: sense the pages, shift the sectors out
        over one channel, cross the link (twice without p2p).  Batch costs are throughput costs
        (amortised at full concurrency) and do not include this floor; a batch with few flash
        lookups takes at least this long."""
        c = self.p.csd
        xfer = self.flash_transfer_B(row_bytes)
        hops = xfer / c.links.p2p.value if self.p2p else 2 * xfer / c.links.pcie.value
        return self.pages_per_row(row_bytes) * c.flash.read_latency.value + xfer / c.flash.channel_rate.value + hops

    def flash_reads_in_flight(self, row_bytes):
        """Reads a device must keep outstanding to reach ``flash_lookups_per_s`` (Little's law: L = rate x latency)."""
        return self.flash_lookups_per_s(row_bytes) * self.flash_read_latency_s(row_bytes)

    def gather_s(self, row_bytes):
        """Time the memory-centric cores spend on one row (amortised over all of them)."""
        f = self.p.csd.fpga
        beats = math.ceil(row_bytes / f.memory_core_beat.value - 1e-9)
        return beats / (self.memory_cores * f.clock.value)

    # -- per-lookup work -------------------------------------------------
    def _tier_work(self, tier, row_bytes):
        """(time_s, actions, moved) of ONE row gather on a csd tier; generic part names."""
        if row_bytes <= 0:
            raise ValueError(f"row_bytes must be > 0, got {row_bytes}")
        c = self.p.csd
        gather = self.gather_s(row_bytes)
        pool = {("memory_cores", "op_B"): row_bytes}
        if tier == "sram":
            b = math.ceil(row_bytes / c.fpga.memory_core_beat.value - 1e-9) * c.fpga.memory_core_beat.value
            return gather, {("sram", "read_B"): b, **pool}, {"sram": b}
        dram_rate = c.dram.bandwidth.value * c.dram.random_efficiency.value
        a = self.dram_burst_B(row_bytes)
        if tier == "dram":
            return max(gather, a / dram_rate), {("dram", "access_B"): a, **pool}, {"dram": a}
        if tier != "flash":
            raise InputError(f"system '{self.name}': no tier '{tier}' on a device (tiers: {', '.join(TIERS)})")
        fl = c.flash
        pages = self.pages_per_row(row_bytes)
        xfer = self.flash_transfer_B(row_bytes)
        ch = fl.channels.value
        die_s = pages * fl.read_latency.value / (ch * fl.dies_per_channel.value)
        chan_s = xfer / (ch * fl.channel_rate.value)
        io_s = 1.0 / fl.max_read_iops.value
        link = c.links.p2p.value if self.p2p else c.links.pcie.value   # each direction carries it once
        link_s = xfer / link
        dram_s = (xfer + a) / dram_rate           # land the sectors in FPGA DRAM, read the row back
        time_s = max(gather, die_s, chan_s, io_s, link_s, dram_s)
        actions = {("flash", "page_read"): pages, ("flash", "channel_B"): xfer,
                   ("dram", "access_B"): xfer + a, **pool}
        moved = {"flash": pages * fl.page.value, "flash_channels": xfer, "dram": xfer + a}
        if self.p2p:
            actions[("p2p", "transfer_B")] = xfer
            moved["p2p"] = xfer
        else:
            actions[("pcie", "transfer_B")] = 2 * xfer
            actions[("host.dram", "access_B")] = 2 * xfer
            moved.update({"pcie_up": xfer, "pcie_down": xfer, "host.dram": 2 * xfer})
        return time_s, actions, moved

    def coalesced_lookup_cost(self, slot, row_bytes):
        t, actions, _ = self._gather_only_work(slot.device, row_bytes)
        return Cost(t, self._dynamic_J(slot.device, actions) + self._static(slot.device) * t)

    def _gather_only_work(self, device, row_bytes):
        """(time_s, actions, moved) of a lookup whose unit a coalesced read of the same batch already brought."""
        if device == "host":
            return 0.0, {("host.cpu", "op_B"): row_bytes}, {}
        return self.gather_s(row_bytes), {("memory_cores", "op_B"): row_bytes}, {}

    def _host_work(self, row_bytes):
        h = self.p.host
        line = h.cache_line.value
        a = math.ceil(row_bytes / line - 1e-9) * line
        rate = h.dram_bandwidth.value * h.dram_random_efficiency.value
        return a / rate, {("host.dram", "access_B"): a, ("host.cpu", "op_B"): row_bytes}, {"host.dram": a}

    def _device_part(self, device, part):
        """Global part name of a generic per-device part ("dram" on csd2 -> "csd2.dram")."""
        return part if part.startswith("host.") else f"{device}.{part}"

    # -- System interface --------------------------------------------------
    def build_graph(self):
        p, c = self.p, self.p.csd
        g = nx.DiGraph()
        g.add_node("host", kind="device", role="host_cpu", cores=p.host.cores.value,
                   macs_per_s=self.host_mac_rate())
        g.add_node("host.dram", kind="memory", capacity_B=p.host.dram_capacity.value,
                   bandwidth_Bps=p.host.dram_bandwidth.value)
        g.add_edge("host", "host.dram", kind="contains")
        for d in [f"csd{k}" for k in range(int(c.count.value))]:
            g.add_node(d, kind="device", role="smartssd", p2p=c.p2p)
            g.add_node(f"{d}.flash", kind="memory", capacity_B=c.flash.capacity.value,
                       channels=c.flash.channels.value, dies_per_channel=c.flash.dies_per_channel.value,
                       page_B=c.flash.page.value, read_latency_s=c.flash.read_latency.value,
                       pages_per_s=self.flash_pages_per_s())
            g.add_node(f"{d}.dram", kind="memory", capacity_B=c.dram.capacity.value,
                       bandwidth_Bps=c.dram.bandwidth.value)
            g.add_node(f"{d}.sram", kind="memory", capacity_B=self._sram_B())
            g.add_node(f"{d}.memory_cores", kind="compute", count=self.memory_cores,
                       gather_Bps=self.gather_rate_Bps())
            g.add_node(f"{d}.compute_cores", kind="compute", macs_per_s=self.mac_rate())
            g.add_node(f"{d}.pcie", kind="link", bandwidth_Bps=c.links.pcie.value)
            g.add_node(f"{d}.p2p", kind="link", bandwidth_Bps=c.links.p2p.value, enabled=c.p2p)
            for part in ("flash", "dram", "sram", "memory_cores", "compute_cores", "pcie", "p2p"):
                g.add_edge(d, f"{d}.{part}", kind="contains")
            g.add_edge(f"{d}.flash", f"{d}.p2p", kind="link")
            g.add_edge(f"{d}.p2p", f"{d}.dram", kind="link")
            g.add_edge("host", f"{d}.pcie", kind="link")
        return g

    @property
    def devices(self):
        return ["host"] + [f"csd{k}" for k in range(self.n_devices)]

    def _sram_B(self):
        return self.p.csd.sram.capacity.value * self.p.csd.sram.table_share.value

    def slots(self):
        c = self.p.csd
        out = [Slot("host", "dram", self.p.host.dram_capacity.value, 0)] if self.p.host.tables_in_host_dram else []
        for k in range(self.n_devices):
            d = f"csd{k}"
            out += [Slot(d, "sram", self._sram_B(), 0), Slot(d, "dram", c.dram.capacity.value, 1),
                    Slot(d, "flash", c.flash.capacity.value, 2)]
        return out

    def _check_device(self, device):
        if device not in self._devs:
            raise InputError(f"system '{self.name}': no device '{device}' (devices: {', '.join(self.devices)})")

    def _lookup_work(self, device, tier, row_bytes):
        self._check_device(device)
        if device == "host":
            if tier != "dram":
                raise InputError(f"system '{self.name}': the host has only tier 'dram', not '{tier}'")
            return self._host_work(row_bytes)
        return self._tier_work(tier, row_bytes)

    def lookup_cost(self, slot, row_bytes):
        t, actions, _ = self._lookup_work(slot.device, slot.tier, row_bytes)
        return Cost(t, self._dynamic_J(slot.device, actions) + self._static(slot.device) * t)

    def compute_cost(self, device, macs):
        """``macs`` multiply-adds on the compute-centric cores of a csd (or the host's cores)."""
        self._check_device(device)
        if device == "host":
            t = macs / self.host_mac_rate()
            return Cost(t, macs * self.p.energy.host_mac.value + self._static(device) * t)
        t = macs / self.mac_rate()
        return Cost(t, macs * self.p.energy.fpga_mac.value + self._static(device) * t)

    def _static(self, device):
        return self.p.static_power.host.value if device == "host" else self.p.static_power.csd.value

    def _dynamic_J(self, device, actions):
        table = self.energy_per_action_J()
        return sum(v * table[(self._device_part(device, part), action)] for (part, action), v in actions.items())

    def device_embedding_work(self, device, dl):
        """(time_s, actions, moved) of one device's embedding stage; global part names."""
        time_s, actions, moved = 0.0, {}, {}

        def add(n, t, acts, mv):
            nonlocal time_s
            time_s += n * t
            for (part, action), v in acts.items():
                key = (self._device_part(device, part), action)
                actions[key] = actions.get(key, 0.0) + n * v
            for part, v in mv.items():
                key = self._device_part(device, part)
                moved[key] = moved.get(key, 0.0) + n * v

        if dl.table_work:
            for w in dl.table_work:
                if w["lookups"]:
                    # with coalescing, the memory serves ``reads`` rows; the others are only gathered
                    reads = min(w.get("reads", w["lookups"]), w["lookups"])
                    add(reads, *self._lookup_work(device, w["tier"], w["row_bytes"]))
                    if reads < w["lookups"]:
                        add(w["lookups"] - reads, *self._gather_only_work(device, w["row_bytes"]))
        else:
            for tier, n in dl.lookups.items():
                if n <= 0:
                    continue
                row_bytes = dl.bytes.get(tier, 0.0) / n
                if row_bytes <= 0:
                    raise InputError(f"system '{self.name}': {device}.{tier}: {n} lookups but no bytes; "
                                     "give bytes per tier or table_work")
                add(n, *self._lookup_work(device, tier, row_bytes))
        if dl.tt_macs:
            t = self.compute_cost(device, dl.tt_macs).time_s
            part = "host.cpu" if device == "host" else "compute_cores"
            add(1, t, {(part, "mac"): dl.tt_macs}, {})
        return time_s, actions, moved

    def batch_cost(self, load):
        c = self.p.csd
        work, actions, moved = [], {}, {}

        def merge(dst, src):
            for k, v in src.items():
                if v:
                    dst[k] = dst.get(k, 0.0) + v

        for device, dl in load.devices.items():
            self._check_device(device)
            t, acts, mv = self.device_embedding_work(device, dl)
            work.append(StageWork("embedding", device, t))
            merge(actions, acts)
            merge(moved, mv)
            if device == "host":
                continue
            link = c.links.pcie.value
            if not self.p2p:   # the ablation: flash sectors bounce through host DRAM on the port
                for direction in ("pcie_up", "pcie_down"):
                    if mv.get(f"{device}.{direction}"):
                        work.append(StageWork("embedding", f"{device}.{direction}",
                                              mv[f"{device}.{direction}"] / link))
            n_idx = sum(w["lookups"] for w in dl.table_work) if dl.table_work else sum(dl.lookups.values())
            idx_B = n_idx * INDEX_BYTES
            work.append(StageWork("host", f"{device}.pcie_down", idx_B / link))
            work.append(StageWork("transfer", f"{device}.pcie_up", dl.pooled_bytes_out / link))
            merge(actions, {(f"{device}.pcie", "transfer_B"): idx_B + dl.pooled_bytes_out})
            merge(moved, {f"{device}.pcie_down": idx_B, f"{device}.pcie_up": dl.pooled_bytes_out})
        if self.p.csd.dense_on == "host":
            work.append(StageWork("dense", "host", load.dense_macs / self.host_mac_rate()))
            merge(actions, {("host.cpu", "mac"): load.dense_macs})
            return BatchCost(work=work, actions=actions, bytes=moved)
        # Data-parallel MLP on the devices: scatter each device's share of all pooled vectors,
        # compute its share of the MLP, return its scores.
        k = self.n_devices
        link = c.links.pcie.value
        scatter_B = sum(dl.pooled_bytes_out for dl in load.devices.values()) / k
        macs = load.dense_macs / k
        score_B = load.batch_size * SCORE_BYTES / k
        for i in range(k):
            d = f"csd{i}"
            t_scatter = scatter_B / link
            work.append(StageWork("dense", d, t_scatter + macs / self.mac_rate()))
            work.append(StageWork("dense", f"{d}.pcie_down", t_scatter))
            work.append(StageWork("response", f"{d}.pcie_up", score_B / link))
            merge(actions, {(f"{d}.compute_cores", "mac"): macs, (f"{d}.pcie", "transfer_B"): scatter_B + score_B})
            merge(moved, {f"{d}.pcie_down": scatter_B, f"{d}.pcie_up": score_B})
        return BatchCost(work=work, actions=actions, bytes=moved)

    def resources(self):
        out = {"host": 1}
        for k in range(self.n_devices):
            out.update({f"csd{k}": 1, f"csd{k}.pcie_up": 1, f"csd{k}.pcie_down": 1})
        return out

    def peak_bandwidth_Bps(self):
        c, h = self.p.csd, self.p.host
        out = {"host.dram": h.dram_bandwidth.value}
        fl = c.flash
        for k in range(self.n_devices):
            d = f"csd{k}"
            out.update({
                f"{d}.flash": fl.channels.value * fl.dies_per_channel.value / fl.read_latency.value * fl.page.value,
                f"{d}.flash_channels": fl.channels.value * fl.channel_rate.value,
                f"{d}.dram": c.dram.bandwidth.value,
                f"{d}.sram": self.gather_rate_Bps(),
                f"{d}.p2p": c.links.p2p.value,
                f"{d}.pcie_up": c.links.pcie.value,
                f"{d}.pcie_down": c.links.pcie.value,
            })
        return out

    def energy_per_action_J(self):
        e = self.p.energy
        out = {("host.dram", "access_B"): 8 * e.host_dram.value, ("host.cpu", "op_B"): e.host_add.value,
               ("host.cpu", "mac"): e.host_mac.value}
        for k in range(self.n_devices):
            d = f"csd{k}"
            out.update({
                (f"{d}.flash", "page_read"): e.flash_page_read.value,
                (f"{d}.flash", "channel_B"): 8 * e.flash_channel.value,
                (f"{d}.dram", "access_B"): 8 * e.fpga_dram.value,
                (f"{d}.sram", "read_B"): 8 * e.sram.value,
                (f"{d}.memory_cores", "op_B"): e.fpga_add.value,
                (f"{d}.compute_cores", "mac"): e.fpga_mac.value,
                (f"{d}.p2p", "transfer_B"): 8 * e.pcie.value,
                (f"{d}.pcie", "transfer_B"): 8 * e.pcie.value,
            })
        return out

    def static_power_W(self):
        out = {"host": self.p.static_power.host.value}
        out.update({f"csd{k}": self.p.static_power.csd.value for k in range(self.n_devices)})
        return out

    def describe(self):
        """Every preset number and setting with its source, then derived figures (part "derived")."""
        rows = describe_rows(self.p, "")
        rows.append(("csd", "p2p", self.p2p, "flag",
                     "setting: flash reaches the FPGA peer to peer (false: through host DRAM, the ablation)"))
        rows.append(("csd", "dense_on", self.p.csd.dense_on, "choice",
                     "setting: where the MLP runs (csd: compute-centric cores, SCRec's design; host: host cores)"))
        derived = [
            ("memory_cores", self.memory_cores, "count",
             "[D] floor((1 - compute_share) x luts / luts_per_memory_core)"),
            ("gather_rate", self.gather_rate_Bps(), "bandwidth", "[D] memory_cores x memory_core_beat x fpga clock"),
            ("mac_rate", self.mac_rate(), "rate", "[D] floor(compute_share x dsps / dsps_per_mac) x fpga clock"),
            ("flash_pages_per_s", self.flash_pages_per_s(), "rate",
             "[D] min(channels x dies / tR, channels x channel_rate / page)"),
            ("flash_lookups_per_s_128B", self.flash_lookups_per_s(128), "rate",
             "[D] 1 / flash lookup_cost: max of dies, channels, IOPS, link and DRAM bounds"),
            ("flash_read_latency_128B", self.flash_read_latency_s(128), "time",
             "[D] tR + sector / channel_rate + sector / link (one read, nothing queued)"),
            ("flash_reads_in_flight_128B", self.flash_reads_in_flight(128), "count",
             "[D] Little's law: flash_lookups_per_s x flash_read_latency"),
            ("host_mac_rate", self.host_mac_rate(), "rate",
             "[D] cores x macs_per_cycle_per_core x clock x dense_efficiency"),
        ]
        return rows + [("derived", n, v, k, s) for n, v, k, s in derived]
