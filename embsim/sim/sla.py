"""max_qps_under_sla(): the highest Poisson arrival rate whose p99 latency meets a target.

A recommendation service is sized by its tail: "how many queries per second
can this machine take while 99% of them finish within 20 ms?"  Peak
throughput (closed loop) is the ceiling; near it queues grow without bound,
so the answer lies below.  This module finds it by bisection on the arrival
rate, simulating Poisson arrivals at each probe.

Decisions:

* The replay runs once (``Simulation``); each probe only reruns the engine.
* Every probe uses the same seed, so probes differ by their rate alone
  (common random numbers): p99 then rises smoothly with the rate and the
  bisection does not chase noise.
* Batches leave when full or after ``batch_timeout_s``; by default a quarter
  of the latency target, so at low load a batch does not wait for queries
  that come slowly (with size-only batching, p99 would *fall* as load rises).
* Bisection assumes p99 rises with the rate, as it does for a stable queue;
  the probes are returned so a user can see that it did.
* Probe length (``probe_queries``): a p99 is the 100th-largest of 10,000
  latencies, so it is estimated from the tail it sits in only if the window
  holds enough requests.  By default every probe measures at least
  ``TAIL_SAMPLES / (1 - 0.99)`` = 10,000 requests (11,000 DeepRecSys-sized
  requests of ``capped_mean`` samples each, a margin for their spread, plus
  the warm-up share), and at least the simulation's default length.  Probes of the default 100 batches held about
  600 requests: p99 came from six, and read 2-3x below a long run's near the
  peak (DCNv2 on SCRec at 90% of peak: 103 ms against 293 ms).  The first
  probe, at 1% of the peak, only asks whether the target can be met at all;
  no queue forms there, so it keeps the default length (the run is batches
  that leave on the timeout, many more of them per query than near the peak).
"""
from dataclasses import dataclass, field

from ..errors import InputError
from .simulate import DEFAULT_QUERY_SIZES, DEFAULT_WARMUP, MIN_DEFAULT_BATCHES, Simulation

DEFAULT_TIMEOUT_SHARE = 0.25     # batch timeout as a share of the p99 target
LOW_LOAD_SHARE = 0.01            # the first probe: 1% of the peak rate
TAIL_SAMPLES = 100               # measured requests above the p99, at least, in every probe near the answer
P99 = 0.99
REQUEST_MARGIN = 1.1             # request sizes vary around their mean: 10% more of them than the mean count asks


def probe_queries(sim, tail_samples: int = TAIL_SAMPLES) -> int:
    """Samples per probe: enough requests that ``tail_samples`` of the measured ones lie above the p99,
    and at least the simulation's default run length (whole batches)."""
    requests = REQUEST_MARGIN * tail_samples / (1.0 - P99)
    samples = requests * DEFAULT_QUERY_SIZES.capped_mean() / (1.0 - DEFAULT_WARMUP)
    B = sim.batch_size
    batches = max(-(-int(samples) // B), sim.trace.n_batches, MIN_DEFAULT_BATCHES)
    return batches * B


@dataclass
class SlaResult:
    """The answer, and how it was found."""

    qps: float                    # highest rate found whose p99 <= target (0 if none)
    p99_s: float                  # p99 at that rate
    p99_target_s: float
    peak_qps: float               # closed-loop throughput: the ceiling
    batch_timeout_s: float
    probes: list = field(default_factory=list)   # (qps, p99_s) in the order simulated
    result: object = None         # SimResult at ``qps``

    def to_dict(self):
        return {"qps": self.qps, "p99_s": self.p99_s, "p99_target_s": self.p99_target_s,
                "peak_qps": self.peak_qps, "batch_timeout_s": self.batch_timeout_s,
                "probes": [{"qps": q, "p99_s": p} for q, p in self.probes]}


def max_qps_under_sla(model, system, plan=None, p99_target_s=None, trace=None, *, batch_size=None, queries=None,
                      batch_timeout_s=None, seed=0, rel_tol=0.02, max_probes=24, sim=None,
                      tail_samples=TAIL_SAMPLES):
    """Bisection on the Poisson rate for the highest one whose p99 latency stays <= ``p99_target_s``.

    Pass ``sim`` (a Simulation) to reuse its replay; otherwise one is built
    from ``model``, ``system``, ``plan`` and ``trace`` as ``simulate`` does.
    ``queries`` per probe default to ``probe_queries(sim, tail_samples)`` (the
    trace cycles), the first probe's to the simulation's default length.
    Stops when the bracket is narrower than ``rel_tol`` of its upper end.
    """
    if p99_target_s is None or not p99_target_s > 0:
        raise InputError(f"p99_target_s: {p99_target_s!r}: expected a latency target > 0 s")
    if not 0 < rel_tol < 1:
        raise InputError(f"rel_tol: {rel_tol!r}: expected a fraction between 0 and 1")
    if sim is None:
        sim = Simulation(model, system, plan, trace, batch_size=batch_size, queries=queries, seed=seed)
    timeout = DEFAULT_TIMEOUT_SHARE * p99_target_s if batch_timeout_s is None else batch_timeout_s
    peak = sim.run("closed", queries=queries).qps
    probes = []
    long = probe_queries(sim, tail_samples) if queries is None else queries

    def probe(qps, n=long):
        r = sim.run("poisson", qps=qps, queries=n, batch_timeout_s=timeout, seed=seed)
        probes.append((qps, r.p99_s))
        return r

    lo, hi = LOW_LOAD_SHARE * peak, peak
    best = probe(lo, queries)
    if best.p99_s > p99_target_s:
        return SlaResult(0.0, best.p99_s, p99_target_s, peak, timeout, probes, None)
    top = probe(hi)
    if top.p99_s <= p99_target_s:        # even the peak rate meets the target
        return SlaResult(hi, top.p99_s, p99_target_s, peak, timeout, probes, top)
    while (hi - lo) > rel_tol * hi and len(probes) < max_probes:
        mid = 0.5 * (lo + hi)
        r = probe(mid)
        if r.p99_s <= p99_target_s:
            lo, best = mid, r
        else:
            hi = mid
    return SlaResult(lo, best.p99_s, p99_target_s, peak, timeout, probes, best)
