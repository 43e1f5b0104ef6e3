"""Public measurements (and one published planner's assumptions) the models are compared with.

This is the ONLY place a measured figure lives: the hardware presets take
their parameters from datasheets and assumptions (each with a source), and the
validation scripts compare what the models *predict* from those parameters
with the figures below.  Nothing here is read by embsim itself.

Every entry is a ``Reference``: its values, unit, what kind of figure it is,
the hardware it was taken on, and where it comes from (copied from
docs/HARDWARE_FACTS.md, which gives the tags: [M] measured, [P-code] an
official config or source file, [E] estimate).
"""
from dataclasses import dataclass, field

KiB = 1024
MiB = 1024 * 1024
GiB = 1024 ** 3


@dataclass(frozen=True)
class Reference:
    label: str          # what was measured
    values: dict        # key (e.g. buffer bytes) or "value" -> number in ``unit``
    unit: str
    kind: str           # "measured" | "assumed" (a tool's built-in assumption) | "estimate"
    hardware: str       # the machine the figure belongs to
    source: str         # where to read it
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def value(self):
        return self.values["value"]


# --------------------------------------------------------------- (a) SmartSSD P2P read vs buffer size ---
SMARTSSD_P2P_READ = Reference(
    label="SmartSSD P2P read SSD -> FPGA DDR, one synchronous pread stream, by buffer size",
    # buffer bytes -> GB/s, every row of the log ("4.00 KB" .. "128.00 MB", powers of two)
    values={4 * KiB: 0.05, 8 * KiB: 0.17, 16 * KiB: 0.31, 32 * KiB: 0.54, 64 * KiB: 0.87,
            128 * KiB: 1.21, 256 * KiB: 1.55, 512 * KiB: 1.37, 1 * MiB: 1.59, 2 * MiB: 1.99,
            4 * MiB: 2.15, 8 * MiB: 2.26, 16 * MiB: 2.28, 32 * MiB: 2.33, 64 * MiB: 2.35,
            128 * MiB: 2.36},
    unit="GB/s",
    kind="measured",
    hardware="Samsung/Xilinx SmartSSD (platform xilinx_u2_gen3x4_xdma_gc), Dell PowerEdge T640 host",
    source="[M] Xilinx/Vitis_Accel_Examples host/p2p_bandwidth/details.rst (the example's real log, "
           "'Start P2P Read of various buffer sizes'); HARDWARE_FACTS.md section 4",
    notes="The example reads each buffer with one pread() at a time (queue depth 1 from the "
          "application; the kernel may split a large read into several NVMe commands). "
          "The log does not say whether GB means 1e9 or 2^30 B.",
)

SMARTSSD_P2P_PEAK = Reference(
    label="SmartSSD P2P SSD -> FPGA DDR, bytecopy kernel, 128 MB in 32 pipelines",
    values={"value": 3.21}, unit="GB/s", kind="measured",
    hardware="SmartSSD", source="[M] Xilinx UG1382 v1.3 validate log; HARDWARE_FACTS.md section 4",
)

# --------------------------------------------------------------- (b) SmartSSD 4 KB random-read IOPS ---
SMARTSSD_RANDREAD_IOPS_UG1382 = Reference(
    label="SmartSSD 4 KB random read, fio QD256 x 12 jobs",
    values={"value": 745_764}, unit="IOPS", kind="measured",
    hardware="SmartSSD (host NVMe path, no FPGA)",
    source="[M] Xilinx UG1382 v1.3 fio log; HARDWARE_FACTS.md section 4",
    extra={"queue_depth": 256 * 12},
)
SMARTSSD_RANDREAD_IOPS_REPO = Reference(
    label="SmartSSD 4 KB random read, fio QD256 x 12 jobs (second log)",
    values={"value": 766_000}, unit="IOPS", kind="measured",
    hardware="SmartSSD (host NVMe path, no FPGA)",
    source="[M] Defibrilator/smartssd-setup fio-results/no-accel.log; HARDWARE_FACTS.md section 4",
    extra={"queue_depth": 256 * 12},
)
SMARTSSD_RANDREAD_LATENCY = Reference(
    label="SmartSSD 4 KB random read, mean completion latency at QD256 x 12",
    values={"value": 4.0e-3}, unit="s", kind="measured",
    hardware="SmartSSD (host NVMe path, no FPGA)",
    source="[M] Defibrilator/smartssd-setup fio-results/no-accel.log (~4.0 ms); HARDWARE_FACTS.md section 4",
    extra={"queue_depth": 256 * 12},
)

