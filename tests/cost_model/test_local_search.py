"""Polishing never makes the slowest device slower and keeps every capacity."""
import time

from cm_toys import toy_model, toy_system
from embsim.cost_model.baselines import round_robin
from embsim.cost_model.local_search import polish
from embsim.cost_model.placement import evaluate, used_bytes
from embsim.cost_model.solve import instance_for


def test_polish_improves_round_robin_and_keeps_capacity():
    model = toy_model(12, 6)
    total = sum(t.bytes for t in model.tables)
    inst = instance_for(model, toy_system(3, fast_B=0.05 * total / 3, slow_B=total), split=False)
    start = round_robin(inst)
    better, moves = polish(inst, start, time.perf_counter() + 5)
    assert evaluate(inst, better)[2] <= evaluate(inst, start)[2]
    assert moves >= 0
    used = used_bytes(inst, better)
    assert all(used[p] <= inst.pools[p] * (1 + 1e-9) for p in used)


def _lopsided(inst):
    """Every item on the first device, its rows split by the greedy fill: a start the polish must level."""
    from embsim.cost_model.placement import fill_tiers
    rep = [0] * len(inst.items)
    return fill_tiers(inst, rep, [inst.devices[0]] * len(inst.items))


def test_a_shared_pool_is_polished_within_what_the_other_devices_leave():
    """Host DDR shared by every device, full at the start: the polish levels the lookups (moves > 0,
    makespan lower), and every pool, the shared one too, holds what is put in it."""
    model = toy_model(10, 6)
    total = sum(t.bytes for t in model.tables)
    fast = 0.02 * total
    inst = instance_for(model, toy_system(3, fast_B=fast, slow_B=1.001 * (total - fast), pool="host"),
                        split=False, replicate=False)
    assert inst.has_shared_pool()
    start = _lopsided(inst)
    better, moves = polish(inst, start, time.perf_counter() + 5)
    assert moves > 0
    assert evaluate(inst, better)[2] < 0.9 * evaluate(inst, start)[2]
    used = used_bytes(inst, better)
    assert all(used[p] <= inst.pools[p] * (1 + 1e-9) for p in used)
    assert sorted(i for i, d in enumerate(better.device)) == list(range(len(inst.items)))


def test_the_polish_never_raises_the_all_to_all_nor_the_objective():
    """On 4 GPUs (private HBM, host DDR shared, an all-to-all over NVLink) from round robin (as many tables
    on each device, so the all-to-all is level and a move onto the busiest sender would raise it): every
    accepted move keeps the all-to-all makespan, so the polished plan's is no higher and its objective lower."""
    from embsim.cost_model.placement import comm_times, objective
    from embsim.hw_models.loader import load_system
    from embsim.workloads.model import load_model
    inst = instance_for(load_model("dlrm_dcnv2_criteo1tb"), load_system("gpu_8x_a100_80g",
                        overrides={"params.gpus": 4}), None, batch_size=1024, replicate=False)
    assert inst.comm is not None and inst.has_shared_pool()
    start = round_robin(inst)
    better, moves = polish(inst, start, time.perf_counter() + 10)
    assert moves > 0
    assert max(comm_times(inst, better).values()) <= max(comm_times(inst, start).values()) * (1 + 1e-12)
    assert objective(inst, better) < objective(inst, start)
    used = used_bytes(inst, better)
    assert all(used[p] <= inst.pools[p] * (1 + 1e-9) for p in used)


def test_a_move_onto_the_busiest_sender_is_refused(monkeypatch):
    """2 GPUs, the four most-looked-up tables on gpu0 (the slower device, 4 tables) and the rest on gpu1
    (the busier sender): moving one of gpu0's tables to gpu1 would level the lookups (60.6 / 38.1 us) but
    raise the all-to-all; with swaps left out, the polish makes no move."""
    from embsim.cost_model import local_search
    from embsim.cost_model.placement import comm_times, fill_tiers
    from embsim.hw_models.loader import load_system
    from embsim.workloads.model import load_model
    inst = instance_for(load_model("dlrm_dcnv2_criteo1tb"), load_system("gpu_8x_a100_80g",
                        overrides={"params.gpus": 2}), None, batch_size=1024, replicate=False)
    heavy = sorted(range(len(inst.items)), key=lambda i: -inst.items[i].accesses)[:4]
    start = fill_tiers(inst, [0] * len(inst.items),
                       [inst.devices[0] if i in heavy else inst.devices[1] for i in range(len(inst.items))])
    t, _, _ = evaluate(inst, start)
    assert t[inst.devices[0]] > 1.3 * t[inst.devices[1]]
    full = local_search._candidates
    monkeypatch.setattr(local_search, "_candidates",
                        lambda *a: [(i, j) for i, j in full(*a) if j is None])
    better, moves = polish(inst, start, time.perf_counter() + 5)
    assert moves == 0 and comm_times(inst, better) == comm_times(inst, start)


def test_levelling_lowers_the_devices_below_a_bottleneck_that_cannot_move():
    """The heaviest table alone on dev0 (no move can lower it: it would be as slow elsewhere), the rest on
    dev1, dev2 empty.  The plain polish stops at once; levelling moves dev1's tables onto dev2, so the
    sorted device times fall lexicographically and the makespan stays."""
    from embsim.cost_model.placement import fill_tiers
    from dataclasses import replace
    model = toy_model(8, 3)
    pooled = sum(t.pooling for t in model.tables)
    model = replace(model, tables=(replace(model.tables[0], pooling=2 * pooled),) + model.tables[1:])
    inst = instance_for(model, toy_system(3, fast_B=1e9, slow_B=1e9), split=False, replicate=False)
    n = len(inst.items)
    start = fill_tiers(inst, [0] * n, ["dev0" if inst.items[i].table == 0 else "dev1" for i in range(n)])
    t0 = evaluate(inst, start)[0]
    assert t0["dev0"] > t0["dev1"] > t0["dev2"] == 0.0
    assert polish(inst, start, time.perf_counter() + 5)[1] == 0
    better, moves = polish(inst, start, time.perf_counter() + 5, level=True)
    t1 = evaluate(inst, better)[0]
    assert moves > 0
    assert max(t1.values()) == max(t0.values())
    assert sorted(t1.values(), reverse=True) < sorted(t0.values(), reverse=True)
    assert t1["dev1"] < t0["dev1"] and t1["dev2"] > 0.0
