"""Study: units read and embedding time per tier for the four row layouts (issue 18).

Small-row tables (dim 16 fp16 = 32 B rows, and dim 8 fp16 = 16 B rows) on
three tiers, each table whole in the tier (hand plans: one table per device,
caches off), simulated with ``layout=identity|random|frequency|coaccess``:

* SCRec flash (``screc_4x_smartssd``, ``csd{k}.flash``): 4 KiB sectors and
  16 KiB pages (the preset's ``flash.sector`` and ``flash.page``); the cost
  unit is the page a die senses.
* GPU HBM (``gpu_8x_a100_80g``, ``gpu{k}.hbm``): 32 B sectors (the preset's
  ``hbm.sector_bytes``).
* Ascend GM to UB (``ascend_910``, ``core{k}.hbm`` with the GM strategy, rows
  DMAed into the Unified Buffer): 32 B DMA blocks (the preset's
  ``core.dma_block``, CANN ``ubblock_size``) and a 512 B burst (assumption:
  the burst size issue 18 names; no datasheet figure was found), the cost
  unit being the 512 B burst.

Traces: a zipf trace generated from the model (4 tables x 2M rows, pooling
16, alpha 1.05, 16 batches of 512), and a real import: MovieLens
(``--udata PATH`` or ``$EMBSIM_MOVIELENS``, a ``u.data`` file; the licence
forbids shipping it; 2 single-hot tables, users and items, batches of 256),
if given, twice: in time order (the import's order) and with its samples
shuffled across batches (seed 0; each sample keeps its user and item), an
exchangeable trace of the same interactions.  Note: a generated trace's row ids are already a
random permutation of the hot ranks, so ``identity`` is a random layout there.

A third trace has co-access structure: every bag is one whole group of 16
rows (256 groups per table, zipf(1.2) over the groups), where ``coaccess``
should read fewer units than ``frequency`` and ``frequency`` fewer than
``random``.

Per (trace, tier, row size, layout): mean cost units read per batch (the
simulator's), the cost model's prediction (``cost_model.layout_units``:
units counted on the simulation's own *profile*, the trace's first half,
laid out as the simulator lays rows and read with each sample left out of it,
so that rows only that sample reads are unseen, as the replayed second half's
new rows are: ``cost_model/leave_one_out.py``; the cost model never sees the
second half) and its ratio to the simulated count, units per lookup, bytes the tier moves per batch, and the embedding time per
batch (the slowest device's, from the family's batch cost of each trace
batch; mean over batches).  Prints a markdown table (or ``--json``), then per
trace and table the share of the replayed half's lookups to rows its profile
never saw, Good-Turing's estimate from the profile beside the share measured
(``leave_one_out.unseen_shares``): where the two part, the trace drifts and
no profile-only prediction can follow it (measured 2026-12-03: time-ordered
MovieLens, predicted 0.72-0.90 of the simulated flash and UB units; shuffled,
0.98-1.03).

    PYTHONPATH=. python bench/layouts.py [--udata ml-100k/u.data] [--json]
"""
import argparse
import json
import os

import numpy as np

from embsim.cost_model.layout_units import LayoutProfile
from embsim.cost_model.leave_one_out import unseen_shares
from embsim.cost_model.partition import hash_partition
from embsim.cost_model.plan import Representation, Shard, ShardingPlan, TablePlan
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict
from embsim.workloads.profile import split
from embsim.workloads.trace import Trace

LAYOUTS = ("identity", "random", "frequency", "coaccess")
TIERS = {  # name: (system preset, tier, strategy, unit sizes: granularity first, cost unit last)
    "SCRec flash": ("screc_4x_smartssd", "flash", None, [4096, 16384]),
    "GPU HBM": ("gpu_8x_a100_80g", "hbm", None, [32]),
    "Ascend GM->UB": ("ascend_910", "hbm", "GM", [32, 512]),
}


