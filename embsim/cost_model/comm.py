"""The all-to-all of pooled vectors, as the planner sees it: per device a latency and two slopes.

After the lookups, every device sends the pooled vectors of the tables (or
row-wise parts: partial sums) it serves to the devices that run the dense
part, and receives its share of everyone else's.  The planner does not
re-derive the links: it *probes* the system's own batch cost (the
``BatchService`` protocol the simulator uses), so the planner and the
simulator charge the same links with the same bandwidth, efficiency and
latency.  Per device ``d`` it measures, from batches whose only work is
pooled output,

- ``send_s_per_B[d]``: transfer-stage seconds on d's links per pooled byte d produces;
- ``recv_s_per_B[d]``: seconds on d's links per pooled byte another device produces;
- ``latency_s[d]``: the intercept (one hop through the fabric);

so that its transfer time is modelled as

    C_d = latency_d + max(send_d * pooled_d, recv_d * (total - pooled_d))

which is exact for a fabric that moves max(sent, received) per device (the
multi-GPU NVLink/NVSwitch or PCIe all-to-all) and linear in the placement,
so the MIP can carry it.  A system whose batch cost has no transfer stage
(a single device, an SoC whose cores share memory) gets no all-to-all term.
Pooled vectors are fp32 sums (4 bytes a value) whatever the table's dtype.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hw_models.protocols import CostsBatches

POOLED_BYTES_PER_VALUE = 4.0
PROBE_B = (1e6, 2e6)          # pooled bytes of the two probes (the model is linear in between)


@dataclass
class AllToAll:
    devices: list
    latency_s: dict
    send_s_per_B: dict
    recv_s_per_B: dict

    def arrays(self):
        """(latency, send, receive) per device in ``devices`` order, as float arrays."""
        return tuple(np.array([getattr(self, f)[d] for d in self.devices], dtype=np.float64)
                     for f in ("latency_s", "send_s_per_B", "recv_s_per_B"))

    def times_array(self, pooled: np.ndarray) -> np.ndarray:
        """:meth:`times` for the pooled bytes per device as an array in ``devices`` order."""
        total = float(pooled.sum())
        if total <= 0:
            return np.zeros(len(self.devices))
        lat, send, recv = self.arrays()
        return lat + np.maximum(send * pooled, recv * (total - pooled))

    def times(self, pooled_B: dict) -> dict:
        """Transfer-stage seconds per device for the pooled bytes each device produces."""
        pooled = np.array([pooled_B.get(d, 0.0) for d in self.devices], dtype=np.float64)
        return dict(zip(self.devices, self.times_array(pooled).tolist()))


def _transfer_s(system, devices, batch_size, producer, pooled_B):
    from ..hw_models.system import BatchLoad, DeviceLoad
    # only the producer carries a load: an absent device has no work, as one with an empty DeviceLoad, and a
    # batch cost over N loaded devices made the 2N probes O(N^3) (39 s on 64 GPUs)
    load = BatchLoad(batch_size, {producer: DeviceLoad(pooled_bytes_out=pooled_B)}, 0.0)
    out = {d: 0.0 for d in devices}
    for w in system.batch_cost(load).work:
        if w.stage != "transfer":
            continue
        for d in devices:
            if w.resource == d or w.resource.startswith(d + "."):
                out[d] += w.time_s
                break
    return out


def probe(system, devices, batch_size: int) -> AllToAll | None:
    """The all-to-all model of ``system`` (module doc), or None if it has no transfer stage."""
    if len(devices) < 2 or not isinstance(system, CostsBatches):
        return None
    lo, hi = PROBE_B
    lat: dict = {}
    send: dict = {}
    recv: dict = {d: [] for d in devices}
    for p in devices:
        try:
            a, b = _transfer_s(system, devices, batch_size, p, lo), _transfer_s(system, devices, batch_size, p, hi)
        except NotImplementedError:      # a cost-model-only system (SyntheticSystem without links)
            return None
        send[p] = max(0.0, (b[p] - a[p]) / (hi - lo))
        lat[p] = max(0.0, a[p] - send[p] * lo)
        for e in devices:
            if e != p:
                recv[e].append(max(0.0, (b[e] - a[e]) / (hi - lo)))
    rec = {d: max(v) if v else 0.0 for d, v in recv.items()}
    if not any(send.values()) and not any(rec.values()):
        return None
    return AllToAll(list(devices), lat, send, rec)


def pooled_bytes(table, batch_size: int) -> float:
    """Bytes of one table's pooled vectors per batch (a row-wise part sends as many: a partial sum)."""
    return float(batch_size) * table.dim * POOLED_BYTES_PER_VALUE


__all__ = ["AllToAll", "probe", "pooled_bytes", "POOLED_BYTES_PER_VALUE"]
