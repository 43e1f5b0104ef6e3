"""Benchmark of `embsim reproduce --quick` (issue 13): the whole quick run, every experiment.  Measures;
asserts nothing.

    PYTHONPATH=. python bench/reproduce_quick.py [-o DIR]

Prints each experiment's wall and CPU time (this process and its solver children) and the total
against the goal (under 10 minutes on 2 cores), then the published figure beside the measured ratio.
"""
import argparse
import os
import resource
import tempfile
import time

from embsim.explorer.experiment import experiment_names, load_experiment
from embsim.explorer.reproduce import run_experiment, to_json

GOAL_S = 600.0


def cpu_s():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", default=None, help="folder for reproduce.json (default: a temporary one)")
    args = ap.parse_args()
    os.environ.setdefault("EMBSIM_DETERMINISTIC", "1")
    entries, t0, c0 = [], time.perf_counter(), cpu_s()
    for name in experiment_names():
        w, c = time.perf_counter(), cpu_s()
        entries.append(run_experiment(load_experiment(name), quick=True, echo=lambda *a: None))
        print(f"{name:<18} wall {time.perf_counter() - w:7.1f} s  cpu {cpu_s() - c:7.1f} s  "
              f"published {entries[-1]['published']['text']}; measured {entries[-1]['measured_ratio']:.4g}x")
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    print(f"total wall {wall:.0f} s, cpu {cpu:.0f} s; goal {GOAL_S:.0f} s on 2 cores: wall/goal = {wall / GOAL_S:.2f}, "
          f"load average {os.getloadavg()[0]:.1f}")
    out = args.o or tempfile.mkdtemp(prefix="reproduce_quick_")
    import json
    os.makedirs(out, exist_ok=True)
    target = os.path.join(out, "reproduce.json")
    if os.path.exists(target):               # a user's file is never overwritten
        target = tempfile.mkstemp(prefix="reproduce_", suffix=".json", dir=out)[1]
    with open(target, "w") as f:
        json.dump(to_json(entries), f, indent=2)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
