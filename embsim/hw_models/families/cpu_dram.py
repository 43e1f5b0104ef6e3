"""cpu_dram: a CPU server whose embedding tables live in DDR DRAM.

Parts: S sockets, each with C cores, a last-level cache (LLC) and D DDR
channels; sockets joined by UPI; a host front end that receives queries and
sends responses.

Decisions (a user of the model should know them):

* **Devices are sockets** (``socket0``, ``socket1``): each socket's DRAM is
  its own NUMA node and its cores gather from it, so a table shard placed on a
  socket is gathered by that socket's cores.  Remote-socket gathers are not
  modelled; the cost model places a table on one socket.
* **Slots**: one per socket, ``(socketN, "dram")``.  The LLC is *not* a slot:
  hardware decides what it holds, software cannot pin rows there.  It is a
  cache level named ``"llc"`` that the replay simulates; its hits are costed at
  the LLC's speed (``cache_hit_cost``).
* **Row gathers cost whole 64-byte lines** (``expected_lines``) at a
  *random-access* bandwidth set by memory-level parallelism (Little's law):
  each core keeps ``lines_in_flight`` misses outstanding, each taking
  ``latency``, so C cores move ``C * lines_in_flight * 64 B / latency``,
  capped by the channels' peak ``channels * transfer_rate * bus_width``.  The
  streaming peak is never used directly for gathers.
* Each row gather also costs its core ``gather_overhead`` (index load, address
  arithmetic, loop) plus ``row_bytes / sum_bandwidth`` (adding the row into its
  bag); cores work in parallel, so a socket pays 1/C of it per row.  So at full
  concurrency one row costs

      t = (gather_overhead + row_bytes / sum_bandwidth) / C
          + lines * 64 / min(peak, C * lines_in_flight * 64 / latency)

* **No deduplication**: every lookup gathers its row; repeats within a batch
  are LLC hits if the replay says so.  ``unique_rows`` is not used.
* The dense MLP runs data parallel on all sockets (each takes 1/S of the
  MACs) at ``mlp_efficiency`` of the cores' FP32 peak; pooled embeddings a
  socket needs from the other sockets cross UPI in the transfer stage.
* Pooling adds are not charged energy (one FP32 add per 4 B read is about
  1 pJ against ~500 pJ to read the 32 bits' line share from DRAM).

Stages and resources: ``host`` (query parsing) and ``response`` on the
resource ``host``; ``embedding`` and ``dense`` on ``socketN``; ``transfer`` on
``socketN.upi`` (absent with one socket).
"""
from typing import Literal

import networkx as nx

from ...config import Schema
from ..params import describe_params, expected_lines, param
from ..system import BatchCost, Cost, Slot, StageWork, System, register_family
from .common import shard_rows


# ------------------------------------------------------------------ schema ---
class CoreParams(Schema):
    """The cores of one socket."""

    count: param("count", integer=True)               # cores per socket
    frequency: param("frequency")                     # all-core clock under vector load
    flops_per_cycle: param("count")                   # FP32 FLOP per cycle per core (FMA units x lanes x 2)
    mlp_efficiency: param("count", hi=1.0)            # share of FP32 peak the dense MLP reaches
    lines_in_flight: param("count")                   # memory-level parallelism: outstanding misses per core
    gather_overhead: param("time")                    # core time per row gather besides the memory wait
    sum_bandwidth: param("bandwidth")                 # bytes per second one core adds into bags from cache
    flop_energy: param("energy")                      # J per FP32 FLOP (MAC = 2 FLOP)
    static_power: param("power")                      # per socket, idle


class LlcParams(Schema):
    capacity: param("bytes")                          # per socket
    latency: param("time")                            # load-to-use latency of an LLC hit
    bandwidth: param("bandwidth")                     # per socket, peak
    read_energy: param("energy_per_bit")


