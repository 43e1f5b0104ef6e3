"""The discrete-event engine: batches of queries flowing through a machine (simpy).

How a query travels
-------------------
Queries arrive one at a time (Poisson arrivals, or the timestamps of an
imported trace) or, in closed loop, a whole batch at a time.  A batcher
groups them in arrival order: a batch leaves when it holds ``batch_size``
queries, or when its first query has waited ``batch_timeout_s``.  The batch
then passes the stages of ``embsim.hw_models.system.STAGES`` in order::

    host -> embedding -> transfer -> attention -> dense -> response

(``attention``: the HSTU layers of a sequence model; a DLRM's batches skip it.)

What a stage costs comes from ``System.batch_cost``: a list of
``StageWork(stage, resource, time_s)`` items.  Each item asks for one server
of a named simpy ``Resource`` (a device's gather engine, a link, a group of
flash channels, the host cores), waits in that resource's FIFO queue, holds
it for ``time_s`` and releases it.  The items of one stage run in parallel
(every device looks up its own shards at once); the stage ends when its last
item ends.  Different batches overlap: while batch 7 is in its dense stage,
batch 8 can already use the devices.  So the engine finds the pipelined
throughput and the queueing delay that per-batch averages hide.

Service times vary: each resource may carry a ``ServiceVariability``
(``hw_models.families.service_profiles``: a distribution with a stated coefficient
of variation, and a floor such as a kernel launch or one flash page read),
and the engine holds the resource for ``max(floor, mean) x X`` with ``X`` of
mean 1 drawn from a seeded stream per resource (``sim.service``).

Requests: a "query" of the engine is one sample (one candidate item to
score).  A user's request ranks many candidates at once (DeepRecSys: a
lognormal number of them, ``workloads.query_sizes``); with
``request_bounds`` the samples of a request share its arrival time, so
samples arrive in bursts, and a request's latency runs from its arrival to
the end of the last batch holding one of its samples (a large request is
split over batches, as DeepRecSys's load generator splits it).  Latency
figures are then per request; without requests every sample is its own.  A request's wait in a resource's queue (from
asking for a server to getting one) is logged per (batch, resource):
``EngineRun.queueing_delay_s()`` says where the queue forms.

The engine never sees a lookup.  The replay counted them; the hardware model
turned the counts into service times.  Simulating costs one simpy process
step per (batch, stage, resource), so a batch of a million lookups costs the
same as a batch of ten.

What is measured
----------------
The first ``warmup_queries`` queries (rounded up to whole batches; in closed
loop at least the ``in_flight`` batches sent at time 0) warm the
pipeline and are left out of every figure.  The *measurement window* runs
from the arrival of the first measured query to the arrival of the last
query; the drain after it (the last batches emptying the pipeline) is left
out of throughput.  Latency is measured on every measured query, from its
arrival to the end of its batch's response stage.  Utilisation is busy
server-time inside the window over (servers x window), so it cannot exceed 1.
The time-weighted number of queries in the system over the window is kept
so that Little's law (L = lambda W) can be checked.

``run_engine`` is the one entry point; ``EngineRun`` holds what happened and
computes the figures.
"""
from dataclasses import dataclass, field

import math
from typing import Optional

import numpy as np
import simpy

from ..errors import InputError
from ..hw_models.system import STAGES
from .service import ServiceSampler

STAGE_INDEX = {s: i for i, s in enumerate(STAGES)}


# ------------------------------------------------------------- arrivals ---
def poisson_arrivals(queries, qps, rng):
    """Arrival times (s) of ``queries`` queries of a Poisson process of rate ``qps``.

    Gaps are exponential with mean 1/qps, drawn in one vectorised call from
    ``rng`` (a ``numpy.random.Generator``); the first query arrives after one gap.
    """
    if not qps > 0:
        raise InputError(f"qps: {qps!r}: expected an arrival rate > 0 queries/s")
    return np.cumsum(rng.exponential(1.0 / qps, size=int(queries)))


