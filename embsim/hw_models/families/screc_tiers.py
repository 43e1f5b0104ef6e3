"""The per-row work of a SmartSSD-like device's tiers (SRAM, FPGA DRAM, flash), and TT arithmetic.

One function per question, shared by ``screc_csd`` (and any family with such
devices).  Every tier is bounded by the memory-centric cores; see the
``screc_csd`` module docstring for the physics of each.
"""
TIERS = ("sram", "dram", "flash")


def tt_macs(rank, d1, d2, d3):
    """Multiply-adds to rebuild one row of a 3-core TT table, ranks [1, r, r, 1], dim factors d1 d2 d3.

    (d1 x r) @ (r x d2*r) costs d1*d2*r*r, then (d1*d2 x r) @ (r x d3) costs
    d1*d2*r*d3: in all r*d1*d2*(r + d3).
    """
    return rank * d1 * d2 * (rank + d3)


def tt_params(rank, d1, d2, d3):
    """Parameters read to rebuild one TT row: one slice of each core, d1*r + r*d2*r + r*d3."""
    return d1 * rank + rank * d2 * rank + rank * d3


def tier_work(system, device, tier, row_bytes):
    """(time_s, actions, moved) of ONE row gather on a device tier, keyed by the system's part names."""
    if row_bytes <= 0:
        raise ValueError(f"row_bytes must be > 0, got {row_bytes}")
    parts = system.dev[device]
    fpga, dram = parts["fpga"], parts["dram"]
    gather = fpga.gather_s(row_bytes)
    pool = {(fpga.name, "op_B"): row_bytes}
    if tier == "sram":
        b = fpga.beats_B(row_bytes)
        return gather, {(parts["sram"].name, "read_B"): b, **pool}, {parts["sram"].name: b}
    if tier == "dram":
        a = dram.access_B(row_bytes)
        return max(gather, dram.read_time_s(row_bytes)), {(dram.name, "read_B"): a, **pool}, {dram.name: a}
    if tier != "flash":
        raise ValueError(f"system '{system.name}': no tier '{tier}' on a device (tiers: {', '.join(TIERS)})")
    return flash_work(system, device, row_bytes, gather, pool)


def flash_work(system, device, row_bytes, gather_s, pool):
    """One flash row: dies/channels/IOPS, the link, the landing buffer in FPGA DRAM (p2p or via the host)."""
    parts = system.dev[device]
    fl, dram = parts["flash"], parts["dram"]
    pages, xfer, a = fl.pages_per_read(row_bytes), fl.transfer_B(row_bytes), dram.access_B(row_bytes)
    link = parts["p2p"] if system.p2p else parts["pcie"]    # each direction carries it once
    dram_s = (xfer + a) / dram.random_bandwidth_Bps()        # land the sectors, read the row back
    time_s = max(gather_s, fl.read_time_s(row_bytes), link.transfer_time_s(xfer), dram_s)
    actions = {(fl.name, "page_read"): pages, (fl.name, "channel_B"): xfer,
               (dram.name, "write_B"): xfer, (dram.name, "read_B"): a, **pool}
    moved = {fl.name: pages * fl.p.page.value, f"{device}.flash_channels": xfer, dram.name: xfer + a}
    if system.p2p:
        actions[(link.name, "transfer_B")] = xfer
        moved[link.name] = xfer
    else:
        actions[(link.name, "transfer_B")] = 2 * xfer
        actions[("host.dram", "write_B")] = xfer
        actions[("host.dram", "read_B")] = xfer
        moved.update({f"{device}.pcie_up": xfer, f"{device}.pcie_down": xfer, "host.dram": 2 * xfer})
    return time_s, actions, moved
