"""Coalescing: the Cython unit counter against the pure-Python reference, and its physics."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embsim.errors import InputError
from embsim.sim.coalesce import count_units, reference_units, row_addresses, shard_bytes, unit_map


def _layout(rng, n_rows, n_loc, row_bytes, grans, extra):
    """Rows spread over locations, each location's rows packed in a random order."""
    loc = rng.integers(0, n_loc, n_rows).astype(np.int32)
    addr = np.zeros(n_rows, dtype=np.int64)
    length = np.zeros(n_rows, dtype=np.int64)
    sizes = []
    for li in range(n_loc):
        mine = np.flatnonzero(loc == li)
        pos = rng.permutation(mine.size)
        a, n = row_addresses(pos, row_bytes[li], grans[li])
        addr[mine], length[mine] = a, n
        sizes.append([grans[li]] + [grans[li] * m for m in extra[li]])
    return loc, addr, length, sizes


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(1, 60), n_loc=st.integers(1, 3),
       batches=st.integers(1, 5), use_reach=st.booleans(), data=st.data())
def test_kernel_equals_reference(seed, n_rows, n_loc, batches, use_reach, data):
    rng = np.random.default_rng(seed)
    row_bytes = [data.draw(st.sampled_from([4, 8, 12.5, 32, 96, 130])) for _ in range(n_loc)]
    grans = [data.draw(st.sampled_from([1, 32, 64, 512])) for _ in range(n_loc)]
    extra = [data.draw(st.lists(st.sampled_from([2, 4, 8]), max_size=2)) for _ in range(n_loc)]
    loc, addr, length, sizes = _layout(rng, n_rows, n_loc, row_bytes, grans, extra)
    n = int(rng.integers(0, 200))
    ids = rng.integers(0, n_rows, n).astype(np.int64)
    bounds = np.sort(np.concatenate([[0, n], rng.integers(0, n + 1, batches - 1)])).astype(np.int64)
    reach = rng.random(n) < 0.6 if use_reach else None
    got = count_units(ids, bounds, loc, addr, length, sizes, reach)
    want = reference_units(ids, bounds, loc, addr, length, sizes, reach)
    np.testing.assert_array_equal(got, want)