def small_model(rows, dim, names, pooling):
    return model_from_dict({
        "name": f"small_rows_d{dim}", "source": "bench: small-row tables (issue 18 study)",
        "defaults": {"dim": dim, "dtype": "fp16", "pooling": pooling, "access": {"kind": "zipf", "alpha": 1.05}},
        "tables": [{"name": n, "rows": int(r)} for n, r in zip(names, rows)],
        "dense": {"dense_features": 13, "bottom_mlp": [32, dim], "top_mlp": [32, 1], "interaction": "dot"},
    }, source="bench")


def hand_plan(model, system, tier, strategy):
    devices = [d for d in system.devices if d != "host"]
    tables = []
    for i, t in enumerate(model.tables):
        d = devices[i % len(devices)]
        core = int(d[4:]) if strategy else None
        tables.append(TablePlan(t.name, Representation(row_bytes=t.row_bytes),
                                [Shard(d, tier, 0.0, 1.0, 1.0, core=core, strategy=strategy)]))
    return ShardingPlan(model.name, system.name, tables, solver="hand", status="hand-made")


def embedding_time_s(sim):
    """Mean over trace batches of the slowest device's embedding time."""
    per = []
    for b in range(sim.trace.n_batches):
        work = [w.time_s for w in sim.system.batch_cost(sim.batch_load(b)).work if w.stage == "embedding"]
        per.append(max(work) if work else 0.0)
    return float(np.mean(per))


def predicted_units(model, profiles, sizes):
    """The cost model's units per batch of every table whole in one slot, counted on the profile."""
    out = {}
    for lay, prof in profiles.items():
        out[lay] = 0.0
        for t, spec in enumerate(model.tables):
            units, _, batches = prof.slot_units(t, hash_partition(spec.rows, 1), 0, (0.0, 1.0), spec.row_bytes, sizes)
            out[lay] += units / batches
    return out


def study(trace_name, model, trace, systems):
    """Simulated figures per tier and layout, and the cost model's prediction from the simulation's profile."""
    rows = []
    # held out, as the simulation is: both rank on the trace's first half (workloads.profile.split); the
    # simulation replays the second half, which the cost model never sees (it reads its profile with each
    # sample left out: cost_model/leave_one_out.py)
    profile = split(trace).profile
    profiles = {lay: LayoutProfile(profile, lay, held_out=True) for lay in LAYOUTS}
    for tier_name, (preset, tier, strategy, sizes) in TIERS.items():
        system = systems[preset]
        plan = hand_plan(model, system, tier, strategy)
        pred = predicted_units(model, profiles, sizes)
        for lay in LAYOUTS:
            sim = Simulation(model, system, plan, trace, layout=lay, unit_sizes_B={tier: sizes})
            look = float(sim.tier_lookups.sum(axis=1).mean())
            units = float(sim.tier_units.sum(axis=1).mean())
            rows.append({"trace": trace_name, "tier": tier_name, "row_B": int(model.tables[0].row_bytes),
                         "layout": lay, "cost_unit_B": sizes[-1], "lookups_per_batch": look,
                         "units_per_batch": units, "units_per_lookup": units / look if look else 0.0,
                         "predicted_units_per_batch": pred.get(lay),
                         "bytes_per_batch": float(sim.tier_bytes.sum(axis=1).mean()),
                         "embedding_s_per_batch": embedding_time_s(sim)})
    return rows


def shuffled(trace, seed):
    """The trace's samples permuted across its batches (every table by one permutation: a sample keeps its
    rows): the same interactions, exchangeable.  Single-hot traces only (every length 1)."""
    nb, T, B = trace.lengths.shape
    if not np.all(trace.lengths == 1):
        raise ValueError("shuffled: expects a single-hot trace")
    perm = np.random.default_rng(seed).permutation(nb * B)
    idx = trace.indices.reshape(nb, T, B).transpose(1, 0, 2).reshape(T, nb * B)[:, perm]
    return Trace(lengths=trace.lengths, indices=idx.reshape(T, nb, B).transpose(1, 0, 2).reshape(-1).copy(),
                 table_rows=trace.table_rows, table_names=trace.table_names)


