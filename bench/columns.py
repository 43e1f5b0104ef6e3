"""Column-wise sharding on the GPU presets: the plan with column-wise allowed over the plan without.

For each case the full MIP plans twice from the same seeded trace's statistics
(``columns=False``, then ``columns=True``), both at ``--time-limit``; printed:
each plan's objective (embedding makespan + all-to-all), their ratio, the
tables the second plan cuts column-wise, each solve's wall time and gap, and
the column plan's simulated embedding stage over its prediction (in-sample).

    python bench/columns.py [--time-limit 10] [--batches 2] [--batch-size 1024]
"""
import argparse
import time

from embsim.cost_model.solve import solve_plan
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation, compare_with_plan
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import load_model
from embsim.workloads.stats import trace_stats

# HBM 16 GB less the preset's 8 GB reserve: 8 GB of tables per GPU (assumption: a cut to make HBM bind, as in
# bench/vs_torchrec.py)
CASES = [("dlrm_dcnv2_criteo1tb", "gpu_8x_a100_80g", None, "80 GB"),
         ("dlrm_dcnv2_criteo1tb", "gpu_8x_a100_80g", {"params.hbm.capacity": "16 GB"}, "8 GB tables"),
         ("rm2", "gpu_8x_a100_80g", None, "80 GB")]


def one(mname, sname, over, label, args):
    model, system = load_model(mname), load_system(sname, overrides=over)
    trace = generate_trace(model, batches=args.batches, batch_size=args.batch_size, seed=0)
    stats = trace_stats(trace)
    out = {}
    for cols in (False, True):
        t0 = time.perf_counter()
        out[cols] = plan = solve_plan(model, system, stats, batch_size=args.batch_size, solver="cbc",
                                      time_limit_s=args.time_limit, method="full", columns=cols,
                                      torchrec_baseline=False)
        gap = "-" if plan.gap is None else f"{plan.gap * 100:.2f}%"
        print(f"  columns={cols!s:<5} objective {plan.objective * 1e6:9.1f} us  wall {time.perf_counter() - t0:5.1f} s"
              f"  gap {gap}  status {plan.status}")
    cut = [t.table for t in out[True].tables if t.sharding == "column_wise"]
    print(f"  ratio (with / without) {out[True].objective / out[False].objective:.4f}; column-wise: "
          f"{', '.join(cut) if cut else 'none'}")
    if cut:
        sim = Simulation(model, system, out[True], trace, profile="in-sample")
        cmp = compare_with_plan(sim)
        print(f"  simulated embedding stage / predicted: {cmp['ratio']:.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=1024)
    args = ap.parse_args()
    for mname, sname, over, label in CASES:
        print(f"{mname} on {sname} ({label})")
        one(mname, sname, over, label, args)


if __name__ == "__main__":
    main()