def test_one_row_per_unit_counts_distinct_rows_times_units_per_row():
    """A row of exactly one unit, or larger: units = distinct rows x ceil(row / g), as the per-row counters charge."""
    rng = np.random.default_rng(1)
    for row_bytes, g in ((64, 64), (96, 64), (40, 64), (512, 512), (4096, 4096)):
        R = 300
        addr, length = row_addresses(rng.permutation(R), row_bytes, g)
        loc = np.zeros(R, dtype=np.int32)
        ids = rng.integers(0, R, 5000)
        bounds = np.array([0, 1000, 2500, 5000])
        got = count_units(ids, bounds, loc, addr, length, [[g]])[:, 0, 0]
        distinct = np.array([np.unique(ids[a:b]).size for a, b in zip(bounds[:-1], bounds[1:])])
        assert (got == distinct * -(-row_bytes // g)).all(), (row_bytes, g)


def test_units_bounded_by_rows_and_by_the_shard():
    """Never more units than rows x units per row, never fewer than the packed rows need, never more than the shard has."""
    rng = np.random.default_rng(2)
    R, row_bytes, g = 5000, 32, 4096
    addr, length = row_addresses(np.arange(R), row_bytes, g)
    loc = np.zeros(R, dtype=np.int32)
    total = shard_bytes(R, row_bytes, g) // g
    ids = rng.integers(0, R, 20000)
    bounds = np.arange(0, 20001, 2000)
    got = count_units(ids, bounds, loc, addr, length, [[g]])[:, 0, 0]
    for b, (a, e) in enumerate(zip(bounds[:-1], bounds[1:])):
        distinct = np.unique(ids[a:e]).size
        assert -(-distinct // (g // row_bytes)) <= got[b] <= min(distinct, total)


def test_sorted_rows_read_fewer_units_than_scattered():
    """The same rows read in a batch: packed together they fill few units, scattered they touch many."""
    R, g, rb = 4096, 512, 32
    ids = np.arange(256, dtype=np.int64)                 # 256 rows read once
    loc = np.zeros(R, dtype=np.int32)
    bounds = np.array([0, 256])
    together = row_addresses(np.arange(R), rb, g)
    scattered = row_addresses(np.random.default_rng(0).permutation(R), rb, g)
    n = []
    for addr, length in (together, scattered):
        n.append(int(count_units(ids, bounds, loc, addr, length, [[g]])[0, 0, 0]))
    assert n[0] == 256 * rb // g
    assert n[1] > 4 * n[0]


def test_bad_sizes_are_input_errors():
    loc = np.zeros(2, dtype=np.int32)
    addr, length = row_addresses(np.arange(2), 8, 64)
    with pytest.raises(InputError, match="multiple"):
        unit_map(loc, addr, length, [[64, 100]])
    with pytest.raises(InputError, match="granularity"):
        row_addresses(np.arange(2), 8, 0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), policy=st.sampled_from(["lru", "lfu", "none"]),
       general=st.booleans(), cap=st.integers(0, 12))
def test_replay_counts_units_over_the_lookups_that_miss_the_caches(seed, policy, general, cap):
    """Through caches: the kernel's units equal the reference over the lookups the reference sent to the tier.

    ``general`` adds a second, uncached location, so the replay takes its general loop; else
    one location with one cache takes the specialised loop.
    """
    from embsim.sim.reference import reference_replay
    from embsim.sim.replay import CacheLevel, Location, replay
    rng = np.random.default_rng(seed)
    R, n = 40, 300
    locs = [Location("d0", "flash", 64, [CacheLevel("c", policy, cap, 32)], unit_sizes_B=[64, 256])]
    rowloc = np.zeros(R, dtype=np.int32)
    if general:
        locs.append(Location("d1", "hbm", 32))
        rowloc[R // 2:] = 1
    addr = np.zeros(R, dtype=np.int64)
    length = np.zeros(R, dtype=np.int64)
    for li in range(len(locs)):
        mine = np.flatnonzero(rowloc == li)
        addr[mine], length[mine] = row_addresses(rng.permutation(mine.size), 24, locs[li].granularity_B)
    ids = (rng.zipf(1.3, n) % R).astype(np.int64)
    bounds = np.array([0, 70, 150, 300])
    args = (ids, bounds, [24.0, 24.0], [0, R // 2], locs)
    kw = dict(row_location=rowloc, total_rows=R, row_address_B=addr, row_length_B=length)
    got, want = replay(*args, **kw), reference_replay(*args, **kw)
    np.testing.assert_array_equal(got.units, want.units)
    np.testing.assert_array_equal(got.hits, want.hits)
    tier = got.totals()["d0/flash"]["flash"]
    assert tier["units"]["64B"] <= tier["unique_rows"]          # 24-B rows: at most one 64-B line each
    assert tier["units"]["256B"] <= tier["units"]["64B"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(0, 6))
def test_counting_chunk_by_chunk_equals_one_pass(seed, cut):
    """The replay feeds its stream in chunks of whole batches: the stamps carry over, the counts do not change."""
    from embsim.sim.coalesce import UnitCounter
    rng = np.random.default_rng(seed)
    R = 50
    loc, addr, length, sizes = _layout(rng, R, 2, [8, 130], [1, 64], [[4], [2]])
    ids = rng.integers(0, R, 120).astype(np.int64)
    bounds = np.array([0, 10, 30, 30, 55, 80, 100, 120])
    whole = count_units(ids, bounds, loc, addr, length, sizes)
    uc = UnitCounter(loc, addr, length, sizes)
    parts = [uc.count(ids[bounds[0]:bounds[cut]], bounds[:cut + 1] - bounds[0], 0),
             uc.count(ids[bounds[cut]:], bounds[cut:] - bounds[cut], cut)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("gran, mult", [(48, 3), (24, 6), (64, 3), (1, 5)])
def test_sizes_not_powers_of_two_equal_reference(gran, mult):
    """The unit map shifts for power-of-two sizes and divides for the others: both against the reference."""
    rng = np.random.default_rng(gran * mult)
    loc, addr, length, sizes = _layout(rng, 80, 2, [12.5, 40], [gran, 32], [[mult], [2]])
    ids = rng.integers(0, 80, 400).astype(np.int64)
    bounds = np.array([0, 50, 120, 260, 400])
    np.testing.assert_array_equal(count_units(ids, bounds, loc, addr, length, sizes),
                                  reference_units(ids, bounds, loc, addr, length, sizes))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), row_B=st.sampled_from([24, 100, 300]), cap=st.integers(1, 12))
def test_lru_ring_counts_units_as_the_list_and_the_reference(seed, row_B, cap):
    """The LRU ring counts units on its misses (no second pass): the same counts as the linked-list loop
    (which records the misses and counts after) and the reference, fed in several pieces, with rows that
    share units (24 B in 64 B), that own theirs (100 B: two 64-B units each) and both (300 B in 256 B)."""
    from embsim.sim.reference import reference_replay
    from embsim.sim.replay import CacheLevel, Location, Replayer
    rng = np.random.default_rng(seed)
    R, n = 40, 400
    locs = [Location("d0", "flash", 64, [CacheLevel("c", "lru", cap, 32)], unit_sizes_B=[64, 256, 1024])]
    addr, length = row_addresses(rng.permutation(R), row_B, 64)
    ids = (rng.zipf(1.2, n) % R).astype(np.int64)
    bounds = np.array([0, 60, 60, 150, 260, 400])
    kw = dict(row_location=None, total_rows=R, row_address_B=addr, row_length_B=length)
    want = reference_replay(ids, bounds, [float(row_B)], [0], locs, **kw).units
    for ring in (True, False):
        rep = Replayer(len(bounds) - 1, [float(row_B)], [0], locs, **kw)
        assert rep._state.lru_queue
        # 300-B rows in 256-B units share units two at a time: the ring records the reach instead
        assert rep._units_in_ring == (row_B != 300)
        rep._state.lru_queue = ring
        for b0, b1 in ((0, 2), (2, 3), (3, 5)):
            rep.feed(ids[bounds[b0]:bounds[b1]], bounds[b0:b1 + 1] - bounds[b0])
        np.testing.assert_array_equal(rep.result().units, want)


@pytest.mark.parametrize("addr, length, what", [([0, 10, 40], [16, 8, 8], "overlap"),
                                                ([0, -8, 40], [8, 8, 8], ">= 0"),
                                                ([0, 8, 2 ** 62], [8, 8, 8], "2\\^62"),
                                                ([0, 8, 16], [8, 0, 8], "length_B > 0")])
def test_bad_addresses_are_one_line_errors_in_both_map_kernels(addr, length, what):
    """The unit map and the LRU ring's unit ids refuse overlapping rows and addresses out of range alike."""
    from embsim.sim.coalesce import ring_unit_ids, unit_map
    a, n = np.array(addr, dtype=np.int64), np.array(length, dtype=np.int64)
    with pytest.raises(InputError, match=what):
        unit_map(np.zeros(3, dtype=np.int32), a, n, [[8, 64]])
    with pytest.raises(InputError, match=what):
        ring_unit_ids(a, n, [8, 64], np.empty((3, 4), dtype=np.int32))
