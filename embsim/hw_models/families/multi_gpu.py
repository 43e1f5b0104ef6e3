"""multi_gpu: N GPUs with HBM, host DDR over PCIe, an NVLink/NVSwitch or PCIe all-to-all.

Parts: N GPUs (``gpu0`` .. ``gpuN-1``), each with HBM, a PCIe link to the
host and a link into the GPU fabric (NVLink through NVSwitch, or PCIe); a host
with DDR DRAM that every GPU can read (unified memory).

Decisions:

* **Devices are the GPUs.** Each GPU has two slots: ``(gpuN, "hbm")`` (rank 0)
  and ``(gpuN, "host_ddr")`` (rank 1).  All ``host_ddr`` slots name the same
  pool ``"host.ddr"``: the host memory is one capacity shared by every GPU.
* **HBM slot capacity** is the HBM size minus ``reserved`` (dense model,
  activations, CUDA context) minus the software cache, if any.
* **HBM gathers** move whole 32-B sectors (``sector_bytes``) and reach
  ``gather_efficiency`` of the HBM peak (random rows do not stream).
* **Host-DDR gathers** (UVM zero-copy) cross the GPU's PCIe link in
  ``access_bytes`` requests at ``efficiency`` of the link's per-direction peak;
  the host DDR is shared, so under full load each GPU gets 1/N of its peak:
  the per-row time uses ``min(pcie * efficiency, host_ddr_peak / N)``.
* **HBM software cache** (optional, ``hbm_cache.capacity`` > 0): rows of the
  ``host_ddr`` slot are cached in HBM; the replay simulates it under the level
  name ``"hbm_cache"``.  A hit costs an HBM gather; a miss costs the host-DDR
  gather plus writing the row into HBM.
* **No deduplication** of lookups within a batch (as FBGEMM's TBE forward).
* **All-to-all** (transfer stage): dense runs data parallel, so GPU i keeps
  1/N of its pooled vectors and sends the rest; its link time is
  max(sent, received) / (link bandwidth x efficiency) + one hop latency.
  With NVSwitch every GPU's links run at once (non-blocking fabric).
* **Dense MLP** on every GPU (1/N of the MACs each) at ``mlp_efficiency`` of
  the dense tensor-core peak given in ``compute.peak_flops``.
* Indices reach the GPUs over PCIe in the host stage (``index_bytes`` each).

Stages and resources: ``host`` (front end, then index copies on
``gpuN.pcie``), ``embedding`` and ``dense`` on ``gpuN``, ``transfer`` on
``gpuN.link``, ``response`` on ``host``.
"""
from typing import Literal

import networkx as nx

from ...config import Schema
from ..params import describe_params, expected_lines, param
from ..system import BatchCost, Cost, Slot, StageWork, System, register_family
from .common import shard_rows


class HbmParams(Schema):
    capacity: param("bytes")                       # per GPU
    bandwidth: param("bandwidth")                  # per GPU, peak
    sector_bytes: param("bytes", integer=True)     # access granularity of a gather
    gather_efficiency: param("count", hi=1.0)      # share of peak random row gathers reach
    reserved: param("bytes", lo_inclusive=True)    # kept for dense weights, activations, context
    read_energy: param("energy_per_bit")
    write_energy: param("energy_per_bit")


class HbmCacheParams(Schema):
    capacity: param("bytes", lo_inclusive=True)    # per GPU; 0 = no software cache


class ComputeParams(Schema):
    peak_flops: param("rate")                      # dense MLP peak per GPU
    mlp_efficiency: param("count", hi=1.0)
    flop_energy: param("energy")                   # J per FLOP (MAC = 2 FLOP)
    static_power: param("power")                   # per GPU, idle


class PcieParams(Schema):
    bandwidth: param("bandwidth")                  # per GPU, per direction
    efficiency: param("count", hi=1.0)             # share of peak small UVM reads reach
    access_bytes: param("bytes", integer=True)     # granularity of a UVM read over PCIe
    energy: param("energy_per_bit")


class LinkParams(Schema):
    kind: Literal["nvlink", "pcie"]
    bandwidth: param("bandwidth")                  # per GPU, per direction
    efficiency: param("count", hi=1.0)             # achieved all-to-all bus bandwidth share
    latency: param("time")                         # per all-to-all (one hop through the switch)
    energy: param("energy_per_bit")
    static_power: param("power")                   # switches of the whole fabric


class HostDdrParams(Schema):
    capacity: param("bytes")                       # whole host
    bandwidth: param("bandwidth")                  # whole host, peak
    read_energy: param("energy_per_bit")
    static_power: param("power")


