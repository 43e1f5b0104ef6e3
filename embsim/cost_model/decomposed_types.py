"""Replication, column-wise shards and the all-to-all in the decomposed formulation (:mod:`.decomposed`).

The full MIP's sharding types (``_replicas``, ``_column_shards``, ``_all_to_all``), in the two models of
the decomposed method.

Aggregate LP (step 1; every row below holds for every plan, so its optimum stays a lower bound):

    rho[t] in [0,1]           replicate table t: class c gets |c|/N of t's lookups at its fastest slot
                              and |c| copies of t's bytes in its fastest tier
    g[t,K] in [0,1], s[t,K,c,n] >= 0
                              K column shards of t, s of them in rank n of class c's devices:
                              sum_{c,n} s = K g, sum_n s[t,K,c,n] <= |c| g (one shard per device); a shard
                              reads all of t's lookups at col_time and holds bytes / K
    the item's shares sum to 1 - rho[t] - sum_K g[t,K]
    all-to-all                P_c = pooled bytes class c sends (items by their class share, shards pooled/K);
                              one device of c sends >= P_c/|c| and one receives >= total - P_c/|c|, so
                              Mc >= a lat_c + send_c P_c/|c|,  Mc >= a lat_c + recv_c (total - P_c/|c|),
                              lat_c, send_c, recv_c the smallest of c's devices; a = 1 unless every table may
                              be replicated, then a >= 1 - rho[t] (no latency when nothing is sent)

Assignment MIP (step 2): rho[t] binary (the copies take the fastest tier of every device); c[t,K,d]
binary, a dim/K shard in device d's fastest slot, sum_d c = K g[t,K], c <= g, for the
``COLUMN_TABLES`` columnable tables with the most lookup bytes (each adds K x devices binaries; the
LP offers every columnable table, so the bound does not depend on this choice); the full MIP's
all-to-all rows on the pooled bytes the assignment sends.
"""
from dataclasses import dataclass, field

import pulp

from .lp_rows import add_row
from .placement import replica_slots
from .shard_output import copy_s, output_s

COLUMN_TABLES = 16     # assumption: column cuts pay off for a few hot wide tables; bounds the binaries


@dataclass
class Alternatives:
    """Variables of the other sharding types and their terms, for the model that holds them."""
    instead: dict = field(default_factory=dict)   # table -> variables taking the place of its items' x
    rho: dict = field(default_factory=dict)       # table -> replication variable
    g: dict = field(default_factory=dict)         # (table, K) -> column-cut variable
    c: dict = field(default_factory=dict)         # (table, K, device index or (class, rank)) -> shard variable
    pooled: dict = field(default_factory=dict)    # device or class -> pooled-bytes terms of column shards
    Mc: object = None                             # the all-to-all makespan (None: no transfer stage)
    any: object = None                            # 1 if anything is sent (a variable only if every table may be copied)
    copies_B: object = None                       # aggregate LP: (variable, largest value) of the copies' bytes a device


def _latency_factor(prob, inst, rho, name):
    """1 when something is always sent; else a variable >= 1 - rho[t] for every table (module doc)."""
    if not rho or len(rho) < len(inst.model.tables):
        return 1
    a = prob.add_variable(name, lowBound=0, upBound=1)
    for v in rho.values():
        add_row(prob, [(a, 1.0), (v, 1.0)], ">=", 1.0)
    return a


def lp_alternatives(prob, inst, classes, class_time, cap_terms, energy, energy_weight, scale):
    """Step 1's replication and column-cut variables (module doc); adds their work, bytes and energy as
    (variable, coefficient) pairs (:mod:`.lp_rows`) to ``class_time[c]``, ``cap_terms[c, n]`` and ``energy``."""
    alt = Alternatives()
    N = len(inst.devices)
    for t in getattr(inst, "replicable", []):
        i = inst.column_item(t)
        it = inst.items[i]
        alt.rho[t] = v = prob.add_variable(f"rho_{t}", 0, 1)
        alt.instead.setdefault(t, []).append(v)
        for c, cls in enumerate(classes):
            k = inst.dev_slots[cls[0]][0]
            class_time[c].append((v, len(cls) * copy_s(inst, i, 0, k) / scale))     # the class's copies' work
            cap_terms.setdefault((c, 0), []).append((v, len(cls) * it.bytes[0]))
            if energy_weight:
                energy.append((v, len(cls) / N * it.accesses * energy_weight * inst.energy[i][0, k] / scale))
    for t, ks in getattr(inst, "columnable", {}).items():
        i = inst.column_item(t)
        for K in ks:
            _lp_column_cut(prob, inst, classes, alt, t, i, K, class_time, cap_terms, energy, energy_weight, scale)
    return alt


