"""How well a calibration predicts gathers it never saw: the CPU model before and after issue 11's terms.

One measuring session on this host (numpy gather + add.reduce on one core, the
kernel ``embsim calibrate`` times), every shape interleaved round robin with a
warm-up pass and the median of the repeats:

- *after*: ``calibrate.fit_gather`` on ``calibrate.fit_shapes()`` (fp32, fp16,
  int8 at pooling 1, 4, 32): per-row, per-added-row, per-bag and per-value
  conversion terms;
- *before*: the model as it was, one per-row overhead, a per-byte sum and a
  per-line memory time, fitted the old way on fp32 rows of 64-1024 B at
  pooling 8 and 32, with no dtype or pooling in its prediction;

then both predict ``calibrate.held_out_shapes`` (other rows, dtypes, pooling 1, 10,
100, other table sizes).  It prints the relative error of each per shape.

    python bench/calibration_holdout.py [--repeats 15] [--lookups 65536]
"""
import argparse
import os
import sys

import numpy as np

from embsim.hw_models import calibrate as cal
from embsim.hw_models.params import expected_lines

MiB = 2**20
OLD_POOLING = (8, 32)


def old_fit(shapes, t_gather, t_sum, line_bytes, shapes_llc, t_llc):
    """The fit before issue 11 (row overhead, sum bandwidth, per-line time; fp32 only, no pooling)."""
    r = np.array([s.row_bytes for s in shapes], float)
    lines = np.array([expected_lines(s.row_bytes, line_bytes) for s in shapes])
    ts, tg = np.asarray(t_sum), np.asarray(t_gather)
    (s0, c), *_ = np.linalg.lstsq(np.stack([np.ones_like(r), r], 1) / ts[:, None], np.ones_like(r), rcond=None)
    c = max(c, 1e-15)
    y = tg - r * c
    (a, b), *_ = np.linalg.lstsq(np.stack([np.ones_like(r), lines], 1) / tg[:, None], y / tg, rcond=None)
    if a < 0:
        a, b = 0.0, float(np.sum(lines * y / tg**2) / np.sum(lines**2 / tg**2))
    b = max(b, 1e-12)
    rl = np.array([s.row_bytes for s in shapes_llc], float)
    ll = np.array([expected_lines(s.row_bytes, line_bytes) for s in shapes_llc])
    tl = np.asarray(t_llc)
    b_llc = min(max(float(np.sum(ll / tl * (tl - a - rl * c) / tl) / np.sum((ll / tl) ** 2)), 1e-12), b)
    return lambda s, llc: a + s.row_bytes * c + expected_lines(s.row_bytes, line_bytes) * (b_llc if llc else b)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--lookups", type=int, default=1 << 16)
    ap.add_argument("--table-MiB", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    info = cal.host_info()
    rng = np.random.default_rng(a.seed)
    llc_table = max(info.llc_bytes // 4, 2 * MiB)
    new = cal.fit_shapes()
    old = [cal.GatherShape(r, L) for r in cal.FIT_ROW_BYTES for L in OLD_POOLING]
    llc = [cal.GatherShape(r, cal.LLC_POOLING, "fp32", llc_table) for r in cal.FIT_ROW_BYTES]
    held = cal.held_out_shapes(info.llc_bytes)
    bench = cal.GatherBench(max(a.table_MiB * MiB, 8 * info.llc_bytes), rng)
    every = new + old + llc + held
    t = dict(zip(every, bench.measure(every, a.lookups, a.repeats)))
    t_sum = dict(zip(new + old, bench.measure(new + old, a.lookups, a.repeats, gather=False)))
    fit = cal.fit_gather(new, [t[s] for s in new], [t_sum[s] for s in new], info.line_bytes, llc, [t[s] for s in llc])
    before = old_fit(old, [t[s] for s in old], [t_sum[s] for s in old], info.line_bytes, llc, [t[s] for s in llc])
    print(f"host: {info.cpu_model}, {info.cores} CPUs, LLC {info.llc_bytes / MiB:.0f} MiB, "
          f"load average {os.getloadavg()[0]:.1f}; {a.repeats} repeats of {a.lookups} lookups per shape")
    print(f"after: row {fit.gather_overhead_s * 1e9:.2f} ns, add {fit.add_overhead_s * 1e9:.2f} ns, "
          f"bag {fit.bag_overhead_s * 1e9:.2f} ns, sum {fit.sum_bandwidth_Bps / 1e9:.3g} GB/s, "
          + ", ".join(f"{k} {v * 1e9:.3f} ns/value" for k, v in fit.convert_s.items())
          + f", line {fit.line_time_s * 1e9:.2f} ns (LLC {fit.llc_line_time_s * 1e9:.2f} ns)")
    print(f"{'dtype':5s} {'row B':>6s} {'pool':>4s} {'table':>8s} {'measured ns':>12s} {'before':>8s} {'after':>8s}")
    worst = [0.0, 0.0]
    for s in held:
        on_llc = cal.level_of(s, info.llc_bytes) == "llc"
        m = t[s]
        e_old = before(s, on_llc) / m - 1
        e_new = cal.predict_s(fit, s.row_bytes, info.line_bytes, s.dtype, s.pooling, llc=on_llc) / m - 1
        worst = [max(worst[0], abs(e_old)), max(worst[1], abs(e_new))]
        table = "full" if s.table_bytes is None else f"{s.table_bytes / MiB:.0f} MiB"
        print(f"{s.dtype:5s} {s.row_bytes:6d} {s.pooling:4d} {table:>8s} {m * 1e9:12.1f} {e_old:+8.1%} {e_new:+8.1%}")
    print(f"worst |error|: before {worst[0]:.1%}, after {worst[1]:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
