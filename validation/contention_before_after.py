"""Tail latency of DCNv2 on one preset of each family at three loads (issue 12, before and after).

For each preset: the demo's trace (DCNv2, batches of 1024, seed 0) and plan; a
closed loop gives the peak rate and the closed-loop p50/p99; a full batch's service
time at peak is ``batch_size / peak`` (the bottleneck's time per batch); then
Poisson arrivals at 50%, 80% and 95% of the peak, with the batch timeout set
to that service time (so a batch at low load leaves about half full instead of
waiting to fill), give p50/p95/p99, the utilisation and, where
the engine reports it, the queueing delay per shared part.

    PYTHONPATH=. python validation/contention_before_after.py [--batches 12] [-o FIGURES.json]

Nothing is asserted here; the tests in tests/sim check the physics.
"""
if __package__ in (None, ""):
    import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # noqa: E401,E702

import argparse
import json
import sys

from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import load_model
from embsim.workloads.stats import trace_stats

MODEL = "dlrm_dcnv2_criteo1tb"
PRESETS = (("cpu_2s_spr_ddr5", None), ("gpu_8x_a100_80g", None), ("ascend_910", "int8"),
           ("screc_4x_smartssd", None))
LOADS = (0.5, 0.8, 0.95)
BATCH_SIZE = 1024
RUN_BATCHES = 800        # per run: a queue at 95% load needs hundreds of batches to reach its steady state


def _plan(model, system, stats, reps, time_limit_s):
    from embsim.cost_model.planner import plan_for
    return plan_for(model, system, stats=stats, batch_size=BATCH_SIZE, time_limit_s=time_limit_s,
                    representations=reps)


def _latency(r):
    return {k: r.latency[k] for k in ("p50_s", "p95_s", "p99_s", "max_s")}


def figures(batches=12, time_limit_s=15.0, seed=0, echo=print):
    model = load_model(MODEL)
    trace = generate_trace(model, batches=batches, batch_size=BATCH_SIZE, seed=seed)
    stats = trace_stats(trace)
    rows = []
    for preset, reps in PRESETS:
        system = load_system(preset)
        sim = Simulation(model, system, _plan(model, system, stats, reps, time_limit_s), trace, seed=seed)
        queries = RUN_BATCHES * BATCH_SIZE
        peak = sim.run("closed", queries=queries)
        timeout_s = BATCH_SIZE / peak.qps
        row = {"preset": preset, "family": system.family, "peak_qps": peak.qps, "closed": _latency(peak),
               "batch_service_s": timeout_s, "loads": {}}
        for load in LOADS:
            r = sim.run("poisson", qps=load * peak.qps, batch_timeout_s=timeout_s, seed=seed, queries=queries)
            row["loads"][f"{load:g}"] = {**_latency(r), "qps": r.qps,
                                         "utilisation": r.utilisation_fraction,
                                         "queueing_delay_s": getattr(r, "queueing_delay_s", None),
                                         "batch_timeout_s": timeout_s}
        rows.append(row)
        echo(json.dumps({"preset": preset, "peak_qps": peak.qps,
                         **{k: v["p99_s"] for k, v in row["loads"].items()}}), file=sys.stderr)
    return rows


def markdown(rows):
    """The table: per preset, closed-loop p50/p99, then p50/p95/p99 at each load (ms)."""
    ms = 1e3
    head = "| preset | peak q/s | closed p50 / p99 ms | " + " | ".join(
        f"{int(float(k) * 100)}%: p50 / p95 / p99 ms" for k in (f"{x:g}" for x in LOADS)) + " |"
    out = [head, "|" + " --- |" * (3 + len(LOADS))]
    for r in rows:
        cells = [r["preset"], f"{r['peak_qps']:,.0f}",
                 f"{r['closed']['p50_s'] * ms:.3f} / {r['closed']['p99_s'] * ms:.3f}"]
        for k in (f"{x:g}" for x in LOADS):
            v = r["loads"][k]
            cells.append(f"{v['p50_s'] * ms:.3f} / {v['p95_s'] * ms:.3f} / {v['p99_s'] * ms:.3f}")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def queueing_markdown(rows, load="0.8", top=6):
    """Per preset: the resources with the longest mean queueing delay at ``load``, with their utilisation."""
    out = ["| preset | resource: mean queueing delay ms (utilisation) at 80% load |", "| --- | --- |"]
    for r in rows:
        v = r["loads"][load]
        q = v.get("queueing_delay_s") or {}
        worst = sorted(q, key=q.get, reverse=True)[:top]
        cells = ", ".join(f"{k}: {q[k] * 1e3:.3f} ({v['utilisation'].get(k, 0):.2f})" for k in worst) or "not reported"
        out.append(f"| {r['preset']} | {cells} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=12)
    ap.add_argument("--time-limit", type=float, default=15.0)
    ap.add_argument("-o", "--output")
    a = ap.parse_args(argv)
    rows = figures(a.batches, a.time_limit)
    if a.output:
        with open(a.output, "w") as f:
            json.dump(rows, f, indent=1)
    print(markdown(rows))
    print()
    print(queueing_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