def _lp_column_cut(prob, inst, classes, alt, t, i, K, class_time, cap_terms, energy, energy_weight, scale):
    """Step 1's variables and rows of cutting table t (item i) into K column shards (module doc)."""
    it = inst.items[i]
    alt.g[t, K] = g = prob.add_variable(f"g_{t}_{K}", 0, 1)
    alt.instead.setdefault(t, []).append(g)
    shards = []
    for c, cls in enumerate(classes):
        on_c = []
        for n, k in enumerate(inst.dev_slots[cls[0]]):
            alt.c[t, K, (c, n)] = s = prob.add_variable(f"s_{t}_{K}_{c}_{n}", 0, len(cls))
            on_c.append((s, 1.0))
            class_time[c].append((s, (it.accesses * inst.col_time[t, K][k] + output_s(inst, i, cls[0], 1.0 / K))
                                  / scale))
            cap_terms.setdefault((c, n), []).append((s, it.bytes[0] / K))
            alt.pooled.setdefault(c, []).append((s, inst.pooled_B[i] / K))
            if energy_weight:
                energy.append((s, it.accesses * energy_weight * inst.col_energy[t, K][k] / scale))
        add_row(prob, on_c + [(g, -float(len(cls)))], "<=", 0.0)
        shards += on_c
    add_row(prob, shards + [(g, -float(K))], "==", 0.0)


def lp_all_to_all(prob, inst, classes, class_pooled, alt, scale):
    """Step 1's all-to-all rows (module doc); the Mc variable, or None without a transfer stage.

    ``class_pooled[c]``: (pairs, constant) of the pooled bytes of the items on class c (by their class
    share); the rows are built from pairs (:mod:`.lp_rows`)."""
    comm = getattr(inst, "comm", None)
    if comm is None:
        return None
    Mc = prob.add_variable("comm_makespan", lowBound=0)
    P = {c: (list(class_pooled.get(c, ([], 0.0))[0]) + list(alt.pooled.get(c, [])), class_pooled.get(c, ([], 0.0))[1])
         for c in range(len(classes))}
    total = [pv for pairs, _ in P.values() for pv in pairs]
    total0 = sum(p0 for _, p0 in P.values())
    a = _latency_factor(prob, inst, alt.rho, "comm_any")
    for c, cls in enumerate(classes):
        lat = min(comm.latency_s[d] for d in cls) / scale
        send = min(comm.send_s_per_B[d] for d in cls) / scale
        recv = min(comm.recv_s_per_B[d] for d in cls) / scale
        pairs, p0 = P[c]
        lat_pairs, lat0 = ([(a, lat)], 0.0) if isinstance(a, pulp.LpVariable) else ([], lat * a)
        share = 1.0 / len(cls)
        add_row(prob, lat_pairs + [(v, send * share * w) for v, w in pairs] + [(Mc, -1.0)], "<=",
                -(lat0 + send * share * p0))
        add_row(prob, lat_pairs + [(v, recv * w) for v, w in total] + [(v, -recv * share * w) for v, w in pairs]
                + [(Mc, -1.0)], "<=", -(lat0 + recv * (total0 - share * p0)))
    return Mc


def column_tables(inst):
    """The columnable tables the assignment MIP may cut: the COLUMN_TABLES with the most lookup bytes."""
    cols = getattr(inst, "columnable", {})
    heavy = sorted(cols, key=lambda t: (-inst.items[inst.column_item(t)].accesses * inst.model.tables[t].row_bytes, t))
    return {t: cols[t] for t in sorted(heavy[:COLUMN_TABLES])}