class HostParams(Schema):
    batch_overhead: param("time")
    sample_overhead: param("time")
    response_per_sample: param("time")
    index_bytes: param("bytes")                    # per lookup index sent to the GPU
    static_power: param("power")                   # CPUs, board, fans, NICs


class MultiGpuParams(Schema):
    gpus: param("count", integer=True)
    hbm: HbmParams
    hbm_cache: HbmCacheParams
    compute: ComputeParams
    pcie: PcieParams
    link: LinkParams
    host_ddr: HostDdrParams
    host: HostParams


class MultiGpuFile(Schema):
    family: Literal["multi_gpu"]
    name: str
    description: str = ""
    params: MultiGpuParams


@register_family("multi_gpu")
class MultiGpu(System):
    """N GPUs with HBM and shared host DDR.  See the module docstring for the model."""

    Schema = MultiGpuFile
    CACHE_LEVEL = "hbm_cache"
    HOST_POOL = "host.ddr"

    @property
    def p(self):
        return self.params.params

    def __init__(self, name, params, source_file=None):
        super().__init__(name, params, source_file)
        p = self.p
        free = p.hbm.capacity.value - p.hbm.reserved.value - p.hbm_cache.capacity.value
        if free <= 0:
            from ...errors import InputError
            raise InputError(f"{source_file}: params.hbm: reserved ({p.hbm.reserved.value / 1e9:g} GB) plus "
                             f"hbm_cache.capacity ({p.hbm_cache.capacity.value / 1e9:g} GB) leave no HBM for "
                             f"tables out of {p.hbm.capacity.value / 1e9:g} GB")

    # -- structure ---------------------------------------------------------
    def build_graph(self):
        p = self.params.params
        g = nx.DiGraph()
        g.add_node("host", kind="host", **{k: v.value for k, v in p.host if hasattr(v, "value")})
        g.add_node(self.HOST_POOL, kind="memory", **{k: v.value for k, v in p.host_ddr})
        g.add_edge("host", self.HOST_POOL, kind="contains")
        g.add_node("fabric", kind="switch", link=p.link.kind, static_power_W=p.link.static_power.value)
        for i in range(int(p.gpus.value)):
            d = f"gpu{i}"
            g.add_node(d, kind="device", **{k: v.value for k, v in p.compute})
            g.add_node(f"{d}.hbm", kind="memory", **{k: v.value for k, v in p.hbm})
            g.add_edge(d, f"{d}.hbm", kind="contains")
            if p.hbm_cache.capacity.value > 0:
                g.add_node(f"{d}.hbm_cache", kind="cache", capacity=p.hbm_cache.capacity.value)
                g.add_edge(f"{d}.hbm", f"{d}.hbm_cache", kind="contains")
            g.add_node(f"{d}.pcie", kind="link", **{k: v.value for k, v in p.pcie})
            g.add_edge(self.HOST_POOL, f"{d}.pcie", kind="link")
            g.add_edge(f"{d}.pcie", d, kind="link")
            g.add_node(f"{d}.link", kind="link", link=p.link.kind,
                       **{k: v.value for k, v in p.link if k != "kind"})
            g.add_edge(d, f"{d}.link", kind="link")
            g.add_edge(f"{d}.link", "fabric", kind="link")
        return g

    @property
    def devices(self):
        return [f"gpu{i}" for i in range(int(self.params.params.gpus.value))]

    def slots(self):
        p = self.p
        hbm = p.hbm.capacity.value - p.hbm.reserved.value - p.hbm_cache.capacity.value
        out = []
        for d in self.devices:
            out.append(Slot(d, "hbm", hbm, 0))
            out.append(Slot(d, "host_ddr", p.host_ddr.capacity.value, 1, pool=self.HOST_POOL))
        return out

    def resources(self):
        r = {"host": 1}
        for d in self.devices:
            r[d] = 1
            r[f"{d}.pcie"] = 1
            r[f"{d}.link"] = 1
        return r

    # -- bandwidths ----------------------------------------------------------
    def hbm_gather_Bps(self):
        return self.p.hbm.bandwidth.value * self.p.hbm.gather_efficiency.value

    def host_gather_Bps(self):
        """Per-GPU bandwidth of UVM row reads: its PCIe link, or its share of the host DDR, whichever is less."""
        p = self.p
        return min(p.pcie.bandwidth.value * p.pcie.efficiency.value, p.host_ddr.bandwidth.value / len(self.devices))

    def peak_bandwidth_Bps(self):
        p = self.p
        out = {self.HOST_POOL: p.host_ddr.bandwidth.value}
        for d in self.devices:
            out[f"{d}.hbm"] = p.hbm.bandwidth.value
            out[f"{d}.pcie"] = p.pcie.bandwidth.value
            out[f"{d}.link"] = p.link.bandwidth.value
        return out

    # -- per-row and compute costs ---------------------------------------------
    def _hbm_bytes(self, row_bytes):
        sec = self.p.hbm.sector_bytes.value
        return expected_lines(row_bytes, sec) * sec

    def _host_bytes(self, row_bytes):
        a = self.p.pcie.access_bytes.value
        return expected_lines(row_bytes, a) * a

    def lookup_cost(self, slot, row_bytes):
        p = self.p
        if slot.device not in self.devices:
            raise ValueError(f"{self.name}: no slot {slot.key}")
        if slot.tier == "hbm":
            b = self._hbm_bytes(row_bytes)
            return Cost(b / self.hbm_gather_Bps(), b * 8 * p.hbm.read_energy.value)
        if slot.tier == "host_ddr":
            b = self._host_bytes(row_bytes)
            return Cost(b / self.host_gather_Bps(), b * 8 * (p.host_ddr.read_energy.value + p.pcie.energy.value))
        raise ValueError(f"{self.name}: no slot {slot.key}")

    def cache_levels(self):
        """The HBM software cache of every GPU in front of host DDR, if its capacity is above zero."""
        cap = self.p.hbm_cache.capacity.value
        if cap <= 0:
            return []
        return [dict(device=d, level=self.CACHE_LEVEL, capacity_B=cap, above_tier="host_ddr") for d in self.devices]

    def cache_hit_cost(self, device, level, row_bytes):
        """Cost of one row read served by the HBM software cache (an HBM gather)."""
        if level != self.CACHE_LEVEL or device not in self.devices:
            raise ValueError(f"{self.name}: no cache {device}.{level}")
        return self.lookup_cost(Slot(device, "hbm", 0, 0), row_bytes)

    def cache_fill_cost(self, device, row_bytes):
        """Extra cost of a cache miss beyond the host-DDR gather: writing the row into HBM."""
        p = self.p
        b = self._hbm_bytes(row_bytes)
        return Cost(b / self.hbm_gather_Bps(), b * 8 * p.hbm.write_energy.value)

    def _flop_rate(self):
        c = self.p.compute
        return c.peak_flops.value * c.mlp_efficiency.value

    def compute_cost(self, device, macs):
        self._check_devices([device])
        return Cost(2.0 * macs / self._flop_rate(), 2.0 * macs * self.p.compute.flop_energy.value)

    def attention_work(self, load):
        """HSTU layers data parallel: each GPU runs 1/N of the batch's attention FLOPs at the dense rate.

        The rate is ``compute_cost``'s (peak x mlp_efficiency, on the tensor
        cores); an even split assumes sequences are spread over GPUs by length.
        """
        if not load.attention_flops:
            return [], {}
        f = load.attention_flops / len(self.devices)
        return ([StageWork("attention", d, self.compute_cost(d, f / 2.0).time_s) for d in self.devices],
                {(d, "flop"): f for d in self.devices})

    # -- one batch -------------------------------------------------------------
    def batch_cost(self, load):
        p = self.p
        self._check_devices(load.devices)
        N = len(self.devices)
        B = load.batch_size
        caching = p.hbm_cache.capacity.value > 0
        actions, nbytes = {}, {}

        def add(d, k, v):
            if v:
                d[k] = d.get(k, 0.0) + v

        work = [StageWork("host", "host", p.host.batch_overhead.value + B * p.host.sample_overhead.value)]
        pooled = {}
        emb = []
        for dev in self.devices:
            dl = load.devices.get(dev)
            t = 0.0
            if dl is not None:
                groups = shard_rows(self, dev, dl)
                lookups = sum(g.lookups + sum(g.hits.values()) for g in groups)
                idx_B = lookups * p.host.index_bytes.value
                work.append(StageWork("host", f"{dev}.pcie", idx_B / p.pcie.bandwidth.value))
                add(actions, (f"{dev}.pcie", "transfer_B"), idx_B)
                add(nbytes, f"{dev}.pcie", idx_B)
                for g in groups:
                    slot = Slot(dev, g.tier, 0, 0)
                    t += g.reads * self.lookup_cost(slot, g.row_bytes).time_s     # reads: after coalescing
                    if g.tier == "hbm":
                        b = g.reads * self._hbm_bytes(g.row_bytes)
                        add(actions, (f"{dev}.hbm", "read_B"), b)
                        add(nbytes, f"{dev}.hbm", b)
                    else:
                        b = g.reads * self._host_bytes(g.row_bytes)
                        add(actions, (self.HOST_POOL, "read_B"), b)
                        add(actions, (f"{dev}.pcie", "transfer_B"), b)
                        add(nbytes, self.HOST_POOL, b)
                        add(nbytes, f"{dev}.pcie", b)
                        if caching:  # every miss is written into the software cache
                            t += g.lookups * self.cache_fill_cost(dev, g.row_bytes).time_s
                            w = g.lookups * self._hbm_bytes(g.row_bytes)
                            add(actions, (f"{dev}.hbm", "write_B"), w)
                            add(nbytes, f"{dev}.hbm", w)
                    for level, hits in g.hits.items():
                        if level != self.CACHE_LEVEL or not caching:
                            raise ValueError(f"{self.name}: {dev}: hits at cache level {level!r}, but this system "
                                             f"has {'an hbm_cache' if caching else 'no cache'}")
                        t += hits * self.cache_hit_cost(dev, level, g.row_bytes).time_s
                        b = hits * self._hbm_bytes(g.row_bytes)
                        add(actions, (f"{dev}.hbm", "read_B"), b)
                        add(nbytes, f"{dev}.hbm", b)
                if dl.tt_macs:
                    t += self.compute_cost(dev, dl.tt_macs).time_s
                    add(actions, (dev, "flop"), 2.0 * dl.tt_macs)
                pooled[dev] = dl.pooled_bytes_out
            emb.append(StageWork("embedding", dev, t))
        work += emb

        # All-to-all of pooled vectors: GPU i keeps 1/N, sends the rest evenly.
        sent = {d: pooled.get(d, 0.0) * (N - 1) / N for d in self.devices}
        total = sum(sent.values())
        if N > 1 and total > 0:
            bw = p.link.bandwidth.value * p.link.efficiency.value
            for d in self.devices:
                recv = (total - sent[d]) / (N - 1)
                work.append(StageWork("transfer", f"{d}.link", p.link.latency.value + max(sent[d], recv) / bw))
                add(actions, (f"{d}.link", "transfer_B"), sent[d])
                add(nbytes, f"{d}.link", max(sent[d], recv))

        for d in self.devices:
            work.append(StageWork("dense", d, self.compute_cost(d, load.dense_macs / N).time_s))
            add(actions, (d, "flop"), 2.0 * load.dense_macs / N)
        work.append(StageWork("response", "host", B * p.host.response_per_sample.value))
        return BatchCost(work, actions, nbytes)

    # -- energy and description ------------------------------------------------
    def energy_per_action_J(self):
        p = self.p
        out = {(self.HOST_POOL, "read_B"): 8 * p.host_ddr.read_energy.value}
        for d in self.devices:
            out[(f"{d}.hbm", "read_B")] = 8 * p.hbm.read_energy.value
            out[(f"{d}.hbm", "write_B")] = 8 * p.hbm.write_energy.value
            out[(f"{d}.pcie", "transfer_B")] = 8 * p.pcie.energy.value
            out[(f"{d}.link", "transfer_B")] = 8 * p.link.energy.value
            out[(d, "flop")] = p.compute.flop_energy.value
        return out

    def static_power_W(self):
        p = self.p
        out = {"host": p.host.static_power.value, self.HOST_POOL: p.host_ddr.static_power.value,
               "fabric": p.link.static_power.value}
        for d in self.devices:
            out[d] = p.compute.static_power.value
        return out

    def describe(self):
        return describe_params(self.p)

    def derived_figures(self):
        """Rows (part, figure, value, unit kind, formula) that follow from the parameters, for 'hw show'."""
        d = self.devices[0]
        return [
            ("hbm", "gather_bandwidth", self.hbm_gather_Bps(), "bandwidth", "bandwidth x gather_efficiency, per GPU"),
            ("host_ddr", "gather_bandwidth", self.host_gather_Bps(), "bandwidth",
             "min(pcie bandwidth x efficiency, host_ddr bandwidth / gpus), per GPU"),
            ("hbm", "lookup_time_256B", self.lookup_cost(self.slot(d, "hbm"), 256).time_s, "time", "one 256-B row"),
            ("host_ddr", "lookup_time_256B", self.lookup_cost(self.slot(d, "host_ddr"), 256).time_s, "time",
             "one 256-B row over PCIe"),
            ("compute", "mlp_flops", self._flop_rate(), "rate", "peak_flops x mlp_efficiency, per GPU"),
        ]
