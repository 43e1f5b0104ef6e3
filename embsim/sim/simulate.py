"""simulate(): a model, a machine, a sharding plan and a trace, joined into one simulation.

The pipeline, left to right::

    trace  --(plan's shards + the trace's hot order)-->  where every lookup lands
           --replay (Cython, once)-->  per-batch counters per shard and cache level
           --DeviceLoad / BatchLoad-->  System.batch_cost  -->  StageWork per resource
           --engine (simpy)-->  latency, throughput, utilisation  -->  SimResult

Each arrow has its own module: ``row_map`` (rows to locations), ``replay``,
``batch_costs``, ``engine`` and ``summary`` (the SimResult's figures), with
``shards`` (the plan's shards as the simulator reads them, the system's
caches) and ``digest`` (the trace's hash for ``config_hash``); this module
joins them in ``Simulation``.

Decisions a user should know
----------------------------
* **Batches.** The trace's batches are the simulation's batches (its batch
  size is the batch size).  If more queries are asked than the trace holds,
  the batches repeat in order and ``SimResult.notes`` says so.  A batch that
  the batcher closes early (timeout) holds ``n < batch_size`` queries; its
  work is that of the next trace batch scaled by ``n / batch_size``.
* **Profile and evaluation** (``workloads.profile``).  The plan (when this
  simulation solves it) and the row-to-shard map come from a *profile* trace;
  the figures are measured on a disjoint *evaluation* trace.  By default the
  first half of the trace's batches profile and the rest are replayed (a
  generated trace is made twice as long for it); ``profile=`` gives a profile
  trace (then the whole trace is the evaluation), or ``"in-sample"`` the old
  oracle (the replayed trace is its own profile).  ``config.profile`` and
  ``config.trace`` record both (kind, source, batches, lookups).
* **Hot order.** A shard of a plan holds a range of hot ranks of its table.
  Ranks come from the profile: rows by falling access count in it, ties to
  the lower row (as ``workloads.stats.hot_order``); rows the profile never saw
  rank after every profiled row, in increasing row order (so each shard holds
  exactly its rows, whatever the evaluation touches: ``sim/heldout.py``).
  Rows the evaluation never accesses do not matter to the replay and are not
  mapped, so a 40M-row table costs memory only for the rows the trace touches.
* **Locations.** Without caches every shard of the plan is its own replay
  location, so each shard's lookups, unique rows and bytes are exact per
  batch.  A cache is shared by every table of its (device, tier), so with
  caches on the shards of one (device, tier) share one location and its
  counters are split between them in proportion to each table's lookups
  there over the whole replay (exact totals, proportional per batch).
* **Work per device** (``DeviceLoad``): per tier, the lookups that reached it
  (after any cache), unique rows and bytes at the tier's access granularity;
  per cache level, hits and lookups; ``table_work`` with one entry per shard
  (table, tier, strategy, core, rows, row_bytes, lookups, unique_rows,
  cache_hits); ``tt_macs`` = lookups x the representation's MACs per lookup;
  ``pooled_bytes_out`` = one fp32 pooled vector per sample per table the
  device serves (a table split over devices sends a partial sum from each);
  a sequence table's rows are not pooled: one fp32 vector per lookup;
  ``local_bytes_out`` = a data-parallel copy's pooled vectors of the samples
  it serves (1/copies of the batch), written in place, never sent.
* **Attention** (sequence models): each batch's HSTU FLOPs follow from its
  history lengths (``workloads.sequence``); ``System.attention_work`` charges
  them on the family's compute part, in the stage ``attention`` between
  ``transfer`` and ``dense``, so ``stage_time_s`` shows the embedding and the
  attention stages apart.
* **Bytes.** ``bytes_B.requested`` are the replay's counters (per device and
  level, every simulated batch): they equal the replay's bytes exactly.
  ``bytes_B.moved`` are what the hardware model says moved (per part, tier or
  link; a UB-streaming strategy moves a whole table part, for example).
  Achieved bandwidth is ``moved`` inside the measurement window per second.
* **Layout and coalescing** (``layout=``, off by default): rows sit in each
  shard in the layout's order, and the replay counts the distinct units
  (lines, sectors, bursts, pages) each batch reads at each tier
  (:mod:`embsim.sim.layout_plan`, :mod:`embsim.sim.coalesce`).  Then a
  tier's ``bytes`` are its cost units x their size, and each ``table_work``
  entry carries ``reads`` (the row reads the memory serves: cost units
  read / cost units per row, at most ``lookups``), ``units`` and ``unit_B``;
  the families charge memory time on ``reads`` and per-lookup work (index
  transfer, pooling) on ``lookups``.
* **Energy** is charged on the window: each batch's action counts, weighted
  by the share of its service that fell in the window (dynamic), plus every
  part's static power x window, once per part (static); per query = each of
  them / queries completed in the window.
"""
import collections
import copy
import functools
import math
import time
from contextlib import contextmanager
from dataclasses import asdict


import numpy as np

