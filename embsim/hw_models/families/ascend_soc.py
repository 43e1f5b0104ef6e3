"""ascend_soc: an Ascend-style multi-core SoC (AI cores with L1 and Unified Buffer, shared L2, HBM).

What is modelled
----------------
M AI cores.  Each core has a private L1 buffer and a Unified Buffer (UB, the
scratchpad the vector unit works on), DMA engines that move data between
global memory (GM = HBM behind the shared L2), L1 and UB in 32-byte blocks,
and a vector unit.  The devices the cost model and the simulator see are the
cores, named ``core0`` .. ``core{M-1}``; each core has two slots:

    core{i}.l1   rank 0, the core's own L1 (a table part preloaded there)
    core{i}.hbm  rank 1, global memory; every core's slot is the shared pool "hbm"

The UB is a staging buffer, not a place a table lives, so it is not a slot.
The shared L2 is listed as a part (capacity, energy) but lookups are costed
as L2 misses (conservative: an embedding gather over tables much larger than
32 MiB rarely hits).

Four single-core lookup strategies
----------------------------------
The strategies are those of Ruggeri, Andri, Jahier Pagliari and Cavigelli,
"Deep Recommender Models Inference: Automatic Asymmetric Data Flow
Optimization" (ICCD 2025, arXiv:2507.01676); the cost functions below are
this model's, built from the CANN platform figures, not taken from the paper.
A table *part* (the rows of one table a core serves) is looked up by one of
four strategies, each with its own cost function and feasibility rule
(``strategy_cost`` / ``strategy_feasible``).  ``a`` is the row size rounded
up to the 32 B DMA block (rows are stored block-aligned), ``f`` the clock:

GM      row by row from global memory, double buffered.  Each row is one DMA
        of ``a`` bytes (``dma_setup`` to issue, ``gm_latency`` until data,
        ``a / gm_rate`` to copy); with ``gm_buffers`` buffers in flight the
        latency hides behind the previous rows' copies, so a row costs
        ``dma_setup + max(a/rate, (latency + a/rate)/buffers)``, overlapped
        with the vector add that pools it.  Linear in lookups; any table size.
L1      the same, row by row from a part preloaded in L1 (L1 -> UB rate and
        latency).  Feasible only if the part fits in L1 (``rows*a <= L1``).
GM-UB   stream the whole part from GM into UB in chunks (two chunk buffers
        sharing ``ub_table_share`` of UB), and for each chunk scan the batch's
        index list and gather the rows that fall in it with the vector unit.
        Time = latency + max(DMA of the part, vector work), because the
        double-buffered DMA of chunk k+1 overlaps the vector work on chunk k.
        The DMA term grows with the part size, the scan with chunks x
        lookups: cheap for small parts with many lookups, hopeless for huge
        parts with few.  Feasible if one row fits a chunk buffer.
L1-UB   the same, streaming from L1.  Feasible if the part fits in L1 and a
        row fits a chunk buffer.

A part with zero lookups costs nothing in every strategy (the kernel skips
it).  Preloading a part into L1 is a one-time cost paid when the model is
loaded, not per batch: ``preload_cost`` gives it, ``batch_cost`` never
charges it.

Deduplication: none.  The strategies gather every lookup, as the default
embedding operators do; ``unique_rows`` is accepted (and checked) so the
cost model and engine can pass it, but it does not change the cost.

Per-core GM rate: ``min(gm_read_B_per_cycle * f, hbm_bandwidth / M)``: the
ini per-core DMA rate, capped at a fair share of HBM when every core streams
at once (lookup costs are amortised at full device concurrency), so no sum
over cores can exceed the HBM peak.

Stages of a batch (``batch_cost``)
----------------------------------
host       indices to the SoC over the host link (resource ``pcie_down``)
embedding  every core in parallel: sum of ``strategy_cost`` over its
           ``DeviceLoad.table_work`` entries (an entry without a strategy
           is costed GM on hbm, L1 on l1), plus ``compute_cost(core,
           tt_macs)``, TT reconstruction on the core's vector unit
           (resource ``core{i}``).  Without table_work, a tier's
           lookups are costed row by row (GM for hbm, L1 for l1) with
           ``row_bytes = bytes[tier] / lookups[tier]`` (the raw row size).
transfer   each core writes its pooled vectors to GM (``core{i}``)
dense      the MLP on the cube units of all cores at ``cube_efficiency`` of
           peak (resource ``cube``: a core's cube and vector pipes run
           concurrently, so the MLP of one batch overlaps the lookups of
           the next)
response   one fp32 score per sample back over the host link (``pcie_up``)

``Cost.energy_J`` of a lookup or a strategy = its dynamic energy plus the
core's static power times its time (what the work costs the device).
"""
import math
from typing import Literal

