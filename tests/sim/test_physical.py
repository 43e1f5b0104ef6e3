"""The physical access stream: each lookup becomes the rows its representation reads."""
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from embsim.cost_model.compressed import compressed
from embsim.cost_model.plan import Representation, Shard, ShardingPlan, TablePlan
from embsim.hw_models.loader import load_system
from embsim.sim.physical import Encoders, collision_report, physical_trace
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace
from embsim.workloads.hotsketch import HotSketch, table_ids

from simtoys import small_model

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "workloads"))
from hotsketch_reference import hrow  # noqa: E402

REPS = ["hash:0.05", "qr:0.05", "cafe:0.05", "cafe:0.05:2", "memrec:0.05:3"]


@pytest.fixture(scope="module")
def cpu():
    return load_system("cpu_2s_spr_ddr5")


def plan_with(model, system, names, distinct=None):
    """Every table whole on socket 0's DRAM, table t in representation names[t % len(names)]."""
    tables = []
    for i, t in enumerate(model.tables):
        name = names[i % len(names)]
        rep = Representation(row_bytes=t.row_bytes) if name == "own" else compressed(t, name, distinct)
        tables.append(TablePlan(t.name, rep, [Shard(system.devices[0], "dram", 0.0, 1.0, 1.0)]))
    return ShardingPlan(model.name, system.name, tables, solver="hand", status="hand-made")


