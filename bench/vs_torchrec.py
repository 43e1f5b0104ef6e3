"""embsim's plan against TorchRec's EmbeddingShardingPlanner, under embsim's simulator and TorchRec's estimator.

Needs the optional torchrec (``.ci/run`` has the recipe).  Per case (DCNv2 on
8 x A100 with 80 GB HBM, and with HBM cut so that 8 GB per GPU hold tables;
with ``--big`` also the 856-table dlrm_datasets-like model on 64 GPUs):

- one seeded trace of 2N batches, cut in two: both planners see the model
  (TorchRec: rows, dim, dtype, mean pooling; embsim: the profile's
  statistics of the first N batches, held out: its curves carry the
  lookups the rows it never saw will get); both plans are simulated on the
  last N (held out), closed loop, one batch in flight, their hot rows
  ranked on the same first N (``Simulation(profile=...)``);
- both planners are offered the same sharding types
  (``torchrec_planner.sharding_types``: table-wise, row-wise,
  data-parallel; with ``--columns`` also column-wise, K = 2 or 4 shards);
  embsim's solve is timed alone (``torchrec_baseline=False``: TorchRec's
  plan is not made inside its time limit);
- TorchRec's plan is simulated as :func:`torchrec_planner.placement_of`
  places it: its ranks, sharding types and even row-wise blocks, the hot
  rows of each rank in HBM first (an ideal static reading of its
  ``fused_uvm_caching`` HBM cache, generous to TorchRec);
- ``embsim sim``: simulated embedding stage of embsim's plan over TorchRec's
  (< 1: embsim's plan faster);
- ``torchrec est``: TorchRec's own estimator (``EmbeddingPerfEstimator``,
  per-rank sum of shard perf, inference mode, TorchRec's per-rank batch =
  batch / ranks) on embsim's exported plan over TorchRec's plan (< 1:
  embsim's plan faster by TorchRec's model too).

The 856-table case: TorchRec's default search (grid, two greedy and the
uniform proposer) did not finish in 34 minutes of wall time (7.5 min CPU
at load 7) on this 2-core machine, so ``--big`` runs TorchRec's planner
with its own knobs, not a smaller model: ``--tr-proposers`` (default for
the big case: ``greedy``, TorchRec's GreedyProposer with depth) and its
``timeout_seconds`` (``--tr-timeout``, default 300 s); the DCNv2 cases keep
TorchRec's defaults.  Prints solve times (wall and CPU) and the load.
Measured with ``--big-only`` at load 5.8: TorchRec's greedy search 555 s
wall / 128 s CPU (its timeout is checked between proposals, and its
enumeration of 856 tables comes before it), embsim's 60 s solve 505 s wall /
106 s CPU (measured before main's faster instance build on 64 GPUs, bc93fa1),
the whole case 28 minutes of wall time and about 8-9 minutes of CPU; lower
``--tr-timeout`` to shorten it.

    python bench/vs_torchrec.py [--batches 2] [--batch-size 1024] [--time-limit 10] [--columns]
                                [--big [--big-only] [--big-time-limit 60] [--tr-proposers greedy] [--tr-timeout 300]]
"""
import argparse
import sys
import time
from dataclasses import replace

import numpy as np

from embsim.cost_model import torchrec_planner as trp
from embsim.cost_model.planner import plan_for
from embsim.cost_model.solve import _to_plan
from embsim.cost_model.torchrec_io import export_constraints
from embsim.cost_model.torchrec_search import PROPOSERS
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation, compare_with_plan
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import load_model
from embsim.workloads.stats import trace_stats

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from planner import batches_of  # noqa: E402

# HBM 16 GB less the preset's 8 GB reserve: 8 GB of tables per GPU (assumption: a cut to make HBM bind)
CASES = [("dlrm_dcnv2_criteo1tb", "gpu_8x_a100_80g", None, "80 GB"),
         ("dlrm_dcnv2_criteo1tb", "gpu_8x_a100_80g", {"params.hbm.capacity": "16 GB"}, "8 GB tables")]
BIG = ("dlrm_datasets_like", "gpu_8x_a100_80g", {"params.gpus": 64}, "64 GPUs")


def per_table(plan, system):
    """embsim's plan as TorchRec's per-table {sharding_type, compute_kernel, ranks}."""
    cons = export_constraints(plan, system)["tables"]
    return {t: {"sharding_type": c["sharding_types"][0], "compute_kernel": c["compute_kernels"][0],
                "ranks": c["ranks"]} for t, c in cons.items()}


def simulated(model, system, plan, held, profile):
    """The plan's simulated embedding stage on ``held``, its rows ranked on the planners' ``profile``."""
    return compare_with_plan(Simulation(model, system, plan, held, profile=profile))["simulated_embedding_s"]


