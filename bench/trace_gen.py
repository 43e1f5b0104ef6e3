"""Generation speed: indices per second of the zipf and stackdist generators.

    python bench/trace_gen.py [--indices 50000000]

Builds a trace of about 50M lookups (8 tables x 4M rows, pooling 64 fixed,
batches of 4096 samples, as many batches as needed) with each generator, and
times numpy's own ``Generator.integers`` drawing the same count of rows in the
same run, so the printed ratios say how far each generator is from the cost
of raw random numbers on this machine and load.  Also times the LRU
stack-distance histogram of the stackdist trace.  Timings are process CPU
time (``time.process_time``) and wall time: on a shared machine CPU time is
the steadier of the two.
"""
import argparse
import time

import numpy as np

from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict
from embsim.workloads.reuse import reuse_distance_histogram

ROWS, TABLES, POOLING, BATCH = 4_000_000, 8, 64, 4096


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--indices", type=int, default=50_000_000)
    args = ap.parse_args()
    per_batch = TABLES * POOLING * BATCH
    batches = -(-args.indices // per_batch)
    model = model_from_dict({"name": "bench", "source": "bench", "defaults": {"dim": 64, "pooling": POOLING},
                             "tables": [{"name": "t", "rows": ROWS, "count": TABLES}],
                             "dense": {"dense_features": 1, "bottom_mlp": [1], "top_mlp": [1], "interaction": "cat"}})
    n = batches * per_batch
    rng = np.random.default_rng(0)
    _, c_np, w_np = timed(lambda: rng.integers(0, ROWS, size=n))
    print(f"{n:,} indices ({batches} batches x {BATCH} samples x {TABLES} tables x pooling {POOLING}, {ROWS:,} rows each)")
    print(f"{'':>24} {'M idx/s cpu':>12} {'M idx/s wall':>13} {'cpu time / numpy':>17}")
    print(f"{'numpy Generator.integers':>24} {n / c_np / 1e6:12.1f} {n / w_np / 1e6:13.1f} {1.0:17.2f}")
    trace = None
    for g in ("uniform", "zipf", "stackdist"):
        tr, c, w = timed(lambda: generate_trace(model, batches, BATCH, generator=g, seed=1))
        assert tr.n_indices == n
        print(f"{'generator ' + g:>24} {n / c / 1e6:12.1f} {n / w / 1e6:13.1f} {c / c_np:17.2f}")
        trace = tr if g == "stackdist" else None
        del tr
    h, c, w = timed(lambda: reuse_distance_histogram(trace))
    print(f"{'reuse histogram (LRU)':>24} {n / c / 1e6:12.1f} {n / w / 1e6:13.1f} {c / c_np:17.2f}")


if __name__ == "__main__":
    main()
