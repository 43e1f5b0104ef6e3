"""Benchmark of the row-sharing transform (``sim/_physical.expand``) and of HotSketch.

Trace: ``--lookups`` (default 50M) zipf(1.05) ids over ``--rows`` (default
10M) rows of one table (ranks scattered by a permutation), one id per
sample, batches of 65,536.  Measured in one run, on the same ids:

* ``np.bincount`` of the ids (the streaming floor, as in ``bench/replay.py``);
* the transform of every lookup into its physical rows for ``hash:0.01``,
  ``qr:0.01``, ``cafe:0.01`` (one map probe per lookup) and
  ``memrec:0.01:2`` (three physical rows per lookup), ids in per second:
  ``physical_trace`` end to end (it allocates the new trace, 8 B per
  physical row) and the kernel alone into an output already in memory;
* the same transform written in numpy (``numpy_rows``: the splitmix64 hash
  on uint64 arrays, ``divmod``, a ``searchsorted`` into CAFE's sorted hot
  keys), checked equal to the kernel's output, and the ratio of its time to
  the end-to-end transform's;
* HotSketch (``workloads/_hotsketch``) with slots = 1% of the rows, with and
  without a threshold.

Goals (issue 15): transform >= 50 M ids/s, sketch >= 20 M ids/s.  Prints
ids/s (best of 3 calls, wall and CPU; the transform's first call, which
also faults in its output array, apart), the ratio of each to bincount and
of numpy's transform time to the kernel's.  On a shared machine wall and
CPU differ by the load (``uptime``'s, printed first); CPU is this process's.

    PYTHONPATH=. python bench/compression.py [--lookups N] [--rows R] [--json]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from replay import zipf_ids  # noqa: E402

from embsim.cost_model.compressed import compressed  # noqa: E402
from embsim.cost_model.plan import Shard, ShardingPlan, TablePlan  # noqa: E402
from embsim.sim._physical import expand  # noqa: E402
from embsim.sim.physical import Encoders, physical_trace  # noqa: E402
from embsim.workloads.hotsketch import HotSketch  # noqa: E402
from embsim.workloads.model import model_from_dict  # noqa: E402
from embsim.workloads.trace import Trace  # noqa: E402


def timed(fn, repeat=3):
    """(best wall s, best CPU s, first wall s, result) over ``repeat`` calls.  The first call of a
    transform also pays the page faults of its fresh output array (8 B per physical row)."""
    best_w = best_c = first = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        w, c = time.perf_counter() - w, time.process_time() - c
        first = w if first is None else first
        best_w, best_c = min(w, best_w or w), min(c, best_c or c)
    return best_w, best_c, first, out


GOLDEN = np.uint64(0x9e3779b97f4a7c15)


def np_hkey(x, seed):
    """``_hash.hkey`` on a uint64 array (numpy's uint64 arithmetic wraps, as C's does)."""
    with np.errstate(over="ignore"):
        h = x.astype(np.uint64) + np.uint64(seed) * GOLDEN
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xbf58476d1ce4e5b9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94d049bb133111eb)
        h ^= h >> np.uint64(31)
    return h


def np_hscale(h, n):
    return (((h >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32)).astype(np.int64)


def numpy_rows(x, enc):
    """Table 0's physical rows of ids x, in numpy (one table, one id per sample: the row order is the kernel's)."""
    kind, p = int(enc.kind[0]), [int(v) for v in enc.spec[0]]
    seed = p[7]
    if kind == 1:
        return np_hscale(np_hkey(x, seed), p[0])
    if kind == 2:
        q, r = np.divmod(x, p[0])
        return np.stack((q, p[1] + r), axis=1).ravel()
    if kind == 4:
        cols = [np_hscale(np_hkey(x, seed + j), p[0]) for j in range(p[2])]
        return np.stack(cols + [p[0] + np_hscale(np_hkey(x, seed + 99), p[1])], axis=1).ravel()
    keys, vals = enc.map_keys, enc.map_vals                     # CAFE, one level
    live = keys >= 0
    order = np.argsort(keys[live])
    k, v = keys[live][order], vals[live][order]
    pos = np.minimum(np.searchsorted(k, x), k.size - 1)
    return np.where(k[pos] == x, v[pos], p[0] + np_hscale(np_hkey(x, seed + 1), p[1]))


def one_table(rows, lookups, batch):
    model = model_from_dict({"name": "bench", "source": "bench", "defaults": {"dim": 64, "pooling": 1},
                             "tables": [{"name": "t", "rows": rows}],
                             "dense": {"dense_features": 1, "bottom_mlp": [8, 64], "top_mlp": [8, 1]}}, source="bench")
    ids = zipf_ids(lookups, rows, 1.05, 0)
    nb = lookups // batch
    tr = Trace(lengths=np.ones((nb, 1, batch), dtype=np.int32), indices=ids[:nb * batch],
               table_rows=np.array([rows]), table_names=["t"])
    return model, tr


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lookups", type=int, default=50_000_000)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--batch", type=int, default=65_536)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    model, tr = one_table(a.rows, a.lookups, a.batch)
    n = tr.n_indices
    out = {"lookups": n, "rows": a.rows, "loadavg_1min": os.getloadavg()[0], "cpus": os.cpu_count()}
    w, c, _, _ = timed(lambda: np.bincount(tr.indices, minlength=a.rows))
    out["bincount"] = {"ids_per_s": n / w, "cpu_ids_per_s": n / c}
    for name in ("hash:0.01", "qr:0.01", "cafe:0.01", "memrec:0.01:2"):
        rep = compressed(model.tables[0], name)
        plan = ShardingPlan("bench", "none", [TablePlan("t", rep, [Shard("d", "dram", 0.0, 1.0, 1.0)])])
        enc = Encoders(model, plan, tr)               # CAFE: runs its sketch over the trace (not timed here)
        w, c, first, phys = timed(lambda: physical_trace(tr, enc))
        wn, cn, _, ref = timed(lambda: numpy_rows(tr.indices, enc), repeat=1)
        if not np.array_equal(ref, phys.indices):
            raise SystemExit(f"{name}: numpy's rows differ from the kernel's")
        del phys, ref
        out[f"transform {name}"] = {"ids_per_s": n / w, "cpu_ids_per_s": n / c, "first_call_ids_per_s": n / first,
                                    "time_vs_bincount": w / (n / out["bincount"]["ids_per_s"]),
                                    "numpy_ids_per_s": n / wn, "numpy_time_vs_kernel": wn / w}
        buf = np.empty(n * enc.max_reads(0), dtype=np.int64)       # the kernel alone, output already in memory
        buf_len = np.empty_like(tr.lengths)
        w, c, _, _ = timed(lambda: expand(tr.indices, tr.lengths, enc.kind, enc.spec, enc.hot_map, enc.map_base,
                                          enc.map_mask, buf, buf_len))
        out[f"  kernel {name}"] = {"ids_per_s": n / w, "cpu_ids_per_s": n / c,
                                   "time_vs_bincount": w / (n / out["bincount"]["ids_per_s"])}
    slots = max(4, a.rows // 100)
    for th in (None, 10.0):
        def run(th=th):
            sk = HotSketch(slots // 4, threshold=th if th is not None else float("inf"))
            sk.insert(tr.indices)
            return sk
        w, c, _, sk = timed(run)
        out[f"hotsketch threshold={th}"] = {"ids_per_s": n / w, "cpu_ids_per_s": n / c, "slots": sk.slots,
                                            "time_vs_bincount": w / (n / out["bincount"]["ids_per_s"])}
    if a.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{n} zipf(1.05) ids over {a.rows} rows; load average {out['loadavg_1min']:.2f} on {out['cpus']} CPUs")
    for k, v in out.items():
        if isinstance(v, dict):
            ratio = f"  {v['time_vs_bincount']:.2f}x bincount's time" if "time_vs_bincount" in v else ""
            if "first_call_ids_per_s" in v:
                ratio += f"  (first call {v['first_call_ids_per_s'] / 1e6:.1f} M/s)"
            if "numpy_ids_per_s" in v:
                ratio += f"  numpy {v['numpy_ids_per_s'] / 1e6:.1f} M/s = {v['numpy_time_vs_kernel']:.1f}x the time"
            print(f"  {k:<28} {v['ids_per_s'] / 1e6:8.1f} M ids/s (CPU {v['cpu_ids_per_s'] / 1e6:.1f}){ratio}")
    print("goals: transform >= 50 M ids/s, HotSketch >= 20 M ids/s")


if __name__ == "__main__":
    main()
