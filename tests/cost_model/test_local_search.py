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


def test_shared_pools_are_left_alone():
    model = toy_model(4, 6)
    inst = instance_for(model, toy_system(2, slow_B=1e9, pool="host"), split=False)
    start = round_robin(inst)
    assert polish(inst, start, time.perf_counter() + 1) == (start, 0)
