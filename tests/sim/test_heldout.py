"""The row map of a held-out profile: every table ranked by the profile, the evaluation's rows placed by it."""
import numpy as np
import pytest

from embsim.cost_model.partition import RowPartition
from embsim.hw_models.loader import load_system
from embsim.sim.heldout import locate_heldout
from embsim.sim.shards import ShardInfo
from embsim.sim.simulate import Simulation
from embsim.workloads.model import model_from_dict
from embsim.workloads.stats import row_frequencies
from embsim.workloads.trace import Trace

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


# A simulation reports, per table, the lookups to rows its profile never saw: Good-Turing's estimate beside the
# measured share (Simulation.unseen_lookup_shares), which part when the trace drifts.
G, B = 4000, 512


def _model():
    return model_from_dict({
        "name": "drift", "source": "test", "tables": [{"name": "users", "rows": 2 * G}],
        "defaults": {"dim": 16, "dtype": "fp32", "pooling": 1, "access": {"kind": "uniform"}},
        "dense": {"dense_features": 13, "bottom_mlp": [32, 16], "top_mlp": [32, 1], "interaction": "dot"}},
        source="test")


def _trace(second_half_lo):
    """8 batches, single hot: the first four read ids in [0, G), the last four in [lo, lo + G)."""
    rng = np.random.default_rng(0)
    ids = np.concatenate([rng.integers(0, G, 4 * B), rng.integers(second_half_lo, second_half_lo + G, 4 * B)])
    return Trace(lengths=np.ones((8, 1, B), dtype=np.int32), indices=ids.astype(np.int64),
                 table_rows=np.array([2 * G]), table_names=["users"])


def _shares(lo):
    return Simulation(_model(), load_system("cpu_2s_spr_ddr5"), trace=_trace(lo), time_limit_s=5).unseen_lookup_shares()


def test_a_stationary_trace_meets_its_estimate_and_a_drifting_one_parts_from_it():
    same = _shares(0)
    assert same["tables"] == ["users"]
    true = (1 - 1 / G) ** (4 * B)          # uniform draws: the share of later lookups to rows 2048 draws missed
    # both within 4 sd of it (sd ~0.011 over 2048 lookups)
    assert abs(same["measured"][0] - true) < 0.045 and abs(same["predicted"][0] - true) < 0.045
    drift = _shares(G)                                                      # the second half: rows never seen
    assert drift["measured"] == [1.0] and drift["predicted"] == same["predicted"]


def test_in_sample_has_no_report():
    sim = Simulation(_model(), load_system("cpu_2s_spr_ddr5"), trace=_trace(0), time_limit_s=5, profile="in-sample")
    assert sim.unseen_lookup_shares() is None
