"""Comm-aware warm starts: valid placements, and on DCNv2 x 8 A100 replicas lower the objective."""
import pytest

from embsim.cost_model import decomposed as sm
from embsim.cost_model.placement import comm_times, evaluate, objective, used_bytes
from embsim.cost_model.solve import instance_for, propose
from embsim.cost_model.warm_start import comm_lpt, copies_start, warm_starts
from embsim.hw_models.loader import load_system
from embsim.workloads.model import load_model, model_from_dict


def _instance():
    return instance_for(load_model("dlrm_dcnv2_criteo1tb"), load_system("gpu_8x_a100_80g"), batch_size=1024)


def test_every_start_fits_and_places_every_item_once():
    inst = _instance()
    starts = dict(warm_starts(inst))
    assert set(starts) == {"comm_lpt_replicas", "comm_lpt"}
    for name, pl in starts.items():
        used = used_bytes(inst, pl)
        assert all(used[p] <= inst.pools[p] * (1 + 1e-9) for p in inst.pools), name
        for i, it in enumerate(inst.items):
            if it.table in pl.replicated:
                assert pl.ranges[i] == []
            else:         # the ranges cover the item's rows exactly once, on its own device's slots
                assert sum(hi - lo for _, lo, hi in pl.ranges[i]) == 1.0 or abs(
                    sum(hi - lo for _, lo, hi in pl.ranges[i]) - 1.0) < 1e-9, (name, it.label)
                assert {inst.slots[k].device for k, _, _ in pl.ranges[i]} == {pl.device[i]}
    assert not starts["comm_lpt"].replicated
    assert starts["comm_lpt_replicas"].replicated <= set(inst.replicable)


def test_replicas_cut_the_all_to_all_below_every_baseline():
    """The small tables copied to every GPU send nothing: the all-to-all and the objective fall below the
    best baseline's (which places every table on one device)."""
    inst = _instance()
    _, best = propose(inst, lambda pl: objective(inst, pl))
    starts = dict(warm_starts(inst))
    rep = starts["comm_lpt_replicas"]
    assert rep.replicated
    assert max(comm_times(inst, rep).values()) < max(comm_times(inst, best[1]).values())
    assert objective(inst, rep) < objective(inst, best[1])
    # the copies cost every device their bytes and a 1/N share of their lookups: no device is idle
    assert min(evaluate(inst, rep)[0].values()) > 0


# The decomposed solve's start from the aggregate LP's copies: a scanned prefix, never worse than copying all.
@pytest.fixture(scope="module")
def inst():
    tables = [{"name": f"big{i}", "rows": 4_000_000} for i in range(4)] + \
             [{"name": f"s{i}", "rows": 100_000} for i in range(40)]
    model = model_from_dict({
        "name": "copies", "source": "test", "tables": tables,
        "defaults": {"dim": 128, "dtype": "fp32", "pooling": 4, "access": {"kind": "zipf", "alpha": 1.05}},
        "dense": {"dense_features": 13, "bottom_mlp": [64, 128], "top_mlp": [64, 1], "interaction": "dot"}},
        source="test")
    # 12 GB of HBM less the 8 GB reserve: 4 GB of tables per GPU, so copies compete with the big tables
    system = load_system("gpu_8x_a100_80g", overrides={"params.hbm.capacity": "12 GB"})
    return instance_for(model, system, None, batch_size=1024)


def test_the_scanned_prefix_scores_no_worse_than_copying_all_the_lp_copies(inst):
    agg, rep = sm.aggregate_lp(inst, "highs", 30.0)
    assert agg is not None and rep.copies and set(rep.copies) == set(inst.replicable)
    chosen = [t for t, r in rep.copies.items() if r >= 0.5]
    assert chosen, "the LP copies some table here"
    score = lambda q: objective(inst, q, 0.0)      # noqa: E731
    pl = copies_start(inst, rep.copies, score)
    assert pl is not None and pl.replicated <= set(chosen)
    everything = comm_lpt(inst, True, chosen)
    assert score(pl) <= score(everything) + 1e-15


def test_no_copies_no_start(inst):
    assert copies_start(inst, {t: 0.0 for t in inst.replicable}, lambda q: 0.0) is None


def test_levelling_never_raises_the_estimate_and_keeps_every_room():
    """The levelling pass of comm_lpt: from a lopsided assignment (everything on one device), moves and swaps
    lower makespan + all-to-all by the estimate, every device keeps its room, and every item stays placed once."""
    import numpy as np

    from embsim.cost_model.baselines import _capacity, aggregate_cost, baseline_reps
    from embsim.cost_model.warm_start import _comm_max, _level
    inst = _instance()
    rep = baseline_reps(inst)
    est = aggregate_cost(inst, rep)
    keep = list(range(len(inst.items)))
    dev = [inst.devices[0]] * len(keep)
    load = np.zeros(len(inst.devices))
    pooled = np.zeros(len(inst.devices))
    load[0] = sum(est[i, 0] for i in keep)
    pooled[0] = sum(inst.pooled_B[i] for i in keep)
    cap = _capacity(inst)
    room = np.array([cap[d] for d in inst.devices], dtype=float)
    room[0] -= sum(inst.items[i].bytes[rep[i]] for i in keep)
    before = load.max() + _comm_max(inst, pooled)
    _level(inst, est, rep, keep, dev, load, pooled, room)
    after = load.max() + _comm_max(inst, pooled)
    assert after < before
    index = {d: n for n, d in enumerate(inst.devices)}
    for n in range(len(inst.devices)):     # the books agree with the assignment
        mine = [i for i in keep if index[dev[i]] == n]
        assert load[n] == pytest.approx(sum(est[i, n] for i in mine), rel=1e-9, abs=1e-15)
        assert pooled[n] == pytest.approx(sum(inst.pooled_B[i] for i in mine), rel=1e-9, abs=1e-6)
        assert room[n] == pytest.approx(cap[inst.devices[n]] - sum(inst.items[i].bytes[rep[i]] for i in mine),
                                        rel=1e-9, abs=1.0)
        assert n == 0 or room[n] >= -1e-6
