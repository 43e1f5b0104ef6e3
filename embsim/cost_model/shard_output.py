"""The per-shard output write: every shard writes its pooled vectors before the all-to-all sends them.

A GPU shard (a table, a row-wise part's partial sum, a column shard's dim/K
columns) writes one fp32 pooled vector per sample of the batch: the bytes
``Instance.pooled_B`` counts and the simulator's ``DeviceLoad.pooled_bytes_out``.
The planner does not re-derive the write: it asks the system
(``ShardOutput.shard_output_time_s``, :mod:`embsim.hw_models.protocols`), which
the family's ``batch_cost`` charges too, so plan and simulator price the same
write.  The time is linear in the bytes, so one probe per device gives its
seconds per byte; a system without the method writes for free (0, stated:
its batch cost charges no such write either).

A replicated table's copy pools the samples it serves, 1/N of the batch, and
writes them in place (:func:`copy_output_s`; the simulator's
``DeviceLoad.local_bytes_out``); it sends nothing.  Not priced: the energy of
the write (the planner's energy is its lookups').  Two row-wise parts of one table on
one device count twice here (the simulator sums them into one vector), as
they do in the all-to-all: an over-estimate that only discourages that plan.
"""
from __future__ import annotations

from ..hw_models.protocols import ShardOutput

PROBE_B = 1e6       # pooled bytes of the probe (the write is linear in them)


def output_s_per_B(system, devices) -> dict:
    """Seconds per pooled byte each device's shards write (0 where the system has no such write)."""
    if not isinstance(system, ShardOutput):
        return {d: 0.0 for d in devices}
    return {d: max(0.0, float(system.shard_output_time_s(d, PROBE_B)) / PROBE_B) for d in devices}


def output_s(inst, i: int, device: str, fraction: float = 1.0) -> float:
    """Seconds item ``i`` (``fraction`` of its pooled vector: 1/K for a column shard) takes to write on ``device``."""
    rate = getattr(inst, "output_s_per_B", None)
    return rate.get(device, 0.0) * inst.pooled_B[i] * fraction if rate else 0.0


def copy_output_s(inst, i: int, device: str) -> float:
    """Seconds a copy of replicated item ``i`` takes on ``device`` to write the pooled vectors of its own
    1/N of the samples (module doc)."""
    return output_s(inst, i, device, 1.0 / len(inst.devices))


def copy_s(inst, i: int, r: int, k: int) -> float:
    """Seconds per batch a copy of replicated item ``i`` (representation ``r``) in slot ``k`` adds to its device:
    its 1/N of the lookups and their output write."""
    return inst.items[i].accesses / len(inst.devices) * inst.time[i][r, k] + copy_output_s(inst, i, inst.slots[k].device)


def add_output_terms(inst, pooled: dict, w: float, dev_time: dict) -> None:
    """Add to every device's time the write of the pooled bytes its (variable, bytes) pairs produce."""
    rate = getattr(inst, "output_s_per_B", None) or {}
    for d, pairs in pooled.items():
        if rate.get(d, 0.0) > 0:
            dev_time[d].extend((v, w * rate[d] * b) for v, b in pairs)
