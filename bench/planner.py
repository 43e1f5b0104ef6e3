"""The planner against a held-out trace: predicted vs simulated embedding stage, and solve times.

For DCNv2 and RM2 on 8 x A100 80 GB (row-wise parts on): one seeded trace of
2N batches is cut in two; the plan is solved from the statistics of the first
N batches (the *profile*, held out: its curves carry the lookups the rows it
never saw will get) and simulated on the last N (*held out*: the same rows
are hot, the draws differ), its hot rows ranked on the same profile.  Printed
per model:

- the plan's makespan beside the simulated embedding stage (closed loop, one
  batch in flight) and their ratio, for the planner with each part's share of
  the lookups from the profile's per-row counts (``counted``) and with the old
  rule that every part carries 1/P (``1/P``: the same statistics without
  ``row_counts``);
- the heaviest part's predicted and measured share, over 1/P;
- the solve's wall time against its limit and the gap.

Then the solve times: DCNv2 on 8 x A100 with both solvers at ``--time-limit``
(wall / limit, CPU seconds with the solver's, gap, load), and with ``--big`` the 856-table model on 64 GPUs at 60 s.

    python bench/planner.py [--batches 4] [--batch-size 1024] [--time-limit 10] [--models rm2] [--big]
"""
import argparse
import dataclasses
import os
import resource
import sys
import time

import numpy as np

from embsim.cost_model.planner import plan_for
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation, compare_with_plan
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import load_model
from embsim.workloads.stats import trace_stats
from embsim.workloads.trace import Trace

MODELS = ["dlrm_dcnv2_criteo1tb", "rm2"]
SYSTEM = "gpu_8x_a100_80g"


def batches_of(trace, lo, hi):
    """Batches [lo, hi) of a trace as a Trace of their own."""
    seg = trace.segment_offsets()
    T = trace.n_tables
    a, b = int(seg[lo * T]), int(seg[hi * T])
    return Trace(lengths=trace.lengths[lo:hi].copy(), indices=trace.indices[a:b].copy(),
                 table_rows=trace.table_rows, table_names=trace.table_names,
                 meta={**trace.meta, "batches": hi - lo, "cut": [lo, hi]})


def heaviest(sim):
    """(predicted, measured) share of the heaviest part over 1/P, worst table (Simulation.part_shares)."""
    pred = meas = 0.0
    for name, measured in sim.part_shares.items():
        P = len(measured)
        predicted = sim.plan.table(name).part_shares or [1.0 / P] * P
        pred = max(pred, max(predicted) * P)
        meas = max(meas, max(measured) * P)
    return pred, meas


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=4, help="batches of the profile and of the held-out trace")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--big", action="store_true", help="also the 856-table model on 64 GPUs (60 s solves)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--solver", default="cbc")
    a = ap.parse_args(argv)
    system = load_system(SYSTEM)
    print(f"{'model':<22} {'loads':<8} {'plan':>10} {'simulated':>10} {'ratio':>6}  {'heaviest part/(1/P)':>20}  "
          f"{'solve s':>8} {'limit':>6} {'gap':>7}")
    for mname in a.models.split(","):
        model = load_model(mname)
        t = time.perf_counter()
        whole = generate_trace(model, batches=2 * a.batches, batch_size=a.batch_size, seed=0)
        profile, held = batches_of(whole, 0, a.batches), batches_of(whole, a.batches, 2 * a.batches)
        # held out: the profile's curves carry the lookups of the rows it never saw (coverage.with_unseen_rows)
        stats = dataclasses.replace(trace_stats(profile), held_out=True)
        print(f"# {mname}: {whole.n_indices:,} lookups, profile {a.batches} batches, held out {a.batches} "
              f"({time.perf_counter() - t:.1f} s)", flush=True)
        for label, st in (("counted", stats), ("1/P", dataclasses.replace(stats, row_counts=None))):
            t = time.perf_counter()
            # TorchRec's plan, a baseline when torchrec is installed, is planned after the solve and outside its
            # limit (solve.torchrec_baseline_after_solve); bench/vs_torchrec.py compares with it
            plan = plan_for(model, system, st, batch_size=a.batch_size, time_limit_s=a.time_limit, solver=a.solver,
                            torchrec_baseline=False)
            wall = time.perf_counter() - t
            sim = Simulation(model, system, plan, held, profile=profile)    # hot rows ranked on the same profile
            cmp = compare_with_plan(sim)
            pred, meas = heaviest(sim)
            kinds = {}
            for tp in plan.tables:
                kinds[tp.sharding or "?"] = kinds.get(tp.sharding or "?", 0) + 1
            gap = "n/a" if plan.gap is None else f"{plan.gap * 100:.2f}%"
            print(f"{mname:<22} {label:<8} {cmp['predicted_makespan_s'] * 1e6:>7.1f} us "
                  f"{cmp['simulated_embedding_s'] * 1e6:>7.1f} us {cmp['ratio']:>6.3f}  "
                  f"{pred:>8.3f} pred {meas:>6.3f} meas  {wall:>8.2f} {a.time_limit:>6.0f} {gap:>7}  "
                  f"a2a {(plan.comm_makespan_s or 0) * 1e6:.1f} us; "
                  + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())),
                  flush=True)
    solve_times(a)
    return 0


def solve_times(a):
    """Wall time against the limit, and gap, per solver (the limit is kept if wall / limit <= 1.1)."""
    cases = [("dlrm_dcnv2_criteo1tb", SYSTEM, a.time_limit, None)]
    if a.big:
        cases.append(("dlrm_datasets_like", SYSTEM, 60.0, {"params.gpus": 64}))
    print(f"\n{'model':<22} {'system':<22} {'solver':<6} {'limit s':>7} {'wall s':>7} {'wall/limit':>10} {'cpu s':>6} "
          f"{'gap':>7} {'load':>5}  method, status")
    for mname, sname, limit, over in cases:
        model = load_model(mname)
        system = load_system(sname, overrides=over)
        for solver in ("cbc", "highs"):
            t, cpu = time.perf_counter(), _cpu_s()
            plan = plan_for(model, system, None, batch_size=a.batch_size, time_limit_s=limit, solver=solver,
                            torchrec_baseline=False)
            wall, cpu = time.perf_counter() - t, _cpu_s() - cpu
            gap = "n/a" if plan.gap is None else f"{plan.gap * 100:.2f}%"
            label = f"{sname}" + (" x64" if over else "")
            print(f"{mname:<22} {label:<22} {solver:<6} {limit:>7.0f} {wall:>7.2f} {wall / limit:>10.3f} {cpu:>6.1f} "
                  f"{gap:>7} {os.getloadavg()[0]:>5.1f}  {plan.method}, {plan.status}", flush=True)


def _cpu_s():
    """CPU seconds of this process and its finished children (CBC runs as one)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