def assignment_alternatives(prob, inst, scale):
    """Step 2's replication and column-shard binaries.  (Alternatives, per device index the time pairs,
    per pool the byte pairs the copies and shards put in fastest tiers); pairs as in :mod:`.lp_rows`."""
    alt = Alternatives()
    N = len(inst.devices)
    times = {di: [] for di in range(N)}
    fast_B = {}
    fast = replica_slots(inst)
    for t in getattr(inst, "replicable", []):
        i = inst.column_item(t)
        it = inst.items[i]
        alt.rho[t] = v = prob.add_variable(f"rho_{t}", cat="Binary")
        alt.instead.setdefault(t, []).append(v)
        for di, k in enumerate(fast):
            times[di].append((v, copy_s(inst, i, 0, k) / scale))
            fast_B.setdefault(inst.slots[k].pool_key, []).append((v, it.bytes[0]))
    for t, ks in column_tables(inst).items():
        for K in ks:
            _assignment_column_cut(prob, inst, alt, t, K, times, fast_B, scale)
    for p, pairs in fast_B.items():      # the copies and shards alone must fit (the items' rows can move down)
        add_row(prob, pairs, "<=", inst.pools[p])
    return alt, times, fast_B


def _assignment_column_cut(prob, inst, alt, t, K, times, fast_B, scale):
    """Step 2's binaries and rows of cutting table t into K column shards, one per device's fastest slot."""
    i = inst.column_item(t)
    it = inst.items[i]
    alt.g[t, K] = g = prob.add_variable(f"g_{t}_{K}", cat="Binary")
    alt.instead.setdefault(t, []).append(g)
    shards = []
    for di, k in enumerate(replica_slots(inst)):
        alt.c[t, K, di] = s = prob.add_variable(f"c_{t}_{K}_{di}", cat="Binary")
        shards.append((s, 1.0))
        add_row(prob, [(s, 1.0), (g, -1.0)], "<=", 0.0)
        times[di].append((s, (it.accesses * inst.col_time[t, K][k] + output_s(inst, i, inst.devices[di], 1.0 / K))
                          / scale))
        fast_B.setdefault(inst.slots[k].pool_key, []).append((s, it.bytes[0] / K))
        alt.pooled.setdefault(inst.devices[di], []).append((s, inst.pooled_B[i] / K))
    add_row(prob, shards + [(g, -float(K))], "==", 0.0)


def assignment_all_to_all(prob, inst, pooled, alt, scale):
    """Step 2's all-to-all rows (the full MIP's, :mod:`.comm`), on ``pooled[d]``, the pooled-bytes pairs of d.

    The total sent is written as every table's pooled bytes less the copies' (a column-cut table sends all
    of its bytes too), not as the sum over devices: a row per device over every other device's x would
    hold items x devices terms, and the rows x devices of them choke the solver on hundreds of tables."""
    comm = getattr(inst, "comm", None)
    if comm is None:
        return None
    Mc = prob.add_variable("comm_makespan", lowBound=0)
    total0 = float(sum(inst.pooled_B[i] for i in range(len(inst.items))))
    total = [(alt.rho[it.table], -float(inst.pooled_B[i])) for i, it in enumerate(inst.items) if it.table in alt.rho]
    alt.any = _latency_factor(prob, inst, alt.rho, "comm_any")
    w = 1.0 / scale
    for n, d in enumerate(inst.devices):
        lat = w * comm.latency_s[d]
        lat_pairs, lat0 = ([(alt.any, lat)], 0.0) if isinstance(alt.any, pulp.LpVariable) else ([], lat * alt.any)
        send, recv = w * comm.send_s_per_B[d], w * comm.recv_s_per_B[d]
        own = pooled[d]
        add_row(prob, lat_pairs + [(v, send * b) for v, b in own] + [(Mc, -1.0)], "<=", -lat0, f"comm_send_{n}")
        add_row(prob, lat_pairs + [(v, recv * b) for v, b in total] + [(v, -recv * b) for v, b in own]
                + [(Mc, -1.0)], "<=", -(lat0 + recv * total0), f"comm_recv_{n}")
    if isinstance(alt.any, int):
        alt.any = None
    return Mc


def chosen(inst, alt):
    """(replicated tables, {table: [slot of each column shard]}) of a solved assignment MIP."""
    replicated = {t for t, v in alt.rho.items() if (v.varValue or 0) > 0.5}
    fast = replica_slots(inst)
    columns = {}
    for (t, K), g in alt.g.items():
        if (g.varValue or 0) > 0.5:
            columns[t] = [fast[di] for di in range(len(fast)) if (alt.c[t, K, di].varValue or 0) > 0.5]
    return replicated, columns


def warm(alt):
    """The warm start's values: no copies, no column cuts (the LPT start places every item)."""
    for v in list(alt.rho.values()) + list(alt.g.values()) + list(alt.c.values()):
        v.setInitialValue(0)
    if alt.any is not None:
        alt.any.setInitialValue(1)
