"""The row map of a held-out profile: every table ranked by the profile, the evaluation's rows placed by it."""
import numpy as np
import pytest

from embsim.cost_model.partition import RowPartition
from embsim.hw_models.loader import load_system
from embsim.sim.heldout import locate_heldout
from embsim.sim.simulate import ShardInfo, Simulation
from embsim.workloads.stats import row_frequencies

from simtoys import round_robin_plan, small_model, small_trace


def _shards(R, cut, cuts_by_part):
    """Shards of one table: per part, locations 0.. at the hot-rank cuts given (a share of the part's rows)."""
    out, loc = [], 0
    rows = cut.part_rows()
    for p, cuts in enumerate(cuts_by_part):
        edges = [0] + [int(c * rows[p]) for c in cuts] + [int(rows[p])]
        for lo, hi in zip(edges[:-1], edges[1:]):
            out.append(ShardInfo(0, "t", "d", "x", lo, hi, 4.0, 0.0, part=p, parts=cut.parts, location=loc,
                                 partition=cut))
            loc += 1
    return out


def _brute(rows, prow, pcount, shards, cut):
    """The definition: rank every row of each part (profiled by falling count, ties to the lower id, then the
    rest by id) and find the shard holding the rank."""
    all_ids = np.arange(cut.rows)
    part = cut.part_of(all_ids)
    count = np.zeros(cut.rows, dtype=np.int64)
    count[prow] = pcount
    seen = np.zeros(cut.rows, dtype=bool)
    seen[prow] = True
    rank = np.empty(cut.rows, dtype=np.int64)
    for p in range(cut.parts):
        ids = all_ids[part == p]
        order = np.lexsort((ids, ~seen[ids], -count[ids]))
        rank[ids[order]] = np.arange(ids.size)
    out = []
    for r in rows:
        s = [x for x in shards if x.part == part[r] and x.lo <= rank[r] < x.hi]
        assert len(s) == 1
        out.append(s[0].location)
    return np.array(out)


@pytest.mark.parametrize("cut", [RowPartition("hash", 1, 997), RowPartition("hash", 3, 997),
                                 RowPartition("range", 2, 997, (0, 400, 997))])
def test_locate_heldout_equals_ranking_the_whole_table(cut):
    rng = np.random.default_rng(3)
    prow = np.unique(rng.integers(0, cut.rows, 150))
    pcount = rng.integers(1, 6, prow.size)
    rows = np.unique(rng.integers(0, cut.rows, 300))          # evaluation rows: seen and unseen ones
    shards = _shards(cut.rows, cut, [[0.05, 0.3]] * cut.parts)
    got = locate_heldout(rows, (prow, pcount), shards, cut.parts)
    np.testing.assert_array_equal(got, _brute(rows, prow, pcount, shards, cut))
    # a shard never holds more rows than its range, whatever the evaluation touches
    _, rank, ident = locate_heldout(np.arange(cut.rows), (prow, pcount), shards, cut.parts, layout=True)
    where = locate_heldout(np.arange(cut.rows), (prow, pcount), shards, cut.parts)
    for s in shards:
        mine = where == s.location
        assert mine.sum() == s.hi - s.lo
        assert sorted(ident[mine]) == list(range(s.hi - s.lo))     # the place by id: a permutation of the shard


def test_heldout_profile_reads_the_cold_tier_more_than_in_sample():
    """The same plan (the hottest 5% of each table in HBM, the rest in host DDR): ranked in-sample the hot tier
    takes every row the trace ranks hot; ranked by a held-out profile, rows it missed go to the cold tier."""
    model = small_model()
    gpu = load_system("gpu_8x_a100_80g")
    plan = round_robin_plan(model, gpu, hot_split=0.05)
    trace = small_trace(model, batches=12)
    cold = {}
    for prof in ("in-sample", None):
        sim = Simulation(model, gpu, plan, trace, profile=prof)
        cold[prof] = sum(float(sim.tier_lookups[:, i].sum()) / sim.trace.n_indices
                         for i, s in enumerate(sim.shards) if s.tier != "hbm")
    assert cold[None] > cold["in-sample"] > 0


def test_result_states_both_traces():
    model = small_model()
    cpu = load_system("cpu_2s_spr_ddr5")
    trace = small_trace(model, batches=8)
    r = Simulation(model, cpu, round_robin_plan(model, cpu), trace).run("closed")
    p, t = r.config["profile"], r.config["trace"]
    assert p["kind"] == "split" and t["kind"] == "evaluation"
    assert p["batches"] == [0, 4] and t["batches"] == [4, 8]             # disjoint
    assert p["lookups"] + t["lookups"] == trace.n_indices
    counts = row_frequencies(trace.batch_slice(0, 4))
    assert p["lookups"] == sum(int(c.sum()) for _, c in counts)
