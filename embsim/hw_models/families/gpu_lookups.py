"""One GPU's lookups in one batch (``multi_gpu``): HBM gathers, host-DDR rows, software-cache hits, TT rows.

Host-DDR rows cost the GPU its own UVM port's time here; the host DDR that
every GPU reads is a simulator resource of its own (``host.ddr``), so the
GPUs share it by queueing rather than by the planner's fixed 1/N share.
"""
from ..system import add
from .common import shard_rows


def gpu_embedding(system, dev, dl, actions, nbytes):
    """(GPU time, host-DDR bytes) of one GPU's lookups (host rows at its port rate; ``host.ddr`` queues apart)."""
    t, host_B = 0.0, 0.0
    memo = system.__dict__.setdefault("_port_row_work", {})
    for g in shard_rows(system, dev, dl):
        # reads: rows the tier serves after coalescing (the rest found their sector read in the batch)
        parts = [(g.tier, g.reads)] + ([("fill", g.lookups)] if g.tier == "host_ddr" and system.caching else [])
        for level, hits in g.hits.items():
            if level != system.CACHE_LEVEL or not system.caching:
                raise ValueError(f"{system.name}: {dev}: hits at cache level {level!r}, but this system "
                                 f"has {'an hbm_cache' if system.caching else 'no cache'}")
            parts.append(("hbm", hits))
        for tier, n in parts:
            key = (dev, tier, g.row_bytes)
            if key not in memo:   # a row's work depends on (GPU, tier, row size) only: price it once
                memo[key] = system._row_work(dev, tier, g.row_bytes, port_only=True)
            dt, acts = memo[key]
            t += n * dt
            host_B += n * acts.get((system.HOST_POOL, "read_B"), 0.0)
            for (part, action), v in acts.items():
                add(actions, (part, action), n * v)
                add(nbytes, part, n * v)
    if dl.tt_macs:
        t += system.compute_cost(dev, dl.tt_macs).time_s
        add(actions, (f"{dev}.sm", f"op_{system.sm[dev].p.mlp_dtype}"), 2.0 * dl.tt_macs)
    return t, host_B
