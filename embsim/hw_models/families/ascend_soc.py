"""ascend_soc: an Ascend-style multi-core SoC (AI cores with L1 and Unified Buffer, shared L2, HBM).

Parts: the AI cores (``aicores``, an ``ai_core`` part: DMA engines, vector
unit, the four lookup strategies of ``parts/ai_core.py``), each core's L1
(``coreN.l1``) and Unified Buffer (``coreN.ub``), the shared L2 (``l2``), HBM
(``hbm``), the cube units that run the MLP (``cube``) and the host link
(``pcie``).  The devices the cost model and simulator see are the cores,
``core0`` .. ``core{M-1}``; each has two slots::

    core{i}.l1   rank 0, the core's own L1 (a table part preloaded there)
    core{i}.hbm  rank 1, global memory; every core's slot is the shared pool "hbm"

Both at the 32 B DMA block.  The UB is a staging buffer, not a slot; lookups
are costed as L2 misses (gathers over tables far above 32 MiB rarely hit).

A table part is looked up with one of four strategies (GM, L1, GM-UB, L1-UB;
``strategy_cost``/``strategy_feasible``, physics in ``parts/ai_core.py``).
Preloading L1 is a one-time cost at model load (``preload_cost``).  No
deduplication: ``unique_rows`` is checked but does not change the cost.

Stages of a batch (``batch_cost``)::

    host       indices to the SoC over the host link (resource pcie_down)
    embedding  every core in parallel: its table_work entries by strategy (an
               entry without one: GM on hbm, L1 on l1) plus TT reconstruction
               on its vector unit (resource core{i})
    transfer   each core writes its pooled vectors to GM (core{i})
    dense      the MLP on the cube units (resource cube: a core's cube and
               vector pipes run concurrently)
    response   one fp32 score per sample back over the host link (pcie_up)

``Cost.energy_J`` is dynamic energy only; static power is charged per part.
"""
import math
from typing import Literal

from ...config import Schema
from ...errors import InputError
from ..params import param
from ..parts import (AiCoreParams, AiCores, Cache, CacheParams, ComputeParams, ComputeUnit, Link, LinkParams,
                     MemoryParams, MemoryTier)
from ..parts.ai_core import STRATEGIES
from . import figures
from ..system import BatchCost, Cost, Slot, StageWork, System, add, register_family

RESPONSE_BYTES_PER_SAMPLE = 4.0   # one fp32 score per sample (a model fact, not hardware)
DEFAULT_STRATEGY = {"hbm": "GM", "l1": "L1"}


class AscendParams(Schema):
    core: AiCoreParams
    l1: MemoryParams
    ub: MemoryParams
    l2: CacheParams
    hbm: MemoryParams
    cube: ComputeParams
    host_link: LinkParams
    tdp: param("power")                # design power of the chip (a bound the tests check, not enforced)


class AscendSocFile(Schema):
    description: str = ""
    family: Literal["ascend_soc"]
    name: str
    source: str
    params: AscendParams


