"""cpu_dram: a CPU server whose embedding tables live in DDR DRAM.

Parts (``hw_models/parts``): per socket, CPU cores (``socketN.cpu``, a
``cpu`` part: cores, AVX-512/AMX rates, the gather loop's costs), a
last-level cache (``socketN.llc``) and DDR DRAM (``socketN.dram``);
``upi`` between sockets; the host front end (``host``).

Decisions (a user of the model should know them):

* **Devices are sockets**: each socket's DRAM is its own NUMA node and its
  cores gather from it.  Remote-socket gathers are not modelled; the cost
  model places a table on one socket.
* **Slots**: one per socket, ``(socketN, "dram")``, at the DRAM's 64 B
  granularity.  The LLC is not a slot (hardware decides what it holds): it
  is a cache level ``"llc"`` the replay simulates, its hits costed at the
  LLC's speed (``cache_hit_cost``).
* **A row gather** costs ``core time / cores + lines x 64 B / random
  bandwidth``, the random bandwidth from Little's law with every core's
  misses in flight, capped by the peak (``parts/cpu.py``, ``parts/memory.py``).
* **No deduplication**: every lookup gathers its row; repeats within a batch
  are LLC hits if the replay says so.
* The dense MLP runs data parallel on all sockets (1/S of the MACs each)
  in the CPU part's ``mlp_dtype`` at its ``mlp_efficiency``; pooled
  embeddings a socket needs from the others cross UPI (transfer stage).

Stages and resources: ``host`` and ``response`` on ``host``; ``embedding`` and
``dense`` on ``socketN``; ``transfer`` on ``socketN.upi`` (absent with one
socket).
"""
from typing import Literal

from ...config import Schema
from ..params import param
from ..parts import (Cache, CacheParams, CpuCores, CpuParams, FrontEndParams, HostFrontEnd, Link, LinkParams,
                     MemoryParams, MemoryTier)
from ..system import BatchCost, Cost, Slot, StageWork, System, add, register_family
from . import figures
from .common import all_to_all, cpu_core_only, cpu_row_gather, shard_rows


class CpuDramParams(Schema):
    sockets: param("count", integer=True)
    cpu: CpuParams
    llc: CacheParams
    dram: MemoryParams
    upi: LinkParams
    host: FrontEndParams


class CpuDramFile(Schema):
    family: Literal["cpu_dram"]
    name: str
    description: str = ""
    params: CpuDramParams


