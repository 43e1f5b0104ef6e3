"""The Cython replay against its pure-Python reference, and the bookkeeping laws of a cache hierarchy."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embsim.cost_model.plan import Representation, ShardingPlan, Shard, TablePlan
from embsim.errors import InputError
from embsim.sim.reference import reference_replay
from embsim.sim.replay import (COUNTERS, MAX_BATCHES, CacheLevel, Location, Replayer, replay,
                               replay_trace, row_location_from_plan)
from embsim.workloads.trace import Trace

ALL = COUNTERS + ("table_lookups", "table_hits", "table_misses")


def assert_same(a, b):
    for k in ALL:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)


def both(*args, **kw):
    fast = replay(*args, **kw)
    ref = reference_replay(*args, **kw)
    assert_same(fast, ref)
    return fast


def assert_conservation(res, locations, row_bytes, row_offsets, gids, row_location=None):
    L, H, M = res.lookups, res.hits, res.misses
    assert (H + M == L).all()
    assert (res.unique_rows <= L).all()
    assert ((res.unique_rows > 0) == (L > 0)).all()
    for li, loc in enumerate(locations):
        n = len(loc.caches)
        for d in range(n):
            np.testing.assert_array_equal(L[:, li, d + 1], M[:, li, d])       # lower sees upper's misses
        np.testing.assert_array_equal(H[:, li, n], L[:, li, n])              # the tier holds every row
        assert (M[:, li, n] == 0).all()
        assert (L[:, li, n + 1:] == 0).all()
    # every lookup lands at exactly one location's level 0
    if row_location is None:
        assert L[:, 0, 0].sum() == len(gids)
    else:
        np.testing.assert_array_equal(L[:, :, 0].sum(axis=0),
                                      np.bincount(row_location[gids], minlength=len(locations)))
    # bytes follow from hits per table and the level's granularity
    for li, loc in enumerate(locations):
        grans = [c.granularity_B for c in loc.caches] + [loc.granularity_B]
        for lj, gr in enumerate(grans):
            per_row = np.ceil(np.asarray(row_bytes) / gr) * gr
            assert res.bytes[:, li, lj].sum() == int((res.table_hits[:, li, lj] * per_row).sum())
    # per-table totals add up to the per-batch totals
    for k in ("lookups", "hits", "misses"):
        np.testing.assert_array_equal(getattr(res, "table_" + k).sum(axis=0), getattr(res, k).sum(axis=0))


# ------------------------------------------------------------ strategies ---
policy = st.sampled_from(["lru", "lfu", "static", "none"])


@st.composite
def cases(draw):
    n_tables = draw(st.integers(1, 3))
    table_rows = draw(st.lists(st.integers(1, 12), min_size=n_tables, max_size=n_tables))
    total = sum(table_rows)
    n = draw(st.integers(0, 120))
    # skewed ids: a few hot rows repeat often, so caches hit and evict
    hot = draw(st.lists(st.integers(0, total - 1), min_size=1, max_size=4))
    gids = draw(st.lists(st.one_of(st.sampled_from(hot), st.integers(0, total - 1)), min_size=n, max_size=n))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    bounds = np.array([0] + cuts + [n], dtype=np.int64)
    n_loc = draw(st.integers(1, 2))
    locations = []
    for li in range(n_loc):
        caches = []
        for ci in range(draw(st.integers(0, 3))):
            p = draw(policy)
            cap = draw(st.integers(0, 6))
            pinned = None
            if p == "static":
                pinned = np.array(sorted(set(draw(st.lists(st.integers(0, total - 1), max_size=cap)))), dtype=np.int64)
            caches.append(CacheLevel(f"c{ci}", p, cap, draw(st.sampled_from([1, 8, 64])), pinned))
        locations.append(Location(f"dev{li}", "tier", draw(st.sampled_from([16, 64, 4096])), caches))
    row_location = None
    if n_loc > 1:
        row_location = np.array(draw(st.lists(st.integers(0, n_loc - 1), min_size=total, max_size=total)), np.int32)
    row_bytes = np.array(draw(st.lists(st.sampled_from([4.0, 64.0, 100.0, 128.5]), min_size=n_tables, max_size=n_tables)))
    offs = np.concatenate([[0], np.cumsum(table_rows)[:-1]]).astype(np.int64)
    return np.array(gids, dtype=np.int64), bounds, row_bytes, offs, locations, row_location, total


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_cython_equals_reference_and_conserves(case):
    gids, bounds, rb, offs, locs, rowloc, total = case
    res = both(gids, bounds, rb, offs, locs, rowloc, total_rows=total)
    assert_conservation(res, locs, rb, offs, gids, rowloc)


def test_random_larger_traces_equal_reference(rng):
    """Longer traces with real evictions at every level, several locations and tables."""
    for _trial in range(4):
        R, n = 400, 6000
        g = (rng.zipf(1.2, n) * 7919 % R).astype(np.int64)
        bounds = np.unique(np.concatenate([[0, n], rng.integers(0, n, 6)])).astype(np.int64)
        offs, rb = np.array([0, 150, 300]), np.array([64.0, 96.0, 520.0])
        rowloc = rng.integers(0, 3, R).astype(np.int32)
        locs = [
            Location("gpu0", "ddr", 64, [CacheLevel("hbm", "lru", 25, 128)]),
            Location("csd0", "flash", 4096, [CacheLevel("sram", "lru", 8, 64), CacheLevel("dram", "lfu", 40, 512)]),
            Location("soc0", "hbm", 512, [CacheLevel("pin", "static", 30, 64, pinned=rng.choice(R, 30, replace=False)),
                                          CacheLevel("l2", "lfu", 20, 64), CacheLevel("llc", "lru", 50, 64)]),
        ]
        res = both(g, bounds, rb, offs, locs, rowloc, total_rows=R)
        assert_conservation(res, locs, rb, offs, g, rowloc)
        assert res.hits[:, :, 0].sum() > 0 and res.misses[:, :, 1].sum() > 0



def test_one_cache_loop_equals_reference(rng):
    """One location with one LRU or LFU cache takes the kernel's specialised loop:
    longer traces over three interleaved tables, with evictions, against the reference."""
    R, n = 400, 6000
    offs, rb = np.array([0, 150, 300]), np.array([64.0, 96.0, 520.0])
    for policy in ("lru", "lfu"):
        g = (rng.zipf(1.2, n) * 7919 % R).astype(np.int64)
        bounds = np.unique(np.concatenate([[0, n], rng.integers(0, n, 6)])).astype(np.int64)
        locs = [Location("gpu0", "ddr", 64, [CacheLevel("hbm", policy, 30, 128)])]
        res = both(g, bounds, rb, offs, locs, total_rows=R)
        assert_conservation(res, locs, rb, offs, g)
        assert res.hits[:, 0, 0].sum() > 0 and res.misses[:, 0, 0].sum() > 0


# -------------------------------------------------------------- policies ---
def one(policy, cap, gids, pinned=None, bounds=None):
    gids = np.asarray(gids, dtype=np.int64)
    bounds = np.array([0, len(gids)]) if bounds is None else np.asarray(bounds)
    locs = [Location("d", "dram", 64, [CacheLevel("c", policy, cap, 64, pinned)])]
    return both(gids, bounds, [64.0], [0], locs, total_rows=int(max(gids.max(initial=0) + 1, 10)))


def hit_pattern(policy, cap, gids, pinned=None):
    """Per lookup: did it hit? (one batch per lookup)"""
    res = one(policy, cap, gids, pinned, bounds=np.arange(len(gids) + 1))
    return res.hits[:, 0, 0].tolist()


def test_lru_hand_made():
    # capacity 2: 1 2 1 3 (evicts 2) 2 (miss, evicts 1) 1 (miss)
    assert hit_pattern("lru", 2, [1, 2, 1, 3, 2, 1]) == [0, 0, 1, 0, 0, 0]
    assert hit_pattern("lru", 3, [1, 2, 1, 3, 2, 1]) == [0, 0, 1, 0, 1, 1]


def test_lfu_evicts_least_frequent_then_least_recent():
    # capacity 2. 1 1 2: freq {1:2, 2:1}; 3 evicts 2 (least frequent) -> {1:2, 3:1}
    assert hit_pattern("lfu", 2, [1, 1, 2, 3, 1, 2]) == [0, 1, 0, 0, 1, 0]
    # tie: 1 2 (both freq 1, 1 older); 3 evicts 1 (least recent of the tie); 2 hits, 1 misses
    assert hit_pattern("lfu", 2, [1, 2, 3, 2, 1]) == [0, 0, 0, 1, 0]
    # tie broken by last access, not by fill time: 1 2 1 2 -> both freq 2, 1 used less recently
    assert hit_pattern("lfu", 2, [1, 2, 1, 2, 3, 2, 1]) == [0, 0, 1, 1, 0, 1, 0]


def test_lfu_counts_do_not_survive_eviction():
    # capacity 2: 1 x2 (count 2), 2 x3 (count 3); 3 evicts 1.  1 returns with count 1,
    # not 3, so the next 3 evicts 1 again (a count that persisted would tie 1 with 2
    # and evict 2, the least recent, and the final 1 would hit).  2 keeps its place.
    pat = hit_pattern("lfu", 2, [1, 1, 2, 2, 2, 3, 1, 3, 1, 2])
    assert pat == [0, 1, 0, 1, 1, 0, 0, 0, 0, 1]


def test_lfu_victim_when_every_cached_row_was_hit_since_its_fill():
    # capacity 2: 1 1 2 2 leaves no row of count 1; 3 evicts 1 (count 2, less recent than 2);
    # 3 3, then 1 evicts 2 (the count-2 tie's least recent) and 2 evicts 1 (count 1)
    assert hit_pattern("lfu", 2, [1, 1, 2, 2, 3, 3, 1, 2]) == [0, 1, 0, 1, 0, 1, 0, 0]
    # a row whose count grew after the victim search last saw it keeps its place: 1 1 2 2 3 (evicts
    # 1; 2 at count 2), 2 2 2 (2 at 5), 3 3 (3 at 3), 4 evicts 3, not 2, so 2 hits and 3 misses
    assert hit_pattern("lfu", 2, [1, 1, 2, 2, 3, 2, 2, 2, 3, 3, 4, 2, 3]) == \
        [0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 24), st.integers(1, 4)), min_size=1, max_size=150),
       st.integers(1, 12), st.integers(1, 9))
def test_lfu_on_bursts_equals_reference(runs, cap, batch):
    """Bursts (a row read 1-4 times in a row) raise counts before any victim search and can leave no
    row of count 1 in the cache: every counter of the one-level LFU equals the reference's."""
    g = np.repeat([r for r, _ in runs], [k for _, k in runs])
    bounds = np.unique(np.append(np.arange(0, g.size, batch), g.size))
    one("lfu", cap, g, bounds=bounds)


