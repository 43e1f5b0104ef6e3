"""(b) SmartSSD 4 KB random-read IOPS at full concurrency: model vs two fio logs.

The preset's flash model (``ScrecCSD.flash_lookups_per_s``) is the max of
several per-read bounds: dies x tR, the flash channels, the controller's IOPS
cap (``max_read_iops``), the link, the FPGA DRAM landing buffer.  The IOPS cap
in the preset IS the UG1382 measurement, so "model as configured" agrees with
it by construction and says nothing.  The informative row removes the cap
(override ``max_read_iops`` to 1e15) and asks what the NAND and link
parameters alone predict.

Little's law checks the latency: at a queue depth of 256 x 12 = 3072 reads in
flight, mean latency = 3072 / IOPS; fio measured ~4.0 ms.

    PYTHONPATH=. python -m validation.smartssd_random_read_iops
"""
if __package__ in (None, ""):
    import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # noqa: E401,E702

from validation._compare import Row, format_rows
from validation.measurements import (SMARTSSD_RANDREAD_IOPS_REPO, SMARTSSD_RANDREAD_IOPS_UG1382,
                                     SMARTSSD_RANDREAD_LATENCY)

SYSTEM = "screc_4x_smartssd"
TITLE = "(b) SmartSSD 4 KB random-read IOPS at full concurrency"
READ_B = 4096
NO_CAP = {"params.csd.flash.max_read_iops.value": 1e15}


def compare(system=None):
    from embsim.hw_models.loader import load_system
    s = load_system(system or SYSTEM)
    free = load_system(system or SYSTEM, overrides=NO_CAP)
    configured = s.flash_lookups_per_s(READ_B)
    uncapped = free.flash_lookups_per_s(READ_B)
    ug, repo = SMARTSSD_RANDREAD_IOPS_UG1382, SMARTSSD_RANDREAD_IOPS_REPO
    qd = SMARTSSD_RANDREAD_LATENCY.extra["queue_depth"]
    rows = [
        Row(TITLE, "IOPS, preset as configured", configured, ug.value, "IOPS", "UG1382 fio",
            note="circular: max_read_iops is this measurement"),
        Row(TITLE, "IOPS, NAND+link parameters only (cap off)", uncapped, ug.value, "IOPS", "UG1382 fio"),
        Row(TITLE, "IOPS, NAND+link parameters only (cap off)", uncapped, repo.value, "IOPS", "no-accel.log"),
        Row(TITLE, f"mean latency at QD {qd}, as configured", qd / configured,
            SMARTSSD_RANDREAD_LATENCY.value, "s", "no-accel.log", note="Little: QD / IOPS"),
        Row(TITLE, f"mean latency at QD {qd}, cap off", qd / uncapped,
            SMARTSSD_RANDREAD_LATENCY.value, "s", "no-accel.log", note="Little: QD / IOPS"),
    ]
    info = dict(system=s.name, configured_iops=configured, uncapped_iops=uncapped,
                qd1_latency_s=s.flash_read_latency_s(READ_B),
                reads_in_flight=s.flash_reads_in_flight(READ_B),
                link_iops=s.peak_bandwidth_Bps()["csd0.p2p"] / READ_B)
    return rows, info


def report(system=None):
    rows, info = compare(system)
    notes = [f"model: preset {info['system']}; one 4 KiB read alone takes {info['qd1_latency_s'] * 1e6:.1f} us; "
             f"{info['reads_in_flight']:.0f} reads in flight reach the configured rate (Little's law)",
             f"link bound alone: {info['link_iops']:.3e} IOPS (3.94 GB/s / 4 KiB)",
             "fio ran on the host NVMe path (no FPGA); the preset's model is the P2P path, "
             "whose link has the same Gen3 x4 rate"]
    return format_rows(TITLE, rows, [SMARTSSD_RANDREAD_IOPS_UG1382.source, SMARTSSD_RANDREAD_IOPS_REPO.source,
                                     SMARTSSD_RANDREAD_LATENCY.source], notes)


if __name__ == "__main__":
    print(report(), end="")
