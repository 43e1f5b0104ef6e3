"""(d) torchrec's sharding-planner bandwidth assumptions vs the bandwidths our presets imply.

torchrec's planner estimates a shard's lookup time as bytes / a kernel
bandwidth (``kernel_bw_lookup`` in planner/constants.py) built from three
defaults: HBM 897 GiB/s, DDR 51 GiB/s, intra-node 600 GiB/s.  These are
ASSUMPTIONS of a tool, not measurements, and V100-era ones; the ratios say
where our presets' parameters and torchrec's defaults disagree, and the
README says why.

Ours, per GPU or per socket, for a 512 B row (dim 128 fp32) unless stated:

- cuda fused (HBM):    row_B / lookup_cost(hbm).time_s          (= peak x gather_efficiency)
- cuda fused_uvm:      row_B / lookup_cost(host_ddr).time_s     (PCIe x efficiency, or the GPU's DDR share)
- uvm_caching r=0.2:   row_B / (r x hit + (1-r) x (host read + HBM fill)) (times add: a harmonic mean)
- cpu fused:           row_B / CpuDram.gather_time_s(row_B)      (one socket, all cores)
- intra-node:          link bandwidth x efficiency (per GPU, per direction)

    PYTHONPATH=. python -m validation.torchrec_planner_bandwidth
"""
if __package__ in (None, ""):
    import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # noqa: E401,E702

from validation._compare import Row, format_rows
from validation.measurements import TORCHREC_PLANNER, torchrec_kernel_bw

GPUS = ("gpu_8x_a100_80g", "gpu_8x_h100_80g")
CPU = "cpu_2s_spr_ddr5"
ROW_B = 512
TITLE = "(d) torchrec planner bandwidth assumptions vs ours (512 B rows)"


def _short(name):
    return {"gpu_8x_a100_80g": "A100", "gpu_8x_h100_80g": "H100", "cpu_2s_spr_ddr5": "SPR socket"}.get(name, name)


def compare(gpus=GPUS, cpu=CPU, row_B=ROW_B):
    from embsim.hw_models.loader import load_system
    r = TORCHREC_PLANNER.values["UVM_CACHING_RATIO"]
    src = "torchrec planner"
    rows, info = [], {"peaks": {}}
    for name in gpus:
        s = load_system(name)
        d = s.devices[0]
        hbm = s.lookup_cost(s.slot(d, "hbm"), row_B).time_s
        host = s.lookup_cost(s.slot(d, "host_ddr"), row_B).time_s
        fill = s.cache_fill_cost(d, row_B).time_s
        caching = r * hbm + (1 - r) * (host + fill)
        link = s.link[d].bandwidth_Bps                      # achieved: peak x all-to-all efficiency
        k = _short(name)
        rows += [
            Row(TITLE, f"{k}: cuda fused (HBM gather)", row_B / hbm / 1e9, torchrec_kernel_bw("cuda_fused") / 1e9,
                "GB/s", src),
            Row(TITLE, f"{k}: cuda fused_uvm (host DDR over PCIe)", row_B / host / 1e9,
                torchrec_kernel_bw("cuda_fused_uvm") / 1e9, "GB/s", src),
            Row(TITLE, f"{k}: cuda fused_uvm_caching, hit ratio {r:g}", row_B / caching / 1e9,
                torchrec_kernel_bw("cuda_fused_uvm_caching", r) / 1e9, "GB/s", src),
            Row(TITLE, f"{k}: HBM <-> DDR (PCIe, per direction)", s.host_gather_Bps() / 1e9,
                TORCHREC_PLANNER.values["HBM_TO_DDR_MEM_BW"] / 1e9, "GB/s", src, note="ours: small UVM reads"),
            Row(TITLE, f"{k}: intra-node all-to-all per GPU", link / 1e9,
                TORCHREC_PLANNER.values["INTRA_NODE_BANDWIDTH"] / 1e9, "GB/s", src),
        ]
        info["peaks"][k] = (s.hbm[d].peak_Bps, s.link[d].peak_Bps)
    c = load_system(cpu)
    cpu_Bps = row_B / c.gather_time_s(row_B)
    info["cpu_peak"] = c.peak_bandwidth_Bps()[f"{c.devices[0]}.dram"]
    rows += [
        Row(TITLE, f"{_short(cpu)}: cpu fused (DRAM gather)", cpu_Bps / 1e9, torchrec_kernel_bw("cpu_fused") / 1e9,
            "GB/s", src),
        Row(TITLE, f"{_short(cpu)}: cpu dense (DRAM gather)", cpu_Bps / 1e9, torchrec_kernel_bw("cpu_dense") / 1e9,
            "GB/s", src),
    ]
    return rows, info


def report(gpus=GPUS, cpu=CPU):
    rows, info = compare(gpus, cpu)
    notes = ["torchrec's figures are assumptions (GiB/s in its file, printed here in GB/s), not measurements",
             "our peaks: " + ", ".join(f"{k} HBM {h / 1e9:.0f} GB/s, link {l / 1e9:.0f} GB/s per direction"
                                       for k, (h, l) in info["peaks"].items())
             + f"; SPR socket DRAM {info['cpu_peak'] / 1e9:.1f} GB/s",
             "torchrec averages bandwidths for UVM caching ((r*HBM + (1-r)*DDR)/10); ours adds times "
             "(misses also fill the cache), so the slow tier dominates"]
    return format_rows(TITLE, rows, [TORCHREC_PLANNER.source], notes, reference_label="torchrec")


if __name__ == "__main__":
    print(report(), end="")
