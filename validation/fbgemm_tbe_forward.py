"""(c) FBGEMM TBE forward (T=2, E=10M, D=192, B=65536, L=32) vs our A100 and H100 presets.

The measurement ran on an AMD GPU under HIP (the PR does not name the model;
likely MI200-class).  Our presets are NVIDIA A100 and H100, so the hardware
differs: a ratio here is NOT an error of the model, it mixes the model's error
with the difference between the GPUs.  The comparison that transfers across
GPUs is the share of HBM peak a random row gather reaches: ours is the
presets' ``gather_efficiency`` (an assumption that cites this measurement as
one end of its range), the measured one is 621 GB/s over the MI250X-class
GCD peak (an estimate, since the GPU is not named).

Model time per batch = lookups x ``MultiGpu.lookup_cost(hbm slot, 768 B).time_s``
on one GPU, lookups = B x T x L.  Bandwidth is counted as FBGEMM counts it:
weight bytes read (B*T*L*D*4) plus output bytes written (B*T*D*1), over the time.

    PYTHONPATH=. python -m validation.fbgemm_tbe_forward
"""
if __package__ in (None, ""):
    import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # noqa: E401,E702

from validation._compare import Row, format_rows
from validation.measurements import FBGEMM_TBE_FORWARD, MI250X_GCD_HBM_PEAK

SYSTEMS = ("gpu_8x_a100_80g", "gpu_8x_h100_80g")
TITLE = "(c) FBGEMM TBE forward, T=2 E=10M D=192 B=65536 L=32 (measured on an AMD GPU)"


def compare(systems=SYSTEMS):
    from embsim.hw_models.loader import load_system
    m = FBGEMM_TBE_FORWARD
    x = m.extra
    lookups = x["batch"] * x["tables"] * x["pooling"]
    row_B = x["dim"] * x["weight_bytes"]
    fbgemm_bytes = lookups * row_B + x["batch"] * x["tables"] * x["dim"] * x["output_bytes"]
    measured_share = m.values["GBps"] * 1e9 / MI250X_GCD_HBM_PEAK.value
    rows, info = [], {"lookups": lookups, "row_B": row_B, "fbgemm_bytes": fbgemm_bytes, "peaks": {}}
    for name in systems:
        s = load_system(name)
        dev = s.devices[0]
        t = lookups * s.lookup_cost(s.slot(dev, "hbm"), row_B).time_s
        peak = s.peak_bandwidth_Bps()[f"{dev}.hbm"]
        info["peaks"][name] = peak
        short = name.replace("gpu_8x_", "").replace("_80g", "").upper()
        rows += [
            Row(TITLE, f"{short}: time per batch", t, m.values["time_s"], "s", "FBGEMM PR 1325",
                note="different GPU"),
            Row(TITLE, f"{short}: FBGEMM-counted bandwidth", fbgemm_bytes / t / 1e9, m.values["GBps"], "GB/s",
                "FBGEMM PR 1325", note="different GPU"),
            Row(TITLE, f"{short}: share of HBM peak", fbgemm_bytes / t / peak, measured_share, "-",
                "FBGEMM / [E] MI250X GCD peak", note="transferable"),
        ]
    return rows, info


def report(systems=SYSTEMS):
    rows, info = compare(systems)
    notes = [f"{info['lookups']:,} row lookups of {info['row_B']} B per batch; FBGEMM counts "
             f"{info['fbgemm_bytes'] / 1e9:.3f} GB per batch",
             "HBM peaks: " + ", ".join(f"{k} {v / 1e9:.0f} GB/s" for k, v in info["peaks"].items())
             + f"; measured GPU: {MI250X_GCD_HBM_PEAK.value / 1e9:.0f} GB/s assumed (estimate, GPU not named)",
             "the hardware differs: only the share-of-peak rows compare like with like"]
    return format_rows(TITLE, rows, [FBGEMM_TBE_FORWARD.source, MI250X_GCD_HBM_PEAK.source], notes)


if __name__ == "__main__":
    print(report(), end="")
