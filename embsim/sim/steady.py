"""Is a simulation's measurement window a steady state?  If not, say why.

Figures of a queueing simulation mean something only in steady state: the
window must hold enough batches, the queue must not grow through it, and
Little's law (L = lambda W) must hold over it.  ``check`` tests the three
and returns ``(steady, reason)``; ``SimResult`` carries both
(``steady_state``, ``steady_state_reason``) and the summary prints the
reason on one line.

Overload (open loop): queries arrive faster than the system completes them,
so the queue and every latency grow with the run's length and no run is
long enough.  ``overload`` detects it by comparing the arrival rate over the
arrival window with the completion rate of the measured batches; the
simulation then measures over the completions instead (``departure_window``),
so the reported throughput is the system's capacity, never less.
"""
import math

import numpy as np

MIN_WINDOW_BATCHES = 20     # batches completed in the window for its averages to mean something
LITTLE_TOL = 0.05           # |L - lambda W| / (lambda W) above this: not a steady state
OVERLOAD_TOL = 0.05         # arrivals this much faster than completions: overloaded


def departure_window(run):
    """(first, last) completion time of the measured batches."""
    done = run.done_s[run.warmup_batches:]
    return float(done.min()), float(done.max())


def completion_rate_qps(run):
    """Queries per second the measured batches completed at (the first completion opens the window)."""
    done = run.done_s[run.warmup_batches:]
    q = run.batch_queries[run.warmup_batches:].astype(np.float64)
    span = float(done.max() - done.min())
    if span <= 0:
        return math.inf
    return float(q.sum() - q[int(np.argmin(done))]) / span


def arrival_rate_qps(run):
    """Queries per second that arrived over the arrival window (inf if they all came at once)."""
    t0, t1 = float(run.arrival_s[run.first_measured_query]), float(run.arrival_s[-1])
    n = run.arrival_s.size - run.first_measured_query
    return math.inf if t1 <= t0 else n / (t1 - t0)


def overload(run):
    """(overloaded, arrival rate, completion rate): open loop only; a closed loop cannot overload."""
    if run.arrival == "closed":
        return False, None, None
    lam, mu = arrival_rate_qps(run), completion_rate_qps(run)
    return lam > (1 + OVERLOAD_TOL) * mu, lam, mu


def check(run, littles_error, overloaded=False, arrival_qps=None, capacity_qps=None):
    """(steady, reason): the first failed test in one line, or (True, None)."""
    if overloaded:
        return False, (f"overloaded: queries arrive at {arrival_qps:.4g}/s, the system completes {capacity_qps:.4g}/s; "
                       f"the queue grows through the run, so latencies depend on its length; throughput is the "
                       f"capacity")
    batches = int(run.completed_in_window().sum())
    if batches < MIN_WINDOW_BATCHES:
        return False, (f"window too short: {batches} batches completed in it, expected at least "
                       f"{MIN_WINDOW_BATCHES}; simulate more queries")
    if not littles_error <= LITTLE_TOL:
        return False, (f"Little's law off by {littles_error:.1%} (more than {LITTLE_TOL:.0%}): the queue is not "
                       f"in steady state over the window; simulate more queries")
    return True, None
