"""Sweep throughput: points per minute with 1 and 2 local workers and on a Dask LocalCluster.

    python bench/sweep.py [--points 12] [--rows 50000] [--queries 2048] [--stand-in]

The evaluator is the real one (model, system, a sharding plan solved per
point, simulate) on a reduced copy of examples/spaces/quick.yaml: the
SmartSSD count and the batch size vary, tables are shrunk to --rows rows.
Each executor sweeps the same points into a fresh store:

- 1 worker: in this process, one point after the other (``--workers 1``);
- 2 workers: a local process pool (``--workers 2``);
- Dask: a LocalCluster of 2 single-threaded worker processes on loopback
  (``--scheduler tcp://127.0.0.1:...``).

With ``--stand-in`` each point is a fixed amount of pure-Python CPU work
instead, which measures the sweep machinery alone.

Printed: wall time, points per minute, and the speed-up over 1 worker
(goal: at least 1.7x with 2 workers on 2 free cores).  A loaded machine
lowers the ratios, so the script ends with a control: the speed-up a bare
2-process pool gets on trivially parallel work at the same time.  It
measures, it does not assert.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embsim.explorer.space import DesignSpace  # noqa: E402
from embsim.explorer.store import ResultStore  # noqa: E402
from embsim.explorer.sweep import run_sweep  # noqa: E402


def space(points, rows, queries):
    data = yaml.safe_load((ROOT / "examples" / "spaces" / "quick.yaml").read_text())
    data["overrides"]["model.tables.0.rows"] = rows
    data["simulation"]["queries"] = queries
    data["knobs"] = {"n_ssd": {"path": "system.params.csd.count", "values": [1, 2]},
                     "batch": {"path": "sim.batch_size", "values": [64, 128, 256]},
                     "seed": {"path": "sim.seed", "values": list(range(max(1, -(-points // 6))))}}
    s = DesignSpace.from_dict(data, source="bench-sweep", base_dir=ROOT / "examples" / "spaces")
    return s, s.points()[:points]


def stand_in(config):
    """CPU-bound stand-in evaluator: a fixed amount of pure-Python work per point (no simulation)."""
    x, n = 0, int(config["sim"].get("in_flight") or 1) * 2_000_000
    for i in range(n):
        x = (x * 31 + i) % 1000003
    return {"throughput_qps": float(x), "energy_per_query_J": 1.0}


def _burn(_):
    x = 0
    for i in range(2_000_000):
        x = (x * 31 + i) % 1000003
    return x


def control_ratio(tasks=12):
    """Speed-up a bare 2-process pool gets on trivially parallel work right now (the machine's share)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    t0 = time.perf_counter()
    for i in range(tasks):
        _burn(i)
    t1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        list(pool.map(_burn, range(tasks)))
    return t1 / (time.perf_counter() - t0)


def timed(label, sp, pts, **kw):
    # Start every executor cold: forked pool workers would otherwise inherit the traces the
    # in-process run cached (embsim.explorer.evaluate keeps one per worker process).
    from embsim.explorer import evaluate as ev
    ev._TRACES.clear()
    with tempfile.TemporaryDirectory() as d, ResultStore(Path(d) / "b.sqlite") as st:
        t0 = time.perf_counter()
        s = run_sweep(sp, st, points=pts, progress=False, **kw)
        dt = time.perf_counter() - t0
    if s.evaluated != len(pts) or s.errors:
        raise SystemExit(f"{label}: {s.line()}\n{s.first_error}")
    print(f"{label:<28} {dt:8.1f} s  {60 * len(pts) / dt:8.1f} points/min   ({s.ok} ok, {s.infeasible} infeasible)")
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=12)
    ap.add_argument("--rows", type=int, default=50000)
    ap.add_argument("--queries", type=int, default=2048)
    ap.add_argument("--stand-in", action="store_true",
                    help="evaluate with a CPU-bound stand-in instead of simulate (measures the sweep machinery)")
    a = ap.parse_args()
    sp, pts = space(a.points, a.rows, a.queries)
    kind = "CPU-bound stand-in evaluator" if a.stand_in else "real evaluator"
    ev = stand_in if a.stand_in else None
    print(f"{kind}, {len(pts)} points of a reduced quick.yaml ({a.rows} rows per table, "
          f"{a.queries} queries); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    t1 = timed("1 worker (in process)", sp, pts, workers=1, evaluate=ev)
    t2 = timed("2 local workers", sp, pts, workers=2, evaluate=ev)
    from dask.distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        td = timed("Dask LocalCluster, 2 procs", sp, pts, scheduler=cluster.scheduler_address, evaluate=ev)
    print(f"speed-up with 2 local workers: {t1 / t2:.2f}x (goal >= 1.7x); Dask LocalCluster: {t1 / td:.2f}x")
    c = control_ratio()
    print(f"control: a bare 2-process pool on trivially parallel work got {c:.2f}x just now, so the sweep "
          f"reached {t1 / t2 / c:.0%} (local) and {t1 / td / c:.0%} (Dask) of the parallelism this machine offered")


if __name__ == "__main__":
    main()
