"""Sequence trace speed: generation (goal >= 50M ids/s) and the replay of a 1,000 x 8192 trace.

    python bench/seq_gen.py [--queries 1000] [--length 8192] [--repeats 3]

1. Generates an ``hstu_large`` trace (items Zipf 1.0 over 20M rows, a
   16-row action table, power-law lengths on 64..8192) of about 100M ids
   with ``generate_trace`` and prints ids per second of CPU time (and
   wall), next to numpy's ``Generator.integers`` drawing the same count of
   int64 in the same run: the cost of raw random numbers written into an
   array of the same size on this machine at this load.  Twice:
   - cold: the first array of that size the process touches.  On a VM
     whose host takes freed memory back (free page reporting), first
     touching fresh pages costs more than drawing the ids; the line
     ``first touch`` shows that floor alone (np.ones of the same size), so
     neither rate can pass ids / floor;
   - warm: the best of ``--repeats`` repeats, each drawing into memory the
     process has just freed (what a sweep generating trace after trace sees).
2. Builds a trace of ``--queries`` histories all ``--length`` long (a fixed
   length law) and replays it through one LRU cache of 1M rows
   (``embsim.sim.replay``), next to the replay of a flat trace of the same
   number of lookups (the same two tables and laws, one lookup per sample
   and table, batches of 8192): the ratio says whether a sequence
   trace replays at the replay's usual speed.  Then the same against an
   rm2 trace (pooled bags over 32 tables) of about the same length.
"""
import argparse
import dataclasses
import gc
import os
import time

import numpy as np

from embsim.sim.replay import CacheLevel, Location, replay
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import load_model, model_from_dict
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


def generation(model, batches, repeats):
    """Print cold and warm generation rates beside numpy integers of the same count."""
    tr, c, w = timed(lambda: generate_trace(model, batches, 256, seed=1))
    n = tr.n_indices
    x, c_np, w_np = timed(lambda: np.random.default_rng(0).integers(0, 20_000_000, size=n))
    f, c_ft, _ = timed(lambda: np.ones(n, dtype=np.int64))
    del tr, x, f
    print(f"hstu_large: {n:,} ids ({batches} batches x 256 histories, 2 sequence tables); "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"  cold  generation {n / c / 1e6:6.1f} M ids/s CPU ({n / w / 1e6:5.1f} wall); numpy integers "
          f"{n / c_np / 1e6:6.1f} M/s CPU ({n / w_np / 1e6:5.1f} wall); ratio {c / c_np:.2f}x numpy's time")
    print(f"        first touch of {8 * n / 1e9:.2f} GB alone: {c_ft:.2f} s CPU, a floor of "
          f"{n / c_ft / 1e6:.1f} M ids/s for anything writing that many int64")
    best_g = best_np = float("inf")
    for _ in range(repeats):
        gc.collect()
        tr, c, _ = timed(lambda: generate_trace(model, batches, 256, seed=1))
        del tr
        x, c_np, _ = timed(lambda: np.random.default_rng(0).integers(0, 20_000_000, size=n))
        del x
        best_g, best_np = min(best_g, c), min(best_np, c_np)
    print(f"  warm  generation {n / best_g / 1e6:6.1f} M ids/s CPU; numpy integers {n / best_np / 1e6:6.1f} M/s CPU; "
          f"ratio {best_g / best_np:.2f}x numpy's time (best of {repeats})")


def flat_model(model):
    """The sequence model's tables with their access laws, one lookup per sample each (no sequence part)."""
    tables = [{"name": t.name, "rows": t.rows, "dim": t.dim, "pooling": 1,
               "access": {"kind": t.access.kind, "alpha": t.access.alpha}} for t in model.tables]
    return model_from_dict({"name": "flat", "source": "bench: the sequence tables, one lookup per sample",
                            "tables": tables, "dense": {"dense_features": 1, "bottom_mlp": [1], "top_mlp": [1],
                                                        "interaction": "cat"}})


def replay_speeds(model, queries, length):
    fixed = dataclasses.replace(model.sequence, length=LengthSpec(kind="fixed", max_length=length))
    seq_model = dataclasses.replace(model, sequence=fixed)
    B = 100 if queries % 100 == 0 else 1
    seq = generate_trace(seq_model, queries // B, B, seed=2)
    _, c_seq, _ = timed(lambda: replay_one_cache(seq))
    n = seq.n_indices
    flat = generate_trace(flat_model(model), max(1, n // (8192 * model.n_tables)), 8192, seed=2)
    _, c_flat, _ = timed(lambda: replay_one_cache(flat))
    rm2 = load_model("rm2")
    dl = generate_trace(rm2, max(1, int(round(n / (256 * rm2.lookups_per_sample)))), 256, seed=2)
    _, c_dl, _ = timed(lambda: replay_one_cache(dl))
    r_seq, r_flat, r_dl = n / c_seq, flat.n_indices / c_flat, dl.n_indices / c_dl
    print("replay, one LRU cache of 1M rows:")
    print(f"  sequence {queries} x {length}:       {n:,} lookups, {r_seq / 1e6:6.1f} M lookups/s CPU")
    print(f"  flat, same tables and laws:    {flat.n_indices:,} lookups, {r_flat / 1e6:6.1f} M lookups/s CPU")
    print(f"  rm2 (pooled bags, 32 tables):  {dl.n_indices:,} lookups, {r_dl / 1e6:6.1f} M lookups/s CPU")
    print(f"  sequence / flat replay speed: {r_seq / r_flat:.2f}; sequence / rm2: {r_seq / r_dl:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--length", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    model = load_model("hstu_large")
    per_batch = 256 * 2 * model.sequence.length.mean
    generation(model, max(1, int(100e6 // per_batch)), args.repeats)
    replay_speeds(model, args.queries, args.length)


if __name__ == "__main__":
    main()