# --------------------------------------------------------------- (c) FBGEMM TBE forward ---
FBGEMM_TBE_FORWARD = Reference(
    label="FBGEMM inference TBE forward (nbit-device, fp32 weights, int8 output), uniform rows",
    values={"time_s": 5.225e-3, "GBps": 621.0},
    unit="s per batch / GB/s", kind="measured",
    hardware="an AMD GPU under HIP; the model is not named in the PR (likely MI200-class)",
    source="[M] github.com/pytorch/FBGEMM pull 1325 and pull 1244; HARDWARE_FACTS.md section 6",
    notes="FBGEMM's GB/s counts weight bytes read (B*T*L*D*4) plus output bytes written (B*T*D*1); "
          "621 GB/s x 5.225 ms = 3.245 GB matches that sum.",
    extra={"tables": 2, "rows": 10_000_000, "dim": 192, "batch": 65_536, "pooling": 32,
           "weight_bytes": 4, "output_bytes": 1},
)
MI250X_GCD_HBM_PEAK = Reference(
    label="HBM peak of one MI250X-class GCD (to express the FBGEMM figure as a share of peak)",
    values={"value": 1.6e12}, unit="B/s", kind="estimate",
    hardware="AMD MI250X, one GCD", source="[E] HARDWARE_FACTS.md section 6 ('~38 % if MI250X GCD-class 1.6 TB/s')",
)

# --------------------------------------------------------------- (d) torchrec planner assumptions ---
# torchrec/distributed/planner/constants.py (pytorch/torchrec): bandwidths in GiB/s
# (the file writes them as N * 1024**3 / 1000 bytes per ms).
TORCHREC_PLANNER = Reference(
    label="torchrec sharding planner default bandwidths and kernel lookup bandwidths",
    values={"HBM_MEM_BW": 897 * GiB, "DDR_MEM_BW": 51 * GiB, "HBM_TO_DDR_MEM_BW": 32 * GiB,
            "INTRA_NODE_BANDWIDTH": 600 * GiB, "UVM_CACHING_RATIO": 0.2},
    unit="B/s", kind="assumed",
    hardware="torchrec's defaults (V100-era HBM figure; not a particular machine)",
    source="[P-code] pytorch/torchrec torchrec/distributed/planner/constants.py "
           "(kernel_bw_lookup: cpu dense 0.5 x DDR, cpu fused 1 x DDR, cuda fused 1 x HBM, "
           "fused_uvm DDR/10, fused_uvm_caching (r*HBM + (1-r)*DDR)/10); HARDWARE_FACTS.md sections 2 and 6",
)


def torchrec_kernel_bw(kernel, caching_ratio=None):
    """The planner's lookup bandwidth (B/s) for a kernel, from the table above (its formulas)."""
    v = TORCHREC_PLANNER.values
    hbm, ddr = v["HBM_MEM_BW"], v["DDR_MEM_BW"]
    r = v["UVM_CACHING_RATIO"] if caching_ratio is None else caching_ratio
    return {
        "cpu_dense": 0.5 * ddr,
        "cpu_fused": 1.0 * ddr,
        "cuda_fused": 1.0 * hbm,
        "cuda_fused_uvm": ddr / 10,
        "cuda_fused_uvm_caching": (r * hbm + (1 - r) * ddr) / 10,
    }[kernel]


ALL = {name: obj for name, obj in globals().items() if isinstance(obj, Reference)}