import networkx as nx

from ...config import Schema
from ...errors import InputError
from ..system import BatchCost, Cost, StageWork, Slot, System, register_family
from ._sourced_params import describe_rows, num

STRATEGIES = ("GM", "L1", "GM-UB", "L1-UB")
RESPONSE_BYTES_PER_SAMPLE = 4.0   # one fp32 score per sample (a model fact, not hardware)


# ----------------------------------------------------------------- schema ---
class Chip(Schema):
    cores: num("count")
    clock: num("frequency")
    l2_capacity: num("bytes")
    tdp: num("power")         # design power (a bound the tests check, not enforced)


class Core(Schema):
    l1_capacity: num("bytes")
    ub_capacity: num("bytes")
    gm_read_B_per_cycle: num("count")      # ini ddr_rate
    l1_to_ub_B_per_cycle: num("count")     # ini l1_to_ub_rate
    ub_to_gm_B_per_cycle: num("count")     # ini ub_to_ddr_rate
    dma_block: num("bytes")                # ini ubblock_size: DMA alignment unit
    dma_setup: num("time")                 # scalar issue + descriptor per DMA instruction
    gm_latency: num("time")
    l1_latency: num("time")
    gm_buffers: num("count", gt=0.99)      # buffers in flight (2 = double buffering)
    ub_table_share: num("count", le=1)     # share of UB holding table chunks (rest: indices, outputs)
    vector_B_per_cycle: num("count")
    gather_B_per_cycle: num("count")
    index_bytes: num("bytes")
    index_scan_ops: num("count")           # vector ops per index per chunk (compare, select)
    vector_macs_per_cycle: num("count")
    cube_macs_per_cycle: num("count")


class Hbm(Schema):
    capacity: num("bytes")
    bandwidth: num("bandwidth")


class HostLink(Schema):
    bandwidth: num("bandwidth")


class Dense(Schema):
    cube_efficiency: num("count", le=1)


class Energy(Schema):
    hbm_access: num("energy_per_bit")
    l1_read: num("energy_per_bit")
    ub_access: num("energy_per_bit")
    vector_op: num("energy_per_byte")
    vector_mac: num("energy")
    cube_mac: num("energy")
    host_link: num("energy_per_bit")


class StaticPower(Schema):
    core: num("power")        # per AI core
    uncore: num("power")      # L2, NoC, AI CPUs, host-link controller
    hbm: num("power")


class AscendParams(Schema):
    chip: Chip
    core: Core
    hbm: Hbm
    host_link: HostLink
    dense: Dense
    energy: Energy
    static_power: StaticPower


class AscendSocFile(Schema):
    description: str = ""
    family: Literal["ascend_soc"]
    name: str
    source: str
    params: AscendParams


