"""Sequence trace speed: generation (goal >= 50M ids/s) and the replay of a 1,000 x 8192 trace.

    python bench/seq_gen.py [--queries 1000] [--length 8192]

1. Generates ``hstu_large`` traces (items Zipf 1.0 over 20M rows, a
   16-row action table, power-law lengths on 64..8192) of about 100M ids and
   prints ids per second of CPU time, next to numpy's own
   ``Generator.integers`` drawing the same count in the same run (the cost of
   raw random numbers on this machine and load).
2. Builds a trace of ``--queries`` histories all ``--length`` long (a fixed
   length law), and replays it through one LRU cache of 1M rows
   (``embsim.sim.replay``), next to the replay of a DLRM-shaped trace of the
   same number of lookups (rm2, pooled bags): the ratio says whether a
   sequence trace replays at the replay's usual speed.
"""
import argparse
import dataclasses
import time

import numpy as np

from embsim.sim.replay import CacheLevel, Location, replay
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import load_model
from embsim.workloads.sequence import LengthSpec


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def replay_one_cache(tr, cache_rows=1 << 20):
    ids = tr.global_ids()
    loc = [Location("dev", "tier", 64, [CacheLevel("lru", "lru", cache_rows, 64)])]
    row_bytes = np.full(tr.n_tables, 64.0)
    return replay(ids, tr.batch_bounds(), row_bytes, tr.row_offsets, loc, total_rows=tr.total_rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--length", type=int, default=8192)
    args = ap.parse_args()
    model = load_model("hstu_large")
    per_batch = 256 * 2 * model.sequence.length.mean
    batches = max(1, int(100e6 // per_batch))
    tr, c, w = timed(lambda: generate_trace(model, batches, 256, seed=1))
    n = tr.n_indices
    _, c_np, _ = timed(lambda: np.random.default_rng(0).integers(0, 20_000_000, size=n))
    print(f"hstu_large: {n:,} ids ({batches} batches x 256 histories, 2 sequence tables)")
    print(f"  generation {n / c / 1e6:6.1f} M ids/s CPU ({n / w / 1e6:.1f} wall); "
          f"numpy integers {n / c_np / 1e6:.1f} M/s; ratio {c / c_np:.2f}x numpy's time")
    del tr
    fixed = dataclasses.replace(model.sequence, length=LengthSpec(kind="fixed", max_length=args.length))
    seq_model = dataclasses.replace(model, sequence=fixed)
    B = 100 if args.queries % 100 == 0 else 1
    seq, _, _ = timed(lambda: generate_trace(seq_model, args.queries // B, B, seed=2))
    _, c_seq, w_seq = timed(lambda: replay_one_cache(seq))
    rm2 = load_model("rm2")
    rb = max(1, int(round(seq.n_indices / (256 * rm2.lookups_per_sample))))
    dl, _, _ = timed(lambda: generate_trace(rm2, rb, 256, seed=2))
    _, c_dl, w_dl = timed(lambda: replay_one_cache(dl))
    print("replay, one LRU cache of 1M rows:")
    print(f"  sequence {args.queries} x {args.length}: {seq.n_indices:,} lookups, "
          f"{seq.n_indices / c_seq / 1e6:6.1f} M lookups/s CPU")
    print(f"  rm2 (pooled bags):     {dl.n_indices:,} lookups, {dl.n_indices / c_dl / 1e6:6.1f} M lookups/s CPU")
    print(f"  sequence / rm2 replay speed: {(seq.n_indices / c_seq) / (dl.n_indices / c_dl):.2f}")


if __name__ == "__main__":
    main()
