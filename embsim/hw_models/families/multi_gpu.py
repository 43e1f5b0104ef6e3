"""multi_gpu: N GPUs with HBM, host DDR over PCIe, an NVLink/NVSwitch or PCIe all-to-all.

Parts: per GPU, its SMs and tensor cores (``gpuN.sm``, a compute part), its
HBM (``gpuN.hbm``), its PCIe port to the host (``gpuN.pcie``) and its link
into the GPU fabric (``gpuN.link``, with its share of the switches); the
host DDR every GPU can read (``host.ddr``, unified memory) and the host front
end (``host``).

Decisions:

* **Devices are the GPUs.** Each has two slots: ``(gpuN, "hbm")`` (rank 0,
  32 B sectors) and ``(gpuN, "host_ddr")`` (rank 1, the UVM read size).  All
  ``host_ddr`` slots name the pool ``"host.ddr"``: one capacity for all GPUs.
* **HBM slot capacity** is the HBM size minus ``hbm_reserved`` (dense model,
  activations, CUDA context) minus the software cache, if any.
* **HBM gathers** move whole 32-B sectors at the HBM's Little's-law random
  bandwidth (``parts/memory.py``).
* **Host-DDR gathers** (UVM zero-copy) cross the GPU's PCIe port in
  ``uvm.access_bytes`` requests at ``uvm.efficiency`` of its per-direction
  peak.  The planner assumes all GPUs read at once (``min(pcie x eff,
  host_ddr peak / N)``); the simulator queues them on ``host.ddr`` (bytes /
  peak beside the GPU's work) and on their ``pcie_switch`` uplink, if any.
* **HBM software cache** (``hbm_cache.capacity`` > 0): rows of the
  ``host_ddr`` slot are cached in HBM; the replay simulates it as level
  ``"hbm_cache"``.  A hit costs an HBM gather; a miss the host-DDR gather
  plus writing the row into HBM.
* **Output write**: each GPU's shards and copies write their pooled vectors (``pooled_bytes_out``,
  ``local_bytes_out``) into HBM at its peak in the embedding stage (``shard_output_time_s``, as priced).
* **All-to-all** (transfer): GPU i keeps 1/N of its pooled vectors and sends
  the rest; its link time is latency + max(sent, received) / (bandwidth x
  efficiency).  With NVSwitch every GPU's links run at once.  No
  deduplication of lookups within a batch (as FBGEMM's TBE forward).
* **Dense MLP** on every GPU (1/N of the MACs) in the SMs' ``mlp_dtype`` at
  ``mlp_efficiency``.  Indices reach the GPUs over PCIe (``index_bytes`` each).
  Stages: host (front end, index copies on ``gpuN.pcie``), embedding
  (``gpuN``), transfer (``gpuN.link``), dense (``gpuN.sm``: overlaps the next
  batch's lookups, another stream), response (``host``).
"""
from typing import Literal, Optional

from ...config import Schema
from ...errors import InputError
from ..params import expected_lines, param
from ..parts import (ComputeParams, ComputeUnit, FrontEndParams, HostFrontEnd, Link, LinkParams, MemoryParams,
                     MemoryTier)
from ..system import BatchCost, Cost, Slot, StageWork, System, add, register_family
from . import figures
from .common import all_to_all, shard_rows
from .gpu_lookups import gpu_embedding
from .pcie_switch import PcieSwitches, SwitchParams


class HbmCacheParams(Schema):
    capacity: param("bytes", lo_inclusive=True)    # per GPU; 0 = no software cache


class UvmParams(Schema):
    efficiency: param("count", hi=1.0)             # share of the PCIe peak small UVM reads reach
    access_bytes: param("bytes", integer=True)     # granularity of a UVM read over PCIe


class MultiGpuParams(Schema):
    gpus: param("count", integer=True)
    gpu: ComputeParams
    hbm: MemoryParams
    hbm_reserved: param("bytes", lo_inclusive=True)   # per GPU: dense weights, activations, context
    hbm_cache: HbmCacheParams
    pcie: LinkParams
    uvm: UvmParams
    link: LinkParams
    host_ddr: MemoryParams
    host: FrontEndParams
    index_bytes: param("bytes")                    # per lookup index sent to the GPU
    pcie_switch: Optional[SwitchParams] = None     # GPUs behind shared PCIe switch uplinks (none: a port each)


class MultiGpuFile(Schema):
    family: Literal["multi_gpu"]
    name: str
    description: str = ""
    params: MultiGpuParams


