"""Benchmark: the LRU replay with coalescing on, against np.bincount over the same ids (issue 18's speed goal).

Trace as in ``bench/replay.py``: ``--lookups`` (default 50M) ids, zipf(1.05)
over ``--rows`` (default 10M) rows, ranks scattered by a random permutation,
batches of ``--batch`` lookups.  Rows are 32 B (dim-16 fp16) in a flash tier
that counts 4 KiB sectors and 16 KiB pages, behind an LRU of 1% of the rows,
laid out in id order (``identity``; the layout changes the counts, not the
work per lookup).

Measured in one run: ``np.bincount`` of the ids; the replay with the LRU and
no coalescing; the same replay with coalescing on (every row's unit ids
computed from its address into the LRU ring's row state, the ring counting
the units of its misses), and the unit ids alone (one pass over the rows
into a fresh state array, as the replay does).  Goal: coalescing-on time
<= 3x bincount.  Prints
wall and CPU ratios (the machine may be shared: CPU time leaves out the time
other processes held the core).

    PYTHONPATH=. python bench/coalesce.py [--lookups N] [--rows R] [--json]
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from replay import timed, zipf_ids  # noqa: E402  (the bench folder's own helpers)

from embsim.sim.coalesce import ring_unit_ids, row_addresses  # noqa: E402
from embsim.sim.replay import CacheLevel, Location, replay  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lookups", type=int, default=50_000_000)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--batch", type=int, default=65_536)
    ap.add_argument("--alpha", type=float, default=1.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    ids = zipf_ids(a.lookups, a.rows, a.alpha, a.seed)
    bounds = np.append(np.arange(0, a.lookups, a.batch, dtype=np.int64), a.lookups)
    rb, offs = np.array([32.0]), np.array([0], dtype=np.int64)
    locs = [Location("csd0", "flash", 1, [CacheLevel("dram", "lru", max(1, a.rows // 100), 64)],
                     unit_sizes_B=[4096, 16384])]
    addr, length = row_addresses(np.arange(a.rows), 32.0, 4096)
    t_bc, c_bc, _ = timed(lambda: np.bincount(ids, minlength=a.rows), repeat=3)
    t_off, c_off, _ = timed(lambda: replay(ids, bounds, rb, offs, locs, total_rows=a.rows))
    t_on, c_on, res = timed(lambda: replay(ids, bounds, rb, offs, locs, total_rows=a.rows,
                                           row_address_B=addr, row_length_B=length))
    t_map, c_map, _ = timed(lambda: ring_unit_ids(addr, length, [4096, 16384],
                                                  np.empty((a.rows, 4), dtype=np.int32)))
    tier = res.totals()["csd0/flash"]["flash"]
    out = {"lookups": a.lookups, "rows": a.rows, "batch": a.batch, "alpha": a.alpha,
           "bincount_s": t_bc, "lru_s": t_off, "lru_coalescing_s": t_on,
           "ratio_lru_to_bincount": t_off / t_bc, "ratio_coalescing_to_bincount": t_on / t_bc,
           "cpu_ratio_coalescing_to_bincount": c_on / c_bc, "cpu_ratio_lru_to_bincount": c_off / c_bc,
           "unit_map_s": t_map, "ratio_coalescing_without_unit_map": (t_on - t_map) / t_bc,
           "tier_lookups": tier["lookups"], "tier_units": tier["units"]}
    if a.json:
        print(json.dumps(out))
        return
    print(f"{a.lookups:,} lookups over {a.rows:,} rows, batches of {a.batch:,}; "
          f"load (1-min average, {os.cpu_count()} cores) {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print(f"  np.bincount               {t_bc:7.3f} s")
    print(f"  LRU replay                {t_off:7.3f} s   {t_off / t_bc:5.2f}x bincount (CPU {c_off / c_bc:5.2f}x)")
    print(f"  LRU replay + coalescing   {t_on:7.3f} s   {t_on / t_bc:5.2f}x bincount (CPU {c_on / c_bc:5.2f}x)"
          f"   goal <= 3x")
    print(f"    of which the unit ids   {t_map:7.3f} s   (built once per layout, like the row map; without them "
          f"{(t_on - t_map) / t_bc:5.2f}x bincount)")
    print(f"  tier: {tier['lookups']:,} lookups reached it; units read {tier['units']}")


if __name__ == "__main__":
    main()
