"""Comm-aware warm starts: valid placements, and on DCNv2 x 8 A100 replicas lower the objective."""
from embsim.cost_model.placement import comm_times, evaluate, objective, used_bytes
from embsim.cost_model.solve import instance_for, propose
from embsim.cost_model.warm_start import warm_starts
from embsim.hw_models.loader import load_system
from embsim.workloads.model import load_model


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