from ..cost_model.validate import check_plan
from ..errors import InputError
from ..hw_models.system import STAGES, BatchLoad, DeviceLoad
from ..hw_models.families.service_profiles import service_variability
from ..workloads.query_sizes import QuerySizes
from ..workloads.sequence import attention_flops_per_batch
from ..workloads.row_layout import check_layout
from ..workloads import profile as profiles
from .batch_costs import BatchCosts
from .engine import poisson_arrivals, run_engine, trace_arrivals
from .layout_plan import coalesced_loads, plan_row_addresses, tier_unit_sizes_B
from .heldout import placer, profile_rows, unseen_share_report
from .physical import Encoders, physical_trace, quality_report
from .replay import CacheLevel, Location, replay
from .columns import column_lookups, column_tables
from .replicas import replicate_lookups, replicated_tables
from .streamed import label_stream, replay_stream
from .digest import TraceDigest
from .shards import ShardInfo, granularities_B
from .row_map import compact_rows, part_rows, per_read, place_table_rows, row_partition
from .summary import PLAN_OUTPUT_FIELDS, summarise

ARRIVALS = ("closed", "poisson", "trace")
DEFAULT_BATCH_SIZE = 1024
DEFAULT_BATCHES = 32                 # queries default to this many batches
DEFAULT_WARMUP = 0.1                 # share of the queries that warm the pipeline up (open loop)
DEFAULT_WARMUP_CLOSED = 0.2          # closed loop: every slot starts at time 0, a longer transient
MIN_DEFAULT_BATCHES = 100            # default run length in batches: warm-up plus a steady-state window
MAX_EXTENSIONS = 2                   # a default-length run not in steady state is rerun this often, longer
EXTENSION_FACTOR = 4                 # by this factor each time (then the result says it is not steady)
MAX_GENERATED_LOOKUPS = 64_000_000   # a generated trace stops here; longer runs cycle through it
STREAM_ABOVE_LOOKUPS = 1 << 26       # a stored trace longer than this is streamed (streamed.py), else read whole
POOLED_BYTES_PER_VALUE = 4.0         # pooled vectors are fp32 sums whatever the table dtype
DEFAULT_QUERY_SIZES = QuerySizes()  # DeepRecSys: lognormal candidates per request, mean 165, max 1024
QUERY_SIZE_STREAM = 0x51E          # tag of the request-size stream in the seed sequence