@pytest.mark.parametrize("burst", [1, 3])
def test_lone_lfu_equals_the_bucket_loop_on_a_long_zipf_trace(burst, rng):
    """Too long for the reference: the lone LFU's ring and heap against the general loop's frequency
    buckets (an LFU above a pass-through level runs that loop), cache counters per batch."""
    rows, n = 50_000, 300_000
    g = np.repeat((rng.zipf(1.1, n // burst) * 7919 % rows).astype(np.int64), burst)
    bounds = np.append(np.arange(0, g.size, 4096), g.size)
    lone = [Location("d", "dram", 64, [CacheLevel("c", "lfu", 500, 64)])]
    above = [Location("d", "dram", 64, [CacheLevel("c", "lfu", 500, 64), CacheLevel("n", "none", 1, 64)])]
    a = replay(g, bounds, [64.0], [0], lone, total_rows=rows)
    b = replay(g, bounds, [64.0], [0], above, total_rows=rows)
    for k in ("lookups", "unique_rows", "hits", "misses"):
        np.testing.assert_array_equal(getattr(a, k)[:, 0, 0], getattr(b, k)[:, 0, 0], err_msg=k)
    assert 0 < a.hits[:, 0, 0].sum() < g.size


def test_static_never_evicts_and_none_never_hits(rng):
    g = rng.integers(0, 50, 2000)
    pinned = np.array([3, 7, 11, 40])
    res = one("static", 4, g, pinned)
    expect = np.isin(g, pinned).sum()
    assert res.hits.sum(axis=0)[0, 0] == expect
    # every access of a pinned row hits, no matter how many other rows pass by
    pat = hit_pattern("static", 4, [3, 1, 2, 5, 6, 8, 9, 3, 40, 40], pinned)
    assert pat == [1, 0, 0, 0, 0, 0, 0, 1, 1, 1]
    res = one("none", 100, g)
    assert res.hits[:, 0, 0].sum() == 0 and res.misses[:, 0, 0].sum() == len(g)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=300), st.integers(0, 12), st.integers(1, 10))
def test_lru_inclusion_property(gids, cap, extra):
    """A larger LRU never hits less than a smaller one on the same trace (stack property)."""
    small = one("lru", cap, gids).hits[:, 0, 0].sum()
    large = one("lru", cap + extra, gids).hits[:, 0, 0].sum()
    assert large >= small


def test_inclusion_by_back_invalidation():
    """Evicting a row from a lower cache removes it from the caches above."""
    locs = [Location("d", "dram", 64, [CacheLevel("top", "lru", 2, 64), CacheLevel("mid", "lru", 2, 64)])]
    # 1 2 fill both levels; 3 misses both: mid evicts 1 (LRU in mid, as mid never saw 1's hits)
    # and so top must drop 1 too.  1 1 hits top twice first to make 1 the MRU of top.
    g = np.array([1, 2, 1, 1, 3, 1])
    res = both(g, np.arange(len(g) + 1), [64.0], [0], locs, total_rows=5)
    top_hits = res.hits[:, 0, 0].tolist()
    assert top_hits == [0, 0, 1, 1, 0, 0]   # the last 1 missed top: back-invalidated
    assert res.hits[5, 0, 2] == 1           # and was served by dram


def test_unique_rows_and_bytes_by_hand():
    locs = [Location("d", "flash", 4096, [CacheLevel("sram", "lru", 1, 64)])]
    g = np.array([5, 5, 6, 5, 6, 6])
    res = both(g, np.array([0, 3, 6]), [100.0], [0], locs, total_rows=10)
    # batch 0: 5 miss, 5 hit, 6 miss(evicts 5); batch 1: 5 miss, 6 miss, 6 hit
    assert res.lookups[:, 0, 0].tolist() == [3, 3]
    assert res.unique_rows[:, 0, 0].tolist() == [2, 2]
    assert res.hits[:, 0, 0].tolist() == [1, 1]
    assert res.unique_rows[:, 0, 1].tolist() == [2, 2]
    assert res.bytes[:, 0, 0].tolist() == [128, 128]     # 100 B row = 2 x 64 B lines
    assert res.bytes[:, 0, 1].tolist() == [2 * 4096, 2 * 4096]
    t = res.totals()["d/flash"]
    assert t["sram"]["hit_rate"] == pytest.approx(2 / 6)
    assert res.to_dict()["locations"][0]["levels"][1]["name"] == "flash"


def test_chunked_replay_equals_one_pass(monkeypatch, rng):
    """The progress chunks do not change any counter (state carries over)."""
    import embsim.sim.replay as rp
    g = rng.integers(0, 300, 5000)
    bounds = np.arange(0, 5001, 250)
    locs = [Location("d", "dram", 64, [CacheLevel("c", "lru", 30, 64), CacheLevel("c2", "lfu", 60, 64)])]
    whole = rp.replay(g, bounds, [64.0], [0], locs, total_rows=300)
    monkeypatch.setattr(rp, "CHUNK_LOOKUPS", 700)
    parts = rp.replay(g, bounds, [64.0], [0], locs, total_rows=300)
    assert_same(whole, parts)


def test_replay_trace_and_row_bytes():
    lengths = np.array([[[1, 2], [1, 0]], [[0, 1], [2, 1]]], dtype=np.int32)   # 2 batches, 2 tables, 2 samples
    tr = Trace(lengths=lengths, indices=np.array([0, 1, 1, 4, 2, 3, 3, 0]), table_rows=np.array([3, 5]),
               table_names=["users", "items"])
    locs = [Location("h", "dram", 64, [CacheLevel("llc", "lru", 2, 64)])]
    res = replay_trace(tr, locs, row_bytes=[32.0, 256.0])
    assert res.lookups[:, 0, 0].tolist() == [4, 4]
    assert res.table_names == ["users", "items"]
    ref = reference_replay(tr.global_ids(), tr.batch_bounds(), [32.0, 256.0], tr.row_offsets, locs, total_rows=8)
    for k in COUNTERS:
        np.testing.assert_array_equal(getattr(res, k), getattr(ref, k))
    with pytest.raises(InputError, match="row_bytes"):
        replay_trace(tr, locs)
    with pytest.raises(InputError, match="2 tables"):
        replay_trace(tr, locs, row_bytes=[1.0, 2.0, 3.0])


def test_too_many_batches_for_the_int32_batch_stamps_is_an_input_error():
    # a row's last batch is kept as int32 batch << 1 | flag: 2^30 batches would wrap it
    loc = [Location("d", "dram", 64, [CacheLevel("c", "lfu", 2, 64)])]
    with pytest.raises(InputError, match=f"n_batches = {MAX_BATCHES}: expected fewer than 2"):
        Replayer(MAX_BATCHES, [4.0], [0], loc, total_rows=3)


def test_bad_inputs():
    g, b = np.array([0, 1, 2]), np.array([0, 3])
    loc = lambda *c: [Location("d", "dram", 64, list(c))]
    with pytest.raises(InputError, match="policy"):
        replay(g, b, [4.0], [0], loc(CacheLevel("c", "fifo", 2, 64)))
    with pytest.raises(InputError, match="capacity_rows"):
        replay(g, b, [4.0], [0], loc(CacheLevel("c", "lru", -1, 64)))
    with pytest.raises(InputError, match="pinned"):
        replay(g, b, [4.0], [0], loc(CacheLevel("c", "static", 2, 64)))
    with pytest.raises(InputError, match="capacity_rows = 1"):
        replay(g, b, [4.0], [0], loc(CacheLevel("c", "static", 1, 64, pinned=np.array([0, 1]))))
    with pytest.raises(InputError, match="global_ids"):
        replay(np.array([0, 9]), np.array([0, 2]), [4.0], [0], loc(), total_rows=5)
    with pytest.raises(InputError, match="batch_bounds"):
        replay(g, np.array([0, 2]), [4.0], [0], loc())
    with pytest.raises(InputError, match="row_location"):
        replay(g, b, [4.0], [0], loc(), row_location=np.array([0, 1, 0], np.int32))


# ------------------------------------------------------------- plan map ---
def test_row_location_from_plan_puts_the_hot_rows_where_the_shards_say(rng):
    table_rows = [100, 40]
    names = ["a", "b"]
    ids_a = rng.zipf(1.3, 5000) % 100
    ids_b = rng.integers(0, 40, 3000)
    hot = [np.argsort(-np.bincount(ids_a, minlength=100), kind="stable"),
           np.argsort(-np.bincount(ids_b, minlength=40), kind="stable")]
    locs = [Location("csd0", "sram", 64), Location("csd0", "dram", 64), Location("csd0", "flash", 4096)]
    rep = Representation()
    plan = ShardingPlan(model="m", system="s", tables=[
        TablePlan("a", rep, [Shard("csd0", "sram", 0.0, 0.1, 0.5), Shard("csd0", "dram", 0.1, 0.35, 0.3),
                             Shard("csd0", "flash", 0.35, 1.0, 0.2)]),
        TablePlan("b", rep, [Shard("csd0", "flash", 0.0, 1.0, 1.0)]),
    ])
    m = row_location_from_plan(plan, names, table_rows, hot, locs)
    assert m.dtype == np.int32 and m.shape == (140,)
    assert set(m[hot[0][:10]]) == {0} and (m[:100] == 0).sum() == 10
    assert set(m[hot[0][10:35]]) == {1} and (m[:100] == 1).sum() == 25
    assert set(m[hot[0][35:]]) == {2}
    assert (m[100:] == 2).all()
    # and the replay with it sends every lookup of a row to its shard's location
    gids = np.concatenate([ids_a, 100 + ids_b]).astype(np.int64)
    res = replay(gids, np.array([0, len(gids)]), [64.0, 64.0], [0, 100], locs, row_location=m)
    assert res.lookups[0, :, 0].tolist() == np.bincount(m[gids], minlength=3).tolist()


def test_row_location_from_plan_rejects_gaps_and_unknown_slots():
    locs = [Location("g0", "hbm", 64)]
    rep = Representation()
    hot = [np.arange(10)]
    gap = ShardingPlan("m", "s", [TablePlan("a", rep, [Shard("g0", "hbm", 0.0, 0.5, 1.0)])])
    with pytest.raises(InputError, match="no shard"):
        row_location_from_plan(gap, ["a"], [10], hot, locs)
    other = ShardingPlan("m", "s", [TablePlan("a", rep, [Shard("g1", "hbm", 0.0, 1.0, 1.0)])])
    with pytest.raises(InputError, match="g1/hbm"):
        row_location_from_plan(other, ["a"], [10], hot, locs)
    with pytest.raises(InputError, match="not in the plan"):
        row_location_from_plan(gap, ["zz"], [10], hot, locs)


@pytest.mark.parametrize("cap, rows", [(8, 5), (8, 40), (300, 200), (300, 5000)])
def test_lru_recency_ring_full_and_wrapping(cap, rows):
    """Long runs of hits fill the LRU's recency ring (its live entries get packed), evictions wrap it
    around: the counters stay those of the reference, batch by batch."""
    rng = np.random.default_rng(cap + rows)
    n = 6000
    hot = rng.integers(0, min(rows, cap // 2 + 1), n)              # mostly hits: the ring fills
    cold = rng.integers(0, rows, n)
    gids = np.where(rng.random(n) < 0.9, hot, cold).astype(np.int64)
    bounds = np.arange(0, n + 1, 250, dtype=np.int64)
    locs = [Location("host", "dram", 64, [CacheLevel("c", "lru", cap, 64)])]
    both(gids, bounds, np.array([64.0]), np.array([0]), locs, total_rows=rows)


@pytest.mark.parametrize("ring", [True, False])
def test_one_lru_ring_and_linked_list_equal_reference(ring, rng):
    """One LRU over a tier runs the recency ring; the linked list serves when the ring cannot
    (row ids of 2^31 and more): both against the reference, over three tables, chunk by chunk."""
    from embsim.sim.replay import Replayer
    R, n = 400, 6000
    offs, rb = np.array([0, 150, 300]), np.array([64.0, 96.0, 520.0])
    g = (rng.zipf(1.2, n) * 7919 % R).astype(np.int64)
    bounds = np.unique(np.concatenate([[0, n], rng.integers(0, n, 9)])).astype(np.int64)
    locs = [Location("gpu0", "ddr", 64, [CacheLevel("hbm", "lru", 30, 128)])]
    rep = Replayer(bounds.size - 1, rb, offs, locs, total_rows=R)
    assert rep._state.lru_queue
    rep._state.lru_queue = ring
    cut = int(bounds.size // 2)
    rep.feed(g[:bounds[cut]], bounds[:cut + 1])
    rep.feed(g[bounds[cut]:], bounds[cut:] - bounds[cut])
    assert_same(rep.result(), reference_replay(g, bounds, rb, offs, locs, total_rows=R))


@pytest.mark.parametrize("bad", [-1, 10, 1 << 40])
@pytest.mark.parametrize("policy", ["lru", "lfu"])
@pytest.mark.parametrize("n, at", [(9, 6), (300, 150), (300, 290)])
def test_an_id_outside_the_rows_is_named_with_its_position(bad, policy, n, at):
    """The LRU ring and the LFU loop check ids where a lookup leaves its table (no pass of its own); every
    loop names the same position, also where the ids ahead are prefetched (the LFU loop's long span)."""
    g = np.array([0, 3, 7, 2, 9, 4, 5, 1, 2] * (n // 9 + 1), dtype=np.int64)[:n]
    g[at] = bad
    locs = [Location("d", "dram", 64, [CacheLevel("c", policy, 3, 64)])]
    with pytest.raises(InputError, match=f"value {bad} at position {at} "):
        replay(g, np.array([0, 4, n]), [4.0, 4.0], [0, 5], locs, total_rows=10)


@pytest.mark.parametrize("cap, rows", [(1, 6), (4, 9), (30, 45), (30, 400)])
def test_one_lfu_loop_through_ties_across_chunks_and_batches(cap, rows, rng):
    """One LFU over a tier runs its own loop: a few hot rows climb to counts of their own (bumped in place),
    the rest tie at low counts (a tie evicts the least recent), fed in four chunks of uneven batches
    over three tables: every counter is the reference's."""
    from embsim.sim.replay import Replayer
    n = 4000
    offs, rb = np.array([0, rows // 3, 2 * rows // 3]), np.array([64.0, 96.0, 520.0])
    hot = rng.integers(0, max(1, cap // 2), n)
    cold = rng.integers(0, rows, n)
    g = np.where(rng.random(n) < 0.4, hot, cold).astype(np.int64)
    bounds = np.unique(np.concatenate([[0, n], rng.integers(0, n, 12)])).astype(np.int64)
    locs = [Location("gpu0", "ddr", 64, [CacheLevel("hbm", "lfu", cap, 128)])]
    rep = Replayer(bounds.size - 1, rb, offs, locs, total_rows=rows)
    cuts = np.unique(np.linspace(0, bounds.size - 1, 5).astype(int))
    for a, b in zip(cuts[:-1], cuts[1:]):
        rep.feed(g[bounds[a]:bounds[b]], bounds[a:b + 1] - bounds[a])
    res = rep.result()
    assert_same(res, reference_replay(g, bounds, rb, offs, locs, total_rows=rows))
    assert res.hits[:, 0, 0].sum() > 0 and res.misses[:, 0, 0].sum() > cap