def run_case(mname, sname, over, label, a, tr_options=None):
    model = load_model(mname)
    system = load_system(sname, overrides=over)
    whole = generate_trace(model, batches=2 * a.batches, batch_size=a.batch_size, seed=0)
    profile, held = batches_of(whole, 0, a.batches), batches_of(whole, a.batches, 2 * a.batches)
    # held out: the profile's curves carry the lookups the rows it never saw will get (coverage.with_unseen_rows)
    stats = replace(trace_stats(profile), held_out=True)
    limit = a.big_time_limit if mname == BIG[0] else a.time_limit
    t, c = time.perf_counter(), time.process_time()
    ours = plan_for(model, system, stats, batch_size=a.batch_size, time_limit_s=limit, solver=a.solver,
                    torchrec_baseline=False, **({"columns": True} if a.columns else {}))
    ours_s, ours_cpu = time.perf_counter() - t, time.process_time() - c
    types = trp.sharding_types(columns=a.columns)
    trp._PLANS.clear()                 # time TorchRec's own solve
    t, c = time.perf_counter(), time.process_time()
    theirs = trp.torchrec_plan(model, system, a.batch_size, types, **(tr_options or {}))
    theirs_s, theirs_cpu = time.perf_counter() - t, time.process_time() - c
    inst, pl = trp.placement_of(theirs, model, system, stats, a.batch_size)
    theirs_plan = _to_plan(inst, pl, model, system, solver="torchrec", status="torchrec")
    sim_ours = simulated(model, system, ours, held, profile)
    sim_theirs = simulated(model, system, theirs_plan, held, profile)
    mine = per_table(ours, system)
    est_ours = trp.estimate(mine, model, system, a.batch_size)["makespan_s"]
    est_theirs = trp.estimate(theirs, model, system, a.batch_size)["makespan_s"]
    print(f"{mname:<22} {label:<12} {sim_ours * 1e6:>9.1f} {sim_theirs * 1e6:>9.1f} {sim_ours / sim_theirs:>7.3f}  "
          f"{est_ours * 1e6:>8.2f} {est_theirs * 1e6:>8.2f} {est_ours / est_theirs:>7.3f}  "
          f"{ours_s:>6.1f} {ours_cpu:>6.1f} {theirs_s:>6.1f} {theirs_cpu:>6.1f}  {_load()}", flush=True)
    print(f"    embsim:   {ours.status}, gap {_pct(ours.gap)}, {kinds_of(mine)}\n    torchrec: {kinds_of(theirs)}"
          + (f" (options {tr_options})" if tr_options else ""), flush=True)


def _pct(x):
    return "-" if x is None else f"{x * 100:.2f}%"


def _load():
    with open("/proc/loadavg") as f:
        return "load " + f.read().split()[0]


def kinds_of(plan):
    kinds: dict = {}
    for e in plan.values():
        k = f"{e['sharding_type']}/{e['compute_kernel']}"
        kinds[k] = kinds.get(k, 0) + 1
    return ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=2, help="batches of the profile and of the held-out trace")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--time-limit", type=float, default=10.0, help="embsim's solve limit on DCNv2 (s)")
    ap.add_argument("--solver", default="highs")
    ap.add_argument("--columns", action="store_true", help="offer both planners column-wise sharding too")
    ap.add_argument("--big", action="store_true", help="also the 856-table model on 64 GPUs")
    ap.add_argument("--big-only", action="store_true", help="only the 856-table model")
    ap.add_argument("--big-time-limit", type=float, default=60.0, help="embsim's solve limit on the 856 tables (s)")
    ap.add_argument("--tr-proposers", default="greedy",
                    help=f"TorchRec proposers for the 856 tables, comma separated ({', '.join(PROPOSERS)})")
    ap.add_argument("--tr-timeout", type=float, default=300.0, help="TorchRec's timeout_seconds on the 856 tables")
    a = ap.parse_args(argv)
    why = trp.unavailable()
    if why:
        print(f"bench/vs_torchrec.py: {why}; install the recipe in .ci/run")
        return 0
    print(f"{'model':<22} {'case':<12} {'embsim us':>9} {'torchrec':>9} {'ratio':>7}  "
          f"{'est us':>8} {'torchrec':>8} {'ratio':>7}  {'plan s':>6} {'cpu s':>6} {'tr s':>6} {'cpu s':>6}")
    print(f"{'':<35} {'(embsim simulator, embedding stage)':<35}  {'(TorchRec estimator)':<26}"
          f"{'(embsim)':>8} {'(TorchRec)':>14}")
    big = {"proposers": a.tr_proposers.split(","), "timeout_s": a.tr_timeout}
    for case in ([] if a.big_only else CASES):
        run_case(*case, a)
    if a.big or a.big_only:
        run_case(*BIG, a, tr_options=big)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
