"""One SmartSSD-like device of ``screc_csd``: its tiers' per-row work, its peaks, its share of the MLP.

A device is flash + FPGA (memory- and compute-centric cores) + FPGA DRAM +
on-chip SRAM behind one PCIe port, with a peer-to-peer path from the SSD to
the FPGA.  Every tier is bounded by the memory-centric cores; see the
``screc_csd`` module docstring for the physics of each.  Also the
tensor-train arithmetic the family's cost model uses.
"""
import re

from ...errors import InputError
from ..parts import FpgaFabric, Link, MemoryTier, NandFlash
from ..system import StageWork, add

SCORE_BYTES = 4.0   # one fp32 score per sample (a model fact, not hardware)
INDEX_BYTES = 8.0   # row ids sent to a device are int64, as in the Trace format

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


def build_device(system, d, p):
    """The parts of device ``d`` from the ``csd`` group ``p``, added to ``system``."""
    return {"flash": system.add_part(NandFlash(f"{d}.flash", p.flash)),
            "dram": system.add_part(MemoryTier(f"{d}.dram", p.dram)),
            "sram": system.add_part(MemoryTier(f"{d}.sram", p.sram)),
            "fpga": system.add_part(FpgaFabric(f"{d}.fpga", p.fpga)),
            "pcie": system.add_part(Link(f"{d}.pcie", p.links.pcie)),
            "p2p": system.add_part(Link(f"{d}.p2p", p.links.p2p))}


def check_fpga_split(fpga, where):
    """InputError unless the compute share leaves one memory-centric core and one MAC."""
    share = fpga.p.compute_share.value
    if fpga.memory_cores < 1:
        raise InputError(f"{where}: {share:g} leaves no LUTs for one memory-centric core "
                         f"({fpga.p.luts_per_memory_core.value:g} LUTs)")
    if fpga.macs_per_cycle < 1:
        raise InputError(f"{where}: {share:g} leaves too few DSP slices for one MAC ({fpga.p.dsps_per_mac.value:g} DSPs)")


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
        raise InputError(f"system '{system.name}': no tier '{tier}' on a device (tiers: {', '.join(TIERS)})")
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


def flash_split_s(system, device, row_bytes):
    """One flash row read split over the resources that serve it in the simulator:
    ``(fpga_s, dies_s, channels_s)``.  The dies (and the controller's IOPS) sense the pages, the channels
    shift the sectors out, the FPGA side moves them over the peer-to-peer link, lands them in its DRAM
    and gathers the row; the three run at once (reads in flight), so a batch's flash time is the
    slowest of the three sums, and ``tier_work``'s per-row time is their max."""
    parts = system.dev[device]
    fl, dram = parts["flash"], parts["dram"]
    xfer, a = fl.transfer_B(row_bytes), dram.access_B(row_bytes)
    link = parts["p2p"] if system.p2p else parts["pcie"]
    fpga_s = max(parts["fpga"].gather_s(row_bytes), link.transfer_time_s(xfer),
                 (xfer + a) / dram.random_bandwidth_Bps())
    dies_s = max(fl.pages_per_read(row_bytes) * fl.p.read_latency.value / fl.dies, 1.0 / fl.p.max_read_iops.value)
    return fpga_s, dies_s, xfer / fl.peak_Bps


def flash_read_latency_s(system, device, row_bytes):
    """One flash row read with nothing queued: sense, shift out, cross the link (twice without p2p)."""
    parts = system.dev[device]
    fl = parts["flash"]
    xfer = fl.transfer_B(row_bytes)
    hops = parts["p2p"].transfer_time_s(xfer) if system.p2p else 2 * parts["pcie"].transfer_time_s(xfer)
    return fl.read_latency_s(row_bytes) + hops


def device_peaks(d, parts):
    """Peak bandwidths of one device's tiers and links (no reported figure may exceed them)."""
    fl = parts["flash"]
    return {f"{d}.flash": fl.dies / fl.p.read_latency.value * fl.p.page.value,
            f"{d}.flash_channels": fl.peak_Bps, f"{d}.dram": parts["dram"].peak_Bps,
            f"{d}.sram": parts["fpga"].gather_rate_Bps(), f"{d}.p2p": parts["p2p"].peak_Bps,
            f"{d}.pcie_up": parts["pcie"].peak_Bps, f"{d}.pcie_down": parts["pcie"].peak_Bps}


def dense_on_devices(system, load, work, actions, moved):
    """SCRec's data-parallel MLP: each device gets 1/K of all pooled vectors, runs 1/K of the MLP on its
    compute-centric cores and returns its share of the scores."""
    k = system.n_devices
    scatter_B = sum(dl.pooled_bytes_out for dl in load.devices.values()) / k
    macs, score_B = load.dense_macs / k, load.batch_size * SCORE_BYTES / k
    for d, parts in system.dev.items():
        t_scatter = parts["pcie"].transfer_time_s(scatter_B)
        # the compute-centric cores: the next batch's gathers (memory-centric cores, resource d) overlap it
        work.append(StageWork("dense", f"{d}.compute", t_scatter + parts["fpga"].mac_time_s(macs)))
        system.switches.transfer(work, "dense", d, "down", scatter_B, t_scatter, moved)
        system.switches.transfer(work, "response", d, "up", score_B, parts["pcie"].transfer_time_s(score_B), moved)
        add(actions, (f"{d}.fpga", "mac"), macs)
        add(actions, (f"{d}.pcie", "transfer_B"), scatter_B + score_B)
        add(moved, f"{d}.pcie_down", scatter_B)
        add(moved, f"{d}.pcie_up", score_B)


