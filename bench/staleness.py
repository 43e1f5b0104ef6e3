"""How stale may a profile be?  The hot rows a plan put in HBM drift away from the traffic.

SCRec's Data Statistic Analyzer (and every hot-row placement) ranks rows from history; when
popularity moves (the ``drift`` generator: every batch, ``drift_fraction`` of each table's hot set
trades places with colder rows), a plan made from an old profile keeps yesterday's rows in the fast
tier. This study holds the evaluation window fixed in length and moves it away from a fixed profile
(lag = batches between the profile's end and the window's start), and beside each stale result
simulates the same window planned from a *fresh* profile (the window's own preceding batches).

Setup (stated, not fitted): four 4M-row dim-64 fp32 tables (4.1 GB), pooling 20, Zipf 1.05 with 2% of
the hot set moving per batch; 8 x A100 with HBM cut to 8.2 GB per GPU (assumption: so that about a
fifth of the rows fit in HBM and the rest sit in host DDR, read over PCIe: the capacity-bound case a
profile matters for). Printed per lag: host-DDR share of the bytes the tables requested, and the
embedding stage per batch, stale and fresh. Nothing is asserted (tests check the mechanisms).

    python bench/staleness.py [--lags 0,8,16,32] [--window 8] [--batch-size 1024]
"""
if __package__ in (None, ""):
    import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # noqa: E401,E702

import argparse

from embsim.hw_models.loader import load_system
from embsim.sim.simulate import simulate
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict

MODEL = {
    "name": "drift_4x4m", "source": "bench/staleness.py: a capacity-bound model whose hot set drifts",
    "defaults": {"dim": 64, "dtype": "fp32", "pooling": 20,
                 "access": {"kind": "drift", "alpha": 1.05, "drift_every": 1, "drift_fraction": 0.02}},
    "tables": [{"name": f"t{i}", "rows": 4_000_000} for i in range(4)],
    "dense": {"dense_features": 13, "bottom_mlp": [64, 64], "top_mlp": [64, 1], "interaction": "dot"},
}
SYSTEM, HBM = "gpu_8x_a100_80g", "8.2 GB"


def host_share(result) -> float:
    """Share of the tables' requested bytes served from host DDR (the cold tier here)."""
    req = result.bytes_B["requested"]
    host = sum(v for k, v in req.items() if k.endswith(".host_ddr"))
    return host / max(1.0, sum(req.values()))


def run(model, system, trace, profile_b0, profile_b1, eval_b0, window):
    r = simulate(model, system, trace=trace.batch_slice(eval_b0, eval_b0 + window),
                 profile=trace.batch_slice(profile_b0, profile_b1), arrival="closed", time_limit_s=10)
    return host_share(r), r.stage_time_s["embedding"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lags", default="0,8,16,32")
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=1024)
    a = ap.parse_args(argv)
    lags = [int(x) for x in a.lags.split(",")]
    model = model_from_dict(MODEL, source="bench/staleness.py")
    system = load_system(SYSTEM, {"params.hbm.capacity": HBM})
    W = a.window
    trace = generate_trace(model, batches=W + max(lags) + W, batch_size=a.batch_size, seed=0)
    print(f"{model.name} on {SYSTEM} with {HBM} HBM per GPU; profile batches [0, {W}), windows of {W} batches")
    print(f"{'lag':>5} {'host share stale':>17} {'fresh':>7} {'embedding us stale':>19} {'fresh':>7} {'stale/fresh':>12}")
    for lag in lags:
        e0 = W + lag
        hs, ts = run(model, system, trace, 0, W, e0, W)
        hf, tf = run(model, system, trace, e0 - W, e0, e0, W)
        print(f"{lag:>5} {hs:>17.3f} {hf:>7.3f} {ts * 1e6:>19.1f} {tf * 1e6:>7.1f} {ts / tf:>12.3f}", flush=True)


if __name__ == "__main__":
    main()
