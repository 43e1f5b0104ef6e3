"""Valid cuts for the full sharding MIP: pigeonhole bounds its LP relaxation misses.

The LP relaxation of :func:`.sharding_mip.build_full` spreads every item over
the devices fractionally: on DCNv2 x 8 A100 (15 items that cannot be copied,
8 devices) it puts 15/8 of an item on each device, so both its makespan and
its all-to-all sit about 10% below any plan, and branching on hundreds of
binaries did not close that gap in 60 s.  Every cut below holds for every
integer plan of the formulation (whatever its symmetry breaking), so the
MIP's optimum is unchanged and its bound stays a bound; each says which
pigeonhole it encodes.

*Rigid items* are the items of tables that can be neither copied nor cut
column-wise: each lives whole on exactly one device.  ``p_i`` is the least
time item i can add to the device holding it: over its representations,
devices and slots, ``accesses x (fastest slot's time) + its output write``.

1. Heavy pigeonhole (makespan).  Sort the rigid items by ``p`` decreasing.
   Among the ``j*N + 1`` largest, some device holds ``j + 1`` (N devices), so
   its time is at least the sum ``S_j`` of the ``j + 1`` smallest of them; every
   copied table t adds its 1/N share to every device too, at least
   ``c_t = min over devices of (accesses / N x time in the copy's slot + its output write)``:

       M >= S_j + sum_t c_t rho[t]          for j = 0, 1, ... while j*N + 1 <= rigid items

2. Send pigeonhole (all-to-all).  Let ``b`` be the smallest pooled bytes any
   choice variable sends and ``m_v = floor(bytes_v / b)`` each variable's whole
   multiples of it; ``n_d = sum_{v on d} m_v`` and ``n = sum_d n_d``.  Some device has
   ``n_d >= ceil(n / N)``, and its pooled bytes are at least ``b n_d``.  With an
   integer ``K``, ``N K >= n``:

       Mc >= lat x any + min_d(send_d) b K

   (a plan sets K = ceil(n / N) <= max_d n_d; ``any`` is 1, or the MIP's "anything
   sent" variable when every table may be copied).
3. Receive pigeonhole.  Some device has ``n_d <= floor(n / N)``, and the others'
   pooled bytes are at least ``b (n - n_d)``.  With an integer ``L``, ``N L <= n``:

       Mc >= lat x any + min_d(recv_d) b (n - L)

The three only raise the LP's bound toward the integer optimum; in the MIP
the solver branches on K (one variable, not the assignment's binaries).
"""
from __future__ import annotations

import math

from .lp_rows import add_row
from .placement import replica_slots
from .shard_output import copy_s, output_s


def rigid_item_times(inst) -> list:
    """``p_i`` (module doc) of every rigid item, largest first (seconds)."""
    elsewhere = set(getattr(inst, "replicable", [])) | set(getattr(inst, "columnable", {}))
    out = []
    for i, it in enumerate(inst.items):
        if it.table in elsewhere:
            continue
        out.append(min(it.accesses * min(inst.time[i][r, k] for k in inst.dev_slots[d]) + output_s(inst, i, d)
                       for r in range(len(it.reps)) for d in inst.devices))
    return sorted(out, reverse=True)


def heavy_sums(p_desc: list, n_devices: int) -> list:
    """``S_j`` for j = 0, 1, ...: the sum of the j + 1 smallest of the j*N + 1 largest times (module doc, cut 1)."""
    out = []
    j = 0
    while j * n_devices + 1 <= len(p_desc):
        top = p_desc[:j * n_devices + 1]
        out.append(float(sum(top[-(j + 1):])))
        j += 1
    return out


def copy_share_s(inst, i) -> float:
    """``c_t`` of the table of item i: the least time its copy adds to any device (module doc, cut 1)."""
    return min(copy_s(inst, i, 0, k) for k in replica_slots(inst))


def add_heavy_cuts(prob, inst, M, rho, w: float) -> int:
    """Cut 1 (module doc) with the largest ``S_j`` (every j shares the copies' term); returns the rows added."""
    sums = heavy_sums(rigid_item_times(inst), len(inst.devices))
    if not sums:
        return 0
    first = {it.table: i for i, it in reversed(list(enumerate(inst.items)))}
    copies = [(v, w * copy_share_s(inst, first[t])) for t, v in rho.items()]
    add_row(prob, copies + [(M, -1.0)], "<=", -w * max(sums), "cut_heavy")
    return 1


def add_count_cuts(prob, inst, Mc, pooled: dict, w: float, any_sent=None):
    """Cuts 2 and 3 (module doc) on the all-to-all makespan ``Mc``; ``pooled``: per device its (variable,
    pooled bytes) pairs.  Returns (K, L, the count's (variable, m_v) pairs), or None without a cut."""
    comm = getattr(inst, "comm", None)
    pairs = [(v, b) for terms in pooled.values() for v, b in terms if b > 0]
    if comm is None or Mc is None or not pairs:
        return None
    N = len(inst.devices)
    b = min(bb for _, bb in pairs)
    count = [(v, float(math.floor(bb / b * (1 + 1e-12)))) for v, bb in pairs]
    lat = w * min(comm.latency_s.values())
    latency = [(any_sent, lat)] if any_sent is not None else []
    rhs_lat = 0.0 if any_sent is not None else -lat
    K = prob.add_variable("cut_send_count", lowBound=0, cat="Integer")
    add_row(prob, count + [(K, -float(N))], "<=", 0.0, "cut_send_pigeonhole")
    add_row(prob, latency + [(K, w * min(comm.send_s_per_B.values()) * b), (Mc, -1.0)], "<=", rhs_lat,
            "cut_send")
    L = prob.add_variable("cut_recv_count", lowBound=0, cat="Integer")
    add_row(prob, count + [(L, -float(N))], ">=", 0.0, "cut_recv_pigeonhole")
    r = w * min(comm.recv_s_per_B.values()) * b
    add_row(prob, latency + [(v, r * m) for v, m in count] + [(L, -r), (Mc, -1.0)], "<=", rhs_lat, "cut_recv")
    return K, L, count


def warm_count_cuts(cut, n_devices: int) -> None:
    """Set K and L of :func:`add_count_cuts` from the count's initial values (a warm start sets them first)."""
    if cut is None:
        return
    K, L, count = cut
    n = sum(m * (v.varValue or 0.0) for v, m in count)
    K.setInitialValue(math.ceil(n / n_devices - 1e-9))
    L.setInitialValue(math.floor(n / n_devices + 1e-9))


__all__ = ["rigid_item_times", "heavy_sums", "copy_share_s", "add_heavy_cuts", "add_count_cuts", "warm_count_cuts"]
