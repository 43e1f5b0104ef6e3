"""simulate(): replay + hardware model + engine on small models and the real presets."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.sim.replay import Location, replay
from embsim.sim.simulate import Simulation, simulate
from embsim.workloads.stats import hot_order

from simtoys import round_robin_plan, row_parts_plan, small_model, small_trace

PRESETS = ["cpu_2s_spr_ddr5", "gpu_8x_a100_80g", "ascend_910", "screc_4x_smartssd"]


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def trace(model):
    return small_trace(model)


@pytest.fixture(scope="module")
def cpu():
    return load_system("cpu_2s_spr_ddr5")


@pytest.mark.parametrize("profile", ["in-sample", None, "file"])
def test_compact_replay_equals_replay_over_global_ids(model, trace, cpu, profile):
    """The compact relabelling counts exactly what a replay over every row of the plan's map counts, the
    rows ranked by the profile (the whole table: profiled rows by falling count, then the rest by id)."""
    from embsim.sim.replay import row_location_from_plan
    gpu = load_system("gpu_8x_a100_80g")
    plan = round_robin_plan(model, gpu, hot_split=0.05)
    other = small_trace(model, seed=7) if profile == "file" else None
    sim = Simulation(model, gpu, plan, trace, profile=other if profile == "file" else profile)
    ev = sim.trace
    prof = {"in-sample": trace, None: trace.batch_slice(0, trace.n_batches // 2), "file": other}[profile]
    assert ev.n_batches == (trace.n_batches - trace.n_batches // 2 if profile is None else trace.n_batches)
    # Reference: one location per shard is the same as per (device, tier) here (one table per device).
    locs = [Location(s.device, s.tier, sim.locations[s.location].granularity_B) for s in sim.shards]
    rowloc = row_location_from_plan(plan, ev.table_names, ev.table_rows, hot_order(prof, complete=True), locs)
    ref = replay(ev.global_ids(), ev.batch_bounds(), [t.row_bytes for t in model.tables], ev.row_offsets,
                 locs, row_location=rowloc, total_rows=ev.total_rows)
    order = [s.location for s in sim.shards]
    for k in ("lookups", "unique_rows", "bytes"):
        assert np.array_equal(getattr(sim.counters, k)[:, order, 0], getattr(ref, k)[:, :, 0]), k


def test_row_wise_parts_split_the_lookups(model, trace, cpu):
    sim = Simulation(model, cpu, row_parts_plan(model, cpu, parts=2), trace)
    per_shard = sim.counters.lookups[:, :, 0].sum(axis=0)
    trace = sim.trace                                       # the evaluation part (the first half profiles)
    assert per_shard.sum() == trace.n_indices
    # Part p holds the rows with id % 2 == p: count them straight from the trace.
    tab = trace.table_of_index()
    for s in sim.shards:
        want = np.count_nonzero((tab == s.table) & (trace.indices % 2 == s.part))
        assert per_shard[s.location] == want


def test_bytes_conserved_between_replay_and_result(model, trace, cpu):
    plan = round_robin_plan(model, cpu)
    sim = Simulation(model, cpu, plan, small_trace(model, batches=24))
    trace = sim.trace                                       # the evaluation part: the last 12 batches
    r = sim.run("closed", queries=trace.n_batches * trace.batch_size)
    assert sum(r.bytes_B["requested"].values()) == pytest.approx(float(sim.counters.bytes.sum()), rel=1e-12)
    # cpu_dram moves exactly the lines the replay asked for (no cache: every lookup reaches DRAM).
    for d in cpu.devices:
        assert r.bytes_B["moved"][f"{d}.dram"] == pytest.approx(r.bytes_B["requested"][f"{d}.dram"], rel=1e-9)
    # lookups: the replay saw every index of the trace once
    assert sim.counters.lookups[:, :, 0].sum() == trace.n_indices


def test_same_seed_same_json_bit_for_bit(model, cpu):
    a = simulate(model, cpu, round_robin_plan(model, cpu), arrival="poisson", qps=2e5, queries=768,
                 batch_size=64, seed=3)
    b = simulate(model, cpu, round_robin_plan(model, cpu), arrival="poisson", qps=2e5, queries=768,
                 batch_size=64, seed=3)
    c = simulate(model, cpu, round_robin_plan(model, cpu), arrival="poisson", qps=2e5, queries=768,
                 batch_size=64, seed=4)
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()
    assert a.provenance["config_hash"] != c.provenance["config_hash"]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_family_runs_within_physics(preset, model, trace):
    system = load_system(preset)
    sim = Simulation(model, system, round_robin_plan(model, system), trace)
    r = sim.run("closed")
    assert r.qps > 0 and r.lookups_per_s > 0
    assert all(0.0 <= u <= 1.0 for u in r.utilisation_fraction.values())
    for k, bw in r.bandwidth_Bps.items():
        if k in r.peak_bandwidth_Bps:
            assert bw <= r.peak_bandwidth_Bps[k] * (1 + 1e-9), (k, bw, r.peak_bandwidth_Bps[k])
    e = r.energy
    # dynamic (actions) + static (once per part over the window), each reported per part and per query
    assert e["total_J"] == pytest.approx(e["dynamic_J"] + e["static_J"])
    assert e["dynamic_J"] == pytest.approx(sum(e["by_action_J"].values()))
    assert e["static_J"] == pytest.approx(sum(p["static_J"] for p in e["by_part"].values()))
    assert e["dynamic_J"] == pytest.approx(sum(p["dynamic_J"] for p in e["by_part"].values()))
    assert set(e["by_part"]) == set(system.parts) and e["dynamic_J"] > 0
    assert e["static_J"] == pytest.approx(sum(system.static_power_W().values()) * r.window["duration_s"])
    assert e["per_query_J"] == pytest.approx(e["total_J"] / r.window["completed_queries"])
    assert e["per_query_J"] == pytest.approx(e["static_per_query_J"] + e["dynamic_per_query_J"])
    json.loads(r.to_json())


def test_littles_law_on_a_real_system(model, trace, cpu):
    sim = Simulation(model, cpu, round_robin_plan(model, cpu), trace)
    peak = sim.run("closed").qps
    r = sim.run("poisson", qps=0.7 * peak, queries=60 * 64, seed=1, query_sizes=None)
    ll = r.littles_law
    assert ll["mean_queries_in_system"] == pytest.approx(ll["arrival_rate_qps"] * ll["mean_latency_s"], rel=0.02)
    assert any("repeat" in n for n in r.notes)          # 60 batches from a 12-batch trace


def test_more_gather_bandwidth_never_lowers_throughput():
    """Gathers are the bottleneck of an embedding-heavy model on the CPU; raising the random-access
    bandwidth (more misses in flight per core) never lowers throughput, and helps until it stops binding."""
    heavy = small_model(tables=2, rows=200_000, dim=64, pooling=200)
    tr = small_trace(heavy, batches=8, batch_size=32)
    qps, busy = [], []
    for mlp in (1, 2, 4, 8, 16):
        system = load_system("cpu_2s_spr_ddr5", {"params.cpu.lines_in_flight.value": mlp})
        r = Simulation(heavy, system, round_robin_plan(heavy, system), tr).run("closed", variability=False)   # the mean model's physics; noise has its own tests
        qps.append(r.qps)
        busy.append(r.bottleneck[0])
    assert busy[0].startswith("socket")
    assert all(a <= b * (1 + 1e-9) for a, b in zip(qps, qps[1:]))
    assert qps[1] > 1.3 * qps[0]


def test_trace_timestamps_drive_arrivals(model, cpu):
    tr = small_trace(model, batches=6, batch_size=32)
    tr.timestamps_s = np.cumsum(np.full((6, 32), 1e-5)).reshape(6, 32)
    r = simulate(model, cpu, round_robin_plan(model, cpu), trace=tr, arrival="trace")
    assert r.littles_law["arrival_rate_qps"] == pytest.approx(1e5, rel=1e-6)
    with pytest.raises(InputError, match="timestamps"):
        simulate(model, cpu, round_robin_plan(model, cpu), trace=small_trace(model, 4, 32), arrival="trace")


def test_bad_plans_and_traces_are_explained(model, trace, cpu):
    plan = round_robin_plan(model, cpu)
    plan.tables[1].shards[0].rank_hi = 0.5
    with pytest.raises(InputError, match="t1.*hot ranks end at 0.5"):
        Simulation(model, cpu, plan, trace)
    plan = round_robin_plan(model, cpu)
    plan.tables[0].shards[0].device = "socket9"
    with pytest.raises(InputError, match="socket9.dram does not exist"):
        Simulation(model, cpu, plan, trace)
    with pytest.raises(InputError, match="batch_size"):
        Simulation(model, cpu, round_robin_plan(model, cpu), trace, batch_size=7)
    with pytest.raises(InputError, match="qps"):
        simulate(model, cpu, round_robin_plan(model, cpu), trace=trace, arrival="poisson")


def test_caches_shared_per_device_tier_conserve_lookups(model, trace, cpu):
    """An LLC in front of each socket's DRAM: hits + DRAM lookups = every lookup; a bigger LLC never hits less
    and never slows the machine down."""
    plan = round_robin_plan(model, cpu)
    hits, qps = [], []
    for rows in (0, 500, 5000):
        caches = {"dram": [{"name": "llc", "policy": "lru", "capacity_rows": rows, "granularity_B": 64}]} if rows else None
        sim = Simulation(model, cpu, plan, trace, caches=caches)
        loads = [sim.batch_load(k) for k in range(sim.trace.n_batches)]
        tier = sum(dl.lookups["dram"] for ld in loads for dl in ld.devices.values())
        hit = sum(dl.cache_hits.get("llc", 0.0) for ld in loads for dl in ld.devices.values())
        assert tier + hit == pytest.approx(sim.trace.n_indices)
        # shards sharing a cached location split its counters; their table_work adds up to the device's
        for ld in loads:
            for dl in ld.devices.values():
                assert sum(w["lookups"] for w in dl.table_work) == pytest.approx(dl.lookups["dram"])
        hits.append(hit)
        qps.append(sim.run("closed").qps)
    assert hits[0] == 0 and hits[0] <= hits[1] <= hits[2] and hits[2] > 0
    assert qps[0] <= qps[1] * (1 + 1e-9) and qps[1] <= qps[2] * (1 + 1e-9)


def _locate_by_sorting(rows, counts, shards, P, table_rows):
    """The definition: rank every row by one sort (hot_order_of), then find the shard holding the rank."""
    from embsim.sim.row_map import hot_order_of
    part = rows % P
    order = hot_order_of(rows, counts, part, P, table_rows)
    rank = np.empty(rows.size, dtype=np.int64)
    part_start = np.searchsorted(part[order], np.arange(P))
    rank[order] = np.arange(rows.size) - np.repeat(part_start, np.diff(np.append(part_start, rows.size)))
    where = np.empty(rows.size, dtype=np.int32)
    for p in range(P):
        sh = [s for s in shards if s.part == p]
        his = np.array([s.hi for s in sh])
        where[part == p] = np.array([s.location for s in sh])[np.searchsorted(his, rank[part == p], side="right")]
    return where


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 3), st.integers(1, 400), st.integers(1, 5), st.integers(0, 2 ** 32))
def test_locate_by_count_runs_equals_locate_by_sorting(P, table_rows, n_shards, seed):
    """_locate (histogram of counts, sorting only runs a shard boundary cuts) places rows as one full sort does."""
    from embsim.sim.shards import ShardInfo
    from embsim.sim.row_map import _locate, part_rows
    rng = np.random.default_rng(seed)
    rows = rng.permutation(table_rows)[:rng.integers(1, table_rows + 1)].astype(np.int64)   # first-touch order
    counts = rng.integers(1, 4, rows.size) ** rng.integers(1, 3, rows.size)                 # many ties
    shards, loc = [], 0
    for p in range(P):
        R = part_rows(table_rows, p, P)
        cuts = np.unique(np.concatenate([[0, R], rng.integers(0, R + 1, n_shards - 1)]))
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            shards.append(ShardInfo(0, "t", f"d{loc}", "hbm", int(lo), int(hi), 4.0, 0.0, part=p, parts=P,
                                    location=loc))
            loc += 1
    assert np.array_equal(_locate(rows, counts, shards, P, table_rows),
                          _locate_by_sorting(rows, counts, shards, P, table_rows))


# ---------------------------------------------------------------- sequence models (HSTU) ---
def _seq_model(length, kind="fixed"):
    from embsim.workloads.model import model_from_dict
    return model_from_dict({
        "name": "seq", "source": "test", "defaults": {"dim": 64, "dtype": "fp16"},
        "tables": [{"name": "items", "rows": 50_000}, {"name": "acts", "rows": 8}],
        "dense": {"dense_features": 1, "bottom_mlp": [1], "top_mlp": [64, 1], "interaction": "cat"},
        "sequence": {"tables": ["items", "acts"], "length": {"kind": kind, "min": 1, "max": length},
                     "hstu": {"layers": 2, "d_model": 64, "heads": 2, "d_qk": 32, "d_v": 32}}}, source="seq.yaml")


def _seq_run(length, system, kind="fixed"):
    from embsim.workloads.generators import generate_trace
    m = _seq_model(length, kind)
    tr = generate_trace(m, 4, 8, seed=0)
    sim = Simulation(m, system, round_robin_plan(m, system), tr)
    return m, tr, sim, sim.run("closed", in_flight=1, queries=4 * 8 * 2, warmup=8, variability=False)


@pytest.mark.parametrize("preset", ["gpu_8x_h100_80g", "ascend_910"])
def test_attention_stage_is_charged_apart_from_the_embeddings(preset):
    system = load_system(preset)
    m, tr, sim, r = _seq_run(256, system)
    st_ = r.stage_time_s
    assert st_["attention"] > 0 and st_["embedding"] > 0
    flops = m.sequence.hstu.flops(tr.lengths[0, 0])            # one batch, every history 256 long
    load = sim.batch_load(0)
    assert load.attention_flops == pytest.approx(flops)
    work = [w for w in sim.batch_cost(load).work if w.stage == "attention"]
    if preset.startswith("gpu"):                                # data parallel over the GPUs, at the dense rate
        N = len(system.devices)
        want = system.compute_cost(system.devices[0], flops / N / 2).time_s
        assert len(work) == N and all(w.time_s == pytest.approx(want) for w in work)
    else:                                                       # the cube units of all cores
        assert [w.resource for w in work] == ["cube"]
        assert work[0].time_s == pytest.approx(flops / system.cube.mlp_ops_per_s())
    # with one batch in flight a stage lasts its slowest item: the attention span is that time
    assert st_["attention"] == pytest.approx(max(w.time_s for w in work), rel=1e-9)
    # sequence rows are not pooled: one fp32 vector per lookup leaves the device
    sent = sum(dl.pooled_bytes_out for dl in load.devices.values())
    assert sent == pytest.approx(tr.lengths[0].sum() * 64 * 4.0)


def test_attention_grows_faster_than_the_embeddings_with_length():
    system = load_system("gpu_8x_h100_80g")
    short, long_ = _seq_run(128, system)[3], _seq_run(1024, system)[3]
    emb = long_.stage_time_s["embedding"] / short.stage_time_s["embedding"]
    att = long_.stage_time_s["attention"] / short.stage_time_s["attention"]
    assert 4 < emb < 16 and att > emb          # lookups ~ L, attention ~ L + L^2


def test_a_dlrm_has_no_attention_and_other_families_refuse_sequences(model, trace, cpu):
    sim = Simulation(model, cpu, round_robin_plan(model, cpu), trace)
    assert sim.run("closed", queries=trace.n_batches * trace.batch_size * 2).stage_time_s["attention"] == 0.0
    assert sim.stages_in_use() == 5
    with pytest.raises(InputError, match="does not model the attention"):
        _seq_run(16, cpu)