def port_work(system, device, dl, mv, work, actions, moved):
    """A device's PCIe port in one batch: indices down, pooled vectors up, and in the p2p-off ablation
    the flash sectors that bounce through host DRAM (both directions, in the embedding stage)."""
    pcie = system.dev[device]["pcie"]
    sw = system.switches
    if not system.p2p:
        for direction in ("up", "down"):
            b = mv.get(f"{device}.pcie_{direction}")
            if b:
                sw.transfer(work, "embedding", device, direction, b, pcie.transfer_time_s(b), moved)
    n_idx = sum(w["lookups"] for w in dl.table_work) if dl.table_work else sum(dl.lookups.values())
    idx_B = n_idx * INDEX_BYTES
    sw.transfer(work, "host", device, "down", idx_B, pcie.transfer_time_s(idx_B), moved)
    sw.transfer(work, "transfer", device, "up", dl.pooled_bytes_out, pcie.transfer_time_s(dl.pooled_bytes_out), moved)
    add(actions, (f"{device}.pcie", "transfer_B"), idx_B + dl.pooled_bytes_out)
    add(moved, f"{device}.pcie_down", idx_B)
    add(moved, f"{device}.pcie_up", dl.pooled_bytes_out)


def device_embedding_items(system, device, dl):
    """({resource: time_s}, actions, moved, serial_s) of one device's embedding stage, for the engine
    (``serial_s``: the planner's sum, every row at its slowest part, then TT).

    Overlap rules (SCRec's pipeline, arXiv:2504.00520): the memory-centric cores (resource
    ``csd{k}``) gather rows while the compute-centric cores (``csd{k}.compute``) rebuild TT rows
    from the cores they stream, and flash reads are in flight on the dies (``csd{k}.flash_dies``)
    and channels (``csd{k}.flash_channels``) meanwhile: the items run at once, the stage ends
    with the slowest.  The host's own gathers and TT run on its cores, one after the other.
    """
    time_s, actions, moved = 0.0, {}, {}
    dies_s = channels_s = serial_s = 0.0
    # reads: rows the tier serves; with coalescing the other lookups found their page, sector or
    # burst read in the batch and cost only their gather (``_gather_only``)
    rows = ([(w["tier"], w["row_bytes"], w["lookups"], min(w.get("reads", w["lookups"]), w["lookups"]),
              w.get("dtype", "fp32"), w.get("pooling")) for w in dl.table_work] if dl.table_work else
            [(tier, dl.bytes.get(tier, 0.0) / n, n, n, "fp32", None) for tier, n in dl.lookups.items() if n > 0])
    for tier, row_bytes, n, reads, dtype, pooling in rows:
        if not n:
            continue
        if row_bytes <= 0:
            raise InputError(f"system '{system.name}': {device}.{tier}: {n} lookups but no bytes; "
                             "give bytes per tier or table_work")
        split = tier == "flash" and device != "host"
        if split:
            fpga_s, d_s, c_s = flash_split_s(system, device, row_bytes)
            time_s += reads * fpga_s
            dies_s += reads * d_s
            channels_s += reads * c_s
        for k_n, (t, acts, mv) in ((reads, system._lookup_work(device, tier, row_bytes, dtype, pooling)),
                                   (n - reads, system._gather_only(device, row_bytes, dtype, pooling))):
            serial_s += k_n * t
            if not (split and k_n == reads):
                time_s += k_n * t
            for k, v in acts.items():
                add(actions, k, k_n * v)
            for k, v in mv.items():
                add(moved, k, k_n * v)
    items = {device: time_s}
    if dl.tt_macs:
        t = system.compute_cost(device, dl.tt_macs).time_s
        serial_s += t
        if device == "host":
            items[device] += t
        else:
            items[f"{device}.compute"] = t
        key = ("host.cpu", "op_fp32") if device == "host" else (f"{device}.fpga", "mac")
        add(actions, key, 2.0 * dl.tt_macs if device == "host" else dl.tt_macs)
    if dies_s or channels_s:
        items.update({f"{device}.flash_dies": dies_s, f"{device}.flash_channels": channels_s})
    return items, actions, moved, serial_s


SERIAL_DEVICE = "csd"        # the one resource set of every device when ``csd.parallel`` is false
_DEVICE_RESOURCE = re.compile(r"^csd\d+")


def serialise_devices(work):
    """The device parallelism ablation: every ``csd{k}...`` item of a batch on one ``csd...`` resource,
    summed per (stage, resource), so the K devices' gathers, flash reads, TT, ports and MLP run in
    turn on one device's worth of hardware (capacity, placement and per-item work unchanged)."""
    merged = {}
    for w in work:
        key = (w.stage, _DEVICE_RESOURCE.sub(SERIAL_DEVICE, w.resource))
        merged[key] = merged.get(key, 0.0) + w.time_s
    return [StageWork(stage, resource, t) for (stage, resource), t in merged.items()]

MLP_WEIGHT_B = 4    # the host MLP's fp32 weights (assumption: one per MAC of a sample, read once a batch, not in LLC)


def host_dram_work(system, stage, nbytes, work):
    """``host.dram``, shared by host-row gathers, sectors bounced through it (p2p off) and the host MLP: bytes / peak."""
    if nbytes:
        work.append(StageWork(stage, "host.dram", nbytes / system.host_dram.peak_Bps))


def host_dense(system, load, work, actions, moved):
    """The MLP on the host's cores (fp32), streaming its weights from the shared host DRAM."""
    work.append(StageWork("dense", "host", system.cpu.mac_time_s(load.dense_macs)))
    add(actions, ("host.cpu", "op_fp32"), 2.0 * load.dense_macs)
    weights_B = MLP_WEIGHT_B * load.dense_macs / max(load.batch_size, 1)
    host_dram_work(system, "dense", weights_B, work)
    add(actions, ("host.dram", "read_B"), weights_B)
    add(moved, "host.dram", weights_B)