# ----------------------------------------------------------------- system ---
@register_family("ascend_soc")
class AscendSoC(System):
    """Ascend-style SoC: per-core lookup strategies over L1, UB and HBM (see module docstring)."""

    Schema = AscendSocFile
    STRATEGIES = STRATEGIES

    def __init__(self, name, params, source_file=None):
        self.p = params.params
        n = self.p.chip.cores.value
        if n != int(n):
            raise InputError(f"{source_file}: params.chip.cores: expected a whole number of cores, got {n:g}")
        super().__init__(name, params, source_file)

    # -- figures the cost model codes against ---------------------------
    @property
    def n_cores(self):
        return int(self.p.chip.cores.value)

    @property
    def l1_capacity_B(self):
        return self.p.core.l1_capacity.value

    @property
    def ub_capacity_B(self):
        return self.p.core.ub_capacity.value

    @property
    def clock_Hz(self):
        return self.p.chip.clock.value

    @property
    def gm_rate_Bps(self):
        """Per-core GM read rate at full concurrency: ini rate, capped at a fair share of HBM."""
        c = self.p.core
        return min(c.gm_read_B_per_cycle.value * self.clock_Hz, self.p.hbm.bandwidth.value / self.n_cores)

    @property
    def l1_rate_Bps(self):
        return self.p.core.l1_to_ub_B_per_cycle.value * self.clock_Hz

    @property
    def chunk_B(self):
        """Bytes of one UB chunk buffer (the table share of UB split over the buffers in flight)."""
        c = self.p.core
        return c.ub_capacity.value * c.ub_table_share.value / c.gm_buffers.value

    def aligned_row_B(self, row_bytes):
        """Row size rounded up to the DMA block (rows are stored block-aligned)."""
        b = self.p.core.dma_block.value
        return math.ceil(row_bytes / b - 1e-9) * b

    # -- the four strategies ---------------------------------------------
    def strategy_feasible(self, strategy, rows, row_bytes):
        """Can one core serve a part of ``rows`` rows of ``row_bytes`` with ``strategy``?"""
        self._check_strategy(strategy)
        a = self.aligned_row_B(row_bytes)
        fits_l1 = rows * a <= self.l1_capacity_B
        fits_chunk = a <= self.chunk_B
        return {"GM": True, "L1": fits_l1, "GM-UB": fits_chunk, "L1-UB": fits_l1 and fits_chunk}[strategy]

    def strategy_cost(self, strategy, rows, row_bytes, lookups, unique_rows=None):
        """Cost on ONE core of ``lookups`` lookups into a part of ``rows`` rows (inf time if infeasible)."""
        time_s, actions = self._strategy_work(strategy, rows, row_bytes, lookups, unique_rows)
        if math.isinf(time_s):
            return Cost(math.inf, math.inf)
        return Cost(time_s, self._dynamic_J(actions) + self.p.static_power.core.value * time_s)

    def preload_cost(self, rows, row_bytes):
        """One-time cost of copying a part into one core's L1 (model load, never per batch)."""
        a = self.aligned_row_B(row_bytes)
        if rows * a > self.l1_capacity_B:
            return Cost(math.inf, math.inf)
        c = self.p.core
        nbytes = rows * a
        t = c.gm_latency.value + c.dma_setup.value + nbytes / self.gm_rate_Bps
        e = self._dynamic_J({("hbm", "read_B"): nbytes, ("l1", "write_B"): nbytes})
        return Cost(t, e + self.p.static_power.core.value * t)

    def _check_strategy(self, strategy):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown lookup strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})")

    def _strategy_work(self, strategy, rows, row_bytes, lookups, unique_rows=None, reads=None):
        """(time_s, actions) of one table part on one core; actions use core-local part names.

        ``reads`` (GM and L1 only; default ``lookups``): the row DMAs left when the
        simulator coalesces lookups whose burst a DMA of the same batch already
        brought; the vector unit still pools every lookup.
        """
        self._check_strategy(strategy)
        if rows < 0 or row_bytes <= 0 or lookups < 0 or (lookups > 0 and rows < 1):
            raise ValueError(f"need rows >= 1 (0 only without lookups), row_bytes > 0, lookups >= 0; "
                             f"got rows={rows}, row_bytes={row_bytes}, lookups={lookups}")
        if unique_rows is not None and not 0 <= unique_rows <= min(lookups, rows):
            raise ValueError(f"unique_rows {unique_rows} outside [0, min(lookups={lookups}, rows={rows})]")
        if not self.strategy_feasible(strategy, rows, row_bytes):
            return math.inf, {}
        if lookups == 0:
            return 0.0, {}
        c, f = self.p.core, self.clock_Hz
        a = self.aligned_row_B(row_bytes)
        src, rate, lat = (("hbm", self.gm_rate_Bps, c.gm_latency.value) if strategy.startswith("GM")
                          else ("l1", self.l1_rate_Bps, c.l1_latency.value))
        add_s = math.ceil(a / c.vector_B_per_cycle.value) / f          # pool one row into the accumulator
        if strategy in ("GM", "L1"):
            copy_s = a / rate
            dma_s = c.dma_setup.value + max(copy_s, (lat + copy_s) / c.gm_buffers.value)
            r = lookups if reads is None else min(float(reads), lookups)
            time_s = max(r * dma_s, lookups * add_s)          # = lookups x max(dma, add) without coalescing
            moved = r * a
            actions = {(src, "read_B"): moved, ("ub", "access_B"): moved + lookups * a, ("vector", "op_B"): lookups * a}
            return time_s, actions
        # GM-UB / L1-UB: stream the part through UB in chunks, gather with the vector unit.
        rows_per_chunk = math.floor(self.chunk_B / a)
        chunks = math.ceil(rows / rows_per_chunk)
        stream_B = rows * a
        dma_s = stream_B / rate + chunks * c.dma_setup.value
        scan_B = chunks * lookups * c.index_bytes.value * c.index_scan_ops.value
        gather_s = lookups * (math.ceil(a / c.gather_B_per_cycle.value) / f + add_s)
        vec_s = scan_B / c.vector_B_per_cycle.value / f + gather_s
        time_s = lat + max(dma_s, vec_s)
        actions = {(src, "read_B"): stream_B,
                   ("ub", "access_B"): stream_B + chunks * lookups * c.index_bytes.value + 2 * lookups * a,
                   ("vector", "op_B"): scan_B + 2 * lookups * a}
        return time_s, actions

    # -- System interface --------------------------------------------------
    def build_graph(self):
        p = self.p
        g = nx.DiGraph()
        g.add_node("host", kind="host")
        g.add_node("pcie", kind="link", bandwidth_Bps=p.host_link.bandwidth.value)
        g.add_node("l2", kind="cache", capacity_B=p.chip.l2_capacity.value)
        g.add_node("hbm", kind="memory", capacity_B=p.hbm.capacity.value, bandwidth_Bps=p.hbm.bandwidth.value)
        g.add_node("cube", kind="compute", macs_per_s=self._dense_rate())
        g.add_edge("host", "pcie", kind="link")
        g.add_edge("pcie", "l2", kind="link")
        g.add_edge("l2", "hbm", kind="link")
        for core in self.devices:
            g.add_node(core, kind="device", role="ai_core", clock_Hz=self.clock_Hz,
                       gm_rate_Bps=self.gm_rate_Bps, l1_rate_Bps=self.l1_rate_Bps)
            g.add_node(f"{core}.l1", kind="memory", capacity_B=self.l1_capacity_B)
            g.add_node(f"{core}.ub", kind="buffer", capacity_B=self.ub_capacity_B)
            g.add_node(f"{core}.vector", kind="compute",
                       macs_per_s=p.core.vector_macs_per_cycle.value * self.clock_Hz)
            for part in ("l1", "ub", "vector"):
                g.add_edge(core, f"{core}.{part}", kind="contains")
            g.add_edge(core, "l2", kind="link", bandwidth_Bps=self.gm_rate_Bps)
            g.add_edge(core, "cube", kind="contains")
        return g

    @property
    def devices(self):
        return [f"core{i}" for i in range(self.n_cores)]

    def slots(self):
        out = []
        for core in self.devices:
            out.append(Slot(core, "l1", self.l1_capacity_B, 0))
            out.append(Slot(core, "hbm", self.p.hbm.capacity.value, 1, pool="hbm"))
        return out

    def lookup_cost(self, slot, row_bytes):
        """Row-by-row cost of one lookup: the GM strategy for hbm, L1 for l1 (UB strategies: strategy_cost)."""
        self._check_core(slot.device)
        strategy = {"hbm": "GM", "l1": "L1"}.get(slot.tier)
        if strategy is None:
            raise InputError(f"system '{self.name}': no tier '{slot.tier}' on an AI core (tiers: l1, hbm)")
        c = self.strategy_cost(strategy, 1, row_bytes, 1)
        return c

    def compute_cost(self, device, macs):
        """``macs`` multiply-adds (tensor-train reconstruction) on one core's vector unit."""
        self._check_core(device)
        t = macs / (self.p.core.vector_macs_per_cycle.value * self.clock_Hz)
        return Cost(t, macs * self.p.energy.vector_mac.value + self.p.static_power.core.value * t)

    def _dense_rate(self):
        return (self.n_cores * self.p.core.cube_macs_per_cycle.value * self.clock_Hz
                * self.p.dense.cube_efficiency.value)

    def _check_core(self, device):
        if device not in self._device_set:
            raise InputError(f"system '{self.name}': no device '{device}' (devices: core0 .. core{self.n_cores - 1})")

    @property
    def _device_set(self):
        if not hasattr(self, "_devs"):
            self._devs = frozenset(self.devices)
        return self._devs

    def core_embedding_work(self, core, dl):
        """(time_s, actions with core-local names) of one core's embedding stage for DeviceLoad ``dl``."""
        time_s, actions = 0.0, {}

        def add(t, acts, what):
            nonlocal time_s
            if math.isinf(t):
                raise InputError(f"system '{self.name}': {what} on {core} is infeasible (L1 strategies need "
                                 f"the part within L1 = {self.l1_capacity_B:.0f} B, UB strategies a row within "
                                 f"a UB chunk buffer of {self.chunk_B:.0f} B; rows are padded to "
                                 f"{self.p.core.dma_block.value:.0f} B)")
            time_s += t
            for k, v in acts.items():
                actions[k] = actions.get(k, 0.0) + v

        if dl.table_work:
            for w in dl.table_work:
                strategy = w.get("strategy") or {"hbm": "GM", "l1": "L1"}[w["tier"]]
                t, acts = self._strategy_work(strategy, w["rows"], w["row_bytes"], w["lookups"],
                                              w.get("unique_rows"), w.get("reads"))
                add(t, acts, f"table {w.get('table')!r} with strategy {strategy} "
                             f"({w['rows']} rows x {w['row_bytes']} B)")
        else:
            for tier, n in dl.lookups.items():
                if n <= 0:
                    continue
                strategy = {"hbm": "GM", "l1": "L1"}.get(tier)
                if strategy is None:
                    raise InputError(f"system '{self.name}': {core} has no tier '{tier}' (tiers: l1, hbm)")
                row_bytes = dl.bytes.get(tier, 0.0) / n
                if row_bytes <= 0:
                    raise InputError(f"system '{self.name}': {core}.{tier}: {n} lookups but no bytes; "
                                     "give bytes per tier or table_work")
                t, acts = self._strategy_work(strategy, 1, row_bytes, n)
                add(t, acts, f"tier {tier}")
        if dl.tt_macs:
            t = self.compute_cost(core, dl.tt_macs).time_s
            add(t, {("vector", "mac"): dl.tt_macs}, "tensor-train reconstruction")
        return time_s, actions

    def attention_work(self, load):
        """HSTU layers on the cube units of all cores, at the dense MLP's rate (``_dense_rate``)."""
        if not load.attention_flops:
            return [], {}
        macs = load.attention_flops / 2.0
        return [StageWork("attention", "cube", macs / self._dense_rate())], {("cube", "mac"): macs}

    def batch_cost(self, load):
        p = self.p
        work, actions, moved = [], {}, {}

        def count(key, v):
            if v:
                actions[key] = actions.get(key, 0.0) + v

        def move(key, v):
            if v:
                moved[key] = moved.get(key, 0.0) + v

        index_B = 0.0
        for core, dl in load.devices.items():
            self._check_core(core)
            t, acts = self.core_embedding_work(core, dl)
            work.append(StageWork("embedding", core, t))
            for (part, action), v in acts.items():
                key = ("hbm", action) if part == "hbm" else (f"{core}.{part}", action)
                count(key, v)
                if action == "read_B":
                    move(f"{core}.{part}", v)
                    if part == "hbm":
                        move("hbm", v)
            index_B += sum(dl.lookups.values()) if dl.lookups else sum(w["lookups"] for w in dl.table_work)
            if dl.pooled_bytes_out:
                work.append(StageWork("transfer", core, dl.pooled_bytes_out /
                                      (p.core.ub_to_gm_B_per_cycle.value * self.clock_Hz)))
                count(("hbm", "write_B"), dl.pooled_bytes_out)
                move("hbm", dl.pooled_bytes_out)
        index_B *= p.core.index_bytes.value
        link = p.host_link.bandwidth.value
        work.append(StageWork("host", "pcie_down", index_B / link))
        count(("pcie", "transfer_B"), index_B)
        work.append(StageWork("dense", "cube", load.dense_macs / self._dense_rate()))
        count(("cube", "mac"), load.dense_macs)
        resp_B = load.batch_size * RESPONSE_BYTES_PER_SAMPLE
        work.append(StageWork("response", "pcie_up", resp_B / link))
        count(("pcie", "transfer_B"), resp_B)
        move("pcie_down", index_B)
        move("pcie_up", resp_B)
        return BatchCost(work=work, actions=actions, bytes=moved)

    def resources(self):
        out = {core: 1 for core in self.devices}
        out.update({"cube": 1, "pcie_down": 1, "pcie_up": 1})
        return out

    def peak_bandwidth_Bps(self):
        link = self.p.host_link.bandwidth.value    # per direction; the link is full duplex
        out = {"hbm": self.p.hbm.bandwidth.value, "pcie_down": link, "pcie_up": link}
        for core in self.devices:
            out[f"{core}.hbm"] = self.gm_rate_Bps
            out[f"{core}.l1"] = self.l1_rate_Bps
        return out

    def _generic_energy(self):
        e = self.p.energy
        return {("hbm", "read_B"): 8 * e.hbm_access.value,
                ("hbm", "write_B"): 8 * e.hbm_access.value,
                ("l1", "read_B"): 8 * e.l1_read.value,
                ("l1", "write_B"): 8 * e.l1_read.value,
                ("ub", "access_B"): 8 * e.ub_access.value,
                ("vector", "op_B"): e.vector_op.value,
                ("vector", "mac"): e.vector_mac.value}

    def _dynamic_J(self, actions):
        table = self._generic_energy()
        return sum(v * table[k] for k, v in actions.items())

    def energy_per_action_J(self):
        e = self.p.energy
        gen = self._generic_energy()
        out = {("hbm", "read_B"): gen[("hbm", "read_B")], ("hbm", "write_B"): gen[("hbm", "write_B")],
               ("cube", "mac"): e.cube_mac.value, ("pcie", "transfer_B"): 8 * e.host_link.value}
        for core in self.devices:
            for (part, action), j in gen.items():
                if part != "hbm":
                    out[(f"{core}.{part}", action)] = j
        return out

    def static_power_W(self):
        s = self.p.static_power
        out = {core: s.core.value for core in self.devices}
        out.update({"uncore": s.uncore.value, "hbm": s.hbm.value})
        return out

    def describe(self):
        """Every preset number with its source, then the figures derived from them (part "derived")."""
        c = self.p.core
        derived = [
            ("gm_rate_per_core", self.gm_rate_Bps, "bandwidth",
             "[D] min(gm_read_B_per_cycle x clock, hbm.bandwidth / cores)"),
            ("l1_rate_per_core", self.l1_rate_Bps, "bandwidth", "[D] l1_to_ub_B_per_cycle x clock"),
            ("ub_chunk_buffer", self.chunk_B, "bytes", "[D] ub_capacity x ub_table_share / gm_buffers"),
            ("gm_lookup_time_128B", self.strategy_cost("GM", 1, 128, 1).time_s, "time",
             "[D] GM strategy, one 128 B row: dma_setup + max(copy, (gm_latency + copy) / gm_buffers)"),
            ("l1_lookup_time_128B", self.strategy_cost("L1", 1, 128, 1).time_s, "time",
             "[D] L1 strategy, one 128 B row"),
            ("vector_mac_rate_per_core", c.vector_macs_per_cycle.value * self.clock_Hz, "rate",
             "[D] vector_macs_per_cycle x clock (TT reconstruction)"),
            ("dense_mac_rate", self._dense_rate(), "rate",
             "[D] cores x cube_macs_per_cycle x clock x cube_efficiency"),
        ]
        return describe_rows(self.p, "") + [("derived", n, v, k, s) for n, v, k, s in derived]
