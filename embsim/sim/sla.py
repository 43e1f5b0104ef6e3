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
"""
from dataclasses import dataclass, field

from ..errors import InputError
from .simulate import Simulation

DEFAULT_TIMEOUT_SHARE = 0.25     # batch timeout as a share of the p99 target
LOW_LOAD_SHARE = 0.01            # the first probe: 1% of the peak rate


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
                      batch_timeout_s=None, seed=0, rel_tol=0.02, max_probes=24, sim=None):
    """Bisection on the Poisson rate for the highest one whose p99 latency stays <= ``p99_target_s``.

    Pass ``sim`` (a Simulation) to reuse its replay; otherwise one is built
    from ``model``, ``system``, ``plan`` and ``trace`` as ``simulate`` does.
    ``queries`` per probe default to the trace's (cycled if more are asked).
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

    def probe(qps):
        r = sim.run("poisson", qps=qps, queries=queries, batch_timeout_s=timeout, seed=seed)
        probes.append((qps, r.p99_s))
        return r

    lo, hi = LOW_LOAD_SHARE * peak, peak
    best = probe(lo)
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