def generated_batches(model, batch_size: int, queries=None, held_out: bool = True) -> int:
    """Batches of the trace simulate generates: ``queries`` (default DEFAULT_BATCHES batches) in batches,
    at least 2 and at most MAX_GENERATED_LOOKUPS lookups, twice that when ``held_out`` (the first half
    profiles).  The explorer generates the same trace (explorer/evaluate.trace_for)."""
    size = int(batch_size)
    n = DEFAULT_BATCHES * size if queries is None else int(queries)
    per_batch = max(1.0, size * model.lookups_per_sample)
    batches = max(2, min(max(2, -(-n // size)), int(MAX_GENERATED_LOOKUPS // per_batch)))
    return 2 * batches if held_out else batches


class Simulation:
    """A model on a system with a plan and a trace, replayed once; ``run()`` simulates arrivals.

    Build it once and call ``run`` many times (as ``max_qps_under_sla`` does):
    the replay, the costliest step, is not repeated.
    """

    keep_replay_inputs = False    # True: keep the compact ids of the replay (8 B per lookup) in replay_inputs

    def __init__(self, model, system, plan=None, trace=None, *, batch_size=None, queries=None, seed=0,
                 caches=None, solver="cbc", time_limit_s=60, progress=False, planner=None, layout=None,
                 unit_sizes_B=None, profile=None, profile_share=profiles.DEFAULT_PROFILE_SHARE):
        self.model, self.system, self.seed = model, system, int(seed)
        self.layout, self.unit_sizes_B = layout, unit_sizes_B     # coalescing on when layout is given
        if layout is not None:
            check_layout(layout)
        self.notes = []
        self.solved_with = None           # planner settings when this simulation solves its own plan
        self.layout_profile = None        # the planner's view of the layout, when it priced one
        if plan is not None:
            check_plan(plan, system, model)        # the one validation of a plan (shard's too), before any work
        self.trace = self._trace(trace, batch_size, queries, progress, held_out=profile is None)
        self._split(profile, profile_share)
        if self.layout and self.streamed:          # a layout is placed (and priced) from the whole trace's counts
            self.trace, self.streamed = self.trace.load(), False
            self.notes.append("trace read whole: a row layout (coalescing) is not streamed")
        self.batch_size = self.trace.batch_size
        self.plan = plan if plan is not None else check_plan(self._solve({"solver": solver, "time_limit_s": time_limit_s,
                                                                           **(planner or {})}), system, model)
        self.caches = caches or {}
        self.timings_s = {}               # wall time per step (never in the result: results stay bit for bit)
        self.cpu_s = {}                   # CPU time per step, this thread only (the digest thread apart)
        self.replicated = replicated_tables(self.plan, model)       # data-parallel tables (sim/replicas.py)
        self.columns = column_tables(self.plan, model)             # column-wise tables (sim/columns.py)
        if (self.replicated or self.columns) and self.streamed:   # relabelled in memory: read the trace whole
            self.trace, self.streamed = self.trace.load(), False
            self.notes.append("trace read whole: data-parallel and column-wise tables are not streamed")
        self._check_plan()
        self.trace_digest = TraceDigest(self.trace)
        self.profile_digest = None if self.held_out.kind == profiles.IN_SAMPLE else TraceDigest(self.profile)
        self._map_and_replay(progress)
        with self._timed("loads"):
            self._loads()

    @contextmanager
    def _timed(self, step):
        """Record the wall and CPU time of ``step`` in ``timings_s`` and ``cpu_s``."""
        w, c = time.perf_counter(), time.thread_time()
        yield
        self.timings_s[step] = time.perf_counter() - w
        self.cpu_s[step] = time.thread_time() - c

    # -- inputs ------------------------------------------------------------------
    def _trace(self, trace, batch_size, queries, progress, held_out=False):
        """The trace given (a Trace or TraceReader) or one generated from the model (twice as many
        batches when ``held_out``: the first half profiles)."""
        m = self.model
        self.streamed = False
        if trace is not None:
            trace.check_matches(m, "trace")
            if batch_size is not None and int(batch_size) != trace.batch_size:
                raise InputError(f"batch_size: {batch_size}: the trace's batches hold {trace.batch_size} samples; "
                                 "the trace's batches are the simulation's batches (omit batch_size)")
            return trace
        from ..workloads.generators import generate_trace
        size = DEFAULT_BATCH_SIZE if batch_size is None else int(batch_size)
        if size < 1:
            raise InputError(f"batch_size: {batch_size}: expected a positive number of queries")
        total = generated_batches(m, size, queries, held_out)
        tr = generate_trace(m, batches=total, batch_size=size, seed=self.seed)
        self.notes.append(f"trace generated from the model's access distributions: {total} batches of {size}, "
                          f"seed {self.seed}")
        return tr

    def _split(self, profile, share):
        """Profile and evaluation traces (``workloads.profile.split``); a long evaluation is streamed."""
        if profile is not None and not (isinstance(profile, str) and profile == profiles.IN_SAMPLE):
            profile = profile if hasattr(profile, "n_batches") else profiles.open_trace(profile)
            profile.check_matches(self.model, "profile")
        self.held_out = profiles.split(self.trace, profile, share)
        self.profile, ev = self.held_out.profile, self.held_out.evaluation
        if not hasattr(ev, "indices"):                 # a TraceReader
            if ev.n_indices > STREAM_ABOVE_LOOKUPS:
                self.streamed = True                   # read chunk by chunk (streamed.py)
            else:
                ev = ev.load()
                if self.held_out.kind == profiles.IN_SAMPLE:
                    self.profile = ev
        self.trace = ev
        if self.held_out.kind == profiles.IN_SAMPLE:
            self.notes.append("profile in-sample: the replayed trace ranks its own hot rows (an oracle profile)")

    def _solve(self, planner):
        """The plan ``cost_model.planner.plan_for`` makes from the trace's statistics (planner options as given)."""
        from ..cost_model.planner import plan_for, planner_for
        self.solved_with = dict(planner)       # the inputs of the plan, for config_hash
        stats = profiles.profile_stats(self.held_out, self.profile)   # held out: curves extrapolate unseen rows
        if self.layout and planner_for(self.system) == "sharding_mip":
            plan = self._solve_with_layout(stats, planner)
        else:
            plan = plan_for(self.model, self.system, stats, batch_size=int(self.batch_size), **planner)
        self.notes.append(f"plan solved by the cost model ({plan.planner}) from the profile's statistics ({plan.solver}, "
                          f"status {plan.status}, predicted makespan {plan.makespan_s:.6g} s per batch of {self.batch_size})")
        return plan

    def _solve_with_layout(self, stats, planner, rounds=3):
        """The MIP priced with the layout: first for whole tables, then with the hot-rank ranges the
        plans so far put in each slot (a slot keeps the last range a plan gave it), until a plan uses
        only ranges it was priced with (at most ``rounds`` solves)."""
        from ..cost_model.coalescing import ranges_of_plan
        from ..cost_model.planner import plan_for
        from ..cost_model.layout_units import LayoutProfile
        # the profile is the simulated trace: the planner counts units on it as the replay will
        self.layout_profile = LayoutProfile(self.profile if hasattr(self.profile, "indices") else self.profile.load(),
                                            self.layout, self.seed,
                                            held_out=self.held_out.kind != profiles.IN_SAMPLE)   # the profile ranks
        co = {"layout": self.layout, "unit_sizes_B": self.unit_sizes_B, "profile": self.layout_profile}
        ranges, plan = {}, None
        for _ in range(rounds):
            plan = plan_for(self.model, self.system, stats, batch_size=int(self.batch_size),
                            **{"coalescing": {**co, "ranges": dict(ranges)}, **planner})
            used = ranges_of_plan(plan)
            if all(ranges.get(k) == v for k, v in used.items()):
                break
            ranges.update(used)
        return plan

    def _check_plan(self):
        slots = {(s.device, s.tier) for s in self.system.slots()}
        self.shards = []
        for t, spec in enumerate(self.model.tables):
            try:
                tp = self.plan.table(spec.name)
            except KeyError:
                raise InputError(f"plan: table '{spec.name}' of model '{self.model.name}' is not in the plan") from None
            rep = tp.representation
            rb = rep.row_bytes if rep.row_bytes > 0 else spec.row_bytes
            rows, rb, macs = per_read(spec, rep, rb)       # a row-sharing table: its physical rows and reads
            if t in self.columns:                            # a column shard reads dim / shards of each row
                rb, macs = rb / self.columns[t], macs / self.columns[t]
            for i, s in enumerate(tp.shards):
                if (s.device, s.tier) not in slots:
                    raise InputError(f"plan: table '{spec.name}': shards[{i}]: {s.device}.{s.tier} is not a slot of "
                                     f"system '{self.system.name}'")
                if not 0.0 <= s.rank_lo <= s.rank_hi <= 1.0 + 1e-9:
                    raise InputError(f"plan: table '{spec.name}': shards[{i}]: rank range [{s.rank_lo}, {s.rank_hi}) "
                                     "outside [0, 1] or reversed")
                parts, part = int(getattr(s, "parts", 1) or 1), int(getattr(s, "part", 0) or 0)
                if not 0 <= part < parts:
                    raise InputError(f"plan: table '{spec.name}': shards[{i}]: part {part} of {parts}: expected 0..{parts - 1}")
                cut = row_partition(tp, spec, rows, parts)
                R = int(cut.part_rows()[part])
                lo, hi = (min(int(math.floor(x * R + 0.5)), R) for x in (s.rank_lo, s.rank_hi))
                if hi > lo:
                    self.shards.append(ShardInfo(t, spec.name, s.device, s.tier, lo, hi, float(rb),
                                                 macs, s.strategy, s.core, part, parts, partition=cut,
                                                 dtype=rep.dtype, pooling=spec.pooling))
            mine = [x for x in self.shards if x.table == t]
            parts = {x.parts for x in mine}
            if len(parts) != 1:
                raise InputError(f"plan: table '{spec.name}': shards disagree on the number of row-wise parts "
                                 f"({sorted(parts)}); expected one value")
            P = parts.pop()
            for p in range(P):
                covered = sorted((x.lo, x.hi) for x in mine if x.part == p)
                ends = [0] + [h for _, h in covered]
                R = int(mine[0].partition.part_rows()[p]) if mine else part_rows(rows, p, P)
                if [lo for lo, _ in covered] != ends[:-1] or ends[-1] != R:
                    raise InputError(f"plan: table '{spec.name}': part {p}: shards cover hot ranks {covered} of "
                                     f"{R} rows; expected [0, 1) covered exactly once")

    def _sent_dim(self, t):
        """Values of table t's pooled vector one of its shards sends: dim, or dim / shards column-wise."""
        return self.model.tables[t].dim / self.columns.get(t, 1)

    def _part_share_report(self):
        """Per table split row-wise: each part's share of the lookups, predicted by the plan and measured."""
        out = {}
        cols = {self.model.tables[t].name for t in self.columns}     # each column shard reads every lookup
        for name, measured in sorted(self.part_shares.items()):
            if name in cols:
                continue
            predicted = getattr(self.plan.table(name), "part_shares", None)
            out[name] = {"predicted": predicted, "measured": measured}
        return out or None

    # -- where lookups land, and the replay --------------------------------------------
    def _locations(self):
        """One replay location per shard; shards of a cached (device, tier) share one."""
        locs, index = [], {}
        grains = granularities_B(self.system)
        for sh in self.shards:
            cache = self.caches.get(f"{sh.device}.{sh.tier}", self.caches.get(sh.tier))
            key = (sh.device, sh.tier) if cache else id(sh)
            if key not in index:
                index[key] = len(locs)
                levels = []
                for c in (cache or []):
                    cap = c["capacity_B"] / sh.row_bytes if "capacity_B" in c else c["capacity_rows"]
                    levels.append(CacheLevel(c["name"], c.get("policy", "lru"), int(cap),
                                             int(c.get("granularity_B", grains[sh.device, sh.tier]))))
                gran = grains[sh.device, sh.tier]
                units = tier_unit_sizes_B(self.system, sh.device, sh.tier, self.unit_sizes_B) if self.layout else None
                locs.append(Location(sh.device, sh.tier, units[0] if units else gran, levels, unit_sizes_B=units))
            sh.location = index[key]
        return locs

    def _physical(self):
        """The trace as the plan's representations read it, and the quality proxies (``physical.py``)."""
        if self.streamed and (self.layout or any(self.plan.table(t.name).representation.shares_rows
                                                 for t in self.model.tables)):
            # row-sharing representations and layouts read whole tables' ids at once: no streaming
            self.trace, self.streamed = self.trace.load(), False
            self.notes.append("trace read whole: row-sharing representations and layouts are not streamed")
        # a streamed trace gets here only without row-sharing tables, whose encoders read no ids
        held = self.held_out.kind != profiles.IN_SAMPLE
        prof = self.profile
        if held and not hasattr(prof, "indices") and any(self.plan.table(t.name).representation.shares_rows
                                                         for t in self.model.tables):
            prof = prof.load()              # CAFE's hot set is sketched from the profile, in memory
        enc = Encoders(self.model, self.plan, prof if held else self.trace, self.seed)
        self.quality = quality_report(self.trace, enc)
        self._seen = self._profile_ids = None
        if held:                           # the profile's rows in the replay's id space
            if enc.any or self.replicated or self.columns or self.layout:
                prof = prof if hasattr(prof, "indices") else prof.load()
                prof = replicate_lookups(physical_trace(prof, enc) if enc.any else prof, self.replicated)
                prof = column_lookups(prof, self.columns)
            self._seen, self._profile_ids = profile_rows(prof), prof
        return physical_trace(self.trace, enc) if enc.any else self.trace

    def _map_and_replay(self, progress):
        """Map every lookup to its shard's location and replay, in a compact id space."""
        with self._timed("physical"):
            tr = replicate_lookups(self._physical(), self.replicated)   # physical rows first, then one id range per copy
            tr = column_lookups(tr, self.columns)                       # and per column shard
        locs = self._locations()
        by_table = [sorted((s for s in self.shards if s.table == t), key=lambda s: (s.part, s.lo))
                    for t in range(tr.n_tables)]
        labels = [] if self.layout else None
        self.part_shares = {}
        row_bytes = np.array([mine[0].row_bytes for mine in by_table])
        place = placer(self._seen, place_table_rows)
        if self.streamed:
            with self._timed("map"):
                labellers, row_location, offsets, self._batch_lookups = label_stream(
                    tr, by_table, place, labels, self.part_shares, progress)
            with self._timed("replay"):
                self.counters = replay_stream(tr, labellers, row_bytes, offsets, locs, row_location, progress=progress)
            self.locations = locs
            return
        with self._timed("map"):
            compact, row_location, offsets = compact_rows(tr, by_table, labels, self.part_shares, place)
            if self.keep_replay_inputs:      # sim.colocation replays the tenants' ids again, interleaved
                self.replay_inputs = (compact, tr.batch_bounds(), row_location, offsets,
                                      np.array([mine[0].row_bytes for mine in by_table]))
            addr = length = None
            if self.layout:
                addr, length = plan_row_addresses(tr, self.shards, by_table, labels, offsets, row_location.size,
                                                  locs, self.layout, self.seed, self.layout_profile,
                                                  rank_trace=self._profile_ids)
        row_bytes = np.array([mine[0].row_bytes for mine in by_table])
        with self._timed("replay"):
            self.counters = replay(compact, tr.batch_bounds(), row_bytes, offsets, locs, row_location=row_location,
                                   progress=progress, total_rows=row_location.size, table_names=tr.table_names,
                                   row_address_B=addr, row_length_B=length)
        self.locations = locs

    @functools.cached_property
    def plan_record(self) -> dict:
        """The plan as ``config_hash`` hashes it (its inputs, not its solve's outputs), made once: a copy
        ``on_system`` makes shares the plan, and so this record (the plan is not edited after the map)."""
        return {k: v for k, v in self.plan.to_dict().items() if k not in PLAN_OUTPUT_FIELDS}

    def on_system(self, system):
        """This simulation (plan, trace, replay) on ``system``, another parameterisation of its family.

        The replay depends on the system only through each slot's access granularity; where those
        are unchanged (and no layout or cache is replayed) the counters are reused and only the
        costs change, else the trace is replayed again.  The plan is checked against ``system``
        first (a capacity it no longer fits is an InputError).
        """
        check_plan(self.plan, system, self.model)
        new, old = granularities_B(system), granularities_B(self.system)
        same = not self.layout and not self.caches and all(
            new[loc.device, loc.tier] == old[loc.device, loc.tier] for loc in self.locations)
        if not same:
            held = self.held_out.kind != profiles.IN_SAMPLE     # the same profile, not a split of the evaluation
            other = Simulation(self.model, system, self.plan, self.trace, seed=self.seed, caches=self.caches or None,
                               layout=self.layout, unit_sizes_B=self.unit_sizes_B,
                               profile=self.profile if held else profiles.IN_SAMPLE)
            other.held_out = self.held_out                     # and the same record of both traces
            return other
        other = copy.copy(self)
        other.system = system
        other.timings_s, other.cpu_s = dict(self.timings_s), dict(self.cpu_s)
        other.__dict__.pop("_batch_costs", None)      # the costs are the other system's
        return other

    # -- per-batch loads ---------------------------------------------------------
    def _loads(self):
        """Per trace batch and shard: lookups at the tier, unique rows, bytes, hits per cache level."""
        c = self.counters
        # Split each location's counters over its shards by the tables' lookups there
        # (shards of one table at one cached location share that table's part equally).
        at = {}
        for sh in self.shards:
            at.setdefault(sh.location, []).append(sh.table)
        share = np.zeros(len(self.shards))
        for i, sh in enumerate(self.shards):
            tables = at[sh.location]
            if len(tables) == 1:
                share[i] = 1.0
                continue
            tot = c.table_lookups[:, sh.location, 0].sum()
            mine = c.table_lookups[sh.table, sh.location, 0] / tot if tot else 1.0 / len(set(tables))
            share[i] = mine / tables.count(sh.table)
        self.shard_share = share
        tier_level = np.array([len(self.locations[s.location].caches) for s in self.shards])   # the backing tier
        locs = np.array([s.location for s in self.shards], dtype=np.int64)
        nb = c.n_batches
        self.tier_lookups = c.lookups[:, locs, tier_level] * share          # [batches, shards]
        self.tier_unique = c.unique_rows[:, locs, tier_level] * share
        self.tier_bytes = c.bytes[:, locs, tier_level] * share
        self.tier_reads = None
        if c.units is not None:      # coalescing: bytes and row reads follow the tier's cost unit
            self.tier_units, self.tier_bytes, self.tier_reads = coalesced_loads(c, self.shards, self.locations, share)
        # logical lookups per batch (a row-sharing table reads more physical rows than it has lookups)
        self.batch_lookups = (self._batch_lookups if self.streamed else
                              self.trace.lengths.sum(axis=(1, 2), dtype=np.int64).astype(np.float64))
        self.cache_hits = {}        # (shard, level name) -> [batches]
        self.cache_lookups = {}
        for i, sh in enumerate(self.shards):
            for j, lv in enumerate(self.locations[sh.location].caches):
                self.cache_hits[(i, lv.name)] = c.hits[:, sh.location, j] * share[i]
                self.cache_lookups[(i, lv.name)] = c.lookups[:, sh.location, j] * share[i]
        self.device_shards = {}
        for i, sh in enumerate(self.shards):
            self.device_shards.setdefault(sh.device, []).append(i)
        dims = {}
        seq = set(self.model.sequence_table_indices())
        for sh in self.shards:
            if sh.table not in self.replicated:      # a replica pools its own samples: no all-to-all
                dims.setdefault(sh.device, set()).add(sh.table)
        self.pooled_per_sample = {d: sum(self._sent_dim(t) for t in ts if t not in seq) * POOLED_BYTES_PER_VALUE
                                  for d, ts in dims.items()}
        # a copy pools the samples it serves (1/copies of the batch) and writes them where the dense part runs
        copies = collections.Counter(sh.table for sh in self.shards if sh.table in self.replicated)
        self.local_per_sample = {}
        for sh in self.shards:
            if sh.table in self.replicated and sh.table not in seq:
                self.local_per_sample[sh.device] = self.local_per_sample.get(sh.device, 0.0) + \
                    self._sent_dim(sh.table) * POOLED_BYTES_PER_VALUE / copies[sh.table]
        # a sequence table sends one vector per position, not one pooled vector per sample
        self.vector_B_per_lookup = {i: self._sent_dim(sh.table) * POOLED_BYTES_PER_VALUE
                                    for i, sh in enumerate(self.shards) if sh.table in seq and sh.table not in self.replicated}
        self.attention_flops = None
        if self.model.sequence is not None:       # chunked traces: the lengths chunk by chunk (4 B per sample)
            lengths = (np.concatenate([c.trace.lengths for c in self.trace.chunks()]) if self.streamed
                       else self.trace.lengths)
            self.attention_flops = attention_flops_per_batch(self.model, lengths)
        self.dense_macs_per_sample = float(self.model.dense_macs_per_sample())
        assert self.tier_lookups.shape == (nb, len(self.shards))

    def batch_load(self, k, n=None):
        """BatchLoad of trace batch ``k`` holding ``n`` queries (default: a full batch)."""
        n = self.batch_size if n is None else int(n)
        f = n / self.batch_size
        devices = {}
        for dev, idx in self.device_shards.items():
            dl = DeviceLoad()
            dl.pooled_bytes_out = self.pooled_per_sample.get(dev, 0.0) * n
            dl.local_bytes_out = self.local_per_sample.get(dev, 0.0) * n
            for i in idx:
                sh = self.shards[i]
                look = float(self.tier_lookups[k, i]) * f
                uniq = float(self.tier_unique[k, i]) * f
                hits = {lv.name: float(self.cache_hits[(i, lv.name)][k]) * f
                        for lv in self.locations[sh.location].caches}
                dl.lookups[sh.tier] = dl.lookups.get(sh.tier, 0.0) + look
                dl.unique_rows[sh.tier] = dl.unique_rows.get(sh.tier, 0.0) + uniq
                dl.bytes[sh.tier] = dl.bytes.get(sh.tier, 0.0) + float(self.tier_bytes[k, i]) * f
                reads = look if self.tier_reads is None else min(look, float(self.tier_reads[k, i]) * f)
                for lv, h in hits.items():
                    dl.cache_hits[lv] = dl.cache_hits.get(lv, 0.0) + h
                    dl.cache_lookups[lv] = dl.cache_lookups.get(lv, 0.0) + float(self.cache_lookups[(i, lv)][k]) * f
                total = look + sum(hits.values())
                dl.tt_macs += total * sh.macs_per_lookup
                dl.pooled_bytes_out += total * self.vector_B_per_lookup.get(i, 0.0)
                work = {"table": sh.table_name, "tier": sh.tier, "rows": sh.rows, "row_bytes": sh.row_bytes,
                        "lookups": look, "unique_rows": min(uniq, look, float(sh.rows)), "dtype": sh.dtype,
                        "pooling": sh.pooling}
                if sh.strategy is not None:
                    work["strategy"] = sh.strategy
                if sh.core is not None:
                    work["core"] = sh.core
                if hits:
                    work["cache_hits"] = hits
                if self.tier_reads is not None:
                    work["reads"] = reads
                    work["units"] = float(self.tier_units[k, i]) * f
                    work["unit_B"] = self.locations[sh.location].units_counted_B[-1]
                dl.table_work.append(work)
            devices[dev] = dl
        att = 0.0 if self.attention_flops is None else float(self.attention_flops[k]) * f
        return BatchLoad(batch_size=n, devices=devices, dense_macs=self.dense_macs_per_sample * n, attention_flops=att)

    def stages_in_use(self):
        """Number of engine stages this model's batches pass: all but ``attention`` for a DLRM."""
        return len(STAGES) - (1 if self.attention_flops is None else 0)

    def batch_cost(self, load):
        """The system's BatchCost of ``load``, plus its attention stage (``System.attention_work``)."""
        cost = self.system.batch_cost(load)
        if load.attention_flops:
            work, actions = self.system.attention_work(load)
            cost.work = list(cost.work) + list(work)
            for key, v in actions.items():
                cost.actions[key] = cost.actions.get(key, 0.0) + v
        return cost

    # -- a run --------------------------------------------------------------------
    def run(self, arrival="closed", qps=None, queries=None, *, batch_timeout_s=None, in_flight=None,
            warmup=None, seed=None, query_sizes=DEFAULT_QUERY_SIZES, variability=True):
        """Simulate ``queries`` queries arriving as ``arrival``; return the SimResult.

        ``queries`` defaults to the trace's queries, and to at least
        ``MIN_DEFAULT_BATCHES`` batches (the trace repeats), so that the
        measurement window after the warm-up holds enough batches to mean
        something.  ``arrival``: "closed" (``in_flight`` batches always in the system: peak
        throughput), "poisson" (rate ``qps``), or "trace" (the trace's
        timestamps).  ``warmup``: a share (< 1) of the queries or a number of
        queries left out of the figures (default 0.2 in closed loop, 0.1 open).  ``seed`` (default: the simulation's)
        seeds the Poisson arrivals, the request sizes and the service times.

        ``query_sizes`` (Poisson arrivals only): candidates per request
        (``workloads.query_sizes.QuerySizes``; default DeepRecSys's lognormal,
        mean 165, max 1024; None: every sample is its own request).  ``qps``
        stays in samples per second; requests arrive at ``qps / mean size``
        and latency is per request.  ``variability``: True draws every
        resource's service time from ``service_profiles.service_variability`` (a
        system without it is deterministic), False serves the mean times.
        """
        if arrival not in ARRIVALS:
            raise InputError(f"arrival: {arrival!r}: expected one of {', '.join(ARRIVALS)}")
        seed = self.seed if seed is None else int(seed)
        tr, B = self.trace, self.batch_size
        # The default length grows (MAX_EXTENSIONS times, x EXTENSION_FACTOR) until the window is a steady
        # state (embsim.sim.steady); a length the caller chose is kept, and the result says if it is not steady.
        extend = queries is None and warmup is None and arrival != "trace"
        if queries is None:
            # A steady-state window needs batches beyond the warm-up: a short trace repeats (and notes say so).
            queries = max(tr.n_batches, MIN_DEFAULT_BATCHES) * B
        queries = int(queries)
        for _ in range(MAX_EXTENSIONS if extend else 0):
            result = self._run_once(arrival, qps, queries, batch_timeout_s, in_flight, warmup, seed, query_sizes,
                                    variability)
            if result.steady_state or result.steady_state_reason.startswith("overloaded"):
                return result
            queries *= EXTENSION_FACTOR
        return self._run_once(arrival, qps, queries, batch_timeout_s, in_flight, warmup, seed, query_sizes, variability)

    def run_config(self, arrival, qps, queries, query_sizes, service, batch_timeout_s, in_flight, warmup_q):
        """SimResult.config of a run of ``queries`` queries (``query_sizes`` None: no requests)."""
        tr, B = self.trace, self.batch_size
        nt = tr.n_batches
        return {"arrival": arrival, "qps_target": qps, "queries": queries, "batch_size": B,
                "query_sizes": query_sizes.to_dict() if query_sizes is not None else None,
                "service_variability": {r: asdict(v) for r, v in sorted(service.items())} or None,
                "batch_timeout_s": batch_timeout_s, "in_flight_batches": in_flight,
                "warmup_queries": warmup_q, "caches": self.caches or None,
                "layout": self.layout, "unit_sizes_B": self.unit_sizes_B,
                "trace": {**self.held_out.evaluation_info, "batch_size": B, "meta": tr.meta,
                          "cycled": queries > nt * B, "n_batches": nt},
                "profile": dict(self.held_out.profile_info),
                "plan": {"planner": self.plan.planner, "solver": self.plan.solver, "status": self.plan.status,
                         "predicted_makespan_s": self.plan.makespan_s,
                         "part_shares": self._part_share_report()}}

    def unseen_lookup_shares(self):
        """Per table, the evaluation's lookups to rows the profile never saw: Good-Turing's estimate from the
        profile beside the share measured (``heldout.unseen_share_report``; measured well above estimated:
        the trace drifts, and the plan's held-out figures are optimistic).  None in-sample, and for a
        streamed profile or evaluation (it would need passes of its own), so it is not part of a run's
        result, which must not depend on how the trace is stored."""
        if self.held_out.kind == profiles.IN_SAMPLE:
            return None
        if not hasattr(self, "_unseen"):
            self._unseen = unseen_share_report(self.profile, self.trace)
        return self._unseen

    def _run_once(self, arrival, qps, queries, batch_timeout_s, in_flight, warmup, seed, query_sizes, variability):
        tr, B = self.trace, self.batch_size
        if queries < 1:
            raise InputError(f"queries: {queries}: expected at least 1 query")
        if warmup is None:
            warmup = DEFAULT_WARMUP_CLOSED if arrival == "closed" else DEFAULT_WARMUP
        warmup_q = int(round(warmup * queries)) if warmup < 1 else int(warmup)
        notes = list(self.notes)
        if queries > tr.n_batches * B:
            notes.append(f"{queries} queries asked, the trace holds {tr.n_batches * B}: "
                         f"its {tr.n_batches} batches repeat in order")
        arrival_s = requests = None
        if arrival == "poisson":
            arrival_s, requests = poisson_requests(queries, qps, seed, query_sizes)
        elif arrival == "trace":
            if tr.timestamps_s is None:
                raise InputError("trace: has no timestamps_s; expected an imported trace with arrival times "
                                 "(or use closed loop or Poisson arrivals)")
            arrival_s = trace_arrivals(tr.timestamps_s, queries)
        elif qps is not None:
            raise InputError("qps: only with Poisson arrivals; closed loop finds the peak rate itself")
        if arrival != "closed" and in_flight is not None:
            raise InputError("in_flight: only for closed loop")
        if arrival == "closed" and in_flight is None:
            in_flight = self.stages_in_use()     # one batch per stage the model uses keeps the slowest busy
        system = self.system
        nt = tr.n_batches

        costs = getattr(self, "_batch_costs", None)     # a batch's cost depends on the simulation alone: kept over runs
        if costs is None:
            costs = self._batch_costs = BatchCosts(lambda k, n: self.batch_cost(self.batch_load(k, n)), B)

        def cost_of(b, n):
            return costs(b % nt, n)

        with self._timed("engine"):
            service = service_variability(system) if variability else {}
            run = run_engine(system.resources(), cost_of, queries=queries, batch_size=B, arrival_s=arrival_s,
                             in_flight=in_flight, batch_timeout_s=batch_timeout_s, warmup_queries=warmup_q,
                             service=service, service_seed=seed, request_bounds=requests)
        config = self.run_config(arrival, qps, queries, query_sizes if requests is not None else None, service,
                                 batch_timeout_s, run.in_flight, warmup_q)
        with self._timed("summarise"):
            result = summarise(run, self, config, seed, notes)
        return result


def poisson_requests(queries, qps, seed, query_sizes=DEFAULT_QUERY_SIZES):
    """(arrival_s per sample, request_bounds or None) of ``queries`` samples arriving as Poisson requests.

    ``qps`` is in samples per second; with ``query_sizes`` requests of that
    many samples arrive at ``qps / mean size`` (their samples together), else
    every sample is its own request.  Seeded by ``seed`` as ``Simulation.run`` is.
    """
    if qps is None:
        raise InputError("qps: required with Poisson arrivals (queries per second)")
    if query_sizes is None:
        return poisson_arrivals(queries, qps, np.random.default_rng(seed)), None
    requests = query_sizes.request_bounds(queries, np.random.default_rng(np.random.SeedSequence([seed, QUERY_SIZE_STREAM])))
    per_request = poisson_arrivals(requests.size - 1, qps / query_sizes.capped_mean(), np.random.default_rng(seed))
    return np.repeat(per_request, np.diff(requests)), requests


def simulate(model, system, plan=None, trace=None, arrival="closed", qps=None, queries=None, batch_size=None,
             seed=0, caches=None, warmup=None, batch_timeout_s=None, in_flight=None,
             solver="cbc", time_limit_s=60, progress=False, planner=None, layout=None, unit_sizes_B=None,
             profile=None, profile_share=profiles.DEFAULT_PROFILE_SHARE):
    """Simulate ``model`` on ``system`` and return a SimResult.

    Without ``plan`` the cost model solves one (``cost_model.planner.plan_for``
    with ``solver``, ``time_limit_s`` and the ``planner`` options dict); without ``trace`` one is
    generated from the model's access distributions (seeded by ``seed``).
    ``arrival``: "closed" (peak throughput, ``in_flight`` batches), "poisson"
    (``qps``) or "trace" (the trace's timestamps).  ``caches``: {"tier" or
    "device.tier": [{"name", "policy", "capacity_B" or "capacity_rows",
    "granularity_B"}]}, off by default.  ``layout``: a row layout inside every shard
    (``identity``, ``frequency``, ``coaccess``, ``random``); given, the replay coalesces
    (:mod:`embsim.sim.layout_plan`), with ``unit_sizes_B`` {"tier" or "device.tier": [bytes, ...]}
    overriding the tiers' units.  ``profile``: the trace the plan and the row map come from (a Trace,
    reader or path), ``"in-sample"`` (the replayed trace itself), or None: the first ``profile_share``
    of the trace's batches (``workloads.profile``).  See the module docstring.
    """
    sim = Simulation(model, system, plan, trace, batch_size=batch_size, queries=queries, seed=seed,
                     caches=caches, solver=solver, time_limit_s=time_limit_s, progress=progress, planner=planner,
                     layout=layout, unit_sizes_B=unit_sizes_B, profile=profile, profile_share=profile_share)
    return sim.run(arrival, qps, queries, batch_timeout_s=batch_timeout_s, in_flight=in_flight,
                   warmup=warmup, seed=seed)


def compare_with_plan(sim, queries=None):
    """The simulated per-batch embedding time beside the plan's prediction, device by device.

    Runs a closed loop with one batch in flight (no queueing), so the
    embedding stage of a batch lasts as long as its slowest device.  Returns
    {"predicted_makespan_s", "simulated_embedding_s", "ratio", "devices":
    {device: {"predicted_s", "simulated_s"}}}; the simulated figures are means
    over the measured batches.  With caches off and the same batch size, a
    hardware model whose batch cost follows its per-lookup costs agrees with
    the cost model up to the trace's deviation from the plan's statistics.
    """
    B = sim.batch_size
    queries = max(sim.trace.n_batches, 4) * B if queries is None else queries
    # one batch in flight: no transient to skip; mean service times (the plan prices means, not noise or floors)
    r = sim.run("closed", queries=queries, in_flight=1, warmup=B, variability=False)
    per = {}
    for b in range(sim.trace.n_batches):
        for w in sim.system.batch_cost(sim.batch_load(b)).work:
            if w.stage == "embedding":
                per.setdefault(w.resource, []).append(w.time_s)
    devices = {d: {"predicted_s": float(sim.plan.device_time_s.get(d, 0.0)),
                   "simulated_s": float(np.mean(per[d])) if d in per else 0.0}
               for d in sorted(set(per) | set(sim.plan.device_time_s))}
    emb = r.stage_time_s["embedding"]
    return {"predicted_makespan_s": float(sim.plan.makespan_s), "simulated_embedding_s": emb,
            "ratio": emb / sim.plan.makespan_s if sim.plan.makespan_s else math.inf, "devices": devices}