def drift(trace_name, trace):
    """Per table, Good-Turing's unseen share of the profile half beside the replayed half's measured one."""
    held = split(trace)
    return [{"trace": trace_name, "table": trace.table_names[s["table"]], "predicted": s["predicted"],
             "measured": s["measured"]} for s in unseen_shares(held.profile, held.evaluation)]


def planted_trace(seed, rows, tables=4, groups=256, size=16, batches=8, batch_size=512):
    """Bags that are whole groups of ``size`` rows (zipf(1.2) over the groups): a trace with co-access structure."""
    members = [np.random.default_rng(t).permutation(rows)[:groups * size].reshape(groups, size) for t in range(tables)]
    rng = np.random.default_rng(seed)
    parts = [members[t][(rng.zipf(1.2, batch_size) - 1) % groups].reshape(-1) for _ in range(batches)
             for t in range(tables)]
    return Trace(lengths=np.full((batches, tables, batch_size), size, dtype=np.int32),
                 indices=np.concatenate(parts).astype(np.int64), table_rows=np.full(tables, rows),
                 table_names=[f"t{i}" for i in range(tables)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--udata", default=os.environ.get("EMBSIM_MOVIELENS"),
                    help="MovieLens u.data (or RecBole .inter) to import as the real trace (default: $EMBSIM_MOVIELENS)")
    ap.add_argument("--rows", type=int, default=2_000_000)
    # 16 batches (8 profile, 8 replayed): with 8, the planted trace's replayed half reads only ~60 groups its
    # profile never saw (Poisson sd ~13%, above the 10% bound), and its flash rows swing by that much per seed
    ap.add_argument("--batches", type=int, default=16)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    systems = {p: load_system(p) for p, *_ in TIERS.values()}
    out, shares = [], []
    for dim in (16, 8):
        m = small_model([a.rows] * 4, dim, [f"t{i}" for i in range(4)], 16)
        tr = generate_trace(m, batches=a.batches, batch_size=512, seed=0)
        out += study("zipf", m, tr, systems)
    shares += drift("zipf", tr)
    m = small_model([a.rows] * 4, 16, [f"t{i}" for i in range(4)], 16)
    tr = planted_trace(0, a.rows, batches=a.batches)
    out += study("co-access groups", m, tr, systems)
    shares += drift("co-access groups", tr)
    if a.udata:
        from embsim.workloads.importers import import_movielens
        timed = import_movielens(a.udata, 256)
        for name, tr in (("movielens", timed), ("movielens shuffled", shuffled(timed, 0))):
            for dim in (16, 8):
                m = small_model(tr.table_rows, dim, tr.table_names, 1)
                out += study(name, m, tr, systems)
            shares += drift(name, tr)
    if a.json:
        print(json.dumps({"layouts": out, "unseen_shares": shares}))
        return
    print("| trace | tier | row | layout | units/batch (cost unit) | predicted | pred/sim | units/lookup | MB/batch "
          "| embedding us/batch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in out:
        p = r["predicted_units_per_batch"]
        pred = "" if p is None else f"{p:,.0f} | {p / r['units_per_batch']:.3f}" if r["units_per_batch"] else f"{p:,.0f} | "
        print(f"| {r['trace']} | {r['tier']} | {r['row_B']} B | {r['layout']} | {r['units_per_batch']:,.0f} "
              f"({r['cost_unit_B']} B) | {pred or ' | '} | {r['units_per_lookup']:.3f} | {r['bytes_per_batch'] / 1e6:.3f} | "
              f"{r['embedding_s_per_batch'] * 1e6:.4g} |")
    print("\n| trace | table | unseen lookup share, Good-Turing from the profile | measured on the replayed half |")
    print("| --- | --- | --- | --- |")
    for s in shares:
        print(f"| {s['trace']} | {s['table']} | {s['predicted']:.3f} | {s['measured']:.3f} |")


if __name__ == "__main__":
    main()
