"""Closed-loop figures of every system preset on DCNv2 and RM2: throughput, p99, energy per query, bottleneck.

Run before and after a hardware-model change (issue 11) and compare; the
table and the reason for every change over 5% are in parts_before_after.md.

    python validation/parts_before_after.py [--queries N] [-o FIGURES.json]

Fixed seed and small query counts, so it finishes in about a minute.
"""
import argparse
import json
import sys

from embsim.cost_model.solve import solve_plan
from embsim.errors import InputError
from embsim.hw_models.loader import load_system, preset_names
from embsim.sim.simulate import Simulation
from embsim.workloads.model import load_model

MODELS = ("dlrm_dcnv2_criteo1tb", "rm2")


def figures(queries, seed=0):
    rows = []
    for system_name in preset_names():
        system = load_system(system_name)
        for model_name in MODELS:
            model = load_model(model_name)
            plan, note = None, ""
            try:
                plan = solve_plan(model, system, time_limit_s=20)
            except InputError as e:          # too big at fp32 (Ascend, DCNv2): let the planner pick int8 rows
                if "representations" not in str(e):
                    raise
                plan = solve_plan(model, system, time_limit_s=20, representations="fp32,int8")
                note = "fp32,int8"
            sim = Simulation(model, system, plan, queries=queries, seed=seed)
            # the mean model (no service noise), as the BEFORE figures were made: the change measured is the model's
            r = sim.run("closed", queries=queries, variability=False)
            e = r.energy
            rows.append({"system": system_name, "model": model_name,
                         "queries_per_s": r.throughput["queries_per_s"], "p99_s": r.latency["p99_s"],
                         "energy_per_query_J": e["per_query_J"],
                         "static_J": e["static_J"], "dynamic_J": e["dynamic_J"],
                         "bottleneck": r.bottleneck[0], "bottleneck_utilisation": r.bottleneck[1],
                         "representations": note})
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=16384)
    ap.add_argument("-o", "--output")
    a = ap.parse_args()
    rows = figures(a.queries)
    text = json.dumps(rows, indent=1)
    if a.output:
        with open(a.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
