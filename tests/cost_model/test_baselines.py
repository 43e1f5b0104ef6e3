"""Baselines: each does what its name says, and every placement fits (checked by the validator)."""
import pytest

from cm_toys import toy_model, toy_system
from embsim.cost_model.baselines import BASELINES, round_robin, size_greedy
from embsim.cost_model.placement import evaluate, used_bytes
from embsim.cost_model.solve import instance_for


@pytest.fixture
def inst():
    model = toy_model(9, 4)
    total = sum(t.bytes for t in model.tables)
    return instance_for(model, toy_system(3, fast_B=0.05 * total / 3, slow_B=total), split=False)


def test_round_robin_cycles_devices(inst):
    pl = round_robin(inst)
    assert pl.device == [inst.devices[i % 3] for i in range(len(inst.items))]


def test_size_greedy_balances_memory(inst):
    pl = size_greedy(inst)
    per = {d: sum(inst.items[i].bytes[0] for i in range(len(inst.items)) if pl.device[i] == d) for d in inst.devices}
    largest = max(it.bytes[0] for it in inst.items)
    assert max(per.values()) - min(per.values()) <= largest * (1 + 1e-9)


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_fits_and_is_scored(inst, name):
    pl = BASELINES[name](inst)
    used = used_bytes(inst, pl)
    assert all(used[p] <= inst.pools[p] * (1 + 1e-9) for p in used)
    t, e, m = evaluate(inst, pl)
    assert m == max(t.values()) > 0 and e >= 0
    # conservation: every item's shares of lookups sum to one
    for i, it in enumerate(inst.items):
        assert sum(float(it.curve(hi) - it.curve(lo)) for _, lo, hi in pl.ranges[i]) == pytest.approx(1.0)