@register_family("multi_gpu")
class MultiGpu(System):
    """N GPUs with HBM and shared host DDR.  See the module docstring for the model."""

    Schema: type = MultiGpuFile
    CACHE_LEVEL = "hbm_cache"
    HOST_POOL = "host.ddr"

    def __init__(self, name, params, source_file=None):
        super().__init__(name, params, source_file)
        p = self.p = params.params
        # made once: the planner asks for the devices on every lookup it prices (1e5 on 64 GPUs)
        self._devices = [f"gpu{i}" for i in range(int(p.gpus.value))]
        free = p.hbm.capacity.value - p.hbm_reserved.value - p.hbm_cache.capacity.value
        if free <= 0:
            raise InputError(f"{source_file}: params.hbm_reserved ({p.hbm_reserved.value / 1e9:g} GB) plus "
                             f"hbm_cache.capacity ({p.hbm_cache.capacity.value / 1e9:g} GB) leave no HBM for "
                             f"tables out of {p.hbm.capacity.value / 1e9:g} GB")
        self.table_hbm_B = free
        self.host = self.add_part(HostFrontEnd("host", p.host))
        self.host_ddr = self.add_part(MemoryTier(self.HOST_POOL, p.host_ddr))
        self.sm, self.hbm, self.pcie, self.link = {}, {}, {}, {}
        for d in self.devices:
            self.sm[d] = self.add_part(ComputeUnit(f"{d}.sm", p.gpu))
            self.hbm[d] = self.add_part(MemoryTier(f"{d}.hbm", p.hbm))
            self.pcie[d] = self.add_part(Link(f"{d}.pcie", p.pcie))
            self.link[d] = self.add_part(Link(f"{d}.link", p.link))
        self.switches = PcieSwitches(self, self.devices, p.pcie_switch)

    @property
    def devices(self):
        return list(self._devices)

    @property
    def caching(self):
        return self.p.hbm_cache.capacity.value > 0

    def connections(self):
        out = [("host", self.HOST_POOL)]
        for d in self.devices:
            out += [(self.HOST_POOL, f"{d}.pcie"), (f"{d}.pcie", d), (d, f"{d}.link")]
        return out

    def slots(self):
        out = []
        for d in self.devices:
            out.append(Slot(d, "hbm", self.table_hbm_B, 0, granularity_B=self.hbm[d].granularity_B))
            out.append(Slot(d, "host_ddr", self.host_ddr.capacity_B, 1, pool=self.HOST_POOL,
                            granularity_B=int(self.p.uvm.access_bytes.value)))
        return out

    def resources(self):
        return {"host": 1, self.HOST_POOL: 1, **self.switches.resources(),
                **{f"{d}{r}": 1 for d in self.devices for r in ("", ".sm", ".pcie", ".link")}}

    def peak_bandwidth_Bps(self):
        out = {self.HOST_POOL: self.host_ddr.peak_Bps, **self.switches.peaks()}
        for d in self.devices:
            out.update({f"{d}.hbm": self.hbm[d].peak_Bps, f"{d}.pcie": self.pcie[d].peak_Bps,
                        f"{d}.link": self.link[d].peak_Bps})
        return out

    # -- per-row and compute costs ---------------------------------------------
    def hbm_gather_Bps(self):
        return self.hbm[self.devices[0]].random_bandwidth_Bps()

    def host_gather_Bps(self):
        """Per-GPU bandwidth of UVM row reads: its PCIe port, or its share of the host DDR, whichever is less."""
        pcie = self.pcie[self.devices[0]].peak_Bps * self.p.uvm.efficiency.value
        return min(pcie, self.host_ddr.peak_Bps / len(self.devices))

    def _host_B(self, row_bytes):
        a = self.p.uvm.access_bytes.value
        return expected_lines(row_bytes, a) * a

    def _row_work(self, device, tier, row_bytes, port_only=False):
        """(time_s, actions) of one row from ``tier`` ("hbm", "host_ddr", "fill"); ``port_only``: host rows at the port rate."""
        self._check_devices([device])
        hbm = self.hbm[device]
        if tier in ("hbm", "fill"):
            b = hbm.access_B(row_bytes)
            return b / hbm.random_bandwidth_Bps(), {(hbm.name, "read_B" if tier == "hbm" else "write_B"): b}
        if tier == "host_ddr":
            b = self._host_B(row_bytes)
            rate = self.pcie[device].peak_Bps * self.p.uvm.efficiency.value if port_only else self.host_gather_Bps()
            return b / rate, {(self.HOST_POOL, "read_B"): b, (f"{device}.pcie", "transfer_B"): b}
        raise ValueError(f"{self.name}: no slot {device}.{tier}")

    def lookup_cost(self, slot, row_bytes, dtype="fp32", pooling=None):      # a TBE kernel's DMA: neither counts
        t, acts = self._row_work(slot.device, slot.tier, row_bytes)
        return Cost(t, self.dynamic_J(acts))

    def cache_levels(self):
        """The HBM software cache of every GPU in front of host DDR, if its capacity is above zero."""
        if not self.caching:
            return []
        return [dict(device=d, level=self.CACHE_LEVEL, capacity_B=self.p.hbm_cache.capacity.value,
                     above_tier="host_ddr", policy="lru") for d in self.devices]

    def cache_hit_cost(self, device, level, row_bytes):
        """Cost of one row read served by the HBM software cache (an HBM gather)."""
        if level != self.CACHE_LEVEL or device not in self.devices:
            raise ValueError(f"{self.name}: no cache {device}.{level}")
        return self.lookup_cost(self.slot(device, "hbm"), row_bytes)

    def cache_fill_cost(self, device, row_bytes):
        """Extra cost of a cache miss beyond the host-DDR gather: writing the row into HBM."""
        t, acts = self._row_work(device, "fill", row_bytes)
        return Cost(t, self.dynamic_J(acts))

    def shard_output_time_s(self, device, pooled_bytes):
        """Seconds ``device``'s shards take to write ``pooled_bytes`` of pooled vectors: HBM at its peak."""
        self._check_devices([device])
        return pooled_bytes / self.hbm[device].peak_Bps

    def compute_cost(self, device, macs):
        self._check_devices([device])
        sm = self.sm[device]
        return Cost(sm.mac_time_s(macs), self.dynamic_J({(sm.name, f"op_{sm.p.mlp_dtype}"): 2.0 * macs}))

    def attention_work(self, load):
        """HSTU layers data parallel: each GPU runs 1/N of the attention FLOPs at ``compute_cost``'s rate."""
        if not load.attention_flops:
            return [], {}
        f = load.attention_flops / len(self.devices)
        return ([StageWork("attention", d, self.compute_cost(d, f / 2.0).time_s) for d in self.devices],
                {(f"{d}.sm", f"op_{self.sm[d].p.mlp_dtype}"): f for d in self.devices})

    def batch_cost(self, load):
        self._check_devices(load.devices)
        N, B = len(self.devices), load.batch_size
        actions, nbytes = {}, {}
        work = [StageWork("host", "host", self.host.host_time_s(B))]
        for dev in self.devices:
            dl = load.devices.get(dev)
            if dl is None:
                work.append(StageWork("embedding", dev, 0.0))
                continue
            idx_B = sum(g.lookups + sum(g.hits.values()) for g in shard_rows(self, dev, dl)) * self.p.index_bytes.value
            work.append(StageWork("host", f"{dev}.pcie", self.pcie[dev].transfer_time_s(idx_B)))
            self.switches.transfer_one(work, "host", dev, idx_B, nbytes)
            add(actions, (f"{dev}.pcie", "transfer_B"), idx_B), add(nbytes, f"{dev}.pcie", idx_B)
            t, host_B = gpu_embedding(self, dev, dl, actions, nbytes)
            out_B = dl.pooled_bytes_out + dl.local_bytes_out    # shards' vectors and copies' own samples'
            if out_B:    # written before the all-to-all (which sends the shards' only)
                t += self.shard_output_time_s(dev, out_B)
                add(actions, (f"{dev}.hbm", "write_B"), out_B)
                add(nbytes, f"{dev}.hbm", out_B)
            work.append(StageWork("embedding", dev, t))
            if host_B:   # the shared host DDR and switch uplink, at once with the GPU
                work.append(StageWork("embedding", self.HOST_POOL, host_B / self.host_ddr.peak_Bps))
                self.switches.transfer_one(work, "embedding", dev, host_B, nbytes)
        flows = all_to_all({d: dl.pooled_bytes_out for d, dl in load.devices.items()}, self.devices)
        for d, (sent, recv) in flows.items():
            if sent or recv:
                work.append(StageWork("transfer", f"{d}.link", self.link[d].transfer_time_s(max(sent, recv))))
                add(actions, (f"{d}.link", "transfer_B"), sent)
                add(nbytes, f"{d}.link", max(sent, recv))
        for d in self.devices:
            work.append(StageWork("dense", f"{d}.sm", self.sm[d].mac_time_s(load.dense_macs / N)))
            add(actions, (f"{d}.sm", f"op_{self.sm[d].p.mlp_dtype}"), 2.0 * load.dense_macs / N)
        work.append(StageWork("response", "host", self.host.response_time_s(B)))
        return BatchCost(work, actions, nbytes)

    def derived_figures(self):
        """Rows (part, figure, value, unit kind, formula) for 'hw show' (figures.py)."""
        return figures.multi_gpu(self)
