"""(a) SmartSSD peer-to-peer read bandwidth vs buffer size: model of one read stream vs the Vitis log.

The Vitis ``p2p_bandwidth`` example reads buffers of 4 KiB .. 128 MiB from the
SSD into FPGA DDR with one synchronous ``pread`` at a time.  The screc preset's
model of ONE such read stream is ``ScrecCSD.flash_read_latency_s(S)``: sense
the pages the read touches one after another (tR each), shift the sectors out
over one flash channel, cross the SSD->FPGA link.  Bandwidth = S / latency.

Printed beside it (not compared): the model's ceiling at full concurrency,
``S x flash_lookups_per_s(S)``, the rate a device reaches when many reads are
in flight at once, which is how batch costs are charged.

    PYTHONPATH=. python -m validation.smartssd_p2p_bandwidth
"""
if __package__ in (None, ""):
    import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # noqa: E401,E702

from validation._compare import Row, format_rows
from validation.measurements import SMARTSSD_P2P_PEAK, SMARTSSD_P2P_READ

SYSTEM = "screc_4x_smartssd"
TITLE = "(a) SmartSSD P2P read bandwidth vs buffer size (one read stream)"


def _size(b):
    return f"{b // 2**20} MiB" if b >= 2**20 else f"{b // 2**10} KiB"


def compare(system=None):
    """Rows for every buffer size of the log, plus the model's link peak and full-concurrency ceiling."""
    from embsim.hw_models.loader import load_system
    s = load_system(system or SYSTEM)
    rows, extra = [], []
    for size_B, gbps in sorted(SMARTSSD_P2P_READ.values.items()):
        model_Bps = size_B / s.flash_read_latency_s(size_B)
        rows.append(Row(TITLE, f"buffer {_size(size_B)}", model_Bps / 1e9, gbps, "GB/s", "Vitis p2p_bandwidth log"))
        extra.append(dict(size_B=size_B, one_stream_Bps=model_Bps,
                          full_concurrency_Bps=size_B * s.flash_lookups_per_s(size_B)))
    link_Bps = s.peak_bandwidth_Bps()["csd0.p2p"]
    rows.append(Row(TITLE, "largest-buffer stream vs bytecopy 32 pipelines",
                    extra[-1]["full_concurrency_Bps"] / 1e9, SMARTSSD_P2P_PEAK.value, "GB/s",
                    "UG1382 bytecopy", note="model: full-concurrency ceiling at 128 MiB"))
    return rows, dict(system=s.name, link_peak_Bps=link_Bps, curve=extra)


def report(system=None):
    rows, info = compare(system)
    notes = [f"model: preset {info['system']}; p2p link peak {info['link_peak_Bps'] / 1e9:.2f} GB/s "
             "(no figure, model or measured, may exceed it)",
             "model full-concurrency ceiling (S x flash_lookups_per_s): "
             + ", ".join(f"{_size(c['size_B'])} {c['full_concurrency_Bps'] / 1e9:.2f}"
                         for c in info["curve"][::3]) + " GB/s"]
    return format_rows(TITLE, rows, [SMARTSSD_P2P_READ.source, SMARTSSD_P2P_PEAK.source], notes)


if __name__ == "__main__":
    print(report(), end="")