@register_family("ascend_soc")
class AscendSoC(System):
    """Ascend-style SoC: per-core lookup strategies over L1, UB and HBM (see module docstring)."""

    Schema = AscendSocFile
    STRATEGIES = STRATEGIES

    def __init__(self, name, params, source_file=None):
        super().__init__(name, params, source_file)
        p = self.p = params.params
        self.hbm = self.add_part(MemoryTier("hbm", p.hbm))
        self.l2 = self.add_part(Cache("l2", p.l2))
        self.cube = self.add_part(ComputeUnit("cube", p.cube))
        self.pcie = self.add_part(Link("pcie", p.host_link))
        self.cores = self.add_part(AiCores("aicores", p.core))
        self.l1 = {c: self.add_part(MemoryTier(f"{c}.l1", p.l1)) for c in self.devices}
        self.ub = {c: self.add_part(MemoryTier(f"{c}.ub", p.ub)) for c in self.devices}
        self.cores.attach(self.l1["core0"], self.ub["core0"], self.hbm)
        self._devs = frozenset(self.devices)

    # -- figures the cost model codes against ---------------------------
    @property
    def n_cores(self):
        return int(self.p.core.count.value)

    @property
    def devices(self):
        return [f"core{i}" for i in range(int(self.params.params.core.count.value))]

    l1_capacity_B = property(lambda self: self.cores.l1.capacity_B)
    ub_capacity_B = property(lambda self: self.cores.ub.capacity_B)
    clock_Hz = property(lambda self: self.cores.clock_Hz)
    gm_rate_Bps = property(lambda self: self.cores.gm_rate_Bps, doc="per-core GM rate at full concurrency")
    l1_rate_Bps = property(lambda self: self.cores.l1_rate_Bps)
    chunk_B = property(lambda self: self.cores.chunk_B, doc="bytes of one UB chunk buffer")

    def aligned_row_B(self, row_bytes):
        return self.cores.aligned_row_B(row_bytes)

    # -- the four strategies ---------------------------------------------
    def strategy_feasible(self, strategy, rows, row_bytes):
        """Can one core serve a part of ``rows`` rows of ``row_bytes`` with ``strategy``?"""
        return self.cores.strategy_feasible(strategy, rows, row_bytes)

    def strategy_cost(self, strategy, rows, row_bytes, lookups, unique_rows=None):
        """Cost on ONE core of ``lookups`` lookups into a part of ``rows`` rows (inf if infeasible)."""
        time_s, actions = self.cores.strategy_work(strategy, rows, row_bytes, lookups, unique_rows)
        if math.isinf(time_s):
            return Cost(math.inf, math.inf)
        return Cost(time_s, self.dynamic_J(self._global(actions, "core0")))

    def preload_cost(self, rows, row_bytes):
        """One-time cost of copying a part into one core's L1 (model load, never per batch)."""
        nbytes = rows * self.aligned_row_B(row_bytes)
        if nbytes > self.l1_capacity_B:
            return Cost(math.inf, math.inf)
        t = self.hbm.p.latency.value + self.p.core.dma_setup.value + nbytes / self.gm_rate_Bps
        return Cost(t, self.dynamic_J({("hbm", "read_B"): nbytes, ("core0.l1", "write_B"): nbytes}))

    def _global(self, actions, core):
        """Core-local action keys (hbm|l1|ub|vector, action) -> part names of this system."""
        names = {"hbm": "hbm", "l1": f"{core}.l1", "ub": f"{core}.ub", "vector": "aicores"}
        return {(names[part], a): v for (part, a), v in actions.items()}

    # -- Placement ---------------------------------------------------------
    def slots(self):
        out = []
        for c in self.devices:
            out.append(Slot(c, "l1", self.l1_capacity_B, 0, granularity_B=self.l1[c].granularity_B))
            out.append(Slot(c, "hbm", self.hbm.capacity_B, 1, pool="hbm", granularity_B=self.hbm.granularity_B))
        return out

    def lookup_cost(self, slot, row_bytes, dtype="fp32", pooling=None):
        """Row-by-row cost of one lookup: the GM strategy for hbm, L1 for l1 (UB strategies: strategy_cost);
        the DMA engines' cost depends on neither the dtype nor the pooling."""
        self._check_core(slot.device)
        if slot.tier not in DEFAULT_STRATEGY:
            raise InputError(f"system '{self.name}': no tier '{slot.tier}' on an AI core (tiers: l1, hbm)")
        return self.strategy_cost(DEFAULT_STRATEGY[slot.tier], 1, row_bytes, 1)

    def compute_cost(self, device, macs):
        """``macs`` multiply-adds (tensor-train reconstruction) on one core's vector unit."""
        self._check_core(device)
        return Cost(self.cores.mac_time_s(macs, units=1), self.dynamic_J({("aicores", "op_fp16"): 2.0 * macs}))

    def _check_core(self, device):
        if device not in self._devs:
            raise InputError(f"system '{self.name}': no device '{device}' (devices: core0 .. core{self.n_cores - 1})")

    # -- BatchService --------------------------------------------------------
    def _entries(self, core, dl):
        """(strategy, rows, row_bytes, lookups, unique_rows, reads, what) of every table part of a core's load;
        ``reads``: the row DMAs left after the simulator's coalescing (None: every lookup)."""
        if dl.table_work:
            for w in dl.table_work:
                s = w.get("strategy") or DEFAULT_STRATEGY[w["tier"]]
                yield (s, w["rows"], w["row_bytes"], w["lookups"], w.get("unique_rows"), w.get("reads"),
                       f"table {w.get('table')!r} with strategy {s} ({w['rows']} rows x {w['row_bytes']} B)")
            return
        for tier, n in dl.lookups.items():
            if n <= 0:
                continue
            if tier not in DEFAULT_STRATEGY:
                raise InputError(f"system '{self.name}': {core} has no tier '{tier}' (tiers: l1, hbm)")
            row_bytes = dl.bytes.get(tier, 0.0) / n
            if row_bytes <= 0:
                raise InputError(f"system '{self.name}': {core}.{tier}: {n} lookups but no bytes; "
                                 "give bytes per tier or table_work")
            yield DEFAULT_STRATEGY[tier], 1, row_bytes, n, None, None, f"tier {tier}"

    def core_embedding_work(self, core, dl):
        """(time_s, actions with this system's part names) of one core's embedding stage."""
        time_s, actions = 0.0, {}
        for strategy, rows, row_bytes, lookups, unique, reads, what in self._entries(core, dl):
            t, acts = self.cores.strategy_work(strategy, rows, row_bytes, lookups, unique, reads)
            if math.isinf(t):
                raise InputError(f"system '{self.name}': {what} on {core} is infeasible (L1 strategies need "
                                 f"the part within L1 = {self.l1_capacity_B:.0f} B, UB strategies a row within "
                                 f"a UB chunk buffer of {self.chunk_B:.0f} B; rows are padded to "
                                 f"{self.hbm.granularity_B} B)")
            time_s += t
            for k, v in self._global(acts, core).items():
                add(actions, k, v)
        if dl.tt_macs:
            time_s += self.compute_cost(core, dl.tt_macs).time_s
            add(actions, ("aicores", "op_fp16"), 2.0 * dl.tt_macs)
        return time_s, actions

    def attention_work(self, load):
        """HSTU layers on the cube units of all cores, at the dense MLP's rate."""
        if not load.attention_flops:
            return [], {}
        return ([StageWork("attention", "cube", self.cube.mac_time_s(load.attention_flops / 2.0))],
                {("cube", f"op_{self.cube.p.mlp_dtype}"): load.attention_flops})

    def batch_cost(self, load):
        work, actions, moved = [], {}, {}
        index_n = 0.0
        for core, dl in load.devices.items():
            self._check_core(core)
            t, acts = self.core_embedding_work(core, dl)
            work.append(StageWork("embedding", core, t))
            for (part, action), v in acts.items():
                add(actions, (part, action), v)
                if action == "read_B" and not part.endswith(".ub"):
                    add(moved, f"{core}.hbm" if part == "hbm" else part, v)
                    if part == "hbm":
                        add(moved, "hbm", v)
            index_n += sum(dl.lookups.values()) if dl.lookups else sum(w["lookups"] for w in dl.table_work)
            if dl.pooled_bytes_out:
                work.append(StageWork("transfer", core, dl.pooled_bytes_out /
                                      (self.p.core.ub_to_gm_B_per_cycle.value * self.clock_Hz)))
                add(actions, ("hbm", "write_B"), dl.pooled_bytes_out)
                add(moved, "hbm", dl.pooled_bytes_out)
        index_B = index_n * self.p.core.index_bytes.value
        resp_B = load.batch_size * RESPONSE_BYTES_PER_SAMPLE
        work += [StageWork("host", "pcie_down", self.pcie.transfer_time_s(index_B)),
                 StageWork("dense", "cube", self.cube.mac_time_s(load.dense_macs)),
                 StageWork("response", "pcie_up", self.pcie.transfer_time_s(resp_B))]
        add(actions, ("pcie", "transfer_B"), index_B + resp_B)
        add(actions, ("cube", f"op_{self.cube.p.mlp_dtype}"), 2.0 * load.dense_macs)
        add(moved, "pcie_down", index_B)
        add(moved, "pcie_up", resp_B)
        return BatchCost(work=work, actions=actions, bytes=moved)

    def resources(self):
        out = {core: 1 for core in self.devices}
        out.update({"cube": 1, "pcie_down": 1, "pcie_up": 1})
        return out

    def peak_bandwidth_Bps(self):
        out = {"hbm": self.hbm.peak_Bps, "pcie_down": self.pcie.peak_Bps, "pcie_up": self.pcie.peak_Bps}
        for core in self.devices:
            out[f"{core}.hbm"] = self.gm_rate_Bps
            out[f"{core}.l1"] = self.l1_rate_Bps
        return out

    def derived_figures(self):
        """Rows (part, figure, value, unit kind, formula) for 'hw show' (figures.py)."""
        return figures.ascend_soc(self)