@register_family("cpu_dram")
class CpuDram(System):
    """A multi-socket CPU server with DDR DRAM.  See the module docstring for the model."""

    Schema: type = CpuDramFile
    CACHE_LEVEL = "llc"

    def __init__(self, name, params, source_file=None):
        super().__init__(name, params, source_file)
        p = self.p = params.params
        self.host = self.add_part(HostFrontEnd("host", p.host))
        self.cpu, self.llc, self.dram = {}, {}, {}
        for d in self.devices:
            self.cpu[d] = self.add_part(CpuCores(f"{d}.cpu", p.cpu))
            self.llc[d] = self.add_part(Cache(f"{d}.llc", p.llc))
            self.dram[d] = self.add_part(MemoryTier(f"{d}.dram", p.dram))
        self.upi = self.add_part(Link("upi", p.upi)) if len(self.devices) > 1 else None

    @property
    def devices(self):
        return [f"socket{i}" for i in range(int(self.params.params.sockets.value))]

    def connections(self):
        return [("host", d) for d in self.devices] + ([(d, "upi") for d in self.devices] if self.upi else [])

    def slots(self):
        return [Slot(d, "dram", self.dram[d].capacity_B, 0, granularity_B=self.dram[d].granularity_B)
                for d in self.devices]

    def resources(self):
        r = {"host": 1}
        for d in self.devices:
            r[d] = 1
            if self.upi:
                r[f"{d}.upi"] = 1
        return r

    def peak_bandwidth_Bps(self):
        out = {}
        for d in self.devices:
            out[f"{d}.dram"] = self.dram[d].peak_Bps
            out[f"{d}.llc"] = self.llc[d].peak_Bps
        if self.upi:
            out["upi"] = len(self.devices) * self.upi.peak_Bps
        return out

    # -- per-row and compute costs ---------------------------------------------
    def _tier(self, device, level):
        if level == "dram":
            return self.dram[device]
        if level == self.CACHE_LEVEL:
            return self.llc[device]
        raise ValueError(f"{self.name}: no memory level {level!r} (dram, llc)")

    def gather_time_s(self, row_bytes, lookups=1.0, level="dram", cores=None, dtype="fp32", pooling=None):
        """Time for ``lookups`` row gathers of ``row_bytes`` stored in ``dtype``, in bags of ``pooling`` rows
        (None: long bags), from ``level`` by ``cores`` cores of one socket (``parts/cpu.py``)."""
        d = self.devices[0]
        return self.cpu[d].gather_time_s(row_bytes, self._tier(d, level), lookups, cores, dtype, pooling)

    def random_bandwidth_Bps(self, level="dram", cores=None):
        d = self.devices[0]
        return self._tier(d, level).random_bandwidth_Bps(self.cpu[d].in_flight(cores))

    def _gather(self, device, level, row_bytes, lookups=1.0, dtype="fp32", pooling=None):
        self._check_devices([device])
        return cpu_row_gather(self.cpu[device], self._tier(device, level), row_bytes, lookups, dtype, pooling)

    def lookup_cost(self, slot, row_bytes, dtype="fp32", pooling=None):
        if slot.tier != "dram":
            raise ValueError(f"{self.name}: no slot {slot.key}")
        t, acts = self._gather(slot.device, "dram", row_bytes, 1.0, dtype, pooling)
        return Cost(t, self.dynamic_J(acts))

    def coalesced_lookup_cost(self, slot, row_bytes, dtype="fp32", pooling=None):
        """A lookup whose lines a read of the same batch already brought: its core work only."""
        self._check_devices([slot.device])
        t, acts = cpu_core_only(self.cpu[slot.device], row_bytes, 1.0, dtype, pooling)
        return Cost(t, self.dynamic_J(acts))

    def cache_levels(self):
        """The LLC of every socket, in front of its DRAM (the replay simulates it)."""
        return [dict(device=d, level=self.CACHE_LEVEL, capacity_B=self.llc[d].capacity_B, above_tier="dram",
                     policy=self.llc[d].policy) for d in self.devices]

    def cache_hit_cost(self, device, level, row_bytes, dtype="fp32", pooling=None):
        """Cost of one row gather served by cache ``level`` ("llc") of ``device``."""
        if level != self.CACHE_LEVEL or device not in self.devices:
            raise ValueError(f"{self.name}: no cache {device}.{level}")
        t, acts = self._gather(device, level, row_bytes, 1.0, dtype, pooling)
        return Cost(t, self.dynamic_J(acts))

    def compute_cost(self, device, macs):
        self._check_devices([device])
        cpu = self.cpu[device]
        return Cost(cpu.mac_time_s(macs), self.dynamic_J({(cpu.name, f"op_{cpu.p.mlp_dtype}"): 2.0 * macs}))

    # -- one batch -------------------------------------------------------------
    def _moved_B(self, device, level, row_bytes):
        """Bytes one row read moves at ``level`` (whole lines)."""
        return self._tier(device, level).access_B(row_bytes)

    def _embedding(self, dev, dl, actions, nbytes):
        t = 0.0
        for g in shard_rows(self, dev, dl):
            # reads: rows the tier serves; the other lookups found their lines read in the batch (coalescing)
            for level, n in [(g.tier, g.reads), ("coalesced", g.lookups - g.reads)] + sorted(g.hits.items()):
                if level not in (g.tier, "coalesced", self.CACHE_LEVEL):
                    raise ValueError(f"{self.name}: {dev}: unknown cache level {level!r} (expected 'llc')")
                if n <= 0:
                    continue
                dt, acts = (cpu_core_only(self.cpu[dev], g.row_bytes, n, g.dtype, g.pooling) if level == "coalesced"
                            else self._gather(dev, level, g.row_bytes, n, g.dtype, g.pooling))
                t += dt
                for k, v in acts.items():
                    add(actions, k, v)
                if level != "coalesced":
                    add(nbytes, f"{dev}.{level}", n * self._moved_B(dev, level, g.row_bytes))
        if dl.tt_macs:
            c = self.compute_cost(dev, dl.tt_macs)
            t += c.time_s
            add(actions, (f"{dev}.cpu", f"op_{self.cpu[dev].p.mlp_dtype}"), 2.0 * dl.tt_macs)
        return t

    def batch_cost(self, load):
        self._check_devices(load.devices)
        S, B = len(self.devices), load.batch_size
        work = [StageWork("host", "host", self.host.host_time_s(B))]
        actions, nbytes = {}, {}
        for dev in self.devices:
            dl = load.devices.get(dev)
            work.append(StageWork("embedding", dev, self._embedding(dev, dl, actions, nbytes) if dl else 0.0))
        if self.upi:
            flows = all_to_all({d: dl.pooled_bytes_out for d, dl in load.devices.items()}, self.devices)
            for d, (sent, recv) in flows.items():
                work.append(StageWork("transfer", f"{d}.upi", self.upi.transfer_time_s(max(sent, recv))))
            total = sum(s for s, _ in flows.values())
            add(actions, ("upi", "transfer_B"), total)
            add(nbytes, "upi", total)
        for d in self.devices:
            work.append(StageWork("dense", d, self.cpu[d].mac_time_s(load.dense_macs / S)))
            add(actions, (f"{d}.cpu", f"op_{self.cpu[d].p.mlp_dtype}"), 2.0 * load.dense_macs / S)
        work.append(StageWork("response", "host", self.host.response_time_s(B)))
        return BatchCost(work, actions, nbytes)

    def derived_figures(self):
        """Rows (part, figure, value, unit kind, formula) for 'hw show' (figures.py)."""
        return figures.cpu_dram(self)
