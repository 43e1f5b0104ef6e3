"""Benchmark of the Cython cache replay against its streaming floor and its reference.

Trace: ``--lookups`` (default 50M) row ids drawn from zipf(alpha 1.05) over
``--rows`` (default 10M) rows by inverse CDF, the ranks scattered over the
rows by a random permutation (so hot rows are not adjacent in memory), in
batches of ``--batch`` lookups, one table.

Measured in one run, on the same ids:

* ``np.bincount`` of the ids: the cost of streaming them with one random
  counter increment each, the floor any replay can hope for;
* the Cython replay with an LRU of 1% of the rows, an LFU of 1%, and a
  three-level hierarchy (SRAM 0.1% LRU over DRAM 1% LRU over flash);
* the pure-Python reference on a prefix of the ids (``--ref-lookups``; LFU on a
  shorter prefix, as the reference finds its victim by a scan of the cache);

and prints lookups per second (the best of ``--repeat`` runs for bincount and
for each replay alike, so load spikes bias neither side), the ratio to bincount and the speed-up over
the reference (lookups/s of Cython over lookups/s of the reference).  Goals:
LRU time <= 3x bincount and >= 25x faster than the reference (issue 3), then
LRU <= 2.0x and LFU <= 3x bincount, whole call against whole call (issue 20).
Replay of traces larger than memory: ``bench/trace_scale.py``.

``--memory`` instead replays 200M lookups over 100M rows with a 1% LRU and
reports peak RSS (resource.getrusage), to check the 24 GiB goal.

    PYTHONPATH=. python bench/replay.py [--json]
    PYTHONPATH=. python bench/replay.py --memory
"""
import argparse
import json
import resource
import sys
import time

import numpy as np

from embsim.sim.reference import reference_replay
from embsim.sim.replay import CacheLevel, Location, replay


def zipf_ids(n, rows, alpha, seed):
    """n ids, P(rank k) ~ k^-alpha over ``rows`` ranks, ranks mapped to rows by a permutation."""
    rng = np.random.default_rng(seed)
    w = np.arange(1, rows + 1, dtype=np.float64) ** -alpha
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    perm = rng.permutation(rows).astype(np.int64)
    out = np.empty(n, dtype=np.int64)
    step = 10_000_000  # in chunks: the uniforms of 50M draws would cost 400 MB more
    for s in range(0, n, step):
        m = min(step, n - s)
        r = np.searchsorted(cdf, rng.random(m), side="right")
        np.minimum(r, rows - 1, out=r)
        out[s:s + m] = perm[r]
    return out


def timed(fn, repeat=1):
    """(best wall seconds, best CPU seconds of this process, result).

    The machine may be shared: CPU time (time.process_time) leaves out the
    time other processes held the core, so the bench reports ratios of both.
    """
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, res