def reference_rows(enc, t, x):
    """The rows of lookup x of table t, written from each structure's definition."""
    rep, seed = enc.reps[t], int(enc.spec[t, 7])
    pr = rep.physical_rows
    if rep.kind == "hash":
        return [hrow(x, seed, pr[0])]
    if rep.kind == "qr":
        q, m = pr
        return [x // m, q + x % m]
    if rep.kind == "memrec":
        k = rep.params["k"]
        return [hrow(x, seed + j, pr[0]) for j in range(k)] + [pr[0] + hrow(x, seed + 99, pr[1])]
    hot, levels, m = pr[0], len(pr) - 1, pr[1]
    lo = int(enc.map_base[t])
    region = slice(lo, lo + int(enc.map_mask[t]) + 1)              # this table's map
    i = np.flatnonzero(enc.map_keys[region] == x)
    v = int(enc.map_vals[region][i[0]]) if i.size else -1
    if v >= 0:
        return [v]
    if v == -2:
        return [hot + l * m + hrow(x, seed + 1 + l, m) for l in range(levels)]
    return [hot + hrow(x, seed + 1, m)]


@pytest.fixture(scope="module")
def model():
    return small_model(tables=5, rows=4000, dim=16, pooling=4)


@pytest.fixture(scope="module")
def trace(model):
    return generate_trace(model, batches=6, batch_size=32, seed=3)


def test_every_lookup_becomes_the_rows_its_structure_names(model, trace, cpu):
    plan = plan_with(model, cpu, REPS)
    enc = Encoders(model, plan, trace, seed=7)
    phys = physical_trace(trace, enc)
    seg, pseg = trace.segment_offsets(), phys.segment_offsets()
    T = trace.n_tables
    for b in range(trace.n_batches):
        for t in range(T):
            got = phys.indices[pseg[b * T + t]:pseg[b * T + t + 1]]
            want = [r for x in trace.indices[seg[b * T + t]:seg[b * T + t + 1]] for r in reference_rows(enc, t, int(x))]
            assert list(got) == want
    assert np.all(phys.indices < phys.table_rows[phys.table_of_index()])      # inside each table
    phys.validate()


def test_cafe_hot_rows_are_the_sketch_top(model, trace, cpu):
    plan = plan_with(model, cpu, ["cafe:0.05"])
    enc = Encoders(model, plan, trace, seed=0)
    rep = enc.reps[0]
    sk = HotSketch(rep.params["sketch_slots"] // 4, seed=int(enc.spec[0, 7]))
    sk.insert(table_ids(trace, 0))
    top = sk.entries()[0][:rep.params["hot_rows"]]
    rows = enc.encode(0, top)[:, 0]
    assert list(rows) == list(range(top.size))                 # unique rows 0.. in the sketch's order


def test_reads_per_lookup_multiply_the_stream(model, trace, cpu):
    plan = plan_with(model, cpu, ["hash:0.05", "qr:0.05", "memrec:0.05:3", "own", "cafe:0.05"])
    phys = physical_trace(trace, Encoders(model, plan, trace))
    per_in, per_out = trace.lookups_per_table(), phys.lookups_per_table()
    assert list(per_out) == [per_in[0], 2 * per_in[1], 4 * per_in[2], per_in[3], per_in[4]]


def test_transformed_stream_replays_with_conservation(model, trace, cpu):
    plan = plan_with(model, cpu, REPS)
    sim = Simulation(model, cpu, plan, trace)
    phys = physical_trace(trace, Encoders(model, plan, trace, sim.seed))
    assert sim.counters.lookups[:, :, 0].sum() == phys.n_indices          # every physical read replayed once
    r = sim.run("closed")
    assert sum(r.bytes_B["requested"].values()) > 0
    assert sim.batch_lookups.sum() == trace.n_indices                      # throughput counts logical lookups
    q = r.quality
    assert [e["table"] for e in q["per_table"]] == [t.name for t in model.tables] and "not simulated" in q["note"]
    w = trace.lookups_per_table()
    assert q["collision_share"] == pytest.approx(sum(e["collision_share"] * n for e, n in zip(q["per_table"], w)) / w.sum())


def test_mem_rec_costs_more_reads_than_plain_hashing(model, trace, cpu):
    emb_s = {}
    for name in ("hash:0.05", "memrec:0.05:3"):
        sim = Simulation(model, cpu, plan_with(model, cpu, [name]), trace)
        emb_s[name] = sim.run("closed").stage_time_s["embedding"]
        loads = [sim.batch_load(k) for k in range(trace.n_batches)]
        reads = sum(dl.lookups["dram"] for ld in loads for dl in ld.devices.values())
        assert reads == pytest.approx(trace.n_indices * (4 if name.startswith("memrec") else 1))
    assert emb_s["memrec:0.05:3"] > emb_s["hash:0.05"]          # four reads per lookup take longer than one


def test_collision_share_counts_shared_features_by_brute_force(model, trace, cpu):
    plan = plan_with(model, cpu, REPS)
    enc = Encoders(model, plan, trace)
    rep = collision_report(trace, enc)
    for t, spec in enumerate(model.tables):
        ids = table_ids(trace, t)
        code = {int(x): tuple(sorted(reference_rows(enc, t, int(x)))) for x in np.unique(ids)}
        owners = {}
        for x, c in code.items():
            owners.setdefault(c, set()).add(x)
        readers = {}
        for x, c in code.items():
            for r in set(c):
                readers.setdefault(r, set()).add(x)
        coll = np.mean([len(owners[code[int(x)]]) > 1 for x in ids])
        shared = np.mean([any(len(readers[r]) > 1 for r in set(code[int(x)])) for x in ids])
        assert rep[spec.name]["collision_share"] == pytest.approx(coll)
        assert rep[spec.name]["shared_row_share"] == pytest.approx(shared)
        if enc.reps[t].kind == "qr":
            assert coll == 0.0 and shared > 0.0                # distinct pairs, but every row is shared


def test_cafe_collides_less_than_hashing_at_equal_memory_on_skew():
    """The design intent: hot features keep their own rows, so at the same bytes CAFE's collision mass is
    below the hashing trick's on a skewed trace."""
    m = small_model(tables=3, rows=50_000, dim=32, pooling=6)
    tr = generate_trace(m, batches=10, batch_size=256, seed=5)
    cpu = load_system("cpu_2s_spr_ddr5")
    shares = {}
    for name in ("hash:0.01", "cafe:0.01"):
        plan = plan_with(m, cpu, [name])
        rep = collision_report(tr, Encoders(m, plan, tr))
        shares[name] = np.mean([v["collision_share"] for v in rep.values()])
        if name == "cafe:0.01":
            for spec, t in zip(m.tables, plan.tables):   # CAFE's bytes (rows + sketch) within the hashing trick's
                assert t.representation.bytes <= compressed(spec, "hash:0.01").bytes
    assert shares["cafe:0.01"] < shares["hash:0.01"]


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(2, 5000), ratio=st.floats(0.001, 0.9), seed=st.integers(0, 3),
       kind=st.sampled_from(["hash", "qr", "memrec"]))
def test_encodings_stay_inside_their_tables(rows, ratio, seed, kind):
    m = small_model(tables=1, rows=rows, dim=8, pooling=2)
    tr = generate_trace(m, batches=2, batch_size=16, seed=seed)
    plan = plan_with(m, load_system("cpu_2s_spr_ddr5"), [f"{kind}:{ratio}"])
    enc = Encoders(m, plan, tr, seed)
    ids = np.arange(rows, dtype=np.int64)
    codes = enc.encode(0, ids)
    assert codes.min() >= 0 and codes.max() < sum(plan.tables[0].representation.physical_rows)


def test_a_replicated_dense_table_beside_row_sharing_ones(model, trace, cpu):
    """Replication relabels a dense table's copies before the rewrite; the rewrite must keep those rows."""
    plan = plan_with(model, cpu, ["own", "qr:0.05", "memrec:0.05:3", "own", "cafe:0.05:2"])
    t0 = model.tables[0]
    plan.tables[0] = TablePlan(t0.name, Representation(row_bytes=t0.row_bytes),
                               [Shard(d, "dram", 0.0, 1.0, 0.5, part=c, parts=2) for c, d in enumerate(cpu.devices)],
                               partition="replicated")
    sim = Simulation(model, cpu, plan, trace)
    assert sim.counters.lookups[:, :, 0].sum() == physical_trace(
        trace, Encoders(model, plan_with(model, cpu, ["own", "qr:0.05", "memrec:0.05:3", "own", "cafe:0.05:2"]),
                        trace, sim.seed)).n_indices


@settings(max_examples=200, deadline=None)
@given(x=st.one_of(st.integers(0, 2 ** 20), st.integers(0, 2 ** 53 + 5), st.integers(2 ** 52 - 5, 2 ** 62)),
       m=st.one_of(st.integers(1, 300), st.integers(1, 2 ** 32 - 1)))
def test_qr_split_is_exact_division(x, m):
    """QR's quotient comes from x * (1/m) in double precision, corrected: it must equal divmod exactly."""
    from embsim.sim._physical import encode_many
    p = np.zeros(8, dtype=np.int64)
    p[0], p[1] = m, 7
    ids = np.array([x, max(0, x - 1), x + 1, (x // m) * m], dtype=np.int64)   # and the multiple of m below x
    got = encode_many(ids, 2, p, np.full(2, -1, dtype=np.int64), 0, 0, 2)
    for i, v in enumerate(ids):
        q, r = divmod(int(v), m)
        assert list(got[i]) == [q, 7 + r]


def test_one_read_per_lookup_keeps_the_lengths(model, trace, cpu):
    """hash and one-level CAFE read one row per lookup: the new trace shares the lengths, read-only."""
    phys = physical_trace(trace, Encoders(model, plan_with(model, cpu, ["hash:0.05", "cafe:0.05", "own"]), trace))
    assert np.array_equal(phys.lengths, trace.lengths) and not phys.lengths.flags.writeable
    assert trace.lengths.flags.writeable                      # the input trace's own array is untouched
    assert phys.n_indices == trace.n_indices