class DramParams(Schema):
    channels: param("count", integer=True)            # per socket
    transfer_rate: param("rate")                      # MT/s per channel
    bus_width: param("bytes")                         # bytes per transfer per channel
    capacity: param("bytes")                          # per socket
    latency: param("time")                            # random-read latency a gather waits
    line_bytes: param("bytes", integer=True)          # access granularity
    read_energy: param("energy_per_bit")              # whole-system energy per bit read
    static_power: param("power")                      # all DIMMs of one socket


class UpiParams(Schema):
    bandwidth: param("bandwidth")                     # per socket, per direction (all its links)
    energy: param("energy_per_bit")


class HostParams(Schema):
    batch_overhead: param("time")                     # per batch: receive, batch, launch
    sample_overhead: param("time")                    # per sample: parse features, build indices
    response_per_sample: param("time")                # per sample: serialise and send the score
    static_power: param("power")                      # rest of the server (board, fans, NIC, disks)


class CpuDramParams(Schema):
    sockets: param("count", integer=True)
    core: CoreParams
    llc: LlcParams
    dram: DramParams
    upi: UpiParams
    host: HostParams


class CpuDramFile(Schema):
    family: Literal["cpu_dram"]
    name: str
    description: str = ""
    params: CpuDramParams


# ------------------------------------------------------------------ family ---
@register_family("cpu_dram")
class CpuDram(System):
    """A multi-socket CPU server with DDR DRAM.  See the module docstring for the model."""

    Schema = CpuDramFile
    CACHE_LEVEL = "llc"

    @property
    def p(self):
        return self.params.params

    # -- structure ---------------------------------------------------------
    def build_graph(self):
        p = self.params.params
        g = nx.DiGraph()
        g.add_node("host", kind="host", **{k: v.value for k, v in p.host})
        for i in range(int(p.sockets.value)):
            s = f"socket{i}"
            g.add_node(s, kind="device")
            g.add_node(f"{s}.cores", kind="compute", **{k: v.value for k, v in p.core})
            g.add_node(f"{s}.llc", kind="cache", **{k: v.value for k, v in p.llc})
            g.add_node(f"{s}.dram", kind="memory", peak_bandwidth_Bps=self._dram_peak(),
                       **{k: v.value for k, v in p.dram})
            for part in ("cores", "llc", "dram"):
                g.add_edge(s, f"{s}.{part}", kind="contains")
            g.add_edge(f"{s}.cores", f"{s}.llc", kind="link")
            g.add_edge(f"{s}.llc", f"{s}.dram", kind="link")
            g.add_edge("host", s, kind="link")
        if int(p.sockets.value) > 1:
            g.add_node("upi", kind="link", **{k: v.value for k, v in p.upi})
            for i in range(int(p.sockets.value)):
                g.add_edge(f"socket{i}", "upi", kind="link")
        return g

    @property
    def devices(self):
        return [f"socket{i}" for i in range(int(self.params.params.sockets.value))]

    def slots(self):
        return [Slot(d, "dram", self.p.dram.capacity.value, 0) for d in self.devices]

    def resources(self):
        r = {"host": 1}
        for d in self.devices:
            r[d] = 1
            if len(self.devices) > 1:
                r[f"{d}.upi"] = 1
        return r

    # -- bandwidths ----------------------------------------------------------
    def _dram_peak(self):
        d = self.params.params.dram
        return d.channels.value * d.transfer_rate.value * d.bus_width.value

    def random_bandwidth_Bps(self, level="dram", cores=None):
        """Random-access bandwidth of one socket's DRAM (or LLC) with ``cores`` cores gathering.

        Little's law: cores x lines in flight x line bytes / latency, capped by
        the peak.  ``cores`` defaults to all cores of the socket.
        """
        p = self.p
        c = p.core.count.value if cores is None else cores
        line = p.dram.line_bytes.value
        if level == "dram":
            lat, peak = p.dram.latency.value, self._dram_peak()
        elif level == self.CACHE_LEVEL:
            lat, peak = p.llc.latency.value, p.llc.bandwidth.value
        else:
            raise ValueError(f"{self.name}: no memory level {level!r} (dram, llc)")
        return min(peak, c * p.core.lines_in_flight.value * line / lat)

    def peak_bandwidth_Bps(self):
        out = {}
        for d in self.devices:
            out[f"{d}.dram"] = self._dram_peak()
            out[f"{d}.llc"] = self.p.llc.bandwidth.value
        if len(self.devices) > 1:
            out["upi"] = len(self.devices) * self.p.upi.bandwidth.value
        return out

    # -- per-row and compute costs ---------------------------------------------
    def gather_time_s(self, row_bytes, lookups=1.0, level="dram", cores=None):
        """Time for ``lookups`` row gathers of ``row_bytes`` from ``level`` using ``cores`` cores of one socket."""
        p = self.p
        c = p.core.count.value if cores is None else cores
        line = p.dram.line_bytes.value
        core_s = p.core.gather_overhead.value + row_bytes / p.core.sum_bandwidth.value
        mem_s = expected_lines(row_bytes, line) * line / self.random_bandwidth_Bps(level, c)
        return lookups * (core_s / c + mem_s)

    def gather_core_s(self, row_bytes, cores=None):
        """The core part of one row gather (overhead and summing, over ``cores`` cores), without its memory time."""
        p = self.p
        c = p.core.count.value if cores is None else cores
        return (p.core.gather_overhead.value + row_bytes / p.core.sum_bandwidth.value) / c

    def coalesced_lookup_cost(self, slot, row_bytes):
        """A lookup whose lines a read of the same batch already brought: its core work only."""
        return Cost(self.gather_core_s(row_bytes), 0.0)

    def _row_bytes_moved(self, row_bytes):
        line = self.p.dram.line_bytes.value
        return expected_lines(row_bytes, line) * line

    def lookup_cost(self, slot, row_bytes):
        if slot.tier != "dram" or slot.device not in self.devices:
            raise ValueError(f"{self.name}: no slot {slot.key}")
        e = self._row_bytes_moved(row_bytes) * 8 * self.p.dram.read_energy.value
        return Cost(self.gather_time_s(row_bytes, 1.0, "dram"), e)

    def cache_levels(self):
        """The LLC of every socket, in front of its DRAM (the replay simulates it)."""
        return [dict(device=d, level=self.CACHE_LEVEL, capacity_B=self.p.llc.capacity.value, above_tier="dram")
                for d in self.devices]

    def cache_hit_cost(self, device, level, row_bytes):
        """Cost of one row gather served by cache ``level`` ("llc") of ``device``."""
        if level != self.CACHE_LEVEL or device not in self.devices:
            raise ValueError(f"{self.name}: no cache {device}.{level}")
        e = self._row_bytes_moved(row_bytes) * 8 * self.p.llc.read_energy.value
        return Cost(self.gather_time_s(row_bytes, 1.0, level), e)

    def _flop_rate(self):
        c = self.p.core
        return c.count.value * c.frequency.value * c.flops_per_cycle.value * c.mlp_efficiency.value

    def compute_cost(self, device, macs):
        self._check_devices([device])
        return Cost(2.0 * macs / self._flop_rate(), 2.0 * macs * self.p.core.flop_energy.value)

    # -- one batch -------------------------------------------------------------
    def batch_cost(self, load):
        p = self.p
        self._check_devices(load.devices)
        S = len(self.devices)
        B = load.batch_size
        work = [StageWork("host", "host", p.host.batch_overhead.value + B * p.host.sample_overhead.value)]
        actions, nbytes = {}, {}

        def add(d, k, v):
            d[k] = d.get(k, 0.0) + v

        pooled = {}
        for dev in self.devices:
            dl = load.devices.get(dev)
            t = 0.0
            if dl is not None:
                for g in shard_rows(self, dev, dl):
                    moved = self._row_bytes_moved(g.row_bytes)
                    # reads: rows DRAM serves after coalescing; the other lookups cost their core work only
                    t += g.reads * self.gather_time_s(g.row_bytes, 1.0, "dram")
                    t += (g.lookups - g.reads) * self.gather_core_s(g.row_bytes)
                    add(actions, (f"{dev}.dram", "read_B"), g.reads * moved)
                    add(nbytes, f"{dev}.dram", g.reads * moved)
                    for level, hits in g.hits.items():
                        if level != self.CACHE_LEVEL:
                            raise ValueError(f"{self.name}: {dev}: unknown cache level {level!r} (expected 'llc')")
                        t += hits * self.gather_time_s(g.row_bytes, 1.0, level)
                        add(actions, (f"{dev}.llc", "read_B"), hits * moved)
                        add(nbytes, f"{dev}.llc", hits * moved)
                if dl.tt_macs:
                    t += self.compute_cost(dev, dl.tt_macs).time_s
                    add(actions, (f"{dev}.cores", "flop"), 2.0 * dl.tt_macs)
                pooled[dev] = dl.pooled_bytes_out
            work.append(StageWork("embedding", dev, t))

        if S > 1:
            # Dense runs data parallel: socket k keeps 1/S of every socket's pooled vectors
            # and receives its share of the others'.
            share = {d: pooled.get(d, 0.0) * (S - 1) / S for d in self.devices}
            total_sent = sum(share.values())
            for d in self.devices:
                recv = (total_sent - share[d]) / (S - 1)
                work.append(StageWork("transfer", f"{d}.upi", max(share[d], recv) / p.upi.bandwidth.value))
            if total_sent:
                add(actions, ("upi", "transfer_B"), total_sent)
                add(nbytes, "upi", total_sent)

        for d in self.devices:
            c = self.compute_cost(d, load.dense_macs / S)
            work.append(StageWork("dense", d, c.time_s))
            add(actions, (f"{d}.cores", "flop"), 2.0 * load.dense_macs / S)
        work.append(StageWork("response", "host", B * p.host.response_per_sample.value))
        return BatchCost(work, actions, nbytes)

    # -- energy and description ------------------------------------------------
    def energy_per_action_J(self):
        p = self.p
        out = {}
        for d in self.devices:
            out[(f"{d}.dram", "read_B")] = 8 * p.dram.read_energy.value
            out[(f"{d}.llc", "read_B")] = 8 * p.llc.read_energy.value
            out[(f"{d}.cores", "flop")] = p.core.flop_energy.value
        if len(self.devices) > 1:
            out[("upi", "transfer_B")] = 8 * p.upi.energy.value
        return out

    def static_power_W(self):
        p = self.p
        out = {"host": p.host.static_power.value}
        for d in self.devices:
            out[d] = p.core.static_power.value
            out[f"{d}.dram"] = p.dram.static_power.value
        return out

    def describe(self):
        return describe_params(self.p)

    def derived_figures(self):
        """Rows (part, figure, value, unit kind, formula) that follow from the parameters, for 'hw show'."""
        peak = self._dram_peak()
        rnd = self.random_bandwidth_Bps()
        return [
            ("dram", "peak_bandwidth", peak, "bandwidth", "channels x transfer_rate x bus_width, per socket"),
            ("dram", "random_bandwidth", rnd, "bandwidth",
             f"min(peak, cores x lines_in_flight x line / latency) per socket = {rnd / peak:.0%} of peak"),
            ("llc", "random_bandwidth", self.random_bandwidth_Bps("llc"), "bandwidth",
             "min(llc bandwidth, cores x lines_in_flight x line / llc latency) per socket"),
            ("dram", "lookup_time_256B", self.gather_time_s(256), "time", "one 256-B row at full socket concurrency"),
            ("core", "mlp_flops", self._flop_rate(), "rate", "cores x frequency x flops_per_cycle x mlp_efficiency, per socket"),
        ]
