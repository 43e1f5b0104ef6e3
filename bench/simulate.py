"""Simulated lookups per wall-second, end to end, and where the wall time goes.

DCNv2 (``dlrm_dcnv2_criteo1tb``) on the SCRec-style storage preset and on
8 x A100: from a generated trace and a solved plan (both made before the
clock starts) to the SimResult of a closed-loop run over the whole trace.
The steps timed: mapping lookups to their shards (Cython hash map + numpy),
the Cython replay, building per-batch loads, the simpy engine (including each
batch's System.batch_cost), and the summary.  Each step is given in wall and
CPU seconds and as a share of the wall time; the trace's digest (for the
result's config hash) is computed in a thread beside map and replay, so its
CPU time shows in the process total, not in a step.  The machine may be
shared: the CPU-time rate (lookups per CPU-second of the whole process) says
what the code costs, the wall-time rate what this run saw.  Each preset's
Simulation is the first in a fresh process when run with ``--preset``.
Goal: at least 5 million simulated lookups per wall-second.

    python bench/simulate.py [--batches 16] [--batch-size 2048] [--preset NAME ...]
"""
import argparse
import sys
import time

from embsim.cost_model.solve import solve_plan
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import load_model

PRESETS = ["screc_4x_smartssd", "gpu_8x_a100_80g"]
GOAL = 5e6


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--preset", action="append", help=f"system preset (repeatable; default {' and '.join(PRESETS)})")
    a = ap.parse_args(argv)
    model = load_model("dlrm_dcnv2_criteo1tb")
    t = time.perf_counter()
    trace = generate_trace(model, batches=a.batches, batch_size=a.batch_size, seed=0)
    print(f"trace: {a.batches} batches x {a.batch_size} queries, {trace.n_indices:,} lookups "
          f"(generated in {time.perf_counter() - t:.1f} s, not timed below)")
    worst = float("inf")
    for name in a.preset or PRESETS:
        system = load_system(name)
        plan = solve_plan(model, system, batch_size=a.batch_size, time_limit_s=a.time_limit)
        t0, c0 = time.perf_counter(), time.process_time()
        sim = Simulation(model, system, plan, trace)
        r = sim.run("closed")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rate = trace.n_indices / wall
        worst = min(worst, rate)
        steps, cpus = sim.timings_s, sim.cpu_s
        other = wall - sum(steps.values())
        print(f"\n{name}: {trace.n_indices / 1e6:.1f} M lookups in {wall:.2f} s wall = "
              f"{rate / 1e6:.2f} M simulated lookups per wall-second (goal {GOAL / 1e6:.0f} M: "
              f"{'met' if rate >= GOAL else 'NOT met'}); simulated {r.qps:,.0f} queries/s")
        print(f"  CPU {cpu:.2f} s (process, all threads) = {trace.n_indices / cpu / 1e6:.2f} M lookups per CPU-second; "
              f"CPU/wall {cpu / wall:.2f}")
        print(f"  {'step':<10} {'wall s':>7}  {'share':>6}  {'CPU s':>6}")
        for k in ("map", "replay", "loads", "engine", "summarise"):
            print(f"  {k:<10} {steps[k]:7.3f}  {steps[k] / wall:6.1%}  {cpus[k]:6.3f}")
        print(f"  {'other':<10} {other:7.3f}  {other / wall:6.1%}          (plan checks, locations)")
        print(f"  {'digest':<10} {'':7}  {'':6}  {sim.trace_digest.cpu_s:6.3f}  (trace hash, in a thread beside map + replay)")
        print(f"  share of wall time: simpy {steps['engine'] / wall:.1%}, replay {steps['replay'] / wall:.1%}, "
              f"mapping {steps['map'] / wall:.1%}; simpy / replay {steps['engine'] / steps['replay']:.3f}")
    return 0 if worst >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