def trace_arrivals(timestamps_s, queries):
    """Arrival times (s) from a trace's per-sample timestamps, shifted to start at 0.

    ``timestamps_s`` is ``Trace.timestamps_s`` ([batches, batch_size]); samples
    arrive in trace order and the times must not decrease.  If more queries are
    asked than the trace holds, the timestamps repeat, each repetition starting
    one mean gap after the previous one ended (the caller reports the cycling).
    """
    t = np.asarray(timestamps_s, dtype=np.float64).ravel()
    if t.size == 0:
        raise InputError("trace: timestamps_s is empty; expected one arrival time per sample")
    if not np.isfinite(t).all():
        raise InputError("trace: timestamps_s: holds NaN or infinite values; expected finite times in seconds")
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputError(f"trace: timestamps_s[{i}] = {t[i]} is earlier than the sample before it ({t[i - 1]}); "
                         "expected arrival times in trace order")
    t = t - t[0]
    span = t[-1] + (t[-1] / (t.size - 1) if t.size > 1 else 1.0)
    if span <= 0:
        raise InputError("trace: timestamps_s: every sample has the same time; expected arrivals spread over time")
    reps = -(-int(queries) // t.size)
    return (t[None, :] + span * np.arange(reps)[:, None]).ravel()[:int(queries)]


def form_batches(arrival_s, batch_size, batch_timeout_s=None):
    """Group queries into batches in arrival order.

    Returns ``(bounds, dispatch_s)``: batch ``b`` holds queries
    ``bounds[b]:bounds[b+1]`` and leaves the batcher at ``dispatch_s[b]``.

    - Size only (``batch_timeout_s`` None): a batch leaves when its last query
      arrives; at the end of the stream the short last batch leaves with the
      last query.
    - With a timeout: a batch leaves when full, or ``batch_timeout_s`` after its
      first query arrived, with whatever it holds by then.
    """
    a = np.asarray(arrival_s, dtype=np.float64)
    n, size = a.size, int(batch_size)
    if size < 1:
        raise InputError(f"batch_size: {batch_size!r}: expected a positive number of queries")
    if batch_timeout_s is None:
        bounds = np.append(np.arange(0, n, size, dtype=np.int64), n)
        return bounds, a[bounds[1:] - 1].copy()
    if not batch_timeout_s > 0:
        raise InputError(f"batch_timeout_s: {batch_timeout_s!r}: expected a time > 0 s")
    bounds, dispatch = [0], []
    i = 0
    while i < n:
        deadline = a[i] + batch_timeout_s
        j = min(int(np.searchsorted(a, deadline, side="right")), i + size)
        dispatch.append(a[j - 1] if j - i == size else deadline)
        bounds.append(j)
        i = j
    return np.array(bounds, dtype=np.int64), np.array(dispatch)


# ------------------------------------------------------------ the run ---
@dataclass
class EngineRun:
    """Everything that happened in one run, and the figures computed from it.

    Per query: ``arrival_s``.  Per batch: ``bounds`` (first query of each batch,
    plus the end), ``dispatch_s``, ``done_s``, and ``stage_start_s`` /
    ``stage_end_s`` ([batches, stages], NaN for a stage without work).  Per
    (batch, resource) service: the busy log ``busy_batch``, ``busy_resource``,
    ``busy_start_s``, ``busy_end_s``, ``busy_wait_s`` (time in the queue).  ``costs`` keeps each batch's BatchCost
    (bytes and action counts are charged from it).
    """

    resources: dict
    arrival_s: np.ndarray
    bounds: np.ndarray
    dispatch_s: np.ndarray
    done_s: np.ndarray
    stage_start_s: np.ndarray
    stage_end_s: np.ndarray
    busy_batch: np.ndarray
    busy_resource: np.ndarray
    busy_start_s: np.ndarray
    busy_end_s: np.ndarray
    busy_wait_s: np.ndarray
    costs: list
    warmup_batches: int
    arrival: str
    in_flight: Optional[int] = None
    batch_timeout_s: Optional[float] = None
    request_bounds: Optional[np.ndarray] = None
    notes: list = field(default_factory=list)
    window_override: Optional[tuple] = None    # (start, end): measure over these times instead (overload)

    # -- shape ---------------------------------------------------------
    @property
    def n_batches(self):
        return self.dispatch_s.size

    @property
    def batch_queries(self):
        return np.diff(self.bounds)

    @property
    def resource_names(self):
        return list(self.resources)

    # -- the measurement window ------------------------------------------
    @property
    def first_measured_query(self):
        return int(self.bounds[self.warmup_batches])

    @property
    def window_s(self):
        """(start, end) of the measurement window.

        Open loop: arrival of the first measured query to arrival of the last.
        Closed loop: completions come in waves of ``in_flight`` batches (a
        FIFO bottleneck serves the batches admitted together back to back),
        so a window cut at arbitrary completions over- or under-counts up to
        a wave.  The window runs from the completion of the last warm-up
        batch over whole waves, and ends while the pipeline is still full
        (the completion that admits the last batch at the latest).
        """
        if self.window_override is not None:
            return self.window_override
        if self.arrival == "closed":
            i0 = self.warmup_batches - 1
            last = self.n_batches - 1 - self.in_flight
            waves = (last - i0) // self.in_flight
            if waves >= 1:
                return float(self.done_s[i0]), float(self.done_s[i0 + waves * self.in_flight])
        return float(self.arrival_s[self.first_measured_query]), float(self.arrival_s[-1])

    @property
    def duration_s(self):
        t0, t1 = self.window_s
        return t1 - t0

    def completed_in_window(self):
        """Boolean per batch: finished inside (start, end] of the window."""
        t0, t1 = self.window_s
        return (self.done_s > t0) & (self.done_s <= t1)

    # -- figures ---------------------------------------------------------
    def sample_latency_s(self):
        """Latency of every measured query (sample): end of its batch's response minus its arrival."""
        done = np.repeat(self.done_s, self.batch_queries)
        q0 = self.first_measured_query
        return done[q0:] - self.arrival_s[q0:]

    def latency_s(self):
        """Latency of every measured request: end of the last batch holding one of its samples minus its arrival.

        Without requests every sample is its own request (``sample_latency_s``).
        A request is measured if its first sample is.
        """
        if self.request_bounds is None:
            return self.sample_latency_s()
        done = np.repeat(self.done_s, self.batch_queries)
        first = self.request_bounds[:-1]
        last_done = np.maximum.reduceat(done, first)
        measured = first >= self.first_measured_query
        return (last_done - self.arrival_s[first])[measured]

    def throughput_qps(self):
        """Queries completed inside the window per second of window (drain excluded)."""
        done = self.completed_in_window()
        return float(self.batch_queries[done].sum()) / self.duration_s

    def arrival_rate_qps(self):
        """Queries that arrived inside the window [start, end) per second."""
        t0, t1 = self.window_s
        n = np.count_nonzero((self.arrival_s >= t0) & (self.arrival_s < t1))
        return n / self.duration_s if self.duration_s > 0 else math.inf

    def mean_in_system(self):
        """Time-weighted mean number of queries in the system over the window.

        The count steps up by one at each arrival and down by a batch's size
        when the batch finishes; its integral over the window, divided by the
        window's length, is L of Little's law.
        """
        times = np.concatenate([self.arrival_s, self.done_s])
        steps = np.concatenate([np.ones(self.arrival_s.size), -self.batch_queries.astype(np.float64)])
        order = np.argsort(times, kind="stable")
        times, level = times[order], np.cumsum(steps[order])
        t0, t1 = self.window_s
        edges = np.clip(np.append(times, t1), t0, t1)
        return float(np.sum(level * np.diff(edges))) / self.duration_s

    def _overlap(self):
        t0, t1 = self.window_s
        return np.clip(np.minimum(self.busy_end_s, t1) - np.maximum(self.busy_start_s, t0), 0.0, None)

    def utilisation(self):
        """Per resource: busy server-seconds inside the window / (servers x window)."""
        busy = np.bincount(self.busy_resource, weights=self._overlap(), minlength=len(self.resources))
        servers = np.array([self.resources[r] for r in self.resources], dtype=np.float64)
        return dict(zip(self.resources, (busy / (servers * self.duration_s)).tolist()))

    def window_share(self, resources=None):
        """Share of each batch's work that happened inside the window.

        Bytes and actions of a batch are spread evenly over the service it got
        on ``resources`` (names; all of the batch's resources if None), so a
        figure per second of window never counts work done outside it: if a
        tier's bytes all move while one resource serves, and that resource's
        service time is at least bytes / peak bandwidth, the window's
        bandwidth cannot exceed the peak.  A batch with no service there
        counts wholly if it finished inside the window.
        """
        if resources is None:
            mask = np.ones(self.busy_resource.size, dtype=bool)
        else:
            ids = [i for i, r in enumerate(self.resources) if r in set(resources)]
            mask = np.isin(self.busy_resource, ids)
        length = self.busy_end_s - self.busy_start_s
        inside = np.bincount(self.busy_batch[mask], weights=self._overlap()[mask], minlength=self.n_batches)
        total = np.bincount(self.busy_batch[mask], weights=length[mask], minlength=self.n_batches)
        share = self.completed_in_window().astype(np.float64)
        has = total > 0
        share[has] = inside[has] / total[has]
        return share

    def queueing_delay_s(self):
        """Per resource: mean time a measured batch's request waited for a server (0 without requests).

        Measured batches are those after the warm-up; a (batch, resource)
        item counts once however long it then held the server.
        """
        measured = self.busy_batch >= self.warmup_batches
        n = np.bincount(self.busy_resource[measured], minlength=len(self.resources))
        w = np.bincount(self.busy_resource[measured], weights=self.busy_wait_s[measured],
                        minlength=len(self.resources))
        return {r: (float(w[i] / n[i]) if n[i] else 0.0) for i, r in enumerate(self.resources)}

    def stage_time_s(self):
        """Mean span of each stage over measured batches (queueing at its resources included)."""
        span = self.stage_end_s[self.warmup_batches:] - self.stage_start_s[self.warmup_batches:]
        out = {}
        for s, stage in enumerate(STAGES):
            col = span[:, s]
            col = col[~np.isnan(col)]
            out[stage] = float(col.mean()) if col.size else 0.0
        return out


def run_engine(resources, cost_of, *, queries, batch_size, arrival_s=None, in_flight=None,
               batch_timeout_s=None, warmup_queries=0, service=None, service_seed=0,
               request_bounds=None, batches=None):
    """Simulate ``queries`` queries and return the EngineRun.

    - ``resources``: name -> number of servers (``System.resources()``).
    - ``cost_of(b, n)``: the BatchCost of batch ``b`` holding ``n`` queries;
      called once per batch, in dispatch order, when the batch leaves the
      batcher (so a model that draws random service times stays seeded).
    - Open loop: give ``arrival_s`` (one time per query, non-decreasing);
      batches form by size and optional ``batch_timeout_s``.
    - Closed loop (``arrival_s`` None): ``in_flight`` batches of ``batch_size``
      queries are always in the system; each finished batch is replaced at once
      by a new one.  This finds the peak throughput.  ``in_flight`` defaults to
      the number of stages, which keeps the slowest resource busy whenever
      service times are fixed.
    - ``service``: resource name -> ``ServiceVariability`` (missing: deterministic,
      no floor); draws are seeded by ``service_seed``.
    - ``request_bounds``: request ``i`` holds queries (samples)
      ``request_bounds[i]:request_bounds[i+1]`` (open loop; latency is then per request).
    - ``batches``: ``(bounds, dispatch_s)`` formed by the caller (open loop), instead of
      ``form_batches`` over ``arrival_s``: several tenants' batchers merged in dispatch order
      (``sim.colocation``), batch ``b`` holding queries ``bounds[b]:bounds[b+1]`` of ``arrival_s``.
    """
    queries = int(queries)
    if queries < 1:
        raise InputError(f"queries: {queries}: expected at least 1 query")
    closed = arrival_s is None
    if closed:
        in_flight = len(STAGES) if in_flight is None else int(in_flight)
        if in_flight < 1:
            raise InputError(f"in_flight: {in_flight}: expected at least 1 batch in flight")
        bounds = np.append(np.arange(0, queries, int(batch_size), dtype=np.int64), queries)
        dispatch = np.full(bounds.size - 1, np.nan)
    else:
        arrival_s = np.asarray(arrival_s, dtype=np.float64)
        bounds, dispatch = _open_loop_batches(arrival_s, queries, batch_size, batch_timeout_s, batches,
                                              request_bounds)
    warmup_batches = _warmup_batches(bounds, warmup_queries, in_flight if closed else None, batch_size)

    machine = _Machine(resources, service, service_seed, cost_of, bounds)
    if closed:
        machine.start_closed_loop(dispatch, in_flight)
    else:
        machine.start_open_loop(dispatch)
    machine.env.run()

    if closed:
        arrival_s = np.repeat(dispatch, np.diff(bounds))
    run = EngineRun(
        resources={n: int(resources[n]) for n in machine.names}, arrival_s=arrival_s, bounds=bounds,
        dispatch_s=dispatch, done_s=machine.done, stage_start_s=machine.stage_start, stage_end_s=machine.stage_end,
        costs=machine.costs, warmup_batches=warmup_batches, arrival="closed" if closed else "open",
        in_flight=in_flight if closed else None, batch_timeout_s=batch_timeout_s,
        request_bounds=None if closed or request_bounds is None else np.asarray(request_bounds, dtype=np.int64),
        **machine.busy_log())
    if run.duration_s <= 0:
        raise InputError(f"queries: {queries}: the measurement window after the warm-up is empty; "
                         "expected more queries (or a shorter warm-up)")
    return run


def _open_loop_batches(arrival_s, queries, batch_size, batch_timeout_s, batches, request_bounds):
    """(bounds, dispatch_s) of an open loop's batches: formed here or given (``batches``), checked."""
    if arrival_s.size != queries:
        raise ValueError(f"arrival_s has {arrival_s.size} times for {queries} queries")
    if batches is None:
        bounds, dispatch = form_batches(arrival_s, batch_size, batch_timeout_s)
    else:
        bounds, dispatch = (np.asarray(x) for x in batches)
        if bounds[0] != 0 or bounds[-1] != queries or np.any(np.diff(bounds) < 1) or np.any(np.diff(dispatch) < 0):
            raise ValueError(f"batches: bounds must rise strictly from 0 to {queries} and dispatch times not fall")
    if request_bounds is not None:
        rb = np.asarray(request_bounds)
        if rb.size < 2 or rb[0] != 0 or rb[-1] != queries or np.any(np.diff(rb) < 1):
            raise ValueError(f"request_bounds must rise strictly from 0 to {queries}")
    return bounds, dispatch


def _warmup_batches(bounds, warmup_queries, in_flight, batch_size):
    """Batches that warm the pipeline up: those holding the first ``warmup_queries`` queries, and in
    closed loop (``in_flight`` given) at least the batches sent at time 0.  InputError unless >= 2 remain."""
    nb = bounds.size - 1
    warmup = int(np.searchsorted(bounds, int(warmup_queries), side="left"))
    if in_flight is not None:
        # The first in_flight batches all start at time 0, before the pipeline has
        # reached its steady state: they always count as warm-up.
        warmup = max(warmup, min(in_flight, nb))
    if warmup >= nb - 1:
        raise InputError(f"queries: {int(bounds[-1])} queries make {nb} batches of up to {batch_size}, "
                         f"and {warmup} of them warm up; expected at least 2 batches after the warm-up")
    return warmup


class _Machine:
    """The simpy side of one run: a Resource per name, the batches' stage times and the busy log.

    Each (batch, stage, resource) item queues for one server, holds it and
    releases it; a stage with several items starts them at once by callbacks
    (no process per item) and ends when the last is released.
    """

    def __init__(self, resources, service, service_seed, cost_of, bounds):
        self.env = simpy.Environment()
        self.names = list(resources)
        self.rid = {name: i for i, name in enumerate(self.names)}
        self.servers = [simpy.Resource(self.env, capacity=int(resources[n])) for n in self.names]
        self.draw = ServiceSampler(service or {}, self.names, service_seed)
        self.cost_of, self.bounds = cost_of, bounds
        nb = bounds.size - 1
        self.done = np.full(nb, np.nan)
        self.stage_start = np.full((nb, len(STAGES)), np.nan)
        self.stage_end = np.full((nb, len(STAGES)), np.nan)
        self.costs: list = [None] * nb
        self.shapes: dict = {}       # id(cost) -> (cost, per stage [(resource index, mean s)]): checked once
        self.log: tuple = ([], [], [], [], [])     # batch, resource, start, end, wait

    def busy_log(self) -> dict:
        """The held items as EngineRun's busy_* arrays."""
        b, r, start, end, wait = self.log
        return {"busy_batch": np.array(b, dtype=np.int64), "busy_resource": np.array(r, dtype=np.int64),
                "busy_start_s": np.array(start, dtype=np.float64), "busy_end_s": np.array(end, dtype=np.float64),
                "busy_wait_s": np.array(wait, dtype=np.float64)}

    def logged(self, b, r, start, asked):
        """One held item in the run's log: batch, resource, start, end (now), wait."""
        for column, value in zip(self.log, (b, r, start, self.env.now, start - asked)):
            column.append(value)

    def hold(self, b, r, time_s):
        """One StageWork: queue for a server of resource r, hold it time_s, release."""
        server = self.servers[r]
        asked = self.env.now
        req = server.request()
        yield req
        start = self.env.now
        yield self.env.timeout(time_s)
        server.release(req)
        self.logged(b, r, start, asked)

    def hold_all(self, b, work):
        """The items of one stage at once, by callbacks; the returned event fires when the last is released."""
        env, finished, left = self.env, self.env.event(), [len(work)]

        def item(r, time_s):
            server = self.servers[r]
            asked = env.now
            req = server.request()

            def granted(_):
                start = env.now

                def released(_):
                    server.release(req)
                    self.logged(b, r, start, asked)
                    left[0] -= 1
                    if not left[0]:
                        finished.succeed()

                env.timeout(time_s).callbacks.append(released)

            req.callbacks.append(granted)

        for r, t in work:
            item(r, t)
        return finished

    def shape_of(self, b, cost):
        """The cost's items by stage, checked; a cost object served again (a cached batch) is not re-checked."""
        got = self.shapes.get(id(cost))
        if got is not None and got[0] is cost:
            return got[1]
        stages: list = [[] for _ in STAGES]
        for w in cost.work:
            s = STAGE_INDEX.get(w.stage)
            if s is None:
                raise ValueError(f"batch {b}: StageWork stage '{w.stage}' is not one of {STAGES}")
            if w.resource not in self.rid:
                raise ValueError(f"batch {b}: StageWork resource '{w.resource}' is not in resources() "
                                 f"({', '.join(self.names)})")
            if not w.time_s >= 0:
                raise ValueError(f"batch {b}: StageWork {w.stage}/{w.resource} has time {w.time_s!r}; expected >= 0")
            if w.time_s > 0:      # no work, no queueing: a zero-time item is skipped
                stages[s].append((self.rid[w.resource], float(w.time_s)))
        shape = [(s, items) for s, items in enumerate(stages) if items]
        self.shapes[id(cost)] = (cost, shape)
        return shape

    def serve(self, b):
        """One batch through the stages; a stage's items run in parallel.  Service times are drawn
        when the batch leaves the batcher (dispatch order: the draws do not depend on queueing)."""
        cost = self.cost_of(b, int(self.bounds[b + 1] - self.bounds[b]))
        self.costs[b] = cost
        plan = [(s, [(r, self.draw(r, mean)) for r, mean in items]) for s, items in self.shape_of(b, cost)]
        for s, work in plan:
            self.stage_start[b, s] = self.env.now
            if len(work) == 1:
                yield from self.hold(b, *work[0])
            else:
                yield self.hold_all(b, work)
            self.stage_end[b, s] = self.env.now
        self.done[b] = self.env.now

    def start_closed_loop(self, dispatch, in_flight):
        """``in_flight`` client slots: each sends a batch, waits for it, sends the next (dispatch filled in)."""
        nb, next_batch = dispatch.size, [0]

        def client():
            while next_batch[0] < nb:
                b = next_batch[0]
                next_batch[0] += 1
                dispatch[b] = self.env.now
                yield from self.serve(b)

        for _ in range(min(in_flight, nb)):
            self.env.process(client())

    def start_open_loop(self, dispatch):
        """A source that releases each batch into the machine when the batcher lets it go."""
        def source():
            for b in range(dispatch.size):
                wait = dispatch[b] - self.env.now
                if wait > 0:
                    yield self.env.timeout(wait)
                self.env.process(self.serve(b))

        self.env.process(source())