def configs(rows):
    one = max(1, rows // 100)
    tenth = max(1, rows // 1000)
    return {
        "lru_1pct": [Location("host", "dram", 64, [CacheLevel("cache", "lru", one, 64)])],
        "lfu_1pct": [Location("host", "dram", 64, [CacheLevel("cache", "lfu", one, 64)])],
        "three_level": [Location("csd0", "flash", 4096, [CacheLevel("sram", "lru", tenth, 64),
                                                          CacheLevel("dram", "lru", one, 64)])],
    }


def speed(args):
    ids = zipf_ids(args.lookups, args.rows, args.alpha, args.seed)
    bounds = np.arange(0, args.lookups + 1, args.batch, dtype=np.int64)
    if bounds[-1] != args.lookups:
        bounds = np.append(bounds, args.lookups)
    rb, offs = np.array([128.0]), np.array([0], dtype=np.int64)
    t_bc, c_bc, _ = timed(lambda: np.bincount(ids, minlength=args.rows), repeat=args.repeat)
    out = {"lookups": args.lookups, "rows": args.rows, "alpha": args.alpha, "batch": args.batch,
           "bincount_s": t_bc, "bincount_cpu_s": c_bc, "bincount_lookups_per_s": args.lookups / t_bc,
           "cases": {}}
    for name, locs in configs(args.rows).items():
        t, c, res = timed(lambda: replay(ids, bounds, rb, offs, locs, total_rows=args.rows), repeat=args.repeat)
        tot = res.totals()[locs[0].name]
        nref = args.ref_lookups if "lfu" not in name else args.ref_lookups_lfu
        rbounds = np.arange(0, nref + 1, args.batch, dtype=np.int64)
        if rbounds[-1] != nref:
            rbounds = np.append(rbounds, nref)
        t_ref, c_ref, ref = timed(lambda: reference_replay(ids[:nref], rbounds, rb, offs, locs, total_rows=args.rows))
        # same counters on the prefix (a cheap end-to-end check of the bench itself)
        fast_prefix = replay(ids[:nref], rbounds, rb, offs, locs, total_rows=args.rows)
        same = all(np.array_equal(getattr(fast_prefix, k), getattr(ref, k))
                   for k in ("lookups", "unique_rows", "hits", "misses", "bytes"))
        out["cases"][name] = {
            "seconds": t, "cpu_seconds": c, "lookups_per_s": args.lookups / t,
            "ratio_to_bincount": t / t_bc, "cpu_ratio_to_bincount": c / c_bc,
            "reference_lookups": nref, "reference_seconds": t_ref,
            "reference_lookups_per_s": nref / t_ref,
            "speedup_over_reference": (args.lookups / t) / (nref / t_ref),
            "cpu_speedup_over_reference": (args.lookups / c) / (nref / c_ref),
            "reference_counters_identical": same,
            "hit_rate_by_level": {lvl: d["hit_rate"] for lvl, d in tot.items()},
        }
    return out


def memory(args):
    rows, n = args.mem_rows, args.mem_lookups
    rng = np.random.default_rng(args.seed)
    # uniform-ish ids (cheaper to draw than zipf at this size; memory does not depend on skew)
    ids = rng.integers(0, rows, n, dtype=np.int64)
    bounds = np.arange(0, n + 1, args.batch * 16, dtype=np.int64)
    if bounds[-1] != n:
        bounds = np.append(bounds, n)
    locs = [Location("host", "dram", 64, [CacheLevel("cache", "lru", rows // 100, 64)])]
    t, c, res = timed(lambda: replay(ids, bounds, np.array([128.0]), np.array([0]), locs, total_rows=rows))
    peak_B = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {"lookups": n, "rows": rows, "seconds": t, "lookups_per_s": n / t,
            "peak_rss_B": peak_B, "peak_rss_GiB": peak_B / 2**30, "ids_B": ids.nbytes,
            "hits": int(res.hits[:, 0, 0].sum())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lookups", type=int, default=50_000_000)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--alpha", type=float, default=1.05)
    p.add_argument("--batch", type=int, default=65_536)
    p.add_argument("--ref-lookups", type=int, default=1_000_000)
    p.add_argument("--ref-lookups-lfu", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of bincount and of each replay; the best of each is compared (same estimator both sides)")
    p.add_argument("--memory", action="store_true", help="run the 200M-lookup / 100M-row memory check instead")
    p.add_argument("--mem-lookups", type=int, default=200_000_000)
    p.add_argument("--mem-rows", type=int, default=100_000_000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    out = memory(args) if args.memory else speed(args)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    if args.memory:
        print(f"memory: {out['lookups']:,} lookups over {out['rows']:,} rows, 1% LRU: "
              f"{out['seconds']:.1f} s ({out['lookups_per_s'] / 1e6:.1f} M lookups/s), "
              f"peak RSS {out['peak_rss_GiB']:.2f} GiB (ids alone {out['ids_B'] / 2**30:.2f} GiB)")
        return 0
    print(f"trace: {out['lookups']:,} lookups, zipf({out['alpha']}) over {out['rows']:,} rows, "
          f"batches of {out['batch']:,}")
    print(f"np.bincount: {out['bincount_s']:.3f} s wall, {out['bincount_cpu_s']:.3f} s CPU "
          f"({out['bincount_lookups_per_s'] / 1e6:.1f} M lookups/s)")
    print(f"{'case':<12} {'wall s':>7} {'CPU s':>7} {'M lookups/s':>12} {'x bincount':>11} {'(CPU)':>6} "
          f"{'ref M/s':>8} {'speed-up':>9} {'(CPU)':>6} {'same':>5}  hit rate by level")
    for name, c in out["cases"].items():
        hr = ", ".join(f"{k} {v:.3f}" for k, v in c["hit_rate_by_level"].items())
        print(f"{name:<12} {c['seconds']:7.2f} {c['cpu_seconds']:7.2f} {c['lookups_per_s'] / 1e6:12.1f} "
              f"{c['ratio_to_bincount']:11.2f} {c['cpu_ratio_to_bincount']:6.2f} "
              f"{c['reference_lookups_per_s'] / 1e6:8.3f} {c['speedup_over_reference']:9.0f} "
              f"{c['cpu_speedup_over_reference']:6.0f} {str(c['reference_counters_identical']):>5}  {hr}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
