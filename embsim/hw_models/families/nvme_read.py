"""Row reads from NVMe drives through a host's I/O stack into host memory, shared by the NVMe families.

``cpu_nvme`` (a socket's drives, its cores gather the row from DRAM) and
``gpu_nvme`` (the host's drives, a GPU reads the row from host DDR over PCIe)
price the host side of a read the same way: at full concurrency, amortised
over D drives and C cores, the largest of

    drive:    the flash's die, channel and IOPS bound (parts/flash.py) / D
    queue:    (drive read latency + software latency) / (queue depth x D)
    link:     the blocks over one drive's PCIe port / D
    cores:    (cpu_per_read x reads + the caller's per-row core time) / C
    memory:   the blocks written into memory plus the bytes read back, at
              the caller's memory bandwidth

(the reads are asynchronous, so the bounds overlap).  Actions: the flash's
page reads and channel bytes, the ports' bytes, the memory's writes (and
reads, if the caller reads the row back here) and the cores' busy time.
"""


def nvme_row_read(drives, ports, io, cores, memory, memory_Bps, row_bytes, lookups=1.0, core_s=0.0, read_B=0.0):
    """(time_s, actions) of ``lookups`` reads of a ``row_bytes`` row striped over ``drives`` (one ``ports`` link
    each) through ``io`` into ``memory`` at ``memory_Bps``; ``cores`` pay ``cpu_per_read`` per block plus
    ``core_s`` per row; ``read_B``: bytes of ``memory`` read back per row (0: the caller prices the read itself)."""
    D, reads = len(drives), io.reads_per_row(row_bytes)
    xfer = reads * io.read_size_B
    f = drives[0]
    core_row_s = reads * io.p.cpu_per_read.value + core_s
    bounds = {
        "drive": max(f.read_time_s(xfer), reads / f.p.max_read_iops.value) / D,
        "queue": reads / (io.reads_per_s(f.read_latency_s(xfer)) * D),
        "link": ports[0].transfer_time_s(xfer) / D,
        "cores": core_row_s / cores.count,
        "memory": (xfer + read_B) / memory_Bps,
    }
    per_drive = lookups / D
    actions = {(cores.name, "busy_s"): lookups * core_row_s, (memory.name, "write_B"): lookups * xfer}
    if read_B:
        actions[(memory.name, "read_B")] = lookups * read_B
    for k in range(D):
        actions[(drives[k].name, "page_read")] = per_drive * reads * f.pages_per_read(io.read_size_B)
        actions[(drives[k].name, "channel_B")] = per_drive * xfer
        actions[(ports[k].name, "transfer_B")] = per_drive * xfer
    return lookups * max(bounds.values()), actions
